import type { ResponseSink } from '../../lambda/streaming-proxy/http';

/** An in-memory ResponseSink; `slow` makes every write wait until release() (backpressure), `disconnect()` aborts. */
export class MemorySink implements ResponseSink {
  public status?: number;
  public headers: Record<string, string> = {};
  public readonly chunks: string[] = [];
  public ended = false;
  /** Writes made before start() or after end() (always a bug). */
  public readonly misuse: string[] = [];
  private readonly controller = new AbortController();
  private pending: Array<() => void> = [];

  constructor(private readonly options: { slow?: boolean; onWrite?: (chunk: string, sink: MemorySink) => void } = {}) {}

  public get signal(): AbortSignal {
    return this.controller.signal;
  }

  public get body(): string {
    return this.chunks.join('');
  }

  public json(): any {
    return JSON.parse(this.body);
  }

  public start(status: number, headers: Record<string, string>): void {
    if (this.status !== undefined) this.misuse.push('start twice');
    this.status = status;
    this.headers = headers;
  }

  public write(chunk: string | Uint8Array): Promise<void> | undefined {
    if (this.status === undefined) this.misuse.push('write before start');
    if (this.ended) this.misuse.push('write after end');
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    this.chunks.push(text);
    this.options.onWrite?.(text, this);
    if (!this.options.slow) return undefined;
    return new Promise((resolve) => this.pending.push(resolve));
  }

  public async end(): Promise<void> {
    this.ended = true;
  }

  /** Lets every waiting write continue. */
  public release(): void {
    const waiting = this.pending;
    this.pending = [];
    waiting.forEach((r) => r());
  }

  public get waiting(): number {
    return this.pending.length;
  }

  public disconnect(): void {
    this.controller.abort();
    this.release();
  }
}
