/**
 * Self-hosted models behind an OpenAI Chat Completions server the function can reach (vLLM, Ollama, TGI, an internal
 * LiteLLM — typically inside the VPC): `POST {baseUrl}/chat/completions`, streamed as SSE `chat.completion.chunk`s.
 * An optional bearer key is read from Secrets Manager (`apiKeySecretArn`) and cached.
 *
 * Two pure translations, tested without I/O: `toOpenAIRequest()` (canonical -> Chat Completions) and
 * `OpenAIChunkTranslator` (chunks -> a valid canonical event sequence).
 */
import * as http from 'http';
import * as https from 'https';
import type { GetSecretValueCommand as GetSecretValueCommandType, SecretsManagerClient as SecretsManagerClientType } from '@aws-sdk/client-secrets-manager';
import { readText } from './bedrock-http';
import { CallControl, END_OF_STREAM, runStream, type UpstreamTimeouts } from './call-control';
import { claudeOnlyBlock, errorFromHttpResponse, isConnectionDrop, kindForStatus, toUpstreamError, untranslatable } from './errors';
import { readSse } from './sse';
import type { ResolvedModel, Upstream, UpstreamCall } from './types';
import {
  firstUnknownPart,
  systemTurnText,
  UpstreamError,
  type CanonicalEvent,
  type CanonicalMessage,
  type CanonicalRequest,
  type ContentBlock,
  type MessageResponse,
  type StopReason,
  type Usage,
} from '../../shared/canonical';

// ---------------------------------------------------------------------------------------------------------------------
// Request: canonical -> Chat Completions
// ---------------------------------------------------------------------------------------------------------------------

type OpenAIPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

export type OpenAIMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | OpenAIPart[] }
  | { role: 'assistant'; content: string | null; tool_calls?: OpenAIToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface OpenAIRequest {
  model: string;
  messages: OpenAIMessage[];
  max_tokens: number;
  stream: boolean;
  stream_options?: { include_usage: boolean };
  temperature?: number;
  top_p?: number;
  stop?: string[];
  tools?: Array<{ type: 'function'; function: { name: string; description?: string; parameters: Record<string, unknown> } }>;
  tool_choice?: 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };
  parallel_tool_calls?: boolean;
  user?: string;
  response_format?: { type: 'json_schema'; json_schema: { name: string; schema: Record<string, unknown>; strict: boolean } };
}

function invalid(message: string): UpstreamError {
  return new UpstreamError('validation', message);
}

function imagePart(block: Extract<ContentBlock, { type: 'image' }>): OpenAIPart {
  const url = block.source.type === 'base64' ? `data:${block.source.media_type};base64,${block.source.data}` : block.source.url;
  return { type: 'image_url', image_url: { url } };
}

function documentText(block: Extract<ContentBlock, { type: 'document' }>): string {
  const source = block.source;
  if (source.type === 'text') return source.data;
  if (source.type === 'content') {
    return typeof source.content === 'string'
      ? source.content
      : source.content.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text).join('\n');
  }
  throw invalid('PDF and URL documents are not supported by this model; send the document as text');
}

function joinParts(parts: OpenAIPart[]): string | OpenAIPart[] {
  return parts.every((p) => p.type === 'text') ? parts.map((p) => (p as { text: string }).text).join('\n') : parts;
}

function userMessages(content: string | ContentBlock[]): OpenAIMessage[] {
  if (typeof content === 'string') return [{ role: 'user', content }];
  const toolMessages: OpenAIMessage[] = [];
  const parts: OpenAIPart[] = [];
  for (const block of content) {
    switch (block.type) {
      case 'text':
        parts.push({ type: 'text', text: block.text });
        break;
      case 'image':
        parts.push(imagePart(block));
        break;
      case 'document':
        parts.push({ type: 'text', text: documentText(block) });
        break;
      case 'tool_result': {
        // Tool messages must follow the assistant's tool_calls directly; images they carry follow as a user message.
        const texts: string[] = [];
        if (typeof block.content === 'string') {
          texts.push(block.content);
        } else {
          for (const part of block.content ?? []) {
            if (part.type === 'text') texts.push(part.text);
            else if (part.type === 'image') parts.push(imagePart(part));
            else if (part.type === 'document') texts.push(documentText(part));
            else throw claudeOnlyBlock(part.type);
          }
        }
        toolMessages.push({ role: 'tool', tool_call_id: block.tool_use_id, content: texts.join('\n') });
        break;
      }
      case 'server_tool_use':
      case 'tool_search_tool_result':
        throw claudeOnlyBlock(block.type);
      default:
        // thinking / redacted_thinking / tool_use in a user turn carry nothing this protocol can express.
        break;
    }
  }
  return parts.length > 0 ? [...toolMessages, { role: 'user', content: joinParts(parts) }] : toolMessages;
}

