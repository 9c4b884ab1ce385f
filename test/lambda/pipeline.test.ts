import { MemoryRateLimiter } from '../../lambda/shared/memory-limiter';
import { MessageAccumulator } from '../../lambda/streaming-proxy/accumulate';
import { MemorySink } from '../support/memory-sink';
import { FailingLimiter, harness, KEY, request, run } from '../support/proxy-harness';
import { parseSse } from '../support/sse';

const MODEL = 'claude-sonnet-4-6';
const message = (content: string, extra: Record<string, unknown> = {}) => ({ model: MODEL, max_tokens: 200, messages: [{ role: 'user', content }], ...extra });
const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: MODEL, messages: [{ role: 'user', content }], ...extra });

function sseEvents(sink: MemorySink): Array<{ event?: string; data: any }> {
  return parseSse(sink.body).filter((f) => f.data !== undefined).map((f) => ({ event: f.event, data: f.data === '[DONE]' ? '[DONE]' : JSON.parse(f.data!) }));
}

describe('routing, health and request checks', () => {
  test('answers /health without credentials, upstream or metering, under any prefix', async () => {
    const h = harness();
    for (const path of ['/health', '/api/health', '/prod/api/health/']) {
      const sink = await run(h, { ...request('GET', path), headers: {} });
      expect(sink.status).toBe(200);
      expect(sink.json()).toEqual({ status: 'ok' });
    }
    const head = await run(h, { ...request('HEAD', '/health'), headers: {} });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(h.upstream.calls).toHaveLength(0);
    expect(h.meter.records).toHaveLength(0);
  });

  test('answers HEAD on the models endpoints like GET, without a body', async () => {
    const h = harness();
    for (const path of ['/v1/models', `/v1/models/${MODEL}`]) {
      const get = await run(h, request('GET', path));
      const head = await run(h, request('HEAD', path));
      expect(get.status).toBe(200);
      expect(head.status).toBe(200);
      expect(head.headers['content-type']).toBe(get.headers['content-type']);
      expect(head.body).toBe('');
    }
    expect((await run(h, request('HEAD', '/v1/models/no-such-model-anywhere'))).status).toBe(404);
    expect((await run(h, request('HEAD', '/v1/messages'))).headers.allow).toBe('POST');
  });

  test('never answers /ping', async () => {
    const sink = await run(harness(), request('GET', '/ping'));
    expect(sink.status).toBe(404);
  });

  test('answers unknown paths with 404 and wrong methods with 405 + Allow, in the detected protocol', async () => {
    const h = harness();
    const unknown = await run(h, request('GET', '/v2/everything', undefined, { 'anthropic-version': '2023-06-01' }));
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toEqual({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining('POST /v1/messages') } });
    expect(unknown.headers['request-id']).toBe('req_test_1');
    const wrong = await run(h, request('GET', '/v1/chat/completions'));
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST');
    expect(wrong.json().error).toMatchObject({ type: 'invalid_request_error', code: 'method_not_allowed' });
  });

  test('strips path prefixes such as /api', async () => {
    const sink = await run(harness(), request('POST', '/api/v1/messages', message('hi')));
    expect(sink.status).toBe(200);
  });

  test('refuses bodies above PROXY_MAX_BODY_BYTES with 413 in the client protocol', async () => {
    const h = harness({ PROXY_MAX_BODY_BYTES: '1000' });
    const big = message('x'.repeat(2000));
    const anthropic = await run(h, request('POST', '/v1/messages', big));
    expect(anthropic.status).toBe(413);
    expect(anthropic.json().error.type).toBe('request_too_large');
    const openai = await run(h, request('POST', '/v1/chat/completions', chat('x'.repeat(2000))));
    expect(openai.status).toBe(413);
    expect(openai.json()).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: 'request_too_large' } });
  });

  test.each([5_000, 100_000])('refuses tool schemas and tool inputs nested %i levels deep with a 400 naming the field', async (levels) => {
    const h = harness();
    const deep = `${'{"type":"object","properties":{"a":'.repeat(levels)}{"type":"string"}${'}}'.repeat(levels)}`;
    const schema = await run(h, request('POST', '/v1/messages',
      `{"model":"${MODEL}","max_tokens":64,"tools":[{"name":"t","input_schema":${deep}}],"messages":[{"role":"user","content":"hi"}]}`));
    expect(schema.status).toBe(400);
    expect(schema.json().error).toEqual({ type: 'invalid_request_error', message: expect.stringMatching(/^tools\.0\.input_schema\.properties\.a…: nested more than 256 levels deep/) });

    const input = `${'[{"x":'.repeat(levels)}1${'}]'.repeat(levels)}`;
    const toolUse = await run(h, request('POST', '/v1/messages', `{"model":"${MODEL}","max_tokens":64,"messages":[`
      + `{"role":"user","content":"go"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"t","input":{"v":${input}}}]},`
      + '{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}]}'));
    expect(toolUse.status).toBe(400);
    expect(toolUse.json().error.message).toMatch(/^messages\.1\.content\.0\.input…: nested more than 256 levels/);

    const openai = await run(h, request('POST', '/v1/chat/completions',
      `{"model":"${MODEL}","tools":[{"type":"function","function":{"name":"t","parameters":${deep}}}],"messages":[{"role":"user","content":"hi"}]}`));
    expect(openai.status).toBe(400);
    expect(openai.json().error).toMatchObject({ type: 'invalid_request_error', message: expect.stringMatching(/^tools\.0\.function\.parameters\.properties…: nested/) });
    expect(h.upstream.calls).toHaveLength(0);
    // Real depth stays accepted.
    const fine = `${'{"type":"object","properties":{"a":'.repeat(60)}{"type":"string"}${'}}'.repeat(60)}`;
    const ok = await run(h, request('POST', '/v1/messages', `{"model":"${MODEL}","max_tokens":64,"tools":[{"name":"t","input_schema":${fine}}],"messages":[{"role":"user","content":"hi"}]}`));
    expect(ok.status).toBe(200);
  });

  test('requires credentials (401) before reading the body', async () => {
    const h = harness();
    const sink = await run(h, { ...request('POST', '/v1/messages', 'not json'), headers: {} });
    expect(sink.status).toBe(401);
    expect(sink.json().error.type).toBe('authentication_error');
    const wrong = await run(h, request('POST', '/v1/chat/completions', chat('hi'), { 'x-api-key': '', 'authorization': 'Bearer sk-not-the-key-at-all' }));
    expect(wrong.status).toBe(401);
    expect(wrong.body).not.toContain('sk-not-the-key');
    expect(h.meter.records.map((r) => r.outcome)).toEqual(['client_error', 'client_error']);
  });

  test('explains bad JSON and bad fields with 400, naming the field', async () => {
    const h = harness();
    const broken = await run(h, request('POST', '/v1/messages', '{"model": '));
    expect(broken.status).toBe(400);
    expect(broken.json().error.message).toBe('The request body is not valid JSON.');
    const field = await run(h, request('POST', '/v1/messages', { model: MODEL, messages: [{ role: 'user', content: 'x' }] }));
    expect(field.json().error.message).toBe('max_tokens: is required');
    const openai = await run(h, request('POST', '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 5 }] }));
    expect(openai.status).toBe(400);
    expect(openai.json().error).toMatchObject({ param: 'messages.0.content', type: 'invalid_request_error' });
  });

  test('answers an unknown model with 404 not_found_error / model_not_found', async () => {
    const h = harness();
    const anthropic = await run(h, request('POST', '/v1/messages', { ...message('x'), model: 'no-such-model' }));
    expect(anthropic.status).toBe(404);
    expect(anthropic.json().error.type).toBe('not_found_error');
    const openai = await run(h, request('POST', '/v1/chat/completions', { ...chat('x'), model: 'no-such-model' }));
    expect(openai.json().error).toMatchObject({ code: 'model_not_found', param: 'model' });
    expect(h.upstream.calls).toHaveLength(0);
  });
});

