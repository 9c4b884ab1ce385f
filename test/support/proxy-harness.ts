import { MemorySink } from './memory-sink';
import type { BatchBackends } from '../../lambda/shared/batches/types';
import type { CanonicalEvent, MessageResponse } from '../../lambda/shared/canonical';
import { MemorySpendStore } from '../../lambda/shared/gateway/memory';
import type { SpendStore } from '../../lambda/shared/gateway/types';
import type { LimitDecision, RateLimiter, RateLimits } from '../../lambda/shared/limits';
import { MemoryRateLimiter } from '../../lambda/shared/memory-limiter';
import { MemorySessionStore } from '../../lambda/shared/memory-sessions';
import type { SessionStore } from '../../lambda/shared/sessions';
import { createAuthenticator } from '../../lambda/streaming-proxy/auth/index';
import { Catalogue } from '../../lambda/streaming-proxy/catalogue';
import { loadConfig, type ProxyConfig } from '../../lambda/streaming-proxy/config';
import type { ProxyRequest } from '../../lambda/streaming-proxy/http';
import type { Meter, RequestRecord } from '../../lambda/streaming-proxy/metering';
import { createProxy, type Proxy } from '../../lambda/streaming-proxy/pipeline';
import { MockUpstream, type MockUpstreamOptions } from '../../lambda/streaming-proxy/upstream/mock';
import type { EmbedCall, EmbedResult, Upstream, UpstreamCall } from '../../lambda/streaming-proxy/upstream/types';

export const KEY = 'sk-test-key-0123456789abcdef';

/** Records every upstream call, delegating to the mock. */
export class RecordingUpstream implements Upstream {
  public readonly kind = 'mock' as const;
  public readonly calls: UpstreamCall[] = [];
  public readonly embedCalls: EmbedCall[] = [];
  public pulled = 0;
  constructor(private readonly inner: MockUpstream) {}
  public async *stream(call: UpstreamCall): AsyncGenerator<CanonicalEvent> {
    this.calls.push(call);
    for await (const e of this.inner.stream(call)) {
      this.pulled++;
      yield e;
    }
  }
  public complete(call: UpstreamCall): Promise<MessageResponse> {
    this.calls.push(call);
    return this.inner.complete(call);
  }
  public countTokens(call: UpstreamCall): Promise<number> {
    this.calls.push(call);
    return this.inner.countTokens(call);
  }
  public embed(call: EmbedCall): Promise<EmbedResult> {
    this.embedCalls.push(call);
    return this.inner.embed(call);
  }
}

export class RecordingMeter implements Meter {
  public readonly records: RequestRecord[] = [];
  public readonly warnings: string[] = [];
  public record(r: RequestRecord): void {
    this.records.push(r);
  }
  public warn(message: string): void {
    this.warnings.push(message);
  }
}

export interface Harness {
  proxy: Proxy;
  upstream: RecordingUpstream;
  meter: RecordingMeter;
  config: ProxyConfig;
  sessions: MemorySessionStore;
  spend: SpendStore;
  catalogue: Catalogue;
}

export interface HarnessOptions {
  readonly mock?: MockUpstreamOptions;
  readonly limiter?: RateLimiter;
  /** Wraps the harness's memory session store (e.g. to slow it down); `Harness.sessions` stays the memory store. */
  readonly wrapSessions?: (store: MemorySessionStore) => SessionStore;
  /** The key secret's JSON entries (default `{ alice: KEY }`); entries may be objects with policy fields. */
  readonly keys?: Record<string, unknown>;
  /** The spend store (default: a MemorySpendStore, `Harness.spend`). */
  readonly spend?: SpendStore;
  /** Message Batches' stores (default: none, so the batch endpoints answer 404). */
  readonly batches?: BatchBackends;
  readonly now?: () => number;
}

export function harness(env: Record<string, string> = {}, options: HarnessOptions = {}): Harness {
  const config = loadConfig({
    PROXY_AUTH_MODE: 'api-keys',
    PROXY_API_KEYS_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf',
    PROXY_CLAUDE_FALLBACK: 'none',
    PROXY_SESSIONS: 'memory',
    ...env,
  });
  const upstream = new RecordingUpstream(new MockUpstream(options.mock));
  const meter = new RecordingMeter();
  const sessions = new MemorySessionStore({ ttlSeconds: 60, maxBytes: 1_000_000 });
  const authenticator = createAuthenticator(config.auth, { loadKeys: async () => JSON.stringify(options.keys ?? { alice: KEY }) });
  const spend = options.spend ?? new MemorySpendStore();
  const catalogue = new Catalogue({
    models: { replace: false, models: [{ id: 'mock-no-count', upstream: 'mock', target: 'mock.no-count', pricing: { inputPerMTok: 1, outputPerMTok: 2 } }] },
    claudeFallback: config.claudeFallback,
  });
  const limiter = options.limiter ?? new MemoryRateLimiter();
  const proxy = createProxy({
    config,
    catalogue,
    upstreams: () => upstream,
    authenticator,
    limiter,
    spend,
    meter,
    sessions: config.sessions === 'off' ? undefined : (options.wrapSessions?.(sessions) ?? sessions),
    batches: options.batches,
    now: options.now,
  });
  return { proxy, upstream, meter, config, sessions, spend, catalogue };
}

export function request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): ProxyRequest {
  const [p, q] = path.split('?');
  return {
    method,
    path: p,
    query: new URLSearchParams(q ?? ''),
    headers: { 'x-api-key': KEY, 'content-type': 'application/json', ...headers },
    body: body === undefined ? Buffer.alloc(0) : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    requestId: 'req_test_1',
  };
}

export async function run(h: Harness, req: ProxyRequest, sink = new MemorySink(), deadline?: number): Promise<MemorySink> {
  await h.proxy.handle(req, sink, deadline === undefined ? {} : { deadline });
  expect(sink.misuse).toEqual([]);
  expect(sink.ended).toBe(true);
  return sink;
}

export class FailingLimiter implements RateLimiter {
  public async admit(_identity: string, _limits: RateLimits): Promise<LimitDecision> {
    throw new Error('connection refused');
  }
  public async recordTokens(): Promise<void> {
    throw new Error('connection refused');
  }
}
