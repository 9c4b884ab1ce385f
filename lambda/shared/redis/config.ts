/**
 * The connection settings of the Redis runtime. The proxy reads the REDIS_* variables that
 * `VpcRedisSessions.grantConnect()` sets once at init (lambda/streaming-proxy/config.ts); `connectionConfig` turns
 * that flat form into this one, checking that each auth mode has what it needs.
 */

/** How the function authenticates to the cache. */
export type RedisAuthConfig =
  /** ElastiCache IAM authentication: the runtime signs a short-lived token for `userId` on `cacheName`. */
  | { readonly mode: 'iam'; readonly userId: string; readonly cacheName: string; readonly region: string }
  /** A static AUTH token held in Secrets Manager as `{ "password": "..." }` (rotated by the bundled rotation function). */
  | { readonly mode: 'token'; readonly secretArn: string }
  /** No authentication (a local redis-server). */
  | { readonly mode: 'none' };

export interface RedisConnectionConfig {
  readonly host: string;
  readonly port: number;
  /** TLS in transit. */
  readonly tls: boolean;
  readonly auth: RedisAuthConfig;
}

/** The REDIS_* variables as the proxy's config loader validates them (structurally its `RedisConfig`). */
export interface RedisEnvSettings {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly authMode: 'iam' | 'token' | 'none';
  /** REDIS_USER */
  readonly user?: string;
  /** REDIS_CACHE_NAME */
  readonly cacheName?: string;
  /** REDIS_TOKEN_SECRET_ARN */
  readonly tokenSecretArn?: string;
}

/** The connection config for the REDIS_* settings; `region` (AWS_REGION) is needed to sign IAM tokens. */
export function connectionConfig(settings: RedisEnvSettings, region: string | undefined): RedisConnectionConfig {
  const base = { host: settings.host, port: settings.port, tls: settings.tls };
  switch (settings.authMode) {
    case 'iam':
      if (!settings.user) throw new Error("REDIS_USER is required when REDIS_AUTH_MODE is 'iam'.");
      if (!settings.cacheName) throw new Error("REDIS_CACHE_NAME is required when REDIS_AUTH_MODE is 'iam'.");
      if (!region) throw new Error("AWS_REGION is required to sign ElastiCache IAM auth tokens (REDIS_AUTH_MODE 'iam').");
      // Replication group ids are lower case; the token must be signed for the id exactly as ElastiCache stores it.
      return { ...base, auth: { mode: 'iam', userId: settings.user, cacheName: settings.cacheName.toLowerCase(), region } };
    case 'token':
      if (!settings.tokenSecretArn) throw new Error("REDIS_TOKEN_SECRET_ARN is required when REDIS_AUTH_MODE is 'token'.");
      return { ...base, auth: { mode: 'token', secretArn: settings.tokenSecretArn } };
    case 'none':
      return { ...base, auth: { mode: 'none' } };
  }
}
