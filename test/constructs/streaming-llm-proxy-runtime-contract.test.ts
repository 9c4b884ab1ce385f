/**
 * The construct and the proxy runtime must not drift: this test synthesizes StreamingLlmProxy in several configurations
 * and feeds the function's environment to the runtime's real `loadConfig` and catalogue, then checks that every model
 * the runtime can call is allowed by the function's IAM policy, and that the construct's metrics are the runtime's.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Duration, Size, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Catalogue, DEFAULT_MODELS, isClaude, parseModelsEnv } from '../../lambda/streaming-proxy/catalogue';
import { loadConfig } from '../../lambda/streaming-proxy/config';
import {
  BudgetFailureMode, ClaudeFallback, IProxySessionStore, JwtTokenUse, ProxyAuth, ProxyEndpoint, ProxyGateway, ProxyLogLevel,
  ProxyModelUpstream, ProxyUpstream, ProxyWebAcl, RateLimitFailureMode, StreamingLlmProxy, StreamingLlmProxyProps,
} from '../../src';
import { DEFAULT_CATALOGUE_TARGETS, DEFAULT_CLAUDE_MODELS, DEFAULT_EMBEDDING_TARGETS } from '../../src/streaming-llm-proxy/catalogue';

const ACCOUNT = '111111111111';
const REGION = 'us-east-1';

/** What a session store such as VpcRedisSessions sets through grantConnect (IAM auth). */
class RedisLikeStore implements IProxySessionStore {
  constructor(public readonly vpc: ec2.IVpc) {}
  public grantConnect(fn: lambda.Function): void {
    fn.addEnvironment('REDIS_HOST', 'master.sessions-abc.xyz123.use1.cache.amazonaws.com');
    fn.addEnvironment('REDIS_PORT', '6379');
    fn.addEnvironment('REDIS_TLS', 'true');
    fn.addEnvironment('REDIS_AUTH_MODE', 'iam');
    fn.addEnvironment('REDIS_USER', 'llm-proxy');
    fn.addEnvironment('REDIS_CACHE_NAME', 'sessions-abc');
  }
}

interface Synthesized {
  readonly env: Record<string, string>;
  /** What InvokeCatalogueModels allows (chat models: InvokeModel, streaming and CountTokens). */
  readonly policyResources: string[];
  /** What InvokeEmbeddingModels allows (embedding models: InvokeModel only). */
  readonly embeddingResources: string[];
}

/** Synthesizes the proxy and returns its environment and Bedrock resources with deploy-time values filled in. */
function synthesize(configure: (stack: Stack) => StreamingLlmProxyProps): Synthesized {
  const stack = new Stack(new App(), 'ContractStack', { env: { account: ACCOUNT, region: REGION } });
  new StreamingLlmProxy(stack, 'Proxy', configure(stack));
  const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };

  const resolve = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const v = value as Record<string, any>;
    if (v.Ref === 'AWS::Partition') return 'aws';
    if (v.Ref === 'AWS::AccountId') return ACCOUNT;
    if (v.Ref === 'AWS::Region') return REGION;
    if (typeof v.Ref === 'string') {
      const resource = template.Resources[v.Ref];
      // A secret's Ref is its full ARN (with the 6-character suffix Secrets Manager adds).
      if (resource?.Type === 'AWS::SecretsManager::Secret') return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${v.Ref}-AbCdEf`;
      // A table's Ref is its name (CloudFormation generates one like <stack>-<logical id>-<suffix>).
      if (resource?.Type === 'AWS::DynamoDB::Table') return `${stack.stackName}-${v.Ref}-1A2B3C4D5E6F`;
      // A queue's Ref is its URL, a bucket's its (lower-case, generated) name.
      if (resource?.Type === 'AWS::SQS::Queue') return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${stack.stackName}-${v.Ref}-1A2B3C`;
      if (resource?.Type === 'AWS::S3::Bucket') return `contractstack-${v.Ref.toLowerCase().slice(0, 30)}-1a2b3c`;
      throw new Error(`no deploy-time value for Ref ${v.Ref} (${resource?.Type})`);
    }
    if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(resolve).join(v['Fn::Join'][0]);
    // A role's Arn (CloudFormation names it <stack>-<logical id>-<suffix>).
    const getAtt = v['Fn::GetAtt'] as [string, string] | undefined;
    if (getAtt?.[1] === 'Arn' && template.Resources[getAtt[0]]?.Type === 'AWS::IAM::Role') {
      return `arn:aws:iam::${ACCOUNT}:role/${stack.stackName}-${getAtt[0]}-1A2B3C4D5E6F`;
    }
    throw new Error(`no deploy-time value for ${JSON.stringify(value)}`);
  };

  const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function')!;
  const env = Object.fromEntries(Object.entries(fn.Properties.Environment.Variables as Record<string, unknown>).map(([k, v]) => [k, resolve(v)]));
  const policy = Object.values(template.Resources).find((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes('ProxyRole'))!;
  const statement = (sid: string) => {
    const found = (policy.Properties.PolicyDocument.Statement as Array<{ Sid?: string; Resource: unknown }>).find((s) => s.Sid === sid);
    return found ? ([] as unknown[]).concat(found.Resource).map(resolve) : [];
  };
  return { env, policyResources: statement('InvokeCatalogueModels'), embeddingResources: statement('InvokeEmbeddingModels') };
}

