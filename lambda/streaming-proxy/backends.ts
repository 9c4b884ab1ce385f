/**
 * The rate limiter, session store, spend store and virtual-key lookup for the configured backends (PROXY_LIMIT_STORE,
 * PROXY_SESSIONS, PROXY_GATEWAY_TABLE). In memory they live as long as the execution environment (or the dev server);
 * the Redis backends (lambda/shared/redis/) and the gateway table (lambda/shared/gateway/) share them across instances.
 */
import { ConfigError, type ProxyConfig } from './config';
import type { DynamoGateway } from '../shared/gateway';
import { MemorySpendStore } from '../shared/gateway/memory';
import type { KeyLookup, SpendStore } from '../shared/gateway/types';
import type { RateLimiter } from '../shared/limits';
import { MemoryRateLimiter } from '../shared/memory-limiter';
import { MemorySessionStore } from '../shared/memory-sessions';
import type { RedisBackends } from '../shared/redis';
import type { SessionStore } from '../shared/sessions';

export interface Backends {
  /** Counts proxy-wide limits (PROXY_RATE_LIMITS) and keys' own limits. */
  readonly limiter: RateLimiter;
  /** Undefined when sessions are off. */
  readonly sessions?: SessionStore;
  /** Spend per key for budgets: the gateway table, or this process's memory. */
  readonly spend: SpendStore;
  /** Virtual keys, when the gateway table is configured. */
  readonly keys?: KeyLookup;
}

export function createBackends(config: ProxyConfig, warn?: (message: string, details: Record<string, unknown>) => void): Backends {
  const redis = config.limitStore === 'redis' || config.sessions === 'redis' ? redisBackends(config, warn) : undefined;
  const gateway = config.gateway ? gatewayStore(config) : undefined;
  return {
    limiter: limiter(config, redis, gateway),
    sessions: sessions(config, redis),
    // The gateway table when there is one; else Redis when the limits live there (budgets shared across instances);
    // else this process's memory.
    spend: gateway ?? (config.limitStore === 'redis' ? redis!.spend : new MemorySpendStore()),
    keys: gateway,
  };
}

/** The gateway table's store; lambda/shared/gateway (and the DynamoDB client) is loaded only when configured. */
function gatewayStore(config: ProxyConfig): DynamoGateway {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DynamoGateway: Store } = require('../shared/gateway') as typeof import('../shared/gateway');
  return new Store({ tableName: config.gateway!.tableName, region: config.region });
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

function limiter(config: ProxyConfig, redis?: RedisBackends, gateway?: DynamoGateway): RateLimiter {
  switch (config.limitStore) {
    case 'redis':
      return redis!.limiter;
    case 'dynamodb':
      return gateway!;
    default:
      return new MemoryRateLimiter();
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