describe('POST /v1/messages', () => {
  test('streams Anthropic SSE with the client model name, and meters the request', async () => {
    const h = harness();
    const sink = await run(h, request('POST', '/v1/messages', message('Hello', { stream: true, thinking: { type: 'enabled', budget_tokens: 1024 } })));
    expect(sink.status).toBe(200);
    expect(sink.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(sink.headers['request-id']).toBe('req_test_1');
    const events = sseEvents(sink);
    expect(events[0]).toMatchObject({ event: 'message_start', data: { message: { model: MODEL } } });
    expect(events[events.length - 1]).toEqual({ event: 'message_stop', data: { type: 'message_stop' } });
    expect(events.some((e) => e.data.delta?.type === 'signature_delta')).toBe(true);
    const acc = new MessageAccumulator();
    events.forEach((e) => acc.add(e.data));
    const [record] = h.meter.records;
    expect(record).toMatchObject({
      outcome: 'ok',
      status: 200,
      identity: 'alice',
      model: MODEL,
      stream: true,
      protocol: 'anthropic',
      inputTokens: acc.result().usage.input_tokens,
      outputTokens: acc.result().usage.output_tokens,
    });
    expect(record.estimatedCost).toBeCloseTo((record.inputTokens * 3 + record.outputTokens * 15) / 1e6, 12);
    expect(record.timeToFirstTokenMs).toBeGreaterThanOrEqual(0);
  });

  test('an OpenAI request to Claude: temperature wins over top_p, and the dropped field is in the request record', async () => {
    const h = harness();
    const sink = await run(h, request('POST', '/v1/chat/completions', chat('hi', { temperature: 0.5, top_p: 0.9 })));
    expect(sink.status).toBe(200);
    expect(h.upstream.calls[0].request).toMatchObject({ temperature: 0.5 });
    expect(h.upstream.calls[0].request.top_p).toBeUndefined();
    expect(h.meter.records[0].dropped).toEqual({ betas: [], fields: ['top_p'] });
  });

  test('passes a conversation that used Claude\'s tool search to the upstream unchanged', async () => {
    const assistant = [
      { type: 'server_tool_use', id: 'srvtoolu_01', name: 'tool_search_tool_regex', input: { pattern: 'weather' }, caller: { type: 'direct' } },
      {
        type: 'tool_search_tool_result',
        tool_use_id: 'srvtoolu_01',
        content: { type: 'tool_search_tool_search_result', tool_references: [{ type: 'tool_reference', tool_name: 'get_weather' }] },
      },
      { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } },
    ];
    const user = [{ type: 'tool_result', tool_use_id: 'toolu_01', content: [{ type: 'text', text: '18 C' }, { type: 'tool_reference', tool_name: 'get_forecast' }] }];
    const body = { ...message('Weather in Paris?'), messages: [{ role: 'user', content: 'Weather in Paris?' }, { role: 'assistant', content: assistant }, { role: 'user', content: user }] };
    const h = harness();
    const sink = await run(h, request('POST', '/v1/messages', body, { 'anthropic-beta': 'tool-search-tool-2025-10-19' }));
    expect(sink.status).toBe(200);
    expect(h.upstream.calls[0].request.messages.slice(1)).toEqual([{ role: 'assistant', content: assistant }, { role: 'user', content: user }]);
    expect(h.upstream.calls[0].request.anthropic_beta).toEqual(['tool-search-tool-2025-10-19']);

    const broken = await run(harness(), request('POST', '/v1/messages', {
      ...body, messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'server_tool_use', name: 'tool_search_tool_regex', input: {} }] }],
    }));
    expect(broken.status).toBe(400);
    expect(broken.json().error.message).toBe('messages.1.content.0.id: is required');
  });

  test('an OpenAI response_format json_schema reaches Claude as output_config.format', async () => {
    const h = harness();
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    const sink = await run(h, request('POST', '/v1/chat/completions', chat('hi', { response_format: { type: 'json_schema', json_schema: { name: 'a', schema } } })));
    expect(sink.status).toBe(200);
    expect(h.upstream.calls[0].request.extra).toEqual({ output_config: { format: { type: 'json_schema', schema } } });
  });

  test('answers stream:false with one JSON message carrying the client model name', async () => {
    const sink = await run(harness(), request('POST', '/v1/messages', message('Hello')));
    expect(sink.headers['content-type']).toBe('application/json');
    expect(sink.json()).toMatchObject({ type: 'message', role: 'assistant', model: MODEL, stop_reason: 'end_turn', content: [{ type: 'text' }] });
  });

  test('passes allowlisted betas upstream, and the [1m] suffix as longContext on the resolved model', async () => {
    const h = harness();
    await run(h, request('POST', '/v1/messages', { ...message('x'), model: `${MODEL}[1m]` }, { 'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14' }));
    const call = h.upstream.calls[0];
    expect(call.model.longContext).toBe(true);
    expect(call.request.model).toBe(`${MODEL}[1m]`);
    expect(call.request.anthropic_beta).toEqual(['interleaved-thinking-2025-05-14']);
    expect(h.meter.records[0].dropped).toEqual({ betas: ['claude-code-20250219'], fields: [] });
  });

  test('maps an upstream failure before the first event to a real status', async () => {
    const cases: Array<[string, number, string]> = [
      ['throttling', 429, 'rate_limit_error'],
      ['overloaded', 529, 'overloaded_error'],
      ['validation', 400, 'invalid_request_error'],
      ['access_denied', 403, 'permission_error'],
      ['not_found', 404, 'not_found_error'],
      ['timeout', 504, 'timeout_error'],
      ['internal', 502, 'api_error'],
    ];
    for (const [kind, status, type] of cases) {
      const h = harness();
      const sink = await run(h, request('POST', '/v1/messages', message(`[[mock: error=${kind}]]`, { stream: true })));
      expect(sink.status).toBe(status);
      expect(sink.headers['content-type']).toBe('application/json');
      expect(sink.json()).toEqual({ type: 'error', error: { type, message: `mock upstream: simulated ${kind} error` } });
      expect(h.meter.records[0].outcome).toBe(kind === 'throttling' ? 'upstream_throttled' : 'upstream_error');
    }
  });

  test('turns a failure after the first event into an event: error frame and ends the stream cleanly', async () => {
    const h = harness();
    const sink = await run(h, request('POST', '/v1/messages', message('[[mock: error=overloaded after=4]]', { stream: true })));
    expect(sink.status).toBe(200);
    const events = sseEvents(sink);
    expect(events.map((e) => e.event)).toEqual(['message_start', 'ping', 'content_block_start', 'content_block_delta', 'error']);
    expect(events[4].data).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'mock upstream: simulated overloaded error' } });
    expect(h.meter.records[0]).toMatchObject({ status: 200, outcome: 'upstream_error' });
  });

  test('sends keep-alive pings during long upstream silences', async () => {
    const h = harness({ PROXY_PING_INTERVAL_MS: '100' });
    const sink = await run(h, request('POST', '/v1/messages', message('[[mock: words=4 delay=260]]', { stream: true })));
    const events = sseEvents(sink);
    // One ping comes from the upstream itself (after message_start); the rest are keep-alives.
    expect(events.filter((e) => e.event === 'ping').length).toBeGreaterThanOrEqual(3);
    expect(events[events.length - 1].event).toBe('message_stop');
  });

  test('waits for a slow client instead of buffering ahead (backpressure)', async () => {
    const h = harness();
    const sink = new MemorySink({ slow: true });
    const done = h.proxy.handle(request('POST', '/v1/messages', message('[[mock: words=200]]', { stream: true })), sink);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    // Only the first frame is written; the upstream was not read further while the write waits.
    expect(sink.chunks).toHaveLength(1);
    expect(h.upstream.pulled).toBeLessThanOrEqual(2);
    while (!sink.ended) {
      sink.release();
      await new Promise((r) => setImmediate(r));
    }
    await done;
    expect(sseEvents(sink).pop()!.event).toBe('message_stop');
  });

  test('stops the upstream when the client disconnects', async () => {
    const h = harness();
    const sink = new MemorySink({ onWrite: (_c, s) => { if (s.chunks.length === 5) s.disconnect(); } });
    const started = Date.now();
    await h.proxy.handle(request('POST', '/v1/messages', message('[[mock: words=1000 delay=20]]', { stream: true })), sink);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(h.upstream.pulled).toBeLessThan(10);
    expect(h.meter.records[0].outcome).toBe('client_disconnected');
  });

  test('ends with a timeout error frame at the deadline', async () => {
    const h = harness();
    const sink = await run(h, request('POST', '/v1/messages', message('[[mock: words=1000 delay=20]]', { stream: true })), new MemorySink(), Date.now() + 150);
    const events = sseEvents(sink);
    expect(events[events.length - 1]).toEqual({ event: 'error', data: { type: 'error', error: { type: 'timeout_error', message: 'The proxy ran out of time before the upstream finished.' } } });
  });
});

