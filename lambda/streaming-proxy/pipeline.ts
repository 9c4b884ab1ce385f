/**
 * The proxy: one request in, one response out, protocol-agnostic in the middle.
 *
 *   route -> size check -> auth -> parse + validate -> resolve model -> translate to canonical -> session history
 *   -> rate limit -> upstream -> encode for the client (stream or JSON) -> meter, record tokens, save session
 *
 * Everything it talks to is injected (createProxy), so the same code runs in Lambda (index.ts), in the dev server and
 * in tests. Errors are answered in the client's protocol with the right status; after the first streamed byte they
 * become an error frame (relay.ts).
 */
import { randomUUID } from 'crypto';
import { MessageAccumulator } from './accumulate';
import type { CanonicalMessage, CanonicalRequest, MessageResponse } from '../shared/canonical';
import type { SpendStore } from '../shared/gateway/types';
import type { RateLimiter } from '../shared/limits';
import type { SessionStore } from '../shared/sessions';
import { messagesToCanonical, countTokensToCanonical } from './anthropic/request';
import { AnthropicSseEncoder } from './anthropic/sse';
import { validateCountTokensBody, validateMessagesBody } from './anthropic/validate';
import type { Authenticator } from './auth/types';
import { createBatchesApi } from './batches/api';
import { isClaude } from './catalogue';
import type { ProxyConfig } from './config';
import { embeddingSpec } from './embedding-models';
import { ProxyError, toProxyError } from './errors';
import { estimateInputTokens } from './estimate';
import type { ProxyRequest, ResponseSink } from './http';
import { estimateCost, tokenCounts, type Meter, type RequestRecord } from './metering';
import { anthropicModel, listModels, openAiModel } from './models-endpoint';
import { toChatCompletion } from './openai/aggregate';
import { OpenAiChunkEncoder } from './openai/chunks';
import { checkDimensions, embeddingsResponse, embeddingTexts, validateEmbeddingsBody } from './openai/embeddings';
import { chatToCanonical } from './openai/request';
import { validateChatBody } from './openai/validate';
import { relay } from './relay';
import { toResponse } from './responses/output';
import { responsesToCanonical } from './responses/request';
import { ResponsesStreamEncoder } from './responses/stream';
import { validateResponsesBody } from './responses/validate';
import { detectProtocol, matchRoute } from './router';
import { bodyUnlessHead, classify, corsHeaders, Exchange, invalidField, JSON_TYPE, send, sendError, upstreamAbort, withAbort, type Conversation } from './stages/exchange';
import { createPolicyStage } from './stages/policy';
import { createSessionStage } from './stages/sessions';
import type { StreamEncoder } from './stream-encoder';
import type { ModelEntry, ModelKind, ResolvedModel, Upstream, UpstreamCall } from './upstream/types';
import { parseJsonBody } from './validation';
import type { BatchBackends } from '../shared/batches/types';

/** The model catalogue as the pipeline uses it (implemented by catalogue.ts's Catalogue). */
export interface ModelCatalogue {
  /** The entry for a name a client sent, or undefined (404). */
  resolve(name: string): ResolvedModel | undefined;
  /** Every entry, for GET /v1/models. */
  list(): readonly ModelEntry[];
}

