/**
 * The rate limiter and session store for the configured backends (PROXY_LIMIT_STORE, PROXY_SESSIONS). In memory they
 * live as long as the execution environment (or the dev server); the Redis backends (lambda/shared/redis/) share them
 * across instances.
 */
import { ConfigError, type ProxyConfig } from './config';
import type { RateLimiter } from '../shared/limits';
import { MemoryRateLimiter } from '../shared/memory-limiter';
import { MemorySessionStore } from '../shared/memory-sessions';
import type { RedisBackends } from '../shared/redis';
import type { SessionStore } from '../shared/sessions';

export interface Backends {
  /** Undefined when no rate limits are configured. */
  readonly limiter?: RateLimiter;
  /** Undefined when sessions are off. */
  readonly sessions?: SessionStore;
}

export function createBackends(config: ProxyConfig, warn?: (message: string, details: Record<string, unknown>) => void): Backends {
  const redis = config.limitStore === 'redis' || config.sessions === 'redis' ? redisBackends(config, warn) : undefined;
  return { limiter: limiter(config, redis), sessions: sessions(config, redis) };
}

/**
 * One Redis connection (reused across invocations) for the limiter and the session store. lambda/shared/redis is
 * loaded only when configured, so the in-memory setup does not initialise the Redis client.
 */
function redisBackends(config: ProxyConfig, warn?: (message: string, details: Record<string, unknown>) => void): RedisBackends {
  if (!config.redis) throw new ConfigError('REDIS_HOST', 'is required when PROXY_LIMIT_STORE or PROXY_SESSIONS is redis');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { connectionConfig, createRedisBackends } = require('../shared/redis') as typeof import('../shared/redis');
  return createRedisBackends(connectionConfig(config.redis, config.region), {
    failureMode: config.limitFailureMode,
    sessionTtlSeconds: config.sessionTtlSeconds,
    sessionMaxBytes: config.sessionMaxBytes,
    onUnavailable: (error, operation) => warn?.('Redis is unavailable to the rate limiter', { operation, error: (error as Error)?.message }),
  });
}

function limiter(config: ProxyConfig, redis?: RedisBackends): RateLimiter | undefined {
  if (!config.rateLimits) return undefined;
  switch (config.limitStore) {
    case 'memory':
      return new MemoryRateLimiter();
    case 'redis':
      return redis!.limiter;
  }
}

function sessions(config: ProxyConfig, redis?: RedisBackends): SessionStore | undefined {
  switch (config.sessions) {
    case 'off':
      return undefined;
    case 'memory':
      return new MemorySessionStore({ ttlSeconds: config.sessionTtlSeconds, maxBytes: config.sessionMaxBytes });
    case 'redis':
      return redis!.sessions;
  }
}
