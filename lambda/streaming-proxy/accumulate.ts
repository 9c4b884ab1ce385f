/**
 * Folds a canonical event stream into the complete MessageResponse it describes (what the Anthropic SDK's
 * finalMessage() does on the client). Used for stream:false answers from streaming upstreams, for storing the assistant
 * turn of a session, and by tests.
 */
import type { CanonicalEvent, ContentBlock, MessageResponse, Usage } from '../shared/canonical';

type Building =
  | { kind: 'text'; block: Extract<ContentBlock, { type: 'text' }> }
  | { kind: 'tool_use'; block: Extract<ContentBlock, { type: 'tool_use' }>; json: string }
  | { kind: 'thinking'; block: Extract<ContentBlock, { type: 'thinking' }> }
  | { kind: 'redacted_thinking'; block: Extract<ContentBlock, { type: 'redacted_thinking' }> }
  | { kind: 'server_tool_use'; block: Extract<ContentBlock, { type: 'server_tool_use' }>; json: string }
  | { kind: 'tool_search_tool_result'; block: Extract<ContentBlock, { type: 'tool_search_tool_result' }> };

export class MessageAccumulator {
  private message?: MessageResponse;
  private readonly blocks = new Map<number, Building>();
  private stopped = false;

  /** True once message_stop arrived. */
  public get complete(): boolean {
    return this.stopped;
  }

  public get usage(): Usage | undefined {
    return this.message?.usage;
  }

  public add(event: CanonicalEvent): void {
    switch (event.type) {
      case 'message_start':
        this.message = { ...event.message, content: [], usage: { ...event.message.usage } };
        break;
      case 'content_block_start': {
        const b = event.content_block;
        switch (b.type) {
          case 'text':
            this.blocks.set(event.index, { kind: 'text', block: { type: 'text', text: b.text, ...(b.citations ? { citations: [...b.citations] } : {}) } });
            break;
          case 'tool_use':
            this.blocks.set(event.index, { kind: 'tool_use', block: { type: 'tool_use', id: b.id, name: b.name, input: b.input ?? {} }, json: '' });
            break;
          case 'thinking':
            this.blocks.set(event.index, { kind: 'thinking', block: { type: 'thinking', thinking: b.thinking, signature: b.signature ?? '' } });
            break;
          case 'redacted_thinking':
            this.blocks.set(event.index, { kind: 'redacted_thinking', block: { type: 'redacted_thinking', data: b.data } });
            break;
          case 'server_tool_use':
            this.blocks.set(event.index, { kind: 'server_tool_use', block: { ...b, input: b.input ?? {} }, json: '' });
            break;
          case 'tool_search_tool_result':
            this.blocks.set(event.index, { kind: 'tool_search_tool_result', block: { ...b } });
            break;
        }
        break;
      }
      case 'content_block_delta': {
        const building = this.blocks.get(event.index);
        if (!building) break;
        const d = event.delta;
        if (d.type === 'text_delta' && building.kind === 'text') building.block.text += d.text;
        else if (d.type === 'input_json_delta' && (building.kind === 'tool_use' || building.kind === 'server_tool_use')) building.json += d.partial_json;
        else if (d.type === 'thinking_delta' && building.kind === 'thinking') building.block.thinking += d.thinking;
        else if (d.type === 'signature_delta' && building.kind === 'thinking') building.block.signature += d.signature;
        else if (d.type === 'citations_delta' && building.kind === 'text') (building.block.citations ??= []).push(d.citation);
        break;
      }
      case 'content_block_stop': {
        const building = this.blocks.get(event.index);
        if ((building?.kind === 'tool_use' || building?.kind === 'server_tool_use') && building.json.trim() !== '') {
          try {
            building.block.input = JSON.parse(building.json) as Record<string, unknown>;
          } catch {
            // Keep the input from content_block_start: a truncated tool call (max_tokens) has partial JSON.
          }
        }
        break;
      }
      case 'message_delta':
        if (this.message) {
          this.message.stop_reason = event.delta.stop_reason;
          this.message.stop_sequence = event.delta.stop_sequence;
          for (const [k, v] of Object.entries(event.usage)) {
            if (v !== null && v !== undefined) (this.message.usage as unknown as Record<string, number>)[k] = v;
          }
        }
        break;
      case 'message_stop':
        this.stopped = true;
        break;
      default:
        break;
    }
  }

  /** The message so far (content in block index order). Throws when no message_start arrived. */
  public result(): MessageResponse {
    if (!this.message) throw new Error('the stream ended before message_start');
    const indexes = [...this.blocks.keys()].sort((a, b) => a - b);
    return { ...this.message, content: indexes.map((i) => this.blocks.get(i)!.block) };
  }
}
