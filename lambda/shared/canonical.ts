/**
 * The canonical form of the proxy: the Anthropic Messages request and its event stream (the richest of the formats).
 * Every client protocol is translated into a CanonicalRequest, and every upstream produces CanonicalEvents.
 * See ../../docs/runtime-contract.md.
 */

export interface CacheControl {
  readonly type: 'ephemeral';
  readonly ttl?: '5m' | '1h';
}

export interface TextBlock {
  type: 'text';
  text: string;
  cache_control?: CacheControl;
  citations?: unknown[] | null;
}

export type ImageSource =
  | { type: 'base64'; media_type: string; data: string }
  | { type: 'url'; url: string };

export interface ImageBlock {
  type: 'image';
  source: ImageSource;
  cache_control?: CacheControl;
}

export type DocumentSource =
  | { type: 'base64'; media_type: string; data: string }
  | { type: 'text'; media_type: 'text/plain'; data: string }
  | { type: 'url'; url: string }
  | { type: 'content'; content: string | Array<TextBlock | ImageBlock> };

export interface DocumentBlock {
  type: 'document';
  source: DocumentSource;
  title?: string;
  context?: string;
  citations?: { enabled: boolean };
  cache_control?: CacheControl;
}

export interface ToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: Record<string, unknown>;
  cache_control?: CacheControl;
}

/**
 * Blocks of Claude's tool search (the `tool-search-tool-2025-10-19` beta): the search Claude ran (`server_tool_use`),
 * its result (`tool_search_tool_result`), and the `tool_reference` blocks a client-side search returns in a
 * tool_result. Clients send them back in the conversation as Claude produced them; only Claude models accept them.
 */
export interface ServerToolUseBlock {
  type: 'server_tool_use';
  id: string;
  name: string;
  input: unknown;
  cache_control?: CacheControl;
  [extra: string]: unknown;
}

export interface ToolSearchToolResultBlock {
  type: 'tool_search_tool_result';
  tool_use_id: string;
  content: { type: string; [field: string]: unknown };
  cache_control?: CacheControl;
}

export interface ToolReferenceBlock {
  type: 'tool_reference';
  tool_name: string;
  cache_control?: CacheControl;
}

export interface ToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content?: string | Array<TextBlock | ImageBlock | DocumentBlock | ToolReferenceBlock>;
  is_error?: boolean;
  cache_control?: CacheControl;
}

export interface ThinkingBlock {
  type: 'thinking';
  thinking: string;
  signature: string;
}

export interface RedactedThinkingBlock {
  type: 'redacted_thinking';
  data: string;
}

export type ContentBlock =
  | TextBlock
  | ImageBlock
  | DocumentBlock
  | ToolUseBlock
  | ToolResultBlock
  | ThinkingBlock
  | RedactedThinkingBlock
  | ServerToolUseBlock
  | ToolSearchToolResultBlock;

export interface CanonicalMessage {
  role: 'user' | 'assistant';
  content: string | ContentBlock[];
}

export interface ToolDefinition {
  name: string;
  description?: string;
  input_schema?: Record<string, unknown>;
  /** Set for Anthropic server/client-defined tools (e.g. `bash_20250124`); absent for custom tools. */
  type?: string;
  cache_control?: CacheControl;
  [extra: string]: unknown;
}

export type ToolChoice =
  | { type: 'auto'; disable_parallel_tool_use?: boolean }
  | { type: 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };

export type ThinkingConfig =
  | { type: 'enabled'; budget_tokens: number }
  | { type: 'disabled' }
  | { type: 'adaptive' };

export interface CanonicalRequest {
  /** The model name the client sent (restored on every event sent back to the client). */
  model: string;
  messages: CanonicalMessage[];
  system?: string | TextBlock[];
  max_tokens: number;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  tools?: ToolDefinition[];
  tool_choice?: ToolChoice;
  thinking?: ThinkingConfig;
  metadata?: { user_id?: string };
  stream?: boolean;
  /** Beta flags after the allowlist (from the `anthropic-beta` header), sent upstream as body `anthropic_beta`. */
  anthropic_beta?: string[];
  /** Other top-level fields that passed the field allowlist, passed through to Anthropic-native upstreams only. */
  extra?: Record<string, unknown>;
}

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'pause_turn' | 'refusal';

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

/** A complete (non-streamed) Messages API response. */
export interface MessageResponse {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ContentBlock[];
  stop_reason: StopReason | null;
  stop_sequence: string | null;
  usage: Usage;
}

export type ContentBlockStart =
  | { type: 'text'; text: string; citations?: unknown[] }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'thinking'; thinking: string; signature?: string }
  | { type: 'redacted_thinking'; data: string }
  /** Claude's tool search (Anthropic-native upstreams only): the search's input streams as input_json_delta. */
  | { type: 'server_tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_search_tool_result'; tool_use_id: string; content: { type: string; [field: string]: unknown } };

export type ContentBlockDelta =
  | { type: 'text_delta'; text: string }
  | { type: 'input_json_delta'; partial_json: string }
  | { type: 'thinking_delta'; thinking: string }
  | { type: 'signature_delta'; signature: string }
  | { type: 'citations_delta'; citation: unknown };

/** The Anthropic Messages stream events. An upstream yields these; encoders turn them into the client's protocol. */
export type CanonicalEvent =
  | {
    type: 'message_start';
    message: {
      id: string;
      type: 'message';
      role: 'assistant';
      model: string;
      content: [];
      stop_reason: null;
      stop_sequence: null;
      usage: Usage;
    };
  }
  | { type: 'content_block_start'; index: number; content_block: ContentBlockStart }
  | { type: 'content_block_delta'; index: number; delta: ContentBlockDelta }
  | { type: 'content_block_stop'; index: number }
  | {
    type: 'message_delta';
    delta: { stop_reason: StopReason | null; stop_sequence: string | null };
    usage: Partial<Usage> & { output_tokens: number };
  }
  | { type: 'message_stop' }
  | { type: 'ping' };

/** Why an upstream call failed, independent of any protocol. Front ends map it to their status and error body. */
export type UpstreamErrorKind =
  | 'throttling' // -> 429 rate_limit_error (both protocols)
  | 'overloaded' // service unavailable / overloaded -> 529 overloaded_error (Anthropic), 503 (OpenAI)
  | 'validation' // -> 400 invalid_request_error
  | 'access_denied' // -> 403 permission_error
  | 'not_found' // model not found / not enabled -> 404 not_found_error
  | 'timeout' // -> 504 (Anthropic api_error / OpenAI timeout)
  | 'internal'; // anything else -> 502 api_error

export class UpstreamError extends Error {
  public readonly name = 'UpstreamError';
  constructor(
    public readonly kind: UpstreamErrorKind,
    message: string,
    /** True when trying the failover target might succeed (throttling, overloaded, 5xx, timeout). */
    public readonly retryable: boolean = kind === 'throttling' || kind === 'overloaded' || kind === 'internal' || kind === 'timeout',
    /** The upstream's own status code, when there was one. */
    public readonly upstreamStatus?: number,
  ) {
    super(message);
  }
}
