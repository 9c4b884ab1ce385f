import type { CanonicalEvent, CanonicalRequest, MessageResponse } from '../../shared/canonical';

/** How a catalogue model is called. */
export type UpstreamKind =
  /** Bedrock InvokeModelWithResponseStream / InvokeModel with the Anthropic body (anthropic_version bedrock-2023-05-31). */
  | 'bedrock-invoke'
  /** The Bedrock Anthropic Messages endpoint (SigV4-signed HTTP, SSE response). */
  | 'bedrock-messages'
  /** Bedrock ConverseStream / Converse for non-Anthropic models (Nova, Llama, Mistral, DeepSeek, ...). */
  | 'bedrock-converse'
  /** A self-hosted OpenAI Chat Completions server (vLLM, Ollama, TGI, LiteLLM), typically inside the VPC. */
  | 'openai-compatible'
  /** The deterministic embedded mock model (dev server and tests). */
  | 'mock';

/** What a catalogue model does: generate (chat: /v1/messages, /v1/chat/completions) or embed (/v1/embeddings). */
export type ModelKind = 'chat' | 'embedding';

/** Prices in USD per million tokens, used for the cost estimate in usage metering. */
export interface ModelPricing {
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
  readonly cacheWritePerMTok?: number;
  readonly cacheReadPerMTok?: number;
}

/**
 * One catalogue entry, as it appears in the default catalogue and in the PROXY_MODELS JSON the construct writes.
 */
export interface ModelEntry {
  /** The name clients send (e.g. `claude-sonnet-4-6`). */
  readonly id: string;
  /** Other names that resolve to this entry (dated ids Claude Code sends, e.g. `claude-sonnet-4-5-20250929`). */
  readonly aliases?: string[];
  readonly upstream: UpstreamKind;
  /** `embedding` for embedding models (served by POST /v1/embeddings only). Default `chat`. */
  readonly kind?: ModelKind;
  /** Bedrock model id or inference-profile id (`global.` / `us.` / `eu.` / `apac.` prefixes), or the remote model name. */
  readonly target: string;
  /** Human-readable name for GET /v1/models. */
  readonly displayName?: string;
  readonly pricing?: ModelPricing;
  /** Bedrock region override for this model. */
  readonly region?: string;
  /** Tried on throttling / 5xx / timeout before the first byte reaches the client. */
  readonly failover?: { readonly region?: string; readonly target?: string };
  /** Whether Bedrock CountTokens supports this model; otherwise count_tokens answers with an estimate. */
  readonly countTokens?: boolean;
  /** openai-compatible only: base URL of the server, e.g. http://10.0.1.5:8000/v1. */
  readonly baseUrl?: string;
  /** openai-compatible only: Secrets Manager ARN of a bearer key sent to the server. */
  readonly apiKeySecretArn?: string;
  readonly maxOutputTokens?: number;
  readonly contextWindow?: number;
}

/** A catalogue entry resolved for one request. */
export interface ResolvedModel extends ModelEntry {
  /** The name the client sent (events are rewritten to carry it). */
  readonly requested: string;
  /** True when Claude Code's `[1m]` suffix asked for the 1M-token context window. */
  readonly longContext: boolean;
}

export interface UpstreamCall {
  /** The canonical request; `request.model` is the client's model name. */
  readonly request: CanonicalRequest;
  readonly model: ResolvedModel;
  /** Aborted when the client disconnects or the function is about to time out. */
  readonly signal: AbortSignal;
  readonly requestId: string;
}

/** One POST /v1/embeddings request, as an upstream sees it: the texts in order and the options that shape the vectors. */
export interface EmbedCall {
  readonly texts: readonly string[];
  readonly model: ResolvedModel;
  /** The vector length asked for; undefined: the model's default (embedding-models.ts). Already checked against the model. */
  readonly dimensions?: number;
  /** Cohere's `input_type` (search_document, search_query, classification, clustering); other models ignore it. */
  readonly inputType: string;
  readonly signal: AbortSignal;
  readonly requestId: string;
}

export interface EmbedResult {
  /** One vector per text, in the order of `EmbedCall.texts`. */
  readonly embeddings: number[][];
  readonly inputTokens: number;
  /** True when `inputTokens` is an estimate (the upstream reported no count). */
  readonly estimated: boolean;
}

/**
 * An upstream turns a canonical request into canonical events. Errors are thrown as UpstreamError (from the iterator
 * when they happen mid-stream). The first yielded event must be message_start.
 */
export interface Upstream {
  readonly kind: UpstreamKind;
  stream(call: UpstreamCall): AsyncIterable<CanonicalEvent>;
  /** A non-streamed call (InvokeModel / Converse / stream:false). */
  complete(call: UpstreamCall): Promise<MessageResponse>;
  /** Exact input token count when the upstream supports it; undefined when it cannot count this model. */
  countTokens?(call: UpstreamCall): Promise<number | undefined>;
  /** Embeddings, for upstreams that serve embedding models (Bedrock InvokeModel, the mock). */
  embed?(call: EmbedCall): Promise<EmbedResult>;
}
