import { App, Duration, Size, Stack, StackProps } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import {
  ClaudeFallback, IProxySessionStore, JwtTokenUse, ProxyAuth, ProxyAuthMode, ProxyEndpoint, ProxyEndpointType, ProxyLogLevel,
  ProxyModelKind, ProxyModelUpstream, ProxyUpstream, ProxyWebAcl, RateLimitFailureMode, StreamingLlmProxy, StreamingLlmProxyProps,
} from '../../src';
import { DEFAULT_CATALOGUE_TARGETS } from '../../src/streaming-llm-proxy/catalogue';
import { loadFunction, viewerRequest } from '../support/cloudfront-function';
import { formatFindings, nagFindings } from '../support/nag';

const US_EAST_1 = { account: '111111111111', region: 'us-east-1' };

function newStack(env?: StackProps['env']): Stack {
  return new Stack(new App(), 'TestStack', { env });
}

function build(props?: StreamingLlmProxyProps, env?: StackProps['env']) {
  const stack = newStack(env);
  const proxy = new StreamingLlmProxy(stack, 'Proxy', props);
  return { stack, proxy, template: Template.fromStack(stack) };
}

/** Resolves the intrinsics the construct uses into plain strings (partition aws, account 111111111111). */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (v.Ref === 'AWS::Partition') return 'aws';
  if (v.Ref === 'AWS::AccountId') return '111111111111';
  if (v.Ref === 'AWS::Region') return 'us-east-1';
  if (typeof v.Ref === 'string') return `<${v.Ref}>`;
  if (v['Fn::GetAtt']) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  if (v['Fn::Join']) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(flatten).join(sep);
  }
  return JSON.stringify(value);
}

function only<T>(items: Record<string, T>): T {
  const values = Object.values(items);
  expect(values).toHaveLength(1);
  return values[0];
}

function functionEnv(template: Template): Record<string, unknown> {
  return only(template.findResources('AWS::Lambda::Function')).Properties.Environment.Variables;
}

function statements(template: Template): Array<{ Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown }> {
  return only(template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^ProxyRole') }] },
  })).Properties.PolicyDocument.Statement;
}

function bedrockResources(template: Template, sid = 'InvokeCatalogueModels'): string[] {
  const statement = statements(template).find((s) => s.Sid === sid);
  if (!statement) return [];
  return ([] as unknown[]).concat(statement.Resource).map(flatten).sort();
}

class FakeSessionStore implements IProxySessionStore {
  public readonly connected: lambda.Function[] = [];
  constructor(public readonly vpc: ec2.IVpc, public readonly vpcSubnets?: ec2.SubnetSelection) {}
  public grantConnect(fn: lambda.Function): void {
    this.connected.push(fn);
    fn.addEnvironment('REDIS_HOST', 'master.sessions.abc123.use1.cache.amazonaws.com');
    fn.addEnvironment('REDIS_PORT', '6379');
    fn.addEnvironment('REDIS_AUTH_MODE', 'iam');
    fn.addEnvironment('REDIS_USER', 'llm-proxy');
    fn.addEnvironment('REDIS_CACHE_NAME', 'sessions');
  }
}

describe('default configuration', () => {
  const { proxy, template, stack } = build();

  test('deploys a Node.js 24 ARM64 function with X-Ray, a 15-minute timeout and 1 GB of memory', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 1024,
      Timeout: 900,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^ProxyLogs') } },
    });
    template.resourceCountIs('AWS::Lambda::Function', 1);
    expect(template.findResources('AWS::Lambda::Function', { Properties: { ReservedConcurrentExecutions: Match.anyValue() } })).toEqual({});
  });

  test('keeps function logs for one year in a retained log group', () => {
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { RetentionInDays: 365 },
      DeletionPolicy: 'Retain',
    });
  });

  test('publishes a version on each change and points a streaming function URL at the live alias', () => {
    template.hasResourceProperties('AWS::Lambda::Alias', {
      Name: 'live',
      FunctionVersion: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ProxyFunctionCurrentVersion'), 'Version'] },
    });
    expect(template.findResources('AWS::Lambda::Alias', { Properties: { ProvisionedConcurrencyConfig: Match.anyValue() } })).toEqual({});
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      InvokeMode: 'RESPONSE_STREAM',
      Qualifier: 'live',
    });
    expect(template.findResources('AWS::Lambda::Url', { Properties: { Cors: Match.anyValue() } })).toEqual({});
    expect(proxy.endpointType).toBe(ProxyEndpointType.FUNCTION_URL);
  });

  test('creates an API-key secret with a generated key and gives the runtime only its ARN', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { SecretStringTemplate: '{}', GenerateStringKey: 'default', PasswordLength: 48, ExcludePunctuation: true },
    });
    const env = functionEnv(template);
    expect(flatten(env.PROXY_API_KEYS_SECRET_ARN)).toMatch(/^<ProxyApiKeys[0-9A-F]+>$/);
    expect(proxy.apiKeySecret).toBeDefined();
    expect(proxy.authMode).toBe(ProxyAuthMode.API_KEYS);
  });

  test('sets the runtime environment from the contract, with nothing but names, modes and ARNs', () => {
    const env = functionEnv(template);
    expect(Object.keys(env).sort()).toEqual([
      'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME',
      'PROXY_API_KEYS_SECRET_ARN', 'PROXY_AUTH_MODE', 'PROXY_CLAUDE_FALLBACK', 'PROXY_UPSTREAM',
    ]);
    expect(env).toMatchObject({
      PROXY_UPSTREAM: 'bedrock',
      PROXY_AUTH_MODE: 'api-keys',
      PROXY_CLAUDE_FALLBACK: 'global',
      POWERTOOLS_METRICS_NAMESPACE: 'ServerlessLlm',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_SERVICE_NAME: proxy.serviceName,
    });
    expect(proxy.serviceName).toMatch(/^TestStack-Proxy-[0-9A-F]{8}$/);
  });

  test('alarms on errors, throttles, p99 duration and upstream throttles, notifying a TLS-only topic', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^ProxyAlarmTopic') }],
      OKActions: [{ Ref: Match.stringLikeRegexp('^ProxyAlarmTopic') }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Throttles', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Duration', ExtendedStatistic: 'p99', Threshold: 810_000 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'UpstreamThrottles',
      Namespace: 'ServerlessLlm',
      Threshold: 10,
      Dimensions: [{ Name: 'service', Value: proxy.serviceName }],
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('creates a dashboard of requests, latency, throttling and tokens', () => {
    const body = JSON.stringify(stack.resolve(only(template.findResources('AWS::CloudWatch::Dashboard')).Properties.DashboardBody));
    for (const metric of ['Requests', 'TimeToFirstToken', 'UpstreamThrottles', 'InputTokens', 'OutputTokens', 'EstimatedCost']) {
      expect(body).toContain(metric);
    }
  });

  test('creates no REST API, distribution, web ACL or SSM parameter', () => {
    for (const type of ['AWS::ApiGateway::RestApi', 'AWS::CloudFront::Distribution', 'AWS::WAFv2::WebACL', 'AWS::SSM::Parameter', 'AWS::S3::Bucket']) {
      template.resourceCountIs(type, 0);
    }
    expect(proxy.restApi).toBeUndefined();
    expect(proxy.distribution).toBeUndefined();
  });

  test('exposes the function URL as url and endpointUrl', () => {
    expect(stack.resolve(proxy.url)).toEqual(stack.resolve(proxy.functionUrl!.url));
    expect(stack.resolve(proxy.endpointUrl)).toEqual(stack.resolve(proxy.functionUrl!.url));
  });
});

