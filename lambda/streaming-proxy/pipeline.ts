/**
 * The proxy: one request in, one response out, protocol-agnostic in the middle.
 *
 *   route -> authenticate -> size check -> front end: parse + validate -> resolve model -> translate to canonical
 *   -> generate stage: session history -> policy and limits -> upstream -> encode (stream or JSON) -> meter and
 *   charge -> commit session -> record
 *
 * Each stage is a module in stages/; each protocol's routes are one front-end file (anthropic/front-end.ts,
 * openai/front-end.ts, responses/front-end.ts, batches/api.ts) composing them.
 *
 * Everything it talks to is injected (createProxy), so the same code runs in Lambda (index.ts), in the dev server and
 * in tests. Errors are answered in the client's protocol with the right status; after the first streamed byte they
 * become an error frame (relay.ts).
 */
import { randomUUID } from 'crypto';
import { createAnthropicFrontEnd } from './anthropic/front-end';
import type { Authenticator } from './auth/types';
import { createBatchesApi } from './batches/api';
import type { ProxyConfig } from './config';
import { ProxyError, toProxyError } from './errors';
import type { ProxyRequest, ResponseSink } from './http';
import type { Meter } from './metering';
import { anthropicModel, listModels, openAiModel } from './models-endpoint';
import { createOpenAiFrontEnd } from './openai/front-end';
import { createResponsesFrontEnd } from './responses/front-end';
import { detectProtocol, matchRoute } from './router';
import { bodyUnlessHead, classify, corsHeaders, Exchange, JSON_TYPE, send, sendError } from './stages/exchange';
import type { FrontEndDeps } from './stages/front-end';
import { createGenerateStage } from './stages/generate';
import { createPolicyStage } from './stages/policy';
import { toRecord } from './stages/record';
import { createResolveStage } from './stages/resolve';
import { createSessionStage } from './stages/sessions';
import type { ModelEntry, ResolvedModel, Upstream } from './upstream/types';
import type { BatchBackends } from '../shared/batches/types';
import type { SpendStore } from '../shared/gateway/types';
import type { RateLimiter } from '../shared/limits';
import type { SessionStore } from '../shared/sessions';

/** The model catalogue as the pipeline uses it (implemented by catalogue.ts's Catalogue). */
export interface ModelCatalogue {
  /** The entry for a name a client sent, or undefined (404). */
  resolve(name: string): ResolvedModel | undefined;
  /** Every entry, for GET /v1/models. */
  list(): readonly ModelEntry[];
}

export interface ProxyDeps {
  readonly config: Pick<ProxyConfig, 'maxBodyBytes' | 'rateLimits' | 'limitFailureMode' | 'pingIntervalMs' | 'extraBetas' | 'corsAllowOrigins'>
    & Partial<Pick<ProxyConfig, 'budgetFailureMode' | 'batches' | 'region'>>;
  readonly catalogue: ModelCatalogue;
  /** The upstream for a resolved model (upstream/index.ts's createUpstreams). */
  readonly upstreams: (model: ResolvedModel) => Upstream;
  readonly authenticator: Authenticator;
  readonly limiter?: RateLimiter;
  readonly sessions?: SessionStore;
  /** Spend per key, for budgets and the charge after each request. */
  readonly spend?: SpendStore;
  readonly meter: Meter;
  readonly now?: () => number;
  /** Message Batches' stores (the worker runs elsewhere); undefined: the batch endpoints answer 404. */
  readonly batches?: BatchBackends;
  /** The scheme of a batch's results_url when no x-forwarded-proto says (default https; the dev server's is http). */
  readonly scheme?: 'http' | 'https';
}

export interface HandleOptions {
  /** Epoch ms by which the response must be finished (the Lambda deadline, less a margin). */
  readonly deadline?: number;
}

export interface Proxy {
  handle(request: ProxyRequest, sink: ResponseSink, options?: HandleOptions): Promise<void>;
}

const ROUTES_HELP = 'The proxy serves POST /v1/messages, POST /v1/messages/count_tokens, /v1/messages/batches, POST /v1/chat/completions, POST /v1/responses, POST /v1/embeddings, GET /v1/models and GET /health.';

