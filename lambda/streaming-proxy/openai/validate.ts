/**
 * The OpenAI Chat Completions request schema. OpenAI clients often send `null` for unset fields, so optional fields
 * accept null. Fields the proxy cannot honour but that are harmless to ignore (seed, logit_bias, presence_penalty, ...)
 * are not in the schema and are dropped; fields whose meaning cannot be honoured are rejected in request.ts.
 */
import * as z from 'zod/mini';
import type { Validated } from '../anthropic/validate';
import { describeIssues } from '../validation';

/** Built on first use, not at module load (keeps it out of the Lambda init time). */
function buildSchema() {
  const opt = <T extends z.core.SomeType>(schema: T) => z.optional(z.nullable(schema));
  const nonEmpty = () => z.string().check(z.minLength(1));

  const textPart = z.object({ type: z.literal('text'), text: z.string() });
  const imagePart = z.object({
    type: z.literal('image_url'),
    image_url: z.object({ url: nonEmpty(), detail: opt(z.enum(['auto', 'low', 'high'])) }),
  });
  const filePart = z.object({
    type: z.literal('file'),
    file: z.object({ file_data: opt(z.string()), file_id: opt(z.string()), filename: opt(z.string()) }),
  });
  const audioPart = z.object({ type: z.literal('input_audio'), input_audio: z.unknown() });
  const refusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() });

  const userContent = z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, imagePart, filePart, audioPart]))]);
  const textContent = z.union([z.string(), z.array(textPart)]);

  const toolCall = z.object({
    id: nonEmpty(),
    type: z.optional(z.literal('function')),
    function: z.object({ name: nonEmpty(), arguments: z.string() }),
  });

  const message = z.discriminatedUnion('role', [
    z.object({ role: z.literal('system'), content: textContent, name: opt(z.string()) }),
    z.object({ role: z.literal('developer'), content: textContent, name: opt(z.string()) }),
    z.object({ role: z.literal('user'), content: userContent, name: opt(z.string()) }),
    z.object({
      role: z.literal('assistant'),
      content: opt(z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, refusalPart]))])),
      refusal: opt(z.string()),
      tool_calls: opt(z.array(toolCall)),
      reasoning_content: opt(z.string()),
      name: opt(z.string()),
    }),
    z.object({ role: z.literal('tool'), content: textContent, tool_call_id: nonEmpty() }),
    z.object({ role: z.literal('function'), content: opt(z.string()), name: z.string() }),
  ]);

  const tool = z.object({
    type: z.literal('function'),
    function: z.object({
      name: nonEmpty(),
      description: opt(z.string()),
      parameters: opt(z.record(z.string(), z.unknown())),
      strict: opt(z.boolean()),
    }),
  });

  const toolChoice = z.union([
    z.enum(['none', 'auto', 'required']),
    z.object({ type: z.literal('function'), function: z.object({ name: nonEmpty() }) }),
  ]);

  const chatRequest = z.object({
    model: nonEmpty(),
    messages: z.array(message).check(z.minLength(1)),
    max_tokens: opt(z.int().check(z.minimum(1))),
    max_completion_tokens: opt(z.int().check(z.minimum(1))),
    stop: opt(z.union([z.string(), z.array(z.string())])),
    temperature: opt(z.number().check(z.minimum(0), z.maximum(2))),
    top_p: opt(z.number().check(z.minimum(0), z.maximum(1))),
    n: opt(z.int().check(z.minimum(1))),
    stream: opt(z.boolean()),
    stream_options: opt(z.object({ include_usage: opt(z.boolean()) })),
    tools: opt(z.array(tool)),
    tool_choice: opt(toolChoice),
    parallel_tool_calls: opt(z.boolean()),
    reasoning_effort: opt(z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh'])),
    user: opt(z.string()),
    response_format: opt(z.looseObject({ type: z.enum(['text', 'json_object', 'json_schema']) })),
    modalities: opt(z.array(z.string())),
  });
  return chatRequest;
}

let schema: ReturnType<typeof buildSchema> | undefined;

export type ChatCompletionBody = z.infer<ReturnType<typeof buildSchema>>;
export type ChatMessage = ChatCompletionBody['messages'][number];

export function validateChatBody(body: unknown): Validated<ChatCompletionBody> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, error: { path: '', message: 'the request body must be a JSON object' } };
  }
  const result = (schema ??= buildSchema()).safeParse(body);
  return result.success ? { ok: true, value: result.data } : { ok: false, error: describeIssues(result.error.issues, body) };
}
