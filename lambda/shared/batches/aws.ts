/**
 * The batch stores when deployed (StreamingLlmProxy `batches`): the batch and per-request state in DynamoDB, one SQS
 * message per request, the input and the results in S3. Loaded lazily (./index.ts; a separate file of the Lambda bundle,
 * build-tools/bundle.ts). The contract is ./types.ts; ./memory.ts is the same in one process.
 *
 * The table has the gateway table's key schema (partition key `pk`, sort key `sk`, both strings; TTL attribute `ttl`,
 * epoch seconds; lambda/shared/gateway/schema.ts), so one table can hold both. Its batch items:
 *
 *   item                 pk                   sk                          attributes
 *   a batch              batch#<batch id>     batch                       id, owner, team, meterKey, createdAt, expiresAt, total,
 *                                                                         status, processing, succeeded, errored, canceled,
 *                                                                         expired, cancelInitiatedAt, endedAt, inferenceJob,
 *                                                                         budgets, betaHeader, ttl
 *   one of its requests  batch#<batch id>     req#<index, 6 digits>       index, customId, start, end, result (once ended), ttl
 *   an owner's listing   owner#<owner>        <batch id>                  ttl
 *
 * Every item expires (`ttl`) BATCH_RETENTION_DAYS (29) after the batch was created, as its S3 objects do.
 *
 * - create: the request items first (BatchWriteItem, 25 a call, unprocessed items retried with backoff), then the batch
 *   and its listing item in one TransactWriteItems, so a batch is never seen (get, list) before all its requests exist.
 * - list: batch ids sort by creation time (types.ts newBatchId), so an owner's listing is one Query on `owner#<owner>`,
 *   newest first (afterId: sk < afterId, descending; beforeId: sk > beforeId, ascending, then reversed), limit + 1 items to
 *   know whether there are more, then BatchGetItem of the batches.
 * - finish: one TransactWriteItems of [the request's result, conditional on it having none; the batch's counts,
 *   processing − 1 and the result's + 1], so the counts move once however often a request is finished; then the batch
 *   becomes `ended` with a conditional UpdateItem (processing = 0 and not yet ended), run whether or not this call ended
 *   the request, so a retry after a crash between the two still ends the batch.
 * - cancel: a conditional UpdateItem (status in_progress → canceling).
 * - delete: the listing item and the batch item first (the batch is gone for get and list), then the request items.
 *
 * Reads are strongly consistent: a client polls a batch it has just changed.
 *
 * Bedrock batch inference (BedrockInferenceJobs) is the Bedrock control plane's CreateModelInvocationJob,
 * GetModelInvocationJob and StopModelInvocationJob.
 *
 * Clients are built for the region with the SDK's standard configuration, so AWS_ENDPOINT_URL and
 * AWS_ENDPOINT_URL_DYNAMODB / _SQS / _S3 / _BEDROCK point them elsewhere (a VPC endpoint, or moto in the tests); S3 then uses
 * path-style addressing. Objects are encrypted by the bucket's default encryption (KMS, set by the construct).
 */
import { randomUUID } from 'crypto';
import {
  BedrockClient,
  CreateModelInvocationJobCommand,
  GetModelInvocationJobCommand,
  StopModelInvocationJobCommand,
} from '@aws-sdk/client-bedrock';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type BatchGetItemCommandOutput,
  type KeysAndAttributes,
  type QueryCommandInput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, SQSClient, type SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import {
  BATCH_RETENTION_DAYS,
  type BatchBackends,
  type BatchJob,
  type BatchObjects,
  type BatchPage,
  type BatchQueue,
  type BatchRecord,
  type BatchRequestRef,
  type BatchRequestState,
  type BatchResultType,
  type BatchStatus,
  type BatchStore,
  type CreateInferenceJob,
  type InferenceJobInfo,
  type InferenceJobs,
} from './types';

// ---- item keys -----------------------------------------------------------------------------------------------------

export const batchPk = (id: string): string => `batch#${id}`;
export const BATCH_SK = 'batch';
export const requestSk = (index: number): string => `req#${String(index).padStart(6, '0')}`;
export const REQUEST_SK_PREFIX = 'req#';
export const ownerPk = (owner: string): string => `owner#${owner}`;

