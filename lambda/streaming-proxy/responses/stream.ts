/**
 * Canonical events -> the Responses API's streaming events, the sequence the OpenAI SDK's `responses.stream()`
 * accumulates and Codex CLI reads: `response.created`, `response.in_progress`, then per output item
 * `response.output_item.added` ... its deltas ... `response.output_item.done`, and `response.completed` (or
 * `response.incomplete` when the answer was cut short) with the full response. Every event carries a
 * `sequence_number`. Item ids and contents are the ones the non-streamed answer has (output.ts).
 *
 *   text      -> content_part.added, output_text.delta*, output_text.done, content_part.done
 *   tool_use  -> function_call_arguments.delta* and .done (a custom tool: custom_tool_call_input.delta and .done)
 *   thinking  -> reasoning_summary_part.added, reasoning_summary_text.delta*, .done, part.done (with a summary asked for)
 *
 * A failure after the first byte becomes `response.failed` (status failed, the error's code and message; Codex CLI
 * reads it, and retries rate limits and overload) followed by an `error` event (the SDK throws on it).
 */
import type { CanonicalEvent, StopReason, Usage } from '../../shared/canonical';
import type { ProxyError } from '../errors';
import type { StreamEncoder } from '../stream-encoder';
import {
  itemId,
  messageItem,
  reasoningItem,
  responseObject,
  responsesUsage,
  statusFor,
  toolCallItem,
  toolName,
  type OutputItem,
} from './output';
import type { ResponseContext } from './request';

type Open =
  | { kind: 'text'; outputIndex: number; id: string; text: string }
  | { kind: 'tool'; outputIndex: number; id: string; callId: string; name: string; custom: boolean; json: string }
  | { kind: 'thinking'; outputIndex: number; id: string; thinking: string; signature: string }
  | { kind: 'redacted'; outputIndex: number; id: string; data: string };

export class ResponsesStreamEncoder implements StreamEncoder {
  public readonly contentType = 'text/event-stream; charset=utf-8';
  private sequence = 0;
  private readonly open = new Map<number, Open>();
  private readonly output: OutputItem[] = [];
  private usage: Usage = { input_tokens: 0, output_tokens: 0 };
  private stopReason: StopReason | null = null;
  private thinkingChars = 0;

  constructor(private readonly context: ResponseContext) {}

