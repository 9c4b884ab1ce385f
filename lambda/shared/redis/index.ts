/**
 * Redis-backed runtime pieces for functions wired in with `VpcRedisSessions.grantConnect()`: one connection per
 * function instance (reused across invocations), a RateLimiter and a SessionStore on it.
 *
 * Typical use, once at init:
 *
 *   const redis = createRedisBackends(connectionConfig(config.redis, config.region), { failureMode: 'open', onUnavailable });
 *   // redis.limiter: RateLimiter, redis.sessions: SessionStore
 */
import type { RateLimiterFailureMode } from '../limits';
import type { RedisConnectionConfig } from './config';
import { connectionFromConfig, RedisConnection, type RedisConnectionOptions } from './connection';
import { RedisRateLimiter } from './limiter';
import { RedisSessionStore } from './session-store';
import { RedisSpendStore } from './spend';

export { connectionConfig, type RedisConnectionConfig, type RedisAuthConfig, type RedisEnvSettings } from './config';
export { RedisConnection, RedisUnavailableError, connectionFromConfig, type RedisConnectionOptions, type RedisCredentials } from './connection';
export { RedisRateLimiter, type RedisRateLimiterOptions } from './limiter';
export { RedisSessionStore, type RedisSessionStoreOptions } from './session-store';
export { RedisSpendStore } from './spend';
export { IamTokenSigner } from './iam-token';

export interface RedisBackendsOptions {
  /** Limiter behaviour when Redis is unreachable (PROXY_LIMIT_FAILURE_MODE). Default `open`. */
  readonly failureMode?: RateLimiterFailureMode;
  /** Session TTL in seconds (PROXY_SESSION_TTL_SECONDS). Default 86400. */
  readonly sessionTtlSeconds?: number;
  /** Session size cap in bytes (PROXY_SESSION_MAX_BYTES). Default 1048576. */
  readonly sessionMaxBytes?: number;
  /** Told when the limiter could not use Redis (emit `RateLimiterUnavailable`, log). */
  readonly onUnavailable?: (error: unknown, operation: 'admit' | 'recordTokens') => void;
  /** Connection deadlines and error logging; see RedisConnectionOptions. */
  readonly connection?: Omit<RedisConnectionOptions, 'host' | 'port' | 'tls' | 'credentials'>;
}

export interface RedisBackends {
  readonly connection: RedisConnection;
  readonly limiter: RedisRateLimiter;
  readonly sessions: RedisSessionStore;
  /** Spend per key for budgets (when there is no gateway table). */
  readonly spend: RedisSpendStore;
}

/** A limiter and a session store sharing one connection. */
export function createRedisBackends(config: RedisConnectionConfig, options: RedisBackendsOptions = {}): RedisBackends {
  const connection = connectionFromConfig(config, options.connection);
  return {
    connection,
    limiter: new RedisRateLimiter({ connection, failureMode: options.failureMode, onUnavailable: options.onUnavailable }),
    sessions: new RedisSessionStore({ connection, ttlSeconds: options.sessionTtlSeconds, maxBytes: options.sessionMaxBytes }),
    spend: new RedisSpendStore(connection),
  };
}
