/**
 * The Anthropic Messages request schema (zod/mini: small in the bundle). Content blocks and nested objects keep only the
 * fields the canonical form knows; top-level fields outside the schema are collected separately and pass the field
 * allowlist in betas.ts or are dropped.
 */
import * as z from 'zod/mini';
import type { CanonicalMessage, TextBlock, ThinkingConfig, ToolChoice, ToolDefinition } from '../../shared/canonical';
import { describeIssues, type FieldError } from '../validation';

/**
 * The schemas are built on first use, not at module load: it keeps them out of the Lambda init time (and a deployment
 * that only serves one protocol never builds the other's).
 */
function buildSchemas() {
  const nonEmpty = () => z.string().check(z.minLength(1));

  const cacheControl = z.optional(z.object({ type: z.literal('ephemeral'), ttl: z.optional(z.enum(['5m', '1h'])) }));

  const textBlock = z.object({
    type: z.literal('text'),
    text: z.string(),
    cache_control: cacheControl,
    citations: z.optional(z.nullable(z.array(z.unknown()))),
  });

  const imageBlock = z.object({
    type: z.literal('image'),
    source: z.discriminatedUnion('type', [
      z.object({ type: z.literal('base64'), media_type: z.enum(['image/jpeg', 'image/png', 'image/gif', 'image/webp']), data: nonEmpty() }),
      z.object({ type: z.literal('url'), url: nonEmpty() }),
    ]),
    cache_control: cacheControl,
  });

  const documentBlock = z.object({
    type: z.literal('document'),
    source: z.discriminatedUnion('type', [
      z.object({ type: z.literal('base64'), media_type: z.literal('application/pdf'), data: nonEmpty() }),
      z.object({ type: z.literal('text'), media_type: z.literal('text/plain'), data: z.string() }),
      z.object({ type: z.literal('url'), url: nonEmpty() }),
      z.object({ type: z.literal('content'), content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textBlock, imageBlock]))]) }),
    ]),
    title: z.optional(z.string()),
    context: z.optional(z.string()),
    citations: z.optional(z.object({ enabled: z.boolean() })),
    cache_control: cacheControl,
  });

  const toolUseBlock = z.object({
    type: z.literal('tool_use'),
    id: nonEmpty(),
    name: nonEmpty(),
    input: z.record(z.string(), z.unknown()),
    cache_control: cacheControl,
  });

  // Tool search (tool-search-tool-2025-10-19): passed to Claude as sent; Claude checks the details.
  const toolReferenceBlock = z.object({ type: z.literal('tool_reference'), tool_name: nonEmpty(), cache_control: cacheControl });
  const serverToolUseBlock = z.looseObject({
    type: z.literal('server_tool_use'),
    id: nonEmpty(),
    name: nonEmpty(),
    input: z.unknown(),
    cache_control: cacheControl,
  });
  const toolSearchToolResultBlock = z.object({
    type: z.literal('tool_search_tool_result'),
    tool_use_id: nonEmpty(),
    content: z.looseObject({ type: z.enum(['tool_search_tool_search_result', 'tool_search_tool_result_error']) }),
    cache_control: cacheControl,
  });

  const toolResultBlock = z.object({
    type: z.literal('tool_result'),
    tool_use_id: nonEmpty(),
    content: z.optional(z.union([z.string(), z.array(z.discriminatedUnion('type', [textBlock, imageBlock, documentBlock, toolReferenceBlock]))])),
    is_error: z.optional(z.boolean()),
    cache_control: cacheControl,
  });

  const thinkingBlock = z.object({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() });
  const redactedThinkingBlock = z.object({ type: z.literal('redacted_thinking'), data: z.string() });

  const contentBlock = z.discriminatedUnion('type', [
    textBlock,
    imageBlock,
    documentBlock,
    toolUseBlock,
    toolResultBlock,
    thinkingBlock,
    redactedThinkingBlock,
    serverToolUseBlock,
    toolSearchToolResultBlock,
  ]);

  const message = z.object({
    role: z.enum(['user', 'assistant']),
    content: z.union([z.string(), z.array(contentBlock)]),
  });

  const system = z.optional(z.union([z.string(), z.array(textBlock)]));

  const tool = z.looseObject({
    name: nonEmpty(),
    description: z.optional(z.string()),
    input_schema: z.optional(z.record(z.string(), z.unknown())),
    type: z.optional(z.string()),
    cache_control: cacheControl,
  });

  const toolChoice = z.optional(z.discriminatedUnion('type', [
    z.object({ type: z.literal('auto'), disable_parallel_tool_use: z.optional(z.boolean()) }),
    z.object({ type: z.literal('any'), disable_parallel_tool_use: z.optional(z.boolean()) }),
    z.object({ type: z.literal('tool'), name: nonEmpty(), disable_parallel_tool_use: z.optional(z.boolean()) }),
    z.object({ type: z.literal('none') }),
  ]));

  const thinking = z.optional(z.discriminatedUnion('type', [
    z.object({ type: z.literal('enabled'), budget_tokens: z.int().check(z.minimum(1024)) }),
    z.object({ type: z.literal('disabled') }),
    z.object({ type: z.literal('adaptive') }),
  ]));

  const common = {
    model: nonEmpty(),
    messages: z.array(message).check(z.minLength(1)),
    system,
    tools: z.optional(z.array(tool)),
    tool_choice: toolChoice,
    thinking,
  };

  const messagesRequest = z.looseObject({
    ...common,
    max_tokens: z.int().check(z.minimum(1)),
    stop_sequences: z.optional(z.array(z.string())),
    temperature: z.optional(z.number().check(z.minimum(0), z.maximum(1))),
    top_p: z.optional(z.number().check(z.minimum(0), z.maximum(1))),
    top_k: z.optional(z.int().check(z.minimum(0))),
    metadata: z.optional(z.object({ user_id: z.optional(z.nullable(z.string())) })),
    stream: z.optional(z.boolean()),
  });

  const countTokensRequest = z.looseObject(common);
  return { messagesRequest, countTokensRequest };
}

let schemas: ReturnType<typeof buildSchemas> | undefined;

/** The validated body of POST /v1/messages/count_tokens (plus any unknown top-level fields, still to be filtered). */
export interface CountTokensBody {
  model: string;
  messages: CanonicalMessage[];
  system?: string | TextBlock[];
  tools?: ToolDefinition[];
  tool_choice?: ToolChoice;
  thinking?: ThinkingConfig;
  [extra: string]: unknown;
}

/** The validated body of POST /v1/messages (plus any unknown top-level fields, still to be filtered). */
export interface MessagesBody extends CountTokensBody {
  max_tokens: number;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  metadata?: { user_id?: string | null };
  stream?: boolean;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; error: FieldError };

export function validateMessagesBody(body: unknown): Validated<MessagesBody> {
  if (!isObject(body)) return { ok: false, error: { path: '', message: 'the request body must be a JSON object' } };
  const result = (schemas ??= buildSchemas()).messagesRequest.safeParse(body);
  if (!result.success) return { ok: false, error: describeIssues(result.error.issues, body) };
  const value: MessagesBody = result.data;
  return { ok: true, value };
}

export function validateCountTokensBody(body: unknown): Validated<CountTokensBody> {
  if (!isObject(body)) return { ok: false, error: { path: '', message: 'the request body must be a JSON object' } };
  const result = (schemas ??= buildSchemas()).countTokensRequest.safeParse(body);
  if (!result.success) return { ok: false, error: describeIssues(result.error.issues, body) };
  const value: CountTokensBody = result.data;
  return { ok: true, value };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
