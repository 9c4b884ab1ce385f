/**
 * The OpenAI front end: POST /v1/chat/completions (streamed as chunks, or a chat.completion) and POST /v1/embeddings
 * (one upstream embed call, batched there).
 */
import { isClaude } from '../catalogue';
import { embeddingSpec } from '../embedding-models';
import { ProxyError } from '../errors';
import type { ResponseSink } from '../http';
import { toChatCompletion } from './aggregate';
import { OpenAiChunkEncoder } from './chunks';
import { checkDimensions, embeddingsResponse, embeddingTexts, validateEmbeddingsBody } from './embeddings';
import { chatToCanonical } from './request';
import { validateChatBody } from './validate';
import { invalidField, JSON_TYPE, send, upstreamAbort, withAbort, type Exchange } from '../stages/exchange';
import { DEFAULT_MAX_TOKENS, type FrontEndDeps, type RouteHandler } from '../stages/front-end';

export function createOpenAiFrontEnd(deps: FrontEndDeps): { chatCompletions: RouteHandler; embeddings: RouteHandler } {
  const { parseBody, resolve } = deps.resolve;
  const { generate } = deps;

  async function chatCompletions(sink: ResponseSink, x: Exchange, deadline: number | undefined): Promise<void> {
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
    await generate.run(sink, x, request, model, deadline, encoder, (response) => JSON.stringify(toChatCompletion(response, request.model)));
  }

  /** POST /v1/embeddings: one upstream embed call (batched there), with the same limits, deadline and metering as chat. */
  async function embeddings(sink: ResponseSink, x: Exchange, deadline: number | undefined): Promise<void> {
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
    await deps.policy.admit(x);
    const abort = upstreamAbort(sink, deadline, deps.now);
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
      x.usage.firstTokenAt = deps.now();
      await deps.policy.recordUsage(x);
      await send(sink, x, 200, embeddingsResponse(result.embeddings, body.encoding_format ?? 'float', body.model, result.inputTokens), {
        'content-type': JSON_TYPE,
        'x-token-count': result.estimated ? 'estimate' : 'exact',
      });
    } finally {
      abort.release();
    }
  }

  return { chatCompletions, embeddings };
}
