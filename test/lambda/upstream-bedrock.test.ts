/**
 * The Bedrock upstreams against the fake Bedrock, through the real @aws-sdk/client-bedrock-runtime (and, for the
 * Anthropic Messages endpoint, the proxy's own SigV4-signed HTTP call). No mocked SDK clients.
 */
import { BedrockRuntimeClient, InvokeModelWithResponseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { UpstreamError, type CanonicalEvent, type CanonicalRequest } from '../../lambda/shared/canonical';
import { Catalogue } from '../../lambda/streaming-proxy/catalogue';
import { createUpstreams, type UpstreamsOptions } from '../../lambda/streaming-proxy/upstream';
import type { ResolvedModel, Upstream, UpstreamCall } from '../../lambda/streaming-proxy/upstream/types';
import { accumulate, assertValidSequence } from '../support/canonical-stream';
import { claudeEvents, FakeBedrock, type FakeResponse } from '../support/fake-bedrock';

const CREDS = { accessKeyId: 'AKIDFAKEBEDROCKTEST', secretAccessKey: 'fake-secret-key-for-sigv4-verification' };
const catalogue = new Catalogue();
let fake: FakeBedrock;

beforeAll(async () => {
  fake = new FakeBedrock({ credentials: [CREDS], enforceSignatures: true });
  await fake.start();
});
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

function upstreams(extra: Partial<UpstreamsOptions> = {}) {
  return createUpstreams({
    region: 'us-east-1',
    bedrockClientConfig: { credentials: CREDS, endpoint: fake.url },
    timeouts: { firstByteMs: 2_000, idleMs: 2_000, completeMs: 5_000 },
    ...extra,
  });
}

function model(name: string): ResolvedModel {
  const m = catalogue.resolve(name);
  if (!m) throw new Error(`no model ${name}`);
  return m;
}

function request(modelName: string, overrides: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return { model: modelName, max_tokens: 256, messages: [{ role: 'user', content: 'Say hello' }], stream: true, ...overrides };
}

function call(m: ResolvedModel, overrides: Partial<CanonicalRequest> = {}, signal = new AbortController().signal): UpstreamCall {
  return { request: request(m.requested, overrides), model: m, signal, requestId: 'req-0001' };
}

async function waitFor(condition: () => boolean, ms = 2_000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function collect(iterable: AsyncIterable<CanonicalEvent>): Promise<CanonicalEvent[]> {
  const out: CanonicalEvent[] = [];
  for await (const e of iterable) out.push(e);
  return out;
}

/** Collects until the stream throws; returns what arrived before and the error. */
async function collectUntilError(iterable: AsyncIterable<CanonicalEvent>): Promise<{ events: CanonicalEvent[]; error: UpstreamError }> {
  const events: CanonicalEvent[] = [];
  try {
    for await (const e of iterable) events.push(e);
  } catch (err) {
    expect(err).toBeInstanceOf(UpstreamError);
    return { events, error: err as UpstreamError };
  }
  throw new Error(`expected the stream to fail; got ${events.length} events`);
}

const RICH: FakeResponse = {
  blocks: [
    { type: 'thinking', thinking: 'Let me think about the weather in Paris first.', signature: 'EqQBCkYIBxgCKkD-signature==' },
    // Redacted thinking is an opaque, base64-encoded blob (Converse carries it as bytes).
    { type: 'redacted_thinking', data: Buffer.from('encrypted reasoning the model chose not to show').toString('base64') },
    { type: 'text', text: 'I will look that up.' },
    { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_weather', input: { location: 'Paris, France', unit: 'celsius' } },
  ],
  stopReason: 'tool_use',
  usage: { input_tokens: 1234, output_tokens: 87, cache_creation_input_tokens: 100, cache_read_input_tokens: 900 },
  chunkChars: 7,
};

describe('bedrock-invoke (InvokeModelWithResponseStream / InvokeModel)', () => {
  test('sends InvokeModelWithResponseStream as the SDK does: path label encoding, headers, SigV4', async () => {
    const target = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123';
    const m: ResolvedModel = { ...model('claude-sonnet-4-6'), target };
    await collect(upstreams()(m).stream(call(m)));
    expect(fake.requests[0]).toMatchObject({
      path: '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc123/invoke-with-response-stream',
      modelId: target,
      signatureValid: true,
      headers: { 'content-type': 'application/json', 'x-amzn-bedrock-accept': 'application/json' },
    });
  });

  test('streams Claude events through with the client model name restored and a valid SigV4 signature', async () => {
    const m = model('claude-sonnet-4-5-20250929');
    const events = await collect(upstreams()(m).stream(call(m, { metadata: { user_id: 'u1' } })));
    assertValidSequence(events);
    expect(accumulate(events)).toMatchObject({ model: 'claude-sonnet-4-5-20250929', stopReason: 'end_turn' });
    expect((accumulate(events).content[0] as { text: string }).text).toBe('Hello from the fake Bedrock (global.anthropic.claude-sonnet-4-5-20250929-v1:0): Say hello');

    const [sent] = fake.requests;
    expect(sent).toMatchObject({
      operation: 'invoke-with-response-stream',
      modelId: 'global.anthropic.claude-sonnet-4-5-20250929-v1:0',
      region: 'us-east-1',
      signatureValid: true,
      httpVersion: '1.1',
    });
    // metadata goes to Bedrock as sent: Claude Code's own Bedrock mode sends it (test/fixtures/claude-code).
    expect(sent.body).toEqual({
      anthropic_version: 'bedrock-2023-05-31', max_tokens: 256, messages: [{ role: 'user', content: 'Say hello' }], metadata: { user_id: 'u1' },
    });
  });

  test('passes thinking, signatures, redacted thinking, tool input deltas and cache usage through unchanged', async () => {
    const m = model('claude-opus-4-6');
    fake.script({}, RICH);
    const events = await collect(upstreams()(m).stream(call(m)));
    const sent = claudeEvents(RICH, m.target);
    // Identical event for event, except the model name (restored) and Bedrock's invocation metrics (removed).
    expect(events).toEqual(sent.map((e) => {
      if (e.type === 'message_start') return { ...e, message: { ...(e.message as object), model: 'claude-opus-4-6' } };
      if (e.type === 'message_stop') return { type: 'message_stop' };
      return e;
    }));
    const message = accumulate(events);
    expect(message.content).toEqual(RICH.blocks);
    expect(message.usage).toMatchObject({ cache_creation_input_tokens: 100, cache_read_input_tokens: 900, output_tokens: 87 });
  });

  test('sends the Anthropic body with betas, tools, thinking and allowlisted extra fields, and asks for 1M context on [1m]', async () => {
    const m = model('claude-sonnet-4-5[1m]');
    await collect(upstreams()(m).stream(call(m, {
      system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
      tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'auto' },
      thinking: { type: 'enabled', budget_tokens: 1024 },
      anthropic_beta: ['interleaved-thinking-2025-05-14', 'context-management-2025-06-27'],
      extra: { context_management: { edits: [] }, model: 'must-not-leak', stream: true },
      temperature: 1,
      top_k: 5,
      stop_sequences: ['STOP'],
    })));
    expect(fake.requests[0].body).toEqual({
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'Say hello' }],
      system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
      tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'auto' },
      thinking: { type: 'enabled', budget_tokens: 1024 },
      anthropic_beta: ['interleaved-thinking-2025-05-14', 'context-management-2025-06-27', 'context-1m-2025-08-07'],
      context_management: { edits: [] },
      temperature: 1,
      top_k: 5,
      stop_sequences: ['STOP'],
    });
  });

  test('complete() calls InvokeModel and restores the model name', async () => {
    const m = model('claude-haiku-4-5');
    fake.script({}, RICH);
    const message = await upstreams()(m).complete(call(m, { stream: false }));
    expect(fake.requests[0].operation).toBe('invoke');
    expect(message).toMatchObject({ model: 'claude-haiku-4-5', stop_reason: 'tool_use', usage: { cache_read_input_tokens: 900 } });
    expect(message.content).toEqual(RICH.blocks);
  });

  test('countTokens calls Bedrock CountTokens with the foundation model id and the InvokeModel body', async () => {
    const m = model('claude-sonnet-4-6');
    const tokens = await upstreams()(m).countTokens!(call(m));
    expect(fake.requests[0]).toMatchObject({ operation: 'count-tokens', modelId: 'anthropic.claude-sonnet-4-6', signatureValid: true });
    const body = fake.requests[0].body as { input: { invokeModel: { body: string } } };
    const inner = JSON.parse(Buffer.from(body.input.invokeModel.body, 'base64').toString('utf8'));
    expect(inner).toMatchObject({ anthropic_version: 'bedrock-2023-05-31', messages: [{ role: 'user', content: 'Say hello' }] });
    expect(tokens).toBe(Math.ceil(JSON.stringify(inner.messages).length / 4));
  });

  test('countTokens answers undefined (estimate) for models the catalogue does not mark as countable', async () => {
    const m = model('claude-3-5-haiku-latest');
    expect(await upstreams()(m).countTokens!(call(m))).toBeUndefined();
    expect(fake.requests).toHaveLength(0);
  });
});