describe('IAM', () => {
  test('grants exactly: its log group, X-Ray, the catalogue models and the API-key secret', () => {
    const { template } = build({}, US_EAST_1);
    const s = statements(template);
    expect(s.map((x) => [x.Sid ?? '', x.Action])).toEqual([
      ['', ['logs:CreateLogStream', 'logs:PutLogEvents']],
      ['', ['xray:PutTraceSegments', 'xray:PutTelemetryRecords']],
      ['InvokeCatalogueModels', ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream', 'bedrock:CountTokens']],
      ['InvokeEmbeddingModels', 'bedrock:InvokeModel'],
      ['ReadProxySecrets', 'secretsmanager:GetSecretValue'],
    ]);
    expect(flatten(s[0].Resource)).toMatch(/^<ProxyLogs[0-9A-F]+\.Arn>$/);
    expect(s[1].Resource).toBe('*');
    expect(flatten(s[4].Resource)).toMatch(/^<ProxyApiKeys[0-9A-F]+>$/);
    for (const x of s) expect(x.Condition).toBeUndefined();
  });

  test('scopes Bedrock to the default catalogue: profiles and foundation models by id, claude-* only for the fallback', () => {
    const { template } = build({}, US_EAST_1);
    expect(bedrockResources(template)).toEqual([
      'arn:aws:bedrock:*:111111111111:inference-profile/global.anthropic.claude-*',
      'arn:aws:bedrock:*:111111111111:inference-profile/us.amazon.nova-lite-v1:0',
      'arn:aws:bedrock:*:111111111111:inference-profile/us.amazon.nova-micro-v1:0',
      'arn:aws:bedrock:*:111111111111:inference-profile/us.amazon.nova-pro-v1:0',
      'arn:aws:bedrock:*:111111111111:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0',
      'arn:aws:bedrock:*:111111111111:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0',
      'arn:aws:bedrock:*:111111111111:inference-profile/us.anthropic.claude-opus-4-1-20250805-v1:0',
      'arn:aws:bedrock:*:111111111111:inference-profile/us.anthropic.claude-opus-4-20250514-v1:0',
      'arn:aws:bedrock:*:111111111111:inference-profile/us.deepseek.r1-v1:0',
      'arn:aws:bedrock:*:111111111111:inference-profile/us.meta.llama3-3-70b-instruct-v1:0',
      'arn:aws:bedrock:*:*:foundation-model/amazon.nova-lite-v1:0',
      'arn:aws:bedrock:*:*:foundation-model/amazon.nova-micro-v1:0',
      'arn:aws:bedrock:*:*:foundation-model/amazon.nova-pro-v1:0',
      'arn:aws:bedrock:*:*:foundation-model/anthropic.claude-*',
      'arn:aws:bedrock:*:*:foundation-model/deepseek.r1-v1:0',
      'arn:aws:bedrock:*:*:foundation-model/meta.llama3-3-70b-instruct-v1:0',
      'arn:aws:bedrock:*:*:foundation-model/mistral.mistral-large-2407-v1:0',
      'arn:aws:bedrock:*:*:foundation-model/openai.gpt-oss-120b-1:0',
    ].sort());
  });

  test('grants InvokeModel alone on the default embedding models\' foundation-model ARNs, and nothing else on them', () => {
    const { template } = build({}, US_EAST_1);
    const embedding = [
      'arn:aws:bedrock:*:*:foundation-model/amazon.titan-embed-text-v2:0',
      'arn:aws:bedrock:*:*:foundation-model/cohere.embed-english-v3',
      'arn:aws:bedrock:*:*:foundation-model/cohere.embed-multilingual-v3',
      'arn:aws:bedrock:*:*:foundation-model/cohere.embed-v4:0',
    ];
    expect(bedrockResources(template, 'InvokeEmbeddingModels')).toEqual(embedding);
    for (const arn of embedding) expect(bedrockResources(template)).not.toContain(arn);
  });

  test('an embedding model in `models` defaults to InvokeModel, is granted InvokeModel only, and reaches PROXY_MODELS with its kind', () => {
    const { template } = build({
      replaceDefaultModels: true,
      claudeFallback: ClaudeFallback.NONE,
      models: [
        { id: 'nova', target: 'us.amazon.nova-lite-v1:0' },
        { id: 'embed', target: 'eu.cohere.embed-v4:0', kind: ProxyModelKind.EMBEDDING },
      ],
    }, US_EAST_1);
    expect(bedrockResources(template, 'InvokeEmbeddingModels')).toEqual([
      'arn:aws:bedrock:*:*:foundation-model/cohere.embed-v4:0',
      'arn:aws:bedrock:*:111111111111:inference-profile/eu.cohere.embed-v4:0',
    ].sort());
    expect(bedrockResources(template).some((r) => r.includes('cohere'))).toBe(false);
    const models = JSON.parse(functionEnv(template).PROXY_MODELS as string);
    expect(models.models).toContainEqual({ id: 'embed', kind: 'embedding', upstream: 'bedrock-invoke', target: 'eu.cohere.embed-v4:0' });
  });

  test('rejects an embedding model on an upstream other than InvokeModel', () => {
    expect(() => build({ models: [{ id: 'e', target: 'cohere.embed-v4:0', kind: ProxyModelKind.EMBEDDING, upstream: ProxyModelUpstream.BEDROCK_CONVERSE }] }))
      .toThrow(/embedding models are called through Bedrock InvokeModel/);
  });

  test('without the claude-* fallback, grants only exact catalogue ids, one profile and one model ARN per profile target', () => {
    const { template } = build({ claudeFallback: ClaudeFallback.NONE }, US_EAST_1);
    const resources = bedrockResources(template);
    expect(resources.filter((r) => r.endsWith('*'))).toEqual([]);
    const expected = new Set<string>();
    for (const target of DEFAULT_CATALOGUE_TARGETS) {
      const profile = /^(global|us|eu|apac)\.(.+)$/.exec(target);
      if (profile) expected.add(`arn:aws:bedrock:*:111111111111:inference-profile/${target}`);
      expected.add(`arn:aws:bedrock:*:*:foundation-model/${profile ? profile[2] : target}`);
    }
    expect(resources).toEqual([...expected].sort());
  });

  test('the DIRECT fallback adds the anthropic.claude-* foundation models but no profile pattern', () => {
    const { template } = build({ claudeFallback: ClaudeFallback.DIRECT, replaceDefaultModels: true, models: [{ id: 'nova', target: 'amazon.nova-pro-v1:0' }] }, US_EAST_1);
    expect(bedrockResources(template)).toEqual([
      'arn:aws:bedrock:*:*:foundation-model/amazon.nova-pro-v1:0',
      'arn:aws:bedrock:*:*:foundation-model/anthropic.claude-*',
    ].sort());
  });

  test('an EU fallback scopes the profile pattern to eu.anthropic.claude-*', () => {
    const { template } = build({ claudeFallback: ClaudeFallback.EU, replaceDefaultModels: true, models: [{ id: 'm', target: 'eu.amazon.nova-lite-v1:0' }] }, US_EAST_1);
    expect(bedrockResources(template)).toEqual([
      'arn:aws:bedrock:*:111111111111:inference-profile/eu.amazon.nova-lite-v1:0',
      'arn:aws:bedrock:*:111111111111:inference-profile/eu.anthropic.claude-*',
      'arn:aws:bedrock:*:*:foundation-model/amazon.nova-lite-v1:0',
      'arn:aws:bedrock:*:*:foundation-model/anthropic.claude-*',
    ].sort());
  });

  test('replacing the catalogue grants only the given models, their failover targets and ARNs as given', () => {
    const { template } = build({
      replaceDefaultModels: true,
      claudeFallback: ClaudeFallback.NONE,
      models: [
        { id: 'sonnet', target: 'us.anthropic.claude-sonnet-4-6', failover: { region: 'eu-west-1', target: 'eu.anthropic.claude-sonnet-4-6' } },
        { id: 'app', target: 'arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/abc123', upstream: ProxyModelUpstream.BEDROCK_CONVERSE },
        { id: 'local', target: 'qwen3', baseUrl: 'http://10.0.1.5:8000/v1' },
      ],
    }, US_EAST_1);
    expect(bedrockResources(template)).toEqual([
      'arn:aws:bedrock:*:111111111111:inference-profile/eu.anthropic.claude-sonnet-4-6',
      'arn:aws:bedrock:*:111111111111:inference-profile/us.anthropic.claude-sonnet-4-6',
      'arn:aws:bedrock:*:*:foundation-model/anthropic.claude-sonnet-4-6',
      'arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/abc123',
    ].sort());
  });

  test('in a stack without an explicit environment, partition and account segments are wildcards, never references', () => {
    const { template } = build({ replaceDefaultModels: true, models: [{ id: 'sonnet', target: 'us.anthropic.claude-sonnet-4-6' }] });
    const statement = statements(template).find((s) => s.Sid === 'InvokeCatalogueModels')!;
    expect(statement.Resource).toEqual([
      'arn:*:bedrock:*:*:foundation-model/anthropic.claude-*',
      'arn:*:bedrock:*:*:inference-profile/global.anthropic.claude-*',
      'arn:*:bedrock:*:*:inference-profile/us.anthropic.claude-sonnet-4-6',
    ]);
  });

  test('an ARN reference (e.g. an application inference profile of the app) is granted as it is', () => {
    const stack = newStack(US_EAST_1);
    const profile = new secretsmanager.Secret(stack, 'StandIn'); // any resource whose ARN is a reference
    new StreamingLlmProxy(stack, 'Proxy', {
      replaceDefaultModels: true,
      claudeFallback: ClaudeFallback.NONE,
      models: [{ id: 'app', target: profile.secretArn, upstream: ProxyModelUpstream.BEDROCK_CONVERSE }],
    });
    expect(bedrockResources(Template.fromStack(stack))).toEqual([expect.stringMatching(/^<StandIn[0-9A-F]+>$/)]);
  });

  test('the mock upstream gets no Bedrock permission at all', () => {
    const { template } = build({ upstream: ProxyUpstream.MOCK }, US_EAST_1);
    expect(statements(template).find((s) => s.Sid === 'InvokeCatalogueModels')).toBeUndefined();
    expect(functionEnv(template).PROXY_UPSTREAM).toBe('mock');
  });

  test('reads an OpenAI-compatible server key secret and no other secret', () => {
    const stack = newStack();
    const serverKey = new secretsmanager.Secret(stack, 'ServerKey');
    new StreamingLlmProxy(stack, 'Proxy', {
      auth: ProxyAuth.jwt({ issuer: 'https://issuer.example.com', audience: ['proxy'] }),
      models: [{ id: 'local', target: 'qwen3', baseUrl: 'http://10.0.1.5:8000/v1', apiKeySecret: serverKey }],
    });
    const template = Template.fromStack(stack);
    const read = statements(template).find((s) => s.Sid === 'ReadProxySecrets')!;
    expect(read.Action).toBe('secretsmanager:GetSecretValue');
    expect(flatten(read.Resource)).toMatch(/^<ServerKey[0-9A-F]+>$/);
    expect(flatten(functionEnv(template).PROXY_MODELS)).toContain('"apiKeySecretArn":"<ServerKey');
  });

  test('an imported secret known only by name is granted with Secrets Manager\'s 6-character suffix', () => {
    const stack = newStack();
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'Keys', 'llm/proxy-keys');
    new StreamingLlmProxy(stack, 'Proxy', { auth: ProxyAuth.apiKeys({ secret }) });
    const read = statements(Template.fromStack(stack)).find((s) => s.Sid === 'ReadProxySecrets')!;
    expect(flatten(read.Resource)).toBe('arn:aws:secretsmanager:us-east-1:111111111111:secret:llm/proxy-keys-??????');
  });

  test('a customer managed secret key is granted for decryption', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'SecretKey');
    const secret = new secretsmanager.Secret(stack, 'Keys', { encryptionKey: key });
    new StreamingLlmProxy(stack, 'Proxy', { auth: ProxyAuth.apiKeys({ secret }) });
    const decrypt = statements(Template.fromStack(stack)).find((s) => ([] as string[]).concat(s.Action).includes('kms:Decrypt'));
    expect(flatten(decrypt!.Resource)).toMatch(/^<SecretKey[0-9A-F]+\.Arn>$/);
  });

  test('a VPC-attached function gets the network-interface actions Lambda needs', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc');
    new StreamingLlmProxy(stack, 'Proxy', { vpc });
    const attach = statements(Template.fromStack(stack)).find((s) => s.Sid === 'AttachToVpc')!;
    expect(attach.Action).toEqual([
      'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface',
      'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses',
    ]);
  });
});

