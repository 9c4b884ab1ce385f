import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaEventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ProxyBatchesOptions } from './batches';
import { bundledCode } from '../core/assets';
import { acknowledgeNag } from '../core/nag';

/** Results (and the batch) are kept 29 days after creation, as Anthropic keeps them (lambda/shared/batches/types.ts). */
const BATCH_RETENTION_DAYS = 29;
/** What the proxy function and the worker do on the batch table (batches and per-request state). */
const BATCH_TABLE_ACTIONS = [
  'dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem',
];
/** What reading and writing data encrypted with a customer managed key needs on the key. */
const KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'];
/** Where the runtime keeps a batch's objects (`batchKeys` in lambda/shared/batches/types.ts). */
const OBJECT_PREFIX = 'batches/';

/**
 * The stores of the batches API, created before the proxy function (their names go into its environment).
 *
 * @internal
 */
export interface BatchStores {
  readonly table: dynamodb.ITable;
  /** True when the table was created for batches (not the gateway table, not `table`). */
  readonly tableCreated: boolean;
  readonly key: kms.IKey;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  /** PROXY_BATCH_*: what both the proxy function and the worker read. */
  readonly environment: Record<string, string>;
  readonly options: ProxyBatchesOptions;
}

/**
 * Validates the options, naming the prop in every error.
 *
 * @internal
 */
export function validateBatchesOptions(o: ProxyBatchesOptions): void {
  const integer = (name: string, value: number | undefined, min: number, max: number, why = '') => {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`\`batches.${name}\` must be an integer from ${min} to ${max}${why}, got ${value}.`);
    }
  };
  integer('workerConcurrency', o.workerConcurrency, 2, 1000, ' (the maximum concurrency an SQS event source accepts)');
  integer('workerBatchSize', o.workerBatchSize, 1, 10);
  integer('maxRequestsPerBatch', o.maxRequestsPerBatch, 1, 100_000, ' (Anthropic\'s limit)');
  integer('maxAttempts', o.maxAttempts, 1, 20);
  integer('callAttempts', o.callAttempts, 1, 10);
  integer('workerMemorySize', o.workerMemorySize, 128, 10240, ' MB');
  const timeout = o.workerTimeout;
  if (timeout && !timeout.isUnresolved() && (timeout.toMilliseconds() < 30_000 || timeout.toMilliseconds() > 15 * 60_000)) {
    throw new Error(`\`batches.workerTimeout\` must be from 30 seconds to 15 minutes (Lambda's limit), got ${timeout.toHumanString()}.`);
  }
  const age = o.oldestMessageAgeAlarm;
  if (age && !age.isUnresolved() && (age.toSeconds() < 60 || age.toSeconds() > 14 * 24 * 3600)) {
    throw new Error(`\`batches.oldestMessageAgeAlarm\` must be from 1 minute to 14 days (the queue's retention), got ${age.toHumanString()}.`);
  }
}

/** The worker timeout (default 5 minutes). */
function workerTimeout(o: ProxyBatchesOptions): Duration {
  return o.workerTimeout ?? Duration.minutes(5);
}

/**
 * Creates the queue, its dead-letter queue, the results bucket (and its access-log bucket) and, unless there is one to
 * use, the table.
 *
 * @internal
 */
