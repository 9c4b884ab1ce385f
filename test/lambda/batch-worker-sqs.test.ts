/**
 * The batch worker's SQS adapter (lambda/batch-worker/sqs.ts): partial batch failures, malformed messages, the delivery
 * count; then fed real SQS messages from moto by the drain loop (test/support/sqs-drain.ts), in this process and in
 * worker processes that are killed mid-batch and started again (test/support/batch-worker-process.ts).
 */
import { randomBytes } from 'crypto';
import Anthropic from '@anthropic-ai/sdk';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { createSqsHandler, parseJob } from '../../lambda/batch-worker/sqs';
import { createAwsBatchBackends, SqsBatchQueue } from '../../lambda/shared/batches';
import { BATCH_TTL_MS, batchKeys, emptyCounts, newBatchId, type BatchJob, type BatchWorker } from '../../lambda/shared/batches/types';
import { BATCH_SERVICES, batchEnv, createBatchResources, type BatchResources } from '../support/batch-aws';
import { startBatchWorkerProcess, type BatchWorkerProcess } from '../support/batch-worker-process';
import { startDevServerProcess } from '../support/dev-server-process';
import { MotoServer } from '../support/moto-server';
import { drainQueue } from '../support/sqs-drain';

jest.setTimeout(120_000);

const ID = 'msgbatch_01KBM0000000000000000000AB';

function record(messageId: string, body: string, receiveCount?: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: receiveCount as string,
      SentTimestamp: '1764763200000',
      SenderId: 'AIDATEST',
      ApproximateFirstReceiveTimestamp: '1764763200000',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:jobs',
    awsRegion: 'us-east-1',
  };
}

const job = (index: number, batchId = ID): string => JSON.stringify({ batchId, index });

function fakeWorker(decide: (job: BatchJob, attempt: number) => Promise<'done' | 'retry'> | 'done' | 'retry') {
  const calls: { job: BatchJob; attempt: number }[] = [];
  const worker: BatchWorker = {
    async process(j, delivery) {
      calls.push({ job: j, attempt: delivery.attempt });
      return decide(j, delivery.attempt);
    },
  };
  return { worker, calls };
}

describe('createSqsHandler', () => {
  test("names the records the worker leaves for later ('retry') or that throw, and only those", async () => {
    const { worker } = fakeWorker((j) => {
      if (j.index === 1) return 'retry';
      if (j.index === 2) throw new Error('Bedrock is down');
      return 'done';
    });
    const warnings: string[] = [];
    const handler = createSqsHandler(worker, { warn: (message) => warnings.push(message) });
    const event: SQSEvent = { Records: [record('m0', job(0), '1'), record('m1', job(1), '1'), record('m2', job(2), '1'), record('m3', job(3), '1')] };
    expect(await handler(event)).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }] });
    expect(warnings).toEqual(['A batch job failed; it will be delivered again']);
  });

  test('drops a message that is not a job without calling the worker, and does not report it as failed', async () => {
    const { worker, calls } = fakeWorker(() => 'done');
    const warnings: Record<string, unknown>[] = [];
    const handler = createSqsHandler(worker, { warn: (message, details) => warnings.push({ message, ...details }) });
    const bad = ['not json', '[]', 'null', '{"batchId":"msgbatch_x"}', '{"index":0}', '{"batchId":"../etc","index":0}',
      `{"batchId":"${ID}","index":-1}`, `{"batchId":"${ID}","index":1.5}`, `{"batchId":"${ID}","index":"3"}`, `{"batchId":"${ID}","index":100000}`];
    const event: SQSEvent = { Records: [...bad.map((body, i) => record(`bad${i}`, body, '1')), record('good', job(7), '1')] };
    expect(await handler(event)).toEqual({ batchItemFailures: [] });
    expect(calls).toEqual([{ job: { batchId: ID, index: 7 }, attempt: 1 }]);
    expect(warnings).toHaveLength(bad.length);
    expect(warnings[0]).toEqual({ message: 'Dropped a batch queue message that is not a job', messageId: 'bad0', bodyLength: 8 });
  });

  test('parses a job and ignores other fields of the body', () => {
    expect(parseJob(`{"batchId":"${ID}","index":99999,"extra":true}`)).toEqual({ batchId: ID, index: 99999 });
  });

  test('passes the delivery count (ApproximateReceiveCount) as the attempt; 1 when it is missing', async () => {
    const { worker, calls } = fakeWorker(() => 'done');
    const handler = createSqsHandler(worker);
    await handler({ Records: [record('a', job(0), '3'), record('b', job(1)), record('c', job(2), 'x')] });
    expect(calls.map((c) => c.attempt)).toEqual([3, 1, 1]);
  });

  test("processes an event's records concurrently", async () => {
    let inFlight = 0;
    let most = 0;
    const { worker } = fakeWorker(async (): Promise<'done'> => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inFlight--;
      return 'done';
    });
    await createSqsHandler(worker)({ Records: [0, 1, 2, 3, 4].map((i) => record(`m${i}`, job(i), '1')) });
    expect(most).toBe(5);
  });

  test('an empty event is no failure', async () => {
    expect(await createSqsHandler(fakeWorker(() => 'done').worker)({ Records: [] })).toEqual({ batchItemFailures: [] });
  });
});

