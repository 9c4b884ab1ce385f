import { Annotations, ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaEventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, IConstruct } from 'constructs';
import { ProxyBatchesOptions } from './batches';
import { isAnthropicNative } from './catalogue';
import { ProxyModelUpstream } from './models';
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
/** A batch inference job's input object, under `batches/<id>/` (the runtime writes it, Bedrock reads it). */
const INFERENCE_INPUT = `${OBJECT_PREFIX}*/inference/input.jsonl`;
/** Where Bedrock writes a batch inference job's output (under `batches/<id>/`; the worker reads it). */
const INFERENCE_OUTPUT = `${OBJECT_PREFIX}*/inference/output/*`;
/** Bedrock's bounds on a model invocation job: records per job (minimum, default maximum) and timeoutDurationInHours. */
const INFERENCE_RECORDS = { min: 100, max: 50_000 };
const INFERENCE_TIMEOUT_HOURS = { min: 24, max: 168 };

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
  /** The service role Bedrock model invocation jobs run as (with `batchInference`). */
  readonly inferenceRole?: iam.Role;
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
  const inference = o.batchInference;
  if (inference) {
    integer('batchInference.minRecords', inference.minRecords, INFERENCE_RECORDS.min, INFERENCE_RECORDS.max,
      ' (Bedrock\'s minimum records per job and its default maximum)');
    const hours = inference.timeout;
    if (hours && !hours.isUnresolved()) {
      const seconds = hours.toSeconds();
      if (seconds % 3600 !== 0 || seconds < INFERENCE_TIMEOUT_HOURS.min * 3600 || seconds > INFERENCE_TIMEOUT_HOURS.max * 3600) {
        throw new Error(`\`batches.batchInference.timeout\` must be a whole number of hours from ${INFERENCE_TIMEOUT_HOURS.min} to ` +
          `${INFERENCE_TIMEOUT_HOURS.max} (a model invocation job's timeoutDurationInHours), got ` +
          `${seconds % 3600 === 0 ? `${seconds / 3600} hours` : hours.toHumanString()}.`);
      }
    }
    if (inference.models !== undefined) {
      if (inference.models.length === 0) {
        throw new Error('`batches.batchInference.models` is empty, so no batch could use batch inference; name at least one Claude ' +
          'model of the catalogue, or remove `batches.batchInference.models` to allow every one.');
      }
      for (const name of inference.models) {
        if (typeof name !== 'string' || name.trim() === '') {
          throw new Error(`\`batches.batchInference.models\` must hold catalogue model ids or aliases, got ${JSON.stringify(name)}.`);
        }
      }
    }
  }
}

/**
 * Checks that batch inference can run: a Bedrock upstream, and `batchInference.models` (or, by default, the catalogue)
 * naming Claude models on an Anthropic-native Bedrock upstream. `names` maps the catalogue's names (lower case) to their
 * upstreams (claudeCatalogueNames).
 *
 * @internal
 */
export function validateBatchInferenceModels(o: ProxyBatchesOptions, input: {
  readonly mockUpstream: boolean;
  readonly names: ReadonlyMap<string, ProxyModelUpstream>;
}): void {
  const inference = o.batchInference;
  if (!inference) return;
  if (input.mockUpstream) {
    throw new Error('`batches.batchInference` runs batches as Bedrock model invocation jobs, but `upstream` is ProxyUpstream.MOCK; ' +
      'remove `batches.batchInference` or `upstream`.');
  }
  if (inference.models === undefined) {
    if (![...input.names.values()].some(isAnthropicNative)) {
      throw new Error('`batches.batchInference`: the catalogue has no Claude model on an Anthropic-native Bedrock upstream (BEDROCK_INVOKE ' +
        'or BEDROCK_MESSAGES), so no batch could use batch inference; add one to `models`, or remove `batches.batchInference`.');
    }
    return;
  }
  for (const name of inference.models) {
    const upstream = input.names.get(name.toLowerCase());
    if (upstream === undefined) {
      throw new Error(`\`batches.batchInference.models\`: '${name}' is not a Claude model of the catalogue; name the id or an alias ` +
        'of a default Claude model or of an entry of `models`.');
    }
    if (!isAnthropicNative(upstream)) {
      throw new Error(`\`batches.batchInference.models\`: '${name}' is called through ${upstream}, but Bedrock batch inference takes ` +
        'the Anthropic request body; name a model on BEDROCK_INVOKE or BEDROCK_MESSAGES.');
    }
  }
}