export function createBatchStores(scope: Construct, o: ProxyBatchesOptions, input: {
  readonly proxyEncryptionKey?: kms.IKey;
  readonly gatewayTable?: dynamodb.ITable;
}): BatchStores {
  validateBatchesOptions(o);
  const removalPolicy = o.removalPolicy ?? RemovalPolicy.RETAIN;
  const key = o.encryptionKey ?? input.proxyEncryptionKey ?? new kms.Key(scope, 'BatchKey', {
    description: `Encrypts the Message Batches queue, results and state of the LLM proxy ${scope.node.path}`,
    enableKeyRotation: true,
    removalPolicy,
  });

  const existing = o.table ?? input.gatewayTable;
  const table = existing ?? new dynamodb.Table(scope, 'BatchTable', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
    timeToLiveAttribute: 'ttl',
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: key,
    deletionProtection: o.deletionProtection ?? true,
    removalPolicy,
  });
  if (existing && o.deletionProtection !== undefined) {
    throw new Error('`batches.deletionProtection` applies to a table the construct creates; remove it, or remove `batches.table` ' +
      '(and `gateway`, whose table batches use by default).');
  }

  const maxAttempts = o.maxAttempts ?? 3;
  const deadLetterQueue = new sqs.Queue(scope, 'BatchDeadLetterQueue', {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: key,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const queue = new sqs.Queue(scope, 'BatchQueue', {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: key,
    // Data keys are reused for 5 minutes, so the worker does not call KMS for every message.
    dataKeyReuse: Duration.minutes(5),
    enforceSSL: true,
    // A request's job may wait for a worker until the batch expires (24 h); then the worker ends it `expired`.
    retentionPeriod: Duration.days(4),
    visibilityTimeout: Duration.seconds(workerTimeout(o).toSeconds() * 6),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: maxAttempts + 2 },
  });

  const accessLogBucket = new s3.Bucket(scope, 'BatchAccessLogBucket', {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    // S3 server access logging writes through the log-delivery ACL grant the bucket gets as a logging destination.
    objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
    // S3 server access logging cannot deliver to a bucket encrypted with SSE-KMS.
    encryption: s3.BucketEncryption.S3_MANAGED,
    versioned: true,
    removalPolicy,
    lifecycleRules: [{
      id: 'expire-access-logs',
      expiration: Duration.days(365),
      noncurrentVersionExpiration: Duration.days(1),
      abortIncompleteMultipartUploadAfter: Duration.days(1),
    }],
  });
  const bucket = new s3.Bucket(scope, 'BatchBucket', {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    encryption: s3.BucketEncryption.KMS,
    encryptionKey: key,
    bucketKeyEnabled: true,
    versioned: true,
    serverAccessLogsBucket: accessLogBucket,
    serverAccessLogsPrefix: 's3-access/',
    removalPolicy,
    lifecycleRules: [{
      id: 'expire-batches',
      expiration: Duration.days(BATCH_RETENTION_DAYS),
      // A duplicate delivery overwrites a result with an equivalent line; the old version is not kept.
      noncurrentVersionExpiration: Duration.days(1),
      abortIncompleteMultipartUploadAfter: Duration.days(1),
    }],
  });

  const environment: Record<string, string> = {
    PROXY_BATCH_TABLE: table.tableName,
    PROXY_BATCH_QUEUE_URL: queue.queueUrl,
    PROXY_BATCH_BUCKET: bucket.bucketName,
    PROXY_BATCH_MAX_REQUESTS: String(o.maxRequestsPerBatch ?? 10_000),
    PROXY_BATCH_MAX_ATTEMPTS: String(maxAttempts),
    PROXY_BATCH_CALL_ATTEMPTS: String(o.callAttempts ?? 3),
  };
  acknowledgeStoreFindings({ table, tableCreated: !existing, queue, deadLetterQueue, bucket, accessLogBucket });
  return { table, tableCreated: !existing, key, queue, deadLetterQueue, bucket, accessLogBucket, environment, options: o };
}

/**
 * What the proxy function needs: the table, sending to the queue (never receiving), and the batch objects.
 *
 * @internal
 */
export function grantProxyBatches(stores: BatchStores, role: iam.IRole): void {
  grantTableAndObjects(stores, role, 'Proxy');
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'SendBatchJobs',
    actions: ['sqs:SendMessage'],
    resources: [stores.queue.queueArn],
  }));
  stores.key.grant(role, ...KEY_ACTIONS);
}

