/**
 * Canonical events -> the Anthropic Messages SSE stream (`event: <type>` + `data: <json>`). The client's model name is
 * restored on message_start. A failure after the first byte becomes an `event: error` frame.
 */
import type { CanonicalEvent } from '../../shared/canonical';
import type { ProxyError } from '../errors';
import type { StreamEncoder } from '../stream-encoder';

export class AnthropicSseEncoder implements StreamEncoder {
  public readonly contentType = 'text/event-stream; charset=utf-8';

  constructor(private readonly clientModel: string) {}

  public encode(event: CanonicalEvent): string {
    if (event.type === 'message_start') {
      return frame('message_start', { type: 'message_start', message: { ...event.message, model: this.clientModel } });
    }
    return frame(event.type, event);
  }

  public ping(): string {
    return 'event: ping\ndata: {"type":"ping"}\n\n';
  }

  public error(err: ProxyError): string {
    return `event: error\ndata: ${err.body('anthropic')}\n\n`;
  }

  public end(): string | undefined {
    return undefined;
  }
}

function frame(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}