describe('POST /v1/chat/completions', () => {
  test('streams chunks, a usage chunk when asked, and [DONE]', async () => {
    const h = harness();
    const sink = await run(h, request('POST', '/v1/chat/completions', chat('Hello', { stream: true, stream_options: { include_usage: true } }), { 'authorization': `Bearer ${KEY}`, 'x-api-key': '' }));
    expect(sink.status).toBe(200);
    const events = sseEvents(sink);
    expect(events[events.length - 1].data).toBe('[DONE]');
    const usage = events[events.length - 2].data;
    expect(usage.choices).toEqual([]);
    expect(usage.usage.completion_tokens).toBe(h.meter.records[0].outputTokens);
    expect(events[0].data.model).toBe(MODEL);
    expect(events.find((e) => e.data.choices?.[0]?.finish_reason)?.data.choices[0].finish_reason).toBe('stop');
  });

  test('answers stream:false with a chat.completion', async () => {
    const sink = await run(harness(), request('POST', '/v1/chat/completions', chat('Hello')));
    expect(sink.json()).toMatchObject({ object: 'chat.completion', model: MODEL, choices: [{ message: { role: 'assistant' }, finish_reason: 'stop' }] });
  });

  test('uses OpenAI statuses and error bodies for upstream failures, including 503 for overloaded', async () => {
    const overloaded = await run(harness(), request('POST', '/v1/chat/completions', chat('[[mock: error=overloaded]]', { stream: true })));
    expect(overloaded.status).toBe(503);
    expect(overloaded.json()).toEqual({ error: { message: 'mock upstream: simulated overloaded error', type: 'server_error', param: null, code: 'overloaded' } });
    const mid = await run(harness(), request('POST', '/v1/chat/completions', chat('[[mock: error=throttling after=5]]', { stream: true })));
    const events = sseEvents(mid);
    expect(events[events.length - 1].data).toEqual({ error: { message: 'mock upstream: simulated throttling error', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } });
  });
});

