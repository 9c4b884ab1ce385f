/**
 * Claude through Bedrock InvokeModelWithResponseStream / InvokeModel with the Anthropic body
 * (anthropic_version bedrock-2023-05-31). Each `chunk` of the response stream carries one Claude stream event as JSON;
 * it is passed through with the client's model name restored (see anthropic-native.ts).
 */
import {
  CountTokensCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  type BedrockRuntimeClient,
} from '@aws-sdk/client-bedrock-runtime';
import { UpstreamError, type CanonicalEvent, type MessageResponse } from '../../shared/canonical';
import { foundationModelId } from '../catalogue';
import { anthropicBody, claudeEvent, claudeResponse } from './anthropic-native';
import { CallControl, type UpstreamTimeouts } from './call-control';
import { exceptionMember, toUpstreamError } from './errors';
import type { Upstream, UpstreamCall } from './types';

const WHAT = 'Bedrock';
const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class BedrockInvokeUpstream implements Upstream {
  public readonly kind = 'bedrock-invoke' as const;

  constructor(private readonly client: BedrockRuntimeClient, private readonly timeouts: UpstreamTimeouts) {}

  async *stream(call: UpstreamCall): AsyncIterable<CanonicalEvent> {
    const control = new CallControl(call.signal, this.timeouts, 'stream');
    const body = encoder.encode(JSON.stringify(anthropicBody(call.request, call.model)));
    const clientModel = call.request.model;
    let completed = false;
    try {
      const response = await this.client.send(new InvokeModelWithResponseStreamCommand({
        modelId: call.model.target,
        body,
        contentType: 'application/json',
        accept: 'application/json',
      }), { abortSignal: control.signal });
      if (!response.body) throw new UpstreamError('internal', `${WHAT} returned no response stream`);
      for await (const part of response.body) {
        control.activity();
        if (part.chunk) {
          const bytes = part.chunk.bytes;
          if (!bytes) continue;
          let raw: unknown;
          try {
            raw = JSON.parse(decoder.decode(bytes));
          } catch {
            throw new UpstreamError('internal', `${WHAT} sent a chunk that is not JSON`);
          }
          const event = claudeEvent(raw, clientModel, WHAT);
          control.throwIfAborted();
          if (event) {
            yield event;
            const turn = control.pace();
            if (turn) await turn;
          }
          continue;
        }
        throw exceptionMember(part, WHAT);
      }
      completed = true;
    } catch (err) {
      throw toUpstreamError(err, WHAT, control.signal);
    } finally {
      // Stopping early (client went away) must release the HTTP stream too.
      if (!completed) control.cancel();
      control.finish();
    }
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
