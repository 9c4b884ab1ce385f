/**
 * The Anthropic Messages request, read tolerantly (zod/mini: small in the bundle).
 *
 * The proxy validates only what it reads: the model, `max_tokens`, the message list and its roles, the fields of the
 * content blocks a translator or the mock must understand, the tools' names, `tool_choice`, `thinking`, the sampling
 * fields and `stream`. Everything else — unknown top-level fields, fields inside known blocks, block types, roles,
 * thinking and tool options the proxy has never heard of — is kept exactly as sent, so it reaches Claude unchanged and
 * Bedrock is the judge (docs/runtime-contract.md, "Pass-through"). Translators to other upstreams answer a 400 that names
 * what they cannot translate.
 *
 * Validation runs in two passes: the request's frame (one schema), then each content block of a known type against the
 * schema of that type, with the block's path in the error.
 */
import * as z from 'zod/mini';
import type { CanonicalMessage, ContentBlock, TextBlock, ThinkingConfig, ToolChoice, ToolDefinition } from '../../shared/canonical';
import { describeIssues, type FieldError } from '../validation';

type Schema = z.ZodMiniType;

/** The schemas are built on first use, not at module load, to keep them out of the Lambda init time. */
function buildSchemas() {
  const nonEmpty = () => z.string().check(z.minLength(1));
  /** Any object with a string `type`: the frame of a content block, a source, a tool_result part. */
  const typed = () => z.looseObject({ type: z.string() });

  const content = z.union([z.string(), z.array(typed())]);
  const message = z.looseObject({
    role: nonEmpty(),
    content,
  });

  const tool = z.looseObject({
    name: z.optional(z.string()),
    description: z.optional(z.string()),
    input_schema: z.optional(z.record(z.string(), z.unknown())),
    type: z.optional(z.string()),
  });

  const toolChoice = z.optional(z.discriminatedUnion('type', [
    z.looseObject({ type: z.literal('auto'), disable_parallel_tool_use: z.optional(z.boolean()) }),
    z.looseObject({ type: z.literal('any'), disable_parallel_tool_use: z.optional(z.boolean()) }),
    z.looseObject({ type: z.literal('tool'), name: nonEmpty(), disable_parallel_tool_use: z.optional(z.boolean()) }),
    z.looseObject({ type: z.literal('none') }),
  ]));

  // Claude's thinking options: the proxy reads `type` and the budget (count_tokens needs max_tokens above it); other
  // options such as `display` pass through.
  const thinking = z.optional(z.discriminatedUnion('type', [
    z.looseObject({ type: z.literal('enabled'), budget_tokens: z.int().check(z.minimum(1024)) }),
    z.looseObject({ type: z.literal('disabled') }),
    z.looseObject({ type: z.literal('adaptive') }),
  ]));

  const common = {
    model: nonEmpty(),
    messages: z.array(message).check(z.minLength(1)),
    system: z.optional(z.union([z.string(), z.array(typed())])),
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
    metadata: z.optional(z.looseObject({ user_id: z.optional(z.nullable(z.string())) })),
    stream: z.optional(z.boolean()),
  });
  const countTokensRequest = z.looseObject(common);

  // The fields of the known block types that the proxy reads (translators, the mock, token estimates, sessions).
  const sources = {
    image: {
      base64: z.looseObject({ media_type: nonEmpty(), data: nonEmpty() }),
      url: z.looseObject({ url: nonEmpty() }),
    },
    document: {
      base64: z.looseObject({ media_type: nonEmpty(), data: nonEmpty() }),
      text: z.looseObject({ data: z.string() }),
      url: z.looseObject({ url: nonEmpty() }),
      content: z.looseObject({ content: z.union([z.string(), z.array(typed())]) }),
    },
  } satisfies Record<string, Record<string, Schema>>;
  const blocks: Record<string, Schema> = {
    text: z.looseObject({ text: z.string() }),
    image: z.looseObject({ source: typed() }),
    document: z.looseObject({ source: typed(), title: z.optional(z.nullable(z.string())) }),
    tool_use: z.looseObject({ id: nonEmpty(), name: nonEmpty(), input: z.record(z.string(), z.unknown()) }),
    tool_result: z.looseObject({
      tool_use_id: nonEmpty(),
      content: z.optional(z.union([z.string(), z.array(typed())])),
      is_error: z.optional(z.boolean()),
    }),
    thinking: z.looseObject({ thinking: z.string(), signature: z.string() }),
    redacted_thinking: z.looseObject({ data: z.string() }),
    server_tool_use: z.looseObject({ id: nonEmpty(), name: nonEmpty() }),
    tool_search_tool_result: z.looseObject({ tool_use_id: nonEmpty(), content: typed() }),
    tool_reference: z.looseObject({ tool_name: nonEmpty() }),
  };
  return { messagesRequest, countTokensRequest, blocks, sources };
}