describe('the fake against the real SDK command', () => {
  // The bedrock-invoke upstream decodes InvokeModelWithResponseStream itself (event-stream.ts); these keep both the fake
  // and that decoder honest against the SDK's own InvokeModelWithResponseStreamCommand.
  function sdkClient() {
    return new BedrockRuntimeClient({ region: 'us-east-1', endpoint: fake.url, credentials: CREDS, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
  }

  test('the SDK command decodes the same Claude events the upstream passes on', async () => {
    const m = model('claude-sonnet-4-6');
    fake.script({}, RICH);
    const response = await sdkClient().send(new InvokeModelWithResponseStreamCommand({ modelId: m.target, body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }) }));
    const viaSdk: unknown[] = [];
    for await (const part of response.body!) viaSdk.push(JSON.parse(new TextDecoder().decode(part.chunk!.bytes)));
    const viaUpstream = await collect(upstreams()(m).stream(call(m)));
    expect(viaUpstream).toEqual(viaSdk.map((e) => {
      const event = e as { type: string; message?: object };
      if (event.type === 'message_start') return { ...event, message: { ...event.message, model: 'claude-sonnet-4-6' } };
      if (event.type === 'message_stop') return { type: 'message_stop' };
      return event;
    }));
    expect(fake.requests[0].path).toBe(fake.requests[1].path);
    expect(fake.requests.map((r) => r.signatureValid)).toEqual([true, true]);
  });

  test('the SDK command sees the fake\'s exception frames as the exceptions the upstream reports', async () => {
    const m = model('claude-sonnet-4-6');
    fake.enqueueFault({ kind: 'exception', afterEvents: 0, exception: 'throttlingException', message: 'Too many tokens' });
    // (The SDK reads the first frame before send() resolves, so the exception may surface from either.)
    await expect((async () => {
      const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
      const response = await sdkClient().send(new InvokeModelWithResponseStreamCommand({ modelId: m.target, body }));
      for await (const part of response.body!) void part;
    })()).rejects.toMatchObject({ name: 'ThrottlingException', message: 'Too many tokens' });
    fake.enqueueFault({ kind: 'exception', afterEvents: 0, exception: 'throttlingException', message: 'Too many tokens' });
    const { error } = await collectUntilError(upstreams({ maxAttempts: 1 })(m).stream(call(m)));
    expect([error.kind, error.message]).toEqual(['throttling', 'Bedrock: Too many tokens']);
  });
});