describe('auth modes', () => {
  test('ProxyAuth.apiKeys({ secret, cacheTtl }) uses the given secret and creates none', () => {
    const stack = newStack();
    const secret = new secretsmanager.Secret(stack, 'MyKeys');
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { auth: ProxyAuth.apiKeys({ secret, cacheTtl: Duration.minutes(1) }) });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    const env = functionEnv(template);
    expect(flatten(env.PROXY_API_KEYS_SECRET_ARN)).toMatch(/^<MyKeys/);
    expect(env.PROXY_API_KEYS_CACHE_TTL_SECONDS).toBe('60');
    expect(proxy.apiKeySecret).toBe(secret);
  });

  test('ProxyAuth.jwt() sets the issuer settings, creates no secret and grants no secret read', () => {
    const { template, proxy } = build({
      auth: ProxyAuth.jwt({
        issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf',
        audience: ['client-a', 'client-b'],
        jwksUri: 'https://keys.example.com/jwks.json',
        identityClaim: 'email',
        tokenUse: JwtTokenUse.ACCESS,
      }),
    });
    expect(functionEnv(template)).toMatchObject({
      PROXY_AUTH_MODE: 'jwt',
      PROXY_JWT_ISSUER: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf',
      PROXY_JWT_AUDIENCE: 'client-a,client-b',
      PROXY_JWT_JWKS_URI: 'https://keys.example.com/jwks.json',
      PROXY_JWT_IDENTITY_CLAIM: 'email',
      PROXY_JWT_TOKEN_USE: 'access',
    });
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(statements(template).find((s) => s.Sid === 'ReadProxySecrets')).toBeUndefined();
    expect(proxy.apiKeySecret).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
    expect(() => proxy.grantInvoke(new iam.AccountRootPrincipal())).toThrow(/jwt auth .*token from the configured issuer/);
  });

  test('ProxyAuth.jwt() requires exp by default; allowMissingExpiry: true tells the runtime to accept tokens without it', () => {
    const jwt = { issuer: 'https://idp.example.com', audience: ['proxy'] };
    expect(functionEnv(build({ auth: ProxyAuth.jwt(jwt) }).template).PROXY_JWT_ALLOW_MISSING_EXPIRY).toBeUndefined();
    expect(functionEnv(build({ auth: ProxyAuth.jwt({ ...jwt, allowMissingExpiry: true }) }).template).PROXY_JWT_ALLOW_MISSING_EXPIRY).toBe('true');
  });

  test('warns when ProxyAuth.jwt() runs in isolated subnets, which have no route to the issuer\'s JWKS', () => {
    const jwt = ProxyAuth.jwt({ issuer: 'https://idp.example.com', audience: ['proxy'] });
    const warning = Match.stringLikeRegexp('cannot fetch the issuer\'s signing keys from https://idp.example.com/.well-known/jwks.json');
    const isolated = newStack(US_EAST_1);
    const closed = new ec2.Vpc(isolated, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    new StreamingLlmProxy(isolated, 'Proxy', { auth: jwt, vpc: closed, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
    Annotations.fromStack(isolated).hasWarning('/TestStack/Proxy', warning);

    const withNat = newStack(US_EAST_1);
    new StreamingLlmProxy(withNat, 'Proxy', { auth: jwt, vpc: new ec2.Vpc(withNat, 'Vpc', { natGateways: 1 }) });
    expect(Annotations.fromStack(withNat).findWarning('*', warning)).toEqual([]);

    const apiKeys = newStack(US_EAST_1);
    const closed2 = new ec2.Vpc(apiKeys, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    new StreamingLlmProxy(apiKeys, 'Proxy', { vpc: closed2, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
    expect(Annotations.fromStack(apiKeys).findWarning('*', Match.stringLikeRegexp('ProxyAuth.jwt'))).toEqual([]);
  });

  test('ProxyAuth.jwt() rejects a non-https issuer and an empty audience', () => {
    expect(() => ProxyAuth.jwt({ issuer: 'http://issuer.example.com', audience: ['a'] })).toThrow(/`issuer` must be an https:\/\/ URL/);
    expect(() => ProxyAuth.jwt({ issuer: 'https://issuer.example.com', audience: [] })).toThrow(/`audience` needs at least one/);
    expect(() => ProxyAuth.jwt({ issuer: 'https://issuer.example.com', audience: ['a,b'] })).toThrow(/without commas/);
  });

  test('ProxyAuth.iam() makes the function URL AWS_IAM and grantInvoke() allows InvokeFunctionUrl on the alias', () => {
    const stack = newStack();
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { auth: ProxyAuth.iam() });
    const caller = new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
    proxy.grantInvoke(caller);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM', InvokeMode: 'RESPONSE_STREAM' });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Caller') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'lambda:InvokeFunctionUrl', Resource: { Ref: Match.stringLikeRegexp('^ProxyLive') } }),
        ]),
      },
    });
    expect(functionEnv(template).PROXY_AUTH_MODE).toBe('iam');
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  test('ProxyAuth.iam() on the REST API uses AWS_IAM methods and grantInvoke() allows execute-api:Invoke on the stage', () => {
    const stack = newStack();
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { auth: ProxyAuth.iam(), endpoint: ProxyEndpoint.restApi() });
    const caller = new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
    proxy.grantInvoke(caller);
    const template = Template.fromStack(stack);
    for (const method of Object.values(template.findResources('AWS::ApiGateway::Method'))) {
      expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
    }
    const callerPolicy = only(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^Caller') }] } }));
    const statement = callerPolicy.Properties.PolicyDocument.Statement[0];
    expect(statement.Action).toBe('execute-api:Invoke');
    expect(flatten(statement.Resource)).toMatch(/^arn:aws:execute-api:us-east-1:111111111111:<ProxyApi[0-9A-F]+>\/<ProxyApiDeploymentStageprod[0-9A-F]+>\/\*\/\*$/);
  });

  test('ProxyAuth.none() creates no secret and grantInvoke() explains that nothing is needed', () => {
    const { template, proxy } = build({ auth: ProxyAuth.none() });
    expect(functionEnv(template).PROXY_AUTH_MODE).toBe('none');
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(() => proxy.grantInvoke(new iam.AccountRootPrincipal())).toThrow(/none auth .*anyone can call it/);
  });

  test('grantInvoke() with API keys grants reading the key secret', () => {
    const stack = newStack();
    const proxy = new StreamingLlmProxy(stack, 'Proxy');
    const ci = new iam.Role(stack, 'Ci', { assumedBy: new iam.AccountRootPrincipal() });
    proxy.grantInvoke(ci);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Ci') }],
      PolicyDocument: { Statement: [{ Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: { Ref: Match.stringLikeRegexp('^ProxyApiKeys') } }] },
    });
  });

  test('grantReadApiKeys() refuses when the proxy has no API keys', () => {
    const { proxy } = build({ auth: ProxyAuth.iam() });
    expect(() => proxy.grantReadApiKeys(new iam.AccountRootPrincipal())).toThrow(/iam auth and has no API-key secret/);
  });
});

