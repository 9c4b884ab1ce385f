/**
 * The proxy runtime's configuration, read and validated once at init from the environment variables in
 * docs/runtime-contract.md. A bad value throws a ConfigError whose message names the variable. Nothing here is a
 * secret: secrets are referenced by ARN and loaded at run time.
 */
import type { RateLimits } from '../shared/limits';

export class ConfigError extends Error {
  public readonly name = 'ConfigError';
  constructor(public readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`);
  }
}

export type UpstreamMode = 'bedrock' | 'mock';
export type ClaudeFallback = 'global' | 'us' | 'eu' | 'apac' | 'none' | 'direct';

export type AuthConfig =
  /** Keys from the Secrets Manager secret (`secretArn`), the gateway table (PROXY_GATEWAY_TABLE), or both. */
  | { readonly mode: 'api-keys'; readonly secretArn?: string; readonly cacheTtlSeconds: number }
  | {
    readonly mode: 'jwt';
    readonly issuer: string;
    readonly audience: readonly string[];
    readonly jwksUri: string;
    readonly identityClaim: string;
    readonly tokenUse: 'id' | 'access' | 'any';
    /** Accept tokens without an `exp` claim (never expiring). */
    readonly allowMissingExpiry?: boolean;
  }
  | { readonly mode: 'iam' }
  | { readonly mode: 'none' };

/** Origin verification (CloudFront in front of the endpoint): the secret header every request must carry. */
export interface OriginVerifyConfig {
  readonly secretArn: string;
  /** Lower-case header name. */
  readonly header: string;
  readonly cacheTtlSeconds: number;
}

export interface RedisConfig {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly authMode: 'iam' | 'token' | 'none';
  readonly user?: string;
  readonly cacheName?: string;
  readonly tokenSecretArn?: string;
}

export interface ProxyConfig {
  readonly upstream: UpstreamMode;
  readonly auth: AuthConfig;
  /** Set when the endpoint sits behind CloudFront: requests without the origin secret get 403. */
  readonly originVerify?: OriginVerifyConfig;
  /** The raw PROXY_MODELS JSON (shape-checked here; entries are validated by the catalogue at init). */
  readonly modelsJson?: string;
  readonly claudeFallback: ClaudeFallback;
  readonly failoverRegion?: string;
  readonly maxBodyBytes: number;
  /** Per-identity limits; undefined when PROXY_RATE_LIMITS is unset or sets no limit. */
  readonly rateLimits?: RateLimits;
  readonly limitStore: 'memory' | 'redis' | 'dynamodb';
  readonly limitFailureMode: 'open' | 'closed';
  readonly sessions: 'off' | 'memory' | 'redis';
  readonly sessionTtlSeconds: number;
  readonly sessionMaxBytes: number;
  readonly pingIntervalMs: number;
  readonly extraBetas: readonly string[];
  readonly corsAllowOrigins: readonly string[];
  /**
   * The gateway table (PROXY_GATEWAY_TABLE): virtual keys with their policies, shared limits, spend and budgets.
   * `cacheTtlSeconds` bounds how long a key lookup (and so a revoked key) is cached.
   */
  readonly gateway?: { readonly tableName: string; readonly cacheTtlSeconds: number };
  /** What budgets do when spend cannot be read: refuse with 503 (closed, the default) or admit. */
  readonly budgetFailureMode: 'open' | 'closed';
  /** Message Batches (docs/batches.md): limits always; the AWS stores when PROXY_BATCH_TABLE is set. */
  readonly batches: BatchConfig;
  /** Set when the limit store or the session store is Redis. */
  readonly redis?: RedisConfig;
  readonly serviceName: string;
  readonly metricsNamespace: string;
  readonly logLevel: string;
  /** The function's region (AWS_REGION), when set. */
  readonly region?: string;
  /** The standard SDK endpoint settings, for upstream calls that do not go through a generated SDK command. */
  readonly endpoints: { readonly bedrockRuntime?: string; readonly all?: string };
}

/** Message Batches: the deployed stores (all three set by the construct's `batches` option, or none) and the limits. */
export interface BatchConfig {
  /** DynamoDB table (PROXY_BATCH_TABLE), SQS queue (PROXY_BATCH_QUEUE_URL) and S3 bucket (PROXY_BATCH_BUCKET). */
  readonly aws?: { readonly tableName: string; readonly queueUrl: string; readonly bucket: string; readonly inference?: boolean };
  /** Requests per batch (PROXY_BATCH_MAX_REQUESTS, default 10,000; Anthropic allows 100,000). */
  readonly maxRequests: number;
  /** Worker: deliveries of one request before a throttled or failing request ends `errored` (PROXY_BATCH_MAX_ATTEMPTS, 3). */
  readonly maxAttempts: number;
  /** Worker: model calls per delivery, with backoff, before the delivery gives up (PROXY_BATCH_CALL_ATTEMPTS, 3). */
  readonly callAttempts: number;
  /** Bedrock batch inference for large batches (PROXY_BATCH_INFERENCE_*; needs the stores above). */
  readonly inference?: BatchInferenceConfig;
}

export interface BatchInferenceConfig {
  /** The service role Bedrock runs the jobs as (PROXY_BATCH_INFERENCE_ROLE_ARN). */
  readonly roleArn: string;
  /** Smallest batch submitted as a job (PROXY_BATCH_INFERENCE_MIN_RECORDS, default 100: Bedrock's per-job minimum). */
  readonly minRecords: number;
  /** Catalogue models (ids or aliases) that may take the path, or `*`: every Claude model (PROXY_BATCH_INFERENCE_MODELS). */
  readonly models: '*' | readonly string[];
  /** The job's timeout, 24 to 168 hours (PROXY_BATCH_INFERENCE_TIMEOUT_HOURS, default 24). */
  readonly timeoutHours: number;
}

/** Bedrock's default most records in one batch inference job; a larger batch takes the queue path. */
export const MAX_INFERENCE_RECORDS = 50_000;

type Env = Record<string, string | undefined>;

/** Reads and validates the configuration. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env): ProxyConfig {
  const gateway = gatewayConfig(env);
  const limitStore = oneOf(env, 'PROXY_LIMIT_STORE', ['memory', 'redis', 'dynamodb'] as const, gateway ? 'dynamodb' : 'memory');
  if (limitStore === 'dynamodb' && !gateway) throw new ConfigError('PROXY_LIMIT_STORE', 'dynamodb needs the gateway table: set PROXY_GATEWAY_TABLE');
  const sessions = oneOf(env, 'PROXY_SESSIONS', ['off', 'memory', 'redis'] as const, 'off');
  const config: ProxyConfig = {
    upstream: oneOf(env, 'PROXY_UPSTREAM', ['bedrock', 'mock'] as const, 'bedrock'),
    auth: authConfig(env, gateway !== undefined),
    originVerify: originVerifyConfig(env),
    modelsJson: modelsJson(env),
    claudeFallback: oneOf(env, 'PROXY_CLAUDE_FALLBACK', ['global', 'us', 'eu', 'apac', 'none', 'direct'] as const, 'global'),
    failoverRegion: region(env, 'PROXY_FAILOVER_REGION'),
    maxBodyBytes: integer(env, 'PROXY_MAX_BODY_BYTES', 6_291_456, 1),
    rateLimits: rateLimits(env),
    limitStore,
    limitFailureMode: oneOf(env, 'PROXY_LIMIT_FAILURE_MODE', ['open', 'closed'] as const, 'open'),
    gateway,
    budgetFailureMode: oneOf(env, 'PROXY_BUDGET_FAILURE_MODE', ['open', 'closed'] as const, 'closed'),
    batches: batchConfig(env),
    sessions,
    sessionTtlSeconds: integer(env, 'PROXY_SESSION_TTL_SECONDS', 86_400, 1),
    sessionMaxBytes: integer(env, 'PROXY_SESSION_MAX_BYTES', 1_048_576, 1024),
    pingIntervalMs: integer(env, 'PROXY_PING_INTERVAL_MS', 10_000, 100),
    extraBetas: list(env, 'PROXY_EXTRA_BETAS', /^[a-z0-9][a-z0-9.-]*$/i, 'a beta flag name such as "interleaved-thinking-2025-05-14"'),
    corsAllowOrigins: list(env, 'PROXY_CORS_ALLOW_ORIGINS', /^(\*|https?:\/\/[^\s/,]+)$/, 'an origin such as "https://app.example.com" (or "*")'),
    redis: limitStore === 'redis' || sessions === 'redis' ? redisConfig(env) : undefined,
    serviceName: text(env, 'POWERTOOLS_SERVICE_NAME') ?? 'llm-proxy',
    metricsNamespace: text(env, 'POWERTOOLS_METRICS_NAMESPACE') ?? 'ServerlessLlm',
    logLevel: oneOf(env, 'POWERTOOLS_LOG_LEVEL', ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT', 'CRITICAL'] as const, 'INFO', true),
    region: text(env, 'AWS_REGION') ?? text(env, 'AWS_DEFAULT_REGION'),
    endpoints: {
      bedrockRuntime: url(env, 'AWS_ENDPOINT_URL_BEDROCK_RUNTIME'),
      all: url(env, 'AWS_ENDPOINT_URL'),
    },
  };
  return config;
}

/**
 * The batch worker's configuration: the proxy's (catalogue, upstream, gateway, metrics, PROXY_BATCH_*), without the
 * authentication a worker that serves no HTTP has no use for, and with the batch stores required.
 */
export function loadWorkerConfig(env: Env): ProxyConfig {
  const config = loadConfig({ ...env, PROXY_AUTH_MODE: 'none' });
  if (!config.batches.aws) throw new ConfigError('PROXY_BATCH_TABLE', 'is required by the batch worker (with PROXY_BATCH_QUEUE_URL and PROXY_BATCH_BUCKET)');
  return config;
}

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function required(env: Env, name: string, why: string): string {
  const value = text(env, name);
  if (value === undefined) throw new ConfigError(name, `required ${why}`);
  return value;
}

function shown(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T | undefined, caseInsensitive = false): T {
  const raw = text(env, name);
  if (raw === undefined) {
    if (fallback === undefined) throw new ConfigError(name, `required; one of ${values.join(', ')}`);
    return fallback;
  }
  const value = (caseInsensitive ? raw.toUpperCase() : raw) as T;
  if (!values.includes(value)) throw new ConfigError(name, `must be one of ${values.join(', ')}; got ${shown(raw)}`);
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number; got ${shown(raw)}`);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new ConfigError(name, `must be a whole number ≥ ${min}; got ${shown(raw)}`);
  return value;
}