const DAY_S = 86_400;
/** Items a BatchWriteItem call takes. */
const WRITE_CHUNK = 25;
/** Keys a BatchGetItem call takes. */
const GET_CHUNK = 100;
/** BatchWriteItem calls in flight while a batch is created or deleted. */
const WRITE_CONCURRENCY = 8;
/** Calls of a batch operation before its unprocessed items are an error. */
const BATCH_CALL_ATTEMPTS = 8;
/** Retries of a finish transaction that met a concurrent transaction on the same items (TransactionConflict). */
const CONFLICT_ATTEMPTS = 10;

type Item = Record<string, AttributeValue>;

interface MetaItem {
  readonly id: string;
  readonly owner: string;
  readonly team?: string;
  readonly meterKey?: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly total: number;
  readonly status: BatchStatus;
  readonly processing: number;
  readonly succeeded: number;
  readonly errored: number;
  readonly canceled: number;
  readonly expired: number;
  readonly cancelInitiatedAt?: number;
  readonly endedAt?: number;
  readonly inferenceJob?: string;
  readonly budgets?: { readonly dailyUsd?: number; readonly monthlyUsd?: number };
  readonly betaHeader?: string;
}

function itemKey(pk: string, sk: string): Item {
  return { pk: { S: pk }, sk: { S: sk } };
}

function ttlOf(createdAt: number): number {
  return Math.floor(createdAt / 1000) + BATCH_RETENTION_DAYS * DAY_S;
}

function toRecord(item: Item): BatchRecord {
  const m = unmarshall(item) as MetaItem;
  return {
    id: m.id,
    owner: m.owner,
    ...(m.team !== undefined ? { team: m.team } : {}),
    ...(m.meterKey !== undefined ? { meterKey: m.meterKey } : {}),
    createdAt: m.createdAt,
    expiresAt: m.expiresAt,
    total: m.total,
    status: m.status,
    counts: { processing: m.processing, succeeded: m.succeeded, errored: m.errored, canceled: m.canceled, expired: m.expired },
    ...(m.cancelInitiatedAt !== undefined ? { cancelInitiatedAt: m.cancelInitiatedAt } : {}),
    ...(m.endedAt !== undefined ? { endedAt: m.endedAt } : {}),
    ...(m.inferenceJob !== undefined ? { inferenceJob: m.inferenceJob } : {}),
    ...(m.budgets !== undefined ? { budgets: m.budgets } : {}),
    ...(m.betaHeader !== undefined ? { betaHeader: m.betaHeader } : {}),
  };
}

function toRequest(item: Item): BatchRequestState {
  const r = unmarshall(item) as BatchRequestState;
  return {
    index: r.index,
    customId: r.customId,
    start: r.start,
    end: r.end,
    ...(r.result !== undefined ? { result: r.result } : {}),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Exponential backoff with full jitter: up to 50 ms · 2^attempt, at most 2 s. */
function backoff(attempt: number): Promise<void> {
  return sleep(Math.random() * Math.min(2000, 50 * 2 ** attempt));
}

/** Runs `fn` over `items`, at most `limit` at a time; rejects with the first error (after the calls in flight settle). */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const run = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  if (failure) throw failure.error;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as { name?: string }).name : undefined;
}

/** The cancellation reason codes of a TransactionCanceledException, in the order of the transaction's items. */
function cancellationCodes(error: unknown): (string | undefined)[] {
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
  if (Array.isArray(reasons)) return reasons.map((r) => r.Code);
  // Some implementations only name the reasons in the message: "… [ConditionalCheckFailed, None]".
  const listed = /\[([A-Za-z, ]+)\]/.exec(String((error as { message?: string }).message ?? ''));
  return listed ? listed[1].split(',').map((s) => s.trim()) : [];
}

// ---- the batch store -----------------------------------------------------------------------------------------------

export interface DynamoBatchStoreOptions {
  readonly tableName: string;
  readonly region?: string;
  /** A client to use (tests); default: a DynamoDBClient for `region` (AWS_ENDPOINT_URL_DYNAMODB is honoured). */
  readonly client?: DynamoDBClient;
}