describe('POST /v1/messages/count_tokens', () => {
  test('counts with the upstream when the model supports it', async () => {
    const h = harness();
    const sink = await run(h, request('POST', '/v1/messages/count_tokens', { model: MODEL, messages: [{ role: 'user', content: 'Hello there' }] }));
    expect(sink.json()).toEqual({ input_tokens: expect.any(Number) });
    expect(sink.headers['x-token-count']).toBe('exact');
    expect(h.upstream.calls).toHaveLength(1);
  });

  test('estimates otherwise, and says so', async () => {
    const h = harness();
    const sink = await run(h, request('POST', '/v1/messages/count_tokens', { model: 'mock-no-count', messages: [{ role: 'user', content: 'Hello there' }] }));
    expect(sink.json()).toEqual({ input_tokens: expect.any(Number), estimated: true });
    expect(sink.headers['x-token-count']).toBe('estimate');
    expect(h.upstream.calls).toHaveLength(0);
  });
});

describe('GET /v1/models', () => {
  test('lists the catalogue in the Anthropic shape by default, paginated', async () => {
    const h = harness();
    const sink = await run(h, request('GET', '/v1/models?limit=2', undefined, { 'anthropic-version': '2023-06-01' }));
    const page = sink.json();
    expect(page.data).toHaveLength(2);
    expect(page.data[0]).toEqual({ type: 'model', id: 'mock-no-count', display_name: 'mock-no-count', created_at: expect.any(String) });
    expect(page.has_more).toBe(true);
    const next = (await run(h, request('GET', `/v1/models?limit=2&after_id=${page.last_id}`))).json();
    expect(next.data[0].id).not.toBe(page.data[0].id);
  });

  test('lists the OpenAI shape for OpenAI clients', async () => {
    const sink = await run(harness(), request('GET', '/v1/models', undefined, { 'x-api-key': '', 'authorization': `Bearer ${KEY}` }));
    const list = sink.json();
    expect(list.object).toBe('list');
    expect(list.data).toContainEqual({ id: MODEL, object: 'model', created: 0, owned_by: 'anthropic' });
  });

  test('retrieves one model, and 404s an unknown one', async () => {
    const h = harness();
    expect((await run(h, request('GET', `/v1/models/${MODEL}`))).json()).toMatchObject({ type: 'model', id: MODEL });
    expect((await run(h, request('GET', '/v1/models/nope'))).status).toBe(404);
  });
});