function list(env: Env, name: string, item: RegExp, what: string): string[] {
  const raw = text(env, name);
  if (raw === undefined) return [];
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  for (const value of items) {
    if (!item.test(value)) throw new ConfigError(name, `each entry must be ${what}; got ${shown(value)}`);
  }
  return items;
}

function url(env: Env, name: string, allowHttp = true): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an absolute URL; got ${shown(raw)}`);
  }
  const ok = parsed.protocol === 'https:' || (allowHttp && parsed.protocol === 'http:');
  if (!ok) throw new ConfigError(name, `must be an ${allowHttp ? 'http(s)' : 'https'} URL; got ${shown(raw)}`);
  return raw;
}

function region(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(raw)) {
    throw new ConfigError(name, `must be an AWS region such as us-west-2; got ${shown(raw)}`);
  }
  return raw;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** True for http URLs on the loopback interface (tests and local identity providers); https is required otherwise. */
export function isLoopbackHttp(value: string): boolean {
  const parsed = new URL(value);
  return parsed.protocol === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname);
}

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;

function originVerifyConfig(env: Env): OriginVerifyConfig | undefined {
  const secretArn = text(env, 'PROXY_ORIGIN_VERIFY_SECRET_ARN');
  if (secretArn === undefined) {
    for (const name of ['PROXY_ORIGIN_VERIFY_HEADER', 'PROXY_ORIGIN_VERIFY_CACHE_TTL_SECONDS']) {
      if (text(env, name) !== undefined) throw new ConfigError(name, 'needs PROXY_ORIGIN_VERIFY_SECRET_ARN');
    }
    return undefined;
  }
  if (!SECRET_ARN.test(secretArn)) {
    throw new ConfigError('PROXY_ORIGIN_VERIFY_SECRET_ARN', `must be a Secrets Manager secret ARN; got ${shown(secretArn)}`);
  }
  const header = (text(env, 'PROXY_ORIGIN_VERIFY_HEADER') ?? 'x-origin-verify').toLowerCase();
  if (!/^x-[a-z0-9-]+$/.test(header)) {
    throw new ConfigError('PROXY_ORIGIN_VERIFY_HEADER', `must be a header name starting with x-; got ${shown(header)}`);
  }
  return { secretArn, header, cacheTtlSeconds: integer(env, 'PROXY_ORIGIN_VERIFY_CACHE_TTL_SECONDS', 60, 1) };
}

/** PROXY_GATEWAY_TABLE: a DynamoDB table name (3-255 of A-Za-z0-9_.-). */
function gatewayConfig(env: Env): ProxyConfig['gateway'] {
  const tableName = text(env, 'PROXY_GATEWAY_TABLE');
  if (tableName === undefined) return undefined;
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(tableName)) throw new ConfigError('PROXY_GATEWAY_TABLE', `must be a DynamoDB table name; got ${shown(tableName)}`);
  return { tableName, cacheTtlSeconds: integer(env, 'PROXY_GATEWAY_CACHE_TTL_SECONDS', 30, 0) };
}

/** PROXY_BATCH_TABLE, PROXY_BATCH_QUEUE_URL and PROXY_BATCH_BUCKET: all three or none. */
function batchConfig(env: Env): BatchConfig {
  const tableName = text(env, 'PROXY_BATCH_TABLE');
  const queueUrl = text(env, 'PROXY_BATCH_QUEUE_URL');
  const bucket = text(env, 'PROXY_BATCH_BUCKET');
  const limits = {
    maxRequests: integer(env, 'PROXY_BATCH_MAX_REQUESTS', 10_000, 1),
    maxAttempts: integer(env, 'PROXY_BATCH_MAX_ATTEMPTS', 3, 1),
    callAttempts: integer(env, 'PROXY_BATCH_CALL_ATTEMPTS', 3, 1),
  };
  if (limits.maxRequests > 100_000) throw new ConfigError('PROXY_BATCH_MAX_REQUESTS', `must be at most 100000 (Anthropic's limit); got ${limits.maxRequests}`);
  if (tableName === undefined && queueUrl === undefined && bucket === undefined) {
    if (text(env, 'PROXY_BATCH_INFERENCE_ROLE_ARN') !== undefined) {
      throw new ConfigError('PROXY_BATCH_INFERENCE_ROLE_ARN', 'needs the batch stores (PROXY_BATCH_TABLE, PROXY_BATCH_QUEUE_URL, PROXY_BATCH_BUCKET)');
    }
    return limits;
  }
  const missing = ([['PROXY_BATCH_TABLE', tableName], ['PROXY_BATCH_QUEUE_URL', queueUrl], ['PROXY_BATCH_BUCKET', bucket]] as const)
    .filter(([, v]) => v === undefined).map(([n]) => n);
  if (missing.length > 0) throw new ConfigError(missing[0], 'is required with the other batch settings (PROXY_BATCH_TABLE, PROXY_BATCH_QUEUE_URL, PROXY_BATCH_BUCKET: all three or none)');
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(tableName!)) throw new ConfigError('PROXY_BATCH_TABLE', `must be a DynamoDB table name; got ${shown(tableName!)}`);
  if (!/^https?:\/\/\S+$/.test(queueUrl!)) throw new ConfigError('PROXY_BATCH_QUEUE_URL', `must be an SQS queue URL; got ${shown(queueUrl!)}`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket!)) throw new ConfigError('PROXY_BATCH_BUCKET', `must be an S3 bucket name; got ${shown(bucket!)}`);
  const inference = batchInferenceConfig(env);
  return {
    ...limits,
    aws: { tableName: tableName!, queueUrl: queueUrl!, bucket: bucket!, ...(inference ? { inference: true } : {}) },
    ...(inference ? { inference } : {}),
  };
}