describe('REST API endpoint', () => {
  const { template, proxy, stack } = build({ endpoint: ProxyEndpoint.restApi() });

  test('integrates the live alias with response streaming (URI ends in /response-streaming-invocations) and the function timeout', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    expect(methods).toHaveLength(2);
    for (const method of methods) {
      expect(method.Properties).toMatchObject({
        HttpMethod: 'ANY',
        AuthorizationType: 'NONE',
        ApiKeyRequired: false,
        Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST', ResponseTransferMode: 'STREAM', TimeoutInMillis: 900_000 },
      });
      const uri = flatten(method.Properties.Integration.Uri);
      expect(uri).toMatch(/^arn:aws:apigateway:us-east-1:lambda:path\/2021-11-15\/functions\/<ProxyLive[0-9A-F]+>\/response-streaming-invocations$/);
    }
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
  });

  test('is regional, with X-Ray, error-level execution logs without bodies, JSON access logs and stage throttling', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['REGIONAL'] } });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      TracingEnabled: true,
      MethodSettings: [{ DataTraceEnabled: false, LoggingLevel: 'ERROR', MetricsEnabled: true, ThrottlingBurstLimit: 100, ThrottlingRateLimit: 50, HttpMethod: '*', ResourcePath: '/*' }],
      AccessLogSetting: { DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ProxyAccessLogs'), 'Arn'] }, Format: Match.stringLikeRegexp('^\\{"requestId":"\\$context.requestId"') },
    });
    // The account-level logging role, with a customer managed policy, retained for the other APIs of the account.
    template.hasResource('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'apigateway.amazonaws.com' } })] } },
      DeletionPolicy: 'Retain',
    });
    template.hasResource('AWS::IAM::ManagedPolicy', {
      Properties: {
        PolicyDocument: {
          Statement: [{
            Effect: 'Allow',
            Resource: '*',
            Action: [
              'logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogGroups', 'logs:DescribeLogStreams',
              'logs:PutLogEvents', 'logs:GetLogEvents', 'logs:FilterLogEvents',
            ],
          }],
        },
        Roles: [{ Ref: Match.stringLikeRegexp('^ProxyApiGatewayLogsRole') }],
      },
      DeletionPolicy: 'Retain',
    });
    template.hasResource('AWS::ApiGateway::Account', {
      Properties: { CloudWatchRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ProxyApiGatewayLogsRole'), 'Arn'] } },
      DeletionPolicy: 'Retain',
    });
    template.hasResource('AWS::ApiGateway::Stage', { DependsOn: Match.arrayWith([Match.stringLikeRegexp('^ProxyApiGatewayAccount')]) });
    template.resourceCountIs('AWS::ApiGateway::Account', 1);
    expect(template.findResources('AWS::IAM::Role', { Properties: { ManagedPolicyArns: Match.anyValue() } })).toEqual({});
  });

  test('associates a regional web ACL with managed rules, a rate limit and redacted logging with the stage', () => {
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      Rules: [
        Match.objectLike({ Name: 'AWSManagedRulesAmazonIpReputationList' }),
        Match.objectLike({
          Name: 'AWSManagedRulesCommonRuleSet',
          Statement: { ManagedRuleGroupStatement: Match.objectLike({ RuleActionOverrides: Match.arrayWith([{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }]) }) },
        }),
        Match.objectLike({ Name: 'AWSManagedRulesKnownBadInputsRuleSet' }),
        Match.objectLike({ Name: 'RateLimitPerIp', Action: { Block: {} }, Statement: { RateBasedStatement: { Limit: 3000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } } }),
      ],
    });
    template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      WebACLArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ProxyApiWebAcl'), 'Arn'] },
    });
    const association = only(template.findResources('AWS::WAFv2::WebACLAssociation'));
    expect(flatten(association.Properties.ResourceArn)).toMatch(/^arn:aws:apigateway:us-east-1::\/restapis\/<ProxyApi[0-9A-F]+>\/stages\/<ProxyApiDeploymentStageprod[0-9A-F]+>$/);
    template.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: [{ SingleHeader: { Name: 'authorization' } }, { SingleHeader: { Name: 'x-api-key' } }, { SingleHeader: { Name: 'x-origin-verify' } }],
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: Match.stringLikeRegexp('^aws-waf-logs-'), RetentionInDays: 365 });
  });

  test('exposes the REST API and its stage URL', () => {
    expect(proxy.endpointType).toBe(ProxyEndpointType.REST_API);
    expect(proxy.restApi).toBeInstanceOf(apigateway.RestApi);
    expect(proxy.functionUrl).toBeUndefined();
    expect(stack.resolve(proxy.url)).toEqual(stack.resolve(proxy.restApi!.url));
    template.resourceCountIs('AWS::Lambda::Url', 0);
  });

  test('permits API Gateway to invoke only the live alias, from its own methods', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
    expect(permissions).toHaveLength(2);
    for (const p of permissions) {
      expect(p.Properties.Principal).toBe('apigateway.amazonaws.com');
      expect(flatten(p.Properties.FunctionName)).toMatch(/^<ProxyLive/);
      expect(flatten(p.Properties.SourceArn)).toMatch(/^arn:aws:execute-api:us-east-1:111111111111:<ProxyApi[0-9A-F]+>\/<ProxyApiDeploymentStageprod[0-9A-F]+>\/\*\//);
    }
  });

  test('applies stage name, throttling, a usage plan and a given web ACL', () => {
    const t = build({
      endpoint: ProxyEndpoint.restApi({
        stageName: 'v1',
        throttlingRateLimit: 5,
        throttlingBurstLimit: 10,
        usagePlan: { quota: { limit: 1000, period: apigateway.Period.DAY }, throttle: { rateLimit: 2, burstLimit: 4 } },
        webAcl: ProxyWebAcl.fromArn('arn:aws:wafv2:us-east-1:111111111111:regional/webacl/shared/abc'),
        cloudWatchRole: false,
      }),
    });
    t.template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      MethodSettings: [Match.objectLike({ ThrottlingBurstLimit: 10, ThrottlingRateLimit: 5 })],
    });
    t.template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Quota: { Limit: 1000, Period: 'DAY' },
      Throttle: { RateLimit: 2, BurstLimit: 4 },
      ApiStages: [Match.objectLike({ Stage: { Ref: Match.stringLikeRegexp('^ProxyApiDeploymentStagev1') } })],
    });
    for (const method of Object.values(t.template.findResources('AWS::ApiGateway::Method'))) {
      expect(method.Properties.ApiKeyRequired).toBe(true);
    }
    expect(t.proxy.usagePlan).toBeDefined();
    t.template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    t.template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { WebACLArn: 'arn:aws:wafv2:us-east-1:111111111111:regional/webacl/shared/abc' });
    t.template.resourceCountIs('AWS::ApiGateway::Account', 0);
  });

  test('ProxyWebAcl.none() associates nothing; a managed ACL takes its rate limit', () => {
    build({ endpoint: ProxyEndpoint.restApi({ webAcl: ProxyWebAcl.none() }) }).template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
    build({ endpoint: ProxyEndpoint.restApi({ webAcl: ProxyWebAcl.managed({ rateLimitPerFiveMinutes: 500 }) }) }).template
      .hasResourceProperties('AWS::WAFv2::WebACL', { Rules: Match.arrayWith([Match.objectLike({ Statement: { RateBasedStatement: Match.objectLike({ Limit: 500 }) } })]) });
    expect(() => ProxyWebAcl.managed({ rateLimitPerFiveMinutes: 5 })).toThrow(/rateLimitPerFiveMinutes/);
  });

  test('rejects a CloudFront-scope web ACL on the stage and bad stage settings', () => {
    expect(() => build({ endpoint: ProxyEndpoint.restApi({ webAcl: ProxyWebAcl.fromArn('arn:aws:wafv2:us-east-1:111111111111:global/webacl/cdn/abc') }) }))
      .toThrow(/REST API stage needs a REGIONAL web ACL/);
    expect(() => ProxyWebAcl.fromArn('arn:aws:waf::111111111111:webacl/abc')).toThrow(/not a WAFv2 web ACL ARN/);
    expect(() => ProxyEndpoint.restApi({ stageName: 'my-stage' })).toThrow(/`stageName` may contain only/);
    expect(() => ProxyEndpoint.restApi({ throttlingRateLimit: 0 })).toThrow(/`throttlingRateLimit`/);
    expect(() => ProxyEndpoint.restApi({ throttlingBurstLimit: 1.5 })).toThrow(/`throttlingBurstLimit`/);
  });

  test('lets CORS preflights through without IAM or an API Gateway key, and only them', () => {
    const cors = build({
      auth: ProxyAuth.iam(),
      endpoint: ProxyEndpoint.restApi({ usagePlan: {} }),
      corsAllowOrigins: ['https://chat.example.com'],
    });
    const methods = Object.values(cors.template.findResources('AWS::ApiGateway::Method')).map((m) => m.Properties);
    expect(methods.map((m) => [m.HttpMethod, m.AuthorizationType, m.ApiKeyRequired]).sort()).toEqual([
      ['ANY', 'AWS_IAM', true], ['ANY', 'AWS_IAM', true], ['OPTIONS', 'NONE', false], ['OPTIONS', 'NONE', false],
    ]);
    for (const m of methods) expect(m.Integration).toMatchObject({ Type: 'AWS_PROXY', ResponseTransferMode: 'STREAM' });
    expect(formatFindings(nagFindings(cors.stack))).toEqual([]);
    // Without CORS there is no unauthenticated method at all.
    const plain = build({ auth: ProxyAuth.iam(), endpoint: ProxyEndpoint.restApi() });
    expect(Object.values(plain.template.findResources('AWS::ApiGateway::Method')).map((m) => m.Properties.HttpMethod)).toEqual(['ANY', 'ANY']);
  });

  test('answers CORS through the runtime behind API Gateway and through the function URL otherwise', () => {
    const rest = build({ endpoint: ProxyEndpoint.restApi(), corsAllowOrigins: ['https://chat.example.com', 'http://localhost:5173'] });
    expect(functionEnv(rest.template).PROXY_CORS_ALLOW_ORIGINS).toBe('https://chat.example.com,http://localhost:5173');
    const url = build({ corsAllowOrigins: ['https://chat.example.com'] });
    expect(functionEnv(url.template).PROXY_CORS_ALLOW_ORIGINS).toBeUndefined();
    url.template.hasResourceProperties('AWS::Lambda::Url', {
      Cors: {
        AllowOrigins: ['https://chat.example.com'],
        AllowMethods: ['GET', 'POST'],
        AllowHeaders: ['content-type', 'authorization', 'x-api-key', 'anthropic-version', 'anthropic-beta', 'x-session-id'],
        MaxAge: 3600,
      },
    });
    expect(() => build({ corsAllowOrigins: ['https://chat.example.com/app'] })).toThrow(/`corsAllowOrigins`: 'https:\/\/chat.example.com\/app' is not an origin/);
  });
});

