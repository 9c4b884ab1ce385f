/**
 * A fake Amazon Bedrock Runtime for tests, the dev server and the benchmarks. It speaks the real wire formats, so the
 * real `@aws-sdk/client-bedrock-runtime` (and the proxy's own SigV4-signed calls) talk to it unchanged:
 *
 * - `POST /model/{modelId}/invoke-with-response-stream` and `/converse-stream`: `application/vnd.amazon.eventstream`
 *   frames encoded with @smithy/eventstream-codec (`chunk` events carrying `{"bytes": base64(Claude event JSON)}`;
 *   messageStart / contentBlockStart / contentBlockDelta / contentBlockStop / messageStop / metadata), exception frames
 *   (`:message-type: exception`, `:exception-type: throttlingException`, …);
 * - `POST /model/{modelId}/invoke`, `/converse`, `/count-tokens`: JSON; `invoke` of the Titan V2 and Cohere Embed
 *   models validates and answers embedding bodies (bedrock-embedding-contract.ts);
 * - `POST /anthropic/v1/messages`: the Bedrock Anthropic Messages endpoint (model in the body; SSE when streaming);
 * - errors as Bedrock sends them: HTTP status, `x-amzn-errortype`, `{"message": ...}`.
 *
 * One loopback port answers both HTTP/2 (cleartext, prior knowledge — the SDK's default) and HTTP/1.1. Every request is
 * recorded; SigV4 signatures are verified when the fake knows the credentials.
 *
 * Fault modes (`enqueueFault()` in process, or a `[[fake fault=…]]` directive in the last user message): HTTP errors
 * before the first byte (throttling, 5xx, validation, access denied, model not found), an exception frame as the first
 * frame or mid-stream, hang before the response or mid-stream, a malformed (bad CRC) frame, a connection reset.
 *
 * Run standalone: `npx ts-node --transpile-only test/support/fake-bedrock.ts [--port N]` (loopback only).
 */
import { createHash, createHmac } from 'crypto';
import * as http from 'http';
import * as http2 from 'http2';
import * as net from 'net';
import { Duplex } from 'stream';
import { EventStreamCodec, type MessageHeaders } from '@smithy/eventstream-codec';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { claudeBodyProblem } from './bedrock-claude-contract';
import { embeddingBodyProblem, embeddingFamilyOf, embeddingResponse } from './bedrock-embedding-contract';

// ---------------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------------

export type FakeBlock =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** What the fake model answers. Text is split into deltas of `chunkChars` characters. */
export interface FakeResponse {
  blocks: FakeBlock[];
  stopReason?: 'end_turn' | 'tool_use' | 'max_tokens' | 'stop_sequence';
  stopSequence?: string;
  usage?: FakeUsage;
  /** Characters per text / thinking / JSON delta. Default 16. */
  chunkChars?: number;
  /** Delay before the response headers. */
  firstByteDelayMs?: number;
  /** Delay between events. */
  eventDelayMs?: number;
}

export type Operation = 'invoke' | 'invoke-with-response-stream' | 'converse' | 'converse-stream' | 'count-tokens' | 'messages';

export type Fault =
  /** An HTTP error response before any byte of the body: status, Bedrock exception name, message. */
  | { kind: 'http-error'; status: number; exception: string; message?: string }
  /** HTTP 200, then `afterEvents` events, then an exception frame (`exception` in lowerCamel, e.g. throttlingException),
   * or an SSE `error` event of type `anthropicType` on the Messages endpoint. */
  | { kind: 'exception'; afterEvents: number; exception: string; message?: string; anthropicType?: string }
  /** Never answer (afterEvents undefined), or stop sending after `afterEvents` events, keeping the stream open. */
  | { kind: 'hang'; afterEvents?: number }
  /** A frame with a corrupted checksum (or a non-JSON SSE event) after `afterEvents` good events. */
  | { kind: 'malformed'; afterEvents: number }
  /** Reset the stream / connection after `afterEvents` events. */
  | { kind: 'reset'; afterEvents: number }
  /** Close the connection on receiving the request, answering nothing: what a client sees when it reuses a keep-alive
   * connection the server has just closed ("socket hang up"). */
  | { kind: 'drop' };