describe('rate limits', () => {
  test('refuses with 429 and Retry-After once requests per minute are used up', async () => {
    const h = harness({ PROXY_RATE_LIMITS: '{"requestsPerMinute":2}' });
    expect((await run(h, request('POST', '/v1/messages', message('a')))).status).toBe(200);
    expect((await run(h, request('POST', '/v1/messages', message('b')))).status).toBe(200);
    const refused = await run(h, request('POST', '/v1/chat/completions', chat('c')));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.json().error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(h.meter.records[2].outcome).toBe('rate_limited');
    expect(h.upstream.calls).toHaveLength(2);
  });

  test('counts tokens against the token budgets', async () => {
    const h = harness({ PROXY_RATE_LIMITS: '{"tokensPerMinute":50}' });
    expect((await run(h, request('POST', '/v1/messages', message('[[mock: words=80]]')))).status).toBe(200);
    const refused = await run(h, request('POST', '/v1/messages', message('again')));
    expect(refused.status).toBe(429);
    expect(refused.json().error.message).toMatch(/tokens-per-minute limit/);
  });

  test('admits when the limit store is down in open mode, and refuses with 503 in closed mode', async () => {
    const open = harness({ PROXY_RATE_LIMITS: '{"requestsPerMinute":2}' }, { limiter: new FailingLimiter() });
    expect((await run(open, request('POST', '/v1/messages', message('a')))).status).toBe(200);
    expect(open.meter.records[0].rateLimiterUnavailable).toBe(true);
    const closed = harness({ PROXY_RATE_LIMITS: '{"requestsPerMinute":2}', PROXY_LIMIT_FAILURE_MODE: 'closed' }, { limiter: new FailingLimiter() });
    const refused = await run(closed, request('POST', '/v1/messages', message('a')));
    expect(refused.status).toBe(503);
  });
});

