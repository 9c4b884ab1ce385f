/**
 * `createUpstreams(options)` returns the function the handler calls once per request: `(model) => Upstream`.
 *
 * - Bedrock clients are created once per region and reused across invocations (keep-alive HTTP connections, cached
 *   credentials); upstream objects are cached per kind, region and failover target, so a warm function allocates
 *   nothing per request here.
 * - Bedrock models get failover to a second region and/or inference profile (`model.failover`, or PROXY_FAILOVER_REGION
 *   for models without their own) on retryable errors before the first event.
 * - Every Bedrock call honours the SDK's standard endpoint settings (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_ENDPOINT_URL,
 *   config file) and credential chain, including calls to the Anthropic Messages endpoint (see endpoint.ts).
 */
import * as http from 'http';
import * as https from 'https';
import { BedrockRuntimeClient, type BedrockRuntimeClientConfig } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttp2Handler, NodeHttpHandler } from '@smithy/node-http-handler';
import { BedrockConverseUpstream } from './bedrock-converse';
import { BedrockInvokeUpstream } from './bedrock-invoke';
import { BedrockMessagesUpstream } from './bedrock-messages';
import { DEFAULT_TIMEOUTS, type UpstreamTimeouts } from './call-control';
import { FailoverUpstream } from './failover';
import { OpenAICompatibleUpstream, SecretsManagerSource, type SecretSource } from './openai-compatible';
import type { ResolvedModel, Upstream, UpstreamKind } from './types';
import { UpstreamError } from '../../shared/canonical';

export type { UpstreamTimeouts } from './call-control';
export { DEFAULT_TIMEOUTS } from './call-control';
export type { SecretSource } from './openai-compatible';

export interface UpstreamsOptions {
  /** PROXY_UPSTREAM. `mock` answers every model with `mock`. Default `bedrock`. */
  readonly mode?: 'bedrock' | 'mock';
  /** The embedded mock upstream (upstream/mock.ts), or a function that makes it on first use (the Lambda bundle loads
   * the mock's module only then). Required when `mode` is `mock` or a catalogue entry uses it. */
  readonly mock?: Upstream | (() => Upstream);
  /** Default Bedrock region. Default: the SDK's region chain (AWS_REGION in Lambda). */
  readonly region?: string;
  /** PROXY_FAILOVER_REGION: tried on retryable errors before the first byte, for models without their own `failover`. */
  readonly failoverRegion?: string;
  /** Upstream timeouts (milliseconds); unset fields keep DEFAULT_TIMEOUTS. */
  readonly timeouts?: Partial<UpstreamTimeouts>;
  /** SDK attempts per Bedrock call before failover (covers stale keep-alive connections and brief throttling). Default 2. */
  readonly maxAttempts?: number;
  /** HTTP version to Bedrock. `http1` keeps TLS connections alive across invocations; the SDK's HTTP/2 handler opens
   * a new connection for every streamed call. Default `http1`. */
  readonly httpVersion?: 'http1' | 'http2';
  /** Overrides for every Bedrock client (tests: `credentials`, `endpoint`). Normally unset: the SDK's defaults apply. */
  readonly bedrockClientConfig?: Pick<BedrockRuntimeClientConfig, 'credentials' | 'endpoint' | 'token'>;
  /** Where openai-compatible bearer keys come from. Default: Secrets Manager, cached for 5 minutes. */
  readonly secrets?: SecretSource;
}

/** What `createUpstreams` returns: the upstream for a resolved model. Never throws for a model the catalogue resolved,
 * except for `mock` models when no mock was provided. */
export type UpstreamFactory = (model: ResolvedModel) => Upstream;

type BedrockKind = Extract<UpstreamKind, 'bedrock-invoke' | 'bedrock-messages' | 'bedrock-converse'>;

export function createUpstreams(options: UpstreamsOptions = {}): UpstreamFactory {
  const timeouts: UpstreamTimeouts = { ...DEFAULT_TIMEOUTS, ...(options.timeouts ?? {}) };
  const clients = new Map<string, BedrockRuntimeClient>();
  const upstreams = new Map<string, Upstream>();
  let openai: OpenAICompatibleUpstream | undefined;

  const client = (region: string | undefined): BedrockRuntimeClient => {
    const key = region ?? '';
    let c = clients.get(key);
    if (!c) {
      c = new BedrockRuntimeClient({
        ...(region ? { region } : {}),
        maxAttempts: options.maxAttempts ?? 2,
        requestHandler: requestHandler(options.httpVersion ?? 'http1', timeouts),
        ...(options.bedrockClientConfig ?? {}),
      });
      clients.set(key, c);
    }
    return c;
  };

  const bedrock = (kind: BedrockKind, region: string | undefined): Upstream => {
    const key = `${kind}|${region ?? ''}`;
    let u = upstreams.get(key);
    if (!u) {
      const c = client(region);
      u = kind === 'bedrock-invoke'
        ? new BedrockInvokeUpstream(c, timeouts)
        : kind === 'bedrock-messages'
          ? new BedrockMessagesUpstream(c, timeouts)
          : new BedrockConverseUpstream(c, timeouts);
      upstreams.set(key, u);
    }
    return u;
  };

  let mock: Upstream | undefined;
  return (model: ResolvedModel): Upstream => {
    if (options.mode === 'mock' || model.upstream === 'mock') {
      if (!options.mock) throw new UpstreamError('internal', `model ${model.requested} needs the mock upstream, which is not configured`, false);
      mock ??= typeof options.mock === 'function' ? options.mock() : options.mock;
      return mock;
    }
    if (model.upstream === 'openai-compatible') {
      openai ??= new OpenAICompatibleUpstream(timeouts, options.secrets ?? new SecretsManagerSource());
      return openai;
    }
    const kind = model.upstream;
    const region = model.region ?? options.region;
    const primary = bedrock(kind, region);
    const failover = model.failover ?? (options.failoverRegion ? { region: options.failoverRegion } : undefined);
    if (!failover) return primary;
    const failoverRegion = failover.region ?? region;
    const sameRegion = (failoverRegion ?? '') === (region ?? '');
    if (sameRegion && (failover.target === undefined || failover.target === model.target)) return primary;
    const key = `failover|${kind}|${region ?? ''}|${failoverRegion ?? ''}|${failover.target ?? ''}`;
    let u = upstreams.get(key);
    if (!u) {
      u = new FailoverUpstream(primary, {
        upstream: bedrock(kind, failoverRegion),
        target: failover.target,
        region: failoverRegion,
      });
      upstreams.set(key, u);
    }
    return u;
  };
}

function requestHandler(version: 'http1' | 'http2', timeouts: UpstreamTimeouts): NodeHttpHandler | NodeHttp2Handler {
  if (version === 'http2') return new NodeHttp2Handler({ disableConcurrentStreams: false });
  return new NodeHttpHandler({
    connectionTimeout: timeouts.connectMs,
    httpAgent: new http.Agent({ keepAlive: true, maxFreeSockets: 256 }),
    httpsAgent: new https.Agent({ keepAlive: true, maxFreeSockets: 256 }),
  });
}