export interface FaultMatch {
  model?: string | RegExp;
  operation?: Operation | Operation[];
  /** The region of the SigV4 credential scope (which client the call came from). */
  region?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  httpVersion: string;
  operation: Operation | undefined;
  modelId: string | undefined;
  region: string | undefined;
  headers: Record<string, string>;
  body: unknown;
  /** true / false when the fake knows the credentials; undefined when it does not. */
  signatureValid: boolean | undefined;
  authorization: 'sigv4' | 'bearer' | 'none';
  /** Why the fake refused a Claude body as Bedrock would (bedrock-claude-contract.ts); undefined when it accepted it. */
  rejected?: string;
}

export interface FakeBedrockOptions {
  /** Credentials to verify SigV4 signatures with. Unknown access keys make `signatureValid` false. */
  credentials?: { accessKeyId: string; secretAccessKey: string }[];
  /** When true, a request with a bad or missing signature gets 403 UnrecognizedClientException / InvalidSignatureException. */
  enforceSignatures?: boolean;
  /** When set, other model ids answer ValidationException "The provided model identifier is invalid." */
  models?: string[];
  /** Model ids answered with AccessDeniedException. */
  deniedModels?: string[];
  /** Default answer (when no script matches). */
  respond?: (request: FakeRequest) => FakeResponse;
  /** Accept Claude bodies Bedrock would refuse (bedrock-claude-contract.ts). Default false: they get a 400. */
  acceptAnyClaudeBody?: boolean;
  /** Leave out the `X-Amzn-Bedrock-Input-Token-Count` header on embedding responses. Default false: it is sent. */
  omitEmbeddingTokenHeader?: boolean;
  /** Delay before answering each embedding call, in ms (concurrency tests). */
  embeddingDelayMs?: number;
}

/** What a script sees of a model call. */
export interface FakeRequest {
  operation: Operation;
  modelId: string;
  /** The request body (Anthropic body for invoke/messages; Converse JSON for converse). */
  body: Record<string, unknown>;
  /** The text of the last user message. */
  lastUserText: string;
}


/** `[[fake fault=throttle]]`-style directives in the last user message (for out-of-process use: dev server, bench). */
const DIRECTIVE = /\[\[fake ([^\]]*)\]\]/;

function directiveFault(name: string): Fault | undefined {
  switch (name) {
    case 'throttle': return { kind: 'http-error', status: 429, exception: 'ThrottlingException', message: 'Too many requests, please wait before trying again.' };
    case 'throttle-frame': return { kind: 'exception', afterEvents: 0, exception: 'throttlingException', message: 'Too many tokens, please wait before trying again.' };
    case 'overloaded': return { kind: 'http-error', status: 503, exception: 'ServiceUnavailableException', message: 'Bedrock is unable to process your request.' };
    case '5xx': return { kind: 'http-error', status: 500, exception: 'InternalServerException', message: 'The server encountered an internal error.' };
    case 'validation': return { kind: 'http-error', status: 400, exception: 'ValidationException', message: 'Malformed input request.' };
    case 'access-denied': return { kind: 'http-error', status: 403, exception: 'AccessDeniedException', message: "You don't have access to the model with the specified model ID." };
    case 'not-found': return { kind: 'http-error', status: 400, exception: 'ValidationException', message: 'The provided model identifier is invalid.' };
    case 'mid-stream': return { kind: 'exception', afterEvents: 3, exception: 'modelStreamErrorException', message: 'The model stream failed.', anthropicType: 'overloaded_error' };
    case 'hang': return { kind: 'hang' };
    case 'hang-mid-stream': return { kind: 'hang', afterEvents: 3 };
    case 'malformed': return { kind: 'malformed', afterEvents: 2 };
    case 'reset': return { kind: 'reset', afterEvents: 2 };
    case 'drop': return { kind: 'drop' };
    default: return undefined;
  }
}

const FILLER = 'The quick brown fox jumps over the lazy dog while the proxy streams every byte. ';

function filler(bytes: number): string {
  return FILLER.repeat(Math.ceil(bytes / FILLER.length)).slice(0, bytes);
}

