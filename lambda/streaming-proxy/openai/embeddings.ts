/**
 * POST /v1/embeddings in the OpenAI Embeddings API shape: the request schema, the checks that depend on the model
 * (vector lengths, see embedding-models.ts), and the response (`{object: "list", data: [{object: "embedding", index,
 * embedding}], model, usage}`), with `encoding_format: "base64"` as little-endian float32 bytes, which is what the
 * openai SDK decodes (and what it asks for when the caller sets no encoding_format).
 *
 * `input_type` is an extension for Cohere Embed (search_document by default); token-array inputs are refused with a
 * 400 naming `input`, since Bedrock embedding models take text.
 */
import * as z from 'zod/mini';
import type { Validated } from '../anthropic/validate';
import { COHERE_INPUT_TYPES, MAX_EMBEDDING_INPUTS, MAX_MOCK_DIMENSIONS, type EmbeddingSpec } from '../embedding-models';
import { ProxyError } from '../errors';
import { describeIssues } from '../validation';

function buildSchema() {
  const opt = <T extends z.core.SomeType>(schema: T) => z.optional(z.nullable(schema));
  const text = () => z.string().check(z.minLength(1));
  return z.object({
    model: z.string().check(z.minLength(1)),
    input: z.union([text(), z.array(text()).check(z.minLength(1), z.maxLength(MAX_EMBEDDING_INPUTS))]),
    dimensions: opt(z.int().check(z.positive())),
    encoding_format: opt(z.enum(['float', 'base64'])),
    user: opt(z.string()),
    input_type: opt(z.enum(COHERE_INPUT_TYPES)),
  });
}

let schema: ReturnType<typeof buildSchema> | undefined;

export type EmbeddingsBody = z.infer<ReturnType<typeof buildSchema>>;

export function validateEmbeddingsBody(body: unknown): Validated<EmbeddingsBody> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, error: { path: '', message: 'the request body must be a JSON object' } };
  }
  const input = (body as { input?: unknown }).input;
  if (typeof input === 'number' || (Array.isArray(input) && input.some((item) => typeof item === 'number' || Array.isArray(item)))) {
    return { ok: false, error: { path: 'input', message: 'token arrays are not supported; send a string or an array of strings' } };
  }
  // Checked here as well as in the schema: a failed union reports its first branch ("expected a string").
  if (Array.isArray(input) && input.length > MAX_EMBEDDING_INPUTS) {
    return { ok: false, error: { path: 'input', message: `must have at most ${MAX_EMBEDDING_INPUTS} items` } };
  }
  const result = (schema ??= buildSchema()).safeParse(body);
  return result.success ? { ok: true, value: result.data } : { ok: false, error: describeIssues(result.error.issues, body) };
}

/** The texts of a validated request, in order. */
export function embeddingTexts(body: EmbeddingsBody): string[] {
  return typeof body.input === 'string' ? [body.input] : body.input;
}

/** Checks `dimensions` against what the model accepts (400 naming `dimensions`); returns the length to ask for. */
export function checkDimensions(body: EmbeddingsBody, spec: EmbeddingSpec, modelName: string): number | undefined {
  const asked = body.dimensions ?? undefined;
  if (asked === undefined) return undefined;
  const allowed = spec.dimensions;
  const ok = allowed ? allowed.includes(asked) : asked <= MAX_MOCK_DIMENSIONS;
  if (!ok) {
    const what = allowed
      ? (allowed.length === 1 ? `only ${allowed[0]}` : `${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]}`)
      : `at most ${MAX_MOCK_DIMENSIONS}`;
    throw new ProxyError('invalid_request', `dimensions: ${modelName} supports ${what}.`, { param: 'dimensions' });
  }
  return asked;
}

/** The response body. `model` is the name the client sent. Float vectors are float32 values, as Bedrock computes them,
 * so the float and base64 encodings of one vector decode to the same numbers. */
export function embeddingsResponse(embeddings: readonly number[][], format: 'float' | 'base64', model: string, promptTokens: number): string {
  return JSON.stringify({
    object: 'list',
    data: embeddings.map((vector, index) => ({
      object: 'embedding',
      index,
      embedding: format === 'base64' ? float32Base64(vector) : vector.map((v) => Math.fround(v)),
    })),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
}

/** Little-endian IEEE 754 float32 bytes, base64-encoded. */
export function float32Base64(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i], i * 4);
  return bytes.toString('base64');
}