/** PROXY_BATCH_INFERENCE_ROLE_ARN turns Bedrock batch inference on; the other PROXY_BATCH_INFERENCE_* shape it. */
function batchInferenceConfig(env: Env): BatchInferenceConfig | undefined {
  const roleArn = text(env, 'PROXY_BATCH_INFERENCE_ROLE_ARN');
  if (roleArn === undefined) {
    const stray = ['PROXY_BATCH_INFERENCE_MIN_RECORDS', 'PROXY_BATCH_INFERENCE_MODELS', 'PROXY_BATCH_INFERENCE_TIMEOUT_HOURS']
      .find((name) => text(env, name) !== undefined);
    if (stray) throw new ConfigError(stray, 'needs PROXY_BATCH_INFERENCE_ROLE_ARN (the batch inference service role), which turns Bedrock batch inference on');
    return undefined;
  }
  if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(roleArn)) {
    throw new ConfigError('PROXY_BATCH_INFERENCE_ROLE_ARN', `must be an IAM role ARN; got ${shown(roleArn)}`);
  }
  const minRecords = integer(env, 'PROXY_BATCH_INFERENCE_MIN_RECORDS', 100, 100);
  if (minRecords > MAX_INFERENCE_RECORDS) {
    throw new ConfigError('PROXY_BATCH_INFERENCE_MIN_RECORDS', `must be at most ${MAX_INFERENCE_RECORDS} (Bedrock's records per job); got ${minRecords}`);
  }
  const timeoutHours = integer(env, 'PROXY_BATCH_INFERENCE_TIMEOUT_HOURS', 24, 24);
  if (timeoutHours > 168) throw new ConfigError('PROXY_BATCH_INFERENCE_TIMEOUT_HOURS', `must be from 24 to 168 (Bedrock's job timeout); got ${timeoutHours}`);
  const modelsRaw = text(env, 'PROXY_BATCH_INFERENCE_MODELS') ?? '*';
  const models = modelsRaw === '*' ? '*' as const : modelsRaw.split(',').map((m) => m.trim()).filter((m) => m.length > 0);
  if (models !== '*' && models.length === 0) {
    throw new ConfigError('PROXY_BATCH_INFERENCE_MODELS', 'must be `*` or a comma-separated list of catalogue model ids');
  }
  return { roleArn, minRecords, models, timeoutHours };
}

