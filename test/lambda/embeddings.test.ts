/**
 * POST /v1/embeddings end to end: the official openai SDK against the shipped dev server, on the mock and through the
 * fake Bedrock (whose recorded InvokeModel bodies are checked against what Bedrock accepts), and the pipeline in process
 * for validation, model-kind mismatches, rate limits and metering.
 */
import OpenAI from 'openai';
import { createApp } from '../../lambda/streaming-proxy/app';
import { Catalogue, parseModelsEnv } from '../../lambda/streaming-proxy/catalogue';
import { loadConfig } from '../../lambda/streaming-proxy/config';
import { embeddingSpec } from '../../lambda/streaming-proxy/embedding-models';
import { float32Base64 } from '../../lambda/streaming-proxy/openai/embeddings';
import { mockVector } from '../../lambda/streaming-proxy/upstream/mock';
import { embeddingBodyProblem, embeddingFamilyOf, fakeTokens, fakeVector } from '../support/bedrock-embedding-contract';
import { startDevServerProcess, type DevServerProcess } from '../support/dev-server-process';
import { FakeBedrock } from '../support/fake-bedrock';
import { MemorySink } from '../support/memory-sink';
import { harness, KEY, RecordingMeter, request, run } from '../support/proxy-harness';

jest.setTimeout(60_000);

const CREDS = { accessKeyId: 'AKIDEMBEDDINGSTEST', secretAccessKey: 'embeddings-test-secret' };
const texts = (n: number, prefix = 'text') => Array.from({ length: n }, (_, i) => `${prefix} number ${i}: ${'x'.repeat(i % 7)}`);
const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

function embedRequest(body: unknown) {
  return request('POST', '/v1/embeddings', body);
}

