/**
 * The newest `@anthropic-ai/sdk`'s Message Batches API (`client.messages.batches.*`) against the shipped dev server,
 * whose in-process queue and worker serve batches in memory: on the mock (a 100-request batch with one failing request,
 * cancel mid-way, pagination, delete, bad entries naming their custom_id) and through the fake Bedrock (a throttling
 * storm: retries with backoff, then `errored` after the budget, no hot loop).
 */
import Anthropic from '@anthropic-ai/sdk';
import type { MessageBatch, MessageBatchIndividualResponse } from '@anthropic-ai/sdk/resources/messages/batches';
import { startDevServerProcess, type DevServerProcess } from '../support/dev-server-process';
import { FakeBedrock } from '../support/fake-bedrock';

jest.setTimeout(90_000);

const MODEL = 'claude-sonnet-4-6';

function request(customId: string, text: string, model = MODEL): Anthropic.Messages.Batches.BatchCreateParams.Request {
  return { custom_id: customId, params: { model, max_tokens: 1024, messages: [{ role: 'user', content: text }] } };
}

async function untilEnded(client: Anthropic, id: string, timeoutMs = 60_000): Promise<MessageBatch> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await client.messages.batches.retrieve(id);
    if (batch.processing_status === 'ended') return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.processing_status}: ${JSON.stringify(batch.request_counts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The status and message of the API error a call was refused with (the SDK's message is the JSON body, escaped). */
async function refusal(promise: Promise<unknown>): Promise<{ status?: number; message?: string }> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(Anthropic.APIError);
  const e = error as InstanceType<typeof Anthropic.APIError>;
  return { status: e.status, message: (e.error as { error?: { message?: string } } | undefined)?.error?.message };
}

async function results(client: Anthropic, id: string): Promise<MessageBatchIndividualResponse[]> {
  const out: MessageBatchIndividualResponse[] = [];
  for await (const line of await client.messages.batches.results(id)) out.push(line);
  return out;
}

describe('message batches on the mock', () => {
  let server: DevServerProcess;
  let client: Anthropic;
  beforeAll(async () => {
    server = await startDevServerProcess();
    client = new Anthropic({ baseURL: server.url, apiKey: server.key, maxRetries: 0 });
  });
  afterAll(async () => server?.stop());

  test('a 100-request batch ends with 100 results matched by custom_id; the failing one is errored', async () => {
    const requests = Array.from({ length: 100 }, (_, i) => request(`req-${i}`, i === 37 ? 'Fail [[mock: error=validation]]' : `Say the number ${i}`));
    const created = await client.messages.batches.create({ requests });
    expect(created).toMatchObject({
      type: 'message_batch',
      processing_status: 'in_progress',
      results_url: null,
      ended_at: null,
      cancel_initiated_at: null,
      archived_at: null,
    });
    expect(created.id).toMatch(/^msgbatch_[0-9A-Z]{26}$/);
    expect(created.request_counts.processing + created.request_counts.succeeded + created.request_counts.errored).toBe(100);
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(24 * 3600 * 1000);

    const ended = await untilEnded(client, created.id);
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 99, errored: 1, canceled: 0, expired: 0 });
    expect(ended.results_url).toBe(`${server.url}/v1/messages/batches/${created.id}/results`);
    expect(Date.parse(ended.ended_at!)).toBeGreaterThanOrEqual(Date.parse(ended.created_at));

    const lines = await results(client, created.id);
    expect(lines).toHaveLength(100);
    expect(new Set(lines.map((l) => l.custom_id))).toEqual(new Set(requests.map((r) => r.custom_id)));
    for (const line of lines) {
      if (line.custom_id === 'req-37') {
        expect(line.result).toMatchObject({ type: 'errored', error: { type: 'error', error: { type: 'invalid_request_error' } } });
        continue;
      }
      expect(line.result.type).toBe('succeeded');
      if (line.result.type !== 'succeeded') continue;
      expect(line.result.message).toMatchObject({ type: 'message', role: 'assistant', model: MODEL, stop_reason: 'end_turn' });
      expect(line.result.message.usage.output_tokens).toBeGreaterThan(0);
      // Each result answers its own request.
      const n = line.custom_id.slice(4);
      const text = line.result.message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
      expect(text).toContain(`number ${n}`);
    }
  });

  test('cancel mid-way: the batch is canceling, then ends with the unprocessed requests canceled', async () => {
    const requests = Array.from({ length: 40 }, (_, i) => request(`slow-${i}`, `Slow ${i} [[mock: first_delay=150]]`));
    const created = await client.messages.batches.create({ requests });
    await new Promise((r) => setTimeout(r, 200));
    const canceling = await client.messages.batches.cancel(created.id);
    expect(canceling.processing_status).toBe('canceling');
    expect(canceling.cancel_initiated_at).not.toBeNull();
    const ended = await untilEnded(client, created.id);
    const c = ended.request_counts;
    expect(c.processing).toBe(0);
    expect(c.canceled).toBeGreaterThan(0);
    expect(c.succeeded).toBeGreaterThan(0);
    expect(c.succeeded + c.canceled).toBe(40);
    const lines = await results(client, created.id);
    expect(lines.filter((l) => l.result.type === 'canceled')).toHaveLength(c.canceled);
    // Canceling an ended batch changes nothing.
    expect((await client.messages.batches.cancel(created.id)).request_counts).toEqual(c);
  });

  test('list pages newest first; delete removes an ended batch and refuses one in progress', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await client.messages.batches.create({ requests: [request(`one-${i}`, 'Hi')] })).id);
    const firstPage = await client.messages.batches.list({ limit: 2 });
    expect(firstPage.data.map((b) => b.id)).toEqual([ids[2], ids[1]]);
    expect(firstPage.has_more).toBe(true);
    const all: string[] = [];
    for await (const b of client.messages.batches.list({ limit: 2 })) all.push(b.id);
    expect(all.slice(0, 3)).toEqual([ids[2], ids[1], ids[0]]);
    expect(all).toEqual([...all].sort().reverse());

    const slow = await client.messages.batches.create({ requests: [request('slow', 'Wait [[mock: first_delay=3000]]')] });
    expect(await refusal(client.messages.batches.delete(slow.id))).toMatchObject({ status: 400, message: expect.stringContaining('cancel it first') });
    await client.messages.batches.cancel(slow.id);

    await untilEnded(client, ids[0]);
    expect(await client.messages.batches.delete(ids[0])).toEqual({ id: ids[0], type: 'message_batch_deleted' });
    await expect(client.messages.batches.retrieve(ids[0])).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(client.messages.batches.retrieve('msgbatch_nope')).rejects.toMatchObject({ status: 404 });
  });

  test('a bad entry rejects the whole batch with its index and custom_id named; nothing is queued', async () => {
    const before = (await client.messages.batches.list({ limit: 1000 })).data.length;
    const bad = [request('ok', 'Hi'), { custom_id: 'broken', params: { model: MODEL, max_tokens: 0, messages: [{ role: 'user' as const, content: 'Hi' }] } }];
    expect(await refusal(client.messages.batches.create({ requests: bad }))).toMatchObject({
      status: 400, message: expect.stringMatching(/requests\[1\] \(custom_id "broken"\): params\.max_tokens/),
    });
    expect(await refusal(client.messages.batches.create({ requests: [request('dup', 'a'), request('dup', 'b')] }))).toMatchObject({
      status: 400, message: expect.stringContaining('requests[1] (custom_id "dup"): custom_id must be unique'),
    });
    expect(await refusal(client.messages.batches.create({ requests: [request('x', 'Hi', 'no-such-model')] }))).toMatchObject({
      status: 404, message: expect.stringContaining('requests[0] (custom_id "x"): params.model'),
    });
    expect(await refusal(client.messages.batches.create({ requests: [{ custom_id: 'bad id!', params: request('a', 'b').params }] }))).toMatchObject({
      status: 400, message: expect.stringContaining('requests[0].custom_id'),
    });
    expect(await refusal(client.messages.batches.create({ requests: [] }))).toMatchObject({ status: 400 });
    const streamed = { custom_id: 's', params: { ...request('s', 'Hi').params, stream: true } };
    expect(await refusal(client.messages.batches.create({ requests: [streamed] as never }))).toMatchObject({
      status: 400, message: expect.stringContaining('params.stream'),
    });
    expect((await client.messages.batches.list({ limit: 1000 })).data.length).toBe(before);
  });

  test('results before the end are refused; another key cannot see the batch', async () => {
    const slow = await client.messages.batches.create({ requests: [request('wait', 'Wait [[mock: first_delay=2000]]')] });
    const direct = await fetch(`${server.url}/v1/messages/batches/${slow.id}/results`, { headers: { 'x-api-key': server.key } });
    expect(direct.status).toBe(400);
    expect(await direct.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('has not ended') } });
    const stranger = await fetch(`${server.url}/v1/messages/batches/${slow.id}`, { headers: { 'x-api-key': 'sk-not-this-one' } });
    expect(stranger.status).toBe(401);
    await client.messages.batches.cancel(slow.id);
  });
});

