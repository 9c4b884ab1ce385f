/**
 * The Lambda entry (index.ts) under the awslambda shim: init from the environment, Function URL and REST events, the
 * HTTP prelude written through HttpResponseStream.from, and init failures that name the variable.
 */
import type { Writable } from 'stream';
import { awslambdaShim, invokeStreaming, localContext, runtimeGlobal, type StreamingHandler } from '../../lambda/shared/awslambda-shim';
import { parseSse } from '../support/sse';

const ENV = { PROXY_AUTH_MODE: 'none', PROXY_UPSTREAM: 'mock', AWS_REGION: 'us-east-1', POWERTOOLS_LOG_LEVEL: 'SILENT' };

function loadHandler(env: Record<string, string>): StreamingHandler {
  const saved = { ...process.env };
  const savedGlobal = runtimeGlobal.awslambda;
  Object.assign(process.env, env);
  runtimeGlobal.awslambda = awslambdaShim;
  try {
    let handler: StreamingHandler | undefined;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      handler = (require('../../lambda/streaming-proxy/index') as { handler: StreamingHandler }).handler;
    });
    return handler!;
  } finally {
    process.env = saved;
    runtimeGlobal.awslambda = savedGlobal;
  }
}

async function invoke(handler: StreamingHandler, event: unknown) {
  const { stream, done } = invokeStreaming(handler, event, localContext('lambda-req-1'));
  const chunks: string[] = [];
  let firstChunkBeforePrelude = false;
  stream.on('data', (c: Buffer) => {
    if (!stream.prelude) firstChunkBeforePrelude = true;
    chunks.push(c.toString());
  });
  await done;
  await new Promise((r) => setImmediate(r));
  return { prelude: stream.prelude, body: chunks.join(''), firstChunkBeforePrelude };
}

describe('lambda/streaming-proxy/index.ts', () => {
  let stdout: jest.SpyInstance;
  beforeEach(() => {
    // The EMF metrics line goes to stdout; keep the test output clean.
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => stdout.mockRestore());

  test('streams a Function URL request, with the prelude before the first byte', async () => {
    const handler = loadHandler(ENV);
    const result = await invoke(handler, {
      version: '2.0',
      rawPath: '/v1/messages',
      rawQueryString: '',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path: '/v1/messages' } },
    });
    expect(result.firstChunkBeforePrelude).toBe(false);
    expect(result.prelude).toMatchObject({ statusCode: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8', 'request-id': 'lambda-req-1' } });
    const frames = parseSse(result.body);
    expect(frames[0].event).toBe('message_start');
    expect(frames[frames.length - 1].event).toBe('message_stop');
  });

  test('answers an API Gateway REST request with a prefix, in the OpenAI shape', async () => {
    const handler = loadHandler(ENV);
    const result = await invoke(handler, {
      httpMethod: 'POST',
      path: '/api/v1/chat/completions',
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from(JSON.stringify({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'hi' }] })).toString('base64'),
      isBase64Encoded: true,
      requestContext: {},
    });
    expect(result.prelude!.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject({ object: 'chat.completion', model: 'claude-sonnet-4-6' });
  });

  test('answers a non-HTTP event with 400', async () => {
    const handler = loadHandler(ENV);
    const result = await invoke(handler, { Records: [] });
    expect(result.prelude!.statusCode).toBe(400);
    expect(JSON.parse(result.body).error.type).toBe('invalid_request_error');
  });

  test('fails init with a message naming the bad variable', () => {
    expect(() => loadHandler({ ...ENV, PROXY_AUTH_MODE: 'password' })).toThrow(/^PROXY_AUTH_MODE: must be one of/);
    expect(() => loadHandler({ ...ENV, PROXY_MODELS: '{"models":[{"id":"x"}]}' })).toThrow(/^PROXY_MODELS: /);
    expect(() => loadHandler({ ...ENV, PROXY_LIMIT_STORE: 'redis', PROXY_RATE_LIMITS: '{"requestsPerMinute":1}' })).toThrow(/^REDIS_HOST: required/);
  });

  test('stops writing when the client goes away', async () => {
    const handler = loadHandler(ENV);
    const { stream, done } = invokeStreaming(handler, {
      version: '2.0',
      rawPath: '/v1/messages',
      rawQueryString: '',
      headers: {},
      body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 5000, stream: true, messages: [{ role: 'user', content: '[[mock: words=3000 delay=5]]' }] }),
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path: '/v1/messages' } },
    }, localContext('r'));
    let frames = 0;
    stream.on('data', () => {
      if (++frames === 3) (stream as Writable).destroy();
    });
    const started = Date.now();
    await done.catch(() => undefined);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