function defaultResponse(request: FakeRequest, directive: Record<string, string>): FakeResponse {
  const out = directive.out !== undefined ? Number(directive.out) : undefined;
  const text = out !== undefined ? filler(out) : `Hello from the fake Bedrock (${request.modelId}): ${request.lastUserText.slice(0, 200)}`;
  return {
    blocks: [{ type: 'text', text }],
    stopReason: 'end_turn',
    usage: { input_tokens: Math.max(1, Math.ceil(JSON.stringify(request.body).length / 4)), output_tokens: Math.max(1, Math.ceil(text.length / 4)) },
    chunkChars: directive.chunk !== undefined ? Number(directive.chunk) : 16,
    eventDelayMs: directive.delay !== undefined ? Number(directive.delay) : 0,
    firstByteDelayMs: directive.ttfb !== undefined ? Number(directive.ttfb) : 0,
  };
}

function chunks(text: string, size: number): string[] {
  if (text.length === 0) return [''];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** The Claude stream events (Anthropic Messages streaming format) for a response, as Bedrock's Claude emits them. */
export function claudeEvents(response: FakeResponse, model: string, id = 'msg_bdrk_fake'): Record<string, unknown>[] {
  const size = response.chunkChars ?? 16;
  const usage = response.usage ?? { input_tokens: 10, output_tokens: 10 };
  const events: Record<string, unknown>[] = [{
    type: 'message_start',
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: usage.input_tokens,
        output_tokens: 1,
        cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
        cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
      },
    },
  }];
  response.blocks.forEach((block, index) => {
    switch (block.type) {
      case 'text':
        events.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        for (const c of chunks(block.text, size)) events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: c } });
        break;
      case 'thinking':
        events.push({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
        for (const c of chunks(block.thinking, size)) events.push({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: c } });
        events.push({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } });
        break;
      case 'redacted_thinking':
        events.push({ type: 'content_block_start', index, content_block: { type: 'redacted_thinking', data: block.data } });
        break;
      case 'tool_use':
        events.push({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
        for (const c of chunks(JSON.stringify(block.input), size)) events.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: c } });
        break;
    }
    events.push({ type: 'content_block_stop', index });
  });
  const deltaUsage: Record<string, number> = { output_tokens: usage.output_tokens };
  events.push({ type: 'message_delta', delta: { stop_reason: response.stopReason ?? 'end_turn', stop_sequence: response.stopSequence ?? null }, usage: deltaUsage });
  events.push({
    'type': 'message_stop',
    'amazon-bedrock-invocationMetrics': { inputTokenCount: usage.input_tokens, outputTokenCount: usage.output_tokens, invocationLatency: 5, firstByteLatency: 1 },
  });
  return events;
}

/** The complete Claude message for a response. */
export function claudeMessage(response: FakeResponse, model: string, id = 'msg_bdrk_fake'): Record<string, unknown> {
  const usage = response.usage ?? { input_tokens: 10, output_tokens: 10 };
  return {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content: response.blocks.map((b) => (b.type === 'thinking' ? { type: 'thinking', thinking: b.thinking, signature: b.signature } : b)),
    stop_reason: response.stopReason ?? 'end_turn',
    stop_sequence: response.stopSequence ?? null,
    usage: { ...usage },
  };
}