export class DynamoBatchStore implements BatchStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: DynamoBatchStoreOptions) {
    this.table = options.tableName;
    this.client = options.client ?? new DynamoDBClient({ region: options.region, maxAttempts: 3 });
  }

  public async create(batch: BatchRecord, requests: readonly BatchRequestRef[]): Promise<void> {
    const ttl = ttlOf(batch.createdAt);
    const puts: WriteRequest[] = requests.map((r) => ({
      PutRequest: {
        Item: marshall({ pk: batchPk(batch.id), sk: requestSk(r.index), index: r.index, customId: r.customId, start: r.start, end: r.end, ttl }),
      },
    }));
    await this.writeAll(puts);
    const meta: MetaItem & { pk: string; sk: string; ttl: number } = {
      pk: batchPk(batch.id),
      sk: BATCH_SK,
      id: batch.id,
      owner: batch.owner,
      team: batch.team,
      meterKey: batch.meterKey,
      createdAt: batch.createdAt,
      expiresAt: batch.expiresAt,
      total: batch.total,
      status: batch.status,
      ...batch.counts,
      cancelInitiatedAt: batch.cancelInitiatedAt,
      endedAt: batch.endedAt,
      inferenceJob: batch.inferenceJob,
      budgets: batch.budgets,
      betaHeader: batch.betaHeader,
      ttl,
    };
    await this.client.send(new TransactWriteItemsCommand({
      TransactItems: [
        { Put: { TableName: this.table, Item: marshall(meta, { removeUndefinedValues: true }), ConditionExpression: 'attribute_not_exists(pk)' } },
        { Put: { TableName: this.table, Item: marshall({ pk: ownerPk(batch.owner), sk: batch.id, ttl }) } },
      ],
    }));
  }

  public async get(id: string): Promise<BatchRecord | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.table, Key: itemKey(batchPk(id), BATCH_SK), ConsistentRead: true }));
    return out.Item ? toRecord(out.Item) : undefined;
  }

  public async request(id: string, index: number): Promise<BatchRequestState | undefined> {
    if (!Number.isInteger(index) || index < 0) return undefined;
    const out = await this.client.send(new GetItemCommand({
      TableName: this.table,
      Key: itemKey(batchPk(id), requestSk(index)),
      ConsistentRead: true,
    }));
    return out.Item ? toRequest(out.Item) : undefined;
  }

  public async requests(id: string): Promise<BatchRequestState[]> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :req)',
      ExpressionAttributeValues: { ':pk': { S: batchPk(id) }, ':req': { S: REQUEST_SK_PREFIX } },
      ConsistentRead: true,
    });
    return items.map(toRequest);
  }

  public async list(owner: string, options: { readonly limit: number; readonly afterId?: string; readonly beforeId?: string }): Promise<BatchPage> {
    const limit = Math.max(1, Math.floor(options.limit));
    const { afterId, beforeId } = options;
    const values: Item = { ':pk': { S: ownerPk(owner) } };
    let condition = 'pk = :pk';
    let forward = false;
    // Both cursors: the batches between them, newest first. BETWEEN includes its ends, so they are dropped below and
    // two more items are asked for.
    let extra = 1;
    if (afterId !== undefined && beforeId !== undefined) {
      condition += ' AND sk BETWEEN :before AND :after';
      values[':after'] = { S: afterId };
      values[':before'] = { S: beforeId };
      extra = 3;
    } else if (afterId !== undefined) {
      condition += ' AND sk < :after';
      values[':after'] = { S: afterId };
    } else if (beforeId !== undefined) {
      condition += ' AND sk > :before';
      values[':before'] = { S: beforeId };
      forward = true;
    }
    const ids: string[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.client.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: condition,
        ExpressionAttributeValues: values,
        ScanIndexForward: forward,
        Limit: limit + extra - ids.length,
        ExclusiveStartKey: startKey,
        ConsistentRead: true,
      }));
      for (const item of out.Items ?? []) {
        const id = item.sk?.S;
        if (id !== undefined && id !== afterId && id !== beforeId) ids.push(id);
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined && ids.length < limit + 1);
    const hasMore = ids.length > limit;
    const page = ids.slice(0, limit);
    if (forward) page.reverse();
    const records = await this.getMany(page);
    // A listing item whose batch is gone (deleted, or expired first) is skipped.
    return { batches: page.map((id) => records.get(id)).filter((r): r is BatchRecord => r !== undefined), hasMore };
  }

  public async cancel(id: string, nowMs: number): Promise<BatchRecord | undefined> {
    try {
      const out = await this.client.send(new UpdateItemCommand({
        TableName: this.table,
        Key: itemKey(batchPk(id), BATCH_SK),
        UpdateExpression: 'SET #status = :canceling, cancelInitiatedAt = :now',
        ConditionExpression: '#status = :in_progress',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':canceling': { S: 'canceling' }, ':in_progress': { S: 'in_progress' }, ':now': { N: String(nowMs) } },
        ReturnValues: 'ALL_NEW',
      }));
      if (out.Attributes) return toRecord(out.Attributes);
    } catch (error) {
      // Not in progress (already canceling or ended), or no such batch.
      if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
    }
    return this.get(id);
  }

  public async finish(id: string, index: number, result: BatchResultType, nowMs: number): Promise<boolean> {
    const ended = await this.endRequest(id, index, result);
    try {
      await this.client.send(new UpdateItemCommand({
        TableName: this.table,
        Key: itemKey(batchPk(id), BATCH_SK),
        UpdateExpression: 'SET #status = :ended, endedAt = :now',
        ConditionExpression: 'processing = :zero AND #status <> :ended',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':ended': { S: 'ended' }, ':zero': { N: '0' }, ':now': { N: String(nowMs) } },
      }));
    } catch (error) {
      if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
    }
    return ended;
  }

  public async delete(id: string): Promise<void> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: batchPk(id) } },
      ProjectionExpression: 'pk, sk, #owner',
      ExpressionAttributeNames: { '#owner': 'owner' },
      ConsistentRead: true,
    });
    const meta = items.find((i) => i.sk?.S === BATCH_SK);
    const first: WriteRequest[] = [];
    if (meta?.owner?.S !== undefined) first.push({ DeleteRequest: { Key: itemKey(ownerPk(meta.owner.S), id) } });
    if (meta) first.push({ DeleteRequest: { Key: itemKey(batchPk(id), BATCH_SK) } });
    await this.writeAll(first);
    await this.writeAll(items.filter((i) => i.sk?.S !== BATCH_SK).map((i) => ({ DeleteRequest: { Key: itemKey(i.pk.S!, i.sk.S!) } })));
  }

  /** The request's result and the batch's counts, in one transaction; false when the request had already ended. */
  private async endRequest(id: string, index: number, result: BatchResultType): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(new TransactWriteItemsCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: itemKey(batchPk(id), requestSk(index)),
                UpdateExpression: 'SET #result = :result',
                ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#result)',
                ExpressionAttributeNames: { '#result': 'result' },
                ExpressionAttributeValues: { ':result': { S: result } },
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: itemKey(batchPk(id), BATCH_SK),
                UpdateExpression: 'ADD processing :minus, #count :one',
                ConditionExpression: 'attribute_exists(pk)',
                ExpressionAttributeNames: { '#count': result },
                ExpressionAttributeValues: { ':minus': { N: '-1' }, ':one': { N: '1' } },
              },
            },
          ],
          // A fresh token per call: the SDK's own retry of this call (a lost response) is applied once and answers
          // success, while a second finish of the same request (another delivery) is a new transaction and is refused.
          ClientRequestToken: randomUUID(),
        }));
        return true;
      } catch (error) {
        if (errorName(error) !== 'TransactionCanceledException') throw error;
        const codes = cancellationCodes(error);
        // The request had already ended (or the request or the batch does not exist): nothing to count.
        if (codes.includes('ConditionalCheckFailed')) return false;
        // Another transaction on the same items (a concurrent finish): try again; one of them wins the condition.
        if (codes.includes('TransactionConflict') && attempt + 1 < CONFLICT_ATTEMPTS) {
          await backoff(attempt);
          continue;
        }
        throw error;
      }
    }
  }

  private async queryAll(input: QueryCommandInput): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.client.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
      items.push(...(out.Items ?? []));
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }

  private async getMany(ids: readonly string[]): Promise<Map<string, BatchRecord>> {
    const records = new Map<string, BatchRecord>();
    await forEachLimit(chunks(ids, GET_CHUNK), WRITE_CONCURRENCY, async (chunk) => {
      let pending: KeysAndAttributes | undefined = { Keys: chunk.map((id) => itemKey(batchPk(id), BATCH_SK)), ConsistentRead: true };
      for (let attempt = 0; pending?.Keys?.length; attempt++) {
        if (attempt >= BATCH_CALL_ATTEMPTS) throw new Error(`BatchGetItem on ${this.table} left ${pending.Keys.length} keys unprocessed after ${attempt} calls`);
        if (attempt > 0) await backoff(attempt);
        const out: BatchGetItemCommandOutput = await this.client.send(new BatchGetItemCommand({ RequestItems: { [this.table]: pending } }));
        for (const item of out.Responses?.[this.table] ?? []) {
          const record = toRecord(item);
          records.set(record.id, record);
        }
        pending = out.UnprocessedKeys?.[this.table];
      }
    });
    return records;
  }

  /** BatchWriteItem in chunks of 25, a few in flight, unprocessed items retried with backoff. */
  private async writeAll(requests: readonly WriteRequest[]): Promise<void> {
    await forEachLimit(chunks(requests, WRITE_CHUNK), WRITE_CONCURRENCY, async (chunk) => {
      let pending: WriteRequest[] = chunk;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= BATCH_CALL_ATTEMPTS) throw new Error(`BatchWriteItem on ${this.table} left ${pending.length} items unprocessed after ${attempt} calls`);
        if (attempt > 0) await backoff(attempt);
        const out = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }));
        pending = out.UnprocessedItems?.[this.table] ?? [];
      }
    });
  }
}

