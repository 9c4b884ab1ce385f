import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/**
 * How the proxy calls a catalogue model (the runtime's `upstream` field).
 */
export enum ProxyModelUpstream {
  /** Bedrock InvokeModel / InvokeModelWithResponseStream with the Anthropic body: full Claude fidelity. */
  BEDROCK_INVOKE = 'bedrock-invoke',
  /** The Bedrock Anthropic Messages endpoint (SigV4-signed HTTP, server-sent events). */
  BEDROCK_MESSAGES = 'bedrock-messages',
  /** Bedrock Converse / ConverseStream, for non-Anthropic models (Nova, Llama, Mistral, DeepSeek, ...). */
  BEDROCK_CONVERSE = 'bedrock-converse',
  /** A self-hosted OpenAI Chat Completions server (vLLM, Ollama, TGI, LiteLLM), typically inside the VPC. */
  OPENAI_COMPATIBLE = 'openai-compatible',
  /** The deterministic embedded mock model (smoke tests without Bedrock). */
  MOCK = 'mock',
}

/**
 * What a catalogue model does.
 */
export enum ProxyModelKind {
  /** A chat model, served by `POST /v1/messages` and `POST /v1/chat/completions`. */
  CHAT = 'chat',
  /** An embedding model (Amazon Titan Text Embeddings V2, Cohere Embed v3 or v4), served by `POST /v1/embeddings` through Bedrock InvokeModel. */
  EMBEDDING = 'embedding',
}

/**
 * Prices in USD per million tokens, used for the `EstimatedCost` metric.
 */
export interface ProxyModelPricing {
  /** USD per million input tokens. */
  readonly inputPerMTok: number;
  /** USD per million output tokens. */
  readonly outputPerMTok: number;
  /**
   * USD per million prompt-cache write tokens.
   * @default cache writes are priced as input tokens
   */
  readonly cacheWritePerMTok?: number;
  /**
   * USD per million prompt-cache read tokens.
   * @default cache reads are priced as input tokens
   */
  readonly cacheReadPerMTok?: number;
}

/**
 * Where a model is retried when its first region throttles or fails before the first byte.
 */
export interface ProxyModelFailover {
  /**
   * The Bedrock region tried second.
   * @default the function's region
   */
  readonly region?: string;
  /**
   * The Bedrock model or inference-profile id tried second.
   * @default the model's own target
   */
  readonly target?: string;
}

/**
 * One model of the proxy's catalogue: the name clients send and the Bedrock model (or server) that answers it.
 * Serialized into the runtime's `PROXY_MODELS` environment variable.
 */
export interface ProxyModel {
  /** The name clients send, e.g. `claude-sonnet-4-6` or `nova-pro`. */
  readonly id: string;
  /**
   * Other names that resolve to this model (e.g. the dated ids Claude Code sends).
   * @default no aliases
   */
  readonly aliases?: string[];
  /**
   * Bedrock model id, inference-profile id (`global.` / `us.` / `eu.` / `apac.` prefix) or ARN; for
   * `OPENAI_COMPATIBLE`, the remote model name.
   */
  readonly target: string;
  /**
   * How the model is called.
   * @default BEDROCK_INVOKE for Anthropic targets and embedding models, OPENAI_COMPATIBLE when `baseUrl` is set, BEDROCK_CONVERSE otherwise
   */
  readonly upstream?: ProxyModelUpstream;
  /**
   * Chat or embedding model. Embedding models are called with Bedrock InvokeModel (upstream BEDROCK_INVOKE or MOCK)
   * and are granted `bedrock:InvokeModel` only.
   * @default ProxyModelKind.CHAT
   */
  readonly kind?: ProxyModelKind;
  /**
   * Human-readable name listed by `GET /v1/models`.
   * @default the id
   */
  readonly displayName?: string;
  /**
   * Token prices for the cost estimate.
   * @default no cost is estimated for this model
   */
  readonly pricing?: ProxyModelPricing;
  /**
   * Bedrock region for this model.
   * @default the function's region
   */
  readonly region?: string;
  /**
   * Second region or target tried on throttling, 5xx or timeout before the first byte.
   * @default the proxy's `failoverRegion`, if any
   */
  readonly failover?: ProxyModelFailover;
  /**
   * Whether Bedrock CountTokens supports this model; otherwise `count_tokens` answers with an estimate.
   * @default false
   */
  readonly countTokens?: boolean;
  /**
   * `OPENAI_COMPATIBLE` only: the server's base URL, e.g. `http://10.0.1.5:8000/v1`.
   * @default none (required for OPENAI_COMPATIBLE)
   */
  readonly baseUrl?: string;
  /**
   * `OPENAI_COMPATIBLE` only: a secret holding the bearer key sent to the server; the function may read only it.
   * @default no key is sent
   */
  readonly apiKeySecret?: secretsmanager.ISecret;
  /**
   * Largest `max_tokens` accepted for this model.
   * @default the runtime's limit for the model family
   */
  readonly maxOutputTokens?: number;
  /**
   * Context window in tokens, reported by `GET /v1/models`.
   * @default the runtime's value for the model family
   */
  readonly contextWindow?: number;
}
