import { ConfigError, loadConfig } from '../../lambda/streaming-proxy/config';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:proxy-keys-AbCdEf';

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('loadConfig accepted a bad configuration');
}

describe('loadConfig', () => {
  test('applies the documented defaults', () => {
    const config = loadConfig({ PROXY_AUTH_MODE: 'none' });
    expect(config).toMatchObject({
      upstream: 'bedrock',
      auth: { mode: 'none' },
      claudeFallback: 'global',
      maxBodyBytes: 6_291_456,
      limitStore: 'memory',
      limitFailureMode: 'open',
      sessions: 'off',
      sessionTtlSeconds: 86_400,
      sessionMaxBytes: 1_048_576,
      pingIntervalMs: 10_000,
      extraBetas: [],
      corsAllowOrigins: [],
      serviceName: 'llm-proxy',
      metricsNamespace: 'ServerlessLlm',
      logLevel: 'INFO',
    });
    expect(config.rateLimits).toBeUndefined();
    expect(config.redis).toBeUndefined();
    expect(config.modelsJson).toBeUndefined();
  });

  test('requires PROXY_AUTH_MODE and names it', () => {
    expect(failure({}).variable).toBe('PROXY_AUTH_MODE');
    expect(failure({ PROXY_AUTH_MODE: 'password' }).message).toMatch(/^PROXY_AUTH_MODE: must be one of api-keys, jwt, iam, none/);
  });

  test('api-keys mode needs a secret ARN', () => {
    expect(failure({ PROXY_AUTH_MODE: 'api-keys' }).variable).toBe('PROXY_API_KEYS_SECRET_ARN');
    expect(failure({ PROXY_AUTH_MODE: 'api-keys', PROXY_API_KEYS_SECRET_ARN: 'my-secret' }).variable).toBe('PROXY_API_KEYS_SECRET_ARN');
    const config = loadConfig({ PROXY_AUTH_MODE: 'api-keys', PROXY_API_KEYS_SECRET_ARN: ARN, PROXY_API_KEYS_CACHE_TTL_SECONDS: '0' });
    expect(config.auth).toEqual({ mode: 'api-keys', secretArn: ARN, cacheTtlSeconds: 0 });
  });

  test('jwt mode needs issuer and audience, and derives the JWKS location from the issuer', () => {
    expect(failure({ PROXY_AUTH_MODE: 'jwt' }).variable).toBe('PROXY_JWT_ISSUER');
    expect(failure({ PROXY_AUTH_MODE: 'jwt', PROXY_JWT_ISSUER: 'https://idp.example.com' }).variable).toBe('PROXY_JWT_AUDIENCE');
    const config = loadConfig({
      PROXY_AUTH_MODE: 'jwt',
      PROXY_JWT_ISSUER: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123',
      PROXY_JWT_AUDIENCE: 'client-a, client-b',
      PROXY_JWT_TOKEN_USE: 'access',
    });
    expect(config.auth).toEqual({
      mode: 'jwt',
      issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123',
      audience: ['client-a', 'client-b'],
      jwksUri: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json',
      identityClaim: 'sub',
      tokenUse: 'access',
      allowMissingExpiry: false,
    });
  });

  test('PROXY_JWT_ALLOW_MISSING_EXPIRY=true accepts tokens without exp; anything but true or false is refused', () => {
    const base = { PROXY_AUTH_MODE: 'jwt', PROXY_JWT_ISSUER: 'https://idp.example.com', PROXY_JWT_AUDIENCE: 'a' };
    expect(loadConfig({ ...base, PROXY_JWT_ALLOW_MISSING_EXPIRY: 'true' }).auth).toMatchObject({ allowMissingExpiry: true });
    expect(failure({ ...base, PROXY_JWT_ALLOW_MISSING_EXPIRY: 'yes' }).variable).toBe('PROXY_JWT_ALLOW_MISSING_EXPIRY');
  });

  test('refuses a JWKS over plain http except on loopback', () => {
    const base = { PROXY_AUTH_MODE: 'jwt', PROXY_JWT_ISSUER: 'https://idp.example.com', PROXY_JWT_AUDIENCE: 'a' };
    expect(failure({ ...base, PROXY_JWT_JWKS_URI: 'http://idp.example.com/jwks' }).variable).toBe('PROXY_JWT_JWKS_URI');
    expect(loadConfig({ ...base, PROXY_JWT_JWKS_URI: 'http://127.0.0.1:8080/jwks' }).auth).toMatchObject({ jwksUri: 'http://127.0.0.1:8080/jwks' });
  });

  test('validates numbers, lists and regions with the variable name', () => {
    const base = { PROXY_AUTH_MODE: 'none' };
    expect(failure({ ...base, PROXY_MAX_BODY_BYTES: '10MB' }).message).toMatch(/^PROXY_MAX_BODY_BYTES: must be a whole number/);
    expect(failure({ ...base, PROXY_PING_INTERVAL_MS: '5' }).variable).toBe('PROXY_PING_INTERVAL_MS');
    expect(failure({ ...base, PROXY_FAILOVER_REGION: 'mars' }).variable).toBe('PROXY_FAILOVER_REGION');
    expect(failure({ ...base, PROXY_EXTRA_BETAS: 'good-2025-01-01, bad flag' }).variable).toBe('PROXY_EXTRA_BETAS');
    expect(failure({ ...base, PROXY_CORS_ALLOW_ORIGINS: 'app.example.com' }).variable).toBe('PROXY_CORS_ALLOW_ORIGINS');
    expect(failure({ ...base, PROXY_UPSTREAM: 'openai' }).variable).toBe('PROXY_UPSTREAM');
    expect(failure({ ...base, PROXY_CLAUDE_FALLBACK: 'asia' }).variable).toBe('PROXY_CLAUDE_FALLBACK');
    const config = loadConfig({
      ...base,
      PROXY_FAILOVER_REGION: 'us-west-2',
      PROXY_EXTRA_BETAS: 'a-2025-01-01,b-2025-02-02',
      PROXY_CORS_ALLOW_ORIGINS: 'https://app.example.com,http://localhost:5173',
      POWERTOOLS_LOG_LEVEL: 'debug',
    });
    expect(config.failoverRegion).toBe('us-west-2');
    expect(config.extraBetas).toEqual(['a-2025-01-01', 'b-2025-02-02']);
    expect(config.corsAllowOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(config.logLevel).toBe('DEBUG');
  });

  test('parses PROXY_RATE_LIMITS and rejects unknown or non-positive limits', () => {
    const base = { PROXY_AUTH_MODE: 'none' };
    expect(loadConfig({ ...base, PROXY_RATE_LIMITS: '{"requestsPerMinute":60,"tokensPerDay":1000000}' }).rateLimits)
      .toEqual({ requestsPerMinute: 60, tokensPerDay: 1_000_000 });
    expect(loadConfig({ ...base, PROXY_RATE_LIMITS: '{}' }).rateLimits).toBeUndefined();
    expect(failure({ ...base, PROXY_RATE_LIMITS: '{"rpm":60}' }).message).toMatch(/PROXY_RATE_LIMITS: unknown limit "rpm"/);
    expect(failure({ ...base, PROXY_RATE_LIMITS: '{"tokensPerMinute":0}' }).variable).toBe('PROXY_RATE_LIMITS');
    expect(failure({ ...base, PROXY_RATE_LIMITS: 'sixty' }).variable).toBe('PROXY_RATE_LIMITS');
  });

  test('shape-checks PROXY_MODELS', () => {
    const base = { PROXY_AUTH_MODE: 'none' };
    expect(failure({ ...base, PROXY_MODELS: '[' }).variable).toBe('PROXY_MODELS');
    expect(failure({ ...base, PROXY_MODELS: '{"models":{}}' }).variable).toBe('PROXY_MODELS');
    expect(loadConfig({ ...base, PROXY_MODELS: '{"replace":false,"models":[]}' }).modelsJson).toBe('{"replace":false,"models":[]}');
  });

  test('requires the Redis settings only when Redis is used', () => {
    const base = { PROXY_AUTH_MODE: 'none' };
    expect(failure({ ...base, PROXY_SESSIONS: 'redis' }).variable).toBe('REDIS_HOST');
    expect(failure({ ...base, PROXY_LIMIT_STORE: 'redis', REDIS_HOST: 'h' }).variable).toBe('REDIS_PORT');
    expect(failure({ ...base, PROXY_LIMIT_STORE: 'redis', REDIS_HOST: 'h', REDIS_PORT: '6379' }).variable).toBe('REDIS_USER');
    expect(failure({ ...base, PROXY_LIMIT_STORE: 'redis', REDIS_HOST: 'h', REDIS_PORT: '70000', REDIS_AUTH_MODE: 'none' }).variable).toBe('REDIS_PORT');
    const config = loadConfig({
      ...base,
      PROXY_SESSIONS: 'redis',
      REDIS_HOST: 'master.cache.local',
      REDIS_PORT: '6379',
      REDIS_AUTH_MODE: 'token',
      REDIS_TOKEN_SECRET_ARN: ARN,
    });
    expect(config.redis).toEqual({ host: 'master.cache.local', port: 6379, tls: true, authMode: 'token', tokenSecretArn: ARN });
  });
});