describe('VPC placement', () => {
  test('a proxy in a VPC defaults to the REST API endpoint and runs in the private subnets', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc');
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { vpc });
    const template = Template.fromStack(stack);
    expect(proxy.endpointType).toBe(ProxyEndpointType.REST_API);
    template.resourceCountIs('AWS::Lambda::Url', 0);
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    const subnets = stack.resolve(vpc.privateSubnets.map((s) => s.subnetId));
    template.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: { SubnetIds: subnets } });
  });

  test('vpcSubnets and securityGroups place the function where asked', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      ],
    });
    const securityGroup = new ec2.SecurityGroup(stack, 'Sg', { vpc, allowAllOutbound: false });
    new StreamingLlmProxy(stack, 'Proxy', { vpc, vpcSubnets: { subnetGroupName: 'isolated' }, securityGroups: [securityGroup] });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: {
        SubnetIds: stack.resolve(vpc.isolatedSubnets.map((s) => s.subnetId)),
        SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Sg'), 'GroupId'] }],
      },
    });
    template.resourceCountIs('AWS::EC2::SecurityGroup', 1);
  });

  test('rejects a function URL when the proxy is placed in a VPC', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc');
    expect(() => new StreamingLlmProxy(stack, 'Proxy', { vpc, endpoint: ProxyEndpoint.functionUrl() }))
      .toThrow(/`endpoint`: Lambda function URLs cannot stream responses from a VPC-attached function.*ProxyEndpoint\.restApi\(\)/);
  });

  test('rejects a function URL when sessions put the proxy in a VPC', () => {
    const stack = newStack();
    const sessions = new FakeSessionStore(new ec2.Vpc(stack, 'Vpc'));
    expect(() => new StreamingLlmProxy(stack, 'Proxy', { sessions, endpoint: ProxyEndpoint.functionUrl() })).toThrow(/cannot stream responses from a VPC-attached function/);
  });

  test('sessions attach the function to the store\'s VPC and subnets, switch stores to redis and call grantConnect once', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      ],
    });
    const sessions = new FakeSessionStore(vpc, { subnetGroupName: 'data' });
    const proxy = new StreamingLlmProxy(stack, 'Proxy', {
      sessions,
      sessionTtl: Duration.hours(2),
      sessionMaxSize: Size.kibibytes(512),
      rateLimitFailureMode: RateLimitFailureMode.CLOSED,
    });
    expect(sessions.connected).toEqual([proxy.function]);
    const template = Template.fromStack(stack);
    expect(functionEnv(template)).toMatchObject({
      PROXY_SESSIONS: 'redis',
      PROXY_LIMIT_STORE: 'redis',
      PROXY_LIMIT_FAILURE_MODE: 'closed',
      PROXY_SESSION_TTL_SECONDS: '7200',
      PROXY_SESSION_MAX_BYTES: '524288',
      REDIS_HOST: 'master.sessions.abc123.use1.cache.amazonaws.com',
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: { SubnetIds: stack.resolve(vpc.selectSubnets({ subnetGroupName: 'data' }).subnetIds) },
    });
    expect(proxy.endpointType).toBe(ProxyEndpointType.REST_API);
  });

  test('rejects a vpc that differs from the session store\'s, and session settings without a store', () => {
    const stack = newStack();
    const sessions = new FakeSessionStore(new ec2.Vpc(stack, 'A'));
    expect(() => new StreamingLlmProxy(stack, 'P1', { sessions, vpc: new ec2.Vpc(stack, 'B') })).toThrow(/`vpc` differs from the VPC of `sessions`/);
    expect(() => new StreamingLlmProxy(stack, 'P2', { sessionTtl: Duration.hours(1) })).toThrow(/set `sessions` or remove them/);
    expect(() => new StreamingLlmProxy(stack, 'P3', { vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } })).toThrow(/need `vpc`/);
  });
});

