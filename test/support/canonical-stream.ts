/**
 * Test helpers for canonical event streams: a validator for the Anthropic Messages stream grammar, and a reducer that
 * rebuilds the message a stream describes (what a client SDK would accumulate).
 */
import type { CanonicalEvent, ContentBlock, StopReason, Usage } from '../../lambda/shared/canonical';

/**
 * Throws with a precise message unless `events` is a valid canonical sequence: message_start first; blocks opened with
 * content_block_start at consecutive indices from 0, each fed only while open and closed exactly once; no block open at
 * message_delta; exactly one message_delta, then message_stop last. `ping` may appear anywhere after message_start.
 */
export function assertValidSequence(events: CanonicalEvent[]): void {
  const fail = (i: number, why: string): never => {
    throw new Error(`invalid canonical sequence at event ${i} (${JSON.stringify(events[i])}): ${why}`);
  };
  if (events.length === 0) throw new Error('invalid canonical sequence: no events');
  if (events[0].type !== 'message_start') fail(0, 'the first event must be message_start');
  let open: number | undefined;
  let next = 0;
  let deltaSeen = false;
  for (let i = 1; i < events.length; i++) {
    const e = events[i];
    switch (e.type) {
      case 'message_start':
        fail(i, 'message_start may appear only once');
        break;
      case 'content_block_start':
        if (deltaSeen) fail(i, 'block after message_delta');
        if (open !== undefined) fail(i, `block ${open} is still open`);
        if (e.index !== next) fail(i, `expected index ${next}`);
        open = e.index;
        next++;
        break;
      case 'content_block_delta':
        if (open !== e.index) fail(i, `delta for block ${e.index}, but the open block is ${open}`);
        break;
      case 'content_block_stop':
        if (open !== e.index) fail(i, `stop for block ${e.index}, but the open block is ${open}`);
        open = undefined;
        break;
      case 'message_delta':
        if (open !== undefined) fail(i, `block ${open} is still open`);
        if (deltaSeen) fail(i, 'second message_delta');
        if (typeof e.usage?.output_tokens !== 'number') fail(i, 'message_delta needs usage.output_tokens');
        deltaSeen = true;
        break;
      case 'message_stop':
        if (!deltaSeen) fail(i, 'message_stop before message_delta');
        if (i !== events.length - 1) fail(i, 'message_stop must be last');
        break;
      case 'ping':
        break;
      default:
        fail(i, 'unknown event type');
    }
  }
  if (events[events.length - 1].type !== 'message_stop') fail(events.length - 1, 'the last event must be message_stop');
}

export interface Accumulated {
  id: string;
  model: string;
  content: ContentBlock[];
  stopReason: StopReason | null;
  usage: Usage;
}

/** Rebuilds the message (text, thinking with signature, tool input parsed from its JSON deltas, usage). */
export function accumulate(events: CanonicalEvent[]): Accumulated {
  let id = '';
  let model = '';
  let stopReason: StopReason | null = null;
  let usage: Usage = { input_tokens: 0, output_tokens: 0 };
  const content: ContentBlock[] = [];
  const json = new Map<number, string>();
  for (const e of events) {
    switch (e.type) {
      case 'message_start':
        id = e.message.id;
        model = e.message.model;
        usage = { ...e.message.usage };
        break;
      case 'content_block_start': {
        const b = e.content_block;
        if (b.type === 'text') {content[e.index] = { type: 'text', text: b.text };} else if (b.type === 'thinking') {content[e.index] = { type: 'thinking', thinking: b.thinking, signature: b.signature ?? '' };} else if (b.type === 'redacted_thinking') {content[e.index] = { type: 'redacted_thinking', data: b.data };} else if (b.type === 'tool_use') {
          content[e.index] = { type: 'tool_use', id: b.id, name: b.name, input: {} };
          json.set(e.index, '');
        }
        break;
      }
      case 'content_block_delta': {
        const block = content[e.index] as unknown as Record<string, string>;
        const d = e.delta;
        if (d.type === 'text_delta') block.text += d.text;
        else if (d.type === 'thinking_delta') block.thinking += d.thinking;
        else if (d.type === 'signature_delta') block.signature = (block.signature ?? '') + d.signature;
        else if (d.type === 'input_json_delta') json.set(e.index, (json.get(e.index) ?? '') + d.partial_json);
        break;
      }
      case 'content_block_stop': {
        const partial = json.get(e.index);
        if (partial !== undefined) (content[e.index] as { input: unknown }).input = partial.length > 0 ? JSON.parse(partial) : {};
        break;
      }
      case 'message_delta':
        stopReason = e.delta.stop_reason;
        usage = { ...usage, ...e.usage };
        break;
      default:
        break;
    }
  }
  return { id, model, content, stopReason, usage };
}
