import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ProxyAuth, ProxyGateway, ProxyUpstream, StreamingLlmProxy, StreamingLlmProxyProps, VpcRedisSessions } from '../../src';
import { formatFindings, nagFindings } from '../support/nag';
import { only, type Statement, statementsOfRole, actionsOf, envOf, logicalIdOf as resourceOf } from '../support/template';

const ENV = { account: '111111111111', region: 'us-east-1' };

function build(props: StreamingLlmProxyProps = { batches: {} }) {
  const stack = new Stack(new App(), 'TestStack', { env: ENV });
  const proxy = new StreamingLlmProxy(stack, 'Proxy', props);
  return { stack, proxy, template: Template.fromStack(stack) };
}

describe('StreamingLlmProxy batches', () => {
  test('creates a KMS-encrypted queue whose visibility timeout is six worker timeouts, with a KMS-encrypted DLQ after maxAttempts + 2 receives', () => {
    const { stack, proxy, template } = build({ batches: { maxAttempts: 4, workerTimeout: Duration.minutes(2) } });
    const keyId = only(template.findResources('AWS::KMS::Key'))[0];
    const dlqId = resourceOf(stack, proxy.batchDeadLetterQueue!);
    template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      VisibilityTimeout: 720,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 6 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      MessageRetentionPeriod: 14 * 24 * 3600,
      RedrivePolicy: Match.absent(),
    });
    // Both queues refuse requests without TLS.
    template.resourcePropertiesCountIs('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    }, 2);
  });

  test('the results bucket is KMS-encrypted, TLS-only, private, versioned, access-logged and expires objects after 29 days', () => {
    const { stack, proxy, template } = build();
    const keyId = only(template.findResources('AWS::KMS::Key'))[0];
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{
          ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] } },
          BucketKeyEnabled: true,
        }],
      },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: Match.objectLike({ DestinationBucketName: Match.anyValue() }),
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 29, Status: 'Enabled' })] },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: resourceOf(stack, proxy.batchBucket!) },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('without gateway a table like the gateway table is created; with gateway the gateway table is used', () => {
    const own = build().template;
    own.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: Match.objectLike({ SSEEnabled: true, SSEType: 'KMS' }),
        DeletionProtectionEnabled: true,
      }),
    });
    const { stack, proxy, template } = build({ gateway: ProxyGateway.newTable(), batches: {} });
    const [tableId] = only(template.findResources('AWS::DynamoDB::Table'));
    expect(proxy.batchTable).toBe(proxy.gatewayTable);
    expect(envOf(template, resourceOf(stack, proxy.function)).PROXY_BATCH_TABLE).toEqual({ Ref: tableId });
  });

  test('an existing table is used as given', () => {
    const stack = new Stack(new App(), 'TestStack', { env: ENV });
    const table = dynamodb.Table.fromTableName(stack, 'Existing', 'shared-table');
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { batches: { table } });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    expect(envOf(template, resourceOf(stack, proxy.function)).PROXY_BATCH_TABLE).toBe('shared-table');
  });

  test('the worker has an SQS event source with maximum concurrency and partial batch responses', () => {
    const { stack, proxy, template } = build({ batches: { workerConcurrency: 7 } });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: resourceOf(stack, proxy.batchWorker!) },
      EventSourceArn: { 'Fn::GetAtt': [resourceOf(stack, proxy.batchQueue!), 'Arn'] },
      BatchSize: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 7 },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 300,
      MemorySize: 1024,
      TracingConfig: { Mode: 'Active' },
      Description: Match.stringLikeRegexp('Message Batches worker'),
    });
    const defaults = build().template;
    defaults.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 2 } });
  });

  test('both functions get the batch settings; the worker gets the catalogue, upstream and gateway settings but no auth settings', () => {
    const { stack, proxy, template } = build({
      gateway: ProxyGateway.newTable(),
      failoverRegion: 'us-west-2',
      models: [{ id: 'chat', target: 'global.anthropic.claude-sonnet-4-6' }],
      batches: { maxRequestsPerBatch: 500, maxAttempts: 5, callAttempts: 2 },
    });
    const batchEnv = {
      PROXY_BATCH_TABLE: Match.anyValue(),
      PROXY_BATCH_QUEUE_URL: { Ref: resourceOf(stack, proxy.batchQueue!) },
      PROXY_BATCH_BUCKET: { Ref: resourceOf(stack, proxy.batchBucket!) },
      PROXY_BATCH_MAX_REQUESTS: '500',
      PROXY_BATCH_MAX_ATTEMPTS: '5',
      PROXY_BATCH_CALL_ATTEMPTS: '2',
    };
    const proxyEnv = envOf(template, resourceOf(stack, proxy.function));
    const workerEnv = envOf(template, resourceOf(stack, proxy.batchWorker!));
    expect(proxyEnv).toEqual(expect.objectContaining({ ...proxyEnv, PROXY_BATCH_MAX_REQUESTS: '500', PROXY_BATCH_MAX_ATTEMPTS: '5', PROXY_BATCH_CALL_ATTEMPTS: '2' }));
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('Message Batches worker'),
      Environment: { Variables: Match.objectLike(batchEnv) },
    });
    for (const name of ['PROXY_UPSTREAM', 'PROXY_MODELS', 'PROXY_CLAUDE_FALLBACK', 'PROXY_FAILOVER_REGION', 'PROXY_GATEWAY_TABLE',
      'PROXY_BUDGET_FAILURE_MODE', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_LOG_LEVEL', 'PROXY_BATCH_TABLE',
      'PROXY_BATCH_QUEUE_URL', 'PROXY_BATCH_BUCKET']) {
      expect(workerEnv[name]).toEqual(proxyEnv[name]);
    }
    expect(Object.keys(workerEnv).filter((k) => /AUTH|API_KEYS|JWT|ORIGIN_VERIFY|CORS|LIMIT/.test(k))).toEqual([]);
  });

  test('least privilege: the proxy sends but never receives; the worker receives but never sends or deletes objects', () => {
    const { stack, proxy, template } = build({ gateway: ProxyGateway.newTable(), batches: {} });
    const proxyStatements = statementsOfRole(template, resourceOf(stack, proxy.role));
    const workerRole = proxy.batchWorker!.role!.node.defaultChild as never;
    const workerStatements = statementsOfRole(template, stack.getLogicalId(workerRole));
    const proxyActions = actionsOf(proxyStatements);
    const workerActions = actionsOf(workerStatements);
    expect(proxyActions).toContain('sqs:SendMessage');
    expect(proxyActions.filter((a) => /sqs:(Receive|Delete|ChangeMessageVisibility)/.test(a))).toEqual([]);
    expect(workerActions).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']));
    expect(workerActions.filter((a) => a.startsWith('sqs:Send'))).toEqual([]);
    expect(workerActions).not.toContain('s3:DeleteObject');
    expect(proxyActions).toContain('s3:DeleteObject');
    // The worker invokes the same models as the proxy, and charges spend to the gateway table.
    const invoke = (statements: Statement[]) => statements.find((s) => s.Sid === 'InvokeCatalogueModels');
    expect(invoke(workerStatements)).toEqual(invoke(proxyStatements));
    expect(workerStatements.find((s) => s.Sid === 'ChargeToGatewayTable')).toEqual(expect.objectContaining({
      Resource: { 'Fn::GetAtt': [only(template.findResources('AWS::DynamoDB::Table'))[0], 'Arn'] },
    }));
    // No wildcard actions on the objects: the batches/ prefix of this bucket only.
    const objects = workerStatements.find((s) => s.Sid === 'UseBatchObjects')!;
    expect(objects.Action).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(JSON.stringify(objects.Resource)).toContain('/batches/*');
  });

  test('the mock upstream gives the worker no Bedrock permissions', () => {
    const { stack, proxy, template } = build({ upstream: ProxyUpstream.MOCK, batches: {} });
    const workerStatements = statementsOfRole(template, stack.getLogicalId(proxy.batchWorker!.role!.node.defaultChild as never));
    expect(actionsOf(workerStatements).filter((a) => a.startsWith('bedrock:'))).toEqual([]);
  });

  test('alarms on the dead-letter queue, the age of the oldest request and worker errors, and dashboard widgets', () => {
    const { stack, proxy, template } = build({ batches: { oldestMessageAgeAlarm: Duration.minutes(30) } });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [resourceOf(stack, proxy.batchDeadLetterQueue!), 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 1800 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: resourceOf(stack, proxy.batchWorker!) } }],
    });
    expect(proxy.alarms.map((a) => a.node.id)).toEqual(expect.arrayContaining(['BatchDeadLetterAlarm', 'BatchQueueAgeAlarm', 'BatchWorkerErrorsAlarm']));
    const body = JSON.stringify(only(template.findResources('AWS::CloudWatch::Dashboard'))[1].Properties.DashboardBody);
    expect(body).toContain('Batches: queue');
    expect(body).toContain('Batches: worker');
  });

  test('without batches nothing is created and the properties are undefined', () => {
    const { proxy, template } = build({});
    template.resourceCountIs('AWS::SQS::Queue', 0);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    expect(proxy.batchQueue).toBeUndefined();
    expect(proxy.batchWorker).toBeUndefined();
  });

  test.each([
    [{ workerConcurrency: 1 }, /`batches.workerConcurrency` must be an integer from 2 to 1000/],
    [{ workerConcurrency: 1001 }, /`batches.workerConcurrency`/],
    [{ maxRequestsPerBatch: 100_001 }, /`batches.maxRequestsPerBatch` must be an integer from 1 to 100000/],
    [{ maxRequestsPerBatch: 0 }, /`batches.maxRequestsPerBatch`/],
    [{ maxAttempts: 0 }, /`batches.maxAttempts`/],
    [{ workerTimeout: Duration.minutes(16) }, /`batches.workerTimeout` must be from 30 seconds to 15 minutes/],
    [{ workerMemorySize: 64 }, /`batches.workerMemorySize`/],
    [{ workerBatchSize: 11 }, /`batches.workerBatchSize`/],
  ])('rejects %p with an error naming the prop', (batches, message) => {
    expect(() => build({ batches })).toThrow(message);
  });

  test('deletionProtection with a table the construct does not create is an error naming both props', () => {
    expect(() => build({ gateway: ProxyGateway.newTable(), batches: { deletionProtection: false } }))
      .toThrow(/`batches.deletionProtection`.*`batches.table`/);
  });

  test('warns when a VPC-attached proxy has no route to the queue and bucket', () => {
    const stack = new Stack(new App(), 'TestStack', { env: ENV });
    const sessions = new VpcRedisSessions(stack, 'Sessions');
    new StreamingLlmProxy(stack, 'Proxy', { sessions, batches: {} });
    Annotations.fromStack(stack).hasWarning('/TestStack/Proxy', Match.stringLikeRegexp('`batches`: the proxy function runs in isolated subnets'));
  });
});

describe('cdk-nag', () => {
  test('default batches are clean in all four packs', () => {
    const { stack } = build();
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('batches with a gateway table, JWT auth and a customer managed key are clean in all four packs', () => {
    const stack = new Stack(new App(), 'TestStack', { env: ENV });
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new StreamingLlmProxy(stack, 'Proxy', {
      auth: ProxyAuth.jwt({ issuer: 'https://issuer.example.com', audience: ['api'] }),
      gateway: ProxyGateway.newTable(),
      encryptionKey: key,
      batches: { workerConcurrency: 10 },
    });
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('batches on a proxy in a VPC with NAT are clean in all four packs', () => {
    const stack = new Stack(new App(), 'TestStack', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1, restrictDefaultSecurityGroup: true });
    const sessions = new VpcRedisSessions(stack, 'Sessions', { vpc });
    new StreamingLlmProxy(stack, 'Proxy', { sessions, batches: {} });
    const findings = formatFindings(nagFindings(stack)).filter((f) => f.includes('/Proxy/'));
    expect(findings).toEqual([]);
  });
});