describe('CloudFront', () => {
  test('puts a distribution with a CloudFront web ACL in front of the function URL, uncached and HTTPS-only', () => {
    const { template, proxy, stack } = build({ cloudFront: {} }, US_EAST_1);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        HttpVersion: 'http2and3',
        WebACLId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ProxyCdnWebAcl'), 'Arn'] },
        Logging: Match.objectLike({ Bucket: Match.anyValue(), Prefix: 'cloudfront/' }),
        DefaultCacheBehavior: Match.objectLike({
          ViewerProtocolPolicy: 'https-only',
          CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
          OriginRequestPolicyId: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
          Compress: false,
          AllowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'],
        }),
        Origins: [Match.objectLike({ CustomOriginConfig: Match.objectLike({ OriginProtocolPolicy: 'https-only', OriginReadTimeout: 60, OriginKeepaliveTimeout: 60 }) })],
      }),
    });
    template.hasResourceProperties('AWS::WAFv2::WebACL', { Scope: 'CLOUDFRONT' });
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 365 })] },
    });
    expect(stack.resolve(proxy.url)).toEqual({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [stack.getLogicalId(proxy.distribution!.node.defaultChild as cloudfront.CfnDistribution), 'DomainName'] }, '/']] });
  });

  test('fronts the REST API with its stage as the origin path', () => {
    const { template } = build({ endpoint: ProxyEndpoint.restApi(), cloudFront: {} }, US_EAST_1);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({ Origins: [Match.objectLike({ OriginPath: Match.anyValue() })] }),
    });
    template.resourceCountIs('AWS::WAFv2::WebACL', 2);
  });

  test.each([
    ['function URL', undefined],
    ['REST API', ProxyEndpoint.restApi()],
  ])('sends the viewer\'s Host to the %s as x-forwarded-host: one viewer-request function on the behaviour, cloudfront-js-2.0', (_name, endpoint) => {
    const { template, proxy, stack } = build({ endpoint, cloudFront: {} }, US_EAST_1);
    const functions = template.findResources('AWS::CloudFront::Function');
    const fnId = stack.getLogicalId(proxy.forwardedHostFunction!.node.defaultChild as cloudfront.CfnFunction);
    expect(Object.keys(functions)).toEqual([fnId]);
    expect(functions[fnId].Properties.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    const behavior = Object.values(template.findResources('AWS::CloudFront::Distribution'))[0].Properties.DistributionConfig.DefaultCacheBehavior;
    expect(behavior.OriginRequestPolicyId).toBe('b689b0a8-53d0-40ab-baf2-68738e2966ac'); // AllViewerExceptHostHeader
    expect(behavior.FunctionAssociations).toEqual([{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [fnId, 'FunctionARN'] } }]);
    // The code in the template is the function that runs: it replaces a spoofed value with the viewer's Host.
    const handler = loadFunction(functions[fnId].Properties.FunctionCode);
    const request = handler(viewerRequest('GET', '/v1/messages/batches/msgbatch_1', { 'host': 'llm.example.com', 'x-forwarded-host': 'evil.example' }));
    expect(request.headers['x-forwarded-host']).toEqual({ value: 'llm.example.com' });
  });

  test('creates no CloudFront Function without cloudFront', () => {
    const { template, proxy } = build();
    template.resourceCountIs('AWS::CloudFront::Function', 0);
    expect(proxy.forwardedHostFunction).toBeUndefined();
  });

  test('uses a custom domain with a us-east-1 certificate and TLS 1.2, and publishes https://<domain>/', () => {
    const stack = newStack(US_EAST_1);
    const certificate = new acm.Certificate(stack, 'Cert', { domainName: 'llm.example.com' });
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { cloudFront: { domainNames: ['llm.example.com'], certificate } });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Aliases: ['llm.example.com'],
        ViewerCertificate: { AcmCertificateArn: { Ref: Match.stringLikeRegexp('^Cert') }, MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' },
      }),
    });
    expect(proxy.url).toBe('https://llm.example.com/');
  });

  test('rejects a certificate outside us-east-1, imported or created in another region', () => {
    const stack = newStack(US_EAST_1);
    const imported = acm.Certificate.fromCertificateArn(stack, 'Imported', 'arn:aws:acm:eu-west-1:111111111111:certificate/0a1b2c3d');
    expect(() => new StreamingLlmProxy(stack, 'Proxy', { cloudFront: { domainNames: ['llm.example.com'], certificate: imported } }))
      .toThrow(/`cloudFront.certificate` is in eu-west-1, but CloudFront only uses ACM certificates from us-east-1/);

    const app = new App();
    const euStack = new Stack(app, 'Eu', { env: { account: '111111111111', region: 'eu-west-1' } });
    const euCert = new acm.Certificate(euStack, 'Cert', { domainName: 'llm.example.com' });
    expect(() => new StreamingLlmProxy(euStack, 'Proxy', {
      cloudFront: { domainNames: ['llm.example.com'], certificate: euCert, webAcl: ProxyWebAcl.fromArn('arn:aws:wafv2:us-east-1:111111111111:global/webacl/cdn/abc') },
    })).toThrow(/is in eu-west-1/);
  });

  test('requires domain names and certificate together', () => {
    const stack = newStack(US_EAST_1);
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:us-east-1:111111111111:certificate/0a1b2c3d');
    expect(() => new StreamingLlmProxy(stack, 'P1', { cloudFront: { domainNames: ['llm.example.com'] } })).toThrow(/`cloudFront.domainNames` needs `cloudFront.certificate`/);
    expect(() => new StreamingLlmProxy(stack, 'P2', { cloudFront: { certificate } })).toThrow(/`cloudFront.certificate` needs `cloudFront.domainNames`/);
  });

  test('a created CloudFront web ACL needs a us-east-1 stack; an existing one works anywhere', () => {
    const eu = { account: '111111111111', region: 'eu-west-1' };
    expect(() => build({ cloudFront: {} }, eu)).toThrow(/`cloudFront.webAcl`: a CloudFront web ACL must be created in us-east-1.*ProxyWebAcl.fromArn/);
    const { template } = build({ cloudFront: { webAcl: ProxyWebAcl.fromArn('arn:aws:wafv2:us-east-1:111111111111:global/webacl/cdn/abc') } }, eu);
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    template.hasResourceProperties('AWS::CloudFront::Distribution', { DistributionConfig: Match.objectLike({ WebACLId: 'arn:aws:wafv2:us-east-1:111111111111:global/webacl/cdn/abc' }) });
    expect(() => build({ cloudFront: { webAcl: ProxyWebAcl.fromArn('arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/api/abc') } }, eu))
      .toThrow(/needs a CLOUDFRONT-scope web ACL/);
  });

  test('warns when a CloudFront web ACL is created in a stack without a region', () => {
    const { stack } = build({ cloudFront: {} });
    Annotations.fromStack(stack).hasWarning('/TestStack/Proxy', Match.stringLikeRegexp('deploy it to us-east-1'));
  });

  test('rejects CloudFront with IAM auth, since SigV4 signatures name the endpoint host', () => {
    expect(() => build({ auth: ProxyAuth.iam(), cloudFront: {} }, US_EAST_1)).toThrow(/`cloudFront` cannot be combined with ProxyAuth.iam\(\)/);
  });

  test('applies geo restriction, price class and a given log bucket', () => {
    const stack = newStack(US_EAST_1);
    const logBucket = new s3.Bucket(stack, 'Logs', { objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED });
    new StreamingLlmProxy(stack, 'Proxy', {
      cloudFront: { geoRestriction: cloudfront.GeoRestriction.allowlist('DE', 'FR'), priceClass: cloudfront.PriceClass.PRICE_CLASS_100, logBucket },
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        PriceClass: 'PriceClass_100',
        Restrictions: { GeoRestriction: { RestrictionType: 'whitelist', Locations: ['DE', 'FR'] } },
        Logging: Match.objectLike({ Bucket: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Logs'), 'RegionalDomainName'] } }),
      }),
    });
    template.resourceCountIs('AWS::S3::Bucket', 1);
  });

  test('restricts the function URL to CloudFront: the origin adds a generated secret header the runtime requires', () => {
    const { template, proxy, stack } = build({ cloudFront: {} }, US_EAST_1);
    const secretId = stack.getLogicalId(proxy.originSecret!.node.defaultChild as secretsmanager.CfnSecret);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false },
    });
    const origin = only(template.findResources('AWS::CloudFront::Distribution')).Properties.DistributionConfig.Origins[0];
    const headers = Object.fromEntries((origin.OriginCustomHeaders as Array<{ HeaderName: string; HeaderValue: unknown }>)
      .map((h) => [h.HeaderName, h.HeaderValue]));
    // A dynamic reference that CloudFormation resolves: the template never holds the value.
    expect(headers['x-origin-verify']).toEqual({ 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secretId }, ':SecretString:::}}']] });
    expect(headers['x-origin-verify-rotation']).toBe('0');
    expect(functionEnv(template).PROXY_ORIGIN_VERIFY_SECRET_ARN).toEqual({ Ref: secretId });
    expect(statements(template).find((st) => st.Sid === 'ReadOriginSecret')).toMatchObject({
      Action: 'secretsmanager:GetSecretValue',
      Resource: { Ref: secretId },
    });
    // The function URL itself stays open to Anthropic and OpenAI clients, which cannot sign; the runtime checks the header.
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
  });

  test('restricts a REST API behind CloudFront too, and encrypts the origin secret with encryptionKey', () => {
    const stack = newStack(US_EAST_1);
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { endpoint: ProxyEndpoint.restApi(), cloudFront: {}, encryptionKey: key });
    const template = Template.fromStack(stack);
    const secret = template.toJSON().Resources[stack.getLogicalId(proxy.originSecret!.node.defaultChild as secretsmanager.CfnSecret)];
    expect(secret.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] });
    const origin = only(template.findResources('AWS::CloudFront::Distribution')).Properties.DistributionConfig.Origins[0];
    expect(JSON.stringify(origin.OriginCustomHeaders)).toContain('x-origin-verify');
    expect(functionEnv(template).PROXY_ORIGIN_VERIFY_SECRET_ARN).toBeDefined();
  });

  test('restrictToCloudFront: false leaves the endpoint open, creates no origin secret and warns', () => {
    const { template, proxy, stack } = build({ cloudFront: {}, restrictToCloudFront: false }, US_EAST_1);
    expect(proxy.originSecret).toBeUndefined();
    expect(functionEnv(template).PROXY_ORIGIN_VERIFY_SECRET_ARN).toBeUndefined();
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    const origin = only(template.findResources('AWS::CloudFront::Distribution')).Properties.DistributionConfig.Origins[0];
    expect(origin.OriginCustomHeaders).toBeUndefined();
    Annotations.fromStack(stack).hasWarning('/TestStack/Proxy', Match.stringLikeRegexp('`restrictToCloudFront` is false'));
  });

  test('a proxy without CloudFront has no origin secret and no origin check', () => {
    const { template, proxy } = build();
    expect(proxy.originSecret).toBeUndefined();
    expect(functionEnv(template).PROXY_ORIGIN_VERIFY_SECRET_ARN).toBeUndefined();
  });

  test('originSecretRotation changes the distribution and the regional rate rule, so a deployment re-reads the secret', () => {
    const { template } = build({ endpoint: ProxyEndpoint.restApi(), cloudFront: {}, originSecretRotation: 3 }, US_EAST_1);
    const origin = only(template.findResources('AWS::CloudFront::Distribution')).Properties.DistributionConfig.Origins[0];
    expect(origin.OriginCustomHeaders).toEqual(expect.arrayContaining([{ HeaderName: 'x-origin-verify-rotation', HeaderValue: '3' }]));
    const regional = Object.values(template.findResources('AWS::WAFv2::WebACL')).find((a) => a.Properties.Scope === 'REGIONAL')!;
    expect(regional.Properties.Rules.map((r: { Name: string }) => r.Name)).toContain('RateLimitPerClientViaCloudFront-r3');
    expect(() => build({ cloudFront: {}, originSecretRotation: -1 }, US_EAST_1)).toThrow(/`originSecretRotation` must be a whole number/);
  });

  test('the regional web ACL behind CloudFront keys the rate limit on FORWARDED_IP only for requests with the origin secret', () => {
    const { template, proxy, stack } = build({ endpoint: ProxyEndpoint.restApi(), cloudFront: {} }, US_EAST_1);
    const secretId = stack.getLogicalId(proxy.originSecret!.node.defaultChild as secretsmanager.CfnSecret);
    const regional = Object.values(template.findResources('AWS::WAFv2::WebACL')).find((a) => a.Properties.Scope === 'REGIONAL')!;
    const rules = regional.Properties.Rules as Array<{ Name: string; Statement: any }>;
    const proof = {
      ByteMatchStatement: {
        FieldToMatch: { SingleHeader: { Name: 'x-origin-verify' } },
        PositionalConstraint: 'EXACTLY',
        SearchString: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secretId }, ':SecretString:::}}']] },
        TextTransformations: [{ Priority: 0, Type: 'NONE' }],
      },
    };
    const forwarded = rules.find((r) => r.Name.startsWith('RateLimitPerClientViaCloudFront'))!.Statement.RateBasedStatement;
    expect(forwarded).toMatchObject({
      AggregateKeyType: 'FORWARDED_IP',
      ForwardedIPConfig: { HeaderName: 'X-Forwarded-For', FallbackBehavior: 'MATCH' },
      ScopeDownStatement: proof,
    });
    const perIp = rules.find((r) => r.Name === 'RateLimitPerIp')!.Statement.RateBasedStatement;
    expect(perIp).toMatchObject({ AggregateKeyType: 'IP', ScopeDownStatement: { NotStatement: { Statement: proof } } });
    // The secret never reaches the WAF logs.
    template.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: Match.arrayWith([{ SingleHeader: { Name: 'x-origin-verify' } }]),
    });
  });

  test('without CloudFront the regional web ACL keys its rate limit on the source IP alone', () => {
    const { template } = build({ endpoint: ProxyEndpoint.restApi() }, US_EAST_1);
    const rules = only(template.findResources('AWS::WAFv2::WebACL')).Properties.Rules as Array<{ Name: string; Statement: any }>;
    expect(rules.filter((r) => r.Statement.RateBasedStatement).map((r) => [r.Name, r.Statement.RateBasedStatement.AggregateKeyType]))
      .toEqual([['RateLimitPerIp', 'IP']]);
  });

  test('a function URL behind CloudFront has no unacknowledged nag findings', () => {
    const { stack } = build({ cloudFront: {} }, US_EAST_1);
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('createCloudFrontOrigin() gives other distributions (SpaFrontend) a streaming-friendly origin', () => {
    const stack = newStack();
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { endpoint: ProxyEndpoint.restApi() });
    new cloudfront.Distribution(stack, 'Site', {
      defaultBehavior: { origin: proxy.createCloudFrontOrigin() },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Origins: [Match.objectLike({ CustomOriginConfig: Match.objectLike({ OriginReadTimeout: 60, OriginKeepaliveTimeout: 60 }) })],
      }),
    });
  });
});

