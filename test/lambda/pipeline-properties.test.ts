/**
 * Property tests (bounded): random and malformed requests never crash the handler, always get a response in the
 * client's protocol (a well-formed error body for every error status), and never echo a key.
 */
import * as fc from 'fast-check';
import type { ProxyRequest } from '../../lambda/streaming-proxy/http';
import { MemorySink } from '../support/memory-sink';
import { harness, KEY } from '../support/proxy-harness';
import { parseSse } from '../support/sse';

const h = harness({ PROXY_MAX_BODY_BYTES: '20000', PROXY_RATE_LIMITS: '{"requestsPerMinute":100000}' });
const ERROR_STATUSES = new Set([400, 401, 403, 404, 405, 413, 429, 500, 502, 503, 504, 529]);

const presentedKey = fc.stringMatching(/^[A-Za-z0-9_-]{12,40}$/).map((s) => `sk-prop-${s}`);
const path = fc.oneof(
  fc.constantFrom('/v1/messages', '/v1/messages/count_tokens', '/v1/chat/completions', '/v1/models', '/v1/models/claude-sonnet-4-6', '/health', '/ping', '/'),
  fc.tuple(fc.constantFrom('', '/api', '/prod/x'), fc.constantFrom('/v1/messages', '/v1/chat/completions', '/v1/models')).map(([a, b]) => a + b),
  fc.webPath(),
);
const method = fc.oneof(fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD'), fc.string({ maxLength: 8 }));

const contentBlock = fc.oneof(
  fc.record({ type: fc.constant('text'), text: fc.string() }),
  fc.record({ type: fc.constantFrom('image', 'document', 'tool_use', 'tool_result', 'thinking', 'audio'), source: fc.anything() }, { requiredKeys: ['type'] }),
  fc.anything(),
);
const anthropicBody = fc.record({
  model: fc.oneof(fc.constantFrom('claude-sonnet-4-6', 'claude-sonnet-4-6[1m]', 'mock-no-count', 'nope'), fc.anything()),
  max_tokens: fc.oneof(fc.integer({ min: -5, max: 300 }), fc.anything()),
  messages: fc.oneof(
    fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system'), content: fc.oneof(fc.string(), fc.array(contentBlock, { maxLength: 3 })) }), { maxLength: 3 }),
    fc.anything(),
  ),
  stream: fc.oneof(fc.boolean(), fc.anything()),
  thinking: fc.oneof(fc.constant({ type: 'enabled', budget_tokens: 1024 }), fc.anything()),
  tools: fc.oneof(fc.constant([{ name: 'get_weather', input_schema: { type: 'object' } }]), fc.anything()),
  temperature: fc.anything(),
}, { requiredKeys: [] });
const openAiBody = fc.record({
  model: fc.oneof(fc.constantFrom('claude-sonnet-4-6', 'nope'), fc.anything()),
  messages: fc.oneof(
    fc.array(fc.record({
      role: fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool', 'function', 'robot'),
      content: fc.oneof(fc.string(), fc.constant(null), fc.array(fc.oneof(fc.record({ type: fc.constant('text'), text: fc.string() }), fc.anything()), { maxLength: 2 })),
      tool_call_id: fc.string(),
      tool_calls: fc.anything(),
    }, { requiredKeys: ['role'] }), { maxLength: 3 }),
    fc.anything(),
  ),
  stream: fc.boolean(),
  stream_options: fc.anything(),
  n: fc.anything(),
  max_tokens: fc.anything(),
  reasoning_effort: fc.oneof(fc.constantFrom('low', 'high'), fc.anything()),
  tools: fc.anything(),
  tool_choice: fc.anything(),
}, { requiredKeys: [] });
const body = fc.oneof(
  anthropicBody.map((b) => Buffer.from(JSON.stringify(b))),
  openAiBody.map((b) => Buffer.from(JSON.stringify(b))),
  fc.json().map((j) => Buffer.from(j)),
  fc.string().map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.constant(Buffer.alloc(25_000, 0x61)),
);
const headers = fc.record({
  'x-api-key': fc.oneof(fc.constant(KEY), presentedKey, fc.string()),
  'authorization': fc.oneof(fc.constant(`Bearer ${KEY}`), presentedKey.map((k) => `Bearer ${k}`), fc.string()),
  'anthropic-version': fc.constant('2023-06-01'),
  'anthropic-beta': fc.oneof(fc.constant('interleaved-thinking-2025-05-14,claude-code-20250219'), fc.string()),
  'x-session-id': fc.oneof(fc.stringMatching(/^[a-z0-9]{1,10}$/), fc.string()),
  'origin': fc.string(),
}, { requiredKeys: [] });

function checkResponse(sink: MemorySink, req: ProxyRequest): void {
  expect(sink.misuse).toEqual([]);
  expect(sink.ended).toBe(true);
  expect(sink.status).toBeDefined();
  const status = sink.status!;
  const text = sink.body + JSON.stringify(sink.headers);
  // Never echo a key: neither the stored one nor whatever the client presented.
  expect(text).not.toContain(KEY);
  for (const value of [req.headers['x-api-key'], req.headers.authorization]) {
    if (value && value.startsWith('sk-prop-')) expect(text).not.toContain(value);
    if (value && value.startsWith('Bearer sk-prop-')) expect(text).not.toContain(value.slice(7));
  }
  if (ERROR_STATUSES.has(status)) {
    const error = JSON.parse(sink.body);
    const anthropicShape = error.type === 'error' && typeof error.error?.type === 'string' && typeof error.error?.message === 'string';
    const openAiShape = typeof error.error?.message === 'string' && typeof error.error?.type === 'string' && 'param' in error.error && 'code' in error.error;
    expect(anthropicShape || openAiShape).toBe(true);
    if (req.path.endsWith('/v1/chat/completions') && status !== 404) expect(openAiShape).toBe(true);
    if (req.path.endsWith('/v1/messages')) expect(anthropicShape).toBe(true);
    expect(sink.headers['content-type']).toBe('application/json');
    return;
  }
  expect([200, 204]).toContain(status);
  if (sink.headers['content-type']?.startsWith('text/event-stream')) {
    for (const frame of parseSse(sink.body)) {
      if (frame.data !== undefined && frame.data !== '[DONE]') expect(() => JSON.parse(frame.data!)).not.toThrow();
    }
  } else if (status === 200 && sink.body !== '') {
    expect(() => JSON.parse(sink.body)).not.toThrow();
  }
}

describe('the handler under random input', () => {
  test('always answers in protocol shape, never throws, never echoes a key', async () => {
    await fc.assert(
      fc.asyncProperty(method, path, headers, body, fc.string({ maxLength: 30 }), async (m, p, hdrs, b, query) => {
        const req: ProxyRequest = {
          method: m,
          path: p,
          query: new URLSearchParams(query),
          headers: Object.fromEntries(Object.entries(hdrs).map(([k, v]) => [k, v])),
          body: b,
          requestId: 'req_prop',
        };
        const sink = new MemorySink();
        await h.proxy.handle(req, sink);
        checkResponse(sink, req);
      }),
      { numRuns: 400 },
    );
    expect(JSON.stringify(h.meter.records)).not.toContain(KEY);
  });

  test('valid keys with random but well-typed bodies reach the upstream and stream well-formed events', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 200 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 400 }),
        fc.array(fc.string({ minLength: 1, maxLength: 5 }), { maxLength: 3 }),
        async (text, stream, openai, maxTokens, stops) => {
          const payload = openai
            ? { model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: text }], stream, max_tokens: maxTokens, stop: stops }
            : { model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: text }], stream, max_tokens: maxTokens, stop_sequences: stops };
          const req: ProxyRequest = {
            method: 'POST',
            path: openai ? '/v1/chat/completions' : '/v1/messages',
            query: new URLSearchParams(),
            headers: { 'x-api-key': KEY },
            body: Buffer.from(JSON.stringify(payload)),
            requestId: 'req_prop',
          };
          const sink = new MemorySink();
          await h.proxy.handle(req, sink);
          checkResponse(sink, req);
          // Whitespace-only stop sequences are dropped for OpenAI; the Anthropic schema passes them on.
          expect(sink.status).toBe(200);
          if (stream) {
            const frames = parseSse(sink.body);
            expect(frames[frames.length - 1].data).toBe(openai ? '[DONE]' : '{"type":"message_stop"}');
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