/** `arn:<partition>:bedrock:<region>:<account>:model-invocation-job/*`: any job of this account and region. */
function modelInvocationJobArn(scope: Construct): string {
  return Stack.of(scope).formatArn({
    service: 'bedrock',
    resource: 'model-invocation-job',
    resourceName: '*',
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
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
  const inferenceRole = o.batchInference ? createInferenceRole(scope, bucket, key) : undefined;
  if (o.batchInference && inferenceRole) {
    environment.PROXY_BATCH_INFERENCE_ROLE_ARN = inferenceRole.roleArn;
    environment.PROXY_BATCH_INFERENCE_MIN_RECORDS = String(o.batchInference.minRecords ?? INFERENCE_RECORDS.min);
    environment.PROXY_BATCH_INFERENCE_MODELS = o.batchInference.models ? o.batchInference.models.join(',') : '*';
    environment.PROXY_BATCH_INFERENCE_TIMEOUT_HOURS = String((o.batchInference.timeout ?? Duration.hours(INFERENCE_TIMEOUT_HOURS.min)).toHours());
  }
  acknowledgeStoreFindings({ table, tableCreated: !existing, queue, deadLetterQueue, bucket, accessLogBucket });
  return { table, tableCreated: !existing, key, queue, deadLetterQueue, bucket, accessLogBucket, inferenceRole, environment, options: o };
}

/**
 * The service role of Bedrock model invocation jobs: assumed by Bedrock for this account's jobs only; reads a job's
 * input and writes its output under the batch's prefix of the batch bucket. Its model grant comes with the proxy's
 * (grantBatchInference).
 */
function createInferenceRole(scope: Construct, bucket: s3.Bucket, key: kms.IKey): iam.Role {
  const stack = Stack.of(scope);
  const role = new iam.Role(scope, 'BatchInferenceRole', {
    assumedBy: new iam.ServicePrincipal('bedrock.amazonaws.com', {
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': modelInvocationJobArn(scope) },
      },
    }),
    description: `Service role of the Bedrock batch inference jobs of the LLM proxy ${scope.node.path}`,
  });
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'ReadBatchInferenceInput',
    actions: ['s3:GetObject'],
    resources: [bucket.arnForObjects(INFERENCE_INPUT)],
  }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'WriteBatchInferenceOutput',
    actions: ['s3:PutObject'],
    resources: [bucket.arnForObjects(INFERENCE_OUTPUT)],
  }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'ListBatchObjects',
    actions: ['s3:ListBucket'],
    resources: [bucket.bucketArn],
    conditions: { StringLike: { 's3:prefix': [`${OBJECT_PREFIX}*`] } },
  }));
  // Reading SSE-KMS objects needs Decrypt; writing them (with a bucket key, and multipart uploads) GenerateDataKey and Decrypt.
  key.grant(role, ...KEY_ACTIONS);
  return role;
}

/**
 * Batch inference permissions, once the Bedrock resources are known: the service role invokes the same models as the
 * proxy; the proxy creates, reads and stops jobs with them and passes the service role to Bedrock only.
 *
 * @internal
 */