export interface ProxyDeps {
  readonly config: Pick<ProxyConfig, 'maxBodyBytes' | 'rateLimits' | 'limitFailureMode' | 'pingIntervalMs' | 'extraBetas' | 'corsAllowOrigins'>
    & Partial<Pick<ProxyConfig, 'budgetFailureMode' | 'batches'>>;
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

/** Default max_tokens for OpenAI requests that set none, when the catalogue entry has no maxOutputTokens. */
const DEFAULT_MAX_TOKENS = 4096;
const ROUTES_HELP = 'The proxy serves POST /v1/messages, POST /v1/messages/count_tokens, /v1/messages/batches, POST /v1/chat/completions, POST /v1/responses, POST /v1/embeddings, GET /v1/models and GET /health.';

export function createProxy(deps: ProxyDeps): Proxy {
  const now = deps.now ?? Date.now;
  const { config } = deps;
  const policy = createPolicyStage({ config, limiter: deps.limiter, spend: deps.spend, meter: deps.meter, now });
  const sessions = createSessionStage({ sessions: deps.sessions, meter: deps.meter });
  const batches = deps.batches ? createBatchesApi({
    backends: deps.batches,
    catalogue: deps.catalogue,
    config: { maxRequests: config.batches?.maxRequests ?? 10_000 },
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
          await countTokens(sink, x);
          return;
        case 'messages':
          await messages(sink, x, options);
          return;
        case 'responses':
          await responses(sink, x, options);
          return;
        case 'embeddings':
          await embeddings(sink, x, options);
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
          await chatCompletions(sink, x, options);
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
      if (metered) deps.meter.record(record(x, now()));
    }
  }

  async function retrieveModel(sink: ResponseSink, x: Exchange, id: string): Promise<void> {
    const model = deps.catalogue.resolve(id);
    if (!model) throw new ProxyError('not_found', 'The model is not in this proxy\'s catalogue; GET /v1/models lists the available models.', { param: 'model', code: 'model_not_found' });
    const body = x.protocol === 'openai' ? openAiModel(model, model.requested) : anthropicModel(model, model.requested);
    await send(sink, x, 200, bodyUnlessHead(x.request, JSON.stringify(body)), { 'content-type': JSON_TYPE });
  }

  function resolve(x: Exchange, name: string, kind: ModelKind = 'chat'): ResolvedModel {
    const model = deps.catalogue.resolve(name);
    if (!model) {
      throw new ProxyError('not_found', 'model: the model is not in this proxy\'s catalogue; GET /v1/models lists the available models.', {
        param: 'model', code: 'model_not_found',
      });
    }
    x.model = model;
    if ((model.kind ?? 'chat') !== kind) {
      throw new ProxyError('invalid_request', kind === 'chat'
        ? `model: ${name} is an embedding model; send it to POST /v1/embeddings.`
        : `model: ${name} is a chat model, served by POST /v1/chat/completions and POST /v1/messages; POST /v1/embeddings takes an embedding model (GET /v1/models marks them with kind "embedding").`,
      { param: 'model', code: 'model_not_supported' });
    }
    return model;
  }

  function parseBody(x: Exchange): unknown {
    const parsed = parseJsonBody(x.request.body);
    if (!parsed.ok) throw new ProxyError('invalid_request', parsed.message);
    return parsed.value;
  }

  async function countTokens(sink: ResponseSink, x: Exchange): Promise<void> {
    const validated = validateCountTokensBody(parseBody(x));
    if (!validated.ok) throw invalidField(validated.error);
    const model = resolve(x, validated.value.model);
    const { request } = countTokensToCanonical(validated.value, {
      betaHeader: x.request.headers['anthropic-beta'], extraBetas: config.extraBetas, modelNames: [model.id, model.target],
    });
    await sessions.loadSession(x, request);
    const upstream = deps.upstreams(model);
    let count: number | undefined;
    if (model.countTokens && upstream.countTokens) {
      const controller = new AbortController();
      count = await upstream.countTokens({ request, model, signal: controller.signal, requestId: x.request.requestId });
    }
    const estimated = count === undefined;
    const inputTokens = count ?? estimateInputTokens(request);
    x.usage.set({ input_tokens: 0, output_tokens: 0 });
    await send(sink, x, 200, JSON.stringify(estimated ? { input_tokens: inputTokens, estimated: true } : { input_tokens: inputTokens }), {
      'content-type': JSON_TYPE,
      'x-token-count': estimated ? 'estimate' : 'exact',
    });
  }

  async function messages(sink: ResponseSink, x: Exchange, options: HandleOptions): Promise<void> {
    const validated = validateMessagesBody(parseBody(x));
    if (!validated.ok) throw invalidField(validated.error);
    const model = resolve(x, validated.value.model);
    const translated = messagesToCanonical(validated.value, {
      betaHeader: x.request.headers['anthropic-beta'],
      extraBetas: config.extraBetas,
      modelNames: [model.id, model.target],
    });
    if (translated.dropped.betas.length > 0 || translated.dropped.fields.length > 0) x.dropped = translated.dropped;
    const request = translated.request;
    x.stream = request.stream === true;
    const encoder = x.stream ? new AnthropicSseEncoder(request.model) : undefined;
    await exchange(sink, x, request, model, options, encoder, (response) => JSON.stringify({ ...response, model: request.model }));
  }

  async function chatCompletions(sink: ResponseSink, x: Exchange, options: HandleOptions): Promise<void> {
    const validated = validateChatBody(parseBody(x));
    if (!validated.ok) throw invalidField(validated.error);
    const model = resolve(x, validated.value.model);
    const maxTokens = model.maxOutputTokens ?? DEFAULT_MAX_TOKENS;
    const claude = isClaude(model);
    const { request, includeUsage, dropped } = chatToCanonical(validated.value, maxTokens, {
      claude,
      structuredOutputs: claude || model.upstream === 'openai-compatible',
    });
    if (dropped.length > 0) x.dropped = { betas: [], fields: dropped };
    x.stream = request.stream === true;
    const encoder = x.stream ? new OpenAiChunkEncoder(request.model, includeUsage) : undefined;
    await exchange(sink, x, request, model, options, encoder, (response) => JSON.stringify(toChatCompletion(response, request.model)));
  }

  async function responses(sink: ResponseSink, x: Exchange, options: HandleOptions): Promise<void> {
    const validated = validateResponsesBody(parseBody(x));
    if (!validated.ok) throw invalidField(validated.error);
    const body = validated.value;
    const model = resolve(x, body.model);
    const claude = isClaude(model);
    const history = body.previous_response_id ? await sessions.loadStoredResponse(x, body.previous_response_id) : [];
    const id = `resp_${randomUUID().replace(/-/g, '')}`;
    const store = body.store !== false && deps.sessions !== undefined;
    const { request, context, newTurn, dropped } = responsesToCanonical(body, {
      id,
      createdAt: Math.floor(now() / 1000),
      defaultMaxTokens: model.maxOutputTokens ?? DEFAULT_MAX_TOKENS,
      history,
      store,
      claude,
      structuredOutputs: claude || model.upstream === 'openai-compatible',
    });
    if (dropped.length > 0) x.dropped = { betas: [], fields: dropped };
    x.stream = request.stream === true;
    if (store) x.sessionId = id;
    const encoder = x.stream ? new ResponsesStreamEncoder(context) : undefined;
    // Stored under the response's id (per identity, with the session TTL) for a later previous_response_id.
    const conversation: Conversation = { id: store ? id : undefined, history, newTurn };
    await exchange(sink, x, request, model, options, encoder, (response) => JSON.stringify(toResponse(response, context)), conversation);
  }

  /** POST /v1/embeddings: one upstream embed call (batched there), with the same limits, deadline and metering as chat. */
  async function embeddings(sink: ResponseSink, x: Exchange, options: HandleOptions): Promise<void> {
    const validated = validateEmbeddingsBody(parseBody(x));
    if (!validated.ok) throw invalidField(validated.error);
    const body = validated.value;
    const model = resolve(x, body.model, 'embedding');
    const upstream = deps.upstreams(model);
    const spec = embeddingSpec(model);
    if (!spec || !upstream.embed) {
      throw new ProxyError('invalid_request', `model: the proxy cannot call the embedding model ${body.model} (${model.upstream} ${model.target}); it serves Amazon Titan Text Embeddings V2 and Cohere Embed v3 and v4.`, { param: 'model' });
    }
    const dimensions = checkDimensions(body, spec, body.model);
    x.stream = false;
    await policy.admit(x);
    const abort = upstreamAbort(sink, options.deadline, now);
    try {
      const call = {
        texts: embeddingTexts(body),
        model,
        dimensions,
        inputType: body.input_type ?? 'search_document',
        signal: abort.signal,
        requestId: x.request.requestId,
      };
      const result = await withAbort(upstream.embed(call), abort.signal);
      x.usage.set({ input_tokens: result.inputTokens, output_tokens: 0 });
      x.usage.firstTokenAt = now();
      await policy.recordUsage(x);
      await send(sink, x, 200, embeddingsResponse(result.embeddings, body.encoding_format ?? 'float', body.model, result.inputTokens), {
        'content-type': JSON_TYPE,
        'x-token-count': result.estimated ? 'estimate' : 'exact',
      });
    } finally {
      abort.release();
    }
  }

  /** The shared part of a generation request: session history, rate limit, the upstream call, and the bookkeeping after. */
  async function exchange(
    sink: ResponseSink,
    x: Exchange,
    request: CanonicalRequest,
    model: ResolvedModel,
    options: HandleOptions,
    encoder: StreamEncoder | undefined,
    renderComplete: (response: MessageResponse) => string,
    conversation?: Conversation,
  ): Promise<void> {
    const session = conversation ?? await sessions.loadSession(x, request);
    await policy.admit(x);

    const abort = upstreamAbort(sink, options.deadline, now);
    const call: UpstreamCall = { request, model, signal: abort.signal, requestId: x.request.requestId };
    // The turn is committed (tokens counted against the limits, the conversation saved) before the client can see the
    // end of the response, so a follow-up sent the moment it ends finds both. A failed turn records its tokens only.
    let committed = false;
    const commit = async (reply?: CanonicalMessage): Promise<void> => {
      if (committed) return;
      committed = true;
      await policy.recordUsage(x);
      if (session?.id && reply && reply.content.length > 0) {
        await sessions.saveSession(x, session.id, [...session.history, ...session.newTurn, reply]);
      }
    };
    try {
      const upstream = deps.upstreams(model);
      if (encoder) {
        const accumulator = session?.id ? new MessageAccumulator() : undefined;
        const result = await relay({
          events: upstream.stream(call),
          encoder,
          sink,
          headers: { ...x.headers, 'cache-control': 'no-cache', 'x-accel-buffering': 'no' },
          pingIntervalMs: config.pingIntervalMs,
          signal: abort.signal,
          observe: accumulator
            ? (event) => { x.usage.observe(event); accumulator.add(event); }
            : (event) => x.usage.observe(event),
          beforeStop: () => commit(accumulator?.complete ? { role: 'assistant', content: accumulator.result().content } : undefined),
        });
        switch (result.state) {
          case 'failed_before_start':
            throw result.error;
          case 'failed_mid_stream':
            x.status = 200;
            classify(x, result.error);
            break;
          case 'client_gone':
            x.status = 200;
            x.outcome = 'client_disconnected';
            break;
          default:
            x.status = 200;
        }
      } else {
        const response = await withAbort(upstream.complete(call), abort.signal);
        x.usage.set(response.usage);
        x.usage.firstTokenAt = now();
        await commit({ role: 'assistant', content: response.content });
        await send(sink, x, 200, renderComplete(response), { 'content-type': JSON_TYPE });
      }
    } finally {
      abort.release();
      await commit();
    }
  }

  function record(x: Exchange, end: number): RequestRecord {
    const tokens = tokenCounts(x.usage.usage);
    return {
      requestId: x.request.requestId,
      method: x.request.method,
      path: x.request.path.length > 200 ? `${x.request.path.slice(0, 200)}…` : x.request.path,
      route: x.route,
      protocol: x.protocol,
      status: x.status,
      outcome: x.outcome,
      identity: x.identity?.id,
      key: x.identity ? (x.identity.method === 'api-key' ? x.identity.id : 'other') : undefined,
      team: x.identity?.policy?.team,
      model: x.model?.requested,
      target: x.model?.target,
      stream: x.stream,
      ...tokens,
      estimatedCost: estimateCost(tokens, x.model?.pricing),
      timeToFirstTokenMs: x.usage.firstTokenAt === undefined ? undefined : x.usage.firstTokenAt - x.started,
      durationMs: end - x.started,
      error: x.error,
      rateLimiterUnavailable: x.limiterDegraded || undefined,
      sessionId: x.sessionId,
      dropped: x.dropped,
    };
  }

  return { handle };
}

/** A request id for runs without a Lambda context. */
export function newRequestId(): string {
  return `req_${randomUUID().replace(/-/g, '')}`;
}
