/**
 * The official Anthropic and OpenAI SDKs against the dev server (the real handler over the awslambda shim, on the
 * mock upstream). Every stream must be accepted by the SDKs' own parsers.
 */
import * as http from 'http';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { connectionHelp, startDevServer, type DevServer } from '../../lambda/dev-server/server';

const KEY = 'sk-dev-test-key-0123456789';
const MODEL = 'claude-sonnet-4-6';
const weather = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['city', 'unit'] },
};

describe('dev server with the official SDKs', () => {
  let server: DevServer;
  const lines: string[] = [];
  let anthropic: Anthropic;
  let openai: OpenAI;

  beforeAll(async () => {
    server = await startDevServer({ port: 0, apiKey: KEY, log: (l) => lines.push(l), env: { PROXY_PING_INTERVAL_MS: '200' } });
    anthropic = new Anthropic({ baseURL: server.url, apiKey: KEY, maxRetries: 0 });
    openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  afterAll(() => server.close());

  test('prints how to point Claude Code and the SDKs at it', () => {
    const text = connectionHelp(server);
    expect(text).toContain(`ANTHROPIC_BASE_URL=${server.url}`);
    expect(text).toContain(`baseURL: '${server.url}/v1'`);
    expect(text).toContain(KEY);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('Anthropic messages.stream() with tools and thinking: events and finalMessage()', async () => {
    const stream = anthropic.messages.stream({
      model: MODEL,
      max_tokens: 4096,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      tools: [weather],
      messages: [{ role: 'user', content: 'What is the weather in Paris? [[mock: tool=get_weather city=Paris]]' }],
    });
    const seen = new Set<string>();
    let thinking = '';
    let signature = '';
    let json = '';
    stream.on('streamEvent', (e) => {
      seen.add(e.type);
    });
    stream.on('thinking', (delta) => { thinking += delta; });
    stream.on('signature', (s) => { signature = s; });
    stream.on('inputJson', (delta) => { json += delta; });
    const message = await stream.finalMessage();
    expect([...seen]).toEqual(expect.arrayContaining(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']));
    expect(message.model).toBe(MODEL);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content.map((b) => b.type)).toEqual(['thinking', 'text', 'tool_use']);
    const [thought, , toolUse] = message.content;
    expect(thought).toMatchObject({ type: 'thinking', thinking, signature });
    expect(signature.length).toBeGreaterThan(20);
    expect(toolUse).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris', unit: 'celsius' } });
    expect(JSON.parse(json)).toEqual((toolUse as Anthropic.ToolUseBlock).input);
    expect(message.usage.input_tokens).toBeGreaterThan(0);

    // The tool-result turn, with the thinking block sent back as Claude requires.
    const followUp = await anthropic.messages.stream({
      model: MODEL,
      max_tokens: 4096,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      tools: [weather],
      messages: [
        { role: 'user', content: 'What is the weather in Paris? Use get_weather.' },
        { role: 'assistant', content: message.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: (toolUse as Anthropic.ToolUseBlock).id, content: '18 degrees and sunny' }] },
      ],
    }).finalMessage();
    expect(followUp.stop_reason).toBe('end_turn');
    expect(followUp.content[1]).toMatchObject({ type: 'text', text: expect.stringContaining('18 degrees and sunny') });
  });

  test('Anthropic messages.create() without streaming, count_tokens and models.list()', async () => {
    const message = await anthropic.messages.create({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }], stop_sequences: ['proxy'] });
    expect(message.stop_reason).toBe('stop_sequence');
    expect(message.stop_sequence).toBe('proxy');
    const count = await anthropic.messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'Hello there' }] });
    expect(count.input_tokens).toBeGreaterThan(0);
    const models = [];
    for await (const m of anthropic.models.list({ limit: 5 })) models.push(m.id);
    expect(models).toContain(MODEL);
    expect(models.length).toBeGreaterThan(5); // the SDK followed has_more / last_id
    const one = await anthropic.models.retrieve(MODEL);
    expect(one.id).toBe(MODEL);
  });

  test('Anthropic errors arrive as the SDK error classes, before and after the first byte', async () => {
    const wrongKey = new Anthropic({ baseURL: server.url, apiKey: 'sk-wrong-0123456789abcdef', maxRetries: 0 });
    await expect(wrongKey.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    await expect(anthropic.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: '[[mock: error=throttling]]' }], stream: true }))
      .rejects.toBeInstanceOf(Anthropic.RateLimitError);
    const mid = anthropic.messages.stream({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: '[[mock: error=overloaded after=4]]' }] });
    const err = await mid.finalMessage().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'mock upstream: simulated overloaded error' } });
    await expect(anthropic.messages.create({ model: MODEL, max_tokens: 0, messages: [] })).rejects.toBeInstanceOf(Anthropic.BadRequestError);
  });

  test('OpenAI chat.completions.create({ stream: true, tools }) with include_usage', async () => {
    const stream = await openai.chat.completions.create({
      model: MODEL,
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: weather.input_schema } }],
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Weather in Rome? [[mock: tool=get_weather city=Rome]]' }],
    });
    let content = '';
    const calls: Record<number, { id?: string; name?: string; args: string }> = {};
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      expect(chunk.model).toBe(MODEL);
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      content += choice.delta.content ?? '';
      for (const call of choice.delta.tool_calls ?? []) {
        const c = (calls[call.index] ??= { args: '' });
        if (call.id) c.id = call.id;
        if (call.function?.name) c.name = call.function.name;
        c.args += call.function?.arguments ?? '';
      }
      finish = choice.finish_reason ?? finish;
    }
    expect(content).toBe('I will call the get_weather tool.');
    expect(finish).toBe('tool_calls');
    expect(calls[0]).toMatchObject({ id: expect.stringMatching(/^toolu_mock_/), name: 'get_weather' });
    expect(JSON.parse(calls[0].args)).toEqual({ city: 'Rome', unit: 'celsius' });
    expect(usage!.total_tokens).toBe(usage!.prompt_tokens + usage!.completion_tokens);

    const answer = await openai.chat.completions.create({
      model: MODEL,
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: weather.input_schema } }],
      messages: [
        { role: 'user', content: 'Weather in Rome? Call get_weather.' },
        { role: 'assistant', content: null, tool_calls: [{ id: calls[0].id!, type: 'function', function: { name: 'get_weather', arguments: calls[0].args } }] },
        { role: 'tool', tool_call_id: calls[0].id!, content: '25 degrees' },
      ],
    });
    expect(answer.choices[0].finish_reason).toBe('stop');
    expect(answer.choices[0].message.content).toContain('25 degrees');
  });

  test('OpenAI images, models.list() and errors', async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const completion = await openai.chat.completions.create({
      model: MODEL,
      max_completion_tokens: 20,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Describe' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] }],
    });
    expect(completion.choices[0].finish_reason).toBe('length');
    expect(completion.usage!.completion_tokens).toBe(20);
    expect(completion.choices[0].message.content).toMatch(/^Mock reply to "Describe"/);
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    expect(ids).toContain(MODEL);
    await expect(openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: '[[mock: error=overloaded]]' }] }))
      .rejects.toMatchObject({ status: 503, error: { type: 'server_error', code: 'overloaded' } });
    await expect(openai.chat.completions.create({ model: MODEL, messages: [], n: 1 })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    const broken = await openai.chat.completions.create({ model: MODEL, stream: true, messages: [{ role: 'user', content: '[[mock: error=internal after=5]]' }] });
    await expect((async () => { for await (const _ of broken) { /* drain */ } })()).rejects.toBeInstanceOf(OpenAI.APIError);
  });

  test('streams incrementally: the first event arrives long before the last', async () => {
    const started = Date.now();
    let first: number | undefined;
    const stream = anthropic.messages.stream({ model: MODEL, max_tokens: 1000, messages: [{ role: 'user', content: '[[mock: words=40 delay=40]]' }] });
    stream.on('text', () => { first ??= Date.now() - started; });
    await stream.finalMessage();
    const total = Date.now() - started;
    expect(total).toBeGreaterThan(400);
    expect(first!).toBeLessThan(total / 3);
  });

  test('sends the status line and headers with the first event (one write), not ahead of it', async () => {
    // Flushing the headers on their own costs a second write (and a second packet and wake-up for the client) on the
    // path to the first byte.
    const flushHeaders = jest.spyOn(http.ServerResponse.prototype, 'flushHeaders');
    try {
      const message = await anthropic.messages.stream({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'Hi [[mock: words=5]]' }] }).finalMessage();
      expect(message.content[0]).toMatchObject({ type: 'text' });
      expect(flushHeaders).not.toHaveBeenCalled();
    } finally {
      flushHeaders.mockRestore();
    }
  });

  test('keeps a session across SDK calls with x-session-id', async () => {
    const withSession = new Anthropic({ baseURL: server.url, apiKey: KEY, maxRetries: 0, defaultHeaders: { 'x-session-id': 'sdk-session' } });
    await withSession.messages.create({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'First turn' }] });
    const second = await withSession.messages.create({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'Second turn' }] });
    expect(second.usage.input_tokens).toBeGreaterThan(
      (await anthropic.messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'Second turn' }] })).input_tokens,
    );
  });

  test('logs each request on one line, without the key', async () => {
    lines.length = 0;
    await anthropic.messages.create({ model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: 'log me' }] });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ POST \/v1\/messages 200 claude-sonnet-4-6 json in=\d+ out=\d+ ttft=\d+ms \d+ms id=dev$/);
    expect(lines.join('\n')).not.toContain(KEY);
  });

  test('stops the upstream when the client aborts', async () => {
    lines.length = 0;
    const controller = new AbortController();
    const stream = anthropic.messages.stream({ model: MODEL, max_tokens: 5000, messages: [{ role: 'user', content: '[[mock: words=2000 delay=10]]' }] }, { signal: controller.signal });
    let n = 0;
    stream.on('text', () => { if (++n === 3) controller.abort(); });
    await stream.done().catch(() => undefined);
    for (let i = 0; i < 50 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(lines[0]).toMatch(/client_disconnected/);
  });
});