function assistantMessage(content: string | ContentBlock[]): OpenAIMessage {
  if (typeof content === 'string') return { role: 'assistant', content };
  const texts: string[] = [];
  const calls: OpenAIToolCall[] = [];
  for (const block of content) {
    if (block.type === 'text') {texts.push(block.text);} else if (block.type === 'tool_use') {
      calls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    } else if (block.type === 'server_tool_use' || block.type === 'tool_search_tool_result') {
      throw claudeOnlyBlock(block.type);
    }
    // Thinking blocks are the model's own scratch work; Chat Completions has no field to send them back in.
  }
  const message: OpenAIMessage = { role: 'assistant', content: texts.length > 0 ? texts.join('') : null };
  if (calls.length > 0) message.tool_calls = calls;
  return message;
}

export function toOpenAIRequest(request: CanonicalRequest, model: ResolvedModel, stream: boolean): OpenAIRequest {
  const unknown = firstUnknownPart(request.messages);
  if (unknown) throw untranslatable(unknown, 'an OpenAI-compatible server');
  const messages: OpenAIMessage[] = [];
  if (request.system !== undefined) {
    if (typeof request.system !== 'string') {
      const other = request.system.find((b) => b.type !== 'text');
      if (other) throw untranslatable({ path: 'system', what: `${(other as { type: string }).type} blocks` }, 'an OpenAI-compatible server');
    }
    const text = typeof request.system === 'string' ? request.system : request.system.map((b) => b.text).join('\n');
    if (text.length > 0) messages.push({ role: 'system', content: text });
  }
  for (const m of request.messages as CanonicalMessage[]) {
    if (m.role === 'user') messages.push(...userMessages(m.content));
    // Chat Completions takes system messages anywhere in the conversation: a system-role turn stays where it is.
    else if (m.role === 'system') messages.push({ role: 'system', content: systemTurnText(m) });
    else messages.push(assistantMessage(m.content));
  }
  const out: OpenAIRequest = { model: model.target, messages, max_tokens: request.max_tokens, stream };
  if (stream) out.stream_options = { include_usage: true };
  if (request.temperature !== undefined) out.temperature = request.temperature;
  if (request.top_p !== undefined) out.top_p = request.top_p;
  if (request.stop_sequences && request.stop_sequences.length > 0) out.stop = request.stop_sequences;
  if (request.metadata?.user_id) out.user = request.metadata.user_id;
  // Claude's structured outputs field (from either front end) is the server's response_format.
  const format = (request.extra?.output_config as { format?: { type?: unknown; schema?: unknown } } | undefined)?.format;
  if (format?.type === 'json_schema' && typeof format.schema === 'object' && format.schema !== null) {
    out.response_format = { type: 'json_schema', json_schema: { name: 'response', schema: format.schema as Record<string, unknown>, strict: true } };
  }
  if (request.tools && request.tools.length > 0) {
    out.tools = request.tools.map((tool) => {
      if (tool.type && tool.type !== 'custom') {
        throw invalid(`the ${tool.type} tool is an Anthropic tool and is not available for this model`);
      }
      return {
        type: 'function' as const,
        function: {
          name: tool.name,
          ...(tool.description ? { description: tool.description } : {}),
          parameters: tool.input_schema ?? { type: 'object', properties: {} },
        },
      };
    });
    const choice = request.tool_choice;
    if (choice?.type === 'auto') out.tool_choice = 'auto';
    else if (choice?.type === 'any') out.tool_choice = 'required';
    else if (choice?.type === 'none') out.tool_choice = 'none';
    else if (choice?.type === 'tool') out.tool_choice = { type: 'function', function: { name: choice.name } };
    if (choice && 'disable_parallel_tool_use' in choice && choice.disable_parallel_tool_use) out.parallel_tool_calls = false;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// Response: chunks -> canonical
// ---------------------------------------------------------------------------------------------------------------------

interface ChunkDelta {
  content?: string | null;
  reasoning_content?: string | null;
  reasoning?: string | null;
  tool_calls?: Array<{ index?: number; id?: string; function?: { name?: string; arguments?: string } }>;
}

interface Chunk {
  id?: string;
  choices?: Array<{ index?: number; delta?: ChunkDelta; finish_reason?: string | null }>;
  usage?: OpenAIUsage | null;
  error?: { message?: string; type?: string; code?: number | string };
}

interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}

export function mapFinishReason(reason: string | null | undefined): StopReason {
  switch (reason) {
    case 'length': return 'max_tokens';
    case 'tool_calls':
    case 'function_call': return 'tool_use';
    case 'content_filter': return 'refusal';
    default: return 'end_turn';
  }
}

export function mapOpenAIUsage(usage: OpenAIUsage | null | undefined): Usage {
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  const out: Usage = { input_tokens: Math.max(0, (usage?.prompt_tokens ?? 0) - cached), output_tokens: usage?.completion_tokens ?? 0 };
  if (cached > 0) out.cache_read_input_tokens = cached;
  return out;
}

function chunkError(what: string, error: NonNullable<Chunk['error']>): UpstreamError {
  const code = typeof error.code === 'number' ? error.code : Number(error.code);
  const kind = Number.isFinite(code) && code >= 400 ? kindForStatus(code) : 'internal';
  return new UpstreamError(kind, `${what}: ${error.message ?? error.type ?? 'error'}`);
}

type OpenKind = 'text' | 'thinking' | 'tool_use';

export class OpenAIChunkTranslator {
  private started = false;
  private finished = false;
  private nextIndex = 0;
  private open: { index: number; kind: OpenKind; tool?: number } | undefined;
  private finishReason: string | null | undefined;
  private usage: Usage | undefined;

  constructor(private readonly clientModel: string, private readonly messageId: string, private readonly what: string) {}

  /** One parsed chunk -> the canonical events it produces. */
  push(chunk: Chunk): CanonicalEvent[] {
    if (chunk.error) throw chunkError(this.what, chunk.error);
    const out: CanonicalEvent[] = [];
    this.start(out);
    if (chunk.usage) this.usage = mapOpenAIUsage(chunk.usage);
    const choice = chunk.choices?.[0];
    if (!choice) return out;
    const delta = choice.delta ?? {};
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (reasoning) {
      this.ensure(out, 'thinking', undefined, { type: 'thinking', thinking: '', signature: '' });
      out.push({ type: 'content_block_delta', index: this.open!.index, delta: { type: 'thinking_delta', thinking: reasoning } });
    }
    if (delta.content) {
      this.ensure(out, 'text', undefined, { type: 'text', text: '' });
      out.push({ type: 'content_block_delta', index: this.open!.index, delta: { type: 'text_delta', text: delta.content } });
    }
    for (const call of delta.tool_calls ?? []) {
      const toolIndex = call.index ?? 0;
      if (!(this.open?.kind === 'tool_use' && this.open.tool === toolIndex)) {
        this.ensure(out, 'tool_use', toolIndex, {
          type: 'tool_use', id: call.id ?? `toolu_${this.messageId}_${toolIndex}`, name: call.function?.name ?? '', input: {},
        });
      }
      const args = call.function?.arguments;
      if (args) out.push({ type: 'content_block_delta', index: this.open!.index, delta: { type: 'input_json_delta', partial_json: args } });
    }
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
    return out;
  }

  /** `data: [DONE]` or end of stream. Throws when the stream ended before any finish_reason (truncated). */
  end(): CanonicalEvent[] {
    if (this.finished) return [];
    if (this.finishReason === undefined) throw new UpstreamError('internal', `${this.what} ended the stream before finishing`);
    const out: CanonicalEvent[] = [];
    this.start(out);
    this.close(out);
    out.push({
      type: 'message_delta',
      delta: { stop_reason: mapFinishReason(this.finishReason), stop_sequence: null },
      usage: { ...(this.usage ?? { input_tokens: 0, output_tokens: 0 }) },
    });
    out.push({ type: 'message_stop' });
    this.finished = true;
    return out;
  }

  private start(out: CanonicalEvent[]): void {
    if (this.started) return;
    this.started = true;
    out.push({
      type: 'message_start',
      message: {
        id: this.messageId,
        type: 'message',
        role: 'assistant',
        model: this.clientModel,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  private ensure(out: CanonicalEvent[], kind: OpenKind, tool: number | undefined, start: Extract<CanonicalEvent, { type: 'content_block_start' }>['content_block']): void {
    if (this.open && this.open.kind === kind && this.open.tool === tool) return;
    this.close(out);
    const index = this.nextIndex++;
    this.open = { index, kind, tool };
    out.push({ type: 'content_block_start', index, content_block: start });
  }

  private close(out: CanonicalEvent[]): void {
    if (!this.open) return;
    out.push({ type: 'content_block_stop', index: this.open.index });
    this.open = undefined;
  }
}

interface ResponseMessage {
  content?: string | null;
  reasoning_content?: string | null;
  reasoning?: string | null;
  tool_calls?: OpenAIToolCall[];
}

/** A non-streamed Chat Completions response -> canonical message. */
export function fromOpenAIResponse(raw: unknown, clientModel: string, messageId: string, what: string): MessageResponse {
  const body = raw as {
    choices?: Array<{ message?: ResponseMessage; finish_reason?: string | null }>;
    usage?: OpenAIUsage;
    error?: Chunk['error'];
  };
  if (body?.error) throw chunkError(what, body.error);
  const choice = body?.choices?.[0];
  if (!choice?.message) throw new UpstreamError('internal', `${what} sent a response without choices`);
  const content: ContentBlock[] = [];
  const reasoning = choice.message.reasoning_content ?? choice.message.reasoning;
  if (reasoning) content.push({ type: 'thinking', thinking: reasoning, signature: '' });
  if (choice.message.content) content.push({ type: 'text', text: choice.message.content });
  for (const call of choice.message.tool_calls ?? []) {
    let input: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(call.function.arguments || '{}');
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) input = parsed as Record<string, unknown>;
    } catch {
      throw new UpstreamError('internal', `${what} returned tool arguments that are not JSON`);
    }
    content.push({ type: 'tool_use', id: call.id, name: call.function.name, input });
  }
  return {
    id: messageId,
    type: 'message',
    role: 'assistant',
    model: clientModel,
    content,
    stop_reason: mapFinishReason(choice.finish_reason),
    stop_sequence: null,
    usage: mapOpenAIUsage(body.usage),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Bearer keys from Secrets Manager
// ---------------------------------------------------------------------------------------------------------------------

/** Where secret values come from (the handler may share its own cached loader). `get` returns the secret string as
 * stored; the upstream takes the key out of it with bearerFromSecret. */
export interface SecretSource {
  get(arn: string): Promise<string>;
}

/**
 * Secrets Manager with a cache (default 5 minutes). The SDK client is loaded on first use, so functions that never call
 * an OpenAI-compatible server do not pay for it at cold start.
 */
export class SecretsManagerSource implements SecretSource {
  private readonly cache = new Map<string, { value: Promise<string>; expires: number }>();
  private sdk: { client: SecretsManagerClientType; GetSecretValueCommand: typeof GetSecretValueCommandType } | undefined;

  constructor(private readonly ttlMs = 300_000, private readonly region?: string) {}

  get(arn: string): Promise<string> {
    const now = Date.now();
    const hit = this.cache.get(arn);
    if (hit && hit.expires > now) return hit.value;
    const value = this.load(arn);
    this.cache.set(arn, { value, expires: now + this.ttlMs });
    value.catch(() => this.cache.delete(arn));
    return value;
  }

  private async load(arn: string): Promise<string> {
    if (!this.sdk) {
      // Loaded on first use (a lazy require; esbuild keeps it lazy in the bundle).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const sdk = require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
      const client = new sdk.SecretsManagerClient(this.region ? { region: this.region } : {});
      this.sdk = { client, GetSecretValueCommand: sdk.GetSecretValueCommand };
    }
    const out = await this.sdk.client.send(new this.sdk.GetSecretValueCommand({ SecretId: arn }));
    if (!out.SecretString) throw new UpstreamError('internal', 'the API key secret of an OpenAI-compatible model has no string value');
    return out.SecretString;
  }
}

/** The key in a secret: the whole string, or the `apiKey` / `api_key` / `key` / `token` field of a JSON object. */
export function bearerFromSecret(secret: string): string {
  const trimmed = secret.trim();
  if (trimmed.startsWith('{')) {
    try {
      const obj = JSON.parse(trimmed) as Record<string, unknown>;
      for (const field of ['apiKey', 'api_key', 'key', 'token']) {
        if (typeof obj[field] === 'string' && (obj[field] as string).length > 0) return obj[field] as string;
      }
    } catch {
      // not JSON: the whole string is the key
    }
  }
  return trimmed;
}

// ---------------------------------------------------------------------------------------------------------------------
// The upstream
// ---------------------------------------------------------------------------------------------------------------------

/** Error bodies are small; never buffer more than this from a failed response. */
const MAX_ERROR_BODY = 64 * 1024;

export class OpenAICompatibleUpstream implements Upstream {
  public readonly kind = 'openai-compatible' as const;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxFreeSockets: 64 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxFreeSockets: 64 });

  constructor(private readonly timeouts: UpstreamTimeouts, private readonly secrets: SecretSource) {}

  async *stream(call: UpstreamCall): AsyncIterable<CanonicalEvent> {
    const url = this.url(call.model);
    const what = describe(url);
    const body = JSON.stringify(toOpenAIRequest(call.request, call.model, true));
    const control = new CallControl(call.signal, this.timeouts, 'stream');
    const translator = new OpenAIChunkTranslator(call.request.model, `msg_${call.requestId.replace(/[^A-Za-z0-9]/g, '')}`, what);
    yield* runStream(control, what, {
      open: async () => readSse(await this.post(url, body, call.model, control.signal, 'text/event-stream'), () => control.activity()),
      translate: (message) => {
        if (message.data === '[DONE]') return END_OF_STREAM;
        let chunk: Chunk;
        try {
          chunk = JSON.parse(message.data) as Chunk;
        } catch {
          throw new UpstreamError('internal', `${what} sent a chunk that is not JSON`);
        }
        return translator.push(chunk);
      },
      end: () => translator.end(),
    });
  }

  async complete(call: UpstreamCall): Promise<MessageResponse> {
    const url = this.url(call.model);
    const what = describe(url);
    const body = JSON.stringify(toOpenAIRequest(call.request, call.model, false));
    const control = new CallControl(call.signal, this.timeouts, 'complete');
    try {
      const response = await this.post(url, body, call.model, control.signal, 'application/json');
      const text = await readText(response, Number.POSITIVE_INFINITY);
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        throw new UpstreamError('internal', `${what} sent a response that is not JSON`);
      }
      return fromOpenAIResponse(raw, call.request.model, `msg_${call.requestId.replace(/[^A-Za-z0-9]/g, '')}`, what);
    } catch (err) {
      throw toUpstreamError(err, what, control.signal);
    } finally {
      control.finish();
    }
  }

  private url(model: ResolvedModel): URL {
    if (!model.baseUrl) throw new UpstreamError('internal', `model ${model.id} has no baseUrl for its OpenAI-compatible server`);
    const url = new URL(model.baseUrl);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/chat/completions`;
    return url;
  }

  private async post(url: URL, body: string, model: ResolvedModel, signal: AbortSignal, accept: string): Promise<http.IncomingMessage> {
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/json',
      'accept': accept,
      'content-length': Buffer.byteLength(body),
    };
    if (model.apiKeySecretArn) {
      let key: string;
      try {
        key = bearerFromSecret(await this.secrets.get(model.apiKeySecretArn));
      } catch (err) {
        const e = toUpstreamError(err, 'Secrets Manager');
        throw new UpstreamError('internal', `cannot read the API key for model ${model.id}: ${e.message}`);
      }
      headers.authorization = `Bearer ${key}`;
    }
    let response: http.IncomingMessage;
    try {
      response = await this.request(url, headers, body, signal);
    } catch (err) {
      // A reused keep-alive connection the server had closed: nothing was answered, send it once more.
      if (!isConnectionDrop(err) || signal.aborted) throw err;
      response = await this.request(url, headers, body, signal);
    }
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const text = await readText(response, MAX_ERROR_BODY).catch(() => '');
      throw errorFromHttpResponse(describe(url), status, response.headers as Record<string, string | undefined>, text);
    }
    return response;
  }

  /** One HTTP request; resolves with the response (any status). Connecting is bounded by timeouts.connectMs. */
  private request(url: URL, headers: http.OutgoingHttpHeaders, body: string, signal: AbortSignal): Promise<http.IncomingMessage> {
    const secure = url.protocol === 'https:';
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = (secure ? https : http).request(url, {
        method: 'POST', headers, agent: secure ? this.httpsAgent : this.httpAgent, signal,
      }, resolve);
      req.on('error', reject);
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => {
          const err = Object.assign(new Error(`could not connect within ${this.timeouts.connectMs} ms`), { code: 'ETIMEDOUT' });
          req.destroy(err);
        }, this.timeouts.connectMs);
        socket.once('connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
      req.end(body);
    });
  }
}

function describe(url: URL): string {
  return `the OpenAI-compatible server at ${url.host}`;
}
