/**
 * The batch stores (lambda/shared/batches/types.ts). One set of BatchStore contract tests runs on each implementation:
 * DynamoDB (lambda/shared/batches/aws.ts) against moto's standalone server, the real wire protocol. Then what only the
 * DynamoDB layout can show (TTLs, nothing left after delete, a finish retried after a crash between its two writes), and
 * the SQS queue and the S3 objects against moto. Every AWS client here is built the way the Lambda builds it, from
 * AWS_ENDPOINT_URL_DYNAMODB / _SQS / _S3 in the environment. moto serves one request at a time here, as DynamoDB
 * isolates transactions (its threaded server does not; test/support/moto-server.ts).
 */
import { randomBytes } from 'crypto';
import { QueryCommand, ScanCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { createAwsBatchBackends, DynamoBatchStore, S3BatchObjects, SqsBatchQueue } from '../../lambda/shared/batches';
import { batchPk, BATCH_SK, ownerPk, requestSk, s3EndpointOverridden } from '../../lambda/shared/batches/aws';
import { MemoryBatchStore } from '../../lambda/shared/batches/memory';
import {
  BATCH_RETENTION_DAYS,
  BATCH_TTL_MS,
  batchKeys,
  emptyCounts,
  newBatchId,
  type BatchRecord,
  type BatchRequestRef,
  type BatchStore,
} from '../../lambda/shared/batches/types';
import { BATCH_SERVICES, createBatchResources, type BatchResources } from '../support/batch-aws';
import { MotoServer } from '../support/moto-server';

jest.setTimeout(120_000);

let moto: MotoServer;
let resources: BatchResources;
const savedEnv = { ...process.env };

beforeAll(async () => {
  // Serial: DynamoDB's isolation of transactions (see MotoServerOptions); the concurrent finishes below depend on it.
  moto = await MotoServer.start(undefined, { serial: true });
  Object.assign(process.env, moto.env([...BATCH_SERVICES]));
  resources = await createBatchResources(moto);
});
afterAll(async () => {
  resources?.destroy();
  await moto?.stop();
  process.env = savedEnv;
});

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
let clock = T0;

/** A batch of `n` requests created at a time later than the previous one's (ids sort by creation time). */
function newBatch(owner: string, n: number, createdAt = (clock += 1000)): { batch: BatchRecord; requests: BatchRequestRef[] } {
  const id = newBatchId(createdAt, randomBytes);
  const requests: BatchRequestRef[] = [];
  let offset = 0;
  for (let index = 0; index < n; index++) {
    const length = 40 + (index % 7);
    requests.push({ index, customId: `request-${index}`, start: offset, end: offset + length });
    offset += length + 1;
  }
  const batch: BatchRecord = {
    id,
    owner,
    team: 'search',
    meterKey: 'search-key',
    createdAt,
    expiresAt: createdAt + BATCH_TTL_MS,
    total: n,
    status: 'in_progress',
    counts: emptyCounts(n),
  };
  return { batch, requests };
}

async function created(store: BatchStore, owner: string, n: number): Promise<BatchRecord> {
  const { batch, requests } = newBatch(owner, n);
  await store.create(batch, requests);
  return batch;
}

let owners = 0;
/** An owner no other test has used, so listings start empty. */
const freshOwner = (): string => `key:owner-${++owners}`;

const implementations: [string, () => Promise<BatchStore>][] = [
  ['memory', async () => new MemoryBatchStore()],
  ['DynamoDB (moto)', async () => new DynamoBatchStore({ tableName: resources.tableName, region: 'us-east-1' })],
];

describe.each(implementations)('the %s batch store', (_name, factory) => {
  let store: BatchStore;
  beforeAll(async () => {
    store = await factory();
  });

  test('keeps the submitting key\'s budgets, its beta header and a Bedrock job\'s ARN with the batch', async () => {
    const { batch, requests } = newBatch(freshOwner(), 2);
    const withBoth: BatchRecord = {
      ...batch,
      budgets: { dailyUsd: 2.5, monthlyUsd: 40 },
      betaHeader: 'interleaved-thinking-2025-05-14,tool-search-tool-2025-10-19',
      inferenceJob: 'arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefghij12',
    };
    await store.create(withBoth, requests);
    expect(await store.get(batch.id)).toEqual(withBoth);
    expect(await store.cancel(batch.id, T0 + 1)).toMatchObject({ budgets: withBoth.budgets, inferenceJob: withBoth.inferenceJob });
  });

  test('reads back a created batch, each request and every request in index order (more than one write chunk)', async () => {
    const { batch, requests } = newBatch(freshOwner(), 60);
    await store.create(batch, requests);
    expect(await store.get(batch.id)).toEqual(batch);
    expect(await store.request(batch.id, 37)).toEqual(requests[37]);
    expect((await store.request(batch.id, 37))?.result).toBeUndefined();
    expect(await store.requests(batch.id)).toEqual(requests);
  });

  test('knows nothing of a batch or a request that does not exist', async () => {
    const batch = await created(store, freshOwner(), 3);
    expect(await store.get('msgbatch_00000000000000000000000000')).toBeUndefined();
    expect(await store.request(batch.id, 3)).toBeUndefined();
    expect(await store.request('msgbatch_00000000000000000000000000', 0)).toBeUndefined();
    expect(await store.requests('msgbatch_00000000000000000000000000')).toEqual([]);
    expect(await store.list(freshOwner(), { limit: 20 })).toEqual({ batches: [], hasMore: false });
  });

  test("lists an owner's batches newest first, and only that owner's", async () => {
    const owner = freshOwner();
    const other = freshOwner();
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(await created(store, owner, 1));
    const theirs = await created(store, other, 1);
    const page = await store.list(owner, { limit: 20 });
    expect(page.batches.map((b) => b.id)).toEqual(mine.map((b) => b.id).reverse());
    expect(page.batches[0]).toEqual(mine[4]);
    expect(page.hasMore).toBe(false);
    expect(await store.list(other, { limit: 20 })).toEqual({ batches: [theirs], hasMore: false });
  });

  test('pages with limit and afterId (older ones) until hasMore is false', async () => {
    const owner = freshOwner();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await created(store, owner, 1)).id);
    const newestFirst = [...ids].reverse();
    const first = await store.list(owner, { limit: 2 });
    expect(first.batches.map((b) => b.id)).toEqual(newestFirst.slice(0, 2));
    expect(first.hasMore).toBe(true);
    const second = await store.list(owner, { limit: 2, afterId: newestFirst[1] });
    expect(second.batches.map((b) => b.id)).toEqual(newestFirst.slice(2, 4));
    expect(second.hasMore).toBe(true);
    const third = await store.list(owner, { limit: 2, afterId: newestFirst[3] });
    expect(third.batches.map((b) => b.id)).toEqual(newestFirst.slice(4));
    expect(third.hasMore).toBe(false);
    // Exactly `limit` left: no more after them.
    const exact = await store.list(owner, { limit: 3, afterId: newestFirst[1] });
    expect(exact.batches.map((b) => b.id)).toEqual(newestFirst.slice(2));
    expect(exact.hasMore).toBe(false);
  });

  test('beforeId gives the batches just newer than it, newest first, hasMore when there are newer still', async () => {
    const owner = freshOwner();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await created(store, owner, 1)).id);
    const newestFirst = [...ids].reverse();
    // Before the oldest, two at a time: the two just newer than it, and more beyond them.
    const page = await store.list(owner, { limit: 2, beforeId: newestFirst[4] });
    expect(page.batches.map((b) => b.id)).toEqual([newestFirst[2], newestFirst[3]]);
    expect(page.hasMore).toBe(true);
    const rest = await store.list(owner, { limit: 5, beforeId: newestFirst[2] });
    expect(rest.batches.map((b) => b.id)).toEqual([newestFirst[0], newestFirst[1]]);
    expect(rest.hasMore).toBe(false);
    expect(await store.list(owner, { limit: 5, beforeId: newestFirst[0] })).toEqual({ batches: [], hasMore: false });
  });

  test('cancel moves in_progress to canceling once; a canceled, ended or unknown batch is unchanged', async () => {
    const batch = await created(store, freshOwner(), 2);
    const canceling = await store.cancel(batch.id, T0 + 5000);
    expect(canceling).toEqual({ ...batch, status: 'canceling', cancelInitiatedAt: T0 + 5000 });
    expect(await store.get(batch.id)).toEqual(canceling);
    expect(await store.cancel(batch.id, T0 + 9000)).toEqual(canceling);
    expect(await store.cancel('msgbatch_00000000000000000000000000', T0)).toBeUndefined();

    const done = await created(store, freshOwner(), 1);
    await store.finish(done.id, 0, 'succeeded', T0 + 1000);
    const ended = await store.get(done.id);
    expect(ended?.status).toBe('ended');
    expect(await store.cancel(done.id, T0 + 2000)).toEqual(ended);
  });

  test('finish ends a request once: the counts move once, a second finish is false and changes nothing', async () => {
    const batch = await created(store, freshOwner(), 3);
    expect(await store.finish(batch.id, 1, 'succeeded', T0 + 1)).toBe(true);
    expect(await store.finish(batch.id, 1, 'errored', T0 + 2)).toBe(false);
    expect(await store.request(batch.id, 1)).toMatchObject({ index: 1, customId: 'request-1', result: 'succeeded' });
    const after = await store.get(batch.id);
    expect(after?.counts).toEqual({ processing: 2, succeeded: 1, errored: 0, canceled: 0, expired: 0 });
    expect(after?.status).toBe('in_progress');
    expect(after?.endedAt).toBeUndefined();
  });

  test('a request finished by 10 concurrent calls ends once: one true, the counts move once', async () => {
    const batch = await created(store, freshOwner(), 2);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.finish(batch.id, 0, i % 2 ? 'errored' : 'succeeded', T0 + i)));
    expect(results.filter((r) => r)).toHaveLength(1);
    const counts = (await store.get(batch.id))!.counts;
    expect(counts.processing).toBe(1);
    expect(counts.succeeded + counts.errored).toBe(1);
    const result = (await store.request(batch.id, 0))!.result;
    expect(counts[result as 'succeeded' | 'errored']).toBe(1);
  });

  test('the batch ends (endedAt = the last finish) when no request is left processing, with every result type counted', async () => {
    const batch = await created(store, freshOwner(), 4);
    await store.finish(batch.id, 0, 'succeeded', T0 + 10);
    await store.finish(batch.id, 1, 'errored', T0 + 20);
    await store.finish(batch.id, 2, 'canceled', T0 + 30);
    expect((await store.get(batch.id))?.status).toBe('in_progress');
    await store.finish(batch.id, 3, 'expired', T0 + 40);
    expect(await store.get(batch.id)).toEqual({
      ...batch,
      status: 'ended',
      endedAt: T0 + 40,
      counts: { processing: 0, succeeded: 1, errored: 1, canceled: 1, expired: 1 },
    });
    // A late duplicate changes neither the counts nor endedAt.
    expect(await store.finish(batch.id, 3, 'succeeded', T0 + 50)).toBe(false);
    expect((await store.get(batch.id))?.endedAt).toBe(T0 + 40);
    expect((await store.requests(batch.id)).map((r) => r.result)).toEqual(['succeeded', 'errored', 'canceled', 'expired']);
  });

  test('every request finished concurrently: each ends once and the batch ends', async () => {
    const batch = await created(store, freshOwner(), 12);
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => store.finish(batch.id, i % 12, 'succeeded', T0 + 100 + i)),
    );
    expect(results.filter((r) => r)).toHaveLength(12);
    const after = await store.get(batch.id);
    expect(after?.counts).toEqual({ processing: 0, succeeded: 12, errored: 0, canceled: 0, expired: 0 });
    expect(after?.status).toBe('ended');
  });

  test('a canceling batch ends when its last request ends', async () => {
    const batch = await created(store, freshOwner(), 2);
    await store.cancel(batch.id, T0 + 1);
    await store.finish(batch.id, 0, 'canceled', T0 + 2);
    await store.finish(batch.id, 1, 'canceled', T0 + 3);
    expect(await store.get(batch.id)).toMatchObject({ status: 'ended', cancelInitiatedAt: T0 + 1, endedAt: T0 + 3, counts: { processing: 0, canceled: 2 } });
  });

  test('delete removes the batch, its requests and its listing, and nothing of another batch', async () => {
    const owner = freshOwner();
    const keep = await created(store, owner, 2);
    const gone = await created(store, owner, 30);
    await store.delete(gone.id);
    expect(await store.get(gone.id)).toBeUndefined();
    expect(await store.request(gone.id, 0)).toBeUndefined();
    expect(await store.requests(gone.id)).toEqual([]);
    expect(await store.list(owner, { limit: 20 })).toEqual({ batches: [keep], hasMore: false });
    expect(await store.requests(keep.id)).toHaveLength(2);
    // Deleting what is not there is not an error.
    await store.delete(gone.id);
  });
});