/** The ConverseStream events for a response: [eventType, payload]. */
export function converseEvents(response: FakeResponse): [string, Record<string, unknown>][] {
  const size = response.chunkChars ?? 16;
  const usage = response.usage ?? { input_tokens: 10, output_tokens: 10 };
  const events: [string, Record<string, unknown>][] = [['messageStart', { role: 'assistant' }]];
  response.blocks.forEach((block, contentBlockIndex) => {
    switch (block.type) {
      case 'text':
        for (const c of chunks(block.text, size)) events.push(['contentBlockDelta', { contentBlockIndex, delta: { text: c } }]);
        break;
      case 'thinking':
        for (const c of chunks(block.thinking, size)) events.push(['contentBlockDelta', { contentBlockIndex, delta: { reasoningContent: { text: c } } }]);
        events.push(['contentBlockDelta', { contentBlockIndex, delta: { reasoningContent: { signature: block.signature } } }]);
        break;
      case 'redacted_thinking':
        events.push(['contentBlockDelta', { contentBlockIndex, delta: { reasoningContent: { redactedContent: block.data } } }]);
        break;
      case 'tool_use':
        events.push(['contentBlockStart', { contentBlockIndex, start: { toolUse: { toolUseId: block.id, name: block.name } } }]);
        for (const c of chunks(JSON.stringify(block.input), size)) events.push(['contentBlockDelta', { contentBlockIndex, delta: { toolUse: { input: c } } }]);
        break;
    }
    events.push(['contentBlockStop', { contentBlockIndex }]);
  });
  events.push(['messageStop', {
    stopReason: response.stopReason ?? 'end_turn',
    ...(response.stopSequence ? { additionalModelResponseFields: { stop_sequence: response.stopSequence } } : {}),
  }]);
  const tokenUsage: Record<string, number> = {
    inputTokens: usage.input_tokens, outputTokens: usage.output_tokens, totalTokens: usage.input_tokens + usage.output_tokens,
  };
  if (usage.cache_read_input_tokens !== undefined) tokenUsage.cacheReadInputTokens = usage.cache_read_input_tokens;
  if (usage.cache_creation_input_tokens !== undefined) tokenUsage.cacheWriteInputTokens = usage.cache_creation_input_tokens;
  events.push(['metadata', { usage: tokenUsage, metrics: { latencyMs: 5 } }]);
  return events;
}

