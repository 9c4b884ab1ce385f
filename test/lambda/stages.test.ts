/**
 * The pipeline's stages on their own (lambda/streaming-proxy/stages/): resolve, record and generate, with the
 * collaborators each one takes — what createProxy composes (test/lambda/pipeline.test.ts covers the composition).
 */
import { MemorySessionStore } from '../../lambda/shared/memory-sessions';
import { AnthropicSseEncoder } from '../../lambda/streaming-proxy/anthropic/sse';
import { Catalogue } from '../../lambda/streaming-proxy/catalogue';
import type { ProxyRequest } from '../../lambda/streaming-proxy/http';
import { Exchange } from '../../lambda/streaming-proxy/stages/exchange';
import { createGenerateStage } from '../../lambda/streaming-proxy/stages/generate';
import type { PolicyStage } from '../../lambda/streaming-proxy/stages/policy';
import { toRecord } from '../../lambda/streaming-proxy/stages/record';
import { createResolveStage } from '../../lambda/streaming-proxy/stages/resolve';
import { createSessionStage } from '../../lambda/streaming-proxy/stages/sessions';
import { MockUpstream } from '../../lambda/streaming-proxy/upstream/mock';
import { MemorySink } from '../support/memory-sink';
import { RecordingMeter } from '../support/proxy-harness';

const catalogue = new Catalogue({
  models: {
    replace: true,
    models: [
      { id: 'chat', upstream: 'mock', target: 'mock.chat', pricing: { inputPerMTok: 3, outputPerMTok: 15 } },
      { id: 'embed', upstream: 'mock', target: 'amazon.titan-embed-text-v2:0', kind: 'embedding' },
    ],
  },
  claudeFallback: 'none',
});

function exchange(overrides: Partial<ProxyRequest> = {}): Exchange {
  const request: ProxyRequest = {
    method: 'POST', path: '/v1/messages', query: new URLSearchParams(), headers: {}, body: Buffer.alloc(0), requestId: 'req_1', ...overrides,
  };
  return new Exchange(request, 1000, () => 1000, {});
}

describe('the resolve stage', () => {
  const stage = createResolveStage(catalogue);
  test('sets the exchange\'s model; an unknown name is a 404 naming model, the wrong kind a 400 naming the endpoint', () => {
    const x = exchange();
    expect(stage.resolve(x, 'chat').id).toBe('chat');
    expect(x.model?.id).toBe('chat');
    expect(() => stage.resolve(exchange(), 'nope')).toThrow(expect.objectContaining({ kind: 'not_found', options: expect.objectContaining({ param: 'model' }) }));
    expect(() => stage.resolve(exchange(), 'embed')).toThrow(/POST \/v1\/embeddings/);
    expect(() => stage.resolve(exchange(), 'chat', 'embedding')).toThrow(/is a chat model/);
  });

  test('parseBody: JSON in, a 400 for an empty or broken body', () => {
    expect(stage.parseBody(exchange({ body: Buffer.from('{"a":1}') }))).toEqual({ a: 1 });
    expect(() => stage.parseBody(exchange())).toThrow(/empty/);
    expect(() => stage.parseBody(exchange({ body: Buffer.from('{') }))).toThrow(/not valid JSON/);
  });
});

describe('the record stage', () => {
  test('the key dimension is the key name for API keys and `other` for anyone else; cost from the model\'s prices', () => {
    const x = exchange({ path: `/v1/${'x'.repeat(300)}` });
    x.identity = { id: 'alice', method: 'api-key', policy: { team: 'blue' } };
    x.model = catalogue.resolve('chat');
    x.usage.set({ input_tokens: 1_000_000, output_tokens: 100_000 });
    x.status = 200;
    const record = toRecord(x, 1250);
    expect(record).toMatchObject({ key: 'alice', team: 'blue', model: 'chat', target: 'mock.chat', durationMs: 250, status: 200, inputTokens: 1_000_000 });
    expect(record.estimatedCost).toBeCloseTo(3 + 1.5, 9);
    expect(record.path.length).toBeLessThanOrEqual(201);
    const jwt = exchange();
    jwt.identity = { id: 'user-123', method: 'jwt' };
    expect(toRecord(jwt, 1000).key).toBe('other');
    expect(toRecord(exchange(), 1000).key).toBeUndefined();
  });
});

describe('the generate stage', () => {
  function setup() {
    const calls: string[] = [];
    const policy: PolicyStage = {
      admit: async () => { calls.push('admit'); },
      recordUsage: async (x) => { calls.push(`recordUsage:${x.usage.totalTokens}`); },
    };
    const store = new MemorySessionStore({ ttlSeconds: 60, maxBytes: 1_000_000 });
    const sessions = createSessionStage({ sessions: store, meter: new RecordingMeter() });
    const upstreams = () => new MockUpstream();
    const generate = createGenerateStage({ config: { pingIntervalMs: 10_000 }, upstreams, policy, sessions, now: () => 1000 });
    return { calls, store, generate };
  }
  const request = (stream: boolean) => ({ model: 'chat', max_tokens: 64, stream, messages: [{ role: 'user' as const, content: 'Hello' }] });

  test('whole: admits, calls, commits (usage, then the conversation) before the body is sent', async () => {
    const { calls, store, generate } = setup();
    const x = exchange({ headers: { 'x-session-id': 's1' } });
    x.identity = { id: 'alice', method: 'api-key' };
    const writes: string[] = [];
    const sink = new MemorySink({ onWrite: () => writes.push(`write after ${calls.length} calls`) });
    await generate.run(sink, x, request(false), catalogue.resolve('chat')!, undefined, undefined, (r) => JSON.stringify(r));
    expect(calls[0]).toBe('admit');
    expect(calls[1]).toMatch(/^recordUsage:[1-9]\d*$/);
    expect(calls).toHaveLength(2);
    expect(writes[0]).toBe('write after 2 calls');
    expect(sink.status).toBe(200);
    expect(await store.load('alice', 's1')).toHaveLength(2);
  });

  test('streamed: the commit runs once, before the end of the stream', async () => {
    const { calls, generate } = setup();
    const x = exchange();
    x.identity = { id: 'alice', method: 'api-key' };
    let committedAtStop: number | undefined;
    const sink = new MemorySink({ onWrite: (chunk) => { if (chunk.includes('message_stop')) committedAtStop = calls.length; } });
    await generate.run(sink, x, request(true), catalogue.resolve('chat')!, undefined, new AnthropicSseEncoder('chat'), () => '');
    expect(calls.filter((c) => c.startsWith('recordUsage'))).toHaveLength(1);
    expect(committedAtStop).toBe(2); // admit and recordUsage, before message_stop went out
    expect(sink.body).toContain('event: message_stop');
    expect(x.status).toBe(200);
  });
});
