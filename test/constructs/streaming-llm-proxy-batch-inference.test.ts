import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import {
  ProxyBatchesOptions, ProxyGateway, ProxyModelKind, ProxyModelUpstream, ProxyUpstream, StreamingLlmProxy, StreamingLlmProxyProps,
} from '../../src';
import { formatFindings, nagFindings } from '../support/nag';
import { only, type Statement, statementsOfRole, envOf, logicalIdOf as logicalId } from '../support/template';

const ENV = { account: '111111111111', region: 'us-east-1' };

function build(props: StreamingLlmProxyProps = { batches: { batchInference: {} } }, options: { agnostic?: boolean } = {}) {
  const stack = new Stack(new App(), 'TestStack', { env: options.agnostic ? undefined : ENV });
  const proxy = new StreamingLlmProxy(stack, 'Proxy', props);
  return { stack, proxy, template: Template.fromStack(stack) };
}

function statement(statements: Statement[], sid: string): Statement {
  const found = statements.filter((s) => s.Sid === sid);
  expect(found).toHaveLength(1);
  return found[0];
}

/** `arn:<partition>:bedrock:us-east-1:111111111111:model-invocation-job/*` as the template writes it. */
const JOB_ARN = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:us-east-1:111111111111:model-invocation-job/*']] };

function objectArn(bucketLogicalId: string, key: string) {
  return { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketLogicalId, 'Arn'] }, `/${key}`]] };
}

function roles(stack: Stack, proxy: StreamingLlmProxy) {
  return {
    service: logicalId(stack, proxy.batchInferenceRole!),
    proxy: logicalId(stack, proxy.role),
    worker: logicalId(stack, proxy.batchWorker!.role!),
    bucket: logicalId(stack, proxy.batchBucket!),
  };
}

describe('StreamingLlmProxy batches.batchInference', () => {
  test('both functions get the batch inference settings, with the defaults', () => {
    const { stack, proxy, template } = build();
    const expected = {
      PROXY_BATCH_INFERENCE_ROLE_ARN: { 'Fn::GetAtt': [logicalId(stack, proxy.batchInferenceRole!), 'Arn'] },
      PROXY_BATCH_INFERENCE_MIN_RECORDS: '100',
      PROXY_BATCH_INFERENCE_MODELS: '*',
      PROXY_BATCH_INFERENCE_TIMEOUT_HOURS: '24',
    };
    for (const fn of [proxy.function, proxy.batchWorker!]) {
      const env = envOf(template, logicalId(stack, fn));
      expect(Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('PROXY_BATCH_INFERENCE_')))).toEqual(expected);
    }
  });

  test('both functions get custom settings: the minimum, the models as given and the timeout in hours', () => {
    const { stack, proxy, template } = build({
      models: [{ id: 'house-claude', aliases: ['hc'], target: 'us.anthropic.claude-sonnet-4-6' }],
      batches: { batchInference: { minRecords: 2500, models: ['claude-sonnet-4-6', 'hc', 'claude-opus-4-5-20251101'], timeout: Duration.hours(72) } },
    });
    for (const fn of [proxy.function, proxy.batchWorker!]) {
      expect(envOf(template, logicalId(stack, fn))).toEqual(expect.objectContaining({
        PROXY_BATCH_INFERENCE_MIN_RECORDS: '2500',
        PROXY_BATCH_INFERENCE_MODELS: 'claude-sonnet-4-6,hc,claude-opus-4-5-20251101',
        PROXY_BATCH_INFERENCE_TIMEOUT_HOURS: '72',
      }));
    }
    // Days count as hours too.
    const days = build({ batches: { batchInference: { timeout: Duration.days(7) } } });
    expect(envOf(days.template, logicalId(days.stack, days.proxy.function)).PROXY_BATCH_INFERENCE_TIMEOUT_HOURS).toBe('168');
  });

  test('without batchInference there are no settings, no service role, no rule and no job permissions', () => {
    const { stack, proxy, template } = build({ batches: {} });
    for (const fn of [proxy.function, proxy.batchWorker!]) {
      const env = envOf(template, logicalId(stack, fn));
      expect(Object.keys(env).filter((k) => k.startsWith('PROXY_BATCH_INFERENCE'))).toEqual([]);
    }
    expect(proxy.batchInferenceRole).toBeUndefined();
    template.resourceCountIs('AWS::Events::Rule', 0);
    template.resourceCountIs('AWS::SQS::Queue', 2);
    const all = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(all).not.toMatch(/ModelInvocationJob|iam:PassRole/);
    expect(JSON.stringify(template.findResources('AWS::IAM::Role'))).not.toContain('bedrock.amazonaws.com');
    expect(template.toJSON().Resources[logicalId(stack, proxy.batchWorker!)].Properties.DeadLetterConfig).toBeUndefined();
  });

  test('the service role trusts Bedrock for this account\'s model invocation jobs only', () => {
    const { stack, proxy, template } = build();
    const role = template.toJSON().Resources[logicalId(stack, proxy.batchInferenceRole!)];
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([{
      Action: 'sts:AssumeRole',
      Effect: 'Allow',
      Principal: { Service: 'bedrock.amazonaws.com' },
      Condition: {
        StringEquals: { 'aws:SourceAccount': '111111111111' },
        ArnLike: { 'aws:SourceArn': JOB_ARN },
      },
    }]);
  });

  test('in a stack without an environment the trust conditions use the deploy-time account, region and partition', () => {
    const { stack, proxy, template } = build(undefined, { agnostic: true });
    const role = template.toJSON().Resources[logicalId(stack, proxy.batchInferenceRole!)];
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      ArnLike: {
        'aws:SourceArn': {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':model-invocation-job/*']],
        },
      },
    });
  });

  test('the service role reads job inputs, writes job outputs, lists the batches/ prefix, uses the batch key and invokes the proxy\'s models', () => {
    const { stack, proxy, template } = build();
    const ids = roles(stack, proxy);
    const keyId = only(template.findResources('AWS::KMS::Key'))[0];
    const statements = statementsOfRole(template, ids.service);
    const invoke = statement(statementsOfRole(template, ids.proxy), 'InvokeCatalogueModels');
    expect(statements).toEqual([
      { Sid: 'ReadBatchInferenceInput', Effect: 'Allow', Action: 's3:GetObject', Resource: objectArn(ids.bucket, 'batches/*/inference/input.jsonl') },
      { Sid: 'WriteBatchInferenceOutput', Effect: 'Allow', Action: 's3:PutObject', Resource: objectArn(ids.bucket, 'batches/*/inference/output/*') },
      {
        Sid: 'ListBatchObjects',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: { 'Fn::GetAtt': [ids.bucket, 'Arn'] },
        Condition: { StringLike: { 's3:prefix': ['batches/*'] } },
      },
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: { 'Fn::GetAtt': [keyId, 'Arn'] } },
      { Sid: 'InvokeCatalogueModels', Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: invoke.Resource },
    ]);
    // The same model and inference-profile ARNs as the proxy's InvokeModel grant, claude-* fallback included.
    expect(invoke.Resource).toEqual(expect.arrayContaining([
      'arn:aws:bedrock:*:*:foundation-model/anthropic.claude-*',
      'arn:aws:bedrock:*:111111111111:inference-profile/global.anthropic.claude-*',
    ]));
  });

  test('the service role invokes exactly the proxy\'s models when the catalogue is replaced', () => {
    const { stack, proxy, template } = build({
      replaceDefaultModels: true,
      claudeFallback: undefined,
      models: [{ id: 'only', target: 'eu.anthropic.claude-sonnet-4-6' }],
      batches: { batchInference: {} },
    });
    const ids = roles(stack, proxy);
    const proxyInvoke = statement(statementsOfRole(template, ids.proxy), 'InvokeCatalogueModels').Resource;
    expect(statement(statementsOfRole(template, ids.service), 'InvokeCatalogueModels').Resource).toEqual(proxyInvoke);
    expect(statement(statementsOfRole(template, ids.proxy), 'CreateBatchInferenceJobs').Resource).toEqual([JOB_ARN, ...(proxyInvoke as string[])]);
  });

  test('the proxy creates jobs with the proxy\'s models, gets and stops them, and may pass the service role to Bedrock only', () => {
    const { stack, proxy, template } = build();
    const ids = roles(stack, proxy);
    const statements = statementsOfRole(template, ids.proxy);
    const models = statement(statements, 'InvokeCatalogueModels').Resource as string[];
    expect(statement(statements, 'CreateBatchInferenceJobs')).toEqual({
      Sid: 'CreateBatchInferenceJobs', Effect: 'Allow', Action: 'bedrock:CreateModelInvocationJob', Resource: [JOB_ARN, ...models],
    });
    expect(statement(statements, 'ManageBatchInferenceJobs')).toEqual({
      Sid: 'ManageBatchInferenceJobs', Effect: 'Allow', Action: ['bedrock:GetModelInvocationJob', 'bedrock:StopModelInvocationJob'], Resource: JOB_ARN,
    });
    expect(statement(statements, 'PassBatchInferenceRole')).toEqual({
      Sid: 'PassBatchInferenceRole',
      Effect: 'Allow',
      Action: 'iam:PassRole',
      Resource: { 'Fn::GetAtt': [ids.service, 'Arn'] },
      Condition: { StringEquals: { 'iam:PassedToService': 'bedrock.amazonaws.com' } },
    });
    // iam:PassRole appears nowhere else.
    expect(statements.filter((s) => JSON.stringify(s.Action).includes('iam:'))).toHaveLength(1);
    // The proxy writes batches/<id>/inference/input.jsonl through its batches/* object grant.
    expect(statement(statements, 'UseBatchObjects')).toEqual(expect.objectContaining({
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: objectArn(ids.bucket, 'batches/*'),
    }));
  });

  test('the worker reads job status and, through its batches/* grant, job outputs; it neither creates nor stops jobs', () => {
    const { stack, proxy, template } = build();
    const ids = roles(stack, proxy);
    const statements = statementsOfRole(template, ids.worker);
    expect(statement(statements, 'ReadBatchInferenceJobs')).toEqual({
      Sid: 'ReadBatchInferenceJobs', Effect: 'Allow', Action: 'bedrock:GetModelInvocationJob', Resource: JOB_ARN,
    });
    expect(statement(statements, 'UseBatchObjects')).toEqual(expect.objectContaining({
      Action: ['s3:GetObject', 's3:PutObject'], Resource: objectArn(ids.bucket, 'batches/*'),
    }));
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions.filter((a) => /ModelInvocationJob|iam:/.test(a))).toEqual(['bedrock:GetModelInvocationJob']);
  });

  test('an EventBridge rule on the default bus sends batch inference job state changes to the worker, retrying for a day', () => {
    const { stack, proxy, template } = build();
    const worker = logicalId(stack, proxy.batchWorker!);
    const [ruleId, rule] = only(template.findResources('AWS::Events::Rule'));
    const dlq = logicalId(stack, proxy.batchWorker!.deadLetterQueue!);
    expect(ruleId).toMatch(/^ProxyBatchInferenceJobRule/);
    expect(rule.Properties.EventBusName).toBeUndefined();
    expect(rule.Properties.EventPattern).toEqual({ 'source': ['aws.bedrock'], 'detail-type': ['Batch Inference Job State Change'] });
    expect(rule.Properties.Targets).toEqual([{
      Id: 'Target0',
      Arn: { 'Fn::GetAtt': [worker, 'Arn'] },
      RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
    }]);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [worker, 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
    });
  });

  test('job state change events that EventBridge cannot deliver or the worker fails on go to a KMS-encrypted dead-letter queue', () => {
    const { stack, proxy, template } = build();
    const keyId = only(template.findResources('AWS::KMS::Key'))[0];
    const dlq = logicalId(stack, proxy.batchWorker!.deadLetterQueue!);
    expect(dlq).toMatch(/^ProxyBatchInferenceDeadLetterQueue/);
    expect(template.toJSON().Resources[logicalId(stack, proxy.batchWorker!)].Properties.DeadLetterConfig)
      .toEqual({ TargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] } });
    template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      MessageRetentionPeriod: 14 * 24 * 3600,
      RedrivePolicy: Match.absent(),
    });
    // EventBridge sends to it for this rule only, and may use the batch key for rules of this account.
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: dlq }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: 'sqs:SendMessage',
          Principal: { Service: 'events.amazonaws.com' },
          Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [only(template.findResources('AWS::Events::Rule'))[0], 'Arn'] } } },
        })]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([{
          Sid: 'AllowEventBridgeDeadLetters',
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: '*',
          Condition: {
            StringEquals: { 'aws:SourceAccount': '111111111111' },
            ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:us-east-1:111111111111:rule/*']] } },
          },
        }]),
      },
    });
  });

  test('warns that an imported batch key must let EventBridge use it', () => {
    const stack = new Stack(new App(), 'TestStack', { env: ENV });
    const encryptionKey = kms.Key.fromKeyArn(stack, 'Imported', 'arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000000');
    new StreamingLlmProxy(stack, 'Proxy', { batches: { encryptionKey, batchInference: {} } });
    Annotations.fromStack(stack).hasWarning('/TestStack/Proxy', Match.stringLikeRegexp('the batch key is imported.*events.amazonaws.com'));
  });

  test('alarms on failed rule invocations and on the dead-letter queue', () => {
    const { stack, proxy, template } = build();
    const ruleId = only(template.findResources('AWS::Events::Rule'))[0];
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Events',
      MetricName: 'FailedInvocations',
      Dimensions: [{ Name: 'RuleName', Value: { Ref: ruleId } }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, proxy.batchWorker!.deadLetterQueue!), 'QueueName'] } }],
      Threshold: 1,
    });
    expect(proxy.alarms.map((a) => a.node.id)).toEqual(expect.arrayContaining(['BatchInferenceRuleFailedAlarm', 'BatchInferenceDeadLetterAlarm']));
    expect(build({ batches: {} }).proxy.alarms.map((a) => a.node.id).filter((id) => id.startsWith('BatchInference'))).toEqual([]);
  });

  test('accepts Claude models of the default catalogue and of `models`, by id or alias and in any case', () => {
    expect(() => build({
      models: [{ id: 'house', aliases: ['house-alias'], target: 'arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/abc', upstream: ProxyModelUpstream.BEDROCK_MESSAGES }],
      batches: { batchInference: { models: ['claude-fable-5', 'claude-sonnet-4-20250514', 'Claude-Haiku-4-5', 'house', 'house-alias'] } },
    })).not.toThrow();
  });

  test.each<[ProxyBatchesOptions['batchInference'], RegExp]>([
    [{ minRecords: 5 }, /^`batches.batchInference.minRecords` must be an integer from 100 to 50000 \(Bedrock's minimum records per job and its default maximum\), got 5\.$/],
    [{ minRecords: 50_001 }, /^`batches.batchInference.minRecords` must be an integer from 100 to 50000 .*, got 50001\.$/],
    [{ minRecords: 150.5 }, /^`batches.batchInference.minRecords` must be an integer .*, got 150.5\.$/],
    [{ timeout: Duration.hours(23) }, /^`batches.batchInference.timeout` must be a whole number of hours from 24 to 168 \(a model invocation job's timeoutDurationInHours\), got 23 hours\.$/],
    [{ timeout: Duration.hours(169) }, /^`batches.batchInference.timeout` must be a whole number of hours from 24 to 168 .*, got 169 hours\.$/],
    [{ timeout: Duration.minutes(24 * 60 + 30) }, /^`batches.batchInference.timeout` must be a whole number of hours .*, got 1 day 30 minutes\.$/],
    [{ models: [] }, /^`batches.batchInference.models` is empty, so no batch could use batch inference; .*remove `batches.batchInference.models` to allow every one\.$/],
    [{ models: [''] }, /^`batches.batchInference.models` must hold catalogue model ids or aliases, got ""\.$/],
    [{ models: ['claude-sonnet-4-6', 'no-such-model'] }, /^`batches.batchInference.models`: 'no-such-model' is not a Claude model of the catalogue; /],
    [{ models: ['nova-pro'] }, /^`batches.batchInference.models`: 'nova-pro' is not a Claude model of the catalogue; /],
  ])('rejects %p with an error naming the prop', (batchInference, message) => {
    expect(() => build({ batches: { batchInference } })).toThrow(message);
  });

  test('rejects a model called through Converse, an embedding model and a replaced default', () => {
    expect(() => build({
      models: [{ id: 'claude-via-converse', target: 'us.anthropic.claude-sonnet-4-6', upstream: ProxyModelUpstream.BEDROCK_CONVERSE }],
      batches: { batchInference: { models: ['claude-via-converse'] } },
    })).toThrow(/^`batches.batchInference.models`: 'claude-via-converse' is called through bedrock-converse, but Bedrock batch inference takes the Anthropic request body; name a model on BEDROCK_INVOKE or BEDROCK_MESSAGES\.$/);
    expect(() => build({
      models: [{ id: 'embed', target: 'amazon.titan-embed-text-v2:0', kind: ProxyModelKind.EMBEDDING }],
      batches: { batchInference: { models: ['embed'] } },
    })).toThrow(/'embed' is not a Claude model of the catalogue/);
    // An entry of `models` with a default id replaces the default entry, aliases and all.
    expect(() => build({
      models: [{ id: 'claude-sonnet-4-0', target: 'us.amazon.nova-pro-v1:0' }],
      batches: { batchInference: { models: ['claude-sonnet-4-20250514'] } },
    })).toThrow(/'claude-sonnet-4-20250514' is not a Claude model of the catalogue/);
    expect(() => build({
      replaceDefaultModels: true,
      models: [{ id: 'only', target: 'global.anthropic.claude-sonnet-4-6' }],
      batches: { batchInference: { models: ['claude-sonnet-4-6'] } },
    })).toThrow(/'claude-sonnet-4-6' is not a Claude model of the catalogue/);
  });

  test('rejects batch inference with the mock upstream, or with a catalogue that has no Claude model', () => {
    expect(() => build({ upstream: ProxyUpstream.MOCK, batches: { batchInference: {} } }))
      .toThrow(/^`batches.batchInference` runs batches as Bedrock model invocation jobs, but `upstream` is ProxyUpstream.MOCK; remove `batches.batchInference` or `upstream`\.$/);
    expect(() => build({ replaceDefaultModels: true, models: [{ id: 'nova', target: 'us.amazon.nova-pro-v1:0' }], batches: { batchInference: {} } }))
      .toThrow(/^`batches.batchInference`: the catalogue has no Claude model on an Anthropic-native Bedrock upstream \(BEDROCK_INVOKE or BEDROCK_MESSAGES\), so no batch could use batch inference; add one to `models`, or remove `batches.batchInference`\.$/);
  });
});

describe('cdk-nag', () => {
  test('default batch inference is clean in all four packs', () => {
    const { stack } = build();
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('batch inference in a stack without an environment is clean in all four packs', () => {
    const { stack } = build(undefined, { agnostic: true });
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('batch inference with a gateway table, a customer managed key and custom settings is clean in all four packs', () => {
    const stack = new Stack(new App(), 'TestStack', { env: ENV });
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new StreamingLlmProxy(stack, 'Proxy', {
      gateway: ProxyGateway.newTable(),
      encryptionKey: key,
      models: [{ id: 'house', target: 'eu.anthropic.claude-sonnet-4-6' }],
      batches: { batchInference: { minRecords: 1000, models: ['house', 'claude-opus-4-6'], timeout: Duration.hours(48) } },
    });
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });
});