function converseOutput(response: FakeResponse): Record<string, unknown> {
  const usage = response.usage ?? { input_tokens: 10, output_tokens: 10 };
  const content = response.blocks.map((b) => {
    switch (b.type) {
      case 'text': return { text: b.text };
      case 'thinking': return { reasoningContent: { reasoningText: { text: b.thinking, signature: b.signature } } };
      case 'redacted_thinking': return { reasoningContent: { redactedContent: b.data } };
      case 'tool_use': return { toolUse: { toolUseId: b.id, name: b.name, input: b.input } };
    }
  });
  return {
    output: { message: { role: 'assistant', content } },
    stopReason: response.stopReason ?? 'end_turn',
    usage: { inputTokens: usage.input_tokens, outputTokens: usage.output_tokens, totalTokens: usage.input_tokens + usage.output_tokens },
    metrics: { latencyMs: 5 },
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Event-stream frames
// ---------------------------------------------------------------------------------------------------------------------

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const str = (value: string) => ({ type: 'string' as const, value });

export function eventFrame(eventType: string, payload: unknown): Uint8Array {
  const headers: MessageHeaders = {
    ':message-type': str('event'), ':event-type': str(eventType), ':content-type': str('application/json'),
  };
  return codec.encode({ headers, body: fromUtf8(JSON.stringify(payload)) });
}

export function chunkFrame(claudeEvent: unknown): Uint8Array {
  return eventFrame('chunk', { bytes: Buffer.from(JSON.stringify(claudeEvent)).toString('base64'), p: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0' });
}

export function exceptionFrame(exceptionType: string, message: string): Uint8Array {
  const headers: MessageHeaders = {
    ':message-type': str('exception'), ':exception-type': str(exceptionType), ':content-type': str('application/json'),
  };
  return codec.encode({ headers, body: fromUtf8(JSON.stringify({ message })) });
}

function corrupt(frame: Uint8Array): Uint8Array {
  const copy = Buffer.from(frame);
  // Change a byte inside the payload: the message CRC no longer matches.
  copy[copy.length - 6] = copy[copy.length - 6] === 0x41 ? 0x42 : 0x41;
  return copy;
}

// ---------------------------------------------------------------------------------------------------------------------
// SigV4 verification
// ---------------------------------------------------------------------------------------------------------------------

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/;

export async function verifySigV4(
  method: string, path: string, headers: Record<string, string>, body: Buffer,
  credentials: { accessKeyId: string; secretAccessKey: string }[],
): Promise<{ valid: boolean; region?: string; service?: string }> {
  const match = AUTH.exec(headers.authorization ?? '');
  if (!match) return { valid: false };
  const [, accessKeyId, , region, service, signedHeaders, signature] = match;
  const creds = credentials.find((c) => c.accessKeyId === accessKeyId);
  if (!creds) return { valid: false, region, service };
  const amzDate = headers['x-amz-date'];
  if (!amzDate) return { valid: false, region, service };
  const signingDate = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const signed: Record<string, string> = {};
  for (const name of signedHeaders.split(';')) signed[name] = name === 'host' ? (headers.host ?? headers[':authority']) : headers[name];
  const [pathname, query] = path.split('?');
  const request = new HttpRequest({
    method,
    protocol: 'http:',
    hostname: 'fake',
    path: pathname,
    headers: signed,
    body,
    query: query ? Object.fromEntries(new URLSearchParams(query)) : undefined,
  });
  const signer = new SignatureV4({
    service,
    region,
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: headers['x-amz-security-token'] },
    sha256: class {
      private readonly hash;
      constructor(secret?: unknown) {
        this.hash = secret ? createHmac('sha256', secret as Uint8Array | string) : createHash('sha256');
      }
      update(data: Uint8Array | string) {
        this.hash.update(data);
      }
      async digest() {
        return new Uint8Array(this.hash.digest());
      }
    },
  });
  const resigned = await signer.sign(request, { signingDate });
  const expected = /Signature=([0-9a-f]+)/.exec(String(resigned.headers.authorization))?.[1];
  return { valid: expected === signature, region, service };
}

// ---------------------------------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------------------------------

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const MODEL_PATH = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream|converse|converse-stream|count-tokens)$/;

export class FakeBedrock {
  public readonly requests: RecordedRequest[] = [];
  private readonly faults: { fault: Fault; match: FaultMatch }[] = [];
  private readonly scripts: { match: FaultMatch; respond: (r: FakeRequest) => FakeResponse }[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly hanging = new Set<Res>();
  private server: net.Server | undefined;
  private readonly h1 = http.createServer((req, res) => void this.handle(req, res));
  private readonly h2 = http2.createServer({}, (req, res) => void this.handle(req, res));
  private url_ = '';
  /** Set recordRequests false for benchmarks (no per-request memory). */
  public recordRequests = true;
  /** Streamed responses whose client went away before the end (aborted calls, consumers that stopped reading). */
  public abandonedStreams = 0;
  /** Embedding calls being answered right now, and the most at once since the last reset. */
  public embeddingsInFlight = 0;
  public maxEmbeddingsInFlight = 0;

  constructor(private readonly options: FakeBedrockOptions = {}) {
    this.h2.on('sessionError', () => undefined);
    // Keep idle connections open longer than clients keep them (like AWS endpoints do), so a benchmark measures the
    // proxy rather than reconnects; the 'drop' fault covers a connection closed under a client.
    this.h1.keepAliveTimeout = 65_000;
    this.h1.headersTimeout = 66_000;
  }

  /** `http://127.0.0.1:PORT` */
  get url(): string {
    return this.url_;
  }

  async start(port = 0): Promise<string> {
    const h2Preface = Buffer.from('PRI * HTTP/2.0');
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.once('data', (first: Buffer) => {
        socket.pause();
        const n = Math.min(first.length, h2Preface.length);
        const isH2 = first.subarray(0, n).equals(h2Preface.subarray(0, n));
        if (!isH2) {
          socket.unshift(first);
          this.h1.emit('connection', socket);
          socket.resume();
          return;
        }
        // The HTTP/2 session reads from the socket's native handle and would miss the bytes already read: hand it a
        // stream that replays them first.
        const duplex = new Duplex({
          read: () => socket.resume(),
          write: (chunk: Buffer, _encoding, callback) => void socket.write(chunk, callback),
          final: (callback) => void socket.end(callback),
          destroy: (err, callback) => {
            socket.destroy(err ?? undefined);
            callback(err);
          },
        });
        duplex.push(first);
        socket.on('data', (data: Buffer) => {
          if (!duplex.push(data)) socket.pause();
        });
        socket.on('end', () => duplex.push(null));
        socket.on('close', () => duplex.destroy());
        this.h2.emit('connection', duplex);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    const address = this.server.address() as net.AddressInfo;
    this.url_ = `http://127.0.0.1:${address.port}`;
    return this.url_;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy?.();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.h1.close();
    this.h2.close();
  }

  /** The next matching call fails with `fault` (once per call to this method). */
  enqueueFault(fault: Fault, match: FaultMatch = {}): void {
    this.faults.push({ fault, match });
  }

  /** Matching calls answer with `respond(request)`; later scripts win. */
  script(match: FaultMatch, respond: FakeResponse | ((r: FakeRequest) => FakeResponse)): void {
    this.scripts.unshift({ match, respond: typeof respond === 'function' ? respond : () => respond });
  }

  reset(): void {
    this.abandonedStreams = 0;
    this.maxEmbeddingsInFlight = 0;
    this.requests.length = 0;
    this.faults.length = 0;
    this.scripts.length = 0;
  }

  private matches(match: FaultMatch, operation: Operation, modelId: string, region: string | undefined): boolean {
    if (match.model !== undefined && !(typeof match.model === 'string' ? match.model === modelId : match.model.test(modelId))) return false;
    const operations = match.operation === undefined ? undefined : ([] as Operation[]).concat(match.operation);
    if (operations && !operations.includes(operation)) return false;
    if (match.region !== undefined && match.region !== region) return false;
    return true;
  }

  private async handle(req: Req, res: Res): Promise<void> {
    try {
      await this.serve(req, res);
    } catch (err) {
      if (!res.headersSent) {
        head(res, 500, { 'content-type': 'application/json', 'x-amzn-errortype': 'InternalServerException' });
        res.end(JSON.stringify({ message: `fake Bedrock failed: ${(err as Error).message}` }));
      } else {
        res.destroy?.();
      }
    }
  }

  private async serve(req: Req, res: Res): Promise<void> {
    const bodyChunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) bodyChunks.push(chunk);
    const raw = Buffer.concat(bodyChunks);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : String(v);
    const path = req.url ?? '/';
    const pathname = path.split('?')[0];

    let operation: Operation | undefined;
    let modelId: string | undefined;
    const m = MODEL_PATH.exec(pathname);
    if (m) {
      modelId = decodeURIComponent(m[1]);
      operation = m[2] as Operation;
    } else if (pathname === '/anthropic/v1/messages') {
      operation = 'messages';
    }

    let region: string | undefined;
    let signatureValid: boolean | undefined;
    const authorization: RecordedRequest['authorization'] = headers.authorization?.startsWith('AWS4-HMAC-SHA256')
      ? 'sigv4' : headers.authorization?.startsWith('Bearer ') ? 'bearer' : 'none';
    if (authorization === 'sigv4') {
      const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(headers.authorization);
      region = scope?.[1];
      if (this.options.credentials) {
        signatureValid = (await verifySigV4(req.method ?? 'POST', path, headers, raw, this.options.credentials)).valid;
      }
    }

    let body: Record<string, unknown> = {};
    let bodyOk = true;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      } catch {
        bodyOk = false;
      }
    }
    if (operation === 'messages' && typeof body.model === 'string') modelId = body.model;

    const recorded: RecordedRequest = {
      method: req.method ?? '', path, httpVersion: req.httpVersion, operation, modelId, region, headers, body, signatureValid, authorization,
    };
    if (this.recordRequests) this.requests.push(recorded);

    if (!operation || req.method !== 'POST') {
      return this.error(res, 404, 'UnknownOperationException', `no such operation: ${req.method} ${pathname}`);
    }
    if (this.options.enforceSignatures) {
      if (authorization === 'none') return this.error(res, 403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
      if (authorization === 'sigv4' && signatureValid !== true) {
        return this.error(res, 403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.');
      }
    }
    if (!bodyOk) return this.error(res, 400, 'SerializationException', 'The request body is not valid JSON.');
    if (!modelId) return this.error(res, 400, 'ValidationException', 'model is required.');
    if (operation === 'messages' && body.anthropic_version !== 'bedrock-2023-05-31') {
      return this.error(res, 400, 'ValidationException', 'anthropic_version: expected bedrock-2023-05-31');
    }
    if (operation === 'count-tokens' && /^(global|us|eu|apac|jp|au)\./.test(modelId)) {
      return this.error(res, 400, 'ValidationException', 'The provided model identifier is invalid. CountTokens takes a foundation model id.');
    }
    if (this.options.models && !this.options.models.includes(modelId)) {
      return this.error(res, 400, 'ValidationException', 'The provided model identifier is invalid.');
    }
    if (this.options.deniedModels?.includes(modelId)) {
      return this.error(res, 403, 'AccessDeniedException', "You don't have access to the model with the specified model ID.");
    }
    const embedding = operation === 'invoke' ? embeddingFamilyOf(modelId) : undefined;
    if (embedding) {
      const problem = embeddingBodyProblem(embedding, body);
      if (problem) {
        recorded.rejected = problem;
        return this.error(res, 400, 'ValidationException', problem);
      }
      const fi = this.faults.findIndex((f) => this.matches(f.match, operation!, modelId!, region));
      const fault = fi >= 0 ? this.faults.splice(fi, 1)[0].fault : undefined;
      this.embeddingsInFlight++;
      this.maxEmbeddingsInFlight = Math.max(this.maxEmbeddingsInFlight, this.embeddingsInFlight);
      try {
        if (this.options.embeddingDelayMs) await sleep(this.options.embeddingDelayMs);
      } finally {
        this.embeddingsInFlight--;
      }
      if (fault?.kind === 'http-error') return this.error(res, fault.status, fault.exception, fault.message ?? fault.exception);
      if (fault?.kind === 'hang') {
        this.hanging.add(res);
        return;
      }
      const answer = embeddingResponse(embedding, modelId, body);
      head(res, 200, {
        'content-type': 'application/json',
        'x-amzn-requestid': 'fake-request-id',
        ...(this.options.omitEmbeddingTokenHeader ? {} : { 'x-amzn-bedrock-input-token-count': String(answer.tokens) }),
      });
      res.end(JSON.stringify(answer.body));
      return;
    }
    if (!this.options.acceptAnyClaudeBody && (operation === 'invoke' || operation === 'invoke-with-response-stream' || operation === 'messages')) {
      const problem = claudeBodyProblem(body, modelId, operation);
      if (problem) {
        recorded.rejected = problem;
        return this.error(res, 400, 'ValidationException', problem);
      }
    }

    // The request as a script sees it.
    const modelBody: Record<string, unknown> = operation === 'count-tokens' ? countTokensBody(body) : body;
    const fakeRequest: FakeRequest = { operation, modelId, body: modelBody, lastUserText: lastUserText(modelBody) };
    const directive = parseDirective(fakeRequest.lastUserText);

    let fault: Fault | undefined;
    const fi = this.faults.findIndex((f) => this.matches(f.match, operation!, modelId!, region));
    if (fi >= 0) fault = this.faults.splice(fi, 1)[0].fault;
    else if (directive.fault) fault = directiveFault(directive.fault);

    if (operation === 'count-tokens') {
      if (fault?.kind === 'http-error') return this.error(res, fault.status, fault.exception, fault.message ?? fault.exception);
      const tokens = Math.max(1, Math.ceil(JSON.stringify(modelBody.messages ?? modelBody).length / 4));
      return this.json(res, 200, { inputTokens: tokens });
    }

    const script = this.scripts.find((s) => this.matches(s.match, operation!, modelId!, region));
    const respond = script?.respond ?? this.options.respond;
    const response = respond ? respond(fakeRequest) : defaultResponse(fakeRequest, directive);

    if (response.firstByteDelayMs) await sleep(response.firstByteDelayMs);
    if (fault?.kind === 'http-error') return this.error(res, fault.status, fault.exception, fault.message ?? fault.exception);
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'hang' && fault.afterEvents === undefined) {
      this.hanging.add(res);
      return;
    }

    const streamed = operation === 'invoke-with-response-stream' || operation === 'converse-stream' || (operation === 'messages' && body.stream === true);
    if (!streamed) {
      if (operation === 'converse') return this.json(res, 200, converseOutput(response));
      return this.json(res, 200, claudeMessage(response, modelId));
    }

    if (operation === 'messages') {
      const frames = claudeEvents(response, modelId).map((e) => `event: ${String(e.type)}\ndata: ${JSON.stringify(e)}\n\n`);
      return this.stream(res, 'text/event-stream', frames, response.eventDelayMs ?? 0, fault, (f) => {
        if (f.kind === 'exception') {
          return `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: f.anthropicType ?? 'api_error', message: f.message ?? f.exception } })}\n\n`;
        }
        return 'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {\n\n';
      });
    }
    const frames = operation === 'converse-stream'
      ? converseEvents(response).map(([type, payload]) => eventFrame(type, { ...payload, p: 'abcdefgh' }))
      : claudeEvents(response, modelId).map(chunkFrame);
    return this.stream(res, 'application/vnd.amazon.eventstream', frames, response.eventDelayMs ?? 0, fault, (f, good) => {
      if (f.kind === 'exception') return exceptionFrame(f.exception, f.message ?? f.exception);
      return corrupt(good ?? chunkFrame({ type: 'ping' }));
    });
  }

  private async stream(
    res: Res, contentType: string, frames: (Uint8Array | string)[], delayMs: number, fault: Fault | undefined,
    faultFrame: (fault: Fault, good?: Uint8Array) => Uint8Array | string,
  ): Promise<void> {
    head(res, 200, {
      'content-type': contentType,
      'x-amzn-requestid': 'fake-request-id',
      'x-amzn-bedrock-content-type': 'application/json',
    });
    let ended = false;
    res.on('close', () => {
      if (!ended) this.abandonedStreams++;
    });
    const stopAt = fault && fault.kind !== 'http-error' && fault.kind !== 'drop' ? (fault.afterEvents ?? 0) : Number.POSITIVE_INFINITY;
    for (let i = 0; i < frames.length; i++) {
      if (i === stopAt && fault) {
        switch (fault.kind) {
          case 'exception':
            await this.write(res, faultFrame(fault));
            ended = true;
            res.end();
            return;
          case 'malformed':
            await this.write(res, faultFrame(fault, typeof frames[i] === 'string' ? undefined : frames[i] as Uint8Array));
            ended = true;
            res.end();
            return;
          case 'hang':
            this.hanging.add(res);
            return;
          case 'reset':
            // Let the events already written reach the client first, so the reset is really mid-stream.
            await sleep(30);
            if ('stream' in res && res.stream) res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
            else (res as http.ServerResponse).socket?.destroy();
            return;
        }
      }
      if (delayMs > 0) await sleep(delayMs);
      if (res.destroyed || res.writableEnded) return;
      await this.write(res, frames[i]);
    }
    ended = true;
    res.end();
  }

  private write(res: Res, data: Uint8Array | string): Promise<void> {
    const ok = (res as http.ServerResponse).write(data);
    if (ok) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }

  private json(res: Res, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    head(res, status, { 'content-type': 'application/json', 'x-amzn-requestid': 'fake-request-id' });
    res.end(text);
  }

  private error(res: Res, status: number, exception: string, message: string): void {
    head(res, status, {
      'content-type': 'application/json',
      'x-amzn-errortype': `${exception}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      'x-amzn-requestid': 'fake-request-id',
    });
    res.end(JSON.stringify({ message }));
  }
}

function head(res: Res, status: number, headers: http.OutgoingHttpHeaders): void {
  (res as http.ServerResponse).writeHead(status, headers);
}

function countTokensBody(body: Record<string, unknown>): Record<string, unknown> {
  const input = body.input as { invokeModel?: { body?: string }; converse?: Record<string, unknown> } | undefined;
  if (input?.invokeModel?.body) return JSON.parse(Buffer.from(input.invokeModel.body, 'base64').toString('utf8')) as Record<string, unknown>;
  return input?.converse ?? {};
}

/** The text of the last user message of an Anthropic or Converse body. */
export function lastUserText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? (body.messages as { role?: string; content?: unknown }[]) : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role !== 'user') continue;
    const content = messages[i].content;
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) {
      return content.map((b: { type?: string; text?: string }) => (typeof b.text === 'string' ? b.text : '')).join('');
    }
  }
  return '';
}

function parseDirective(text: string): Record<string, string> {
  const m = DIRECTIVE.exec(text);
  const out: Record<string, string> = {};
  if (!m) return out;
  for (const pair of m[1].trim().split(/\s+/)) {
    const [k, v] = pair.split('=');
    if (k && v !== undefined) out[k] = v;
  }
  return out;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const portArg = args.indexOf('--port');
  const port = portArg >= 0 ? Number(args[portArg + 1]) : 0;
  const fake = new FakeBedrock();
  fake.recordRequests = false;
  void fake.start(port).then((url) => {
    console.log(`fake Bedrock listening on ${url}`);
  });
  const stop = () => void fake.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
