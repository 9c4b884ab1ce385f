/**
 * Claude's content -> Responses API output items and the `response` object, shared by the non-streamed answer and the
 * stream encoder (stream.ts), so `responses.stream()`'s accumulated final response equals the non-streamed one.
 *
 *   text              -> a `message` item with one `output_text` part
 *   tool_use          -> a `function_call` item (`name` / `namespace` restored from the request's tools), or a
 *                        `custom_tool_call` item (`input` the string) for a custom tool
 *   thinking          -> a `reasoning` item: the thinking text as `summary_text` when `reasoning.summary` was asked for,
 *                        and, with `include: ["reasoning.encrypted_content"]`, `encrypted_content` carrying the thinking
 *                        block and its signature, so a client that sends the item back (Codex CLI does) continues the
 *                        turn with the thinking block Claude requires after a tool call
 *   redacted_thinking -> a `reasoning` item with `encrypted_content` only
 *
 * `encrypted_content` is not encrypted by the proxy: Claude's signature already protects the thinking from edits
 * (Claude rejects a modified block), so it is the block as base64url JSON behind a version prefix.
 */
import type { ResponseContext, ToolName } from './request';
import type { ContentBlock, MessageResponse, StopReason, Usage } from '../../shared/canonical';

const REASONING_PREFIX = 'csl1.';
const CHARS_PER_TOKEN = 4;

export type OutputItem = Record<string, unknown> & { type: string; id: string };

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** A thinking or redacted_thinking block -> the encrypted_content string of a reasoning item. */
export function encodeReasoning(block: { type: 'thinking'; thinking: string; signature: string } | { type: 'redacted_thinking'; data: string }): string {
  return REASONING_PREFIX + Buffer.from(JSON.stringify(block)).toString('base64url');
}

/** A reasoning item's encrypted_content -> the block it carries, or undefined when it is not one of ours. */
export function decodeReasoning(value: unknown): ContentBlock | undefined {
  if (typeof value !== 'string' || !value.startsWith(REASONING_PREFIX)) return undefined;
  try {
    const block = JSON.parse(Buffer.from(value.slice(REASONING_PREFIX.length), 'base64url').toString('utf8')) as Record<string, unknown>;
    if (block.type === 'thinking' && typeof block.thinking === 'string' && typeof block.signature === 'string') {
      return { type: 'thinking', thinking: block.thinking, signature: block.signature };
    }
    if (block.type === 'redacted_thinking' && typeof block.data === 'string') return { type: 'redacted_thinking', data: block.data };
  } catch {
    return undefined;
  }
  return undefined;
}

/** Item ids are derived from the response id and the block's position, so the streamed and final items agree. */
export function itemId(context: ResponseContext, prefix: 'msg' | 'fc' | 'ctc' | 'rs', index: number): string {
  return `${prefix}_${context.id.slice('resp_'.length)}_${index}`;
}

export function toolName(context: ResponseContext, flat: string): ToolName {
  return context.toolNames.get(flat) ?? { name: flat, custom: false };
}

export function messageItem(id: string, text: string, status = 'completed'): OutputItem {
  return { id, type: 'message', status, role: 'assistant', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] };
}

export function toolCallItem(context: ResponseContext, id: string, callId: string, flat: string, json: string, status = 'completed'): OutputItem {
  const tool = toolName(context, flat);
  if (tool.custom) {
    let input = '';
    try {
      const parsed = JSON.parse(json || '{}') as { input?: unknown };
      input = typeof parsed.input === 'string' ? parsed.input : '';
    } catch {
      input = '';
    }
    return { id, type: 'custom_tool_call', status, call_id: callId, name: tool.name, input, ...(tool.namespace ? { namespace: tool.namespace } : {}) };
  }
  return { id, type: 'function_call', status, call_id: callId, name: tool.name, arguments: json, ...(tool.namespace ? { namespace: tool.namespace } : {}) };
}

export function reasoningItem(context: ResponseContext, id: string, block: { type: 'thinking'; thinking: string; signature: string } | { type: 'redacted_thinking'; data: string }): OutputItem {
  const summary = block.type === 'thinking' && context.reasoningSummary && block.thinking.length > 0 ? [{ type: 'summary_text', text: block.thinking }] : [];
  return {
    id,
    type: 'reasoning',
    summary,
    ...(context.encryptedReasoning ? { encrypted_content: encodeReasoning(block) } : {}),
  };
}

/** The output items for a complete answer (non-streamed). */
export function outputItems(context: ResponseContext, content: readonly ContentBlock[]): OutputItem[] {
  const items: OutputItem[] = [];
  content.forEach((block, index) => {
    switch (block.type) {
      case 'text':
        items.push(messageItem(itemId(context, 'msg', index), block.text));
        break;
      case 'tool_use': {
        const custom = toolName(context, block.name).custom;
        items.push(toolCallItem(context, itemId(context, custom ? 'ctc' : 'fc', index), block.id, block.name, JSON.stringify(block.input)));
        break;
      }
      case 'thinking':
      case 'redacted_thinking':
        items.push(reasoningItem(context, itemId(context, 'rs', index), block));
        break;
      default:
        // Server-side tool blocks (Anthropic-native upstreams only) have no Responses item.
        break;
    }
  });
  return items;
}

/** Anthropic usage -> Responses usage: input tokens include the cached and cache-written ones. Claude does not count
 * thinking tokens apart, so reasoning_tokens is an estimate from the thinking text (4 characters a token). */
export function responsesUsage(usage: Usage, thinkingChars: number): ResponsesUsage {
  const cached = usage.cache_read_input_tokens ?? 0;
  const input = usage.input_tokens + cached + (usage.cache_creation_input_tokens ?? 0);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: cached },
    output_tokens: usage.output_tokens,
    output_tokens_details: { reasoning_tokens: Math.min(usage.output_tokens, Math.ceil(thinkingChars / CHARS_PER_TOKEN)) },
    total_tokens: input + usage.output_tokens,
  };
}

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

/** The status and incomplete_details for a stop reason. */
export function statusFor(stop: StopReason | null): { status: ResponseStatus; incomplete_details: { reason: string } | null } {
  switch (stop) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
    case 'refusal':
      return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
    default:
      return { status: 'completed', incomplete_details: null };
  }
}

export interface ResponseState {
  readonly status: ResponseStatus;
  readonly output: readonly OutputItem[];
  readonly usage: ResponsesUsage | null;
  readonly incompleteDetails?: { reason: string } | null;
  readonly error?: { code: string; message: string } | null;
}

/** The `response` object, with the request's fields echoed as the Responses API does. */
export function responseObject(context: ResponseContext, state: ResponseState): Record<string, unknown> {
  return {
    id: context.id,
    object: 'response',
    created_at: context.createdAt,
    status: state.status,
    background: false,
    error: state.error ?? null,
    incomplete_details: state.incompleteDetails ?? null,
    model: context.model,
    output: state.output,
    ...context.echo,
    store: context.store,
    usage: state.usage,
  };
}

/** A complete canonical response -> the Responses API `response` object (stream: false). */
export function toResponse(response: MessageResponse, context: ResponseContext): Record<string, unknown> {
  const { status, incomplete_details } = statusFor(response.stop_reason);
  let thinkingChars = 0;
  for (const b of response.content) if (b.type === 'thinking') thinkingChars += b.thinking.length;
  return responseObject(context, {
    status,
    incompleteDetails: incomplete_details,
    output: outputItems(context, response.content),
    usage: responsesUsage(response.usage, thinkingChars),
  });
}