// ---- the queue -----------------------------------------------------------------------------------------------------

export interface SqsBatchQueueOptions {
  readonly queueUrl: string;
  readonly region?: string;
  /** A client to use (tests); default: an SQSClient for `region` (AWS_ENDPOINT_URL_SQS is honoured). */
  readonly client?: SQSClient;
}

/** Messages a SendMessageBatch call takes. */
const SEND_CHUNK = 10;
/** SendMessageBatch calls in flight while a batch is submitted. */
const SEND_CONCURRENCY = 8;
/** Calls of one chunk before its failed entries are an error. */
const SEND_ATTEMPTS = 4;

/** One message per job, its body `{"batchId":"…","index":n}` (what lambda/batch-worker parses). */
export class SqsBatchQueue implements BatchQueue {
  private readonly client: SQSClient;
  private readonly queueUrl: string;

  constructor(options: SqsBatchQueueOptions) {
    this.queueUrl = options.queueUrl;
    this.client = options.client ?? new SQSClient({ region: options.region, maxAttempts: 3 });
  }

  public async send(jobs: readonly BatchJob[]): Promise<void> {
    await forEachLimit(chunks(jobs, SEND_CHUNK), SEND_CONCURRENCY, async (chunk) => {
      let pending: SendMessageBatchRequestEntry[] = chunk.map((job, i) => ({
        Id: String(i),
        MessageBody: JSON.stringify({ batchId: job.batchId, index: job.index }),
      }));
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) await backoff(attempt);
        const out = await this.client.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: pending }));
        const failed = new Set((out.Failed ?? []).map((f) => f.Id));
        if (failed.size === 0) return;
        const first = out.Failed![0];
        // A sender's fault (a malformed entry) does not get better by retrying.
        if (first.SenderFault || attempt + 1 >= SEND_ATTEMPTS) {
          const reason = `${first.Code ?? 'error'} ${first.Message ?? ''}`.trim();
          throw new Error(`SQS SendMessageBatch to ${this.queueUrl} failed for ${failed.size} of ${pending.length} messages after ${attempt + 1} calls: ${reason}`);
        }
        pending = pending.filter((e) => failed.has(e.Id));
      }
    });
  }
}

