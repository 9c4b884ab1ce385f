/**
 * Embeddings through Bedrock InvokeModel (`POST /model/{modelId}/invoke`), sent by BedrockHttp (bedrock-http.ts) with the
 * BedrockRuntimeClient's endpoint, credentials and HTTP handler, like the other Bedrock calls — through BedrockHttp
 * rather than the generated InvokeModelCommand because the command's output drops the response headers, and the token
 * count of a Cohere call is only in a header.
 *
 * Inputs are split into batches of the model's per-call limit (embedding-models.ts: one text for Titan V2, 96 for
 * Cohere) and the batches are sent at most CONCURRENCY at a time; the vectors come back in input order. The first
 * failed batch fails the request and cancels the batches still running. Bedrock does not stream embedding models
 * ("Amazon Bedrock doesn't support streaming responses from Cohere Embed models",
 * https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed.html), so only InvokeModel is used.
 *
 * Token counts: Titan's response body carries `inputTextTokenCount` (model-parameters-titan-embed-text.html). Cohere's
 * body carries none; the proxy reads the `X-Amzn-Bedrock-Input-Token-Count` header when Bedrock sends one (it is not
 * described on the model-parameter pages, so it is treated as optional) and otherwise estimates four characters per
 * token (estimateTextTokens), marking the result as an estimate.
 */
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { UpstreamError } from '../../shared/canonical';
import { embeddingSpec, estimateTextTokens, type EmbeddingSpec } from '../embedding-models';
import { BedrockHttp, readText } from './bedrock-http';
import { CallControl, type UpstreamTimeouts } from './call-control';
import { toUpstreamError } from './errors';
import type { EmbedCall, EmbedResult } from './types';

const WHAT = 'Bedrock';
/** InvokeModel calls in flight at once for one request (Titan takes one text per call). */
export const CONCURRENCY = 8;
/** 96 vectors of 1536 floats as JSON are about 3 MB; refuse anything far larger. */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
const TOKEN_COUNT_HEADER = 'x-amzn-bedrock-input-token-count';

interface BatchResult {
  readonly embeddings: number[][];
  readonly tokens: number | undefined;
}

export class BedrockEmbedder {
  private readonly http: BedrockHttp;

  constructor(client: BedrockRuntimeClient, private readonly timeouts: UpstreamTimeouts) {
    this.http = new BedrockHttp(client, WHAT);
  }

  async embed(call: EmbedCall): Promise<EmbedResult> {
    const spec = embeddingSpec(call.model);
    if (!spec) {
      throw new UpstreamError('validation', `the proxy does not know the request format of the embedding model ${call.model.target}; `
        + 'it serves Amazon Titan Text Embeddings V2 and Cohere Embed v3 and v4', false);
    }
    const batches: string[][] = [];
    for (let at = 0; at < call.texts.length; at += spec.batchSize) batches.push(call.texts.slice(at, at + spec.batchSize));
    const control = new CallControl(call.signal, this.timeouts, 'complete');
    try {
      const results = await mapLimit(batches, CONCURRENCY, (batch) => this.invoke(call, spec, batch, control.signal));
      const embeddings = results.flatMap((r) => r.embeddings);
      let estimated = false;
      let inputTokens = 0;
      results.forEach((r, i) => {
        if (r.tokens === undefined) {
          estimated = true;
          for (const text of batches[i]) inputTokens += estimateTextTokens(text);
        } else {
          inputTokens += r.tokens;
        }
      });
      return { embeddings, inputTokens, estimated };
    } catch (err) {
      // Classified before the cancel below, which would otherwise make every failure look like an abort.
      const error = toUpstreamError(err, WHAT, control.signal);
      control.cancel();
      throw error;
    } finally {
      control.finish();
    }
  }

  private async invoke(call: EmbedCall, spec: EmbeddingSpec, texts: string[], signal: AbortSignal): Promise<BatchResult> {
    const response = await this.http.post(
      `/model/${encodeURIComponent(call.model.target)}/invoke`,
      JSON.stringify(requestBody(spec, texts, call)),
      { 'content-type': 'application/json', 'accept': 'application/json' },
      signal,
    );
    const text = await readText(response.body, MAX_RESPONSE_BYTES);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new UpstreamError('internal', `${WHAT} sent an embedding response that is not JSON`);
    }
    const embeddings = responseVectors(spec, raw);
    if (embeddings.length !== texts.length) {
      throw new UpstreamError('internal', `${WHAT} returned ${embeddings.length} embeddings for ${texts.length} inputs`);
    }
    const header = Number(response.headers[TOKEN_COUNT_HEADER] ?? response.headers['X-Amzn-Bedrock-Input-Token-Count']);
    const bodyCount = (raw as { inputTextTokenCount?: unknown }).inputTextTokenCount;
    const tokens = typeof bodyCount === 'number' ? bodyCount : Number.isInteger(header) && header >= 0 ? header : undefined;
    return { embeddings, tokens };
  }
}

/** The InvokeModel body for one batch. */
export function requestBody(spec: EmbeddingSpec, texts: readonly string[], call: Pick<EmbedCall, 'dimensions' | 'inputType'>): Record<string, unknown> {
  switch (spec.family) {
    case 'titan-v2':
      return { inputText: texts[0], dimensions: call.dimensions ?? spec.defaultDimensions, normalize: true };
    case 'cohere-v4':
      return {
        texts,
        input_type: call.inputType,
        embedding_types: ['float'],
        ...(call.dimensions !== undefined ? { output_dimension: call.dimensions } : {}),
      };
    default:
      // Cohere v3: fixed 1024-dimensional vectors, no dimension parameter.
      return { texts, input_type: call.inputType, embedding_types: ['float'] };
  }
}

/** The vectors of one InvokeModel response: Titan `{embedding: [...]}`; Cohere `{embeddings: {float: [[...]]}}` (with
 * `embedding_types`, which the proxy always sends) or `{embeddings: [[...]]}` (without). */
export function responseVectors(spec: EmbeddingSpec, raw: unknown): number[][] {
  const body = (typeof raw === 'object' && raw !== null ? raw : {}) as { embedding?: unknown; embeddings?: unknown };
  if (spec.family === 'titan-v2') {
    if (!isVector(body.embedding)) throw new UpstreamError('internal', `${WHAT} sent a Titan response without an embedding`);
    return [body.embedding];
  }
  const list = Array.isArray(body.embeddings) ? body.embeddings : (body.embeddings as { float?: unknown } | undefined)?.float;
  if (!Array.isArray(list) || !list.every(isVector)) throw new UpstreamError('internal', `${WHAT} sent a Cohere response without float embeddings`);
  return list;
}

function isVector(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'number');
}

/** `fn` over `items` with at most `limit` calls running; results in input order; rejects with the first failure and
 * starts no new call after it. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
