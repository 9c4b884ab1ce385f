/**
 * Signed HTTP calls to bedrock-runtime that do not go through a generated SDK command, made with everything an SDK
 * command would use: the endpoint the BedrockRuntimeClient resolves (AWS_ENDPOINT_URL_BEDROCK_RUNTIME,
 * AWS_ENDPOINT_URL, config file, region rules; see endpoint.ts), the client's credential chain and region for a SigV4
 * signature (service `bedrock`, @smithy/signature-v4) — or a Bedrock API key (AWS_BEARER_TOKEN_BEDROCK) the way the SDK
 * prefers it — and the client's own HTTP handler and connection pool.
 *
 * Used for the Bedrock Anthropic Messages endpoint (no SDK command exists) and for InvokeModelWithResponseStream, whose
 * event stream is decoded here with @smithy/eventstream-codec one frame at a time (see event-stream.ts): the SDK
 * command's deserializer costs several times more CPU per event and decodes a whole network read before handing over
 * its first event (bench/upstream-layer.ts).
 */
import type { Readable } from 'stream';
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { bedrockRuntimeBaseUrl, joinPath } from './endpoint';
import { errorFromHttpResponse, isConnectionDrop } from './errors';

/** Error bodies are small; never buffer more than this from a failed response. */
const MAX_ERROR_BODY = 64 * 1024;

export interface HttpResponseLike {
  statusCode: number;
  headers: Record<string, string | undefined>;
  body: Readable | undefined;
}

interface ClientConfig {
  credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
  region: () => Promise<string>;
  sha256: new (secret?: unknown) => { update(data: Uint8Array | string): void; digest(): Promise<Uint8Array> };
  token?: () => Promise<{ token: string }>;
  requestHandler: {
    handle(request: HttpRequest, options?: { abortSignal?: AbortSignal }): Promise<{ response: HttpResponseLike }>;
  };
}

export class BedrockHttp {
  private signer: Promise<SignatureV4> | undefined;

  constructor(private readonly client: BedrockRuntimeClient, private readonly what = 'Bedrock') {}

  /**
   * POSTs `body` to `path` (below the resolved bedrock-runtime base URL), signed. Resolves with a 2xx response; throws
   * the classified UpstreamError for any other status. A connection the server closed before answering (a stale
   * keep-alive connection) is retried once, as the SDK does for its commands.
   */
  async post(path: string, body: string | Uint8Array, headers: Record<string, string>, signal: AbortSignal): Promise<HttpResponseLike> {
    const config = this.client.config as unknown as ClientConfig;
    const url = joinPath(await bedrockRuntimeBaseUrl(this.client), path);
    const request = new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      // Path labels are sent percent-encoded (`:` as %3A); pathname keeps that encoding.
      path: url.pathname,
      headers: { host: url.host, ...headers },
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
      throw errorFromHttpResponse(this.what, response.statusCode, response.headers, text);
    }
    return response;
  }

  /** A Bedrock API key, when the SDK would use one too (AWS_BEARER_TOKEN_BEDROCK, or a `token` given to the client). */
  private async bearerToken(config: ClientConfig): Promise<string | undefined> {
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

  private getSigner(config: ClientConfig): Promise<SignatureV4> {
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

/** Reads a body as UTF-8 text, up to `limit` bytes. */
export async function readText(body: Readable | undefined, limit: number): Promise<string> {
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
