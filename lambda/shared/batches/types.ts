/**
 * Message Batches (POST /v1/messages/batches …): what the proxy's batch endpoints and the batch worker need from their
 * stores, independent of where they live — in memory for the dev server and tests (./memory.ts), or DynamoDB (the
 * batch and per-request state), SQS (one message per request) and S3 (the submitted input and each result) when
 * deployed (./aws.ts, loaded lazily). See docs/batches.md.
 *
 * Life of a batch:
 *   submit   the whole body's requests are validated; the input (one JSONL object, one line per request, in order) is
 *            written to the objects store, the batch and one state item per request to the batch store, then one job
 *            per request to the queue.
 *   work     the worker takes a job, reads its line by byte range, calls the model (retrying throttling), writes the
 *            result line, charges the key, then `finish`es the request. `finish` is conditional on the request not
 *            having ended, so a job delivered twice (a worker killed mid-request, an SQS redelivery) ends once: the
 *            result object is overwritten with an equivalent line and the counts move once.
 *   cancel   the batch becomes `canceling`; jobs taken after that end `canceled` without a model call.
 *   expire   a request not ended by `expiresAt` (24 h) ends `expired` (when its job is taken, or when the batch is read).
 *   end      the batch is `ended` when no request is processing; its results are the result lines in request order.
 *
 * Bedrock batch inference (optional, PROXY_BATCH_INFERENCE_ROLE_ARN): a batch of at least PROXY_BATCH_INFERENCE_MIN_RECORDS
 * requests for one Claude model is submitted as one Bedrock job instead of one queue job per request (same state, same
 * result objects, same API):
 *   submit   the input as above, plus the job's records (one `{recordId, modelInput}` line per request) under
 *            `inference/`; CreateModelInvocationJob (idempotent: the batch id is its client token); the batch is stored
 *            with the job's ARN. If Bedrock refuses the job, the batch takes the queue path instead.
 *   settle   on each of the job's state changes (EventBridge → the worker), the worker asks Bedrock for the job's status;
 *            once it has ended it reads the output records, writes each result, charges the key and ends the request —
 *            with the same `finish` as above, so an event delivered twice ends each request once.
 *   cancel   also stops the job; the requests it did not finish end `canceled`.
 */

/** Anthropic's processing_status. */
export type BatchStatus = 'in_progress' | 'canceling' | 'ended';

/** How one request ended (Anthropic's result.type). */
export type BatchResultType = 'succeeded' | 'errored' | 'canceled' | 'expired';

export interface RequestCounts {
  readonly processing: number;
  readonly succeeded: number;
  readonly errored: number;
  readonly canceled: number;
  readonly expired: number;
}

export interface BatchRecord {
  /** `msgbatch_` + 24 random base62-ish characters; sortable by creation time (see newBatchId). */
  readonly id: string;
  /** The identity that submitted it (Identity.id): only it can see, cancel, read or delete the batch. */
  readonly owner: string;
  /** The submitting key's team, for the charges. */
  readonly team?: string;
  /** The `key` metric dimension of the submitter (its key name, or `other` for a caller without an API key). */
  readonly meterKey?: string;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms: createdAt + 24 h; requests not ended by then end `expired`. */
  readonly expiresAt: number;
  /** How many requests the batch has. */
  readonly total: number;
  readonly status: BatchStatus;
  readonly counts: RequestCounts;
  readonly cancelInitiatedAt?: number;
  readonly endedAt?: number;
  /**
   * The submitting key's budgets (USD, UTC day and month) when it was submitted: the worker checks the key's spend
   * against them before each request's model call, as the proxy does before a request.
   */
  readonly budgets?: { readonly dailyUsd?: number; readonly monthlyUsd?: number };
  /** The `anthropic-beta` header the batch was submitted with: its betas apply to every request (as Anthropic does). */
  readonly betaHeader?: string;
  /** The ARN of the Bedrock batch inference job running it, when it took that path (else its requests are queue jobs). */
  readonly inferenceJob?: string;
}