function authConfig(env: Env, gateway: boolean): AuthConfig {
  const mode = oneOf(env, 'PROXY_AUTH_MODE', ['api-keys', 'jwt', 'iam', 'none'] as const, undefined);
  switch (mode) {
    case 'api-keys': {
      const cacheTtlSeconds = integer(env, 'PROXY_API_KEYS_CACHE_TTL_SECONDS', 300, 0);
      // With the gateway table, keys live there; the secret is optional (both work together).
      if (gateway && text(env, 'PROXY_API_KEYS_SECRET_ARN') === undefined) return { mode, cacheTtlSeconds };
      const secretArn = required(env, 'PROXY_API_KEYS_SECRET_ARN', 'when PROXY_AUTH_MODE is api-keys (or set PROXY_GATEWAY_TABLE)');
      if (!/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/.test(secretArn)) {
        throw new ConfigError('PROXY_API_KEYS_SECRET_ARN', `must be a Secrets Manager secret ARN; got ${shown(secretArn)}`);
      }
      return { mode, secretArn, cacheTtlSeconds };
    }
    case 'jwt': {
      const issuer = required(env, 'PROXY_JWT_ISSUER', 'when PROXY_AUTH_MODE is jwt');
      url({ PROXY_JWT_ISSUER: issuer }, 'PROXY_JWT_ISSUER');
      const audience = list(env, 'PROXY_JWT_AUDIENCE', /^\S+$/, 'an audience or client id without spaces');
      if (audience.length === 0) throw new ConfigError('PROXY_JWT_AUDIENCE', 'required when PROXY_AUTH_MODE is jwt (comma-separated list)');
      const jwksUri = url(env, 'PROXY_JWT_JWKS_URI') ?? `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;
      if (!jwksUri.startsWith('https:') && !isLoopbackHttp(jwksUri)) {
        throw new ConfigError(text(env, 'PROXY_JWT_JWKS_URI') ? 'PROXY_JWT_JWKS_URI' : 'PROXY_JWT_ISSUER',
          `the JWKS must be fetched over https (plain http only on the loopback interface); got ${shown(jwksUri)}`);
      }
      const identityClaim = text(env, 'PROXY_JWT_IDENTITY_CLAIM') ?? 'sub';
      return {
        mode,
        issuer,
        audience,
        jwksUri,
        identityClaim,
        tokenUse: oneOf(env, 'PROXY_JWT_TOKEN_USE', ['id', 'access', 'any'] as const, 'any'),
        allowMissingExpiry: oneOf(env, 'PROXY_JWT_ALLOW_MISSING_EXPIRY', ['true', 'false'] as const, 'false') === 'true',
      };
    }
    default:
      return { mode };
  }
}

function modelsJson(env: Env): string | undefined {
  const raw = text(env, 'PROXY_MODELS');
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('PROXY_MODELS', 'must be JSON of the form {"replace": boolean, "models": [...]}; it does not parse as JSON');
  }
  const ok = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    && Array.isArray((parsed as { models?: unknown }).models)
    && ['undefined', 'boolean'].includes(typeof (parsed as { replace?: unknown }).replace);
  if (!ok) throw new ConfigError('PROXY_MODELS', 'must be JSON of the form {"replace": boolean, "models": [...]}');
  return raw;
}

function rateLimits(env: Env): RateLimits | undefined {
  const raw = text(env, 'PROXY_RATE_LIMITS');
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('PROXY_RATE_LIMITS', 'must be JSON such as {"requestsPerMinute": 60, "tokensPerMinute": 100000, "tokensPerDay": 5000000}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('PROXY_RATE_LIMITS', 'must be a JSON object with requestsPerMinute, tokensPerMinute and/or tokensPerDay');
  }
  const known = ['requestsPerMinute', 'tokensPerMinute', 'tokensPerDay'] as const;
  const limits: { -readonly [K in keyof RateLimits]: number } = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(known as readonly string[]).includes(key)) {
      throw new ConfigError('PROXY_RATE_LIMITS', `unknown limit "${key}"; known limits are ${known.join(', ')}`);
    }
    if (value === null) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new ConfigError('PROXY_RATE_LIMITS', `${key} must be a whole number ≥ 1`);
    }
    limits[key as keyof RateLimits] = value;
  }
  return Object.keys(limits).length > 0 ? limits : undefined;
}

function redisConfig(env: Env): RedisConfig {
  const why = 'when PROXY_LIMIT_STORE or PROXY_SESSIONS is redis';
  const host = required(env, 'REDIS_HOST', why);
  const portRaw = required(env, 'REDIS_PORT', why);
  const port = integer({ REDIS_PORT: portRaw }, 'REDIS_PORT', 6379, 1);
  if (port > 65535) throw new ConfigError('REDIS_PORT', `must be a port number (1-65535); got ${shown(portRaw)}`);
  const tls = oneOf(env, 'REDIS_TLS', ['true', 'false'] as const, 'true') === 'true';
  const authMode = oneOf(env, 'REDIS_AUTH_MODE', ['iam', 'token', 'none'] as const, 'iam');
  const base = { host, port, tls, authMode };
  switch (authMode) {
    case 'iam':
      return {
        ...base,
        user: required(env, 'REDIS_USER', 'when REDIS_AUTH_MODE is iam'),
        cacheName: required(env, 'REDIS_CACHE_NAME', 'when REDIS_AUTH_MODE is iam'),
      };
    case 'token':
      return { ...base, tokenSecretArn: required(env, 'REDIS_TOKEN_SECRET_ARN', 'when REDIS_AUTH_MODE is token') };
    default:
      return base;
  }
}
