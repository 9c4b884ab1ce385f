/**
 * A fake OpenAI Chat Completions server (what vLLM, Ollama, TGI or LiteLLM expose) on loopback, for the
 * `openai-compatible` upstream: `POST /v1/chat/completions`, SSE `chat.completion.chunk`s ending in `data: [DONE]`
 * (with a usage chunk when `stream_options.include_usage` is set), or a JSON `chat.completion`.
 *
 * It records requests, checks an optional bearer key, and injects faults: HTTP errors, an error chunk mid-stream,
 * hangs, a connection reset, and a stream that ends without finish_reason or [DONE].
 */
import * as http from 'http';
import type { AddressInfo, Socket } from 'net';

export type OpenAIFakeBlock =
  | { type: 'reasoning'; text: string }
  | { type: 'text'; text: string }
  | { type: 'tool_call'; id: string; name: string; arguments: string };

export interface OpenAIFakeResponse {
  blocks: OpenAIFakeBlock[];
  finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  usage?: { prompt_tokens: number; completion_tokens: number; cached_tokens?: number };
  /** Characters per content delta. Default 8. */
  chunkChars?: number;
  /** Field name servers use for reasoning text: vLLM `reasoning_content`, Ollama `reasoning`. */
  reasoningField?: 'reasoning_content' | 'reasoning';
}

export type OpenAIFault =
  | { kind: 'http-error'; status: number; type?: string; message?: string }
  | { kind: 'error-chunk'; afterChunks: number; code?: number; message?: string }
  | { kind: 'hang'; afterChunks?: number }
  | { kind: 'reset'; afterChunks: number }
  | { kind: 'truncate'; afterChunks: number }
  /** Close the connection on receiving the request (a stale keep-alive connection). */
  | { kind: 'drop' };

export interface OpenAIRecorded {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class FakeOpenAIServer {
  public readonly requests: OpenAIRecorded[] = [];
  private readonly faults: OpenAIFault[] = [];
  private response: OpenAIFakeResponse | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  private url_ = '';

  /** `apiKey`: when set, requests without `Authorization: Bearer <apiKey>` get 401. */
  constructor(private readonly apiKey?: string) {
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** The base URL a catalogue entry uses, e.g. `http://127.0.0.1:PORT/v1`. */
  get baseUrl(): string {
    return `${this.url_}/v1`;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url_ = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  respondWith(response: OpenAIFakeResponse | undefined): void {
    this.response = response;
  }

  enqueueFault(fault: OpenAIFault): void {
    this.faults.push(fault);
  }

  reset(): void {
    this.requests.length = 0;
    this.faults.length = 0;
    this.response = undefined;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return this.error(res, 400, 'invalid_request_error', 'body is not JSON');
    }
    this.requests.push({ path: req.url ?? '', headers: req.headers, body });
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return this.error(res, 404, 'not_found', `no route ${req.url}`);
    if (this.apiKey && req.headers.authorization !== `Bearer ${this.apiKey}`) return this.error(res, 401, 'authentication_error', 'invalid API key');
    if (typeof body.model !== 'string') return this.error(res, 400, 'invalid_request_error', 'model is required');

    const fault = this.faults.shift();
    if (fault?.kind === 'http-error') return this.error(res, fault.status, fault.type ?? 'error', fault.message ?? `HTTP ${fault.status}`);
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'hang' && fault.afterChunks === undefined) return;

    const response = this.response ?? {
      blocks: [{ type: 'text', text: `Hello from ${body.model}` }],
      finishReason: 'stop',
      usage: { prompt_tokens: 12, completion_tokens: 5 },
    };
    const id = 'chatcmpl-fake123';
    const usage = response.usage ?? { prompt_tokens: 10, completion_tokens: 10 };
    const usageJson = {
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      total_tokens: usage.prompt_tokens + usage.completion_tokens,
      ...(usage.cached_tokens !== undefined ? { prompt_tokens_details: { cached_tokens: usage.cached_tokens } } : {}),
    };
    const reasoningField = response.reasoningField ?? 'reasoning_content';

    if (body.stream !== true) {
      const toolCalls = response.blocks.filter((b) => b.type === 'tool_call');
      const message: Record<string, unknown> = {
        role: 'assistant',
        content: response.blocks.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text).join('') || null,
      };
      const reasoning = response.blocks.filter((b) => b.type === 'reasoning').map((b) => (b as { text: string }).text).join('');
      if (reasoning) message[reasoningField] = reasoning;
      if (toolCalls.length > 0) {
        message.tool_calls = toolCalls.map((b) => {
          const t = b as Extract<OpenAIFakeBlock, { type: 'tool_call' }>;
          return { id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } };
        });
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        id,
        object: 'chat.completion',
        created: 1,
        model: body.model,
        choices: [{ index: 0, message, finish_reason: response.finishReason ?? 'stop' }],
        usage: usageJson,
      }));
      return;
    }

    const size = response.chunkChars ?? 8;
    const frames: unknown[] = [];
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
      id, object: 'chat.completion.chunk', created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }],
    });
    frames.push(chunk({ role: 'assistant', content: '' }));
    let toolIndex = 0;
    for (const block of response.blocks) {
      if (block.type === 'tool_call') {
        const index = toolIndex++;
        frames.push(chunk({ tool_calls: [{ index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }] }));
        for (let i = 0; i < block.arguments.length; i += size) {
          frames.push(chunk({ tool_calls: [{ index, function: { arguments: block.arguments.slice(i, i + size) } }] }));
        }
      } else {
        const field = block.type === 'text' ? 'content' : reasoningField;
        for (let i = 0; i < block.text.length; i += size) frames.push(chunk({ [field]: block.text.slice(i, i + size) }));
      }
    }
    frames.push(chunk({}, response.finishReason ?? 'stop'));
    const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
    if (streamOptions?.include_usage) frames.push({ id, object: 'chat.completion.chunk', created: 1, model: body.model, choices: [], usage: usageJson });

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (let i = 0; i < frames.length; i++) {
      if (fault && i === (fault.afterChunks ?? 0)) {
        switch (fault.kind) {
          case 'error-chunk':
            res.end(`data: ${JSON.stringify({ error: { message: fault.message ?? 'engine failure', type: 'InternalServerError', code: fault.code ?? 500 } })}\n\n`);
            return;
          case 'hang':
            return;
          case 'reset':
            await sleep(30);
            res.socket?.destroy();
            return;
          case 'truncate':
            res.end();
            return;
        }
      }
      res.write(`data: ${JSON.stringify(frames[i])}\n\n`);
    }
    res.end('data: [DONE]\n\n');
  }

  private error(res: http.ServerResponse, status: number, type: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message, type, code: status } }));
  }
}
