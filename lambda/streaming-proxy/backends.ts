/**
 * The rate limiter and session store for the configured backends (PROXY_LIMIT_STORE, PROXY_SESSIONS). In memory they
 * live as long as the execution environment (or the dev server); the Redis backends (lambda/shared/redis/) share them
 * across instances.
 */
import type { RateLimiter } from '../shared/limits';
import { MemoryRateLimiter } from '../shared/memory-limiter';
import { MemorySessionStore } from '../shared/memory-sessions';
import type { SessionStore } from '../shared/sessions';
import { ConfigError, type ProxyConfig } from './config';

export interface Backends {
  /** Undefined when no rate limits are configured. */
  readonly limiter?: RateLimiter;
  /** Undefined when sessions are off. */
  readonly sessions?: SessionStore;
}

export function createBackends(config: ProxyConfig): Backends {
  return { limiter: limiter(config), sessions: sessions(config) };
}

function limiter(config: ProxyConfig): RateLimiter | undefined {
  if (!config.rateLimits) return undefined;
  switch (config.limitStore) {
    case 'memory':
      return new MemoryRateLimiter();
    default:
      throw new ConfigError('PROXY_LIMIT_STORE', 'the redis limit store is not available in this build of the proxy runtime');
  }
}

function sessions(config: ProxyConfig): SessionStore | undefined {
  switch (config.sessions) {
    case 'off':
      return undefined;
    case 'memory':
      return new MemorySessionStore({ ttlSeconds: config.sessionTtlSeconds, maxBytes: config.sessionMaxBytes });
    default:
      throw new ConfigError('PROXY_SESSIONS', 'the redis session store is not available in this build of the proxy runtime');
  }
}
