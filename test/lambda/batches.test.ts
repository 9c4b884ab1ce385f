/**
 * The Message Batches endpoints and worker in the pipeline, with the in-memory stores: batches per identity, key
 * policies (models, budgets) at submission, expiry, cancel, a job delivered twice ending once and charged once, a queue
 * that fails taking the batch back, results_url through a front door, and the routes. The SDK itself runs in
 * test/clients/anthropic-batches.test.ts; the AWS stores in test/lambda/batch-store-contract.test.ts.
 */
import { MemoryBatchObjects, MemoryBatchStore } from '../../lambda/shared/batches/memory';
import { batchKeys, type BatchBackends, type BatchJob, type BatchQueue } from '../../lambda/shared/batches/types';
import { createBatchWorker } from '../../lambda/streaming-proxy/batches/worker';
import { parseEvent } from '../../lambda/streaming-proxy/http';
import { matchRoute } from '../../lambda/streaming-proxy/router';
import { bundledFunctionSource, loadFunction, originRequestHeaders, viewerRequest } from '../support/cloudfront-function';
import { harness, KEY, request, run, type Harness } from '../support/proxy-harness';

const BOB = 'sk-test-key-bob-0123456789abcdef';
const MODEL = 'mock-no-count';

/** A queue that keeps the jobs for the test to deliver. */
class HeldQueue implements BatchQueue {
  public readonly jobs: BatchJob[] = [];
  public fail = false;
  async send(jobs: readonly BatchJob[]): Promise<void> {
    if (this.fail) throw new Error('queue unavailable');
    this.jobs.push(...jobs);
  }
}

interface Setup {
  h: Harness;
  queue: HeldQueue;
  backends: BatchBackends & { objects: MemoryBatchObjects; store: MemoryBatchStore };
  clock: { t: number };
  deliver(attempt?: number): Promise<void>;
}

function setup(keys: Record<string, unknown> = { alice: KEY, bob: BOB }): Setup {
  const queue = new HeldQueue();
  const backends = { store: new MemoryBatchStore(), objects: new MemoryBatchObjects(), queue };
  const clock = { t: Date.UTC(2026, 11, 3, 12) };
  const h = harness({}, { keys, batches: backends, now: () => clock.t });
  const worker = createBatchWorker({
    backends,
    catalogue: h.catalogue,
    upstreams: () => h.upstream,
    config: { maxAttempts: 2, callAttempts: 1, extraBetas: [] },
    spend: h.spend,
    meter: h.meter,
    now: () => clock.t,
    sleep: async () => undefined,
  });
  return {
    h,
    queue,
    backends,
    clock,
    async deliver(attempt = 1) {
      const jobs = queue.jobs.splice(0);
      for (const job of jobs) await worker.process(job, { attempt });
    },
  };
}

const entry = (customId: string, text = 'Hi', model = MODEL) => ({ custom_id: customId, params: { model, max_tokens: 256, messages: [{ role: 'user', content: text }] } });

async function submit(s: Setup, requests: unknown[], key = KEY) {
  return run(s.h, request('POST', '/v1/messages/batches', { requests }, { 'x-api-key': key }));
}

