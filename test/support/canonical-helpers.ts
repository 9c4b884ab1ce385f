import type { CanonicalEvent, CanonicalRequest } from '../../lambda/shared/canonical';
import type { ResolvedModel, UpstreamCall } from '../../lambda/streaming-proxy/upstream/types';

export const MOCK_MODEL: ResolvedModel = {
  id: 'mock-model',
  upstream: 'mock',
  target: 'mock.model-v1',
  requested: 'mock-model',
  longContext: false,
  pricing: { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 },
  countTokens: true,
};

export function call(request: Partial<CanonicalRequest>, signal: AbortSignal = new AbortController().signal): UpstreamCall {
  return {
    request: { model: 'mock-model', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello there' }], ...request },
    model: MOCK_MODEL,
    signal,
    requestId: 'req_test',
  };
}

export async function collect(events: AsyncIterable<CanonicalEvent>): Promise<CanonicalEvent[]> {
  const out: CanonicalEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

/**
 * Checks the Anthropic stream grammar: message_start first, blocks opened/closed in index order with deltas only inside
 * an open block of a matching type, then message_delta and message_stop last. Returns the first violation, or undefined.
 */
export function grammarViolation(events: readonly CanonicalEvent[]): string | undefined {
  const nonPing = events.filter((e) => e.type !== 'ping');
  if (nonPing[0]?.type !== 'message_start') return 'first event is not message_start';
  if (nonPing[nonPing.length - 1]?.type !== 'message_stop') return 'last event is not message_stop';
  if (nonPing[nonPing.length - 2]?.type !== 'message_delta') return 'message_delta does not precede message_stop';
  let open: { index: number; type: string } | undefined;
  let next = 0;
  for (const e of nonPing.slice(1, -2)) {
    if (e.type === 'content_block_start') {
      if (open) return `block ${e.index} started while ${open.index} is open`;
      if (e.index !== next) return `block index ${e.index}, expected ${next}`;
      open = { index: e.index, type: e.content_block.type };
      next++;
    } else if (e.type === 'content_block_delta') {
      if (!open || open.index !== e.index) return `delta for block ${e.index} that is not open`;
      const ok: Record<string, string[]> = {
        text: ['text_delta', 'citations_delta'],
        tool_use: ['input_json_delta'],
        thinking: ['thinking_delta', 'signature_delta'],
        redacted_thinking: [],
      };
      if (!ok[open.type].includes(e.delta.type)) return `${e.delta.type} in a ${open.type} block`;
    } else if (e.type === 'content_block_stop') {
      if (!open || open.index !== e.index) return `stop for block ${e.index} that is not open`;
      open = undefined;
    } else {
      return `unexpected ${e.type} inside the message`;
    }
  }
  return open ? `block ${open.index} never stopped` : undefined;
}