describe('bedrock-messages (the Bedrock Anthropic Messages endpoint)', () => {
  test('streams SSE from /anthropic/v1/messages, SigV4-signed for service bedrock, model id in the body', async () => {
    const m = model('claude-sonnet-5-5');
    fake.script({}, RICH);
    const events = await collect(upstreams()(m).stream(call(m)));
    assertValidSequence(events);
    const message = accumulate(events);
    expect(message.model).toBe('claude-sonnet-5-5');
    expect(message.content).toEqual(RICH.blocks);
    const [sent] = fake.requests;
    expect(sent).toMatchObject({ operation: 'messages', path: '/anthropic/v1/messages', region: 'us-east-1', signatureValid: true, authorization: 'sigv4' });
    expect(sent.headers.authorization).toContain('/us-east-1/bedrock/aws4_request');
    expect(sent.body).toEqual({
      model: 'global.anthropic.claude-sonnet-5-5',
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'Say hello' }],
      stream: true,
    });
  });

  test('complete() posts stream:false and returns the JSON message', async () => {
    const m = model('claude-opus-4-7');
    fake.script({}, RICH);
    const message = await upstreams()(m).complete(call(m, { stream: false }));
    expect(fake.requests[0].body).toMatchObject({ stream: false, model: 'global.anthropic.claude-opus-4-7' });
    expect(message).toMatchObject({ model: 'claude-opus-4-7', content: RICH.blocks, stop_reason: 'tool_use' });
  });

  test('countTokens uses Bedrock CountTokens with the foundation model id', async () => {
    const m = model('claude-opus-4-7');
    expect(await upstreams()(m).countTokens!(call(m))).toBeGreaterThan(0);
    expect(fake.requests[0]).toMatchObject({ operation: 'count-tokens', modelId: 'anthropic.claude-opus-4-7' });
  });
});