describe('the DynamoDB layout', () => {
  let store: DynamoBatchStore;
  beforeAll(() => {
    store = new DynamoBatchStore({ tableName: resources.tableName, region: 'us-east-1' });
  });

  async function itemsOf(pk: string): Promise<Record<string, unknown>[]> {
    const out = await resources.dynamo.send(new QueryCommand({
      TableName: resources.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: marshall({ ':pk': pk }),
    }));
    return (out.Items ?? []).map((i) => unmarshall(i));
  }

  test('writes the batch, request and listing items of schema, every one expiring 29 days after creation', async () => {
    const owner = freshOwner();
    const batch = await created(store, owner, 3);
    const ttl = Math.floor(batch.createdAt / 1000) + BATCH_RETENTION_DAYS * 86_400;
    const items = await itemsOf(batchPk(batch.id));
    expect(items.map((i) => i.sk)).toEqual([BATCH_SK, requestSk(0), requestSk(1), requestSk(2)]);
    expect(requestSk(12)).toBe('req#000012');
    expect(items[0]).toMatchObject({ id: batch.id, owner, team: 'search', status: 'in_progress', processing: 3, total: 3, ttl });
    expect(items[2]).toEqual({ pk: batchPk(batch.id), sk: 'req#000001', index: 1, customId: 'request-1', start: 41, end: 82, ttl });
    expect(await itemsOf(ownerPk(owner))).toEqual([{ pk: ownerPk(owner), sk: batch.id, ttl }]);
  });

  test('a finish retried after a crash between its transaction and the end of the batch still ends the batch', async () => {
    const batch = await created(store, freshOwner(), 1);
    // The first delivery's transaction ran (result and counts), then the worker died before the batch was ended.
    await resources.dynamo.send(new TransactWriteItemsCommand({
      TransactItems: [
        { Update: { TableName: resources.tableName, Key: marshall({ pk: batchPk(batch.id), sk: requestSk(0) }), UpdateExpression: 'SET #r = :r', ExpressionAttributeNames: { '#r': 'result' }, ExpressionAttributeValues: marshall({ ':r': 'succeeded' }) } },
        { Update: { TableName: resources.tableName, Key: marshall({ pk: batchPk(batch.id), sk: BATCH_SK }), UpdateExpression: 'ADD processing :m, succeeded :o', ExpressionAttributeValues: marshall({ ':m': -1, ':o': 1 }) } },
      ],
    }));
    expect((await store.get(batch.id))?.status).toBe('in_progress');
    expect(await store.finish(batch.id, 0, 'succeeded', T0 + 77)).toBe(false);
    expect(await store.get(batch.id)).toMatchObject({ status: 'ended', endedAt: T0 + 77, counts: { processing: 0, succeeded: 1 } });
  });

  test('finish of a deleted batch creates nothing', async () => {
    const batch = await created(store, freshOwner(), 1);
    await store.delete(batch.id);
    expect(await store.finish(batch.id, 0, 'succeeded', T0)).toBe(false);
    expect(await itemsOf(batchPk(batch.id))).toEqual([]);
  });

  test('delete leaves no item of the batch in the table', async () => {
    const owner = freshOwner();
    const batch = await created(store, owner, 55);
    await store.finish(batch.id, 3, 'succeeded', T0);
    await store.delete(batch.id);
    const all = await resources.dynamo.send(new ScanCommand({ TableName: resources.tableName }));
    const left = (all.Items ?? []).map((i) => unmarshall(i)).filter((i) => i.pk === batchPk(batch.id) || i.sk === batch.id);
    expect(left).toEqual([]);
  });
});

