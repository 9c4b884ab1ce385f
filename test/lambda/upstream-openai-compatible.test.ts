/**
 * The openai-compatible upstream against a fake Chat Completions server on loopback, and its bearer key read from a fake
 * Secrets Manager through the real @aws-sdk/client-secrets-manager.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { UpstreamError, type CanonicalEvent, type CanonicalRequest } from '../../lambda/shared/canonical';
import { Catalogue, parseModelsEnv } from '../../lambda/streaming-proxy/catalogue';
import { createUpstreams } from '../../lambda/streaming-proxy/upstream';
import { bearerFromSecret, SecretsManagerSource, toOpenAIRequest, type SecretSource } from '../../lambda/streaming-proxy/upstream/openai-compatible';
import type { ResolvedModel, UpstreamCall } from '../../lambda/streaming-proxy/upstream/types';
import { accumulate, assertValidSequence } from '../support/canonical-stream';
import { FakeOpenAIServer } from '../support/fake-openai-server';

const KEY_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:vllm-key-AbCdEf';
let server: FakeOpenAIServer;
let catalogue: Catalogue;

class StaticSecrets implements SecretSource {
  public reads = 0;
  constructor(private readonly values: Record<string, string>) {}
  async get(arn: string): Promise<string> {
    this.reads++;
    const v = this.values[arn];
    if (v === undefined) throw new Error(`no secret ${arn}`);
    return v;
  }
}

beforeAll(async () => {
  server = new FakeOpenAIServer('sk-vllm-123');
  await server.start();
  catalogue = new Catalogue({
    models: parseModelsEnv(JSON.stringify({
      models: [
        { id: 'qwen-coder', upstream: 'openai-compatible', target: 'Qwen/Qwen2.5-Coder-32B-Instruct', baseUrl: server.baseUrl, apiKeySecretArn: KEY_ARN },
        { id: 'open-llama', upstream: 'openai-compatible', target: 'llama3.1', baseUrl: server.baseUrl },
      ],
    })),
  });
});
afterAll(() => server.stop());
beforeEach(() => server.reset());

function model(name: string): ResolvedModel {
  return catalogue.resolve(name)!;
}

function call(m: ResolvedModel, overrides: Partial<CanonicalRequest> = {}, signal = new AbortController().signal): UpstreamCall {
  return {
    request: { model: m.requested, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], stream: true, ...overrides },
    model: m,
    signal,
    requestId: 'req-42',
  };
}

const secrets = () => new StaticSecrets({ [KEY_ARN]: JSON.stringify({ apiKey: 'sk-vllm-123' }) });
const factory = (s: SecretSource = secrets(), timeouts = {}) =>
  createUpstreams({ secrets: s, timeouts: { firstByteMs: 2_000, idleMs: 2_000, ...timeouts } });

async function collect(iterable: AsyncIterable<CanonicalEvent>): Promise<CanonicalEvent[]> {
  const out: CanonicalEvent[] = [];
  for await (const e of iterable) out.push(e);
  return out;
}

async function failure(iterable: AsyncIterable<CanonicalEvent>): Promise<{ events: CanonicalEvent[]; error: UpstreamError }> {
  const events: CanonicalEvent[] = [];
  try {
    for await (const e of iterable) events.push(e);
  } catch (err) {
    expect(err).toBeInstanceOf(UpstreamError);
    return { events, error: err as UpstreamError };
  }
  throw new Error('expected a failure');
}

describe('streaming', () => {
  test('translates chunks with reasoning, text and two tool calls into a valid canonical sequence', async () => {
    server.respondWith({
      blocks: [
        { type: 'reasoning', text: 'The user wants two lookups.' },
        { type: 'text', text: 'Looking both up.' },
        { type: 'tool_call', id: 'call_a', name: 'lookup', arguments: '{"q":"cats"}' },
        { type: 'tool_call', id: 'call_b', name: 'lookup', arguments: '{"q":"dogs","limit":3}' },
      ],
      finishReason: 'tool_calls',
      usage: { prompt_tokens: 120, completion_tokens: 40, cached_tokens: 100 },
      chunkChars: 5,
    });
    const m = model('qwen-coder');
    const events = await collect(factory()(m).stream(call(m)));
    assertValidSequence(events);
    expect(accumulate(events)).toEqual({
      id: 'msg_req42',
      model: 'qwen-coder',
      content: [
        { type: 'thinking', thinking: 'The user wants two lookups.', signature: '' },
        { type: 'text', text: 'Looking both up.' },
        { type: 'tool_use', id: 'call_a', name: 'lookup', input: { q: 'cats' } },
        { type: 'tool_use', id: 'call_b', name: 'lookup', input: { q: 'dogs', limit: 3 } },
      ],
      stopReason: 'tool_use',
      usage: { input_tokens: 20, output_tokens: 40, cache_read_input_tokens: 100 },
    });
    expect(server.requests[0].headers.authorization).toBe('Bearer sk-vllm-123');
    expect(server.requests[0].body).toMatchObject({ model: 'Qwen/Qwen2.5-Coder-32B-Instruct', stream: true, stream_options: { include_usage: true }, max_tokens: 100 });
  });

  test("accepts Ollama's `reasoning` field and sends no Authorization header without a key", async () => {
    server.respondWith({ blocks: [{ type: 'reasoning', text: 'hmm' }, { type: 'text', text: 'ok' }], reasoningField: 'reasoning', finishReason: 'length' });
    const noKey = new FakeOpenAIServer();
    await noKey.start();
    try {
      noKey.respondWith({ blocks: [{ type: 'reasoning', text: 'hmm' }, { type: 'text', text: 'ok' }], reasoningField: 'reasoning', finishReason: 'length' });
      const m: ResolvedModel = { ...model('open-llama'), baseUrl: noKey.baseUrl };
      const events = await collect(factory()(m).stream(call(m)));
      assertValidSequence(events);
      expect(accumulate(events)).toMatchObject({ content: [{ type: 'thinking', thinking: 'hmm' }, { type: 'text', text: 'ok' }], stopReason: 'max_tokens' });
      expect(noKey.requests[0].headers.authorization).toBeUndefined();
    } finally {
      await noKey.stop();
    }
  });

  test('complete() sends stream:false and maps the JSON response', async () => {
    server.respondWith({
      blocks: [{ type: 'text', text: 'Done.' }, { type: 'tool_call', id: 'call_1', name: 'save', arguments: '{"ok":true}' }],
      finishReason: 'tool_calls',
      usage: { prompt_tokens: 7, completion_tokens: 3 },
    });
    const m = model('qwen-coder');
    const message = await factory()(m).complete(call(m, { stream: false }));
    expect(server.requests[0].body).toMatchObject({ stream: false });
    expect(server.requests[0].body.stream_options).toBeUndefined();
    expect(message).toEqual({
      id: 'msg_req42',
      type: 'message',
      role: 'assistant',
      model: 'qwen-coder',
      content: [{ type: 'text', text: 'Done.' }, { type: 'tool_use', id: 'call_1', name: 'save', input: { ok: true } }],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 7, output_tokens: 3 },
    });
  });

  test('reads the key once and reuses it (cached by the secret source)', async () => {
    const s = new SecretsManagerSource(60_000);
    const calls: string[] = [];
    (s as unknown as { load: (arn: string) => Promise<string> }).load = async (arn) => {
      calls.push(arn);
      return 'sk-vllm-123';
    };
    const m = model('qwen-coder');
    const f = factory(s);
    await collect(f(m).stream(call(m)));
    await collect(f(m).stream(call(m)));
    expect(calls).toEqual([KEY_ARN]);
  });
});

describe('request translation', () => {
  test('maps system, tool results, images, tool calls and tool choice to Chat Completions', () => {
    const m = model('open-llama');
    const png = 'iVBORw0KGgo=';
    const out = toOpenAIRequest({
      model: 'open-llama',
      max_tokens: 50,
      system: [{ type: 'text', text: 'Be brief.' }, { type: 'text', text: 'Use tools.' }],
      temperature: 0.3,
      top_p: 0.8,
      stop_sequences: ['END'],
      metadata: { user_id: 'user-7' },
      tools: [{ name: 'lookup', description: 'Look up', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Find cats' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }] },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'private', signature: 'sig' },
            { type: 'text', text: 'Calling.' },
            { type: 'tool_use', id: 'tu1', name: 'lookup', input: { q: 'cats' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu1', content: [{ type: 'text', text: 'many cats' }] }, { type: 'text', text: 'Thanks' }] },
      ],
    }, m, true);
    expect(out).toEqual({
      model: 'llama3.1',
      max_tokens: 50,
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.3,
      top_p: 0.8,
      stop: ['END'],
      user: 'user-7',
      tools: [{ type: 'function', function: { name: 'lookup', description: 'Look up', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }],
      tool_choice: 'required',
      parallel_tool_calls: false,
      messages: [
        { role: 'system', content: 'Be brief.\nUse tools.' },
        { role: 'user', content: [{ type: 'text', text: 'Find cats' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] },
        { role: 'assistant', content: 'Calling.', tool_calls: [{ id: 'tu1', type: 'function', function: { name: 'lookup', arguments: '{"q":"cats"}' } }] },
        { role: 'tool', tool_call_id: 'tu1', content: 'many cats' },
        { role: 'user', content: 'Thanks' },
      ],
    });
  });

  test('sends Claude\'s output_config.format as the server\'s response_format', () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } } };
    const out = toOpenAIRequest({ model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], extra: { output_config: { format: { type: 'json_schema', schema } } } }, model('open-llama'), false);
    expect(out.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'response', schema, strict: true } });
    expect(toOpenAIRequest({ model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }, model('open-llama'), false).response_format).toBeUndefined();
  });

  test('rejects the blocks of Claude\'s tool search as validation errors', () => {
    const m = model('open-llama');
    const search = { type: 'server_tool_use' as const, id: 'srvtoolu_1', name: 'tool_search_tool_regex', input: { pattern: 'weather' } };
    const found = { type: 'tool_search_tool_result' as const, tool_use_id: 'srvtoolu_1', content: { type: 'tool_search_tool_search_result', tool_references: [] } };
    for (const content of [[search], [found]]) {
      expect(() => toOpenAIRequest({ model: 'x', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content }] }, m, true))
        .toThrow(expect.objectContaining({ kind: 'validation', message: expect.stringContaining('only Claude models') }));
    }
    const reference = { type: 'tool_result' as const, tool_use_id: 'toolu_1', content: [{ type: 'tool_reference' as const, tool_name: 'get_weather' }] };
    expect(() => toOpenAIRequest({ model: 'x', max_tokens: 1, messages: [{ role: 'user', content: [reference] }] }, m, true))
      .toThrow(expect.objectContaining({ kind: 'validation', message: expect.stringContaining('tool_reference') }));
  });

  test('keeps a system-role turn where it is, as a system message', () => {
    const out = toOpenAIRequest({
      model: 'x',
      max_tokens: 5,
      system: 'sys',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'system', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'again' },
      ],
    }, model('open-llama'), false);
    expect(out.messages).toEqual([
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'hi' },
      { role: 'system', content: 'Answer in French.' },
      { role: 'user', content: 'again' },
    ]);
  });

  test('answers a block type it does not know with a validation error naming it, instead of dropping it', () => {
    const audio = { type: 'audio', source: { type: 'base64', media_type: 'audio/wav', data: 'UklGRg==' } } as never;
    expect(() => toOpenAIRequest({ model: 'x', max_tokens: 1, messages: [{ role: 'user', content: [audio] }] }, model('open-llama'), true))
      .toThrow(expect.objectContaining({ kind: 'validation', message: expect.stringMatching(/^messages\.0\.content\.0: audio blocks cannot be translated for an OpenAI-compatible server/) }));
  });

  test('rejects Anthropic server tools and PDF documents as validation errors', () => {
    const m = model('open-llama');
    expect(() => toOpenAIRequest({ model: 'x', max_tokens: 1, messages: [], tools: [{ name: 'bash', type: 'bash_20250124' }] }, m, true))
      .toThrow(expect.objectContaining({ kind: 'validation' }));
    expect(() => toOpenAIRequest({
      model: 'x',
      max_tokens: 1,
      messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } }] }],
    }, m, true)).toThrow(expect.objectContaining({ kind: 'validation' }));
  });
});

describe('errors', () => {
  test.each([
    [429, 'throttling'], [503, 'overloaded'], [500, 'internal'], [400, 'validation'], [422, 'validation'],
    [401, 'access_denied'], [404, 'not_found'], [504, 'timeout'],
  ])('HTTP %i before the first byte is %s', async (status, kind) => {
    server.enqueueFault({ kind: 'http-error', status, message: `failure ${status}` });
    const m = model('qwen-coder');
    const { events, error } = await failure(factory()(m).stream(call(m)));
    expect([events.length, error.kind, error.upstreamStatus]).toEqual([0, kind, status]);
    expect(error.message).toContain(`failure ${status}`);
  });

  test('a wrong key is access_denied', async () => {
    const m = model('qwen-coder');
    const { error } = await failure(factory(new StaticSecrets({ [KEY_ARN]: 'sk-wrong' }))(m).stream(call(m)));
    expect(error.kind).toBe('access_denied');
  });

  test('an unreadable key secret is an internal error naming the model, without calling the server', async () => {
    const m = model('qwen-coder');
    const { error } = await failure(factory(new StaticSecrets({}))(m).stream(call(m)));
    expect(error.kind).toBe('internal');
    expect(error.message).toContain('qwen-coder');
    expect(server.requests).toHaveLength(0);
  });

  test('an error chunk mid-stream fails after the events already sent', async () => {
    server.enqueueFault({ kind: 'error-chunk', afterChunks: 2, code: 503, message: 'engine overloaded' });
    server.respondWith({ blocks: [{ type: 'text', text: 'a fairly long answer' }], chunkChars: 2 });
    const m = model('qwen-coder');
    const { events, error } = await failure(factory()(m).stream(call(m)));
    expect(events.length).toBeGreaterThan(0);
    expect([error.kind, error.message]).toEqual(['overloaded', expect.stringContaining('engine overloaded')]);
  });

  test('a stream that ends without finish_reason is an internal error, not a silent truncation', async () => {
    server.enqueueFault({ kind: 'truncate', afterChunks: 2 });
    const m = model('qwen-coder');
    const { error } = await failure(factory()(m).stream(call(m)));
    expect(error.kind).toBe('internal');
  });

  test('a reset connection mid-stream is an internal error', async () => {
    server.enqueueFault({ kind: 'reset', afterChunks: 2 });
    server.respondWith({ blocks: [{ type: 'text', text: 'a fairly long answer' }], chunkChars: 2 });
    const m = model('qwen-coder');
    expect((await failure(factory()(m).stream(call(m)))).error.kind).toBe('internal');
  });

  test('hangs time out: before the first byte and mid-stream', async () => {
    const m = model('qwen-coder');
    server.enqueueFault({ kind: 'hang' });
    expect((await failure(factory(secrets(), { firstByteMs: 200 })(m).stream(call(m)))).error).toMatchObject({ kind: 'timeout', retryable: true });
    server.enqueueFault({ kind: 'hang', afterChunks: 2 });
    server.respondWith({ blocks: [{ type: 'text', text: 'a fairly long answer' }], chunkChars: 2 });
    const { events, error } = await failure(factory(secrets(), { idleMs: 200 })(m).stream(call(m)));
    expect(events.length).toBeGreaterThan(0);
    expect(error.kind).toBe('timeout');
  });

  test('a connection closed by the server before it answered is retried once', async () => {
    const m = model('qwen-coder');
    server.enqueueFault({ kind: 'drop' });
    assertValidSequence(await collect(factory()(m).stream(call(m))));
    expect(server.requests).toHaveLength(2);
    server.enqueueFault({ kind: 'drop' });
    server.enqueueFault({ kind: 'drop' });
    expect((await failure(factory()(m).stream(call(m)))).error).toMatchObject({ kind: 'internal', retryable: true });
  });

  test('an unreachable server is a retryable internal error', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const m: ResolvedModel = { ...model('open-llama'), baseUrl: `http://127.0.0.1:${port}/v1` };
    const { error } = await failure(factory()(m).stream(call(m)));
    expect(error).toMatchObject({ kind: 'internal', retryable: true });
    expect(error.message).toContain('ECONNREFUSED');
  });

  test('aborting the signal ends the request', async () => {
    server.respondWith({ blocks: [{ type: 'text', text: 'x'.repeat(400) }], chunkChars: 1 });
    server.enqueueFault({ kind: 'hang', afterChunks: 3 });
    const m = model('qwen-coder');
    const controller = new AbortController();
    const it = factory()(m).stream(call(m, {}, controller.signal))[Symbol.asyncIterator]();
    expect((await it.next()).value.type).toBe('message_start');
    controller.abort();
    await expect(it.next()).rejects.toMatchObject({ kind: 'timeout', retryable: false });
  });
});

describe('bearer keys from Secrets Manager', () => {
  test('bearerFromSecret takes the whole string or a JSON apiKey / api_key / key / token field', () => {
    expect(bearerFromSecret('  sk-plain \n')).toBe('sk-plain');
    expect(bearerFromSecret('{"apiKey":"a"}')).toBe('a');
    expect(bearerFromSecret('{"api_key":"b"}')).toBe('b');
    expect(bearerFromSecret('{"token":"c"}')).toBe('c');
    expect(bearerFromSecret('{not json')).toBe('{not json');
  });

  test('SecretsManagerSource reads the secret through the real SDK client and the standard endpoint settings', async () => {
    const seen: { target?: string; body?: unknown; auth?: string }[] = [];
    const sm = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ target: req.headers['x-amz-target'] as string, body: JSON.parse(Buffer.concat(chunks).toString()), auth: req.headers.authorization });
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ ARN: KEY_ARN, Name: 'vllm-key', SecretString: '{"api_key":"sk-from-sm"}', VersionId: 'v1' }));
      });
    });
    await new Promise<void>((resolve) => sm.listen(0, '127.0.0.1', resolve));
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(sm.address() as AddressInfo).port}`,
      AWS_ACCESS_KEY_ID: 'AKIDSECRETS',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_REGION: 'us-east-1',
    });
    try {
      const source = new SecretsManagerSource();
      expect(await source.get(KEY_ARN)).toBe('{"api_key":"sk-from-sm"}');
      expect(bearerFromSecret(await source.get(KEY_ARN))).toBe('sk-from-sm');
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ target: 'secretsmanager.GetSecretValue', body: { SecretId: KEY_ARN } });
      expect(seen[0].auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDSECRETS\/\d{8}\/us-east-1\/secretsmanager\/aws4_request/);
    } finally {
      process.env = saved;
      await new Promise<void>((resolve) => sm.close(() => resolve()));
    }
  });
});