describe('standard SDK endpoint and credential settings', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  function fromEnvironment(vars: Record<string, string>): void {
    for (const k of ['AWS_PROFILE', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_BEDROCK_RUNTIME', 'AWS_BEARER_TOKEN_BEDROCK', 'AWS_SESSION_TOKEN']) delete process.env[k];
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey, AWS_REGION: 'eu-west-1', ...vars });
  }

  test.each(['AWS_ENDPOINT_URL_BEDROCK_RUNTIME', 'AWS_ENDPOINT_URL'])(
    'every upstream call goes to %s with credentials from the default chain, including the Messages endpoint', async (variable) => {
      fromEnvironment({ [variable]: fake.url });
      const factory = createUpstreams({ timeouts: { firstByteMs: 2_000 } });
      for (const name of ['claude-sonnet-4-6', 'claude-sonnet-5-5', 'nova-pro']) {
        const m = model(name);
        assertValidSequence(await collect(factory(m).stream(call(m))));
      }
      expect(fake.requests.map((r) => [r.operation, r.region, r.signatureValid])).toEqual([
        ['invoke-with-response-stream', 'eu-west-1', true],
        ['messages', 'eu-west-1', true],
        ['converse-stream', 'eu-west-1', true],
      ]);
    });

  test('AWS_BEARER_TOKEN_BEDROCK (a Bedrock API key) authenticates the Messages endpoint with a bearer token', async () => {
    fromEnvironment({ AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url, AWS_BEARER_TOKEN_BEDROCK: 'bedrock-api-key-123' });
    const m = model('claude-sonnet-5-5');
    const unsigned = new FakeBedrock();
    // The enforcing fake rejects bearer tokens it cannot check; this one only records.
    await unsigned.start();
    try {
      process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = unsigned.url;
      await collect(createUpstreams()(m).stream(call(m)));
      expect(unsigned.requests[0]).toMatchObject({ authorization: 'bearer', headers: { authorization: 'Bearer bedrock-api-key-123' } });
    } finally {
      await unsigned.stop();
    }
  });
});