function grantTableAndObjects(stores: BatchStores, role: iam.IRole, who: 'Proxy' | 'Worker'): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'UseBatchTable',
    actions: BATCH_TABLE_ACTIONS,
    resources: [stores.table.tableArn],
  }));
  stores.table.encryptionKey?.grant(role, ...KEY_ACTIONS);
  // The proxy writes inputs, reads results and deletes a batch's objects; the worker reads inputs and writes results.
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'UseBatchObjects',
    actions: who === 'Proxy' ? ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'] : ['s3:GetObject', 's3:PutObject'],
    resources: [stores.bucket.arnForObjects(`${OBJECT_PREFIX}*`)],
  }));
  if (who === 'Proxy') {
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ListBatchObjects',
      actions: ['s3:ListBucket'],
      resources: [stores.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${OBJECT_PREFIX}*`] } },
    }));
  }
}

/**
 * The batch worker (SQS → model → S3).
 *
 * @internal
 */
export interface BatchWorker {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
}

/**
 * Creates the worker function with its role, log group and SQS event source.
 *
 * @internal
 */
export function createBatchWorker(scope: Construct, stores: BatchStores, input: {
  readonly environment: Record<string, string>;
  readonly logRetention: logs.RetentionDays;
  readonly logEncryptionKey?: kms.IKey;
  readonly bedrockStatement?: iam.PolicyStatement;
  readonly gatewayStatement?: iam.PolicyStatement;
  readonly gatewayTable?: dynamodb.ITable;
}): BatchWorker {
  const o = stores.options;
  const logGroup = new logs.LogGroup(scope, 'BatchWorkerLogs', {
    retention: input.logRetention,
    encryptionKey: input.logEncryptionKey,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const role = new iam.Role(scope, 'BatchWorkerRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `Execution role of the Message Batches worker of the LLM proxy ${scope.node.path}`,
  });
  logGroup.grantWrite(role);
  const fn = new lambda.Function(scope, 'BatchWorker', {
    description: 'LLM proxy Message Batches worker: runs each queued request through the model and writes its result to S3',
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.handler',
    code: bundledCode('batch-worker'),
    memorySize: o.workerMemorySize ?? 1024,
    timeout: workerTimeout(o),
    role,
    logGroup,
    tracing: lambda.Tracing.ACTIVE,
    environment: input.environment,
    environmentEncryption: input.logEncryptionKey,
  });
  if (input.bedrockStatement) role.addToPrincipalPolicy(input.bedrockStatement);
  if (input.gatewayStatement) {
    role.addToPrincipalPolicy(input.gatewayStatement);
    input.gatewayTable?.encryptionKey?.grant(role, ...KEY_ACTIONS);
  }
  grantTableAndObjects(stores, role, 'Worker');
  stores.key.grant(role, ...KEY_ACTIONS);
  fn.addEventSource(new lambdaEventSources.SqsEventSource(stores.queue, {
    batchSize: o.workerBatchSize ?? 5,
    reportBatchItemFailures: true,
    maxConcurrency: o.workerConcurrency ?? 2,
  }));
  for (const mapping of fn.node.children.filter((c) => c instanceof lambda.EventSourceMapping)) {
    acknowledgeNag(mapping, {
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason: 'Lambda supports on-failure destinations for stream and Kafka event sources only; a failed SQS message returns to the ' +
        'batch queue and, after `maxAttempts + 2` receives, moves to its dead-letter queue (redrive policy), which raises an alarm.',
    });
  }
  acknowledgeWorkerFindings(fn, role);
  return { function: fn, role, logGroup };
}

/**
 * The alarms of the batches API: anything in the dead-letter queue, requests waiting too long, worker errors.
 *
 * @internal
 */
export function batchAlarmSpecs(stores: BatchStores, worker: lambda.IFunction, errorsPerFiveMinutes: number):
{ id: string; metric: cloudwatch.IMetric; threshold: number; description: string }[] {
  const fiveMinutes = Duration.minutes(5);
  return [
    {
      id: 'BatchDeadLetterAlarm',
      metric: stores.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: 1,
      description: 'Message Batches jobs in the dead-letter queue (a request whose worker crashed on every delivery)',
    },
    {
      id: 'BatchQueueAgeAlarm',
      metric: stores.queue.metricApproximateAgeOfOldestMessage({ period: fiveMinutes, statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: (stores.options.oldestMessageAgeAlarm ?? Duration.hours(1)).toSeconds(),
      description: 'Message Batches requests waiting for a worker longer than the threshold',
    },
    {
      id: 'BatchWorkerErrorsAlarm',
      metric: worker.metricErrors({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
      threshold: errorsPerFiveMinutes,
      description: 'Message Batches worker errors (crashes or timeouts)',
    },
  ];
}

/**
 * The dashboard row of the batches API.
 *
 * @internal
 */
export function batchWidgets(stores: BatchStores, worker: lambda.IFunction): cloudwatch.IWidget[] {
  return [
    new cloudwatch.GraphWidget({
      title: 'Batches: queue',
      left: [
        stores.queue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, label: 'Queued requests' }),
        stores.queue.metricApproximateNumberOfMessagesNotVisible({ statistic: cloudwatch.Stats.MAXIMUM, label: 'In flight' }),
        stores.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, label: 'Dead-letter queue' }),
      ],
      right: [stores.queue.metricApproximateAgeOfOldestMessage({ statistic: cloudwatch.Stats.MAXIMUM, label: 'Oldest request (s)' })],
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'Batches: worker',
      left: [
        worker.metricInvocations({ statistic: cloudwatch.Stats.SUM }),
        worker.metricErrors({ statistic: cloudwatch.Stats.SUM }),
        worker.metricThrottles({ statistic: cloudwatch.Stats.SUM }),
      ],
      right: [worker.metricDuration({ statistic: cloudwatch.Stats.p(99), label: 'Duration p99 (ms)' })],
      width: 12,
    }),
  ];
}

function acknowledgeStoreFindings(s: {
  table: dynamodb.ITable; tableCreated: boolean; queue: sqs.Queue; deadLetterQueue: sqs.Queue; bucket: s3.Bucket; accessLogBucket: s3.Bucket;
}): void {
  if (s.tableCreated) {
    const backup =
      'Point-in-time recovery is on (restore to any second of the last 35 days) and deletion protection is on by default; ' +
      'the table holds batch and request states that expire after 29 days, and an AWS Backup plan is an account-level choice: ' +
      'add the table to yours with backup.BackupResource.fromDynamoDbTable(proxy.batchTable).';
    acknowledgeNag(s.table as dynamodb.Table,
      { id: 'NIST.800.53.R5-DynamoDBInBackupPlan', reason: backup },
      { id: 'HIPAA.Security-DynamoDBInBackupPlan', reason: backup },
    );
  }
  const dlq =
    'This is the dead-letter queue of the Message Batches queue: it has no dead-letter queue of its own, and a message in it ' +
    'raises the BatchDeadLetterAlarm; redrive it to the batch queue after fixing the cause.';
  acknowledgeNag(s.deadLetterQueue,
    { id: 'AwsSolutions-SQS3', reason: dlq },
    { id: 'Serverless-SQSRedrivePolicy', reason: dlq },
  );
  const selfLog = 'This bucket is the destination of the batch bucket\'s server access logs; logging it into itself would log every log delivery.';
  const sse = 'S3 server access logging cannot deliver to a bucket encrypted with SSE-KMS; the logs are encrypted with SSE-S3.';
  const logReplication = 'Access logs are kept for a year in one region; replicating them is left to an organisation-wide log archive.';
  const logLock = 'Object Lock would stop the lifecycle rule from expiring access logs after a year.';
  acknowledgeNag(s.accessLogBucket,
    { id: 'AwsSolutions-S1', reason: selfLog },
    { id: 'NIST.800.53.R5-S3BucketLoggingEnabled', reason: selfLog },
    { id: 'HIPAA.Security-S3BucketLoggingEnabled', reason: selfLog },
    { id: 'NIST.800.53.R5-S3DefaultEncryptionKMS', reason: sse },
    { id: 'HIPAA.Security-S3DefaultEncryptionKMS', reason: sse },
    { id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason: logReplication },
    { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: logReplication },
    { id: 'NIST.800.53.R5-S3DefaultLockEnabled', reason: logLock },
    { id: 'HIPAA.Security-S3DefaultLockEnabled', reason: logLock },
  );
  const replication =
    'Batch inputs and results are working data that expire after 29 days (the Message Batches retention) and can be resubmitted; ' +
    'a cross-region copy would keep prompts and completions in a second region.';
  const lock = 'Object Lock would stop the lifecycle rule from expiring batch inputs and results after 29 days, and DELETE of a batch from removing them.';
  acknowledgeNag(s.bucket,
    { id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason: replication },
    { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: replication },
    { id: 'NIST.800.53.R5-S3DefaultLockEnabled', reason: lock },
    { id: 'HIPAA.Security-S3DefaultLockEnabled', reason: lock },
  );
}

function acknowledgeWorkerFindings(fn: lambda.Function, role: iam.Role): void {
  const dlq =
    'The worker is invoked by its SQS event source only; a request whose deliveries all fail is moved to the queue\'s own ' +
    'dead-letter queue by the redrive policy, while a Lambda dead-letter queue only receives failed asynchronous invocations.';
  const concurrency =
    'The worker\'s concurrency is bounded by the SQS event source\'s maximum concurrency (`batches.workerConcurrency`), which, ' +
    'unlike reserved concurrency, does not take capacity from the account\'s unreserved pool and never throttles messages back to the queue.';
  const vpc =
    'The worker calls only public AWS endpoints (Bedrock, DynamoDB, SQS, S3) over TLS with SigV4 and needs no private resource; ' +
    'keeping it out of a VPC avoids NAT gateways and interface endpoints for the queue.';
  acknowledgeNag(fn,
    { id: 'Serverless-LambdaDLQ', reason: dlq },
    { id: 'NIST.800.53.R5-LambdaDLQ', reason: dlq },
    { id: 'HIPAA.Security-LambdaDLQ', reason: dlq },
    { id: 'NIST.800.53.R5-LambdaConcurrency', reason: concurrency },
    { id: 'HIPAA.Security-LambdaConcurrency', reason: concurrency },
    { id: 'NIST.800.53.R5-LambdaInsideVPC', reason: vpc },
    { id: 'HIPAA.Security-LambdaInsideVPC', reason: vpc },
  );
  const inline =
    'The role belongs to the batch worker alone and its policy is generated from the construct\'s least-privilege grants (its log ' +
    'group, the catalogue\'s Bedrock models, the batch queue, table and objects); an inline policy is created and deleted with the role.';
  acknowledgeNag(role,
    { id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: inline },
    { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: inline },
  );
}

/**
 * The cdk-nag finding id of a wildcard resource on the batch bucket's objects, as nag prints it.
 *
 * @internal
 */
export function batchObjectsFindingId(bucket: s3.Bucket): string {
  const logicalId = Stack.of(bucket).getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
  return `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${OBJECT_PREFIX}*]`;
}