export function grantBatchInference(stores: BatchStores, proxyRole: iam.IRole, bedrockArns: readonly string[]): void {
  const role = stores.inferenceRole;
  if (!role) return;
  const jobArn = modelInvocationJobArn(role);
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'InvokeCatalogueModels',
    actions: ['bedrock:InvokeModel'],
    resources: [...bedrockArns],
  }));
  proxyRole.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'CreateBatchInferenceJobs',
    actions: ['bedrock:CreateModelInvocationJob'],
    resources: [jobArn, ...bedrockArns],
  }));
  proxyRole.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'ManageBatchInferenceJobs',
    actions: ['bedrock:GetModelInvocationJob', 'bedrock:StopModelInvocationJob'],
    resources: [jobArn],
  }));
  proxyRole.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'PassBatchInferenceRole',
    actions: ['iam:PassRole'],
    resources: [role.roleArn],
    conditions: { StringEquals: { 'iam:PassedToService': 'bedrock.amazonaws.com' } },
  }));
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
  /** The rule that invokes the worker on batch inference job state changes (with `batchInference`). */
  readonly inferenceRule?: events.Rule;
  /** The worker's Lambda dead-letter queue: job state change events it failed on (with `batchInference`). */
  readonly inferenceDeadLetterQueue?: sqs.Queue;
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
  // With batch inference the worker is also invoked asynchronously (by EventBridge): job state change events that
  // EventBridge cannot deliver, or that the worker fails on after Lambda's retries, are kept here instead of being dropped.
  const inferenceDeadLetterQueue = o.batchInference ? new sqs.Queue(scope, 'BatchInferenceDeadLetterQueue', {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: stores.key,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  }) : undefined;
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
    deadLetterQueue: inferenceDeadLetterQueue,
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
  let inferenceRule: events.Rule | undefined;
  if (o.batchInference) {
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ReadBatchInferenceJobs',
      actions: ['bedrock:GetModelInvocationJob'],
      resources: [modelInvocationJobArn(scope)],
    }));
    // The worker's UseBatchObjects grant (GetObject on batches/*) covers the jobs' output, batches/<id>/inference/output/.
    inferenceRule = new events.Rule(scope, 'BatchInferenceJobRule', {
      description: `Invokes the Message Batches worker of the LLM proxy ${scope.node.path} when a Bedrock batch inference job changes state`,
      eventPattern: { source: ['aws.bedrock'], detailType: ['Batch Inference Job State Change'] },
      targets: [new eventsTargets.LambdaFunction(fn, {
        retryAttempts: 8,
        maxEventAge: Duration.hours(24),
        deadLetterQueue: inferenceDeadLetterQueue,
      })],
    });
    // EventBridge sends to the KMS-encrypted dead-letter queue with its own credentials. (A condition on this rule's ARN
    // would make the key depend on the rule, which depends on the queue and so on the key.)
    const stack = Stack.of(scope);
    const added = stores.key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowEventBridgeDeadLetters',
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'],
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'events', resource: 'rule', resourceName: '*' }) },
      },
    }));
    if (!added.statementAdded) {
      Annotations.of(scope).addWarningV2('cdk-serverless-llm:importedBatchKey',
        '`batches.batchInference`: the batch key is imported, so its key policy cannot be changed here: it must allow ' +
        'events.amazonaws.com kms:Decrypt and kms:GenerateDataKey, or EventBridge cannot move undeliverable batch inference job ' +
        'events to the BatchInferenceDeadLetterQueue.');
    }
    const dlq =
      'This is the dead-letter queue of the batch inference job rule\'s target and of the worker\'s asynchronous invocations (job ' +
      'state change events EventBridge could not deliver or the worker failed on): it has no dead-letter queue of its own, and a ' +
      'message in it raises the BatchInferenceDeadLetterAlarm.';
    acknowledgeNag(inferenceDeadLetterQueue!,
      { id: 'AwsSolutions-SQS3', reason: dlq },
      { id: 'Serverless-SQSRedrivePolicy', reason: dlq },
    );
  }
  acknowledgeWorkerFindings(fn, role, !o.batchInference);
  return { function: fn, role, logGroup, inferenceRule, inferenceDeadLetterQueue };
}

/**
 * The alarms of the batches API: anything in the dead-letter queue, requests waiting too long, worker errors.
 *
 * @internal
 */