/** IAM's glob match (`*` matches any characters, including none). */
function allowed(arn: string, resources: readonly string[]): boolean {
  return resources.some((r) => new RegExp(`^${r.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(arn));
}

/**
 * The ARNs Bedrock authorizes when the runtime calls `target` from `region`: the inference profile in the calling
 * region and the foundation model in a destination region (global profiles also check the region-less model ARN);
 * ARNs are checked as they are.
 */
function arnsChecked(target: string, region: string): string[] {
  if (target.startsWith('arn:')) return [target];
  const profile = /^(global|us|eu|apac|jp|au|ca|us-gov)\.(.+)$/.exec(target);
  if (!profile) return [`arn:aws:bedrock:${region}::foundation-model/${target}`];
  const arns = [
    `arn:aws:bedrock:${region}:${ACCOUNT}:inference-profile/${target}`,
    `arn:aws:bedrock:us-west-2::foundation-model/${profile[2]}`,
    `arn:aws:bedrock:${region}::foundation-model/${profile[2]}`,
  ];
  if (profile[1] === 'global') arns.push(`arn:aws:bedrock:::foundation-model/${profile[2]}`);
  return arns;
}

/** Claude names outside the catalogue that the fallback maps by pattern (a future model, a dated id). */
const UNLISTED_CLAUDE_NAMES = ['claude-opus-6', 'claude-sonnet-4-7-20270101'];

/** Loads the environment with the runtime's own code and checks every callable model against the IAM policy. */
function checkAgainstRuntime(synth: Synthesized): ReturnType<typeof loadConfig> {
  const config = loadConfig(synth.env);
  const models = config.modelsJson !== undefined ? parseModelsEnv(config.modelsJson) : undefined;
  const catalogue = new Catalogue({ models, claudeFallback: config.claudeFallback, upstream: config.upstream });
  const names = [...catalogue.list().map((m) => m.id), ...UNLISTED_CLAUDE_NAMES];
  for (const name of names) {
    const model = catalogue.resolve(name);
    if (!model || !model.upstream.startsWith('bedrock')) continue;
    const region = model.region ?? REGION;
    const calls: Array<[string, string]> = [[model.target, region]];
    const failoverRegion = model.failover?.region ?? config.failoverRegion;
    if (model.failover || failoverRegion) calls.push([model.failover?.target ?? model.target, failoverRegion ?? region]);
    for (const [target, callRegion] of calls) {
      const resources = model.kind === 'embedding' ? synth.embeddingResources : synth.policyResources;
      for (const arn of arnsChecked(target, callRegion)) {
        if (!allowed(arn, resources)) {
          throw new Error(`model '${name}' (${target} from ${callRegion}) needs ${arn}, which the function's policy does not allow`);
        }
      }
    }
  }
  return config;
}

