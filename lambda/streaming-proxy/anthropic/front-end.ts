/**
 * The Anthropic front end: POST /v1/messages (streamed as Anthropic SSE, or whole) and POST /v1/messages/count_tokens
 * (Bedrock CountTokens where the model has it, else an estimate).
 */
import { estimateInputTokens } from '../estimate';
import type { ResponseSink } from '../http';
import { countTokensToCanonical, messagesToCanonical } from './request';
import { AnthropicSseEncoder } from './sse';
import { validateCountTokensBody, validateMessagesBody } from './validate';
import { invalidField, JSON_TYPE, send, type Exchange } from '../stages/exchange';
import type { FrontEndDeps, RouteHandler } from '../stages/front-end';

export function createAnthropicFrontEnd(deps: FrontEndDeps): { messages: RouteHandler; countTokens: RouteHandler } {
  const { parseBody, resolve } = deps.resolve;
  const { generate } = deps;

  async function countTokens(sink: ResponseSink, x: Exchange): Promise<void> {
    const validated = validateCountTokensBody(parseBody(x));
    if (!validated.ok) throw invalidField(validated.error);
    const model = resolve(x, validated.value.model);
    const { request } = countTokensToCanonical(validated.value, {
      betaHeader: x.request.headers['anthropic-beta'], extraBetas: deps.config.extraBetas, modelNames: [model.id, model.target],
    });
    await deps.sessions.loadSession(x, request);
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

  async function messages(sink: ResponseSink, x: Exchange, deadline: number | undefined): Promise<void> {
    const validated = validateMessagesBody(parseBody(x));
    if (!validated.ok) throw invalidField(validated.error);
    const model = resolve(x, validated.value.model);
    const translated = messagesToCanonical(validated.value, {
      betaHeader: x.request.headers['anthropic-beta'],
      extraBetas: deps.config.extraBetas,
      modelNames: [model.id, model.target],
    });
    if (translated.dropped.betas.length > 0 || translated.dropped.fields.length > 0) x.dropped = translated.dropped;
    const request = translated.request;
    x.stream = request.stream === true;
    const encoder = x.stream ? new AnthropicSseEncoder(request.model) : undefined;
    await generate.run(sink, x, request, model, deadline, encoder, (response) => JSON.stringify({ ...response, model: request.model }));
  }

  return { messages, countTokens };
}
