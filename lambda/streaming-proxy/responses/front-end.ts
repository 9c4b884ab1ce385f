/**
 * The Responses API front end: POST /v1/responses (streamed as its event sequence, or a response object), with
 * `store` / `previous_response_id` on the session store, per identity.
 */
import { randomUUID } from 'crypto';
import { isClaude } from '../catalogue';
import type { ResponseSink } from '../http';
import { toResponse } from './output';
import { responsesToCanonical } from './request';
import { ResponsesStreamEncoder } from './stream';
import { validateResponsesBody } from './validate';
import { invalidField, type Conversation, type Exchange } from '../stages/exchange';
import { DEFAULT_MAX_TOKENS, type FrontEndDeps, type RouteHandler } from '../stages/front-end';

export function createResponsesFrontEnd(deps: FrontEndDeps): { responses: RouteHandler } {
  const { parseBody, resolve } = deps.resolve;
  const { generate } = deps;

  async function responses(sink: ResponseSink, x: Exchange, deadline: number | undefined): Promise<void> {
    const validated = validateResponsesBody(parseBody(x));
    if (!validated.ok) throw invalidField(validated.error);
    const body = validated.value;
    const model = resolve(x, body.model);
    const claude = isClaude(model);
    const history = body.previous_response_id ? await deps.sessions.loadStoredResponse(x, body.previous_response_id) : [];
    const id = `resp_${randomUUID().replace(/-/g, '')}`;
    const store = body.store !== false && deps.storesResponses;
    const { request, context, newTurn, dropped } = responsesToCanonical(body, {
      id,
      createdAt: Math.floor(deps.now() / 1000),
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
    await generate.run(sink, x, request, model, deadline, encoder, (response) => JSON.stringify(toResponse(response, context)), conversation);
  }

  return { responses };
}