describe('the construct configures the runtime it deploys', () => {
  test('the default configuration loads, and every catalogue model and the claude-* fallback are allowed', () => {
    const synth = synthesize(() => ({}));
    const config = checkAgainstRuntime(synth);
    expect(config.auth).toEqual({ mode: 'api-keys', secretArn: expect.stringMatching(/^arn:aws:secretsmanager:us-east-1:111111111111:secret:ProxyApiKeys/), cacheTtlSeconds: 300 });
    expect(config.upstream).toBe('bedrock');
    expect(config.claudeFallback).toBe('global');
    expect(config.modelsJson).toBeUndefined();
    expect(config.sessions).toBe('off');
    expect(config.serviceName).toMatch(/^ContractStack-Proxy-/);
  });

  test('JWT auth behind the REST API with models, limits, CORS and every tuning variable loads as set', () => {
    const synth = synthesize(() => ({
      auth: ProxyAuth.jwt({
        issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf',
        audience: ['client-a', 'client-b'],
        identityClaim: 'email',
        tokenUse: JwtTokenUse.ID,
      }),
      endpoint: ProxyEndpoint.restApi(),
      models: [
        { id: 'house-claude', aliases: ['hc'], target: 'eu.anthropic.claude-sonnet-4-6', region: 'eu-central-1', pricing: { inputPerMTok: 3, outputPerMTok: 15 } },
        { id: 'nova-fo', target: 'us.amazon.nova-lite-v1:0', failover: { region: 'us-west-2', target: 'us.amazon.nova-micro-v1:0' } },
        { id: 'claude-sonnet-4-6', target: 'us.anthropic.claude-sonnet-4-6', upstream: ProxyModelUpstream.BEDROCK_MESSAGES },
      ],
      claudeFallback: ClaudeFallback.US,
      failoverRegion: 'us-west-2',
      maxRequestBodySize: Size.mebibytes(4),
      rateLimits: { requestsPerMinute: 30, tokensPerMinute: 200_000 },
      pingInterval: Duration.seconds(15),
      extraBetas: ['context-1m-2025-08-07'],
      corsAllowOrigins: ['https://chat.example.com'],
      logLevel: ProxyLogLevel.DEBUG,
      serviceName: 'chat-proxy',
      metricsNamespace: 'Acme/Llm',
      environment: { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: 'https://bedrock-runtime.vpce.example.com' },
    }));
    const config = checkAgainstRuntime(synth);
    expect(config).toMatchObject({
      auth: {
        mode: 'jwt',
        issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf',
        audience: ['client-a', 'client-b'],
        identityClaim: 'email',
        tokenUse: 'id',
        jwksUri: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf/.well-known/jwks.json',
      },
      claudeFallback: 'us',
      failoverRegion: 'us-west-2',
      maxBodyBytes: 4 * 1024 * 1024,
      rateLimits: { requestsPerMinute: 30, tokensPerMinute: 200_000 },
      limitStore: 'memory',
      pingIntervalMs: 15_000,
      extraBetas: ['context-1m-2025-08-07'],
      corsAllowOrigins: ['https://chat.example.com'],
      logLevel: 'DEBUG',
      serviceName: 'chat-proxy',
      metricsNamespace: 'Acme/Llm',
      endpoints: { bedrockRuntime: 'https://bedrock-runtime.vpce.example.com' },
    });
    const models = parseModelsEnv(config.modelsJson!);
    expect(models.replace).toBe(false);
    expect(models.models.map((m) => [m.id, m.upstream])).toEqual([
      ['house-claude', 'bedrock-invoke'], ['nova-fo', 'bedrock-converse'], ['claude-sonnet-4-6', 'bedrock-messages'],
    ]);
    expect(new Catalogue({ models }).resolve('hc')?.target).toBe('eu.anthropic.claude-sonnet-4-6');
  });

  test('IAM auth on the mock upstream loads, and the function may call no Bedrock model', () => {
    const synth = synthesize(() => ({ auth: ProxyAuth.iam(), upstream: ProxyUpstream.MOCK }));
    const config = checkAgainstRuntime(synth);
    expect(config.auth).toEqual({ mode: 'iam' });
    expect(config.upstream).toBe('mock');
    expect(synth.policyResources).toEqual([]);
    expect(new Catalogue({ upstream: config.upstream }).resolve('claude-sonnet-4-6')?.upstream).toBe('mock');
  });

  test('a replaced catalogue without fallback loads, and only its models are allowed', () => {
    const synth = synthesize((stack) => ({
      auth: ProxyAuth.none(),
      replaceDefaultModels: true,
      claudeFallback: ClaudeFallback.NONE,
      models: [
        { id: 'sonnet', target: 'global.anthropic.claude-sonnet-4-6', countTokens: true, maxOutputTokens: 64_000, contextWindow: 1_000_000 },
        { id: 'app-profile', target: `arn:aws:bedrock:us-east-1:${ACCOUNT}:application-inference-profile/abc123`, upstream: ProxyModelUpstream.BEDROCK_CONVERSE },
        { id: 'local', target: 'qwen3-32b', baseUrl: 'http://10.0.1.5:8000/v1', apiKeySecret: new secretsmanager.Secret(stack, 'ServerKey') },
      ],
    }));
    const config = checkAgainstRuntime(synth);
    expect(config.auth).toEqual({ mode: 'none' });
    expect(config.claudeFallback).toBe('none');
    const models = parseModelsEnv(config.modelsJson!);
    expect(models.replace).toBe(true);
    expect(models.models.find((m) => m.id === 'local')?.apiKeySecretArn).toMatch(/^arn:aws:secretsmanager:us-east-1:111111111111:secret:ServerKey/);
    // Nothing outside the catalogue: a default model and a new Claude name are refused by the policy.
    expect(allowed('arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0', synth.policyResources)).toBe(false);
    expect(allowed('arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-opus-6', synth.policyResources)).toBe(false);
  });

  test('sessions switch the runtime to Redis and it loads the store settings the store set', () => {
    const synth = synthesize((stack) => ({
      sessions: new RedisLikeStore(new ec2.Vpc(stack, 'Vpc')),
      rateLimits: { tokensPerDay: 1_000_000 },
      rateLimitFailureMode: RateLimitFailureMode.CLOSED,
      sessionTtl: Duration.hours(12),
      sessionMaxSize: Size.kibibytes(256),
      auth: ProxyAuth.apiKeys({ cacheTtl: Duration.seconds(30) }),
    }));
    const config = checkAgainstRuntime(synth);
    expect(config).toMatchObject({
      sessions: 'redis',
      limitStore: 'redis',
      limitFailureMode: 'closed',
      sessionTtlSeconds: 43_200,
      sessionMaxBytes: 262_144,
      redis: { host: 'master.sessions-abc.xyz123.use1.cache.amazonaws.com', port: 6379, tls: true, authMode: 'iam', user: 'llm-proxy', cacheName: 'sessions-abc' },
      auth: { mode: 'api-keys', cacheTtlSeconds: 30 },
    });
  });

  test('a gateway table gives the runtime the table for keys, limits and spend, beside the key secret', () => {
    const synth = synthesize(() => ({
      gateway: ProxyGateway.newTable({ budgetFailureMode: BudgetFailureMode.OPEN, cacheTtl: Duration.seconds(10) }),
      rateLimits: { requestsPerMinute: 60 },
      rateLimitFailureMode: RateLimitFailureMode.CLOSED,
    }));
    const config = checkAgainstRuntime(synth);
    expect(config).toMatchObject({
      gateway: { tableName: expect.stringMatching(/^ContractStack-ProxyGatewayTable/), cacheTtlSeconds: 10 },
      limitStore: 'dynamodb',
      limitFailureMode: 'closed',
      budgetFailureMode: 'open',
      auth: { mode: 'api-keys', secretArn: expect.stringMatching(/:secret:ProxyApiKeys/) },
    });
    expect(config.redis).toBeUndefined();
  });

  test('an existing gateway table with JWT auth loads with budgets failing closed, and Redis limits stay with sessions', () => {
    const jwt = loadConfig(synthesize((stack) => ({
      auth: ProxyAuth.jwt({ issuer: 'https://issuer.example.com', audience: ['proxy'] }),
      gateway: ProxyGateway.fromTable(dynamodb.Table.fromTableName(stack, 'Table', 'shared-gateway')),
    })).env);
    expect(jwt).toMatchObject({ gateway: { tableName: 'shared-gateway', cacheTtlSeconds: 30 }, limitStore: 'dynamodb', budgetFailureMode: 'closed' });
    const redis = checkAgainstRuntime(synthesize((stack) => ({
      sessions: new RedisLikeStore(new ec2.Vpc(stack, 'Vpc')),
      gateway: ProxyGateway.newTable(),
    })));
    expect(redis).toMatchObject({ limitStore: 'redis', sessions: 'redis', gateway: { tableName: expect.any(String) }, redis: { host: expect.any(String) } });
  });

  test('the runtime refuses a bad value the construct would never write (the check is not vacuous)', () => {
    const synth = synthesize(() => ({}));
    expect(() => loadConfig({ ...synth.env, PROXY_CLAUDE_FALLBACK: 'mars' })).toThrow(/PROXY_CLAUDE_FALLBACK/);
    expect(() => checkAgainstRuntime({ ...synth, policyResources: synth.policyResources.filter((r) => !r.includes('anthropic.claude-*')) }))
      .toThrow(/needs arn:aws:bedrock/);
  });
});

