import type { CanonicalMessage } from './canonical';

/**
 * Drops the oldest turns of a conversation until its JSON fits in maxBytes, then keeps dropping until it starts with a
 * user message that is not a tool result (a tool_result must follow the assistant tool_use it answers, so a
 * conversation cannot start with one). Returns the kept messages serialized, or undefined when nothing fits.
 * Shared by the in-memory and Redis session stores.
 */
export function trimConversation(messages: readonly CanonicalMessage[], maxBytes: number): string | undefined {
  const parts = messages.map((m) => JSON.stringify(m));
  // "[" + parts joined by "," + "]"
  let total = 2 + parts.reduce((sum, p) => sum + Buffer.byteLength(p), 0) + Math.max(0, parts.length - 1);
  let start = 0;
  while (start < parts.length && total > maxBytes) {
    total -= Buffer.byteLength(parts[start]) + (parts.length - start > 1 ? 1 : 0);
    start++;
  }
  while (start < messages.length && !isConversationStart(messages[start])) start++;
  if (start >= messages.length) return undefined;
  return `[${parts.slice(start).join(',')}]`;
}

function isConversationStart(message: CanonicalMessage): boolean {
  if (message.role !== 'user') return false;
  if (typeof message.content === 'string') return true;
  return !message.content.some((block) => block.type === 'tool_result');
}
