/**
 * A validated Anthropic Messages body + headers -> the canonical request. The body already is the canonical shape, so
 * this is a pass-through with the decisions of betas.ts applied for the resolved model: beta flags from the
 * `anthropic-beta` header, and the few Claude options that only some models or betas take. Every other top-level field,
 * known to the proxy or not, goes into `extra` unchanged (docs/runtime-contract.md, "Pass-through").
 */
import { claudeModelInfo, FIELD_RULES, meets, selectBetas, type ClaudeModelInfo, type FieldRule } from './betas';
import type { CountTokensBody, MessagesBody } from './validate';
import type { CanonicalMessage, CanonicalRequest } from '../../shared/canonical';

/** Fields with a place of their own in the canonical request. */
const CANONICAL_FIELDS = new Set([
  'model', 'messages', 'system', 'max_tokens', 'stop_sequences', 'temperature', 'top_p', 'top_k', 'tools', 'tool_choice',
  'thinking', 'metadata', 'stream',
]);

export interface Translated {
  readonly request: CanonicalRequest;
  /** Beta flags and fields (`thinking.display` for an option) that were not sent upstream, for debug logs. */
  readonly dropped: { readonly betas: string[]; readonly fields: string[] };
}

export interface TranslateOptions {
  /** The `anthropic-beta` header. */
  readonly betaHeader?: string;
  /** PROXY_EXTRA_BETAS. */
  readonly extraBetas: readonly string[];
  /**
   * The resolved model's names (catalogue id, then Bedrock target), which decide the model-dependent rules. Without
   * it, only rules that hold for every model apply.
   */
  readonly modelNames?: readonly string[];
}

export function messagesToCanonical(body: MessagesBody, options: TranslateOptions): Translated {
  const info = modelInfo(options.modelNames);
  const betas = selectBetas(options.betaHeader, options.extraBetas, info);
  const droppedFields: string[] = [];
  const request: CanonicalRequest = {
    model: body.model,
    messages: turnFields(body.messages, betas.allowed, info, droppedFields),
    max_tokens: body.max_tokens,
  };
  if (body.system !== undefined) request.system = body.system;
  if (body.stop_sequences !== undefined) request.stop_sequences = body.stop_sequences;
  if (body.temperature !== undefined) request.temperature = body.temperature;
  if (body.top_p !== undefined) request.top_p = body.top_p;
  if (body.top_k !== undefined) request.top_k = body.top_k;
  if (body.tools !== undefined) request.tools = body.tools;
  if (body.tool_choice !== undefined) request.tool_choice = body.tool_choice;
  if (body.thinking !== undefined) request.thinking = withoutOptions(body.thinking, 'thinking', info, droppedFields) as CanonicalRequest['thinking'];
  if (body.metadata !== undefined && body.metadata !== null) request.metadata = body.metadata;
  if (body.stream !== undefined) request.stream = body.stream;
  if (betas.allowed.length > 0) request.anthropic_beta = betas.allowed;
  const extra = extraFields(body, betas.allowed, info, droppedFields);
  if (extra) request.extra = extra;
  return { request, dropped: { betas: betas.dropped, fields: droppedFields } };
}

/**
 * count_tokens takes the same fields minus the sampling ones. max_tokens does not change the count, but Bedrock's
 * CountTokens checks the body as InvokeModel does, where a thinking budget must be below max_tokens.
 */
export function countTokensToCanonical(body: CountTokensBody, options: TranslateOptions): Translated {
  const maxTokens = body.thinking?.type === 'enabled' ? body.thinking.budget_tokens + 1 : 1;
  return messagesToCanonical({ ...body, max_tokens: maxTokens, stream: undefined }, options);
}

/** The turns without the fields (`messages[].output_config`) a rule holds back; the same array when there are none. */
function turnFields(
  messages: CanonicalMessage[], betas: readonly string[], info: ClaudeModelInfo | undefined, dropped: string[],
): CanonicalMessage[] {
  let out: CanonicalMessage[] | undefined;
  for (const rule of FIELD_RULES) {
    if (!rule.field.startsWith('messages[].')) continue;
    const field = rule.field.slice('messages[].'.length);
    if (ruleAllows(rule, betas, info)) continue;
    for (let i = 0; i < messages.length; i++) {
      if (!(field in messages[i])) continue;
      out ??= [...messages];
      const { [field]: _held, ...rest } = out[i] as unknown as Record<string, unknown>;
      out[i] = rest as unknown as CanonicalMessage;
      if (!dropped.includes(rule.field)) dropped.push(rule.field);
    }
  }
  return out ?? messages;
}

function modelInfo(names: readonly string[] | undefined): ClaudeModelInfo | undefined {
  for (const name of names ?? []) {
    const info = claudeModelInfo(name);
    if (info) return info;
  }
  return undefined;
}

/** Every top-level field outside the canonical ones, unless a field rule holds it back. */
function extraFields(
  body: Record<string, unknown>, betas: readonly string[], info: ClaudeModelInfo | undefined, dropped: string[],
): Record<string, unknown> | undefined {
  let extra: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(body)) {
    if (CANONICAL_FIELDS.has(key) || value === undefined) continue;
    const rule = FIELD_RULES.find((r) => r.field === key);
    if (rule && !ruleAllows(rule, betas, info)) {
      dropped.push(key);
      continue;
    }
    let sent = value;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      sent = withoutOptions(value as Record<string, unknown>, key, info, dropped);
      // Nothing left once the options the model does not take are gone (`output_config: {effort}` on Opus 4.5).
      if (sent !== value && Object.keys(sent as object).length === 0) continue;
    }
    (extra ??= {})[key] = sent;
  }
  return extra;
}

/** An object field without the options (`thinking.display`) that the model does not take; the same object if none. */
function withoutOptions<T extends Record<string, unknown>>(value: T, field: string, info: ClaudeModelInfo | undefined, dropped: string[]): T {
  let out: T | undefined;
  for (const rule of FIELD_RULES) {
    if (!rule.field.startsWith(`${field}.`)) continue;
    const option = rule.field.slice(field.length + 1);
    if (!(option in value) || meets(info, rule.models)) continue;
    out ??= { ...value };
    delete out[option];
    dropped.push(rule.field);
  }
  return out ?? value;
}

function ruleAllows(rule: FieldRule, betas: readonly string[], info: ClaudeModelInfo | undefined): boolean {
  if (rule.requiresBeta !== undefined && !betas.includes(rule.requiresBeta)) return false;
  return meets(info, rule.models);
}