/** One request of a batch: its place in the input object. */
export interface BatchRequestRef {
  /** 0-based position in the submitted `requests` array (and in the results). */
  readonly index: number;
  readonly customId: string;
  /** Byte range [start, end) of its line (the request's `params` JSON) in the input object. */
  readonly start: number;
  readonly end: number;
}

/** A request's state: its ref, and how it ended (undefined: still processing). */
export interface BatchRequestState extends BatchRequestRef {
  readonly result?: BatchResultType;
}

export interface BatchPage {
  /** Newest first. */
  readonly batches: BatchRecord[];
  readonly hasMore: boolean;
}

export interface BatchStore {
  /** Writes the batch (status in_progress, every request processing) and its request states. */
  create(batch: BatchRecord, requests: readonly BatchRequestRef[]): Promise<void>;
  get(id: string): Promise<BatchRecord | undefined>;
  /** One request's state, or undefined when the batch or index does not exist. */
  request(id: string, index: number): Promise<BatchRequestState | undefined>;
  /** Every request's state, in index order. */
  requests(id: string): Promise<BatchRequestState[]>;
  /**
   * An owner's batches, newest first; `afterId` continues after that batch (older ones), `beforeId` gives the ones newer
   * than it (Anthropic's pagination; the SDK's `list()` follows `last_id` with `after_id`).
   */
  list(owner: string, options: { readonly limit: number; readonly afterId?: string; readonly beforeId?: string }): Promise<BatchPage>;
  /** in_progress → canceling (cancelInitiatedAt = nowMs); any other status unchanged. Returns the batch after. */
  cancel(id: string, nowMs: number): Promise<BatchRecord | undefined>;
  /**
   * Ends one request: only if it has not ended, atomically with the batch's counts (processing − 1, the result's + 1).
   * Returns true when this call ended it, false when it had already ended (a duplicate delivery). Either way, when no
   * request is left processing the batch becomes `ended` (endedAt = nowMs) — so a retry after a crash between the two
   * still ends the batch.
   */
  finish(id: string, index: number, result: BatchResultType, nowMs: number): Promise<boolean>;
  /** Removes the batch and its request states (the caller checks it has ended). */
  delete(id: string): Promise<void>;
}

/** One job per request. */
export interface BatchJob {
  readonly batchId: string;
  readonly index: number;
}

export interface BatchQueue {
  send(jobs: readonly BatchJob[]): Promise<void>;
}

/** The input and result objects (S3 when deployed: KMS, TLS only, expiring after 29 days). */
export interface BatchObjects {
  put(key: string, body: string | Buffer): Promise<void>;
  /** The object (or bytes [start, end) of it); undefined when it does not exist. */
  get(key: string, range?: { readonly start: number; readonly end: number }): Promise<Buffer | undefined>;
  /** Removes every object under the prefix. */
  deletePrefix(prefix: string): Promise<void>;
  /** Where a key lives, for a service that reads or writes it itself (`s3://bucket/key`: Bedrock batch inference). */
  uri(key: string): string;
}

/** Where a batch's objects live. */
export const batchKeys = {
  prefix: (batchId: string): string => `batches/${batchId}/`,
  input: (batchId: string): string => `batches/${batchId}/input.jsonl`,
  result: (batchId: string, index: number): string => `batches/${batchId}/results/${String(index).padStart(6, '0')}.json`,
  /** Bedrock batch inference: the job's input records, and the prefix it writes its output under. */
  inferenceInput: (batchId: string): string => `batches/${batchId}/inference/input.jsonl`,
  inferenceOutputPrefix: (batchId: string): string => `batches/${batchId}/inference/output/`,
  /** The output records: Bedrock writes `<input file name>.out` under `<output prefix><job id>/`. */
  inferenceOutput: (batchId: string, jobArn: string): string => `batches/${batchId}/inference/output/${jobIdOf(jobArn)}/input.jsonl.out`,
};

/** The job id: the last part of a model-invocation-job ARN. */
export function jobIdOf(jobArn: string): string {
  return jobArn.slice(jobArn.lastIndexOf('/') + 1);
}

/** A job's name: the batch id with a hyphen (a job name allows letters, digits, `+`, `-` and `.`, not `_`). */
export function inferenceJobName(batchId: string): string {
  return batchId.replace(/^msgbatch_/, 'msgbatch-');
}

