/**
 * A validated Anthropic Messages body + headers -> the canonical request. The body already is the canonical shape;
 * what happens here is the allowlisting: beta flags from the `anthropic-beta` header, and unknown top-level fields.
 */
import { EXTRA_FIELD_ALLOWLIST, selectBetas } from './betas';
import type { CountTokensBody, MessagesBody } from './validate';
import type { CanonicalRequest } from '../../shared/canonical';

const CANONICAL_FIELDS = new Set([
  'model', 'messages', 'system', 'max_tokens', 'stop_sequences', 'temperature', 'top_p', 'top_k', 'tools', 'tool_choice',
  'thinking', 'metadata', 'stream',
]);

export interface Translated {
  readonly request: CanonicalRequest;
  /** Beta flags and top-level fields that were dropped (for debug logs; never sent upstream). */
  readonly dropped: { readonly betas: string[]; readonly fields: string[] };
}

export interface TranslateOptions {
  /** The `anthropic-beta` header. */
  readonly betaHeader?: string;
  /** PROXY_EXTRA_BETAS. */
  readonly extraBetas: readonly string[];
}

export function messagesToCanonical(body: MessagesBody, options: TranslateOptions): Translated {
  const betas = selectBetas(options.betaHeader, options.extraBetas);
  const request: CanonicalRequest = {
    model: body.model,
    messages: body.messages,
    max_tokens: body.max_tokens,
  };
  if (body.system !== undefined) request.system = body.system;
  if (body.stop_sequences !== undefined) request.stop_sequences = body.stop_sequences;
  if (body.temperature !== undefined) request.temperature = body.temperature;
  if (body.top_p !== undefined) request.top_p = body.top_p;
  if (body.top_k !== undefined) request.top_k = body.top_k;
  if (body.tools !== undefined) request.tools = body.tools;
  if (body.tool_choice !== undefined) request.tool_choice = body.tool_choice;
  if (body.thinking !== undefined) request.thinking = body.thinking;
  if (body.metadata?.user_id) request.metadata = { user_id: body.metadata.user_id };
  if (body.stream !== undefined) request.stream = body.stream;
  if (betas.allowed.length > 0) request.anthropic_beta = betas.allowed;
  const fields = extraFields(body, betas.allowed);
  if (fields.extra) request.extra = fields.extra;
  return { request, dropped: { betas: betas.dropped, fields: fields.dropped } };
}

/**
 * count_tokens takes the same fields minus the sampling ones. max_tokens does not change the count, but Bedrock's
 * CountTokens checks the body as InvokeModel would, where a thinking budget must be below max_tokens.
 */
export function countTokensToCanonical(body: CountTokensBody, options: TranslateOptions): Translated {
  const maxTokens = body.thinking?.type === 'enabled' ? body.thinking.budget_tokens + 1 : 1;
  return messagesToCanonical({ ...body, max_tokens: maxTokens, stream: undefined }, options);
}

function extraFields(body: Record<string, unknown>, betas: readonly string[]): { extra?: Record<string, unknown>; dropped: string[] } {
  let extra: Record<string, unknown> | undefined;
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (CANONICAL_FIELDS.has(key)) continue;
    const rule = EXTRA_FIELD_ALLOWLIST[key];
    if (rule && (rule.requiresBeta === undefined || betas.includes(rule.requiresBeta))) {
      (extra ??= {})[key] = value;
    } else {
      dropped.push(key);
    }
  }
  return { extra, dropped };
}
