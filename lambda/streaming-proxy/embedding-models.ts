/**
 * What the proxy knows about each family of embedding model: the request format Bedrock expects, the vector lengths it
 * accepts, and how many texts one InvokeModel call may carry. The family is read from the catalogue entry's target
 * (the foundation-model id, with any inference-profile prefix or ARN path removed), so a PROXY_MODELS entry with its
 * own id or an inference profile of one of these models works unchanged.
 *
 * Sources (Amazon Bedrock User Guide, model parameters):
 * - Titan Text Embeddings V2, https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html:
 *   body `{inputText, dimensions, normalize, embeddingTypes}`; `dimensions` 1024 (default), 512 or 256; one text per call.
 * - Cohere Embed v3, https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v3.html: body
 *   `{texts, input_type, truncate, embedding_types}`; up to 96 texts per call; 1024-dimensional vectors.
 * - Cohere Embed v4, https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v4.html: adds
 *   `output_dimension` 256 | 512 | 1024 | 1536; up to 96 texts per call.
 */
import type { ModelEntry } from './upstream/types';

export type EmbeddingFamily = 'titan-v2' | 'cohere-v3' | 'cohere-v4' | 'generic';

export interface EmbeddingSpec {
  readonly family: EmbeddingFamily;
  /** The vector lengths the model accepts; undefined: any length from 1 to MAX_MOCK_DIMENSIONS (the mock). */
  readonly dimensions?: readonly number[];
  readonly defaultDimensions: number;
  /** Texts per upstream call. */
  readonly batchSize: number;
}

/** The `input_type` values Cohere Embed accepts for text (the proxy's default is search_document). */
export const COHERE_INPUT_TYPES = ['search_document', 'search_query', 'classification', 'clustering'] as const;
/** Inputs per request, as OpenAI's embeddings endpoint allows. */
export const MAX_EMBEDDING_INPUTS = 2048;
/** Longest vector the mock makes for a model of no known family. */
export const MAX_MOCK_DIMENSIONS = 8192;

const SPECS: Record<Exclude<EmbeddingFamily, 'generic'>, EmbeddingSpec> = {
  'titan-v2': { family: 'titan-v2', dimensions: [256, 512, 1024], defaultDimensions: 1024, batchSize: 1 },
  'cohere-v3': { family: 'cohere-v3', dimensions: [1024], defaultDimensions: 1024, batchSize: 96 },
  'cohere-v4': { family: 'cohere-v4', dimensions: [256, 512, 1024, 1536], defaultDimensions: 1536, batchSize: 96 },
};

/** For embedding models of no known family on the mock upstream: any vector length, 1024 by default. */
const GENERIC: EmbeddingSpec = { family: 'generic', defaultDimensions: 1024, batchSize: MAX_EMBEDDING_INPUTS };

/**
 * The spec for an embedding model's target (`amazon.titan-embed-text-v2:0`, `us.cohere.embed-v4:0`, an ARN ending in
 * one), or undefined when the proxy does not know its request format. `mock` upstreams (and PROXY_UPSTREAM=mock, which
 * keeps the target) fall back to a generic spec.
 */
export function embeddingSpec(model: Pick<ModelEntry, 'target' | 'upstream'>): EmbeddingSpec | undefined {
  const name = model.target.slice(model.target.lastIndexOf('/') + 1).toLowerCase();
  if (/(^|\.)amazon\.titan-embed-text-v2(:|$)/.test(name)) return SPECS['titan-v2'];
  if (/(^|\.)cohere\.embed-(english|multilingual)-v3(:|$)/.test(name)) return SPECS['cohere-v3'];
  if (/(^|\.)cohere\.embed-v4(:|$)/.test(name)) return SPECS['cohere-v4'];
  return model.upstream === 'mock' ? GENERIC : undefined;
}

/**
 * A token estimate for one text when the upstream reports none: about four characters per token, the rule of thumb the
 * Cohere Embed v3 page gives ("1 token is about 4 characters").
 */
export function estimateTextTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}
