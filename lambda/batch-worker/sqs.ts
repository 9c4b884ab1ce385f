/**
 * The batch worker's SQS event source: each record is one job (`{"batchId":"…","index":n}`, sent by
 * lambda/shared/batches/aws.ts SqsBatchQueue), handed to a BatchWorker with its delivery count. The event source mapping
 * reports partial failures (ReportBatchItemFailures): a job the worker leaves for later ('retry') or that throws is
 * named in `batchItemFailures` and becomes visible again after the queue's visibility timeout, while the other records
 * of the event are deleted. After the queue's maxReceiveCount deliveries SQS moves it to the DLQ.
 *
 * A record whose body is not a job can never succeed: it is logged and dropped (not a failure), so it does not come
 * back until the DLQ takes it.
 *
 * The records of one event are processed concurrently; the event source's batch size (small) bounds that, and the
 * function's reserved concurrency bounds the worker as a whole.
 */
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { BatchJob, BatchWorker } from '../shared/batches/types';

export interface SqsHandlerOptions {
  /** Operational warnings (a dropped record, a job that threw). Default: one JSON line on stderr. */
  readonly warn?: (message: string, details: Record<string, unknown>) => void;
}

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

/** A batch id as types.ts newBatchId makes it (and not much else: it ends up in object keys and item keys). */
const BATCH_ID = /^msgbatch_[0-9A-Za-z]{1,64}$/;
/** Anthropic's and the proxy's limit is 100,000 requests a batch. */
const MAX_INDEX = 100_000;

/** The job in a record's body, or undefined when the body is not one. */
export function parseJob(body: string): BatchJob | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { batchId, index } = value as { batchId?: unknown; index?: unknown };
  if (typeof batchId !== 'string' || !BATCH_ID.test(batchId)) return undefined;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= MAX_INDEX) return undefined;
  return { batchId, index };
}

/** The 1-based delivery count (ApproximateReceiveCount; 1 when absent or not a number). */
function attemptOf(record: SQSRecord): number {
  const n = Number(record.attributes?.ApproximateReceiveCount);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/** One JSON line on stderr. */
export function defaultWarn(message: string, details: Record<string, unknown>): void {
  console.error(JSON.stringify({ level: 'WARN', message, ...details }));
}

export function createSqsHandler(worker: BatchWorker, options: SqsHandlerOptions = {}): SqsHandler {
  const warn = options.warn ?? defaultWarn;
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const records = event.Records ?? [];
    const outcomes = await Promise.all(records.map(async (record): Promise<boolean> => {
      const job = parseJob(record.body);
      if (!job) {
        warn('Dropped a batch queue message that is not a job', { messageId: record.messageId, bodyLength: record.body?.length ?? 0 });
        return true;
      }
      try {
        return (await worker.process(job, { attempt: attemptOf(record) })) === 'done';
      } catch (err) {
        warn('A batch job failed; it will be delivered again', {
          messageId: record.messageId,
          batchId: job.batchId,
          index: job.index,
          attempt: attemptOf(record),
          error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        });
        return false;
      }
    }));
    return {
      batchItemFailures: records.filter((_, i) => !outcomes[i]).map((record) => ({ itemIdentifier: record.messageId })),
    };
  };
}
