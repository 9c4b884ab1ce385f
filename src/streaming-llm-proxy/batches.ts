import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';

/**
 * Options for the Message Batches API (`POST /v1/messages/batches` and the rest of Anthropic's batch endpoints): an SQS
 * queue with one message per request, a worker Lambda that calls the model and writes each result to S3, and the batch
 * state in DynamoDB (docs/batches.md).
 */
export interface ProxyBatchesOptions {
  /**
   * Most worker invocations at once (the SQS event source's maximum concurrency), so batches cannot use the account's
   * Lambda concurrency or the Bedrock quota that interactive traffic needs. From 2 (the least SQS allows) to 1000.
   * @default 2
   */
  readonly workerConcurrency?: number;
  /**
   * Requests per SQS message batch handed to one worker invocation (1 to 10).
   * @default 5
   */
  readonly workerBatchSize?: number;
  /**
   * Most requests in one batch (the runtime's `PROXY_BATCH_MAX_REQUESTS`; Anthropic allows 100,000).
   * @default 10000
   */
  readonly maxRequestsPerBatch?: number;
  /**
   * Deliveries of one request (the worker's attempts) before a failing or throttled request ends `errored`
   * (`PROXY_BATCH_MAX_ATTEMPTS`, 1 to 20). The queue's redrive policy moves a message to the dead-letter queue after
   * `maxAttempts + 2` receives, so the worker records the error before SQS would dead-letter the message.
   * @default 3
   */
  readonly maxAttempts?: number;
  /**
   * Model calls per delivery, with backoff between them, before the delivery gives up (`PROXY_BATCH_CALL_ATTEMPTS`,
   * 1 to 10).
   * @default 3
   */
  readonly callAttempts?: number;
  /**
   * Longest worker invocation (30 seconds to 15 minutes). The queue's visibility timeout is six times this, as AWS
   * recommends for Lambda event sources.
   * @default Duration.minutes(5)
   */
  readonly workerTimeout?: Duration;
  /**
   * Memory of the worker function (128 to 10240 MB); CPU scales with it.
   * @default 1024
   */
  readonly workerMemorySize?: number;
  /**
   * The DynamoDB table for batch and request state: partition key `pk` (String), sort key `sk` (String), TTL attribute
   * `ttl`. Import it with `encryptionKey` when a customer managed key encrypts it, so that the grants include the key.
   * @default the gateway table when `gateway` is set, else a new table like the gateway table (on-demand, point-in-time
   * recovery, customer managed KMS key, deletion protection, TTL on `ttl`)
   */
  readonly table?: dynamodb.ITable;
  /**
   * Customer managed KMS key for the queue, the dead-letter queue, the results bucket and a created table.
   * @default the proxy's `encryptionKey`, or a new key with automatic rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Refuse `DeleteTable` on a created table until this is turned off.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * What happens to a created table, the results bucket, its access-log bucket and a created key when they leave the
   * stack (a bucket that still holds objects cannot be destroyed).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Age of the oldest queued request that raises the queue-age alarm: requests are waiting longer than that for a
   * worker (raise it, or `workerConcurrency`, when large batches are normal).
   * @default Duration.hours(1)
   */
  readonly oldestMessageAgeAlarm?: Duration;
  /**
   * Bedrock batch inference as a second path: a batch of at least `minRecords` requests that all use one Claude model
   * is written to the batch bucket and run as one Bedrock model invocation job (`CreateModelInvocationJob`, run by a
   * service role the construct creates) instead of one SQS message per request; an EventBridge rule invokes the worker
   * on the job's state changes, and the worker reads the job's output from S3.
   * @default off: every batch runs through the queue and the worker
   */
  readonly batchInference?: ProxyBatchInferenceOptions;
}

/**
 * Options for running large single-model batches as Bedrock batch inference jobs (`batches.batchInference`).
 */
export interface ProxyBatchInferenceOptions {
  /**
   * Smallest batch sent to Bedrock batch inference; smaller batches (and batches that mix models) use the queue. From
   * 100 (Bedrock's minimum records per job) to 50,000 (its default maximum).
   * @default 100
   */
  readonly minRecords?: number;
  /**
   * Catalogue model ids or aliases whose batches may run as batch inference jobs; each must name a Claude model of the
   * catalogue on an Anthropic-native Bedrock upstream (BEDROCK_INVOKE or BEDROCK_MESSAGES).
   * @default every Claude model of the catalogue on an Anthropic-native Bedrock upstream
   */
  readonly models?: string[];
  /**
   * How long a job may run before Bedrock stops it (the job's `timeoutDurationInHours`): whole hours from 24 to 168.
   * @default Duration.hours(24)
   */
  readonly timeout?: Duration;
}
