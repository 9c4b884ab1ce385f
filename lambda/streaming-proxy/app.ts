/**
 * Assembles the proxy from a validated configuration: catalogue (PROXY_MODELS), upstreams (Bedrock or the mock),
 * authenticator, rate limiter and session store, and meter. index.ts (Lambda) and the dev server both build the proxy
 * here, so they run the same code; the dev server overrides the parts that differ locally (in-memory API keys, the
 * one-line request log, mock pacing).
 */
import { ApiKeyAuthenticator, GatewayKeyCache, type ApiKeyStore } from './auth/api-keys';
import { createAuthenticator, withOriginVerify, type AuthDeps, type Authenticator } from './auth/index';
import { createBackends } from './backends';
import { Catalogue, parseModelsEnv } from './catalogue';
import { ConfigError, type ProxyConfig } from './config';
import { createPowertoolsMeter, type Meter } from './metering';
import { createProxy, type Proxy } from './pipeline';
import { createUpstreams, type UpstreamsOptions } from './upstream/index';
import type { MockUpstreamOptions } from './upstream/mock';
import type { ResolvedModel, Upstream } from './upstream/types';

export interface AppOverrides {
  readonly authenticator?: Authenticator;
  /** API keys held here (the dev server's key) instead of the Secrets Manager secret; the gateway table's keys, when
   * configured, are accepted too. Ignored when `authenticator` is given. */
  readonly apiKeyStore?: ApiKeyStore;
  readonly auth?: AuthDeps;
  readonly meter?: Meter;
  readonly mock?: MockUpstreamOptions;
  /** Extra options for the Bedrock upstreams (tests point them at the fake Bedrock). */
  readonly upstreams?: Omit<UpstreamsOptions, 'mode' | 'mock' | 'region' | 'failoverRegion'>;
  /** Replaces the upstream factory entirely. */
  readonly upstreamFor?: (model: ResolvedModel) => Upstream;
}

export function createApp(config: ProxyConfig, overrides: AppOverrides = {}): Proxy {
  let models;
  if (config.modelsJson) {
    try {
      models = parseModelsEnv(config.modelsJson);
    } catch (err) {
      throw new ConfigError('PROXY_MODELS', (err as Error).message.replace(/^PROXY_MODELS:?\s*/, ''));
    }
  }
  const catalogue = new Catalogue({ models, claudeFallback: config.claudeFallback, upstream: config.upstream });
  const upstreamFor = overrides.upstreamFor ?? createUpstreams({
    ...(overrides.upstreams ?? {}),
    mode: config.upstream,
    // Loaded on first use: a deployed proxy on Bedrock never needs the mock (or its schema-example generator), so the
    // Lambda bundle builds it as a separate file (build-tools/bundle.ts, lazyModules) and init does not parse it.
    mock: () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { MockUpstream } = require('./upstream/mock') as typeof import('./upstream/mock');
      return new MockUpstream(overrides.mock);
    },
    region: config.region,
    failoverRegion: config.failoverRegion,
  });
  const meter = overrides.meter
    ?? createPowertoolsMeter({ serviceName: config.serviceName, namespace: config.metricsNamespace, logLevel: config.logLevel });
  const { limiter, sessions, spend, keys } = createBackends(config, (message, details) => meter.warn(message, details));
  const authDeps: AuthDeps = {
    region: config.region,
    gatewayKeys: keys && config.gateway ? { lookup: keys, cacheTtlMs: config.gateway.cacheTtlSeconds * 1000 } : undefined,
    onStaleKeys: (problem) => meter.warn('API keys could not be reloaded; using the previous keys', { problem }),
    onStaleOriginSecret: (problem) => meter.warn('The origin secret could not be reloaded; using the previous values', { problem }),
    ...(overrides.auth ?? {}),
  };
  // The origin check (CloudFront's secret header) runs before any other authentication.
  const gatewayKeys = authDeps.gatewayKeys ? new GatewayKeyCache(authDeps.gatewayKeys.lookup, authDeps.gatewayKeys.cacheTtlMs) : undefined;
  const own = overrides.authenticator
    ?? (overrides.apiKeyStore ? new ApiKeyAuthenticator(overrides.apiKeyStore, gatewayKeys) : createAuthenticator(config.auth, authDeps));
  const authenticator = withOriginVerify(own, config.originVerify, authDeps);
  return createProxy({ config, catalogue, upstreams: upstreamFor, authenticator, limiter, sessions, spend, meter });
}
