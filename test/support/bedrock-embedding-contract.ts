/**
 * What the fake Bedrock accepts as an InvokeModel body for the embedding models, and what it answers, written from
 * the Amazon Bedrock model-parameter pages (not from the proxy's own tables in lambda/streaming-proxy/embedding-models.ts):
 *
 * - Titan Text Embeddings V2 (model-parameters-titan-embed-text): `inputText` (required), `dimensions` 1024 | 512 | 256,
 *   `normalize` boolean, `embeddingTypes` float | binary; answer `{embedding, inputTextTokenCount, embeddingsByType}`.
 * - Cohere Embed v3 (model-parameters-embed-v3): `texts` (up to 96), `input_type`, `images`, `truncate` NONE | START | END,
 *   `embedding_types` float | int8 | uint8 | binary | ubinary; 1024-dimensional vectors.
 * - Cohere Embed v4 (model-parameters-embed-v4): adds `inputs`, `output_dimension` 256 | 512 | 1024 | 1536 (default 1536),
 *   `max_tokens`, `truncate` NONE | LEFT | RIGHT.
 * Cohere answers `{id, texts, embeddings: {<type>: [[...]]}, response_type: "embeddings_by_type"}` with
 * `embedding_types`, and `{..., embeddings: [[...]], response_type: "embeddings_floats"}` without.
 *
 * Unknown keys are refused the way InvokeModel refuses them for other models ("extraneous key [x] is not permitted").
 */
import { createHash } from 'crypto';

export type EmbeddingFamily = 'titan-v2' | 'cohere-v3' | 'cohere-v4';

/** The embedding models the fake serves, by Bedrock foundation-model id. */
export function embeddingFamilyOf(modelId: string): EmbeddingFamily | undefined {
  if (modelId === 'amazon.titan-embed-text-v2:0') return 'titan-v2';
  if (modelId === 'cohere.embed-english-v3' || modelId === 'cohere.embed-multilingual-v3') return 'cohere-v3';
  if (modelId === 'cohere.embed-v4:0') return 'cohere-v4';
  return undefined;
}

const INPUT_TYPES = ['search_document', 'search_query', 'classification', 'clustering'];
const malformed = (detail: string) => `Malformed input request: #: ${detail}, please reformat your input and try again.`;

/** Why Bedrock would refuse this body (a ValidationException message), or undefined when it is accepted. */
export function embeddingBodyProblem(family: EmbeddingFamily, body: Record<string, unknown>): string | undefined {
  const allowed = family === 'titan-v2'
    ? ['inputText', 'dimensions', 'normalize', 'embeddingTypes']
    : family === 'cohere-v3'
      ? ['texts', 'images', 'input_type', 'truncate', 'embedding_types']
      : ['texts', 'images', 'inputs', 'input_type', 'truncate', 'embedding_types', 'output_dimension', 'max_tokens'];
  for (const key of Object.keys(body)) if (!allowed.includes(key)) return malformed(`extraneous key [${key}] is not permitted`);
  if (family === 'titan-v2') {
    if (!('inputText' in body)) return malformed('required key [inputText] not found');
    if (typeof body.inputText !== 'string') return malformed('inputText: expected type: String');
    if (body.inputText.length === 0) return malformed('inputText: expected minLength: 1, actual: 0');
    if (body.dimensions !== undefined && ![256, 512, 1024].includes(body.dimensions as number)) {
      return malformed('dimensions: 256, 512 or 1024 expected');
    }
    if (body.normalize !== undefined && typeof body.normalize !== 'boolean') return malformed('normalize: expected type: Boolean');
    if (body.embeddingTypes !== undefined && !subsetOf(body.embeddingTypes, ['float', 'binary'])) return malformed('embeddingTypes: float or binary expected');
    return undefined;
  }
  if (!('input_type' in body)) return malformed('required key [input_type] not found');
  if (!INPUT_TYPES.includes(body.input_type as string)) return malformed(`input_type: ${INPUT_TYPES.join(', ')} expected`);
  if (!Array.isArray(body.texts)) return malformed('texts: expected type: JSONArray');
  if (body.texts.length < 1 || body.texts.length > 96) return malformed(`texts: expected 1 to 96 items, actual: ${body.texts.length}`);
  if (!body.texts.every((t) => typeof t === 'string')) return malformed('texts: expected type: String');
  if (body.embedding_types !== undefined && !subsetOf(body.embedding_types, ['float', 'int8', 'uint8', 'binary', 'ubinary'])) {
    return malformed('embedding_types: float, int8, uint8, binary or ubinary expected');
  }
  if (family === 'cohere-v4' && body.output_dimension !== undefined && ![256, 512, 1024, 1536].includes(body.output_dimension as number)) {
    return malformed('output_dimension: 256, 512, 1024 or 1536 expected');
  }
  return undefined;
}

function subsetOf(value: unknown, allowed: string[]): boolean {
  return Array.isArray(value) && value.length > 0 && value.every((v) => allowed.includes(v as string));
}

/** The fake's vector for a text: unit length, from a SHA-256 of the model and text (not the proxy mock's derivation). */
export function fakeVector(modelId: string, text: string, dimensions: number): number[] {
  const out: number[] = [];
  let counter = 0;
  while (out.length < dimensions) {
    const digest = createHash('sha256').update(modelId).update('\0').update(text).update(String(counter++)).digest();
    for (let i = 0; i + 2 <= digest.length && out.length < dimensions; i += 2) out.push(digest.readInt16BE(i) / 32768);
  }
  const norm = Math.sqrt(out.reduce((s, v) => s + v * v, 0)) || 1;
  // Bedrock's vectors are float32 values.
  return out.map((v) => Math.fround(v / norm));
}

/** A deterministic token count for one text (about four characters per token, at least one). */
export function fakeTokens(text: string): number {
  return Math.max(1, Math.round(text.length / 4) + 1);
}

/** The response body Bedrock sends for an accepted body, and the input token count. */
export function embeddingResponse(
  family: EmbeddingFamily, modelId: string, body: Record<string, unknown>,
): { body: Record<string, unknown>; tokens: number } {
  if (family === 'titan-v2') {
    const text = body.inputText as string;
    const embedding = fakeVector(modelId, text, (body.dimensions as number | undefined) ?? 1024);
    const tokens = fakeTokens(text);
    return { body: { embedding, inputTextTokenCount: tokens, embeddingsByType: { float: embedding } }, tokens };
  }
  const texts = body.texts as string[];
  const dimensions = family === 'cohere-v3' ? 1024 : (body.output_dimension as number | undefined) ?? 1536;
  const vectors = texts.map((t) => fakeVector(modelId, t, dimensions));
  const tokens = texts.reduce((n, t) => n + fakeTokens(t), 0);
  const byType = Array.isArray(body.embedding_types);
  return {
    body: {
      id: 'fake-embed-id',
      texts,
      embeddings: byType ? { float: vectors } : vectors,
      response_type: byType ? 'embeddings_by_type' : 'embeddings_floats',
    },
    tokens,
  };
}