describe('message batches through the fake Bedrock', () => {
  let fake: FakeBedrock;
  let server: DevServerProcess;
  let client: Anthropic;
  beforeAll(async () => {
    fake = new FakeBedrock();
    await fake.start();
    server = await startDevServerProcess({
      args: ['--upstream', 'bedrock', '--region', 'us-east-1'],
      env: {
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url,
        AWS_ACCESS_KEY_ID: 'AKIDBATCHES',
        AWS_SECRET_ACCESS_KEY: 'batches-secret',
        PROXY_BATCH_MAX_ATTEMPTS: '2',
        PROXY_BATCH_CALL_ATTEMPTS: '2',
      },
    });
    client = new Anthropic({ baseURL: server.url, apiKey: server.key, maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.stop();
    await fake?.stop();
  });

  test('a throttling storm: each request is retried with backoff, then errored after the budget, with no hot loop', async () => {
    fake.reset();
    const started = Date.now();
    const requests = [
      ...Array.from({ length: 4 }, (_, i) => request(`storm-${i}`, `Hi [[fake fault=throttle]] ${i}`)),
      request('calm', 'Hello'),
    ];
    const created = await client.messages.batches.create({ requests });
    const ended = await untilEnded(client, created.id);
    const elapsed = Date.now() - started;
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 1, errored: 4, canceled: 0, expired: 0 });
    const lines = await results(client, created.id);
    for (const line of lines.filter((l) => l.custom_id.startsWith('storm-'))) {
      expect(line.result).toMatchObject({ type: 'errored', error: { type: 'error', error: { type: 'rate_limit_error' } } });
    }
    expect(lines.find((l) => l.custom_id === 'calm')?.result).toMatchObject({ type: 'succeeded', message: { content: [{ type: 'text' }] } });
    // 2 deliveries × 2 calls per throttled request (the SDK's own retries of a 429 are counted too), and each
    // delivery waited: 500 ms between its calls, 1 s before the second delivery.
    const stormCalls = fake.requests.filter((r) => /fault=throttle/.test(JSON.stringify(r.body))).length;
    const perRequest = stormCalls / 4;
    expect(perRequest).toBeGreaterThanOrEqual(4);
    expect(perRequest).toBeLessThanOrEqual(4 * 3);
    expect(elapsed).toBeGreaterThanOrEqual(1400);
  });
});