describe('the SQS queue', () => {
  test('sends one message per job, {"batchId","index"}, in chunks of 10, all received from the queue', async () => {
    const queue = new SqsBatchQueue({ queueUrl: resources.queueUrl, region: 'us-east-1' });
    const batchId = newBatchId(T0, randomBytes);
    await queue.send(Array.from({ length: 23 }, (_, index) => ({ batchId, index })));
    const bodies: unknown[] = [];
    const deadline = Date.now() + 20_000;
    while (bodies.length < 23 && Date.now() < deadline) {
      const out = await resources.sqs.send(new ReceiveMessageCommand({ QueueUrl: resources.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      for (const m of out.Messages ?? []) {
        bodies.push(JSON.parse(m.Body!));
        await resources.sqs.send(new DeleteMessageCommand({ QueueUrl: resources.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
      }
    }
    expect(bodies).toHaveLength(23);
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(23);
    expect(bodies).toEqual(expect.arrayContaining(Array.from({ length: 23 }, (_, index) => ({ batchId, index }))));
  });

  test('sending no jobs sends nothing', async () => {
    await new SqsBatchQueue({ queueUrl: resources.queueUrl, region: 'us-east-1' }).send([]);
  });

  test('a queue that does not exist is an error, not a silent loss', async () => {
    const queue = new SqsBatchQueue({ queueUrl: `${moto.url}/123456789012/no-such-queue`, region: 'us-east-1' });
    await expect(queue.send([{ batchId: 'msgbatch_x', index: 0 }])).rejects.toThrow();
  });
});

describe('the S3 objects', () => {
  let objects: S3BatchObjects;
  beforeAll(() => {
    objects = new S3BatchObjects({ bucket: resources.bucket, region: 'us-east-1' });
  });

  test('addresses S3 path-style when the endpoint is overridden in the environment', () => {
    expect(s3EndpointOverridden({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1' })).toBe(true);
    expect(s3EndpointOverridden({ AWS_ENDPOINT_URL: 'http://127.0.0.1:1' })).toBe(true);
    expect(s3EndpointOverridden({ AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' })).toBe(false);
    expect(s3EndpointOverridden({})).toBe(false);
  });

  test('puts an object and reads it whole and by byte range [start, end)', async () => {
    const id = newBatchId(T0, randomBytes);
    const lines = ['{"model":"a","max_tokens":1}', '{"model":"é","max_tokens":2}', '{"model":"c","max_tokens":3}'];
    const input = Buffer.from(lines.join('\n') + '\n');
    await objects.put(batchKeys.input(id), input);
    expect(await objects.get(batchKeys.input(id))).toEqual(input);
    const start = Buffer.byteLength(lines[0]) + 1;
    const end = start + Buffer.byteLength(lines[1]);
    expect((await objects.get(batchKeys.input(id), { start, end }))?.toString('utf8')).toBe(lines[1]);
    expect(await objects.get(batchKeys.input(id), { start: 0, end: 1 })).toEqual(Buffer.from('{'));
    expect(await objects.get(batchKeys.input(id), { start: 5, end: 5 })).toEqual(Buffer.alloc(0));
    await objects.put(batchKeys.result(id, 0), '{"custom_id":"a"}');
    expect((await objects.get(batchKeys.result(id, 0)))?.toString()).toBe('{"custom_id":"a"}');
  });

  test('a missing object is undefined, whole or by range', async () => {
    expect(await objects.get('batches/msgbatch_none/input.jsonl')).toBeUndefined();
    expect(await objects.get('batches/msgbatch_none/input.jsonl', { start: 0, end: 10 })).toBeUndefined();
    expect(await objects.get('batches/msgbatch_none/input.jsonl', { start: 3, end: 3 })).toBeUndefined();
  });

  test('deletePrefix removes every object under the prefix (more than one listing page) and nothing else', async () => {
    const gone = newBatchId(T0, randomBytes);
    const kept = newBatchId(T0, randomBytes);
    await objects.put(batchKeys.input(gone), 'x');
    for (let i = 0; i < 1003; i += 17) await objects.put(batchKeys.result(gone, i), `${i}`);
    await objects.put(batchKeys.input(kept), 'y');
    await objects.deletePrefix(batchKeys.prefix(gone));
    const left = await resources.s3.send(new ListObjectsV2Command({ Bucket: resources.bucket, Prefix: batchKeys.prefix(gone) }));
    expect(left.KeyCount ?? 0).toBe(0);
    expect((await objects.get(batchKeys.input(kept)))?.toString()).toBe('y');
    await objects.deletePrefix(batchKeys.prefix(gone));
  });
});

describe('createAwsBatchBackends', () => {
  test('builds the three stores from the PROXY_BATCH_* names and the region; they work together', async () => {
    const backends = createAwsBatchBackends({ tableName: resources.tableName, queueUrl: resources.queueUrl, bucket: resources.bucket }, 'us-east-1');
    const { batch, requests } = newBatch(freshOwner(), 1);
    await backends.objects.put(batchKeys.input(batch.id), '{}\n');
    await backends.store.create(batch, requests);
    await backends.queue.send([{ batchId: batch.id, index: 0 }]);
    expect(await backends.store.get(batch.id)).toEqual(batch);
    expect((await backends.objects.get(batchKeys.input(batch.id), { start: 0, end: 2 }))?.toString()).toBe('{}');
    const out = await resources.sqs.send(new ReceiveMessageCommand({ QueueUrl: resources.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    expect((out.Messages ?? []).map((m) => JSON.parse(m.Body!))).toContainEqual({ batchId: batch.id, index: 0 });
  });
});