describe('props', () => {
  test('memorySize, timeout, reserved and provisioned concurrency', () => {
    const { template } = build({
      memorySize: 2048, timeout: Duration.minutes(5), reservedConcurrency: 20, provisionedConcurrency: 2, endpoint: ProxyEndpoint.restApi(),
    });
    template.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 2048, Timeout: 300, ReservedConcurrentExecutions: 20 });
    template.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live', ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 } });
    template.hasResourceProperties('AWS::ApiGateway::Method', { Integration: Match.objectLike({ TimeoutInMillis: 300_000 }) });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Duration', Threshold: 270_000 });
  });

  test('rejects a timeout over 15 minutes, bad memory and provisioned above reserved concurrency', () => {
    expect(() => build({ timeout: Duration.minutes(16) })).toThrow(/`timeout` must be from 1 second to 15 minutes/);
    expect(() => build({ memorySize: 64 })).toThrow(/`memorySize` must be an integer from 128 to 10240/);
    expect(() => build({ reservedConcurrency: 0 })).toThrow(/`reservedConcurrency` must be an integer from 1/);
    expect(() => build({ reservedConcurrency: 2, provisionedConcurrency: 3 })).toThrow(/`provisionedConcurrency` \(3\) cannot exceed `reservedConcurrency` \(2\)/);
  });

  test('runtime settings become the contract\'s environment variables', () => {
    const { template } = build({
      claudeFallback: ClaudeFallback.US,
      failoverRegion: 'us-west-2',
      maxRequestBodySize: Size.mebibytes(2),
      rateLimits: { requestsPerMinute: 60, tokensPerDay: 5_000_000 },
      pingInterval: Duration.seconds(5),
      extraBetas: ['context-1m-2025-08-07', 'fine-grained-tool-streaming-2025-05-14'],
      logLevel: ProxyLogLevel.WARN,
      serviceName: 'chat-proxy',
      metricsNamespace: 'Acme/Llm',
      environment: { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: 'https://vpce-123.bedrock-runtime.us-east-1.vpce.amazonaws.com' },
    });
    expect(functionEnv(template)).toMatchObject({
      PROXY_CLAUDE_FALLBACK: 'us',
      PROXY_FAILOVER_REGION: 'us-west-2',
      PROXY_MAX_BODY_BYTES: '2097152',
      PROXY_RATE_LIMITS: '{"requestsPerMinute":60,"tokensPerDay":5000000}',
      PROXY_PING_INTERVAL_MS: '5000',
      PROXY_EXTRA_BETAS: 'context-1m-2025-08-07,fine-grained-tool-streaming-2025-05-14',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      POWERTOOLS_SERVICE_NAME: 'chat-proxy',
      POWERTOOLS_METRICS_NAMESPACE: 'Acme/Llm',
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: 'https://vpce-123.bedrock-runtime.us-east-1.vpce.amazonaws.com',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'UpstreamThrottles', Namespace: 'Acme/Llm', Dimensions: [{ Name: 'service', Value: 'chat-proxy' }],
    });
  });

  test('rejects bad runtime settings with a sentence naming the prop', () => {
    expect(() => build({ environment: { PROXY_AUTH_MODE: 'none' } })).toThrow(/`environment`: PROXY_AUTH_MODE is managed by the construct/);
    expect(() => build({ maxRequestBodySize: Size.mebibytes(7) })).toThrow(/`maxRequestBodySize` must be from 1 KiB to 6 MiB/);
    expect(() => build({ failoverRegion: 'Oregon' })).toThrow(/`failoverRegion` must be a region name/);
    expect(() => build({ pingInterval: Duration.minutes(2) })).toThrow(/`pingInterval` must be from 1 to 60 seconds/);
    expect(() => build({ rateLimits: { tokensPerMinute: -1 } })).toThrow(/`rateLimits.tokensPerMinute` must be an integer from 1/);
    expect(() => build({ serviceName: 'chat proxy' })).toThrow(/`serviceName` may contain only/);
    expect(() => build({ extraBetas: ['a,b'] })).toThrow(/`extraBetas`: 'a,b' is not a beta flag name/);
    expect(() => build({ parameterPrefix: 'llm/' })).toThrow(/`parameterPrefix` must be an SSM path/);
  });

  test('logRetention applies to every log group', () => {
    const { template } = build({ logRetention: logs.RetentionDays.ONE_MONTH, endpoint: ProxyEndpoint.restApi() });
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    expect(groups).toHaveLength(3);
    for (const g of groups) expect(g.Properties.RetentionInDays).toBe(30);
  });

  test('encryptionKey encrypts logs, the secret, the topic and the environment, and lets the services use the key', () => {
    const stack = newStack(US_EAST_1);
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new StreamingLlmProxy(stack, 'Proxy', { encryptionKey: key, endpoint: ProxyEndpoint.restApi(), cloudFront: {} });
    const template = Template.fromStack(stack);
    const keyArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] };
    template.hasResourceProperties('AWS::Lambda::Function', { KmsKeyArn: keyArn });
    for (const g of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(g.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] });
    }
    template.hasResourceProperties('AWS::SecretsManager::Secret', { KmsKeyId: keyArn });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: keyArn });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn } }] },
    });
    const keyPolicy = only(template.findResources('AWS::KMS::Key')).Properties.KeyPolicy.Statement;
    const sids = keyPolicy.map((s: { Sid?: string }) => s.Sid);
    expect(sids).toEqual(expect.arrayContaining(['AllowCloudWatchLogsOfThisAccount', 'AllowCloudWatchAlarmsToPublish', 'AllowCloudFrontLogDelivery']));
    const logsStatement = keyPolicy.find((s: { Sid?: string }) => s.Sid === 'AllowCloudWatchLogsOfThisAccount');
    expect(logsStatement.Principal).toEqual({ Service: 'logs.us-east-1.amazonaws.com' });
    expect(flatten(logsStatement.Condition.ArnLike['kms:EncryptionContext:aws:logs:arn'])).toBe('arn:aws:logs:us-east-1:111111111111:log-group:*');
  });

  test('encryptionKey: CloudWatch alarms and CloudFront log delivery may use the key only on behalf of this account', () => {
    const stack = newStack(US_EAST_1);
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new StreamingLlmProxy(stack, 'Proxy', { encryptionKey: key, cloudFront: {} });
    const keyPolicy = only(Template.fromStack(stack).findResources('AWS::KMS::Key')).Properties.KeyPolicy.Statement;
    const alarms = keyPolicy.find((s: { Sid?: string }) => s.Sid === 'AllowCloudWatchAlarmsToPublish');
    expect(alarms.Principal).toEqual({ Service: 'cloudwatch.amazonaws.com' });
    expect(alarms.Condition.StringEquals).toEqual({ 'aws:SourceAccount': '111111111111' });
    expect(flatten(alarms.Condition.ArnLike['aws:SourceArn'])).toBe('arn:aws:cloudwatch:us-east-1:111111111111:alarm:*');
    const delivery = keyPolicy.find((s: { Sid?: string }) => s.Sid === 'AllowCloudFrontLogDelivery');
    expect(delivery.Principal).toEqual({ Service: 'delivery.logs.amazonaws.com' });
    expect(delivery.Condition).toEqual({ StringEquals: { 'aws:SourceAccount': '111111111111' } });
  });

  test('warns that an imported encryptionKey needs its key policy set by hand', () => {
    const stack = newStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    new StreamingLlmProxy(stack, 'Proxy', { encryptionKey: key });
    Annotations.fromStack(stack).hasWarning('/TestStack/Proxy', Match.stringLikeRegexp('key policy cannot be changed here'));
  });

  test('alarm options set thresholds, a given topic and an hourly token alarm', () => {
    const stack = newStack();
    const topic = new sns.Topic(stack, 'OnCall');
    const proxy = new StreamingLlmProxy(stack, 'Proxy', {
      alarms: {
        topic,
        errorsPerFiveMinutes: 1,
        throttlesPerFiveMinutes: 3,
        p99Duration: Duration.minutes(2),
        upstreamThrottlesPerFiveMinutes: 50,
        tokensPerHour: 2_000_000,
      },
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    expect(proxy.alarmTopic).toBe(topic);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 5);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Threshold: 1, AlarmActions: [{ Ref: Match.stringLikeRegexp('^OnCall') }] });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Throttles', Threshold: 3 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Duration', Threshold: 120_000 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'UpstreamThrottles', Threshold: 50 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 2_000_000,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'input + output' }),
        Match.objectLike({ Id: 'input', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'InputTokens' }), Period: 3600, Stat: 'Sum' }) }),
        Match.objectLike({ Id: 'output', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'OutputTokens' }) }) }),
      ]),
    });
  });

  test('dashboard: false creates no dashboard', () => {
    const { template, proxy } = build({ dashboard: false });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    expect(proxy.dashboard).toBeUndefined();
  });

  test('parameterPrefix publishes the URL and, with API keys, the secret ARN', () => {
    const { template, proxy, stack } = build({ parameterPrefix: '/llm-proxy/prod' });
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/llm-proxy/prod/url', Type: 'String', Value: stack.resolve(proxy.url) });
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/llm-proxy/prod/api-key-secret-arn', Value: { Ref: Match.stringLikeRegexp('^ProxyApiKeys') } });
    const jwt = build({ parameterPrefix: '/llm-proxy/prod', auth: ProxyAuth.jwt({ issuer: 'https://issuer.example.com', audience: ['a'] }) });
    jwt.template.resourceCountIs('AWS::SSM::Parameter', 1);
    expect(jwt.proxy.apiKeySecretArnParameter).toBeUndefined();
  });

  test('metricX() methods read the runtime\'s EMF metrics by name, namespace and service dimension', () => {
    const { proxy, stack } = build({ serviceName: 'svc' });
    const cases: Array<[() => { metricName: string; namespace: string; dimensions?: Record<string, unknown>; statistic: string }, string, string]> = [
      [() => proxy.metricRequests(), 'Requests', 'Sum'],
      [() => proxy.metricInputTokens(), 'InputTokens', 'Sum'],
      [() => proxy.metricOutputTokens(), 'OutputTokens', 'Sum'],
      [() => proxy.metricCacheReadInputTokens(), 'CacheReadInputTokens', 'Sum'],
      [() => proxy.metricCacheWriteInputTokens(), 'CacheWriteInputTokens', 'Sum'],
      [() => proxy.metricEstimatedCost(), 'EstimatedCost', 'Sum'],
      [() => proxy.metricTimeToFirstToken(), 'TimeToFirstToken', 'p90'],
      [() => proxy.metricDuration(), 'Duration', 'p90'],
      [() => proxy.metricClientErrors(), 'ClientErrors', 'Sum'],
      [() => proxy.metricUpstreamErrors(), 'UpstreamErrors', 'Sum'],
      [() => proxy.metricUpstreamThrottles(), 'UpstreamThrottles', 'Sum'],
      [() => proxy.metricRateLimited(), 'RateLimited', 'Sum'],
      [() => proxy.metricRateLimiterUnavailable(), 'RateLimiterUnavailable', 'Sum'],
    ];
    for (const [make, name, statistic] of cases) {
      const metric = make();
      expect([metric.metricName, metric.namespace, stack.resolve(metric.dimensions), metric.statistic]).toEqual([name, 'ServerlessLlm', { service: 'svc' }, statistic]);
    }
  });
});