describe('bedrock-converse (ConverseStream / Converse)', () => {
  test('translates ConverseStream into a valid canonical sequence with stop reason and usage mapped', async () => {
    const m = model('nova-pro');
    fake.script({}, RICH);
    const events = await collect(upstreams()(m).stream(call(m)));
    assertValidSequence(events);
    const message = accumulate(events);
    expect(message).toMatchObject({ model: 'nova-pro', id: 'msg_bdrk_req0001', stopReason: 'tool_use' });
    expect(message.content).toEqual(RICH.blocks);
    expect(message.usage).toEqual({ input_tokens: 1234, output_tokens: 87, cache_read_input_tokens: 900, cache_creation_input_tokens: 100 });
    expect(fake.requests[0]).toMatchObject({ operation: 'converse-stream', modelId: 'us.amazon.nova-pro-v1:0', signatureValid: true });
  });

  test('sends the canonical request as a Converse request', async () => {
    const m = model('llama-3-3-70b');
    const png = Buffer.from('89504e470d0a1a0a', 'hex').toString('base64');
    await collect(upstreams()(m).stream(call(m, {
      system: 'Be brief.',
      temperature: 0.2,
      top_p: 0.9,
      stop_sequences: ['END'],
      tools: [{ name: 'lookup', description: 'Look up', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }],
      tool_choice: { type: 'any' },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Find cats' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'tu1', name: 'lookup', input: { q: 'cats' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu1', content: 'many cats', is_error: false }] },
      ],
    })));
    expect(fake.requests[0].body).toEqual({
      messages: [
        { role: 'user', content: [{ text: 'Find cats' }, { image: { format: 'png', source: { bytes: png } } }] },
        { role: 'assistant', content: [{ toolUse: { toolUseId: 'tu1', name: 'lookup', input: { q: 'cats' } } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: 'tu1', content: [{ text: 'many cats' }], status: 'success' } }] },
      ],
      system: [{ text: 'Be brief.' }],
      inferenceConfig: { maxTokens: 256, temperature: 0.2, topP: 0.9, stopSequences: ['END'] },
      toolConfig: {
        tools: [{ toolSpec: { name: 'lookup', description: 'Look up', inputSchema: { json: { type: 'object', properties: { q: { type: 'string' } } } } } }],
        toolChoice: { any: {} },
      },
    });
  });

  test('rejects content Converse cannot carry as a validation error before calling Bedrock', async () => {
    const m = model('nova-lite');
    const { error } = await collectUntilError(upstreams()(m).stream(call(m, {
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } }] }],
    })));
    expect(error.kind).toBe('validation');
    expect(fake.requests).toHaveLength(0);
  });

  test('complete() calls Converse', async () => {
    const m = model('mistral-large');
    fake.script({}, RICH);
    const message = await upstreams()(m).complete(call(m, { stream: false }));
    expect(fake.requests[0].operation).toBe('converse');
    expect(message).toMatchObject({ model: 'mistral-large', content: RICH.blocks, stop_reason: 'tool_use', usage: { input_tokens: 1234, output_tokens: 87 } });
  });
});

