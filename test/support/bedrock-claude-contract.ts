/**
 * What the fake Bedrock accepts as a Claude request body (InvokeModel / InvokeModelWithResponseStream, and the Anthropic
 * Messages endpoint), so that a test fails when the proxy sends Bedrock something Bedrock would refuse.
 *
 * Written from the outside, not from the proxy's own tables (lambda/streaming-proxy/anthropic/betas.ts): Amazon
 * Bedrock's documented request fields and `anthropic_beta` values, Bedrock's rule that InvokeModel refuses keys it does
 * not know ("extraneous key [x] is not permitted"), and, for what differs by model, the bodies Claude Code's own Bedrock
 * mode sends (test/fixtures/claude-code/<version>/): a beta or option is accepted for a model when Claude Code sends it
 * to Bedrock for that model.
 */

/** Top-level keys of the InvokeModel body for Claude (`model` and `stream` only on the Messages endpoint). */
const INVOKE_KEYS = new Set([
  'anthropic_version', 'anthropic_beta', 'max_tokens', 'messages', 'system', 'stop_sequences', 'temperature', 'top_p', 'top_k',
  'tools', 'tool_choice', 'thinking', 'metadata', 'output_config', 'context_management',
]);

/** `anthropic_beta` values Amazon Bedrock documents for Claude, plus those Claude Code's Bedrock mode sends. */
const BEDROCK_BETAS = new Set([
  'computer-use-2024-10-22', 'computer-use-2025-01-24', 'computer-use-2025-11-24', 'token-efficient-tools-2025-02-19',
  'interleaved-thinking-2025-05-14', 'output-128k-2025-02-19', 'dev-full-thinking-2025-05-14', 'context-1m-2025-08-07',
  'context-management-2025-06-27', 'effort-2025-11-24', 'tool-search-tool-2025-10-19', 'tool-examples-2025-10-29',
  'thinking-token-count-2026-05-13',
]);

const BLOCK_TYPES = new Set([
  'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'server_tool_use',
  'tool_search_tool_result', 'search_result',
]);

/** Claude's family and version in a Bedrock model id (`global.anthropic.claude-opus-4-6-v1` -> opus, 4.6). */
export function bedrockClaudeVersion(modelId: string): { family: string; version: number } | undefined {
  const m = /anthropic\.claude-([a-z]+)-(\d{1,2})(?:-(\d{1,2}))?(?=$|[-.:])/.exec(modelId);
  if (!m) return undefined;
  return { family: m[1], version: Number(m[2]) + Number(m[3] ?? 0) / 10 };
}

/**
 * The message Bedrock would answer with a 400 ValidationException for this body, or undefined when it is acceptable.
 * `operation` is the fake's operation name.
 */
export function claudeBodyProblem(body: Record<string, unknown>, modelId: string, operation: string): string | undefined {
  const claude = bedrockClaudeVersion(modelId);
  if (!claude && !/anthropic\./.test(modelId)) return undefined; // Not a Claude model (or an ARN): not judged here.
  const messagesEndpoint = operation === 'messages';
  if (body.anthropic_version !== 'bedrock-2023-05-31') return 'anthropic_version: expected bedrock-2023-05-31';
  for (const key of Object.keys(body)) {
    if (INVOKE_KEYS.has(key) || (messagesEndpoint && (key === 'model' || key === 'stream'))) continue;
    return `Malformed input request: #: extraneous key [${key}] is not permitted`;
  }
  if (typeof body.max_tokens !== 'number' || !Array.isArray(body.messages) || body.messages.length === 0) {
    return 'Malformed input request: #: required key [max_tokens] or [messages] not found';
  }
  const betas = Array.isArray(body.anthropic_beta) ? (body.anthropic_beta as unknown[]) : [];
  for (const beta of betas) {
    if (typeof beta !== 'string' || !BEDROCK_BETAS.has(beta)) return `invalid beta flag: ${String(beta)}`;
    // What Claude Code's Bedrock mode sends only to some models (test/fixtures/claude-code).
    if (beta === 'thinking-token-count-2026-05-13' && claude && claude.version < 4.7) return `invalid beta flag for this model: ${beta}`;
    if (beta === 'interleaved-thinking-2025-05-14' && claude?.family === 'haiku' && claude.version === 4.5) return `invalid beta flag for this model: ${beta}`;
  }
  if (body.context_management !== undefined && !betas.includes('context-management-2025-06-27')) {
    return 'context_management: Extra inputs are not permitted without the context-management beta';
  }
  const thinking = body.thinking as Record<string, unknown> | undefined;
  if (thinking && 'display' in thinking && claude && claude.version < 4.7) return 'thinking.display: Extra inputs are not permitted';
  const messages = body.messages as Array<{ role?: unknown; content?: unknown }>;
  for (let i = 0; i < messages.length; i++) {
    const role = messages[i].role;
    if (role === 'system') {
      // Mid-conversation system turns: Claude Code sends them only to Claude 4.8 and later.
      if (claude && claude.version < 4.8) return `messages.${i}.role: system turns are not supported by this model`;
    } else if (role !== 'user' && role !== 'assistant') {
      return `messages.${i}.role: Input should be 'user', 'assistant' or 'system'`;
    }
    const content = messages[i].content;
    if (Array.isArray(content)) {
      for (let j = 0; j < content.length; j++) {
        const type = (content[j] as { type?: unknown }).type;
        if (typeof type !== 'string' || !BLOCK_TYPES.has(type)) return `messages.${i}.content.${j}.type: Input tag '${String(type)}' found does not match any of the expected tags`;
      }
    } else if (typeof content !== 'string') {
      return `messages.${i}.content: Field required`;
    }
  }
  return undefined;
}
