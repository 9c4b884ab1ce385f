/**
 * Assembles the proxy from a validated configuration: catalogue (PROXY_MODELS), upstreams (Bedrock or the mock),
 * authenticator, rate limiter and session store, and meter. index.ts (Lambda) and the dev server both build the proxy
 * here, so they run the same code; the dev server overrides the parts that differ locally (in-memory API keys, the
 * one-line request log, mock pacing).
 */
import { ApiKeyAuthenticator, GatewayKeyCache, type ApiKeyStore } from './auth/api-keys';
import { createAuthenticator, withOriginVerify, type AuthDeps, type Authenticator } from './auth/index';
import { createBackends, type Backends } from './backends';
import { createInferenceSettler, type InferenceSettler } from './batches/inference';
import { createBatchWorker } from './batches/worker';
import { Catalogue, parseModelsEnv } from './catalogue';
import { ConfigError, type ProxyConfig } from './config';
import { createPowertoolsMeter, type Meter } from './metering';
import { createProxy, type Proxy } from './pipeline';
import { createUpstreams, type UpstreamsOptions } from './upstream/index';
import type { MockUpstreamOptions } from './upstream/mock';
import type { ResolvedModel, Upstream } from './upstream/types';
import type { BatchBackends, BatchWorker } from '../shared/batches/types';

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
  /** Message Batches' stores, instead of the AWS ones PROXY_BATCH_TABLE names (the dev server's in-memory ones). */
  readonly batches?: BatchBackends;
  /** The scheme of results_url when no x-forwarded-proto says (the dev server: http). */
  readonly scheme?: 'http' | 'https';
}

/** What the proxy and the batch worker are both made of: the catalogue, the upstreams, the meter, the stores. */
interface Parts {
  readonly catalogue: Catalogue;
  readonly upstreamFor: (model: ResolvedModel) => Upstream;
  readonly meter: Meter;
  readonly backends: Backends;
  readonly batches?: BatchBackends;
}

function assemble(config: ProxyConfig, overrides: AppOverrides): Parts {
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
  const backends = createBackends(config, (message, details) => meter.warn(message, details));
  const batches = overrides.batches ?? (config.batches.aws ? awsBatchBackends(config) : undefined);
  return { catalogue, upstreamFor, meter, backends, batches };
}

/** The DynamoDB, SQS and S3 batch stores; lambda/shared/batches (and their SDK clients) is loaded only when configured. */
function awsBatchBackends(config: ProxyConfig): BatchBackends {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createAwsBatchBackends } = require('../shared/batches') as typeof import('../shared/batches');
  return createAwsBatchBackends(config.batches.aws!, config.region);
}

export function createApp(config: ProxyConfig, overrides: AppOverrides = {}): Proxy {
  return proxyFrom(assemble(config, overrides), config, overrides);
}

/**
 * The proxy and, when it has batch stores, a batch worker sharing its catalogue, upstreams, meter and spend store (the
 * dev server's in-process queue runs it, so a batch's spend counts against the same budgets).
 */
export function createAppWithWorker(config: ProxyConfig, overrides: AppOverrides = {}): { proxy: Proxy; worker?: BatchWorker } {
  const parts = assemble(config, overrides);
  return { proxy: proxyFrom(parts, config, overrides), worker: parts.batches ? workerFrom(parts, config) : undefined };
}

function proxyFrom(parts: Parts, config: ProxyConfig, overrides: AppOverrides): Proxy {
  const { catalogue, upstreamFor, meter, backends, batches } = parts;
  const { limiter, sessions, spend, keys } = backends;
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
  return createProxy({
    config, catalogue, upstreams: upstreamFor, authenticator, limiter, sessions, spend, meter, batches, scheme: overrides.scheme,
  });
}

/** The batch worker (lambda/batch-worker, or the dev server's in-process queue) from the same configuration. */
export function createBatchWorkerApp(config: ProxyConfig, overrides: AppOverrides = {}): BatchWorker {
  return createBatchWorkerApps(config, overrides).worker;
}

/**
 * The batch worker Lambda's two jobs from one assembly: the queue's requests (`worker`) and, with Bedrock batch
 * inference configured, the jobs' state changes (`settler`).
 */
export function createBatchWorkerApps(config: ProxyConfig, overrides: AppOverrides = {}): { worker: BatchWorker; settler?: InferenceSettler } {
  const parts = assemble(config, overrides);
  if (!parts.batches) throw new ConfigError('PROXY_BATCH_TABLE', 'is required by the batch worker (with PROXY_BATCH_QUEUE_URL and PROXY_BATCH_BUCKET)');
  const settler = parts.batches.jobs
    ? createInferenceSettler({ backends: parts.batches, catalogue: parts.catalogue, spend: parts.backends.spend, meter: parts.meter })
    : undefined;
  return { worker: workerFrom(parts, config), ...(settler ? { settler } : {}) };
}

function workerFrom(parts: Parts, config: ProxyConfig): BatchWorker {
  const { catalogue, upstreamFor, meter, backends, batches } = parts;
  return createBatchWorker({
    backends: batches!,
    catalogue,
    upstreams: upstreamFor,
    config: {
      maxAttempts: config.batches.maxAttempts,
      callAttempts: config.batches.callAttempts,
      extraBetas: config.extraBetas,
      budgetFailureMode: config.budgetFailureMode,
    },
    spend: backends.spend,
    meter,
  });
}