export function createProxy(deps: ProxyDeps): Proxy {
  const now = deps.now ?? Date.now;
  const { config } = deps;
  const resolve = createResolveStage(deps.catalogue);
  const policy = createPolicyStage({ config, limiter: deps.limiter, spend: deps.spend, meter: deps.meter, now });
  const sessions = createSessionStage({ sessions: deps.sessions, meter: deps.meter });
  const generate = createGenerateStage({ config, upstreams: deps.upstreams, policy, sessions, now });
  const stages: FrontEndDeps = {
    config, resolve, policy, sessions, generate, upstreams: deps.upstreams, storesResponses: deps.sessions !== undefined, now,
  };
  const anthropic = createAnthropicFrontEnd(stages);
  const openai = createOpenAiFrontEnd(stages);
  const responses = createResponsesFrontEnd(stages);
  const batches = deps.batches ? createBatchesApi({
    backends: deps.batches,
    catalogue: deps.catalogue,
    config: { maxRequests: config.batches?.maxRequests ?? 10_000, inference: config.batches?.inference, extraBetas: config.extraBetas },
    region: config.region,
    warn: (message, details) => deps.meter.warn(message, details),
    admit: (x) => policy.admit(x),
    now,
    scheme: deps.scheme,
  }) : undefined;

  async function handle(request: ProxyRequest, sink: ResponseSink, options: HandleOptions = {}): Promise<void> {
    const x = new Exchange(request, now(), now, corsHeaders(config.corsAllowOrigins, request.headers.origin));
    const match = matchRoute(request.method, request.path);
    x.route = match?.route;
    x.protocol = detectProtocol(match?.route, request.headers, request.query);
    let metered = true;
    try {
      if (request.method === 'OPTIONS' && config.corsAllowOrigins.length > 0) {
        metered = false;
        await send(sink, x, 204, undefined, {
          'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
          'access-control-allow-headers': request.headers['access-control-request-headers']
            ?? 'authorization, content-type, x-api-key, anthropic-version, anthropic-beta, x-session-id',
          'access-control-max-age': '600',
        });
        return;
      }
      if (!match) throw new ProxyError('not_found', `Unknown endpoint. ${ROUTES_HELP}`);
      if (!match.allowed) {
        throw new ProxyError('method_not_allowed', `This endpoint accepts ${match.methods.join(', ')}.`, { headers: { allow: match.methods.join(', ') } });
      }
      if (match.route === 'health') {
        metered = false;
        await send(sink, x, 200, bodyUnlessHead(request, '{"status":"ok"}'), { 'content-type': JSON_TYPE, 'cache-control': 'no-store' });
        return;
      }
      // Credentials first: a caller without them learns nothing about the proxy's limits (401 before 413).
      x.identity = await deps.authenticator.authenticate(request);
      if (request.body.length > config.maxBodyBytes) {
        throw new ProxyError('request_too_large', `The request body is larger than this proxy's limit of ${config.maxBodyBytes} bytes.`);
      }
      switch (match.route) {
        case 'models':
          await send(sink, x, 200, bodyUnlessHead(request, JSON.stringify(listModels(deps.catalogue.list(), x.protocol, request.query))), { 'content-type': JSON_TYPE });
          return;
        case 'model':
          await retrieveModel(sink, x, match.modelId!);
          return;
        case 'count_tokens':
          await anthropic.countTokens(sink, x, options.deadline);
          return;
        case 'messages':
          await anthropic.messages(sink, x, options.deadline);
          return;
        case 'responses':
          await responses.responses(sink, x, options.deadline);
          return;
        case 'embeddings':
          await openai.embeddings(sink, x, options.deadline);
          return;
        case 'batches':
        case 'batch':
        case 'batch_cancel':
        case 'batch_results':
          if (!batches) {
            throw new ProxyError('not_found', 'Message batches are not enabled on this proxy (StreamingLlmProxy `batches` option); POST /v1/messages serves requests one at a time.');
          }
          await batches.handle(sink, x, match.route, match.batchId);
          return;
        default:
          await openai.chatCompletions(sink, x, options.deadline);
          return;
      }
    } catch (err) {
      const error = toProxyError(err);
      if (sink.signal.aborted) {
        x.outcome = 'client_disconnected';
        return;
      }
      classify(x, error);
      await sendError(sink, x, error);
    } finally {
      if (metered) deps.meter.record(toRecord(x, now()));
    }
  }

  async function retrieveModel(sink: ResponseSink, x: Exchange, id: string): Promise<void> {
    const model = deps.catalogue.resolve(id);
    if (!model) throw new ProxyError('not_found', 'The model is not in this proxy\'s catalogue; GET /v1/models lists the available models.', { param: 'model', code: 'model_not_found' });
    const body = x.protocol === 'openai' ? openAiModel(model, model.requested) : anthropicModel(model, model.requested);
    await send(sink, x, 200, bodyUnlessHead(x.request, JSON.stringify(body)), { 'content-type': JSON_TYPE });
  }

  return { handle };
}

/** A request id for runs without a Lambda context. */
export function newRequestId(): string {
  return `req_${randomUUID().replace(/-/g, '')}`;
}