describe('the openai SDK against the dev server on the mock', () => {
  let dev: DevServerProcess;
  let openai: OpenAI;
  beforeAll(async () => {
    dev = await startDevServerProcess();
    openai = new OpenAI({ baseURL: `${dev.url}/v1`, apiKey: dev.key, maxRetries: 0 });
  });
  afterAll(() => dev?.stop());

  test('embeds a string with a deterministic unit-length vector of the model\'s default length', async () => {
    const first = await openai.embeddings.create({ model: 'titan-embed-text-v2', input: 'hello embeddings' });
    const again = await openai.embeddings.create({ model: 'titan-embed-text-v2', input: 'hello embeddings' });
    expect(first.object).toBe('list');
    expect(first.model).toBe('titan-embed-text-v2');
    expect(first.data).toHaveLength(1);
    expect(first.data[0]).toMatchObject({ object: 'embedding', index: 0 });
    expect(first.data[0].embedding).toHaveLength(1024);
    expect(norm(first.data[0].embedding)).toBeCloseTo(1, 5);
    expect(again.data[0].embedding).toEqual(first.data[0].embedding);
    expect(first.usage.prompt_tokens).toBeGreaterThan(0);
    expect(first.usage.total_tokens).toBe(first.usage.prompt_tokens);
  });

  test('keeps the order of an array, gives different texts different vectors, and honours dimensions', async () => {
    const input = texts(5);
    const result = await openai.embeddings.create({ model: 'cohere-embed-v4', input, dimensions: 256 });
    expect(result.data.map((d) => d.index)).toEqual([0, 1, 2, 3, 4]);
    for (const [i, d] of result.data.entries()) {
      expect(d.embedding).toHaveLength(256);
      // The mock's vector for exactly that text, as float32.
      expect(d.embedding).toEqual(mockVector(input[i], 256).map((v) => Math.fround(v)));
    }
    expect(result.data[0].embedding).not.toEqual(result.data[1].embedding);
    const v4Default = await openai.embeddings.create({ model: 'cohere-embed-v4', input: 'x' });
    expect(v4Default.data[0].embedding).toHaveLength(1536);
  });

  test('the SDK\'s default base64 encoding decodes to exactly the float vectors', async () => {
    const input = ['alpha', 'beta'];
    const floats = await openai.embeddings.create({ model: 'titan-embed-text-v2', input, encoding_format: 'float' });
    const decoded = await openai.embeddings.create({ model: 'titan-embed-text-v2', input });
    expect(decoded.data.map((d) => d.embedding)).toEqual(floats.data.map((d) => d.embedding));
    const raw = await fetch(`${dev.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'authorization': `Bearer ${dev.key}` },
      body: JSON.stringify({ model: 'titan-embed-text-v2', input, encoding_format: 'base64' }),
    });
    const body = await raw.json() as { data: { embedding: unknown }[] };
    expect(body.data[0].embedding).toBe(float32Base64(floats.data[0].embedding));
  });

  test('an unknown model is a 404 naming model, as in production', async () => {
    await expect(openai.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }))
      .rejects.toMatchObject({ status: 404, param: 'model' });
  });

  test('the request log shows the tokens', async () => {
    await openai.embeddings.create({ model: 'titan-embed-text-v2', input: 'logged text' });
    for (let i = 0; i < 40 && !dev.requestLines().some((l) => l.includes('/v1/embeddings 200')); i++) await new Promise((r) => setTimeout(r, 25));
    expect(dev.requestLines().join('\n')).toMatch(/POST \/v1\/embeddings 200 titan-embed-text-v2 json in=\d+ out=0/);
  });
});

describe('the openai SDK against the dev server on the fake Bedrock', () => {
  let fake: FakeBedrock;
  let dev: DevServerProcess;
  let openai: OpenAI;
  beforeAll(async () => {
    fake = new FakeBedrock({ credentials: [CREDS], enforceSignatures: true });
    await fake.start();
    dev = await startDevServerProcess({
      args: ['--upstream', 'bedrock', '--region', 'us-east-1'],
      env: { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url, AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey },
    });
    openai = new OpenAI({ baseURL: `${dev.url}/v1`, apiKey: dev.key, maxRetries: 0 });
  });
  afterAll(async () => {
    await dev?.stop();
    await fake?.stop();
  });
  beforeEach(() => fake.reset());

  const invokes = () => fake.requests.filter((r) => r.operation === 'invoke').map((r) => ({ ...r, body: r.body as Record<string, unknown> }));

  test('Titan V2: one signed InvokeModel call per text, in order, with the body Bedrock accepts', async () => {
    const input = texts(5, 'titan');
    const result = await openai.embeddings.create({ model: 'titan-embed-text-v2', input, dimensions: 512 });
    expect(result.data.map((d) => d.embedding)).toEqual(input.map((t) => fakeVector('amazon.titan-embed-text-v2:0', t, 512)));
    expect(result.usage.prompt_tokens).toBe(input.reduce((n, t) => n + fakeTokens(t), 0));
    const calls = invokes();
    expect(calls).toHaveLength(5);
    for (const call of calls) {
      expect(call).toMatchObject({ modelId: 'amazon.titan-embed-text-v2:0', signatureValid: true });
      expect(call.rejected).toBeUndefined();
      expect(call.body).toEqual({ inputText: expect.any(String), dimensions: 512, normalize: true });
    }
    expect(calls.map((c) => c.body.inputText).sort()).toEqual([...input].sort());
  });

  test('Cohere v3: 200 texts go out as batches of 96, 96 and 8 and come back in order', async () => {
    const input = texts(200, 'cohere');
    const result = await openai.embeddings.create({ model: 'cohere-embed-english-v3', input, encoding_format: 'float' });
    expect(result.data).toHaveLength(200);
    expect(result.data.map((d) => d.index)).toEqual(input.map((_, i) => i));
    expect(result.data.map((d) => d.embedding)).toEqual(input.map((t) => fakeVector('cohere.embed-english-v3', t, 1024)));
    const calls = invokes();
    expect(calls.map((c) => (c.body.texts as string[]).length).sort((a, b) => b - a)).toEqual([96, 96, 8]);
    for (const call of calls) {
      expect(call.body).toEqual({ texts: expect.any(Array), input_type: 'search_document', embedding_types: ['float'] });
      expect(embeddingBodyProblem(embeddingFamilyOf(call.modelId!)!, call.body)).toBeUndefined();
    }
    // The token count is Bedrock's (the X-Amzn-Bedrock-Input-Token-Count header), not an estimate.
    expect(result.usage.prompt_tokens).toBe(input.reduce((n, t) => n + fakeTokens(t), 0));
  });

  test('Cohere v4: dimensions become output_dimension, input_type is passed, base64 decodes to the same vectors', async () => {
    const input = ['query one', 'query two'];
    const result = await openai.embeddings.create({
      model: 'cohere-embed-v4', input, dimensions: 1024, input_type: 'search_query',
    } as OpenAI.EmbeddingCreateParams & { input_type: string });
    expect(result.data.map((d) => d.embedding)).toEqual(input.map((t) => fakeVector('cohere.embed-v4:0', t, 1024)));
    expect(invokes()[0].body).toEqual({ texts: input, input_type: 'search_query', embedding_types: ['float'], output_dimension: 1024 });
  });

  test('Bedrock errors map like the chat path: throttling is 429, access denied 403', async () => {
    fake.enqueueFault({ kind: 'http-error', status: 429, exception: 'ThrottlingException', message: 'Too many requests' }, { model: 'cohere.embed-v4:0' });
    await expect(openai.embeddings.create({ model: 'cohere-embed-v4', input: 'x' })).rejects.toMatchObject({ status: 429 });
    fake.enqueueFault({ kind: 'http-error', status: 403, exception: 'AccessDeniedException', message: 'no access' }, { model: 'cohere.embed-v4:0' });
    await expect(openai.embeddings.create({ model: 'cohere-embed-v4', input: 'x' })).rejects.toMatchObject({ status: 403 });
  });
});

describe('the pipeline with the Bedrock upstream (createApp, fake Bedrock)', () => {
  let fake: FakeBedrock;
  beforeAll(async () => {
    fake = new FakeBedrock({ credentials: [CREDS], enforceSignatures: true, omitEmbeddingTokenHeader: true, embeddingDelayMs: 20 });
    await fake.start();
  });
  afterAll(() => fake.stop());
  beforeEach(() => fake.reset());

  function app(env: Record<string, string> = {}) {
    const meter = new RecordingMeter();
    const config = loadConfig({
      PROXY_AUTH_MODE: 'api-keys',
      PROXY_API_KEYS_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf',
      AWS_REGION: 'us-east-1',
      ...env,
    });
    const proxy = createApp(config, {
      auth: { loadKeys: async () => JSON.stringify({ alice: KEY }) },
      meter,
      upstreams: { bedrockClientConfig: { credentials: CREDS, endpoint: fake.url } },
    });
    return { proxy, meter };
  }

  test('Titan calls run at most 8 at a time; metering records the tokens and the cost at the list price', async () => {
    const { proxy, meter } = app();
    const sink = new MemorySink();
    const input = texts(20);
    await proxy.handle(embedRequest({ model: 'titan-embed-text-v2', input }), sink);
    expect(sink.status).toBe(200);
    expect(fake.maxEmbeddingsInFlight).toBeGreaterThan(1);
    expect(fake.maxEmbeddingsInFlight).toBeLessThanOrEqual(8);
    const tokens = input.reduce((n, t) => n + fakeTokens(t), 0);
    expect(sink.json().usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens });
    expect(sink.headers['x-token-count']).toBe('exact');
    const record = meter.records[0];
    expect(record).toMatchObject({ route: 'embeddings', protocol: 'openai', status: 200, outcome: 'ok', model: 'titan-embed-text-v2', target: 'amazon.titan-embed-text-v2:0', inputTokens: tokens, outputTokens: 0, stream: false });
    expect(record.estimatedCost).toBeCloseTo(tokens * 0.02 / 1e6, 15);
  });

  test('Cohere without the token-count header: usage is an estimate and says so', async () => {
    const { proxy, meter } = app();
    const sink = new MemorySink();
    await proxy.handle(embedRequest({ model: 'cohere-embed-multilingual-v3', input: ['abcdefgh', 'abcd'] }), sink);
    expect(sink.status).toBe(200);
    expect(sink.headers['x-token-count']).toBe('estimate');
    expect(sink.json().usage.prompt_tokens).toBe(3);
    expect(meter.records[0].inputTokens).toBe(3);
  });

  test('one failed batch fails the request with the mapped status', async () => {
    const { proxy, meter } = app();
    fake.enqueueFault({ kind: 'http-error', status: 400, exception: 'ValidationException', message: 'Input is too long for requested model.' });
    const sink = new MemorySink();
    await proxy.handle(embedRequest({ model: 'titan-embed-text-v2', input: texts(3) }), sink);
    expect(sink.status).toBe(400);
    expect(sink.json().error.message).toMatch(/too long/);
    expect(meter.records[0]).toMatchObject({ outcome: 'upstream_error', inputTokens: 0 });
  });

  test('a deadline that passes while Bedrock is answering is a 504', async () => {
    const { proxy } = app();
    fake.enqueueFault({ kind: 'hang' });
    const sink = new MemorySink();
    await proxy.handle(embedRequest({ model: 'cohere-embed-v4', input: 'slow' }), sink, { deadline: Date.now() + 200 });
    expect(sink.status).toBe(504);
  });
});

describe('the pipeline: validation, model kinds, limits and metering', () => {
  const bad: [string, unknown, string, RegExp][] = [
    ['an empty array', { input: [] }, 'input', /at least 1/],
    ['an empty string', { input: '' }, 'input', /must not be empty/],
    ['an empty string in an array', { input: ['a', ''] }, 'input.1', /must not be empty/],
    ['too many inputs', { input: Array(2049).fill('a') }, 'input', /at most 2048/],
    ['token arrays', { input: [[1, 2, 3]] }, 'input', /token arrays/],
    ['a token array', { input: [1, 2, 3] }, 'input', /token arrays/],
    ['no input', {}, 'input', /required/],
    ['non-integer dimensions', { input: 'a', dimensions: 512.5 }, 'dimensions', /integer/],
    ['negative dimensions', { input: 'a', dimensions: -1 }, 'dimensions', />/],
    ['a dimension Titan does not support', { input: 'a', dimensions: 768 }, 'dimensions', /256, 512 or 1024/],
    ['an unknown encoding_format', { input: 'a', encoding_format: 'int8' }, 'encoding_format', /float/],
    ['an unknown input_type', { input: 'a', input_type: 'image' }, 'input_type', /search_document/],
  ];
  test.each(bad)('refuses %s with a 400 naming the param', async (_what, body, param, message) => {
    const h = harness();
    const sink = await run(h, embedRequest({ model: 'titan-embed-text-v2', ...(body as object) }));
    expect(sink.status).toBe(400);
    expect(sink.json().error).toMatchObject({ type: 'invalid_request_error', param, message: expect.stringMatching(message) });
    expect(h.upstream.embedCalls).toHaveLength(0);
  });

  test('Cohere v3 takes only 1024 dimensions', async () => {
    const h = harness();
    const refused = await run(h, embedRequest({ model: 'cohere-embed-english-v3', input: 'a', dimensions: 512 }));
    expect(refused.json().error).toMatchObject({ param: 'dimensions', message: expect.stringMatching(/only 1024/) });
    expect((await run(h, embedRequest({ model: 'cohere-embed-english-v3', input: 'a', dimensions: 1024 }))).status).toBe(200);
  });

  test('a chat model on /v1/embeddings is a 400 that names the chat endpoints', async () => {
    const h = harness();
    const sink = await run(h, embedRequest({ model: 'claude-sonnet-4-6', input: 'a' }));
    expect(sink.status).toBe(400);
    expect(sink.json().error).toMatchObject({ param: 'model', message: expect.stringMatching(/chat model.*\/v1\/chat\/completions.*\/v1\/messages/) });
  });

  test('an embedding model on /v1/messages, /v1/chat/completions or count_tokens is a 400 that names /v1/embeddings', async () => {
    const h = harness();
    const messages = await run(h, request('POST', '/v1/messages', { model: 'cohere-embed-v4', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }));
    expect(messages.status).toBe(400);
    expect(messages.json().error).toMatchObject({ type: 'invalid_request_error', message: expect.stringMatching(/embedding model; send it to POST \/v1\/embeddings/) });
    const chat = await run(h, request('POST', '/v1/chat/completions', { model: 'amazon.titan-embed-text-v2:0', messages: [{ role: 'user', content: 'hi' }] }));
    expect(chat.status).toBe(400);
    expect(chat.json().error).toMatchObject({ param: 'model', message: expect.stringMatching(/\/v1\/embeddings/) });
    const count = await run(h, request('POST', '/v1/messages/count_tokens', { model: 'titan-embed-text-v2', messages: [{ role: 'user', content: 'hi' }] }));
    expect(count.status).toBe(400);
    expect(h.upstream.calls).toHaveLength(0);
  });

  test('GET /v1/models marks embedding models with kind "embedding" in both shapes', async () => {
    const h = harness();
    const openai = (await run(h, request('GET', '/v1/models?format=openai'))).json().data as { id: string; kind?: string }[];
    const anthropic = (await run(h, request('GET', '/v1/models?limit=1000'))).json().data as { id: string; kind?: string }[];
    for (const list of [openai, anthropic]) {
      const kinds = Object.fromEntries(list.map((m) => [m.id, m.kind]));
      for (const id of ['titan-embed-text-v2', 'cohere-embed-english-v3', 'cohere-embed-multilingual-v3', 'cohere-embed-v4']) expect(kinds[id]).toBe('embedding');
      expect(kinds['claude-sonnet-4-6']).toBeUndefined();
      expect('claude-sonnet-4-6' in kinds).toBe(true);
    }
    const one = (await run(h, request('GET', '/v1/models/cohere-embed-v4?format=openai'))).json();
    expect(one).toMatchObject({ id: 'cohere-embed-v4', kind: 'embedding', owned_by: 'cohere' });
  });

  test('tokens count against the token budget, and a refused request reaches no upstream', async () => {
    const h = harness({ PROXY_RATE_LIMITS: '{"tokensPerMinute":50}' });
    const first = await run(h, embedRequest({ model: 'titan-embed-text-v2', input: 'y'.repeat(400) }));
    expect(first.status).toBe(200);
    expect(first.json().usage.prompt_tokens).toBe(100);
    const refused = await run(h, embedRequest({ model: 'titan-embed-text-v2', input: 'again' }));
    expect(refused.status).toBe(429);
    expect(refused.json().error.message).toMatch(/tokens-per-minute limit/);
    expect(h.upstream.embedCalls).toHaveLength(1);
    expect(h.meter.records.map((r) => r.outcome)).toEqual(['ok', 'rate_limited']);
  });

  test('the requests-per-minute limit applies to embeddings too', async () => {
    const h = harness({ PROXY_RATE_LIMITS: '{"requestsPerMinute":1}' });
    expect((await run(h, embedRequest({ model: 'titan-embed-text-v2', input: 'a' }))).status).toBe(200);
    expect((await run(h, embedRequest({ model: 'titan-embed-text-v2', input: 'a' }))).status).toBe(429);
  });

  test('metering records input tokens, no output tokens and the cost from the catalogue price', async () => {
    const h = harness();
    const sink = await run(h, embedRequest({ model: 'cohere-embed-v4', input: ['abcd', 'efghijkl'] }));
    expect(sink.status).toBe(200);
    const record = h.meter.records[0];
    expect(record).toMatchObject({ route: 'embeddings', model: 'cohere-embed-v4', target: 'cohere.embed-v4:0', inputTokens: 3, outputTokens: 0, outcome: 'ok' });
    expect(record.estimatedCost).toBeCloseTo(3 * 0.12 / 1e6, 15);
  });

  test('an upstream failure maps like the chat path (the mock\'s error directive)', async () => {
    const h = harness();
    const sink = await run(h, embedRequest({ model: 'titan-embed-text-v2', input: ['fine', '[[mock: error=throttling]]'] }));
    expect(sink.status).toBe(429);
    expect(h.meter.records[0].outcome).toBe('upstream_throttled');
  });

  test('a body larger than the limit is a 413 before anything else', async () => {
    const h = harness({ PROXY_MAX_BODY_BYTES: '1024' });
    const sink = await run(h, embedRequest({ model: 'titan-embed-text-v2', input: 'z'.repeat(2000) }));
    expect(sink.status).toBe(413);
  });

  test('GET /v1/embeddings is a 405 that names POST', async () => {
    const h = harness();
    const get = await run(h, request('GET', '/v1/embeddings'));
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
  });
});

describe('the fake Bedrock refuses embedding bodies as Bedrock does', () => {
  test.each([
    ['titan-v2', { dimensions: 512 }, /required key \[inputText\]/],
    ['titan-v2', { inputText: '' }, /minLength/],
    ['titan-v2', { inputText: 'a', dimensions: 768 }, /dimensions/],
    ['titan-v2', { inputText: 'a', normalize: 'yes' }, /normalize/],
    ['titan-v2', { inputText: 'a', input_type: 'search_query' }, /extraneous key \[input_type\]/],
    ['cohere-v3', { texts: ['a'] }, /required key \[input_type\]/],
    ['cohere-v3', { texts: Array(97).fill('a'), input_type: 'search_query' }, /1 to 96/],
    ['cohere-v3', { texts: ['a'], input_type: 'search_query', output_dimension: 1024 }, /extraneous key \[output_dimension\]/],
    ['cohere-v4', { texts: ['a'], input_type: 'search_query', output_dimension: 768 }, /output_dimension/],
    ['cohere-v4', { texts: ['a'], input_type: 'search_query', embedding_types: ['float32'] }, /embedding_types/],
  ] as const)('%s %j', (family, body, problem) => {
    expect(embeddingBodyProblem(family, body)).toMatch(problem);
  });
});

describe('embedding entries in PROXY_MODELS', () => {
  test('accept kind embedding on bedrock-invoke and mock, and refuse it on other upstreams', () => {
    const entry = (upstream: string) => JSON.stringify({ models: [{ id: 'e', kind: 'embedding', upstream, target: 'us.cohere.embed-v4:0' }] });
    expect(parseModelsEnv(entry('bedrock-invoke')).models[0].kind).toBe('embedding');
    expect(parseModelsEnv(entry('mock')).models[0].kind).toBe('embedding');
    expect(() => parseModelsEnv(entry('bedrock-converse'))).toThrow(/PROXY_MODELS: models\.0\.upstream embedding models are called through bedrock-invoke/);
    expect(() => parseModelsEnv(JSON.stringify({ models: [{ id: 'e', kind: 'vector', upstream: 'mock', target: 'x' }] }))).toThrow(/kind/);
  });

  test('an inference profile or an ARN of a known model gets that model\'s format; an unknown target on Bedrock is a 400 naming model', async () => {
    expect(embeddingSpec({ target: 'us.cohere.embed-v4:0', upstream: 'bedrock-invoke' })?.family).toBe('cohere-v4');
    expect(embeddingSpec({ target: 'arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0', upstream: 'bedrock-invoke' })?.family).toBe('titan-v2');
    expect(embeddingSpec({ target: 'amazon.titan-embed-text-v1', upstream: 'bedrock-invoke' })).toBeUndefined();
    expect(embeddingSpec({ target: 'my-embedder', upstream: 'mock' })?.defaultDimensions).toBe(1024);
    const catalogue = new Catalogue({ models: parseModelsEnv(JSON.stringify({ models: [{ id: 'old-titan', kind: 'embedding', upstream: 'bedrock-invoke', target: 'amazon.titan-embed-text-v1' }] })) });
    expect(catalogue.resolve('old-titan')?.kind).toBe('embedding');
    const config = loadConfig({
      PROXY_AUTH_MODE: 'api-keys',
      PROXY_API_KEYS_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf',
      AWS_REGION: 'us-east-1',
      PROXY_MODELS: JSON.stringify({ models: [{ id: 'old-titan', kind: 'embedding', upstream: 'bedrock-invoke', target: 'amazon.titan-embed-text-v1' }] }),
    });
    // Refused before any Bedrock call: the endpoint is a closed loopback port.
    const proxy = createApp(config, {
      auth: { loadKeys: async () => JSON.stringify({ alice: KEY }) },
      meter: new RecordingMeter(),
      upstreams: { bedrockClientConfig: { credentials: CREDS, endpoint: 'http://127.0.0.1:9' } },
    });
    const sink = new MemorySink();
    await proxy.handle(embedRequest({ model: 'old-titan', input: 'a' }), sink);
    expect(sink.status).toBe(400);
    expect(sink.json().error).toMatchObject({ param: 'model', message: expect.stringMatching(/cannot call the embedding model old-titan/) });
  });
});
