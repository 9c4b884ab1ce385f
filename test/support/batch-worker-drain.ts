/**
 * A batch worker process for the tests (started by ./batch-worker-process.ts): it loads an SQS handler module and feeds
 * it real messages from the queue with the drain loop of ./sqs-drain.ts until it is stopped (SIGTERM) or killed
 * (SIGKILL: a worker dying mid-batch; its in-flight messages come back after the visibility timeout).
 *
 * Environment:
 *   BATCH_WORKER_HANDLER   module exporting `handler` (an SQS handler), relative to the repository root; default
 *                          lambda/batch-worker/index.ts, the real worker Lambda built from PROXY_* / PROXY_BATCH_*.
 *   PROXY_BATCH_QUEUE_URL  the queue to drain.
 *   BATCH_WORKER_BATCH_SIZE records per event (default 5).
 *   AWS_ENDPOINT_URL_SQS … the SDK's endpoint settings (moto), read by the handler's clients and by this loop's.
 *
 * stdout: one JSON line per event, `{"event":n,"bodies":[…],"attempts":[…],"failed":[…]}`, after `{"ready":true}`.
 * Handlers may print their own JSON lines (the test double prints `{"finished":…}`).
 */
import * as path from 'path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { drainQueue, type SqsEventHandler } from './sqs-drain';

const ROOT = path.resolve(__dirname, '..', '..');

async function main(): Promise<void> {
  const queueUrl = process.env.PROXY_BATCH_QUEUE_URL;
  if (!queueUrl) throw new Error('PROXY_BATCH_QUEUE_URL is required');
  const modulePath = path.resolve(ROOT, process.env.BATCH_WORKER_HANDLER ?? 'lambda/batch-worker/index.ts');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { handler } = require(modulePath) as { handler: SqsEventHandler };
  const sqs = new SQSClient({ region: process.env.AWS_REGION ?? 'us-east-1' });
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
  });
  let n = 0;
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  await drainQueue({
    sqs,
    queueUrl,
    handler,
    batchSize: Number(process.env.BATCH_WORKER_BATCH_SIZE ?? 5),
    until: () => stopping,
    timeoutMs: 10 * 60_000,
    onEvent: (report) => process.stdout.write(JSON.stringify({ event: ++n, ...report }) + '\n'),
  });
  sqs.destroy();
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
