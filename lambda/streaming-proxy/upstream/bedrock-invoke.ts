/**
 * Claude through Bedrock InvokeModelWithResponseStream / InvokeModel with the Anthropic body
 * (anthropic_version bedrock-2023-05-31). Each `chunk` of the response stream carries one Claude stream event as JSON;
 * it is passed through with the client's model name restored (see anthropic-native.ts).
 */
import {
  CountTokensCommand,
  InvokeModelCommand,
  type BedrockRuntimeClient,
} from '@aws-sdk/client-bedrock-runtime';
import type { Message } from '@smithy/eventstream-codec';
import { UpstreamError, type CanonicalEvent, type MessageResponse } from '../../shared/canonical';
import { foundationModelId } from '../catalogue';
import { anthropicBody, claudeEvent, claudeResponse } from './anthropic-native';
import { BedrockEmbedder } from './bedrock-embed';
import { BedrockHttp } from './bedrock-http';
import { CallControl, runStream, type UpstreamTimeouts } from './call-control';
import { exceptionMember, toUpstreamError } from './errors';
import { header, readEventStream } from './event-stream';
import type { EmbedCall, EmbedResult, Upstream, UpstreamCall } from './types';

const WHAT = 'Bedrock';
const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class BedrockInvokeUpstream implements Upstream {
  public readonly kind = 'bedrock-invoke' as const;

  private readonly http: BedrockHttp;
  private embedder: BedrockEmbedder | undefined;

  constructor(private readonly client: BedrockRuntimeClient, private readonly timeouts: UpstreamTimeouts) {
    this.http = new BedrockHttp(client, WHAT);
  }

  /** Embedding models (catalogue kind `embedding`) are InvokeModel calls too; see bedrock-embed.ts. */
  embed(call: EmbedCall): Promise<EmbedResult> {
    this.embedder ??= new BedrockEmbedder(this.client, this.timeouts);
    return this.embedder.embed(call);
  }

  async *stream(call: UpstreamCall): AsyncIterable<CanonicalEvent> {
    const control = new CallControl(call.signal, this.timeouts, 'stream');
    const clientModel = call.request.model;
    yield* runStream(control, WHAT, {
      // The InvokeModelWithResponseStream operation, sent and decoded by BedrockHttp and the event-stream reader
      // (see bedrock-http.ts for why not through the generated command).
      open: async () => {
        const response = await this.http.post(
          `/model/${encodeURIComponent(call.model.target)}/invoke-with-response-stream`,
          encoder.encode(JSON.stringify(anthropicBody(call.request, call.model))),
          { 'content-type': 'application/json', 'x-amzn-bedrock-accept': 'application/json' },
          control.signal,
        );
        if (!response.body) throw new UpstreamError('internal', `${WHAT} returned no response stream`);
        return readEventStream(response.body, () => control.activity());
      },
      translate: (message) => claudeEvent(chunkEvent(message), clientModel, WHAT),
    });
  }

  async complete(call: UpstreamCall): Promise<MessageResponse> {
    const control = new CallControl(call.signal, this.timeouts, 'complete');
    try {
      const response = await this.client.send(new InvokeModelCommand({
        modelId: call.model.target,
        body: encoder.encode(JSON.stringify(anthropicBody(call.request, call.model))),
        contentType: 'application/json',
        accept: 'application/json',
      }), { abortSignal: control.signal });
      let raw: unknown;
      try {
        raw = JSON.parse(decoder.decode(response.body));
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
}

/**
 * The Claude event carried by one message of an InvokeModelWithResponseStream body: a `chunk` event's payload is
 * `{"bytes": base64(Claude event JSON)}`. Exception messages (`:message-type: exception`, e.g. `throttlingException`)
 * and error messages (`:message-type: error`) become UpstreamErrors; other event types are ignored (undefined).
 */
export function chunkEvent(message: Message): unknown {
  const type = header(message, ':message-type');
  if (type === 'event') {
    if (header(message, ':event-type') !== 'chunk') return undefined;
    let bytes: unknown;
    try {
      bytes = (JSON.parse(decoder.decode(message.body)) as { bytes?: unknown }).bytes;
      return typeof bytes === 'string' ? JSON.parse(Buffer.from(bytes, 'base64').toString('utf8')) : undefined;
    } catch {
      throw new UpstreamError('internal', `${WHAT} sent a chunk that is not JSON`);
    }
  }
  let text = '';
  try {
    const parsed = JSON.parse(decoder.decode(message.body)) as { message?: unknown; Message?: unknown };
    text = typeof parsed.message === 'string' ? parsed.message : typeof parsed.Message === 'string' ? parsed.Message : '';
  } catch {
    text = decoder.decode(message.body);
  }
  if (type === 'exception') {
    const name = header(message, ':exception-type') ?? 'unknown';
    throw exceptionMember({ [name]: { message: text || name } }, WHAT);
  }
  const code = header(message, ':error-code') ?? 'InternalFailure';
  const errorMessage = header(message, ':error-message') ?? text ?? code;
  throw exceptionMember({ [code]: { message: errorMessage || code } }, WHAT);
}

/**
 * Bedrock CountTokens with the InvokeModel body, for the Claude upstreams. Undefined (the front end then estimates)
 * when the catalogue does not mark the model as supported or Bedrock refuses to count it.
 */
export async function countClaudeTokens(
  client: BedrockRuntimeClient, timeouts: UpstreamTimeouts, call: UpstreamCall,
): Promise<number | undefined> {
  if (!call.model.countTokens) return undefined;
  const control = new CallControl(call.signal, timeouts, 'complete');
  try {
    const response = await client.send(new CountTokensCommand({
      modelId: foundationModelId(call.model.target),
      input: { invokeModel: { body: encoder.encode(JSON.stringify(anthropicBody(call.request, call.model))) } },
    }), { abortSignal: control.signal });
    return typeof response.inputTokens === 'number' ? response.inputTokens : undefined;
  } catch (err) {
    const error = toUpstreamError(err, WHAT, control.signal);
    if (error.kind === 'validation' || error.kind === 'not_found' || error.kind === 'access_denied') return undefined;
    throw error;
  } finally {
    control.finish();
  }
}
