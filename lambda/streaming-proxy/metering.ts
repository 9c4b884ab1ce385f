/**
 * Usage metering: one record per request (identity, model, tokens, cost estimate from the catalogue prices, time to
 * first token, duration, outcome), written as a structured log line and as CloudWatch EMF metrics with the names in
 * docs/runtime-contract.md. The dev server writes the same record as one human-readable line instead.
 */
import type { CanonicalEvent, Usage } from '../shared/canonical';
import type { ModelPricing } from './upstream/types';

export type Outcome =
  /** The response completed. */
  | 'ok'
  /** 4xx answered by the proxy (validation, auth, unknown model, ...). */
  | 'client_error'
  /** The proxy's own rate limit refused the request. */
  | 'rate_limited'
  /** The upstream throttled (429 to the client). */
  | 'upstream_throttled'
  /** Any other upstream failure, before or after the first byte. */
  | 'upstream_error'
  /** The proxy failed (5xx not caused by the upstream). */
  | 'proxy_error'
  /** The client went away before the response completed. */
  | 'client_disconnected';

export interface RequestRecord {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly route?: string;
  readonly protocol: 'anthropic' | 'openai';
  readonly status: number;
  readonly outcome: Outcome;
  readonly identity?: string;
  /** The `key` metric dimension: the key's name for API-key callers (a bounded set), `other` for anyone else. */
  readonly key?: string;
  /** The key's team, when its policy names one. */
  readonly team?: string;
  /** The model name the client sent. */
  readonly model?: string;
  /** The Bedrock model / inference profile (or other upstream target). */
  readonly target?: string;
  readonly stream?: boolean;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadInputTokens: number;
  readonly cacheWriteInputTokens: number;
  /** USD, from the catalogue prices; undefined when the model has no prices. */
  readonly estimatedCost?: number;
  readonly timeToFirstTokenMs?: number;
  readonly durationMs: number;
  /** The error message sent to the client, when there was one (never contains secrets). */
  readonly error?: string;
  /** The limit store could not be reached and the failure mode decided. */
  readonly rateLimiterUnavailable?: boolean;
  readonly sessionId?: string;
  /** Beta flags and fields dropped by the allowlists. */
  readonly dropped?: { readonly betas: readonly string[]; readonly fields: readonly string[] };
}

/** Where request records go. */
export interface Meter {
  record(record: RequestRecord): void;
  /** Operational warnings (a key reload failed, a session could not be saved, ...). Never secrets. */
  warn(message: string, details?: Record<string, unknown>): void;
}

/** Cost in USD of a request's usage; cache writes default to 1.25x and cache reads to 0.1x the input price. */
export function estimateCost(usage: Pick<RequestRecord, 'inputTokens' | 'outputTokens' | 'cacheReadInputTokens' | 'cacheWriteInputTokens'>,
  pricing: ModelPricing | undefined): number | undefined {
  if (!pricing) return undefined;
  const perToken = (perMTok: number) => perMTok / 1_000_000;
  return usage.inputTokens * perToken(pricing.inputPerMTok)
    + usage.outputTokens * perToken(pricing.outputPerMTok)
    + usage.cacheWriteInputTokens * perToken(pricing.cacheWritePerMTok ?? pricing.inputPerMTok * 1.25)
    + usage.cacheReadInputTokens * perToken(pricing.cacheReadPerMTok ?? pricing.inputPerMTok * 0.1);
}

/** A response's usage as the record's token counts (absent cache counts are 0). */
export function tokenCounts(u: Usage): Pick<RequestRecord, 'inputTokens' | 'outputTokens' | 'cacheReadInputTokens' | 'cacheWriteInputTokens'> {
  return {
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    cacheReadInputTokens: u.cache_read_input_tokens ?? 0,
    cacheWriteInputTokens: u.cache_creation_input_tokens ?? 0,
  };
}

/** Follows a canonical stream for usage and time to first token, without keeping the content. */
export class UsageTracker {
  public usage: Usage = { input_tokens: 0, output_tokens: 0 };
  public firstTokenAt?: number;

  constructor(private readonly now: () => number = Date.now) {}

  public observe(event: CanonicalEvent): void {
    if (event.type === 'content_block_delta' || event.type === 'content_block_start') {
      this.firstTokenAt ??= this.now();
    } else if (event.type === 'message_start') {
      this.usage = { ...event.message.usage };
    } else if (event.type === 'message_delta') {
      for (const [k, v] of Object.entries(event.usage)) {
        if (typeof v === 'number') (this.usage as unknown as Record<string, number>)[k] = v;
      }
    }
  }

  public set(usage: Usage): void {
    this.usage = { ...usage };
  }

  /** Input + output tokens, including cache reads and writes (what token limits count). */
  public get totalTokens(): number {
    const u = this.usage;
    return u.input_tokens + u.output_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);
  }
}

/**
 * The Lambda meter: Powertools Logger (JSON log line) and Metrics (EMF), one flush per request. Powertools is loaded
 * and set up on the first record, which is written after the response has ended, so it adds nothing to the init
 * time or to the first response.
 */