describe('sessions (x-session-id)', () => {
  test('stores the conversation and prepends it to the next turn, for both protocols', async () => {
    const h = harness();
    await run(h, request('POST', '/v1/messages', message('My name is Ada.', { stream: true }), { 'x-session-id': 'conv-1' }));
    await run(h, request('POST', '/v1/chat/completions', chat('What is my name?'), { 'x-session-id': 'conv-1' }));
    const second = h.upstream.calls[1].request.messages;
    expect(second).toHaveLength(3);
    expect(second[0]).toEqual({ role: 'user', content: 'My name is Ada.' });
    expect(second[1].role).toBe('assistant');
    expect((second[1].content as Array<{ text: string }>)[0].text).toMatch(/^Mock reply to "My name is Ada\."/);
    expect(second[2]).toEqual({ role: 'user', content: 'What is my name?' });
    const stored = await h.sessions.load('alice', 'conv-1');
    expect(stored).toHaveLength(4);
  });

  test('keeps sessions per identity and rejects malformed ids', async () => {
    const h = harness();
    await run(h, request('POST', '/v1/messages', message('secret plans'), { 'x-session-id': 's' }));
    expect(await h.sessions.load('mallory', 's')).toBeUndefined();
    const bad = await run(h, request('POST', '/v1/messages', message('x'), { 'x-session-id': 'has spaces' }));
    expect(bad.status).toBe(400);
    expect(bad.json().error.message).toMatch(/^x-session-id:/);
  });

  test('does not save a turn that failed', async () => {
    const h = harness();
    await run(h, request('POST', '/v1/messages', message('[[mock: error=overloaded after=4]]', { stream: true }), { 'x-session-id': 'f' }));
    expect(await h.sessions.load('alice', 'f')).toBeUndefined();
  });

  test('commits the turn (session saved, tokens counted) before the client can see the end of the response', async () => {
    // A store and a limiter that take their time: whatever the client sees after the last content, the turn must
    // already be stored, or a follow-up sent the moment the response ends would miss it.
    const state = { saved: 0, recorded: 0 };
    const slow = <T>(work: () => Promise<T>): Promise<T> => new Promise((resolve, reject) => setTimeout(() => work().then(resolve, reject), 25));
    class SlowLimiter extends MemoryRateLimiter {
      public override recordTokens(identity: string, tokens: number): Promise<void> {
        return slow(() => super.recordTokens(identity, tokens)).then(() => { state.recorded++; });
      }
    }
    const h = harness({ PROXY_RATE_LIMITS: '{"requestsPerMinute":100,"tokensPerMinute":100000}' }, {
      limiter: new SlowLimiter(),
      wrapSessions: (store) => ({
        load: (identity, id) => store.load(identity, id),
        save: (identity, id, conversation) => slow(() => store.save(identity, id, conversation)).then(() => { state.saved++; }),
      }),
    });
    const cases: Array<[string, unknown, RegExp]> = [
      ['/v1/messages', message('one', { stream: true }), /"stop_reason":"|event: message_stop/],
      ['/v1/chat/completions', chat('two', { stream: true, stream_options: { include_usage: true } }), /"finish_reason":"|\[DONE\]|"choices":\[\]/],
      ['/v1/messages', message('three'), /./],
      ['/v1/chat/completions', chat('four'), /./],
    ];
    for (const [i, [path, body, end]] of cases.entries()) {
      const seen: Array<{ saved: number; recorded: number }> = [];
      const sink = new MemorySink({ onWrite: (chunk) => { if (end.test(chunk)) seen.push({ ...state }); } });
      await run(h, request('POST', path, body, { 'x-session-id': 'fast' }), sink);
      expect(sink.status).toBe(200);
      expect(seen.length).toBeGreaterThan(0);
      for (const s of seen) expect(s).toEqual({ saved: i + 1, recorded: i + 1 });
    }
    expect(await h.sessions.load('alice', 'fast')).toHaveLength(8);
  });

  test('answers 400 when sessions are off', async () => {
    const h = harness({ PROXY_SESSIONS: 'off' });
    const sink = await run(h, request('POST', '/v1/messages', message('x'), { 'x-session-id': 's1' }));
    expect(sink.status).toBe(400);
  });
});

describe('CORS', () => {
  test('answers preflights and allows configured origins only', async () => {
    const h = harness({ PROXY_CORS_ALLOW_ORIGINS: 'https://app.example.com' });
    const preflight = await run(h, request('OPTIONS', '/v1/messages', undefined, { 'origin': 'https://app.example.com', 'access-control-request-headers': 'x-api-key' }));
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(preflight.headers['access-control-allow-headers']).toBe('x-api-key');
    const other = await run(h, request('POST', '/v1/messages', message('x'), { origin: 'https://evil.example.com' }));
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});