describe('batches in the pipeline', () => {
  test('a batch is visible only to the identity that submitted it', async () => {
    const s = setup();
    const created = (await submit(s, [entry('a')])).json();
    expect(created.processing_status).toBe('in_progress');
    for (const [method, path] of [['GET', ''], ['POST', '/cancel'], ['GET', '/results'], ['DELETE', '']] as const) {
      const other = await run(s.h, request(method, `/v1/messages/batches/${created.id}${path}`, undefined, { 'x-api-key': BOB }));
      expect({ method, path, status: other.status }).toEqual({ method, path, status: 404 });
      expect(other.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    }
    expect((await run(s.h, request('GET', '/v1/messages/batches', undefined, { 'x-api-key': BOB }))).json()).toEqual({ data: [], has_more: false, first_id: null, last_id: null });
    const mine = (await run(s.h, request('GET', '/v1/messages/batches'))).json();
    expect(mine.data.map((b: { id: string }) => b.id)).toEqual([created.id]);
  });

  test('a model the key may not use refuses the batch with 403 naming the request; a spent budget with 429', async () => {
    const s = setup({ alice: { key: KEY, models: [MODEL] }, bob: { key: BOB, budgets: { dailyUsd: 0.000001 } } });
    const refused = await submit(s, [entry('ok'), entry('other', 'Hi', 'claude-sonnet-4-6')]);
    expect(refused.status).toBe(403);
    expect(refused.json().error.message).toContain('requests[1] (custom_id "other")');
    expect(s.queue.jobs).toHaveLength(0);
    // Bob spends his budget with one batch; the next is refused before anything is stored.
    const first = (await submit(s, [entry('one', 'Say something long [[mock: words=200]]')], BOB)).json();
    await s.deliver();
    expect((await run(s.h, request('GET', `/v1/messages/batches/${first.id}`, undefined, { 'x-api-key': BOB }))).json().request_counts.succeeded).toBe(1);
    const over = await submit(s, [entry('two')], BOB);
    expect(over.status).toBe(429);
    expect(over.headers['retry-after']).toMatch(/^\d+$/);
  });

  test('the anthropic-beta header of the submission applies to each request of the batch', async () => {
    const s = setup();
    const sent = await run(s.h, request('POST', '/v1/messages/batches', { requests: [entry('a'), entry('b')] }, { 'anthropic-beta': 'tool-search-tool-2025-10-19' }));
    expect(sent.status).toBe(200);
    await s.deliver();
    expect(s.h.upstream.calls.map((c) => c.request.anthropic_beta)).toEqual([['tool-search-tool-2025-10-19'], ['tool-search-tool-2025-10-19']]);
    const plain = setup();
    await submit(plain, [entry('c')]);
    await plain.deliver();
    expect(plain.h.upstream.calls[0].request.anthropic_beta).toBeUndefined();
  });

  test('a budget spent while the batch runs ends its remaining requests errored with the 429 body, and they cost nothing', async () => {
    const s = setup({ alice: KEY, bob: { key: BOB, budgets: { dailyUsd: 0.000001 } } });
    const created = (await submit(s, [entry('first', 'Say something long [[mock: words=200]]'), entry('second'), entry('third')], BOB)).json();
    expect(s.queue.jobs).toHaveLength(3);
    await s.deliver();
    const ended = (await run(s.h, request('GET', `/v1/messages/batches/${created.id}`, undefined, { 'x-api-key': BOB }))).json();
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 1, errored: 2, canceled: 0, expired: 0 });
    const lines = (await run(s.h, request('GET', `/v1/messages/batches/${created.id}/results`, undefined, { 'x-api-key': BOB }))).body
      .trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[1]).toEqual({
      custom_id: 'second',
      result: { type: 'errored', error: { type: 'error', error: { type: 'rate_limit_error', message: expect.stringContaining('daily budget of $0.000001') } } },
    });
    // Only the first request reached the model.
    expect(s.h.upstream.calls).toHaveLength(1);
  });

  test('the spend store down: a budgeted batch\'s request waits for a later delivery (fail closed), then ends errored', async () => {
    const s = setup({ alice: KEY, bob: { key: BOB, budgets: { dailyUsd: 5 } } });
    const created = (await submit(s, [entry('only')], BOB)).json();
    const jobs = [...s.queue.jobs];
    s.h.spend.spent = async () => {
      throw new Error('store unreachable');
    };
    s.queue.jobs.push(...jobs);
    await s.deliver(1);
    let batch = (await run(s.h, request('GET', `/v1/messages/batches/${created.id}`, undefined, { 'x-api-key': BOB }))).json();
    expect(batch.request_counts.processing).toBe(1);
    s.queue.jobs.push(...jobs);
    await s.deliver(2);
    batch = (await run(s.h, request('GET', `/v1/messages/batches/${created.id}`, undefined, { 'x-api-key': BOB }))).json();
    expect(batch.request_counts).toMatchObject({ processing: 0, errored: 1 });
    const line = JSON.parse((await run(s.h, request('GET', `/v1/messages/batches/${created.id}/results`, undefined, { 'x-api-key': BOB }))).body);
    expect(line.result.error.error.message).toBe('Budgets could not be checked, and this proxy runs no request until they can.');
    expect(s.h.upstream.calls).toHaveLength(0);
  });

  test('each request ends once and is charged once, even when a worker dies before ending it and the job comes again', async () => {
    const s = setup();
    const created = (await submit(s, [entry('a'), entry('b')])).json();
    const jobs = [...s.queue.jobs];
    // The worker dies after the result and the charge, before `finish` (the store throws once for request 0).
    const finish = s.backends.store.finish.bind(s.backends.store);
    let crashed = false;
    s.backends.store.finish = async (id, index, result, nowMs) => {
      if (index === 0 && !crashed) {
        crashed = true;
        throw new Error('worker killed');
      }
      return finish(id, index, result, nowMs);
    };
    await expect(s.deliver()).rejects.toThrow('worker killed');
    expect((await run(s.h, request('GET', `/v1/messages/batches/${created.id}`))).json().request_counts.processing).toBe(2);
    // SQS delivers both again (the second one had not been deleted either).
    s.queue.jobs.push(...jobs);
    await s.deliver(2);
    // And once more after they ended: nothing moves, no model call.
    const calls = s.h.upstream.calls.length;
    s.queue.jobs.push(...jobs);
    await s.deliver(3);
    expect(s.h.upstream.calls.length).toBe(calls);
    const batch = (await run(s.h, request('GET', `/v1/messages/batches/${created.id}`))).json();
    expect(batch.request_counts).toEqual({ processing: 0, succeeded: 2, errored: 0, canceled: 0, expired: 0 });
    expect(s.backends.objects.count(batchKeys.prefix(created.id))).toBe(3); // input + one result per request
    const lines = (await run(s.h, request('GET', `/v1/messages/batches/${created.id}/results`))).body.trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).custom_id)).toEqual(['a', 'b']);
    const records = s.h.meter.records.filter((r) => r.route === 'batch_request');
    // Request 0's first call died before its record; the second delivery called the model for both.
    expect(records.map((r) => r.requestId.split('#')[1])).toEqual(['0', '1']);
    expect(s.h.upstream.calls.filter((c) => c.requestId.endsWith('#0'))).toHaveLength(2);
    expect(records[0]).toMatchObject({ key: 'alice', identity: 'alice', model: MODEL, outcome: 'ok' });
    const cost = records[0].estimatedCost!;
    expect(cost).toBeGreaterThan(0);
    // Request 0 was called twice but charged once (the charge's id is the request's, on every delivery).
    expect((await s.h.spend.spent('alice', s.clock.t)).day).toBeCloseTo(2 * cost, 12);
  });

  test('a batch past its 24 hours ends with its unprocessed requests expired', async () => {
    const s = setup();
    const done = (await submit(s, [entry('a'), entry('b'), entry('c')])).json();
    await s.deliver();
    const again = (await submit(s, [entry('x'), entry('y')])).json();
    const pending = s.queue.jobs.splice(0);
    s.queue.jobs.push(pending[0]);
    await s.deliver();
    s.clock.t += 24 * 3600 * 1000;
    const batch = (await run(s.h, request('GET', `/v1/messages/batches/${again.id}`))).json();
    expect(batch).toMatchObject({ processing_status: 'ended', request_counts: { processing: 0, succeeded: 1, expired: 1 } });
    const lines = (await run(s.h, request('GET', `/v1/messages/batches/${again.id}/results`))).body.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      expect.objectContaining({ custom_id: 'x', result: expect.objectContaining({ type: 'succeeded' }) }),
      { custom_id: 'y', result: { type: 'expired' } },
    ]);
    // A late delivery of the expired job changes nothing.
    s.queue.jobs.push(pending[1]);
    await s.deliver();
    expect((await run(s.h, request('GET', `/v1/messages/batches/${again.id}`))).json().request_counts).toEqual(batch.request_counts);
    // A batch that had ended keeps its counts.
    expect((await run(s.h, request('GET', `/v1/messages/batches/${done.id}`))).json().request_counts).toMatchObject({ succeeded: 3, expired: 0 });
  });

  test('jobs taken after a cancel end canceled without a model call', async () => {
    const s = setup();
    const created = (await submit(s, [entry('a'), entry('b')])).json();
    const cancel = (await run(s.h, request('POST', `/v1/messages/batches/${created.id}/cancel`))).json();
    expect(cancel.processing_status).toBe('canceling');
    const calls = s.h.upstream.calls.length;
    await s.deliver();
    expect(s.h.upstream.calls.length).toBe(calls);
    const ended = (await run(s.h, request('GET', `/v1/messages/batches/${created.id}`))).json();
    expect(ended).toMatchObject({ processing_status: 'ended', request_counts: { canceled: 2, processing: 0 } });
    expect(ended.results_url).toBe(`https://localhost/v1/messages/batches/${created.id}/results`);
  });

  test('an upstream failure is retried on a later delivery, then errored with its error body', async () => {
    const s = setup();
    const created = (await submit(s, [entry('t', 'Hi [[mock: error=throttling]]')])).json();
    const job = s.queue.jobs[0];
    await s.deliver(1);
    expect((await run(s.h, request('GET', `/v1/messages/batches/${created.id}`))).json().request_counts.processing).toBe(1);
    s.queue.jobs.push(job);
    await s.deliver(2);
    const lines = (await run(s.h, request('GET', `/v1/messages/batches/${created.id}/results`))).body.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([{ custom_id: 't', result: { type: 'errored', error: { type: 'error', error: { type: 'rate_limit_error', message: expect.any(String) } } } }]);
  });

  test('a queue that fails takes the batch back: 503, nothing stored', async () => {
    const s = setup();
    s.queue.fail = true;
    const refused = await submit(s, [entry('a')]);
    expect(refused.status).toBe(503);
    expect(refused.json().error.message).toContain('nothing was submitted');
    expect(s.backends.objects.count('batches/')).toBe(0);
    expect((await run(s.h, request('GET', '/v1/messages/batches'))).json().data).toEqual([]);
  });

  test('results_url is the address the client used: forwarded host and scheme, and the path prefix', async () => {
    const s = setup();
    const created = (await submit(s, [entry('a')])).json();
    await s.deliver();
    const batch = (await run(s.h, request('GET', `/api/v1/messages/batches/${created.id}`, undefined, {
      'host': 'abc.lambda-url.us-east-1.on.aws', 'x-forwarded-host': 'chat.example.com', 'x-forwarded-proto': 'https',
    }))).json();
    expect(batch.results_url).toBe(`https://chat.example.com/api/v1/messages/batches/${created.id}/results`);
  });

  describe('results_url behind CloudFront, from the request CloudFront forwards after the forwarded-host function', () => {
    const forwardedHost = loadFunction(bundledFunctionSource('forwarded-host'), 'forwarded-host.js');
    const FUNCTION_URL_HOST = 'abcdefghijklmnop.lambda-url.us-east-1.on.aws';
    const STAGE_HOST = 'a1b2c3d4e5.execute-api.us-east-1.amazonaws.com';

    /** A Function URL event (payload 2.0) for the origin request: Lambda adds x-forwarded-proto/-port/-for itself. */
    const functionUrlEvent = (path: string, headers: Record<string, string>) => ({
      version: '2.0',
      rawPath: path,
      rawQueryString: '',
      headers: { ...headers, 'x-forwarded-proto': 'https', 'x-forwarded-port': '443', 'x-forwarded-for': '198.51.100.11, 130.176.0.1' },
      requestContext: { requestId: 'r-1', http: { method: 'GET', path, sourceIp: '130.176.0.1' } },
      isBase64Encoded: false,
    });
    /** An API Gateway REST proxy event (payload 1.0): CloudFront asks for /prod/<path>, the event's path is the resource path. */
    const restApiEvent = (path: string, headers: Record<string, string>) => ({
      httpMethod: 'GET',
      path,
      headers: { ...headers, 'X-Forwarded-Proto': 'https' },
      multiValueHeaders: null,
      queryStringParameters: null,
      body: null,
      isBase64Encoded: false,
      requestContext: { requestId: 'r-1', path: `/prod${path}`, identity: { sourceIp: '130.176.0.1' } },
    });

    test.each([
      // StreamingLlmProxy's cloudFront: the distribution's default behaviour, no path prefix.
      ['cloudFront in front of the function URL', 'llm.example.com', '', FUNCTION_URL_HOST, functionUrlEvent],
      ['cloudFront in front of the REST API', 'llm.example.com', '', STAGE_HOST, restApiEvent],
      // SpaFrontend's api route: /api/* forwarded with the prefix (no origin path on a function URL).
      ['SpaFrontend /api/* to the function URL', 'chat.example.com', '/api', FUNCTION_URL_HOST, functionUrlEvent],
      ['SpaFrontend /api/* to the REST API', 'chat.example.com', '/api', STAGE_HOST, restApiEvent],
    ])('%s: results_url is on the viewer\'s host and path, even when the viewer sent its own x-forwarded-host', async (_name, viewerHost, prefix, originHost, event) => {
      const s = setup();
      const created = (await submit(s, [entry('a')])).json();
      await s.deliver();
      const path = `${prefix}/v1/messages/batches/${created.id}`;
      const viewer = viewerRequest('GET', path, { 'host': viewerHost, 'x-api-key': KEY, 'x-forwarded-host': 'evil.example' });
      const asForwarded = (forwarded: typeof viewer.request) => parseEvent(event(path, originRequestHeaders(forwarded, originHost)), 'r-1');

      const batch = (await run(s.h, asForwarded(forwardedHost(viewer)))).json();
      expect(batch.results_url).toBe(`https://${viewerHost}${prefix}/v1/messages/batches/${created.id}/results`);

      // Without the function, the proxy only has the endpoint's own Host (or the viewer's spoofed header) to go on.
      const bare = viewerRequest('GET', path, { 'host': viewerHost, 'x-api-key': KEY });
      // (the origin's own address: on the execute-api host, with the stage CloudFront asked for).
      const originPrefix = originHost === STAGE_HOST ? `/prod${prefix}` : prefix;
      expect((await run(s.h, asForwarded(bare.request))).json().results_url).toBe(`https://${originHost}${originPrefix}/v1/messages/batches/${created.id}/results`);
    });

    test.each([
      ['the execute-api host: the stage', STAGE_HOST, '/prod/v1/messages/batches', 'https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod'],
      ['a custom domain with a base path mapping: the base path', 'llm.example.com', '/llm/v1/messages/batches', 'https://llm.example.com/llm'],
      ['a custom domain mapped at its root', 'llm.example.com', '/v1/messages/batches', 'https://llm.example.com'],
    ])('the REST API called directly, on %s is in results_url', async (_name, host, clientPath, base) => {
      const s = setup();
      const created = (await submit(s, [entry('a')])).json();
      await s.deliver();
      const event = restApiEvent(`/v1/messages/batches/${created.id}`, { 'Host': host, 'x-api-key': KEY });
      const rest = { ...event, requestContext: { ...event.requestContext, path: `${clientPath}/${created.id}` } };
      const batch = (await run(s.h, parseEvent(rest, 'r-1'))).json();
      expect(batch.results_url).toBe(`${base}/v1/messages/batches/${created.id}/results`);
    });
  });

  test('the routes: methods, ids, and a proxy without batches', async () => {
    expect(matchRoute('POST', '/v1/messages/batches')).toMatchObject({ route: 'batches', allowed: true });
    expect(matchRoute('GET', '/api/v1/messages/batches/msgbatch_1/results')).toMatchObject({ route: 'batch_results', allowed: true, batchId: 'msgbatch_1' });
    expect(matchRoute('POST', '/v1/messages/batches/msgbatch_1/cancel')).toMatchObject({ route: 'batch_cancel', allowed: true });
    expect(matchRoute('PUT', '/v1/messages/batches/msgbatch_1')).toMatchObject({ route: 'batch', allowed: false, methods: ['GET', 'HEAD', 'DELETE'] });
    expect(matchRoute('POST', '/v1/messages')).toMatchObject({ route: 'messages' });
    const s = setup();
    const wrong = await run(s.h, request('PUT', '/v1/messages/batches/msgbatch_1'));
    expect(wrong.status).toBe(405);
    const h = harness();
    const off = await run(h, request('POST', '/v1/messages/batches', { requests: [entry('a')] }));
    expect(off.status).toBe(404);
    expect(off.json().error.message).toContain('not enabled');
    const big = await run(harness({ PROXY_BATCH_MAX_REQUESTS: '2' }, { batches: s.backends }), request('POST', '/v1/messages/batches', { requests: [entry('a'), entry('b'), entry('c')] }));
    expect(big.status).toBe(400);
    expect(big.json().error.message).toContain('at most 2 requests');
  });
});