export function createPowertoolsMeter(options: { serviceName: string; namespace: string; logLevel: string }): Meter {
  let sinks: ReturnType<typeof powertools> | undefined;
  const get = () => (sinks ??= powertools(options));
  return {
    record(r: RequestRecord): void {
      const { logger, metrics, MetricUnit } = get();
      logger.info('request', { ...r });
      metrics.addMetric('Requests', MetricUnit.Count, 1);
      metrics.addMetric('InputTokens', MetricUnit.Count, r.inputTokens);
      metrics.addMetric('OutputTokens', MetricUnit.Count, r.outputTokens);
      metrics.addMetric('CacheReadInputTokens', MetricUnit.Count, r.cacheReadInputTokens);
      metrics.addMetric('CacheWriteInputTokens', MetricUnit.Count, r.cacheWriteInputTokens);
      if (r.estimatedCost !== undefined) metrics.addMetric('EstimatedCost', MetricUnit.NoUnit, r.estimatedCost);
      if (r.timeToFirstTokenMs !== undefined) metrics.addMetric('TimeToFirstToken', MetricUnit.Milliseconds, r.timeToFirstTokenMs);
      metrics.addMetric('Duration', MetricUnit.Milliseconds, r.durationMs);
      metrics.addMetric('ClientErrors', MetricUnit.Count, r.outcome === 'client_error' || r.outcome === 'rate_limited' ? 1 : 0);
      metrics.addMetric('UpstreamErrors', MetricUnit.Count, r.outcome === 'upstream_error' || r.outcome === 'upstream_throttled' ? 1 : 0);
      metrics.addMetric('UpstreamThrottles', MetricUnit.Count, r.outcome === 'upstream_throttled' ? 1 : 0);
      metrics.addMetric('RateLimited', MetricUnit.Count, r.outcome === 'rate_limited' ? 1 : 0);
      metrics.addMetric('RateLimiterUnavailable', MetricUnit.Count, r.rateLimiterUnavailable ? 1 : 0);
      // Searchable in CloudWatch Logs Insights without becoming dimensions (the contract's only dimension is service).
      if (r.key !== undefined && r.model && (r.estimatedCost !== undefined || r.inputTokens + r.outputTokens > 0)) {
        // Spend per key (dimensions service, key) and per key and model (service, key, model): their own EMF documents.
        const perKey = metrics.singleMetric();
        perKey.addDimension('key', r.key);
        perKey.addMetric('KeyEstimatedCost', MetricUnit.NoUnit, r.estimatedCost ?? 0);
        const perModel = metrics.singleMetric();
        perModel.addDimensions({ key: r.key, model: r.model });
        perModel.addMetric('KeyEstimatedCost', MetricUnit.NoUnit, r.estimatedCost ?? 0);
        if (r.team !== undefined) {
          // Spend per team (service, team): what a team's budget alarm sums. Teams are named by the keys' policies,
          // so the dimension is as bounded as the keys are; a key without a team writes no team document.
          const perTeam = metrics.singleMetric();
          perTeam.addDimension('team', r.team);
          perTeam.addMetric('TeamEstimatedCost', MetricUnit.NoUnit, r.estimatedCost ?? 0);
        }
      }
      if (r.model) metrics.addMetadata('model', r.model);
      if (r.identity) metrics.addMetadata('identity', r.identity);
      metrics.addMetadata('requestId', r.requestId);
      metrics.publishStoredMetrics();
    },
    warn(message: string, details?: Record<string, unknown>): void {
      get().logger.warn(message, { ...(details ?? {}) });
    },
  };
}

function powertools(options: { serviceName: string; namespace: string; logLevel: string }) {
  // require, not import(): esbuild keeps it lazy in the bundle, and it also runs under jest's CommonJS loader.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Logger } = require('@aws-lambda-powertools/logger') as typeof import('@aws-lambda-powertools/logger');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Metrics, MetricUnit } = require('@aws-lambda-powertools/metrics') as typeof import('@aws-lambda-powertools/metrics');
  const logger = new Logger({ serviceName: options.serviceName, logLevel: options.logLevel as 'INFO' });
  const metrics = new Metrics({ serviceName: options.serviceName, namespace: options.namespace });
  return { logger, metrics, MetricUnit };
}

/** The dev server's meter: one line per request on the given writer. */
export function createLineMeter(write: (line: string) => void): Meter {
  return {
    record(r: RequestRecord): void {
      const parts = [
        new Date().toISOString().slice(11, 23),
        r.method,
        r.path,
        String(r.status),
        r.model ?? '-',
        r.stream === undefined ? '' : r.stream ? 'stream' : 'json',
        `in=${r.inputTokens}`,
        `out=${r.outputTokens}`,
        r.cacheReadInputTokens || r.cacheWriteInputTokens ? `cache=${r.cacheReadInputTokens}r/${r.cacheWriteInputTokens}w` : '',
        r.timeToFirstTokenMs === undefined ? '' : `ttft=${r.timeToFirstTokenMs}ms`,
        `${r.durationMs}ms`,
        r.identity ? `id=${r.identity}` : '',
        r.outcome === 'ok' ? '' : r.outcome,
        r.error ? JSON.stringify(r.error) : '',
      ];
      write(parts.filter((p) => p !== '').join(' '));
    },
    warn(message: string): void {
      write(`warning: ${message}`);
    },
  };
}
