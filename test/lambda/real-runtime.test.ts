/**
 * The shipped bundle (assets/streaming-proxy/index.js) under the real Lambda Node.js runtime interface client
 * (aws-lambda-ric, what Lambda's managed Node.js runtimes run), against a Runtime API served here on loopback that
 * speaks the response-streaming protocol, with the response decoded the way a function URL decodes it. The upstream is
 * the fake Bedrock, reached through the real AWS SDK via AWS_ENDPOINT_URL_BEDROCK_RUNTIME.
 *
 * Every other test runs the handler under lambda/shared/awslambda-shim.ts; this one proves the bundle against the real
 * thing (status and headers from the prelude, incremental delivery, errors before and after the first event, a client
 * that goes away, responses without a body), then runs one probe handler (fixtures/runtime-probe.cjs) under both the
 * real runtime and the shim and requires the client to get the same response from each.
 */
import * as path from 'path';
import { awslambdaShim, invokeStreaming, localContext, runtimeGlobal, type StreamingHandler } from '../../lambda/shared/awslambda-shim';
import { FakeBedrock } from '../support/fake-bedrock';
import {
  HTTP_INTEGRATION_CONTENT_TYPE,
  LambdaRuntimeApi,
  RuntimeProcess,
  type InvocationRecord,
  type TimedChunk,
} from '../support/lambda-runtime-api';
import { parseSse, type SseFrame } from '../support/sse';

const ASSET = path.join(__dirname, '..', '..', 'assets', 'streaming-proxy');
const FIXTURES = path.join(__dirname, 'fixtures');
const ORIGIN = 'https://chat.example.com';

/** A function URL event (payload 2.0). */
function urlEvent(method: string, rawPath: string, body?: unknown, headers: Record<string, string> = {}) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers: { host: 'abc123.lambda-url.us-east-1.on.aws', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abc123',
      domainName: 'abc123.lambda-url.us-east-1.on.aws',
      requestId: 'url-request-id',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'real-runtime-test' },
    },
  };
}

function messages(text: string, stream = true) {
  return urlEvent('POST', '/v1/messages', { model: 'claude-sonnet-4-6', max_tokens: 256, stream, messages: [{ role: 'user', content: text }] });
}

/** The body's SSE frames, each stamped with the arrival time of the chunk that completed it. */
function timedFrames(body: readonly TimedChunk[]): { at: number; frame: SseFrame }[] {
  const out: { at: number; frame: SseFrame }[] = [];
  let text = '';
  for (const chunk of body) {
    text += chunk.data.toString('utf8');
    let end: number;
    while ((end = text.indexOf('\n\n')) >= 0) {
      for (const frame of parseSse(text.slice(0, end + 2))) out.push({ at: chunk.at, frame });
      text = text.slice(end + 2);
    }
  }
  return out;
}

function bodyText(record: InvocationRecord): string {
  return Buffer.concat(record.response!.body.map((c) => c.data)).toString('utf8');
}

/** What every streamed answer has in common: the streaming protocol, a completed body, no function error. */
function expectCleanStreamedResponse(record: InvocationRecord): void {
  expect(record.responseHeaders).toMatchObject({
    'lambda-runtime-function-response-mode': 'streaming',
    'transfer-encoding': 'chunked',
    'content-type': HTTP_INTEGRATION_CONTENT_TYPE,
  });
  expect(record.outcome).toBe('completed');
  expect(record.functionError).toBeUndefined();
}

