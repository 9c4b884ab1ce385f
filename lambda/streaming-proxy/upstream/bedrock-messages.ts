/**
 * Claude through the Bedrock Anthropic Messages endpoint: `POST {bedrock-runtime endpoint}/anthropic/v1/messages` with
 * the Anthropic request (the model id in the body, `anthropic_version: bedrock-2023-05-31`), answered with SSE when
 * `stream` is true and JSON otherwise. No SDK command exists for it; BedrockHttp (bedrock-http.ts) signs and sends it
 * with the BedrockRuntimeClient's endpoint, credentials and HTTP handler.
 */
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { anthropicBody, claudeEvent, claudeResponse } from './anthropic-native';
import { BedrockHttp, readText } from './bedrock-http';
import { countClaudeTokens } from './bedrock-invoke';
import { CallControl, runStream, type UpstreamTimeouts } from './call-control';
import { toUpstreamError } from './errors';
import { readSse } from './sse';
import type { Upstream, UpstreamCall } from './types';
import { UpstreamError, type CanonicalEvent, type MessageResponse } from '../../shared/canonical';

const WHAT = 'Bedrock';
const MESSAGES_PATH = '/anthropic/v1/messages';
/** Error bodies are small; never buffer more than this from a failed response. */
const MAX_ERROR_BODY = 64 * 1024;

export class BedrockMessagesUpstream implements Upstream {
  public readonly kind = 'bedrock-messages' as const;
  private readonly http: BedrockHttp;

  constructor(private readonly client: BedrockRuntimeClient, private readonly timeouts: UpstreamTimeouts) {
    this.http = new BedrockHttp(client, WHAT);
  }

  async *stream(call: UpstreamCall): AsyncIterable<CanonicalEvent> {
    const control = new CallControl(call.signal, this.timeouts, 'stream');
    const clientModel = call.request.model;
    yield* runStream(control, WHAT, {
      open: async () => {
        const response = await this.send(call, true, control.signal);
        const type = response.headers['content-type'] ?? '';
        if (!type.includes('text/event-stream')) {
          const text = await readText(response.body, MAX_ERROR_BODY);
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          if (parsed && typeof parsed === 'object' && (parsed as { type?: unknown }).type === 'error') claudeEvent(parsed, clientModel, WHAT);
          throw new UpstreamError('internal', `${WHAT} answered a streaming request with ${type || 'no content type'}`);
        }
        return readSse(response.body!, () => control.activity());
      },
      translate: (message) => {
        let raw: unknown;
        try {
          raw = JSON.parse(message.data);
        } catch {
          throw new UpstreamError('internal', `${WHAT} sent an event that is not JSON`);
        }
        return claudeEvent(raw, clientModel, WHAT);
      },
    });
  }

  async complete(call: UpstreamCall): Promise<MessageResponse> {
    const control = new CallControl(call.signal, this.timeouts, 'complete');
    try {
      const response = await this.send(call, false, control.signal);
      const text = await readText(response.body, Number.POSITIVE_INFINITY);
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        throw new UpstreamError('internal', `${WHAT} sent a response that is not JSON`);
      }
      return claudeResponse(raw, call.request.model, WHAT);
    } catch (err) {
      throw toUpstreamError(err, WHAT, control.signal);
    } finally {
      control.finish();
    }
  }

  countTokens(call: UpstreamCall): Promise<number | undefined> {
    return countClaudeTokens(this.client, this.timeouts, call);
  }

  private send(call: UpstreamCall, stream: boolean, signal: AbortSignal) {
    const body = JSON.stringify({ model: call.model.target, ...anthropicBody(call.request, call.model), stream });
    return this.http.post(MESSAGES_PATH, body, {
      'content-type': 'application/json',
      'accept': stream ? 'text/event-stream' : 'application/json',
    }, signal);
  }
}