// ---- the objects ---------------------------------------------------------------------------------------------------

export interface S3BatchObjectsOptions {
  readonly bucket: string;
  readonly region?: string;
  /** A client to use (tests); default: an S3Client for `region` (AWS_ENDPOINT_URL_S3 is honoured, path-style then). */
  readonly client?: S3Client;
}

/** Keys a DeleteObjects call takes (and a ListObjectsV2 page holds). */
const DELETE_CHUNK = 1000;

/**
 * True when the SDK's endpoint is overridden through the environment (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, unless
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS): a local stand-in or a VPC interface endpoint, where the bucket cannot be a host
 * name and S3 is addressed path-style.
 */
export function s3EndpointOverridden(env: Record<string, string | undefined> = process.env): boolean {
  if ((env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '').toLowerCase() === 'true') return false;
  return Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL);
}

function contentType(key: string): string {
  if (key.endsWith('.jsonl')) return 'application/x-ndjson';
  if (key.endsWith('.json')) return 'application/json';
  return 'application/octet-stream';
}

function isMissing(error: unknown): boolean {
  const name = errorName(error);
  return name === 'NoSuchKey' || name === 'NotFound' || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;
}

export class S3BatchObjects implements BatchObjects {
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(options: S3BatchObjectsOptions) {
    this.bucket = options.bucket;
    this.client = options.client ?? new S3Client({ region: options.region, maxAttempts: 3, forcePathStyle: s3EndpointOverridden() });
  }