describe('the bundled proxy under the real Lambda runtime interface client', () => {
  let fake: FakeBedrock;
  let api: LambdaRuntimeApi;
  let fn: RuntimeProcess;

  beforeAll(async () => {
    fake = new FakeBedrock();
    await fake.start();
    api = await new LambdaRuntimeApi().start();
    fn = new RuntimeProcess(api, {
      taskRoot: ASSET,
      handler: 'index.handler',
      env: {
        PROXY_AUTH_MODE: 'none',
        PROXY_UPSTREAM: 'bedrock',
        PROXY_CORS_ALLOW_ORIGINS: ORIGIN,
        POWERTOOLS_LOG_LEVEL: 'WARN',
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url,
        AWS_ACCESS_KEY_ID: 'AKIDREALRUNTIMETEST',
        AWS_SECRET_ACCESS_KEY: 'real-runtime-test-secret',
      },
    });
    // The runtime is up once it asks for its first invocation (init ran, the handler was found).
    await fn.whileAlive(api.waitForIdle());
  }, 60_000);

  afterAll(async () => {
    await fn?.stop();
    await api?.stop();
    await fake?.stop();
  });

  beforeEach(() => fake.reset());

  afterEach(async () => {
    // Every invocation ends with the runtime alive and asking for the next one.
    await fn.whileAlive(api.waitForIdle());
    expect(api.initError).toBeUndefined();
  });

  test('streams a Messages response: status and headers from the prelude, then events spread over time', async () => {
    const delay = 80;
    const record = await fn.whileAlive(api.invoke(messages(`Count to five. [[fake delay=${delay} chunk=6]]`)));
    expectCleanStreamedResponse(record);
    const response = record.response!;
    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ 'content-type': 'text/event-stream; charset=utf-8', 'request-id': record.requestId });

    const frames = timedFrames(response.body);
    expect(frames[0].frame.event).toBe('message_start');
    expect(frames[frames.length - 1].frame.event).toBe('message_stop');
    const deltas = frames.filter((f) => f.frame.event === 'content_block_delta');
    const text = deltas.map((f) => (JSON.parse(f.frame.data!) as { delta: { text: string } }).delta.text).join('');
    expect(text).toContain('Hello from the fake Bedrock');
    expect(text).toContain('Count to five.');

    // Incremental: many body chunks, the deltas arriving over (at least half) the time the upstream took to send them,
    // and the status known long before the stream ended.
    expect(deltas.length).toBeGreaterThanOrEqual(8);
    expect(response.body.length).toBeGreaterThanOrEqual(deltas.length);
    const stopAt = frames[frames.length - 1].at;
    expect(stopAt - deltas[0].at).toBeGreaterThanOrEqual(((deltas.length - 1) * delay) / 2);
    expect(stopAt - response.headersAt).toBeGreaterThanOrEqual(((deltas.length - 1) * delay) / 2);
  });

  test('answers an upstream failure before the first event with its HTTP status and an error body', async () => {
    const record = await fn.whileAlive(api.invoke(messages('Hello [[fake fault=throttle]]')));
    expectCleanStreamedResponse(record);
    expect(record.response!.statusCode).toBe(429);
    expect(record.response!.headers).toMatchObject({ 'content-type': 'application/json', 'request-id': record.requestId });
    const body = JSON.parse(bodyText(record)) as { type: string; error: { type: string; message: string } };
    expect(body).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });

  test('turns a failure after the first event into an event: error frame and ends the stream cleanly', async () => {
    const record = await fn.whileAlive(api.invoke(messages('Hello [[fake fault=mid-stream delay=30]]')));
    expectCleanStreamedResponse(record);
    expect(record.response!.statusCode).toBe(200);
    const frames = parseSse(bodyText(record));
    expect(frames[0].event).toBe('message_start');
    const last = frames[frames.length - 1];
    expect(last.event).toBe('error');
    const error = JSON.parse(last.data!) as { type: string; error: { type: string; message: string } };
    expect(error.type).toBe('error');
    expect(error.error.type).toMatch(/_error$/);
    expect(error.error.message).not.toBe('');
    expect(frames.some((f) => f.event === 'message_stop')).toBe(false);
  });

  test('survives a client that goes away mid-stream, closes the upstream call and serves the next request', async () => {
    const aborted = await fn.whileAlive(api.invoke(messages('Talk for a long time. [[fake delay=20 chunk=4 out=40000]]'), {
      abortWhen: (decoder) => decoder.body.length >= 3,
    }));
    expect(aborted.outcome).toBe('aborted');
    expect(aborted.response!.statusCode).toBe(200);

    // The process lives on and asks for more work; the upstream stream was abandoned, not read to its end (10,000
    // events 20 ms apart).
    await fn.whileAlive(api.waitForIdle());
    await fn.whileAlive(until(() => fake.abandonedStreams >= 1));
    expect(fn.alive).toBe(true);

    const next = await fn.whileAlive(api.invoke(messages('Still there?')));
    expectCleanStreamedResponse(next);
    expect(next.response!.statusCode).toBe(200);
    expect(parseSse(bodyText(next)).pop()!.event).toBe('message_stop');
  });

  test('sends the status and headers of a CORS preflight, which has no body', async () => {
    const record = await fn.whileAlive(api.invoke(urlEvent('OPTIONS', '/v1/messages', undefined, {
      'origin': ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type, x-api-key',
    })));
    expectCleanStreamedResponse(record);
    expect(record.response!.statusCode).toBe(204);
    expect(record.response!.headers).toMatchObject({
      'access-control-allow-origin': ORIGIN,
      'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
      'access-control-allow-headers': 'content-type, x-api-key',
    });
    expect(bodyText(record)).toBe('');
  });

  test('answers HEAD with the headers of GET and no body', async () => {
    const record = await fn.whileAlive(api.invoke(urlEvent('HEAD', '/health')));
    expectCleanStreamedResponse(record);
    expect(record.response!.statusCode).toBe(200);
    expect(record.response!.headers['content-type']).toMatch(/^application\/json/);
    expect(bodyText(record)).toBe('');
  });

  test('answers a buffered (non-streaming) request with one JSON body', async () => {
    const record = await fn.whileAlive(api.invoke(messages('Hello there', false)));
    expectCleanStreamedResponse(record);
    expect(record.response!.statusCode).toBe(200);
    const body = JSON.parse(bodyText(record)) as { type: string; content: { type: string; text: string }[] };
    expect(body.type).toBe('message');
    expect(body.content[0].text).toContain('Hello there');
  });
});