describe('errors', () => {
  const streaming: [string, string][] = [['bedrock-invoke', 'claude-sonnet-4-6'], ['bedrock-messages', 'claude-sonnet-5-5'], ['bedrock-converse', 'nova-pro']];

  test.each(streaming)('%s: HTTP errors before the first byte become UpstreamError kinds, with nothing yielded', async (_kind, name) => {
    const m = model(name);
    const cases: [number, string, string, string][] = [
      [429, 'ThrottlingException', 'Too many requests', 'throttling'],
      [503, 'ServiceUnavailableException', 'Bedrock is unable to process your request', 'overloaded'],
      [500, 'InternalServerException', 'boom', 'internal'],
      [400, 'ValidationException', 'Malformed input request', 'validation'],
      [400, 'ValidationException', 'The provided model identifier is invalid.', 'not_found'],
      [404, 'ResourceNotFoundException', 'Model not found', 'not_found'],
      [403, 'AccessDeniedException', "You don't have access to the model with the specified model ID.", 'access_denied'],
      [408, 'ModelTimeoutException', 'Model timed out', 'timeout'],
    ];
    for (const [status, exception, message, kind] of cases) {
      fake.enqueueFault({ kind: 'http-error', status, exception, message });
      // maxAttempts 1: the SDK's own retry would otherwise absorb the first 5xx / throttle.
      const { events, error } = await collectUntilError(upstreams({ maxAttempts: 1 })(m).stream(call(m)));
      expect([events.length, error.kind, error.upstreamStatus]).toEqual([0, kind, status]);
      expect(error.message).toContain(message);
      expect(error.retryable).toBe(['throttling', 'overloaded', 'internal', 'timeout'].includes(kind));
    }
  });

  test.each([['bedrock-invoke', 'claude-sonnet-4-6'], ['bedrock-converse', 'nova-pro']])(
    '%s: a throttling exception frame as the first frame is throttling', async (_kind, name) => {
      const m = model(name);
      fake.enqueueFault({ kind: 'exception', afterEvents: 0, exception: 'throttlingException', message: 'Too many tokens' });
      const { events, error } = await collectUntilError(upstreams({ maxAttempts: 1 })(m).stream(call(m)));
      expect(events).toHaveLength(0);
      expect(error.kind).toBe('throttling');
    });

  test.each(streaming)('%s: an exception mid-stream arrives after the events already sent', async (_kind, name) => {
    const m = model(name);
    fake.enqueueFault({ kind: 'exception', afterEvents: 3, exception: 'serviceUnavailableException', message: 'overloaded now', anthropicType: 'overloaded_error' });
    const { events, error } = await collectUntilError(upstreams()(m).stream(call(m)));
    expect(events[0].type).toBe('message_start');
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(error.kind).toBe('overloaded');
  });

  test.each(streaming)('%s: a malformed frame is an internal error', async (_kind, name) => {
    const m = model(name);
    fake.enqueueFault({ kind: 'malformed', afterEvents: 2 });
    const { events, error } = await collectUntilError(upstreams()(m).stream(call(m)));
    expect(events.length).toBeGreaterThan(0);
    expect(error.kind).toBe('internal');
  });

  test.each(streaming)('%s: a connection reset mid-stream is an internal error', async (_kind, name) => {
    const m = model(name);
    fake.enqueueFault({ kind: 'reset', afterEvents: 2 });
    const { error } = await collectUntilError(upstreams()(m).stream(call(m)));
    expect(error.kind).toBe('internal');
  });

  test.each(streaming)('%s: no first byte within firstByteMs is a retryable timeout', async (_kind, name) => {
    const m = model(name);
    fake.enqueueFault({ kind: 'hang' });
    const started = Date.now();
    const { events, error } = await collectUntilError(upstreams({ timeouts: { firstByteMs: 300 } })(m).stream(call(m)));
    expect([events.length, error.kind, error.retryable]).toEqual([0, 'timeout', true]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test.each(streaming)('%s: a stream silent for idleMs is a timeout after the events already sent', async (_kind, name) => {
    const m = model(name);
    fake.enqueueFault({ kind: 'hang', afterEvents: 3 });
    const { events, error } = await collectUntilError(upstreams({ timeouts: { idleMs: 300 } })(m).stream(call(m)));
    expect(events.length).toBeGreaterThan(0);
    expect(error.kind).toBe('timeout');
  });

  test('complete(): a hung InvokeModel fails with a timeout after completeMs', async () => {
    const m = model('claude-sonnet-4-6');
    fake.enqueueFault({ kind: 'hang' });
    await expect(upstreams({ timeouts: { completeMs: 300 } })(m).complete(call(m, { stream: false }))).rejects.toMatchObject({ kind: 'timeout' });
  });

  test('complete(): Bedrock errors are classified too', async () => {
    const m = model('claude-sonnet-5-5');
    fake.enqueueFault({ kind: 'http-error', status: 429, exception: 'ThrottlingException', message: 'slow down' });
    await expect(upstreams({ maxAttempts: 1 })(m).complete(call(m, { stream: false }))).rejects.toMatchObject({ kind: 'throttling', upstreamStatus: 429 });
  });
});

describe('stale keep-alive connections', () => {
  test.each([['bedrock-invoke', 'claude-sonnet-4-6'], ['bedrock-messages', 'claude-sonnet-5-5'], ['bedrock-converse', 'nova-pro']])(
    '%s: a connection closed by the server before it answered is retried once on a new connection', async (_kind, name) => {
      const m = model(name);
      fake.enqueueFault({ kind: 'drop' });
      assertValidSequence(await collect(upstreams()(m).stream(call(m))));
      expect(fake.requests).toHaveLength(2);
      fake.enqueueFault({ kind: 'drop' });
      fake.enqueueFault({ kind: 'drop' });
      const { events, error } = await collectUntilError(upstreams()(m).stream(call(m)));
      expect([events.length, error.kind, error.retryable]).toEqual([0, 'internal', true]);
      // (Under jest the SDK wraps Node's errors, which come from another realm: "AWS SDK error wrapper for … socket hang up".)
      expect(error.message).toMatch(/ECONNRESET|EPIPE|socket hang up/);
    });
});

describe('cancellation', () => {
  test.each([['bedrock-invoke', 'claude-sonnet-4-6'], ['bedrock-messages', 'claude-sonnet-5-5'], ['bedrock-converse', 'nova-pro']])(
    '%s: aborting the signal ends the upstream HTTP request', async (_kind, name) => {
      const m = model(name);
      fake.script({}, { blocks: [{ type: 'text', text: 'x'.repeat(2000) }], chunkChars: 10, eventDelayMs: 20 });
      const controller = new AbortController();
      const iterator = upstreams()(m).stream(call(m, {}, controller.signal))[Symbol.asyncIterator]();
      expect((await iterator.next()).value.type).toBe('message_start');
      controller.abort();
      await expect(iterator.next()).rejects.toMatchObject({ kind: 'timeout', retryable: false });
      await waitFor(() => fake.abandonedStreams === 1);
    });

  test('a consumer that stops reading releases the upstream connection', async () => {
    const m = model('claude-sonnet-4-6');
    fake.script({}, { blocks: [{ type: 'text', text: 'y'.repeat(5000) }], chunkChars: 10, eventDelayMs: 5 });
    const factory = upstreams();
    let n = 0;
    for await (const e of factory(m).stream(call(m))) {
      expect(e).toBeDefined();
      if (++n === 3) break;
    }
    await waitFor(() => fake.abandonedStreams === 1);
    fake.reset();
    // The same client serves the next call at once (the pool was not left holding a half-read stream).
    const events = await collect(factory(m).stream(call(m, { messages: [{ role: 'user', content: 'again' }] })));
    assertValidSequence(events);
  });
});

describe('scheduling', () => {
  test.each([['bedrock-invoke', 'claude-sonnet-4-6'], ['bedrock-messages', 'claude-sonnet-5-5'], ['bedrock-converse', 'nova-pro']])(
    '%s: events that arrive together still let the event loop turn after the first one and every few after', async (_kind, name) => {
      const m = model(name);
      fake.script({}, { blocks: [{ type: 'text', text: 'z'.repeat(300) }], chunkChars: 1 });
      let turns = 0;
      let index = 0;
      const seenAt: number[] = [];
      for await (const e of upstreams()(m).stream(call(m))) {
        expect(e).toBeDefined();
        if (index === 0) {
          // Count event-loop turns from here on: each setImmediate callback re-arms itself.
          const tick = () => {
            turns++;
            if (turns < 1000) setImmediate(tick);
          };
          setImmediate(tick);
        }
        seenAt.push(turns);
        index++;
      }
      // The turn after message_start came before the 3rd event (the first byte can leave at once), and over ~300 events
      // the loop turned many times instead of once at the end.
      expect(seenAt[2]).toBeGreaterThanOrEqual(1);
      expect(seenAt[seenAt.length - 1]).toBeGreaterThanOrEqual(5);
    });
});

describe('failover', () => {
  function failoverFactory(): (m: ResolvedModel) => Upstream {
    return upstreams({ failoverRegion: 'us-west-2', maxAttempts: 1 });
  }

  test.each([
    ['throttling (HTTP 429)', { kind: 'http-error', status: 429, exception: 'ThrottlingException' } as const],
    ['overloaded (HTTP 503)', { kind: 'http-error', status: 503, exception: 'ServiceUnavailableException' } as const],
    ['a throttling frame before the first event', { kind: 'exception', afterEvents: 0, exception: 'throttlingException' } as const],
    ['a 5xx', { kind: 'http-error', status: 500, exception: 'InternalServerException' } as const],
  ])('retries the failover region on %s before the first byte', async (_name, fault) => {
    const m = model('claude-sonnet-4-6');
    fake.enqueueFault(fault, { region: 'us-east-1' });
    const events = await collect(failoverFactory()(m).stream(call(m)));
    assertValidSequence(events);
    expect(fake.requests.map((r) => [r.region, r.modelId])).toEqual([
      ['us-east-1', 'global.anthropic.claude-sonnet-4-6'],
      ['us-west-2', 'global.anthropic.claude-sonnet-4-6'],
    ]);
  });

  test('uses the model\'s own failover target (another inference profile) and region', async () => {
    const m: ResolvedModel = { ...model('claude-sonnet-4-6'), failover: { region: 'eu-west-1', target: 'eu.anthropic.claude-sonnet-4-6' } };
    fake.enqueueFault({ kind: 'hang' }, { region: 'us-east-1' });
    const events = await collect(upstreams({ timeouts: { firstByteMs: 300 } })(m).stream(call(m)));
    assertValidSequence(events);
    expect(fake.requests.map((r) => [r.region, r.modelId])).toEqual([
      ['us-east-1', 'global.anthropic.claude-sonnet-4-6'],
      ['eu-west-1', 'eu.anthropic.claude-sonnet-4-6'],
    ]);
  });

  test('does not fail over once an event has been passed on', async () => {
    const m = model('claude-sonnet-4-6');
    fake.enqueueFault({ kind: 'exception', afterEvents: 2, exception: 'throttlingException' }, { region: 'us-east-1' });
    const { events, error } = await collectUntilError(failoverFactory()(m).stream(call(m)));
    expect(events).toHaveLength(2);
    expect(error.kind).toBe('throttling');
    expect(fake.requests).toHaveLength(1);
  });

  test('does not fail over on errors another region cannot fix', async () => {
    const m = model('claude-sonnet-4-6');
    fake.enqueueFault({ kind: 'http-error', status: 400, exception: 'ValidationException', message: 'Malformed input request' }, { region: 'us-east-1' });
    const { error } = await collectUntilError(failoverFactory()(m).stream(call(m)));
    expect(error.kind).toBe('validation');
    expect(fake.requests).toHaveLength(1);
  });

  test('complete() and countTokens fail over too; the second error is reported when both fail', async () => {
    const m = model('claude-sonnet-5-5');
    fake.enqueueFault({ kind: 'http-error', status: 429, exception: 'ThrottlingException' }, { region: 'us-east-1' });
    await expect(failoverFactory()(m).complete(call(m, { stream: false }))).resolves.toMatchObject({ model: 'claude-sonnet-5-5' });
    fake.enqueueFault({ kind: 'http-error', status: 503, exception: 'ServiceUnavailableException', message: 'first' }, { region: 'us-east-1' });
    fake.enqueueFault({ kind: 'http-error', status: 503, exception: 'ServiceUnavailableException', message: 'second' }, { region: 'us-west-2' });
    await expect(failoverFactory()(m).complete(call(m, { stream: false }))).rejects.toMatchObject({ kind: 'overloaded', message: expect.stringContaining('second') });
    fake.enqueueFault({ kind: 'http-error', status: 429, exception: 'ThrottlingException' }, { region: 'us-east-1', operation: 'count-tokens' });
    await expect(failoverFactory()(m).countTokens!(call(m))).resolves.toBeGreaterThan(0);
  });
});

describe('clients and protocols', () => {
  test('reuses one client and upstream per region across calls', () => {
    const factory = upstreams({ failoverRegion: 'us-west-2' });
    expect(factory(model('claude-sonnet-4-6'))).toBe(factory(model('claude-haiku-4-5')));
    expect(factory(model('nova-pro'))).not.toBe(factory(model('claude-sonnet-4-6')));
  });

  test('works over HTTP/2 as well (the SDK default handler)', async () => {
    const factory = upstreams({ httpVersion: 'http2' });
    for (const name of ['claude-sonnet-4-6', 'claude-sonnet-5-5', 'nova-pro']) {
      const m = model(name);
      assertValidSequence(await collect(factory(m).stream(call(m))));
    }
    expect(fake.requests.map((r) => r.httpVersion)).toEqual(['2.0', '2.0', '2.0']);
    expect(fake.requests.every((r) => r.signatureValid)).toBe(true);
  });

  test('the mock upstream answers everything in mock mode', () => {
    const mock: Upstream = { kind: 'mock', stream: () => (async function* () { /* empty */ })(), complete: () => Promise.reject(new Error('unused')) };
    expect(createUpstreams({ mode: 'mock', mock })(model('nova-pro'))).toBe(mock);
    expect(() => createUpstreams({ mode: 'mock' })(model('nova-pro'))).toThrow(UpstreamError);
  });
});
