/**
 * Canonical events -> OpenAI `chat.completion.chunk` SSE frames, ending with `data: [DONE]`. Text deltas become
 * `delta.content`, tool_use blocks become `delta.tool_calls` (arguments streamed from input_json_delta), thinking deltas
 * become `delta.reasoning_content` (the convention of OpenAI-compatible servers). With stream_options.include_usage a
 * final chunk with empty choices carries the usage. A failure after the first byte becomes an `{"error": ...}` chunk.
 */
import type { CanonicalEvent, Usage } from '../../shared/canonical';
import type { ProxyError } from '../errors';
import type { StreamEncoder } from '../stream-encoder';
import { finishReason, openAiUsage } from './usage';

export class OpenAiChunkEncoder implements StreamEncoder {
  public readonly contentType = 'text/event-stream; charset=utf-8';
  private prefix = '';
  private readonly toolIndex = new Map<number, number>();
  private usage: Usage = { input_tokens: 0, output_tokens: 0 };

  constructor(
    private readonly clientModel: string,
    private readonly includeUsage: boolean,
    private readonly created: number = Math.floor(Date.now() / 1000),
  ) {}

  public encode(event: CanonicalEvent): string {
    switch (event.type) {
      case 'message_start': {
        this.usage = { ...event.message.usage };
        const id = `chatcmpl-${event.message.id}`;
        this.prefix = `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${this.created},`
          + `"model":${JSON.stringify(this.clientModel)},"system_fingerprint":null,"choices":[{"index":0,"delta":`;
        return this.chunk('{"role":"assistant","content":""}');
      }
      case 'content_block_start': {
        const block = event.content_block;
        if (block.type === 'tool_use') {
          const index = this.toolIndex.size;
          this.toolIndex.set(event.index, index);
          return this.chunk(JSON.stringify({
            tool_calls: [{ index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }],
          }));
        }
        if (block.type === 'text' && block.text) return this.chunk(JSON.stringify({ content: block.text }));
        if (block.type === 'thinking' && block.thinking) return this.chunk(JSON.stringify({ reasoning_content: block.thinking }));
        return '';
      }
      case 'content_block_delta': {
        const delta = event.delta;
        switch (delta.type) {
          case 'text_delta':
            return delta.text ? this.chunk(`{"content":${JSON.stringify(delta.text)}}`) : '';
          case 'input_json_delta': {
            const index = this.toolIndex.get(event.index);
            if (index === undefined || !delta.partial_json) return '';
            return this.chunk(`{"tool_calls":[{"index":${index},"function":{"arguments":${JSON.stringify(delta.partial_json)}}}]}`);
          }
          case 'thinking_delta':
            return delta.thinking ? this.chunk(`{"reasoning_content":${JSON.stringify(delta.thinking)}}`) : '';
          default:
            return '';
        }
      }
      case 'message_delta': {
        this.usage = { ...this.usage, ...stripNulls(event.usage) };
        const reason = finishReason(event.delta.stop_reason);
        return this.chunk('{}', reason === null ? 'null' : `"${reason}"`);
      }
      case 'message_stop':
        if (!this.includeUsage) return '';
        return `${this.prefix.slice(0, this.prefix.indexOf('"choices":'))}"choices":[],"usage":${JSON.stringify(openAiUsage(this.usage))}}\n\n`;
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
    return `data: ${err.body('openai')}\n\n`;
  }

  public end(): string {
    return 'data: [DONE]\n\n';
  }

  private chunk(delta: string, finish = 'null'): string {
    return `${this.prefix}${delta},"logprobs":null,"finish_reason":${finish}}]}\n\n`;
  }
}

function stripNulls(usage: Partial<Usage>): Partial<Usage> {
  const out: Partial<Usage> = {};
  for (const [k, v] of Object.entries(usage)) if (v !== null && v !== undefined) (out as Record<string, number>)[k] = v;
  return out;
}