let schemas: ReturnType<typeof buildSchemas> | undefined;

/** The validated body of POST /v1/messages/count_tokens. Every field the client sent is kept, known or not. */
export interface CountTokensBody {
  model: string;
  messages: CanonicalMessage[];
  system?: string | TextBlock[];
  tools?: ToolDefinition[];
  tool_choice?: ToolChoice;
  thinking?: ThinkingConfig;
  [extra: string]: unknown;
}

/** The validated body of POST /v1/messages. Every field the client sent is kept, known or not. */
export interface MessagesBody extends CountTokensBody {
  max_tokens: number;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  metadata?: { user_id?: string | null; [field: string]: unknown };
  stream?: boolean;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; error: FieldError };

export function validateMessagesBody(body: unknown): Validated<MessagesBody> {
  return validate<MessagesBody>(body, 'messagesRequest');
}

export function validateCountTokensBody(body: unknown): Validated<CountTokensBody> {
  return validate<CountTokensBody>(body, 'countTokensRequest');
}

function validate<T>(body: unknown, which: 'messagesRequest' | 'countTokensRequest'): Validated<T> {
  if (!isObject(body)) return { ok: false, error: { path: '', message: 'the request body must be a JSON object' } };
  const s = (schemas ??= buildSchemas());
  const result = s[which].safeParse(body);
  if (!result.success) return { ok: false, error: describeIssues(result.error.issues, body) };
  // The frame passed: check the blocks of known types. The schemas neither transform nor default anything, so the
  // client's own object is the value: nothing is lost, copied or reordered on the way to Claude.
  const value = body;
  const messages = value.messages as Array<{ content: unknown }>;
  for (let i = 0; i < messages.length; i++) {
    const error = checkBlocks(messages[i].content, `messages.${i}.content`);
    if (error) return { ok: false, error };
  }
  const systemError = checkBlocks(value.system, 'system');
  if (systemError) return { ok: false, error: systemError };
  return { ok: true, value: value as T };
}

/** Checks every block of a known type in a content array (and inside tool results and documents); undefined when fine. */
function checkBlocks(content: unknown, path: string): FieldError | undefined {
  if (!Array.isArray(content)) return undefined;
  const s = schemas!;
  for (let j = 0; j < content.length; j++) {
    const block = content[j] as ContentBlock & Record<string, unknown>;
    const at = `${path}.${j}`;
    const schema = s.blocks[block.type];
    if (!schema) continue; // A block type the proxy does not read: passed on as sent.
    const error = check(schema, block, at);
    if (error) return error;
    if (block.type === 'image' || block.type === 'document') {
      const source = block.source as { type: string };
      const sourceSchema = (s.sources[block.type] as Record<string, Schema>)[source.type];
      const sourceError = sourceSchema ? check(sourceSchema, source, `${at}.source`) : undefined;
      if (sourceError) return sourceError;
      if (block.type === 'document' && source.type === 'content') {
        const nested = checkBlocks((source as { content?: unknown }).content, `${at}.source.content`);
        if (nested) return nested;
      }
    }
    if (block.type === 'tool_result') {
      const nested = checkBlocks(block.content, `${at}.content`);
      if (nested) return nested;
    }
  }
  return undefined;
}

function check(schema: Schema, value: unknown, path: string): FieldError | undefined {
  const result = schema.safeParse(value);
  if (result.success) return undefined;
  const error = describeIssues(result.error.issues, value);
  return { path: error.path ? `${path}.${error.path}` : path, message: error.message };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
