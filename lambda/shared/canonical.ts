/**
 * The canonical form of the proxy: the Anthropic Messages request and its event stream (the richest of the formats).
 * Every client protocol is translated into a CanonicalRequest, and every upstream produces CanonicalEvents.
 * See ../../docs/runtime-contract.md.
 *
 * Forward compatible by construction: the types below name what the proxy reads. A request may carry more — block
 * types, roles and fields this file does not list — and those reach Claude-native upstreams unchanged (Bedrock judges
 * them). Code that walks content therefore always has a `default` branch for a block type it does not know, and a
 * translator to another upstream answers with `untranslatable()` (a 400 naming the block) instead of dropping it.
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

/** The block types the proxy reads. Any other `type` is passed to Claude unchanged (see the file comment). */
export const KNOWN_BLOCK_TYPES: ReadonlySet<string> = new Set([
  'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'server_tool_use',
  'tool_search_tool_result',
]);

/**
 * `user` and `assistant` turns, and `system` turns: instructions in the middle of a conversation (the Anthropic API and
 * `@anthropic-ai/sdk`'s `SystemMessageParam`; Claude Code sends one on its first request). A role the proxy does not
 * know is passed to Claude unchanged too; the type keeps the known ones for narrowing.
 */
export type MessageRole = 'user' | 'assistant' | 'system';

export interface CanonicalMessage {
  role: MessageRole;
  content: string | ContentBlock[];
}

/** The first block of a type the proxy does not know, or the first unknown role, with its path (for a 400). */
export function firstUnknownPart(messages: readonly CanonicalMessage[]): { path: string; what: string } | undefined {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m.role !== 'user' && m.role !== 'assistant' && m.role !== 'system') {
      return { path: `messages.${i}.role`, what: `the ${String(m.role)} role` };
    }
    if (typeof m.content === 'string') continue;
    for (let j = 0; j < m.content.length; j++) {
      const type = (m.content[j] as { type: string }).type;
      if (!KNOWN_BLOCK_TYPES.has(type)) return { path: `messages.${i}.content.${j}`, what: `${type} blocks` };
    }
  }
  return undefined;
}

/** The text of a system-role turn (its text blocks joined), for upstreams that take system content in one place. */
export function systemTurnText(message: CanonicalMessage): string {
  if (typeof message.content === 'string') return message.content;
  return message.content.map((b) => (b.type === 'text' ? b.text : '')).filter((t) => t.length > 0).join('\n');
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

/**
 * Claude's thinking options. `display` (`summarized` | `omitted`) and any newer option pass through to Claude as sent
 * (the proxy drops `display` only for models Claude Code's own Bedrock mode sends without it; see anthropic/betas.ts).
 */
export type ThinkingConfig =
  | { type: 'enabled'; budget_tokens: number; display?: string; [option: string]: unknown }
  | { type: 'disabled'; [option: string]: unknown }
  | { type: 'adaptive'; display?: string; [option: string]: unknown };

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
  metadata?: { user_id?: string | null; [field: string]: unknown };
  stream?: boolean;
  /** Beta flags after the beta table (from the `anthropic-beta` header), sent upstream as body `anthropic_beta`. */
  anthropic_beta?: string[];
  /**
   * Every other top-level field the client sent (unknown ones included) that the field rules let through, passed to
   * Anthropic-native upstreams unchanged. Translators to other upstreams use the ones they can map (e.g. `output_config`
   * for Claude through Converse) and leave the rest.
   */
  extra?: Record<string, unknown>;
}

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'pause_turn' | 'refusal' | 'model_context_window_exceeded';

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

/** Marks an UpstreamError across bundles: the Lambda bundle loads some modules (the mock, Redis) as separate files, each
 * with its own copy of this class, and `instanceof` must still recognise their errors. */
const UPSTREAM_ERROR = Symbol.for('cdk-serverless-llm.UpstreamError');

export class UpstreamError extends Error {
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [UPSTREAM_ERROR]?: boolean })[UPSTREAM_ERROR] === true;
  }
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
    Object.defineProperty(this, UPSTREAM_ERROR, { value: true });
  }
}
