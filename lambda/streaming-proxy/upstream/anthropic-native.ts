/**
 * What the two Anthropic-native Bedrock upstreams (InvokeModel and the Bedrock Anthropic Messages endpoint) share: the
 * request body Bedrock expects for Claude, and the pass-through of Claude's own stream events with the client's model
 * name restored. Events are otherwise passed unchanged, so thinking (with signatures), redacted thinking, tool input
 * deltas, citations and prompt-cache usage reach the client exactly as Claude sent them.
 */
import { kindForAnthropicType } from './errors';
import type { ResolvedModel } from './types';
import { UpstreamError, type CanonicalEvent, type CanonicalRequest, type MessageResponse } from '../../shared/canonical';

export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

/** The beta flag that opens the 1M-token context window on models that need it (Claude Code's `[1m]` suffix). */
export const CONTEXT_1M_BETA = 'context-1m-2025-08-07';

/**
 * The Anthropic request body for Bedrock: `anthropic_version` in the body, no `model` or `stream` (InvokeModel takes
 * them from the path); betas as `anthropic_beta`. Everything else the client sent goes through as sent (`extra`, the
 * fields the front end let through, unknown ones included); the typed fields win over them. This is the body Claude
 * Code's own Bedrock mode sends for the same conversation (test/fixtures/claude-code/).
 */
export function anthropicBody(request: CanonicalRequest, model: ResolvedModel): Record<string, unknown> {
  const body: Record<string, unknown> = { ...(request.extra ?? {}) };
  body.anthropic_version = BEDROCK_ANTHROPIC_VERSION;
  body.max_tokens = request.max_tokens;
  body.messages = request.messages;
  if (request.system !== undefined) body.system = request.system;
  if (request.stop_sequences !== undefined) body.stop_sequences = request.stop_sequences;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.top_p !== undefined) body.top_p = request.top_p;
  if (request.top_k !== undefined) body.top_k = request.top_k;
  if (request.tools !== undefined) body.tools = request.tools;
  if (request.tool_choice !== undefined) body.tool_choice = request.tool_choice;
  if (request.thinking !== undefined) body.thinking = request.thinking;
  if (request.metadata !== undefined) body.metadata = request.metadata;
  const betas = [...(request.anthropic_beta ?? [])];
  // Models whose standard window is already 1M tokens need no beta for `[1m]`.
  if (model.longContext && (model.contextWindow ?? 0) < 1_000_000 && !betas.includes(CONTEXT_1M_BETA)) {
    betas.push(CONTEXT_1M_BETA);
  }
  if (betas.length > 0) body.anthropic_beta = betas;
  delete body.model;
  delete body.stream;
  return body;
}

const PASS_THROUGH = new Set(['content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'ping']);

/**
 * One Claude stream event as Bedrock sent it (already JSON-parsed) -> the canonical event, or undefined for event types
 * the canonical stream does not carry. `message_start` gets the client's model name; Bedrock's
 * `amazon-bedrock-invocationMetrics` is removed from `message_stop`; an `error` event becomes an UpstreamError.
 */
export function claudeEvent(raw: unknown, clientModel: string, what: string): CanonicalEvent | undefined {
  if (typeof raw !== 'object' || raw === null) throw new UpstreamError('internal', `${what} sent a malformed event`);
  const event = raw as { type?: unknown; message?: Record<string, unknown>; error?: { type?: unknown; message?: unknown } };
  const type = event.type;
  if (typeof type !== 'string') throw new UpstreamError('internal', `${what} sent an event without a type`);
  if (PASS_THROUGH.has(type)) return event as CanonicalEvent;
  switch (type) {
    case 'message_start':
      if (typeof event.message !== 'object' || event.message === null) {
        throw new UpstreamError('internal', `${what} sent message_start without a message`);
      }
      return { ...event, message: { ...event.message, model: clientModel } } as CanonicalEvent;
    case 'message_stop':
      return { type: 'message_stop' };
    case 'error': {
      const errType = typeof event.error?.type === 'string' ? event.error.type : 'api_error';
      const message = typeof event.error?.message === 'string' ? event.error.message : errType;
      throw new UpstreamError(kindForAnthropicType(errType) ?? 'internal', `${what}: ${message}`);
    }
    default:
      return undefined;
  }
}

/** A complete Messages response from Bedrock, with the client's model name restored. */
export function claudeResponse(raw: unknown, clientModel: string, what: string): MessageResponse {
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { content?: unknown }).content)) {
    const err = (raw as { type?: unknown; error?: { type?: unknown; message?: unknown } } | null);
    if (err && err.type === 'error') claudeEvent(err, clientModel, what);
    throw new UpstreamError('internal', `${what} sent a malformed response`);
  }
  const { ['amazon-bedrock-invocationMetrics']: _metrics, ...rest } = raw as Record<string, unknown>;
  return { ...(rest as unknown as MessageResponse), model: clientModel };
}