describe('origin verification', () => {
  test('a proxy behind CloudFront gives the runtime the origin secret\'s ARN, which loadConfig turns into the origin check', () => {
    const { env } = synthesize(() => ({ cloudFront: {} }));
    const config = loadConfig(env);
    expect(config.originVerify).toEqual({
      secretArn: expect.stringMatching(/^arn:aws:secretsmanager:us-east-1:111111111111:secret:ProxyOriginSecret[0-9A-F]{8}-AbCdEf$/),
      header: 'x-origin-verify',
      cacheTtlSeconds: 60,
    });
  });

  test('a proxy without CloudFront, or with restrictToCloudFront: false, has no origin check', () => {
    expect(loadConfig(synthesize(() => ({})).env).originVerify).toBeUndefined();
    expect(loadConfig(synthesize(() => ({ cloudFront: {}, restrictToCloudFront: false })).env).originVerify).toBeUndefined();
  });
});

describe('batches', () => {
  test('a proxy with batches gives the runtime its table, queue and bucket and the limits', () => {
    const { env } = synthesize(() => ({ batches: { maxRequestsPerBatch: 2000, maxAttempts: 4, callAttempts: 2 } }));
    const config = loadConfig(env).batches;
    expect(config).toEqual({
      aws: { tableName: expect.stringContaining('BatchTable'), queueUrl: expect.stringMatching(/^https:\/\/sqs\./), bucket: expect.stringContaining('batchbucket') },
      maxRequests: 2000,
      maxAttempts: 4,
      callAttempts: 2,
    });
  });

  test('with batchInference the runtime gets the service role and the path\'s settings', () => {
    const { env } = synthesize(() => ({
      batches: { batchInference: { minRecords: 250, models: ['claude-sonnet-4-6', 'claude-haiku-4-5'], timeout: Duration.hours(48) } },
    }));
    expect(loadConfig(env).batches.inference).toEqual({
      roleArn: expect.stringMatching(/^arn:aws:iam::\d{12}:role\/.*BatchInferenceRole/),
      minRecords: 250,
      models: ['claude-sonnet-4-6', 'claude-haiku-4-5'],
      timeoutHours: 48,
    });
    expect(loadConfig(env).batches.aws?.inference).toBe(true);
    expect(loadConfig(synthesize(() => ({ batches: { batchInference: {} } })).env).batches.inference).toMatchObject({ minRecords: 100, models: '*', timeoutHours: 24 });
  });

  test('with a gateway table the batch state lives in it', () => {
    const { env } = synthesize(() => ({ gateway: ProxyGateway.newTable(), batches: {} }));
    expect(loadConfig(env).batches.aws?.tableName).toBe(env.PROXY_GATEWAY_TABLE);
    expect(loadConfig(env).batches).toMatchObject({ maxRequests: 10000, maxAttempts: 3, callAttempts: 3 });
  });
});