describe('dev server HTTP status and headers for responses decided before the first await', () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startDevServer({
      port: 0,
      apiKey: KEY,
      log: () => undefined,
      env: { PROXY_CORS_ALLOW_ORIGINS: 'http://localhost:3000' },
    });
  });
  afterAll(() => server.close());

  test('an unknown path is a real 404 with the Anthropic error body', async () => {
    const res = await fetch(`${server.url}/v1/nope`, { method: 'POST', headers: { 'x-api-key': KEY }, body: '{}' });
    expect(res.status).toBe(404);
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  test('GET /health is 200 with a JSON body', async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  test('a CORS preflight from an allowed origin gets 204 with the Access-Control headers', async () => {
    const res = await fetch(`${server.url}/v1/messages`, {
      method: 'OPTIONS',
      headers: { 'origin': 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-api-key' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type,x-api-key');
  });
});

describe('dev server with memory sessions and token limits', () => {
  test('a turn sent the moment the previous streamed reply ends always finds that reply (30 turns, both protocols)', async () => {
    const server = await startDevServer({
      port: 0,
      apiKey: KEY,
      log: () => undefined,
      env: { PROXY_RATE_LIMITS: JSON.stringify({ requestsPerMinute: 1000, tokensPerMinute: 10_000_000 }) },
    });
    try {
      const turns = 30;
      let previousInput = 0;
      for (let i = 0; i < turns; i++) {
        const anthropicTurn = i % 2 === 0;
        const response = await fetch(`${server.url}${anthropicTurn ? '/v1/messages' : '/v1/chat/completions'}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-session-id': 'fast', ...(anthropicTurn ? { 'x-api-key': KEY } : { authorization: `Bearer ${KEY}` }) },
          body: JSON.stringify({ model: MODEL, max_tokens: 16, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: `turn ${i}` }] }),
        });
        const text = await response.text();
        expect(response.status).toBe(200);
        // The input the upstream saw grows every turn: it held all earlier turns.
        const input = anthropicTurn
          ? JSON.parse(/event: message_start\ndata: (.*)\n/.exec(text)![1]).message.usage.input_tokens
          : JSON.parse(/data: (\{.*"choices":\[\].*\})\n/.exec(text)![1]).usage.prompt_tokens;
        expect(input).toBeGreaterThan(previousInput);
        previousInput = input;
      }
    } finally {
      await server.close();
    }
  });
});