  public async put(key: string, body: string | Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType(key) }));
  }

  public async get(key: string, range?: { readonly start: number; readonly end: number }): Promise<Buffer | undefined> {
    try {
      if (range && range.end <= range.start) {
        // An empty range cannot be asked for (bytes=5-4 is invalid); the object's existence is the answer.
        await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
        return Buffer.alloc(0);
      }
      const out = await this.client.send(new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Range: range ? `bytes=${range.start}-${range.end - 1}` : undefined,
      }));
      if (!out.Body) return Buffer.alloc(0);
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  public async deletePrefix(prefix: string): Promise<void> {
    let token: string | undefined;
    do {
      const listed = await this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: prefix,
        ContinuationToken: token,
        MaxKeys: DELETE_CHUNK,
      }));
      const keys = (listed.Contents ?? []).map((o) => o.Key).filter((k): k is string => k !== undefined);
      if (keys.length > 0) {
        const out = await this.client.send(new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
        }));
        const errors = out.Errors ?? [];
        if (errors.length > 0) {
          const reason = `${errors[0].Code ?? 'error'} ${errors[0].Message ?? ''}`.trim();
          throw new Error(`S3 DeleteObjects in ${this.bucket} failed for ${errors.length} of ${keys.length} objects under ${prefix}: ${reason}`);
        }
      }
      token = listed.IsTruncated ? listed.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  public uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }
}

// ---- Bedrock batch inference ---------------------------------------------------------------------------------------

export interface BedrockInferenceJobsOptions {
  readonly region?: string;
  /** A client to use (tests); default: a BedrockClient for `region` (AWS_ENDPOINT_URL_BEDROCK is honoured). */
  readonly client?: BedrockClient;
}

export class BedrockInferenceJobs implements InferenceJobs {
  private readonly client: BedrockClient;

  constructor(options: BedrockInferenceJobsOptions = {}) {
    this.client = options.client ?? new BedrockClient({ region: options.region, maxAttempts: 3 });
  }

  public async create(job: CreateInferenceJob): Promise<string> {
    const out = await this.client.send(new CreateModelInvocationJobCommand({
      jobName: job.name,
      clientRequestToken: job.clientToken,
      modelId: job.modelId,
      roleArn: job.roleArn,
      inputDataConfig: { s3InputDataConfig: { s3Uri: job.inputUri, s3InputFormat: 'JSONL' } },
      outputDataConfig: { s3OutputDataConfig: { s3Uri: job.outputUri } },
      timeoutDurationInHours: job.timeoutHours,
    }));
    if (!out.jobArn) throw new Error('Bedrock CreateModelInvocationJob answered without a jobArn');
    return out.jobArn;
  }

  public async get(jobArn: string): Promise<InferenceJobInfo | undefined> {
    try {
      const out = await this.client.send(new GetModelInvocationJobCommand({ jobIdentifier: jobArn }));
      return {
        arn: out.jobArn ?? jobArn,
        name: out.jobName ?? '',
        status: out.status ?? 'Submitted',
        ...(out.message ? { message: out.message } : {}),
      };
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return undefined;
      throw error;
    }
  }

  public async stop(jobArn: string): Promise<void> {
    try {
      await this.client.send(new StopModelInvocationJobCommand({ jobIdentifier: jobArn }));
    } catch (error) {
      // Already ended (or stopping): nothing to stop.
      if (errorName(error) === 'ValidationException' || errorName(error) === 'ConflictException') return;
      throw error;
    }
  }
}

// ---- all three -----------------------------------------------------------------------------------------------------

export interface AwsBatchConfig {
  readonly tableName: string;
  readonly queueUrl: string;
  readonly bucket: string;
  /** Bedrock batch inference is configured (PROXY_BATCH_INFERENCE_ROLE_ARN): the backends include its jobs. */
  readonly inference?: boolean;
}

/** The deployed batch stores (PROXY_BATCH_TABLE, PROXY_BATCH_QUEUE_URL, PROXY_BATCH_BUCKET: ProxyConfig.batches.aws). */
export function createAwsBatchBackends(config: AwsBatchConfig, region?: string): BatchBackends {
  return {
    store: new DynamoBatchStore({ tableName: config.tableName, region }),
    queue: new SqsBatchQueue({ queueUrl: config.queueUrl, region }),
    objects: new S3BatchObjects({ bucket: config.bucket, region }),
    ...(config.inference ? { jobs: new BedrockInferenceJobs({ region }) } : {}),
  };
}