describe('fed real SQS messages (moto)', () => {
  let moto: MotoServer;
  let resources: BatchResources;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    // Serial: DynamoDB's isolation of transactions (test/support/moto-server.ts); the drain loop never long-polls.
    moto = await MotoServer.start(undefined, { serial: true });
    Object.assign(process.env, moto.env([...BATCH_SERVICES]));
    resources = await createBatchResources(moto, { visibilityTimeoutSeconds: 1 });
  });
  afterAll(async () => {
    resources?.destroy();
    await moto?.stop();
    process.env = savedEnv;
  });

  test('the drain loop deletes what the worker did, and redelivers what it left, with the delivery count rising', async () => {
    const batchId = newBatchId(Date.now(), randomBytes);
    const queue = new SqsBatchQueue({ queueUrl: resources.queueUrl, region: 'us-east-1' });
    await queue.send([0, 1, 2, 3, 4, 5, 6].map((index) => ({ batchId, index })));
    // Index 2 is throttled on its first two deliveries; index 5 throws once.
    const { worker, calls } = fakeWorker((j, attempt) => {
      if (j.index === 2 && attempt < 3) return 'retry';
      if (j.index === 5 && attempt === 1) throw new Error('socket hang up');
      return 'done';
    });
    const sqs = new SQSClient({ region: 'us-east-1' });
    const handler = createSqsHandler(worker, { warn: () => undefined });
    const stats = await drainQueue({ sqs, queueUrl: resources.queueUrl, handler, timeoutMs: 30_000 });
    sqs.destroy();
    expect(stats).toMatchObject({ deliveries: 10, failures: 3, deleted: 7 });
    const attemptsOf = (index: number) => calls.filter((c) => c.job.index === index).map((c) => c.attempt);
    expect(attemptsOf(2)).toEqual([1, 2, 3]);
    expect(attemptsOf(5)).toEqual([1, 2]);
    expect(attemptsOf(0)).toEqual([1]);
  });

  describe('worker processes killed mid-batch and started again', () => {
    const workers: BatchWorkerProcess[] = [];
    afterEach(async () => {
      await Promise.all(workers.splice(0).map((w) => w.kill('SIGKILL')));
    });

    test('with the test double of the worker: every request ends exactly once, results and counts consistent', async () => {
      const { store, queue } = createAwsBatchBackends({ tableName: resources.tableName, queueUrl: resources.queueUrl, bucket: resources.bucket }, 'us-east-1');
      const now = Date.now();
      const batchId = newBatchId(now, randomBytes);
      const total = 20;
      const requests = Array.from({ length: total }, (_, index) => ({ index, customId: `r${index}`, start: index * 3, end: index * 3 + 2 }));
      await store.create({ id: batchId, owner: 'key:kill-test', createdAt: now, expiresAt: now + BATCH_TTL_MS, total, status: 'in_progress', counts: emptyCounts(total) }, requests);
      await queue.send(requests.map((r) => ({ batchId, index: r.index })));

      const env = { ...moto.env([...BATCH_SERVICES]), ...batchEnv(resources), FAKE_WORKER_DELAY_MS: '300' };
      const options = { env, handlerModule: 'test/support/fake-batch-worker-handler.ts', batchSize: 5 };
      const first = startBatchWorkerProcess(options);
      workers.push(first);
      // Killed once it has finished some requests and holds others in flight.
      await first.waitFor((line) => line.finished !== undefined, 60_000);
      await first.kill('SIGKILL');
      const second = startBatchWorkerProcess(options);
      workers.push(second);

      const deadline = Date.now() + 60_000;
      while ((await store.get(batchId))?.status !== 'ended') {
        if (Date.now() > deadline) throw new Error(`the batch did not end; second worker's stderr:\n${second.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      await second.kill('SIGTERM');

      const finished = [...first.lines, ...second.lines]
        .map((line) => line.finished as { batchId: string; index: number; first: boolean } | undefined)
        .filter((f): f is { batchId: string; index: number; first: boolean } => f?.batchId === batchId);
      // No request was ended twice. (The killed worker may have ended requests it never got to report: its finish
      // committed, then it died. The counts below show those ended once too.)
      const firsts = finished.filter((f) => f.first).map((f) => f.index);
      expect(new Set(firsts).size).toBe(firsts.length);
      expect(second.lines.some((line) => line.finished !== undefined)).toBe(true);
      // The messages the killed worker held came back to the second one (a second delivery).
      expect(second.lines.some((line) => (line.attempts as number[] | undefined)?.some((a) => a >= 2))).toBe(true);
      // Each request ended once: a duplicate would have counted twice (succeeded > total, processing < 0).
      expect((await store.get(batchId))?.counts).toEqual({ processing: 0, succeeded: total, errored: 0, canceled: 0, expired: 0 });
      expect((await store.requests(batchId)).every((r) => r.result === 'succeeded')).toBe(true);
      const results = await resources.s3.send(new ListObjectsV2Command({ Bucket: resources.bucket, Prefix: `${batchKeys.prefix(batchId)}results/` }));
      expect(results.KeyCount).toBe(total);
    });

    test('the real worker (assets/batch-worker) behind the dev server and the Anthropic SDK: killed mid-batch, every request ends once, results as JSONL', async () => {
      const aws = { ...moto.env([...BATCH_SERVICES]), ...batchEnv(resources) };
      // The proxy writes the input, the state and the jobs to moto; the worker processes drain the queue.
      const proxy = await startDevServerProcess({ env: aws });
      try {
        const client = new Anthropic({ baseURL: proxy.url, apiKey: proxy.key, maxRetries: 0 });
        const total = 24;
        const created = await client.messages.batches.create({
          requests: Array.from({ length: total }, (_, i) => ({
            custom_id: `job-${i}`,
            params: { model: 'claude-sonnet-4-6', max_tokens: 256, messages: [{ role: 'user' as const, content: `Count to ${i} [[mock: first_delay=600]]` }] },
          })),
        });
        const options = { env: { ...aws, PROXY_UPSTREAM: 'mock', POWERTOOLS_METRICS_DISABLED: 'true' }, handlerModule: 'assets/batch-worker/index.js', batchSize: 4 };
        const first = startBatchWorkerProcess(options);
        workers.push(first);
        // Killed once it has ended some requests and holds the next event's in flight.
        // (Each request takes 600 ms on the mock; 300 ms after an event's report, the next event's requests are running.)
        await first.waitFor((line) => typeof line.event === 'number' && (line.event as number) >= 2, 60_000);
        await new Promise((resolve) => setTimeout(resolve, 300));
        await first.kill('SIGKILL');
        const midway = (await client.messages.batches.retrieve(created.id)).request_counts;
        expect(midway.succeeded).toBeGreaterThan(0);
        expect(midway.processing).toBeGreaterThan(0);
        const second = startBatchWorkerProcess(options);
        workers.push(second);

        const deadline = Date.now() + 90_000;
        let batch = await client.messages.batches.retrieve(created.id);
        while (batch.processing_status !== 'ended') {
          if (Date.now() > deadline) throw new Error(`the batch did not end (${JSON.stringify(batch.request_counts)}); worker stderr:\n${second.stderr()}`);
          await new Promise((resolve) => setTimeout(resolve, 250));
          batch = await client.messages.batches.retrieve(created.id);
        }
        await second.kill('SIGTERM');
        // Each request ended once: a duplicate would count twice (succeeded > total, processing < 0).
        expect(batch.request_counts).toEqual({ processing: 0, succeeded: total, errored: 0, canceled: 0, expired: 0 });
        // The messages the killed worker held came back to the second one.
        expect(second.lines.some((line) => (line.attempts as number[] | undefined)?.some((a) => a >= 2))).toBe(true);
        const lines: { custom_id: string; result: { type: string; message?: { content: { type: string; text?: string }[] } } }[] = [];
        for await (const line of await client.messages.batches.results(created.id)) lines.push(line as never);
        expect(lines.map((l) => l.custom_id)).toEqual(Array.from({ length: total }, (_, i) => `job-${i}`));
        for (const [i, line] of lines.entries()) {
          expect(line.result.type).toBe('succeeded');
          expect(line.result.message!.content.map((b) => b.text ?? '').join('')).toContain(`Count to ${i}`);
        }
        const objects = await resources.s3.send(new ListObjectsV2Command({ Bucket: resources.bucket, Prefix: `${batchKeys.prefix(created.id)}results/` }));
        expect(objects.KeyCount).toBe(total);
      } finally {
        await proxy.stop();
      }
    });
  });
});
