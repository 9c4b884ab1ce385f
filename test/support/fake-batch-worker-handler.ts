/**
 * A test double of the batch worker Lambda for ./batch-worker-drain.ts (BATCH_WORKER_HANDLER): the real SQS adapter
 * (lambda/batch-worker/sqs.ts) and the real AWS stores (lambda/shared/batches/aws.ts, from PROXY_BATCH_*), around a
 * worker that makes no model call — it waits FAKE_WORKER_DELAY_MS (default 300), writes the result object and
 * finishes the request `succeeded`. It prints `{"finished":{"batchId","index","first"}}` (first: this call ended the
 * request), so a test can count, across worker processes, how often each request ended.
 *
 * It stands in for lambda/streaming-proxy/batches/worker.ts until the kill-and-restart test runs the real one.
 */
import { createSqsHandler } from '../../lambda/batch-worker/sqs';
import { createAwsBatchBackends } from '../../lambda/shared/batches';
import { batchKeys, type BatchWorker } from '../../lambda/shared/batches/types';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

const { store, objects } = createAwsBatchBackends(
  { tableName: env('PROXY_BATCH_TABLE'), queueUrl: env('PROXY_BATCH_QUEUE_URL'), bucket: env('PROXY_BATCH_BUCKET') },
  process.env.AWS_REGION ?? 'us-east-1',
);
const delayMs = Number(process.env.FAKE_WORKER_DELAY_MS ?? 300);

const worker: BatchWorker = {
  async process(job) {
    const state = await store.request(job.batchId, job.index);
    if (!state || state.result !== undefined) return 'done';
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    await objects.put(batchKeys.result(job.batchId, job.index), JSON.stringify({ custom_id: state.customId, result: { type: 'succeeded' } }));
    const first = await store.finish(job.batchId, job.index, 'succeeded', Date.now());
    process.stdout.write(JSON.stringify({ finished: { batchId: job.batchId, index: job.index, first } }) + '\n');
    return 'done';
  },
};

export const handler = createSqsHandler(worker);