describe('shared data', () => {
  test('the construct\'s default target lists are the runtime catalogue\'s Bedrock targets, chat and embedding apart', () => {
    const runtimeTargets = { chat: new Set<string>(), embedding: new Set<string>() };
    for (const model of DEFAULT_MODELS) {
      if (!model.upstream.startsWith('bedrock')) continue;
      const targets = runtimeTargets[model.kind ?? 'chat'];
      targets.add(model.target);
      if (model.failover?.target) targets.add(model.failover.target);
    }
    expect([...DEFAULT_CATALOGUE_TARGETS].sort()).toEqual([...runtimeTargets.chat].sort());
    expect([...DEFAULT_EMBEDDING_TARGETS].sort()).toEqual([...runtimeTargets.embedding].sort());
  });

  test('the construct\'s default Claude model names are the runtime catalogue\'s Claude models on Anthropic-native upstreams', () => {
    const runtime = DEFAULT_MODELS
      .filter((m) => isClaude(m) && (m.upstream === 'bedrock-invoke' || m.upstream === 'bedrock-messages'))
      .map((m) => ({ id: m.id, aliases: [...(m.aliases ?? [])] }));
    // Every Claude model of the default catalogue is on one of them, so none is left out.
    expect(runtime).toHaveLength(DEFAULT_MODELS.filter(isClaude).length);
    expect(DEFAULT_CLAUDE_MODELS.map((m) => ({ id: m.id, aliases: [...(m.aliases ?? [])] }))).toEqual(runtime);
  });

  test('every environment variable the construct writes is in the runtime contract', () => {
    const contract = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'runtime-contract.md'), 'utf8');
    const documented = new Set([...contract.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));
    const written = new Set<string>();
    for (const props of [
      (): StreamingLlmProxyProps => ({}),
      (): StreamingLlmProxyProps => ({
        auth: ProxyAuth.jwt({ issuer: 'https://issuer.example.com', audience: ['a'], jwksUri: 'https://issuer.example.com/keys', identityClaim: 'sub', tokenUse: JwtTokenUse.ANY }),
        endpoint: ProxyEndpoint.restApi(),
        models: [{ id: 'm', target: 'us.amazon.nova-pro-v1:0' }],
        failoverRegion: 'us-west-2',
        maxRequestBodySize: Size.mebibytes(1),
        rateLimits: { requestsPerMinute: 1 },
        pingInterval: Duration.seconds(5),
        extraBetas: ['x'],
        corsAllowOrigins: ['https://a.example.com'],
        cloudFront: { webAcl: ProxyWebAcl.none() },
      }),
    ]) {
      for (const name of Object.keys(synthesize(props).env)) written.add(name);
    }
    for (const name of Object.keys(synthesize((stack) => ({
      sessions: new RedisLikeStore(new ec2.Vpc(stack, 'Vpc')),
      sessionTtl: Duration.hours(1),
      sessionMaxSize: Size.kibibytes(64),
      rateLimitFailureMode: RateLimitFailureMode.OPEN,
      auth: ProxyAuth.apiKeys({ cacheTtl: Duration.seconds(1) }),
      gateway: ProxyGateway.newTable({ budgetFailureMode: BudgetFailureMode.CLOSED, cacheTtl: Duration.seconds(5) }),
      batches: { maxRequestsPerBatch: 50, maxAttempts: 2, callAttempts: 4, batchInference: { minRecords: 200 } },
    })).env)) {
      written.add(name);
    }
    expect([...written].filter((name) => !documented.has(name))).toEqual([]);
  });

  test('metricX() reads exactly the metric names the contract lists for the runtime', () => {
    const contract = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'runtime-contract.md'), 'utf8');
    const section = contract.slice(contract.indexOf('## Metrics'), contract.indexOf('## HTTP surface'));
    const documented = [...section.matchAll(/`([A-Z][A-Za-z]+)`/g)].map((m) => m[1]).filter((n) => n !== 'POWERTOOLS_METRICS_NAMESPACE');
    const proxy = new StreamingLlmProxy(new Stack(new App(), 'M'), 'Proxy');
    const read = Object.getOwnPropertyNames(StreamingLlmProxy.prototype)
      .filter((name) => /^metric[A-Z]/.test(name))
      .map((name) => (proxy as unknown as Record<string, (...args: string[]) => { metricName: string }>)[name](...(name === 'metricTeamEstimatedCost' ? ['platform'] : [])).metricName);
    expect(read.sort()).toEqual([...documented].sort());
  });
});
