/**
 * A small, allocation-light parser for server-sent events (the Bedrock Anthropic Messages endpoint and OpenAI-compatible
 * servers). Follows the WHATWG event-stream rules that matter here: `event:` and `data:` fields, multi-line data
 * joined with `\n`, comments (`:`), CRLF / LF / CR line ends, dispatch on a blank line, and a last event without a
 * trailing blank line at end of stream.
 */

export interface SseMessage {
  /** The `event:` field; `message` when absent. */
  readonly event: string;
  readonly data: string;
}

export class SseParser {
  private buffer = '';
  /** Where unread text starts in `buffer`. */
  private pos = 0;
  /** The next CR at or after `pos` (-1: none in the buffer), cached so a chunk of many lines is not rescanned per line. */
  private cr = -1;
  private crValid = false;
  private event = '';
  private data: string[] = [];
  private readonly decoder = new TextDecoder();

  /** Adds bytes (or text). Read the messages they complete with read(). */
  write(chunk: Uint8Array | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const rest = this.pos === 0 ? this.buffer : this.buffer.slice(this.pos);
    this.buffer = rest.length === 0 ? text : rest + text;
    this.pos = 0;
    this.crValid = false;
  }

  /**
   * The next complete message, or undefined when the input so far holds no more. Messages are parsed one at a time, so
   * the first message of a large chunk is available without parsing the rest of it.
   */
  read(): SseMessage | undefined {
    const buf = this.buffer;
    for (;;) {
      const nl = this.nextLineEnd(buf);
      if (nl < 0) return undefined;
      // A CR at the very end may be the first half of CRLF: wait for more input.
      if (buf.charCodeAt(nl) === 13 && nl + 1 === buf.length) return undefined;
      const line = buf.slice(this.pos, nl);
      this.pos = nl + (buf.charCodeAt(nl) === 13 && buf.charCodeAt(nl + 1) === 10 ? 2 : 1);
      const message = this.line(line);
      if (message) return message;
    }
  }

  /** Feeds bytes (or text); returns every message completed by them. */
  push(chunk: Uint8Array | string): SseMessage[] {
    this.write(chunk);
    const out: SseMessage[] = [];
    for (let m = this.read(); m; m = this.read()) out.push(m);
    return out;
  }

  /** End of stream: a final event that was not followed by a blank line is still delivered. */
  end(): SseMessage[] {
    const out = this.push(this.decoder.decode());
    const rest = this.buffer.slice(this.pos);
    this.buffer = '';
    this.pos = 0;
    this.crValid = false;
    if (rest.length > 0) {
      const m = this.line(rest.replace(/\r$/, ''));
      if (m) out.push(m);
    }
    const last = this.dispatch();
    if (last) out.push(last);
    return out;
  }

  /** The index of the next CR or LF at or after `pos`, or -1. */
  private nextLineEnd(buf: string): number {
    const lf = buf.indexOf('\n', this.pos);
    if (!this.crValid || (this.cr >= 0 && this.cr < this.pos)) {
      this.cr = buf.indexOf('\r', this.pos);
      this.crValid = true;
    }
    if (this.cr < 0) return lf;
    if (lf < 0) return this.cr;
    return Math.min(lf, this.cr);
  }

  private line(line: string): SseMessage | undefined {
    if (line.length === 0) return this.dispatch();
    if (line.charCodeAt(0) === 58) return undefined; // ':' comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const message = this.data.length > 0
      ? { event: this.event || 'message', data: this.data.length === 1 ? this.data[0] : this.data.join('\n') }
      : undefined;
    this.event = '';
    this.data = [];
    return message;
  }
}

/** Reads a byte stream (Node Readable or any async iterable of chunks) as SSE messages. */
export async function* readSse(body: AsyncIterable<Uint8Array | string>, onChunk?: () => void): AsyncGenerator<SseMessage> {
  const parser = new SseParser();
  for await (const chunk of body) {
    onChunk?.();
    parser.write(chunk);
    for (let m = parser.read(); m; m = parser.read()) yield m;
  }
  for (const m of parser.end()) yield m;
}