describe('models', () => {
  test('models become PROXY_MODELS entries with the upstream inferred from the target', () => {
    const { template } = build({
      models: [
        { id: 'house-claude', aliases: ['hc'], target: 'eu.anthropic.claude-sonnet-4-6', displayName: 'House Claude', pricing: { inputPerMTok: 3, outputPerMTok: 15 }, region: 'eu-central-1', countTokens: true, maxOutputTokens: 64000, contextWindow: 1000000 },
        { id: 'nova', target: 'us.amazon.nova-pro-v1:0', failover: { region: 'us-west-2' } },
        { id: 'local', target: 'qwen3', baseUrl: 'http://10.0.1.5:8000/v1' },
        { id: 'sonnet-messages', target: 'global.anthropic.claude-sonnet-5', upstream: ProxyModelUpstream.BEDROCK_MESSAGES },
      ],
    });
    expect(JSON.parse(functionEnv(template).PROXY_MODELS as string)).toEqual({
      replace: false,
      models: [
        {
          id: 'house-claude',
          upstream: 'bedrock-invoke',
          target: 'eu.anthropic.claude-sonnet-4-6',
          aliases: ['hc'],
          displayName: 'House Claude',
          pricing: { inputPerMTok: 3, outputPerMTok: 15 },
          region: 'eu-central-1',
          countTokens: true,
          maxOutputTokens: 64000,
          contextWindow: 1000000,
        },
        { id: 'nova', upstream: 'bedrock-converse', target: 'us.amazon.nova-pro-v1:0', failover: { region: 'us-west-2' } },
        { id: 'local', upstream: 'openai-compatible', target: 'qwen3', baseUrl: 'http://10.0.1.5:8000/v1' },
        { id: 'sonnet-messages', upstream: 'bedrock-messages', target: 'global.anthropic.claude-sonnet-5' },
      ],
    });
  });

  test('replaceDefaultModels writes replace: true and needs models', () => {
    const { template } = build({ replaceDefaultModels: true, models: [{ id: 'nova', target: 'us.amazon.nova-pro-v1:0' }] });
    expect(JSON.parse(functionEnv(template).PROXY_MODELS as string).replace).toBe(true);
    expect(() => build({ replaceDefaultModels: true })).toThrow(/`replaceDefaultModels` is true but `models` is empty/);
  });

  test('rejects invalid catalogue entries with a sentence naming models', () => {
    const bad: Array<[StreamingLlmProxyProps['models'], RegExp]> = [
      [[{ id: 'a b', target: 'x' }], /models\[0\] \('a b'\): 'a b' is not a valid model name/],
      [[{ id: 'a', target: 'x' }, { id: 'b', aliases: ['A'], target: 'y' }], /models\[1\] \('b'\): the name 'A' is already used by models\[0\]/],
      [[{ id: 'a', target: '' }], /`target` is empty/],
      [[{ id: 'a', target: 'm', upstream: ProxyModelUpstream.OPENAI_COMPATIBLE }], /needs `baseUrl`/],
      [[{ id: 'a', target: 'm', baseUrl: 'ftp://x' }], /`baseUrl` must start with http/],
      [[{ id: 'a', target: 'm', baseUrl: 'http://x', region: 'us-east-1' }], /apply to Bedrock models only/],
      [[{ id: 'a', target: 'amazon.nova-pro-v1:0', baseUrl: 'http://x', upstream: ProxyModelUpstream.BEDROCK_CONVERSE }], /apply only to OPENAI_COMPATIBLE/],
      [[{ id: 'a', target: 'm', pricing: { inputPerMTok: -1, outputPerMTok: 1 } }], /`pricing.inputPerMTok` must be a non-negative number/],
      [[{ id: 'a', target: 'm', maxOutputTokens: 0 }], /`maxOutputTokens` must be a positive integer/],
      [[{ id: 'a', target: 'm', region: 'europe' }], /`region` must be a region name/],
      [[{ id: 'a', target: 'm', failover: {} }], /`failover` needs a `region` or a `target`/],
    ];
    for (const [models, message] of bad) {
      expect(() => build({ models })).toThrow(message);
    }
  });

  test('refuses at synth time a catalogue that would exceed Lambda\'s 4 KB environment, naming models', () => {
    const models = Array.from({ length: 40 }, (_, i) => ({
      id: `model-${i}`, target: 'us.amazon.nova-pro-v1:0', displayName: `A long display name for model number ${i}`,
    }));
    expect(() => build({ models })).toThrow(/over Lambda's 4096-byte limit \(the `models` catalogue takes \d+ bytes of it as PROXY_MODELS\)\. Shorten `models`/);
  });

  test('re-checks the 4 KB limit at synth, after later environment additions', () => {
    const stack = newStack();
    const models = Array.from({ length: 20 }, (_, i) => ({ id: `model-${i}`, target: 'us.amazon.nova-pro-v1:0', displayName: `Display name ${i}` }));
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { models });
    proxy.function.addEnvironment('EXTRA', 'x'.repeat(3000));
    expect(() => Template.fromStack(stack)).toThrow(/over Lambda's 4096-byte limit.*Shorten `models`/s);
  });
});

describe('cdk-nag', () => {
  test('the default configuration has no unacknowledged findings in the four packs', () => {
    const { stack } = build();
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('the fully-featured configuration has no unacknowledged findings in the four packs', () => {
    // The VPC and the model server's secret are the app's, not the proxy's: they live in a stack of their own.
    const app = new App();
    const fixtures = new Stack(app, 'Fixtures', { env: US_EAST_1 });
    const vpc = new ec2.Vpc(fixtures, 'Vpc', { natGateways: 1 });
    const serverKey = new secretsmanager.Secret(fixtures, 'ServerKey');
    const stack = new Stack(app, 'TestStack', { env: US_EAST_1 });
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const certificate = new acm.Certificate(stack, 'Cert', { domainName: 'llm.example.com' });
    const proxy = new StreamingLlmProxy(stack, 'Proxy', {
      auth: ProxyAuth.apiKeys({ cacheTtl: Duration.minutes(1) }),
      endpoint: ProxyEndpoint.restApi({ usagePlan: { quota: { limit: 100_000, period: apigateway.Period.MONTH } } }),
      models: [
        { id: 'house', target: 'eu.anthropic.claude-sonnet-4-6', pricing: { inputPerMTok: 3, outputPerMTok: 15 } },
        { id: 'local', target: 'qwen3', baseUrl: 'http://10.0.1.5:8000/v1', apiKeySecret: serverKey },
      ],
      sessions: new FakeSessionStore(vpc),
      rateLimits: { requestsPerMinute: 60, tokensPerDay: 1_000_000 },
      encryptionKey: key,
      reservedConcurrency: 50,
      provisionedConcurrency: 2,
      failoverRegion: 'us-west-2',
      corsAllowOrigins: ['https://chat.example.com'],
      cloudFront: { domainNames: ['llm.example.com'], certificate, geoRestriction: cloudfront.GeoRestriction.allowlist('US', 'DE') },
      parameterPrefix: '/llm-proxy/prod',
      alarms: { tokensPerHour: 5_000_000 },
    });
    expect(proxy.distribution).toBeDefined();
    expect(proxy.restApi).toBeDefined();
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('ProxyAuth.none() on the REST API leaves the missing authorization reported, not acknowledged', () => {
    const { stack } = build({ auth: ProxyAuth.none(), endpoint: ProxyEndpoint.restApi() });
    expect(nagFindings(stack).map((f) => f.rule)).toEqual(expect.arrayContaining(['AwsSolutions-APIG4', 'AwsSolutions-COG4']));
  });

  test('ProxyAuth.none() on a function URL leaves the public permission reported', () => {
    const { stack } = build({ auth: ProxyAuth.none() });
    expect(nagFindings(stack).map((f) => f.rule)).toContain('NIST.800.53.R5-LambdaFunctionPublicAccessProhibited');
  });

  test('ProxyWebAcl.none() leaves the missing WAF reported', () => {
    const { stack } = build({ endpoint: ProxyEndpoint.restApi({ webAcl: ProxyWebAcl.none() }) });
    expect(nagFindings(stack).map((f) => f.rule)).toEqual(expect.arrayContaining(['AwsSolutions-APIG3']));
  });
});
