/**
 * Claude through the Bedrock Anthropic Messages endpoint: `POST {bedrock-runtime endpoint}/anthropic/v1/messages` with
 * the Anthropic request (the model id in the body, `anthropic_version: bedrock-2023-05-31`), answered with SSE when
 * `stream` is true and JSON otherwise.
 *
 * This call does not go through a generated SDK command, but it uses everything an SDK command would: the endpoint the
 * BedrockRuntimeClient resolves (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_ENDPOINT_URL, config file, region rules; see
 * endpoint.ts), the client's credential chain and region for a SigV4 signature (service `bedrock`, signed with
 * @smithy/signature-v4) or a Bedrock API key (AWS_BEARER_TOKEN_BEDROCK) the way the SDK prefers it, and the client's
 * own HTTP handler and connection pool.
 */
import type { Readable } from 'stream';
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { anthropicBody, claudeEvent, claudeResponse } from './anthropic-native';
import { countClaudeTokens } from './bedrock-invoke';
import { CallControl, type UpstreamTimeouts } from './call-control';
import { bedrockRuntimeBaseUrl, joinPath } from './endpoint';
import { errorFromHttpResponse, isConnectionDrop, toUpstreamError } from './errors';
import { readSse } from './sse';
import type { Upstream, UpstreamCall } from './types';
import { UpstreamError, type CanonicalEvent, type MessageResponse } from '../../shared/canonical';

const WHAT = 'Bedrock';
const MESSAGES_PATH = '/anthropic/v1/messages';
/** Error bodies are small; never buffer more than this from a failed response. */
const MAX_ERROR_BODY = 64 * 1024;

interface HttpResponseLike {
  statusCode: number;
  headers: Record<string, string | undefined>;
  body: Readable | undefined;
}

interface SigningConfig {
  credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
  region: () => Promise<string>;
  sha256: new (secret?: unknown) => { update(data: Uint8Array | string): void; digest(): Promise<Uint8Array> };
  token?: () => Promise<{ token: string }>;
  requestHandler: {
    handle(request: HttpRequest, options?: { abortSignal?: AbortSignal }): Promise<{ response: HttpResponseLike }>;
  };
}

export class BedrockMessagesUpstream implements Upstream {
  public readonly kind = 'bedrock-messages' as const;
  private signer: Promise<SignatureV4> | undefined;

  constructor(private readonly client: BedrockRuntimeClient, private readonly timeouts: UpstreamTimeouts) {}

  async *stream(call: UpstreamCall): AsyncIterable<CanonicalEvent> {
    const control = new CallControl(call.signal, this.timeouts, 'stream');
    const clientModel = call.request.model;
    let completed = false;
    try {
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
      for await (const message of readSse(response.body!, () => control.activity())) {
        let raw: unknown;
        try {
          raw = JSON.parse(message.data);
        } catch {
          throw new UpstreamError('internal', `${WHAT} sent an event that is not JSON`);
        }
        const event = claudeEvent(raw, clientModel, WHAT);
        control.throwIfAborted();
        if (event) {
          yield event;
          const turn = control.pace();
          if (turn) await turn;
        }
      }
      completed = true;
    } catch (err) {
      throw toUpstreamError(err, WHAT, control.signal);
    } finally {
      if (!completed) control.cancel();
      control.finish();
    }
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

  /** Builds, signs and sends the request; resolves with a 2xx response or throws the classified HTTP error. */
  private async send(call: UpstreamCall, stream: boolean, signal: AbortSignal): Promise<HttpResponseLike> {
    const config = this.client.config as unknown as SigningConfig;
    const url = joinPath(await bedrockRuntimeBaseUrl(this.client), MESSAGES_PATH);
    const body = JSON.stringify({ model: call.model.target, ...anthropicBody(call.request, call.model), stream });
    const request = new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      headers: {
        'host': url.host,
        'content-type': 'application/json',
        'accept': stream ? 'text/event-stream' : 'application/json',
      },
      body,
    });
    const bearer = await this.bearerToken(config);
    const signed = bearer
      ? Object.assign(request, { headers: { ...request.headers, authorization: `Bearer ${bearer}` } })
      : await (await this.getSigner(config)).sign(request);
    let response: HttpResponseLike;
    try {
      ({ response } = await config.requestHandler.handle(signed as HttpRequest, { abortSignal: signal }));
    } catch (err) {
      // A reused keep-alive connection the server had closed: nothing was answered, send it once more.
      if (!isConnectionDrop(err) || signal.aborted) throw err;
      ({ response } = await config.requestHandler.handle(signed as HttpRequest, { abortSignal: signal }));
    }
    if (response.statusCode < 200 || response.statusCode >= 300) {
      const text = await readText(response.body, MAX_ERROR_BODY).catch(() => '');
      throw errorFromHttpResponse(WHAT, response.statusCode, response.headers, text);
    }
    return response;
  }

  /** A Bedrock API key, when the SDK would use one too (AWS_BEARER_TOKEN_BEDROCK, or a `token` given to the client). */
  private async bearerToken(config: SigningConfig): Promise<string | undefined> {
    const fromEnv = process.env.AWS_BEARER_TOKEN_BEDROCK;
    if (fromEnv) return fromEnv;
    if (config.token) {
      try {
        return (await config.token()).token;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  private getSigner(config: SigningConfig): Promise<SignatureV4> {
    if (!this.signer) {
      this.signer = config.region().then((region) => new SignatureV4({
        service: 'bedrock',
        region,
        credentials: () => config.credentials(),
        sha256: config.sha256,
      }));
      this.signer.catch(() => {
        this.signer = undefined;
      });
    }
    return this.signer;
  }
}

async function readText(body: Readable | undefined, limit: number): Promise<string> {
  if (!body) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    size += buf.length;
    if (size > limit) {
      body.destroy();
      break;
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