/** The batch a job runs, from the job's name; undefined for a job this proxy did not name. */
export function batchIdOfJobName(name: string): string | undefined {
  return /^msgbatch-[0-9A-Z]{26}$/.test(name) ? name.replace(/^msgbatch-/, 'msgbatch_') : undefined;
}

/** A record's id in the job (11 characters, as Bedrock asks): `R` and the request's index in 10 digits. */
export function recordIdOf(index: number): string {
  return `R${String(index).padStart(10, '0')}`;
}

/** The request index a record id names, or undefined. */
export function indexOfRecordId(recordId: unknown): number | undefined {
  return typeof recordId === 'string' && /^R\d{10}$/.test(recordId) ? Number(recordId.slice(1)) : undefined;
}

/** Bedrock's job statuses after which nothing more will be written (ModelInvocationJobStatus). */
export const ENDED_JOB_STATUSES = new Set(['Completed', 'PartiallyCompleted', 'Failed', 'Stopped', 'Expired']);

/** A batch inference job as the worker needs to see it (GetModelInvocationJob). */
export interface InferenceJobInfo {
  readonly arn: string;
  readonly name: string;
  /** Bedrock's status: Submitted, Validating, Scheduled, InProgress, Stopping, then one of ENDED_JOB_STATUSES. */
  readonly status: string;
  /** Why it failed, when it did. */
  readonly message?: string;
}

export interface CreateInferenceJob {
  readonly name: string;
  /** Makes the call idempotent: a retry with the same token creates no second job. */
  readonly clientToken: string;
  /** The Bedrock model or inference-profile id. */
  readonly modelId: string;
  readonly roleArn: string;
  /** `s3://…` of the input records, and of the prefix the output goes under. */
  readonly inputUri: string;
  readonly outputUri: string;
  /** 24 to 168. */
  readonly timeoutHours: number;
}

/** Bedrock batch inference (CreateModelInvocationJob …): lambda/shared/batches/aws.ts BedrockInferenceJobs. */
export interface InferenceJobs {
  /** Returns the job's ARN. */
  create(job: CreateInferenceJob): Promise<string>;
  /** undefined when there is no such job. */
  get(jobArn: string): Promise<InferenceJobInfo | undefined>;
  /** Asks Bedrock to stop the job (a job that has already ended is left as it is). */
  stop(jobArn: string): Promise<void>;
}

/** The three stores a proxy with batches needs. */
export interface BatchBackends {
  readonly store: BatchStore;
  readonly queue: BatchQueue;
  readonly objects: BatchObjects;
  /** Bedrock batch inference, when configured (PROXY_BATCH_INFERENCE_ROLE_ARN). */
  readonly jobs?: InferenceJobs;
}

export const BATCH_TTL_MS = 24 * 3600 * 1000;
/** Results (and the batch) are kept 29 days after creation, as Anthropic keeps them. */
export const BATCH_RETENTION_DAYS = 29;

export function emptyCounts(processing: number): RequestCounts {
  return { processing, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * `msgbatch_` + a ULID-style id: 10 characters of creation time then 16 random ones (Crockford base32), so ids sort by
 * creation time (newest last) and a listing can page on them.
 */
export function newBatchId(nowMs: number, random: (n: number) => Buffer): string {
  let time = '';
  let t = Math.floor(nowMs);
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = random(16);
  let rest = '';
  for (let i = 0; i < 16; i++) rest += CROCKFORD[bytes[i] % 32];
  return `msgbatch_${time}${rest}`;
}

/** The batch worker: one job at a time (lambda/streaming-proxy/batches/worker.ts). */
export interface BatchWorker {
  /**
   * Processes one job. 'retry': leave it for a later delivery (the model was throttled or failed on every call of this
   * delivery, and `attempt` < PROXY_BATCH_MAX_ATTEMPTS); 'done': the request has ended (or had already ended).
   * `attempt` is the 1-based delivery count (SQS ApproximateReceiveCount).
   */
  process(job: BatchJob, delivery: { readonly attempt: number }): Promise<'done' | 'retry'>;
}