/**
 * What a function URL's client gets, in a form both sides produce: the status, headers, cookies and body, or the raw
 * body when the function set no prelude, or the function error and the body that came before it.
 */
type Seen =
  | { status: number; headers: Record<string, string>; cookies: string[]; body: string }
  | { raw: true; body: string }
  | { error: string; body: string };

function seenFromRuntime(record: InvocationRecord): Seen {
  const raw = Buffer.concat(record.chunks.map((c) => c.data)).toString('utf8');
  const integration = record.responseHeaders?.['content-type'] === HTTP_INTEGRATION_CONTENT_TYPE;
  const body = integration ? bodyText(record) : raw;
  if (record.functionError) return { error: record.functionError.errorType, body };
  if (!integration) return { raw: true, body };
  const { statusCode, headers, cookies } = record.response!;
  return { status: statusCode, headers, cookies, body };
}

const SCENARIOS = [
  'write-end', 'end-only', 'empty-write', 'end-with-chunk', 'prelude-twice', 'prelude-after-write', 'return-before-end',
  'throw-before-write', 'throw-after-write',
] as const;

/**
 * The same handler (test/lambda/fixtures/runtime-probe.cjs) under the real runtime and under the shim that the dev
 * server and the other tests use: for each way a handler can use the stream, the client must get the same thing.
 */