export function batchAlarmSpecs(stores: BatchStores, worker: BatchWorker, errorsPerFiveMinutes: number):
{ id: string; metric: cloudwatch.IMetric; threshold: number; description: string }[] {
  const fiveMinutes = Duration.minutes(5);
  const inference = [];
  if (worker.inferenceRule) {
    inference.push({
      id: 'BatchInferenceRuleFailedAlarm',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Events',
        metricName: 'FailedInvocations',
        dimensionsMap: { RuleName: worker.inferenceRule.ruleName },
        period: fiveMinutes,
        statistic: cloudwatch.Stats.SUM,
      }),
      threshold: 1,
      description: 'Batch inference job state changes that EventBridge could not deliver to the Message Batches worker',
    });
  }
  if (worker.inferenceDeadLetterQueue) {
    inference.push({
      id: 'BatchInferenceDeadLetterAlarm',
      metric: worker.inferenceDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: 1,
      description: 'Batch inference job state changes that did not reach, or failed in, the Message Batches worker (in their dead-letter queue)',
    });
  }
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
      metric: worker.function.metricErrors({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
      threshold: errorsPerFiveMinutes,
      description: 'Message Batches worker errors (crashes or timeouts)',
    },
    ...inference,
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

function acknowledgeWorkerFindings(fn: lambda.Function, role: iam.Role, sqsOnly: boolean): void {
  const dlq =
    'The worker is invoked by its SQS event source only; a request whose deliveries all fail is moved to the queue\'s own ' +
    'dead-letter queue by the redrive policy, while a Lambda dead-letter queue only receives failed asynchronous invocations.';
  const concurrency =
    'The worker\'s concurrency is bounded by the SQS event source\'s maximum concurrency (`batches.workerConcurrency`), which, ' +
    'unlike reserved concurrency, does not take capacity from the account\'s unreserved pool and never throttles messages back to the queue' +
    (sqsOnly ? '.' : '; batch inference adds a few invocations per job, one per job state change.');
  const vpc =
    'The worker calls only public AWS endpoints (Bedrock, DynamoDB, SQS, S3) over TLS with SigV4 and needs no private resource; ' +
    'keeping it out of a VPC avoids NAT gateways and interface endpoints for the queue.';
  // With batch inference the worker has a Lambda dead-letter queue (it is also invoked asynchronously by EventBridge).
  if (sqsOnly) {
    acknowledgeNag(fn,
      { id: 'Serverless-LambdaDLQ', reason: dlq },
      { id: 'NIST.800.53.R5-LambdaDLQ', reason: dlq },
      { id: 'HIPAA.Security-LambdaDLQ', reason: dlq },
    );
  }
  acknowledgeNag(fn,
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

/**
 * Acknowledges the by-design wildcard findings of batch inference: the job ARN pattern on the proxy's and the worker's
 * policies, the object patterns and the catalogue's model patterns on the service role's policy.
 *
 * @internal
 */
export function acknowledgeBatchInferenceFindings(stores: BatchStores, input: {
  readonly proxyPolicy?: IConstruct;
  readonly workerPolicy?: IConstruct;
  /** The acknowledgements of the proxy's Bedrock model patterns, which the service role's InvokeModel grant repeats. */
  readonly bedrockAcks: readonly { id: string; reason: string }[];
}): void {
  const role = stores.inferenceRole;
  if (!role) return;
  const jobId = `AwsSolutions-IAM5[Resource::${nagResource(role, modelInvocationJobArn(role))}]`;
  const unknownJobId = 'Bedrock assigns a model invocation job\'s id when it creates the job, so the grant covers the ' +
    'model-invocation-job/ ARNs of this account and region only';
  if (input.proxyPolicy) {
    acknowledgeNag(input.proxyPolicy, {
      id: jobId,
      reason: `${unknownJobId}: the proxy creates a job for a large single-model batch, reads its status and stops it when the batch is cancelled.`,
    });
  }
  if (input.workerPolicy) {
    acknowledgeNag(input.workerPolicy, {
      id: jobId,
      reason: `${unknownJobId}: the worker reads the status of the job named by each Batch Inference Job State Change event.`,
    });
  }
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!policy) return;
  const batchId = 'batch ids are created at request time, so the grant covers this object of every batch under the batches/ prefix ' +
    'of the construct\'s own batch bucket.';
  acknowledgeNag(policy,
    ...input.bedrockAcks,
    {
      id: `AwsSolutions-IAM5[Resource::${nagResource(role, stores.bucket.arnForObjects(INFERENCE_INPUT))}]`,
      reason: `Bedrock reads a batch inference job's input from batches/<batch id>/inference/input.jsonl; ${batchId}`,
    },
    {
      id: `AwsSolutions-IAM5[Resource::${nagResource(role, stores.bucket.arnForObjects(INFERENCE_OUTPUT))}]`,
      reason: `Bedrock writes a batch inference job's output under batches/<batch id>/inference/output/, in a folder named after the job id it assigns; ${batchId}`,
    },
  );
  const inline =
    'The role belongs to the batch inference jobs of this proxy alone and its policy is generated from the construct\'s least-privilege ' +
    'grants (the job input and output objects, the batch key, the catalogue\'s Bedrock models); an inline policy is created and deleted with the role.';
  acknowledgeNag(role,
    { id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: inline },
    { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: inline },
  );
}

/** A resource ARN as cdk-nag prints it in a finding id: references become `<Ref>` and `<LogicalId.Attribute>`. */
function nagResource(scope: IConstruct, arn: string): string {
  const render = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const v = value as Record<string, unknown>;
    if (v.Ref !== undefined) return `<${v.Ref as string}>`;
    if (v['Fn::GetAtt'] !== undefined) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
    if (v['Fn::Join'] !== undefined) {
      const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(separator);
    }
    throw new Error(`Cannot render ${JSON.stringify(value)} as a cdk-nag resource.`);
  };
  return render(Stack.of(scope).resolve(arn));
}
