/**
 * The OpenAI Responses API request (`POST /v1/responses`), top level. The schema names what the proxy reads and lets
 * everything else through (clients such as Codex CLI send fields of their own, e.g. `client_metadata`); the input items
 * and tools are checked one by one in request.ts, so an error names the exact item (`input[3].call_id`). Optional
 * fields accept null, as OpenAI clients send it for unset fields.
 */
import * as z from 'zod/mini';
import type { Validated } from '../anthropic/validate';
import { describeIssues } from '../validation';

/** Built on first use, not at module load (keeps it out of the Lambda init time). */
function buildSchema() {
  const opt = <T extends z.core.SomeType>(schema: T) => z.optional(z.nullable(schema));
  const nonEmpty = () => z.string().check(z.minLength(1));
  const item = z.looseObject({ type: opt(z.string()) });
  return z.looseObject({
    model: nonEmpty(),
    input: opt(z.union([z.string(), z.array(item)])),
    instructions: opt(z.string()),
    tools: opt(z.array(z.looseObject({ type: z.string() }))),
    tool_choice: opt(z.union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.string() })])),
    parallel_tool_calls: opt(z.boolean()),
    reasoning: opt(z.looseObject({
      effort: opt(z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh'])),
      summary: opt(z.enum(['auto', 'concise', 'detailed'])),
    })),
    max_output_tokens: opt(z.int().check(z.minimum(1))),
    temperature: opt(z.number().check(z.minimum(0), z.maximum(2))),
    top_p: opt(z.number().check(z.minimum(0), z.maximum(1))),
    text: opt(z.looseObject({ format: opt(z.looseObject({ type: z.enum(['text', 'json_schema', 'json_object']) })) })),
    stream: opt(z.boolean()),
    store: opt(z.boolean()),
    previous_response_id: opt(nonEmpty()),
    include: opt(z.array(z.string())),
    metadata: opt(z.record(z.string(), z.unknown())),
    user: opt(z.string()),
    safety_identifier: opt(z.string()),
    prompt_cache_key: opt(z.string()),
    background: opt(z.boolean()),
    conversation: opt(z.unknown()),
    prompt: opt(z.unknown()),
  });
}

let schema: ReturnType<typeof buildSchema> | undefined;

export type ResponsesBody = z.infer<ReturnType<typeof buildSchema>>;

export function validateResponsesBody(body: unknown): Validated<ResponsesBody> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, error: { path: '', message: 'the request body must be a JSON object' } };
  }
  const result = (schema ??= buildSchema()).safeParse(body);
  return result.success ? { ok: true, value: result.data } : { ok: false, error: describeIssues(result.error.issues, body) };
}