describe('lambda/shared/awslambda-shim.ts agrees with the real runtime', () => {
  let api: LambdaRuntimeApi;
  let fn: RuntimeProcess;
  let probe: StreamingHandler<{ scenario: string }>;
  const savedGlobal = runtimeGlobal.awslambda;

  beforeAll(async () => {
    api = await new LambdaRuntimeApi().start();
    fn = new RuntimeProcess(api, { taskRoot: FIXTURES, handler: 'runtime-probe.handler' });
    await fn.whileAlive(api.waitForIdle());
    // The probe reads the awslambda global when it loads and when it runs, as a handler in Lambda does.
    runtimeGlobal.awslambda = awslambdaShim;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      probe = (require('./fixtures/runtime-probe.cjs') as { handler: StreamingHandler<{ scenario: string }> }).handler;
    });
  }, 60_000);

  afterAll(async () => {
    runtimeGlobal.awslambda = savedGlobal;
    await fn?.stop();
    await api?.stop();
  });

  afterEach(async () => {
    await fn.whileAlive(api.waitForIdle());
  });

  /**
   * Runs a scenario under the shim; `abort` destroys the stream at its first body chunk, as a client going away;
   * `pauseReadingMs` starts reading late, as a slow client.
   */
  async function underShim(scenario: string, options: { abort?: boolean; pauseReadingMs?: number } = {}): Promise<Seen> {
    const { stream, done } = invokeStreaming(probe, { scenario }, localContext(`shim-${scenario}`, 10_000));
    const chunks: Buffer[] = [];
    const read = () => stream.on('data', (c: Buffer) => {
      chunks.push(c);
      if (options.abort) stream.destroy();
    });
    if (options.pauseReadingMs) setTimeout(read, options.pauseReadingMs);
    else read();
    const error = await done.then(() => undefined, (err: Error) => err);
    await new Promise((r) => setImmediate(r));
    const body = Buffer.concat(chunks).toString('utf8');
    if (error) return { error: error.name, body };
    const prelude = stream.prelude;
    if (!prelude) return { raw: true, body };
    const headers = Object.fromEntries(Object.entries(prelude.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    return { status: prelude.statusCode ?? 200, headers, cookies: prelude.cookies ?? [], body };
  }

  test.each(SCENARIOS)('%s: the client gets the same response from the shim as from the real runtime', async (scenario) => {
    const real = seenFromRuntime(await fn.whileAlive(api.invoke({ scenario })));
    expect(await underShim(scenario)).toEqual(real);
  });

  test('a client going away: the handler sees the same error, close and state under both', async () => {
    await fn.whileAlive(api.invoke({ scenario: 'abort' }, { abortWhen: (decoder) => decoder.body.length >= 1 }));
    await fn.whileAlive(api.waitForIdle());
    const real = seenFromRuntime(await fn.whileAlive(api.invoke({ scenario: 'report' })));
    expect(JSON.parse((real as { body: string }).body)).toEqual({ errors: ['ECONNRESET'], closed: true, destroyed: true });

    await underShim('abort', { abort: true });
    const shim = await underShim('report');
    expect(shim).toEqual(real);
  });

  test('a slow client: write() reports backpressure and drain follows under both, and every byte arrives', async () => {
    const bytes = 64 * 64 * 1024;
    const realBody = seenFromRuntime(await fn.whileAlive(api.invoke({ scenario: 'backpressure' }, { pauseReadingMs: 300 })));
    expect(realBody).toMatchObject({ status: 200 });
    expect((realBody as { body: string }).body.length).toBe(bytes);
    await fn.whileAlive(api.waitForIdle());
    const real = seenFromRuntime(await fn.whileAlive(api.invoke({ scenario: 'report' })));
    expect(JSON.parse((real as { body: string }).body)).toEqual({ waitedForDrain: true });

    expect(await underShim('backpressure', { pauseReadingMs: 300 })).toEqual(realBody);
    expect(await underShim('report')).toEqual(real);
  });
});

/** Resolves once `condition` holds, checking every 20 ms (the test's own timeout bounds the wait). */
function until(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (condition() ? resolve() : setTimeout(check, 20).unref());
    check();
  });
}