  public encode(event: CanonicalEvent): string {
    switch (event.type) {
      case 'message_start': {
        this.usage = { ...event.message.usage };
        const response = responseObject(this.context, { status: 'in_progress', output: [], usage: null });
        return this.frame('response.created', { response }) + this.frame('response.in_progress', { response });
      }
      case 'content_block_start':
        return this.start(event.index, event.content_block);
      case 'content_block_delta':
        return this.delta(event.index, event.delta);
      case 'content_block_stop':
        return this.stop(event.index);
      case 'message_delta':
        this.stopReason = event.delta.stop_reason;
        for (const [k, v] of Object.entries(event.usage)) if (typeof v === 'number') (this.usage as unknown as Record<string, number>)[k] = v;
        return '';
      case 'message_stop': {
        const { status, incomplete_details } = statusFor(this.stopReason);
        const response = responseObject(this.context, {
          status,
          incompleteDetails: incomplete_details,
          output: this.output,
          usage: responsesUsage(this.usage, this.thinkingChars),
        });
        return this.frame(status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
      }
      case 'ping':
        return this.ping();
      default:
        return '';
    }
  }

  public ping(): string {
    return ': ping\n\n';
  }

  public error(err: ProxyError): string {
    const rendered = (JSON.parse(err.body('openai')) as { error: { code: string | null; type: string; message: string } }).error;
    const code = err.kind === 'overloaded' || err.kind === 'unavailable' ? 'server_is_overloaded' : rendered.code ?? rendered.type;
    const response = responseObject(this.context, {
      status: 'failed',
      output: this.output,
      usage: responsesUsage(this.usage, this.thinkingChars),
      error: { code, message: err.message },
    });
    return this.frame('response.failed', { response }) + this.frame('error', { code, message: err.message, param: null });
  }

  public end(): string | undefined {
    return undefined;
  }

  private start(index: number, block: Extract<CanonicalEvent, { type: 'content_block_start' }>['content_block']): string {
    const outputIndex = this.output.length + this.open.size;
    switch (block.type) {
      case 'text': {
        const id = itemId(this.context, 'msg', index);
        this.open.set(index, { kind: 'text', outputIndex, id, text: '' });
        const item = { ...messageItem(id, '', 'in_progress'), content: [] };
        let out = this.frame('response.output_item.added', { output_index: outputIndex, item })
          + this.frame('response.content_part.added', { item_id: id, output_index: outputIndex, content_index: 0, part: textPart('') });
        if (block.text) out += this.delta(index, { type: 'text_delta', text: block.text });
        return out;
      }
      case 'tool_use': {
        const custom = toolName(this.context, block.name).custom;
        const id = itemId(this.context, custom ? 'ctc' : 'fc', index);
        this.open.set(index, { kind: 'tool', outputIndex, id, callId: block.id, name: block.name, custom, json: '' });
        const item = toolCallItem(this.context, id, block.id, block.name, '', 'in_progress');
        return this.frame('response.output_item.added', { output_index: outputIndex, item });
      }
      case 'thinking': {
        const id = itemId(this.context, 'rs', index);
        this.open.set(index, { kind: 'thinking', outputIndex, id, thinking: '', signature: block.signature ?? '' });
        let out = this.frame('response.output_item.added', { output_index: outputIndex, item: { id, type: 'reasoning', summary: [] } });
        if (this.context.reasoningSummary) {
          out += this.frame('response.reasoning_summary_part.added', { item_id: id, output_index: outputIndex, summary_index: 0, part: { type: 'summary_text', text: '' } });
        }
        if (block.thinking) out += this.delta(index, { type: 'thinking_delta', thinking: block.thinking });
        return out;
      }
      case 'redacted_thinking': {
        const id = itemId(this.context, 'rs', index);
        this.open.set(index, { kind: 'redacted', outputIndex, id, data: block.data });
        return this.frame('response.output_item.added', { output_index: outputIndex, item: { id, type: 'reasoning', summary: [] } });
      }
      default:
        // Server-side tool blocks (Anthropic-native upstreams only) have no Responses item.
        return '';
    }
  }

  private delta(index: number, delta: Extract<CanonicalEvent, { type: 'content_block_delta' }>['delta']): string {
    const open = this.open.get(index);
    if (!open) return '';
    switch (delta.type) {
      case 'text_delta':
        if (open.kind !== 'text' || !delta.text) return '';
        open.text += delta.text;
        return this.frame('response.output_text.delta', { item_id: open.id, output_index: open.outputIndex, content_index: 0, delta: delta.text, logprobs: [] });
      case 'input_json_delta':
        if (open.kind !== 'tool' || !delta.partial_json) return '';
        open.json += delta.partial_json;
        // A custom tool's input is one string inside Claude's JSON: it is sent whole when the block ends.
        if (open.custom) return '';
        return this.frame('response.function_call_arguments.delta', { item_id: open.id, output_index: open.outputIndex, delta: delta.partial_json });
      case 'thinking_delta':
        if (open.kind !== 'thinking' || !delta.thinking) return '';
        open.thinking += delta.thinking;
        this.thinkingChars += delta.thinking.length;
        if (!this.context.reasoningSummary) return '';
        return this.frame('response.reasoning_summary_text.delta', { item_id: open.id, output_index: open.outputIndex, summary_index: 0, delta: delta.thinking });
      case 'signature_delta':
        if (open.kind === 'thinking') open.signature += delta.signature;
        return '';
      default:
        return '';
    }
  }

  private stop(index: number): string {
    const open = this.open.get(index);
    if (!open) return '';
    this.open.delete(index);
    const base = { item_id: open.id, output_index: open.outputIndex };
    let out = '';
    let item: OutputItem;
    switch (open.kind) {
      case 'text':
        out += this.frame('response.output_text.done', { ...base, content_index: 0, text: open.text, logprobs: [] })
          + this.frame('response.content_part.done', { ...base, content_index: 0, part: textPart(open.text) });
        item = messageItem(open.id, open.text);
        break;
      case 'tool':
        item = toolCallItem(this.context, open.id, open.callId, open.name, open.json);
        if (open.custom) {
          const input = item.input as string;
          if (input) out += this.frame('response.custom_tool_call_input.delta', { ...base, delta: input });
          out += this.frame('response.custom_tool_call_input.done', { ...base, input });
        } else {
          out += this.frame('response.function_call_arguments.done', { ...base, arguments: open.json });
        }
        break;
      case 'thinking':
        item = reasoningItem(this.context, open.id, { type: 'thinking', thinking: open.thinking, signature: open.signature });
        if (this.context.reasoningSummary) {
          out += this.frame('response.reasoning_summary_text.done', { ...base, summary_index: 0, text: open.thinking })
            + this.frame('response.reasoning_summary_part.done', { ...base, summary_index: 0, part: { type: 'summary_text', text: open.thinking } });
        }
        break;
      default:
        item = reasoningItem(this.context, open.id, { type: 'redacted_thinking', data: open.data });
    }
    this.output[open.outputIndex] = item;
    return out + this.frame('response.output_item.done', { output_index: open.outputIndex, item });
  }

  private frame(type: string, fields: Record<string, unknown>): string {
    const body = JSON.stringify(fields);
    return `event: ${type}\ndata: {"type":"${type}","sequence_number":${this.sequence++},${body.slice(1)}\n\n`;
  }
}

function textPart(text: string): Record<string, unknown> {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}
