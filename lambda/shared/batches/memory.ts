/**
 * In-memory batch stores and an in-process queue with its own workers: the dev server's batches (and the tests'). The
 * semantics are the AWS stores' (./aws.ts): `finish` ends a request once, a job is delivered again when the worker
 * asks for a retry, and a delivery counts attempts like SQS's ApproximateReceiveCount.
 */
import type {
  BatchJob, BatchObjects, BatchPage, BatchQueue, BatchRecord, BatchRequestRef, BatchRequestState, BatchResultType, BatchStore, BatchWorker,
} from './types';

export class MemoryBatchStore implements BatchStore {
  private readonly batches = new Map<string, BatchRecord>();
  private readonly states = new Map<string, BatchRequestState[]>();

  async create(batch: BatchRecord, requests: readonly BatchRequestRef[]): Promise<void> {
    this.states.set(batch.id, requests.map((r) => ({ ...r })));
    this.batches.set(batch.id, { ...batch, counts: { ...batch.counts } });
  }

  async get(id: string): Promise<BatchRecord | undefined> {
    const batch = this.batches.get(id);
    return batch ? { ...batch, counts: { ...batch.counts } } : undefined;
  }

  async request(id: string, index: number): Promise<BatchRequestState | undefined> {
    const state = this.states.get(id)?.[index];
    return state ? { ...state } : undefined;
  }

  async requests(id: string): Promise<BatchRequestState[]> {
    return (this.states.get(id) ?? []).map((s) => ({ ...s }));
  }

  async list(owner: string, options: { readonly limit: number; readonly afterId?: string; readonly beforeId?: string }): Promise<BatchPage> {
    const mine = [...this.batches.values()].filter((b) => b.owner === owner).sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    let page: BatchRecord[];
    let hasMore: boolean;
    if (options.beforeId !== undefined) {
      // Newer than beforeId: the `limit` closest to it, still newest first.
      const newer = mine.filter((b) => b.id > options.beforeId!);
      page = newer.slice(Math.max(0, newer.length - options.limit));
      hasMore = newer.length > options.limit;
    } else {
      const older = options.afterId !== undefined ? mine.filter((b) => b.id < options.afterId!) : mine;
      page = older.slice(0, options.limit);
      hasMore = older.length > options.limit;
    }
    return { batches: page.map((b) => ({ ...b, counts: { ...b.counts } })), hasMore };
  }

  async cancel(id: string, nowMs: number): Promise<BatchRecord | undefined> {
    const batch = this.batches.get(id);
    if (!batch) return undefined;
    if (batch.status === 'in_progress') this.batches.set(id, { ...batch, status: 'canceling', cancelInitiatedAt: nowMs });
    return this.get(id);
  }

  async finish(id: string, index: number, result: BatchResultType, nowMs: number): Promise<boolean> {
    const batch = this.batches.get(id);
    const states = this.states.get(id);
    const state = states?.[index];
    if (!batch || !states || !state) return false;
    let counted = false;
    let counts = batch.counts;
    if (state.result === undefined) {
      states[index] = { ...state, result };
      counts = { ...counts, processing: counts.processing - 1, [result]: counts[result] + 1 };
      counted = true;
    }
    const ended = counts.processing === 0 && batch.status !== 'ended';
    this.batches.set(id, { ...batch, counts, ...(ended ? { status: 'ended' as const, endedAt: nowMs } : {}) });
    return counted;
  }

  async delete(id: string): Promise<void> {
    this.batches.delete(id);
    this.states.delete(id);
  }
}

export class MemoryBatchObjects implements BatchObjects {
  private readonly objects = new Map<string, Buffer>();

  async put(key: string, body: string | Buffer): Promise<void> {
    this.objects.set(key, Buffer.isBuffer(body) ? Buffer.from(body) : Buffer.from(body, 'utf8'));
  }

  async get(key: string, range?: { readonly start: number; readonly end: number }): Promise<Buffer | undefined> {
    const body = this.objects.get(key);
    if (!body) return undefined;
    return range ? body.subarray(range.start, range.end) : body;
  }

  async deletePrefix(prefix: string): Promise<void> {
    for (const key of [...this.objects.keys()]) if (key.startsWith(prefix)) this.objects.delete(key);
  }

  uri(key: string): string {
    return `memory:///${key}`;
  }

  /** For tests: how many objects there are under a prefix. */
  count(prefix: string): number {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).length;
  }
}

export interface InProcessQueueOptions {
  /** Jobs worked on at once (the construct's workerConcurrency). Default 4. */
  readonly concurrency?: number;
  /** Delay before a job the worker asked to retry is delivered again, per attempt so far (SQS: the visibility timeout). */
  readonly retryDelayMs?: (attempt: number) => number;
  /** Called when processing a job threw (it is delivered again, like an SQS message whose handler failed). */
  readonly onError?: (error: unknown, job: BatchJob) => void;
  /** Deliveries of one job before it is dropped (SQS: the dead-letter queue's maxReceiveCount). Default 5. */
  readonly maxDeliveries?: number;
}

/**
 * A queue whose jobs are worked on in this process as soon as they are sent, by the worker given to `start`. A job the
 * worker answers 'retry' for (or throws on) is delivered again after a delay, with its attempt count raised.
 */
export class InProcessBatchQueue implements BatchQueue {
  private readonly pending: { job: BatchJob; attempt: number }[] = [];
  private running = 0;
  private worker?: BatchWorker;
  private readonly timers = new Set<NodeJS.Timeout>();
  private idleWaiters: (() => void)[] = [];
  private readonly concurrency: number;
  private readonly retryDelayMs: (attempt: number) => number;

  constructor(private readonly options: InProcessQueueOptions = {}) {
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.retryDelayMs = options.retryDelayMs ?? ((attempt) => Math.min(30_000, 1000 * 2 ** (attempt - 1)));
  }

  /** Starts delivering jobs to the worker (jobs sent before are kept until then). */
  start(worker: BatchWorker): void {
    this.worker = worker;
    this.pump();
  }

  async send(jobs: readonly BatchJob[]): Promise<void> {
    for (const job of jobs) this.pending.push({ job, attempt: 1 });
    this.pump();
  }

  /** Resolves when no job is queued, running or waiting for a retry. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retries and further deliveries (the dev server's shutdown). */
  stop(): void {
    this.worker = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private isIdle(): boolean {
    return this.pending.length === 0 && this.running === 0 && this.timers.size === 0;
  }

  private pump(): void {
    while (this.worker && this.running < this.concurrency && this.pending.length > 0) {
      const next = this.pending.shift()!;
      this.running++;
      void this.deliver(this.worker, next).finally(() => {
        this.running--;
        this.pump();
        if (this.isIdle()) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const w of waiters) w();
        }
      });
    }
  }

  private async deliver(worker: BatchWorker, item: { job: BatchJob; attempt: number }): Promise<void> {
    let again = false;
    try {
      again = (await worker.process(item.job, { attempt: item.attempt })) === 'retry';
    } catch (err) {
      this.options.onError?.(err, item.job);
      again = true;
    }
    if (!again || !this.worker) return;
    if (item.attempt >= (this.options.maxDeliveries ?? 5)) {
      this.options.onError?.(new Error(`job ${item.job.batchId}#${item.job.index} dropped after ${item.attempt} deliveries`), item.job);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.pending.push({ job: item.job, attempt: item.attempt + 1 });
      this.pump();
    }, this.retryDelayMs(item.attempt));
    timer.unref?.();
    this.timers.add(timer);
  }
}
