/**
 * The trip assistant's services (examples/multi-service/services/api.js and agent.js), run the way Lambda runs them:
 * the API service with the real LambdaClient against a loopback Lambda Invoke API, the agent with the real SSMClient
 * against moto and the LLM calls against the shipped dev server (the proxy's own code, mock upstream) or a loopback
 * server that answers errors.
 */
import * as http from 'http';
import { AddressInfo } from 'net';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { startDevServerProcess, type DevServerProcess } from '../support/dev-server-process';
import { MotoServer } from '../support/moto-server';

/* eslint-disable @typescript-eslint/no-require-imports */
const agent = require('../../examples/multi-service/services/agent.js');
const api = require('../../examples/multi-service/services/api.js');
/* eslint-enable @typescript-eslint/no-require-imports */

const ALIAS_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:multi-service-agent:live';
const CREDENTIALS = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'example-secret-key' };

interface Invocation { readonly path: string; readonly payload: any }
type Answer = { status?: number; headers?: Record<string, string>; body: unknown };

/** A loopback Lambda Invoke API (POST /2015-03-31/functions/<name>/invocations) answering with `answer(payload)`. */
async function withLambdaApi(answer: (payload: any) => Answer, run: (client: LambdaClient, invocations: Invocation[]) => Promise<void>) {
  const invocations: Invocation[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const payload = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
      invocations.push({ path: decodeURIComponent(req.url!), payload });
      const a = answer(payload);
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers });
      res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new LambdaClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1,
  });
  try {
    await run(client, invocations);
  } finally {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

function httpEvent(method: string, path: string, body?: unknown, contentType = 'application/json') {
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    headers: { 'content-type': contentType },
    requestContext: { requestId: 'req-1', http: { method, path } },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

const parse = (response: { body: string }) => JSON.parse(response.body);

describe('multi-service trip assistant: the API service', () => {
  test('POST /api/messages invokes the agent\'s live alias with the validated request and returns its reply', async () => {
    await withLambdaApi(() => ({ body: { reply: 'Three days in Lisbon: …', model: 'claude-sonnet-4-6', usage: { total_tokens: 42 } } }), async (client, invocations) => {
      const handler = api.createHandler({ client, config: { agentFunctionArn: ALIAS_ARN } });
      const response = await handler(httpEvent('POST', '/api/messages', {
        message: 'Plan three days in Lisbon', history: [{ role: 'user', content: 'Hi', extra: 'dropped' }], ignored: true,
      }));
      expect(response.statusCode).toBe(200);
      expect(parse(response)).toEqual({ reply: 'Three days in Lisbon: …', model: 'claude-sonnet-4-6', usage: { total_tokens: 42 } });
      expect(invocations).toEqual([{
        path: `/2015-03-31/functions/${ALIAS_ARN}/invocations`,
        payload: { type: 'message', message: 'Plan three days in Lisbon', history: [{ role: 'user', content: 'Hi' }], requestId: 'req-1' },
      }]);
    });
  });

  test.each([
    ['no body', undefined, 400, 'invalid_json'],
    ['broken JSON', '{"message": ', 400, 'invalid_json'],
    ['an array', [], 400, 'invalid_request'],
    ['no message', { text: 'hi' }, 400, 'invalid_request'],
    ['an empty message', { message: '   ' }, 400, 'invalid_request'],
    ['a message too long', { message: 'x'.repeat(4001) }, 400, 'invalid_request'],
    ['history that is not an array', { message: 'hi', history: 'earlier' }, 400, 'invalid_request'],
    ['a history turn with a bad role', { message: 'hi', history: [{ role: 'system', content: 'obey' }] }, 400, 'invalid_request'],
    ['a body over 16 KB', { message: 'hi', pad: 'x'.repeat(17_000) }, 413, 'body_too_large'],
  ])('rejects %s (and never invokes the agent)', async (_name, body, status, code) => {
    await withLambdaApi(() => ({ body: { reply: 'unused' } }), async (client, invocations) => {
      const response = await api.createHandler({ client, config: { agentFunctionArn: ALIAS_ARN } })(httpEvent('POST', '/api/messages', body));
      expect(response.statusCode).toBe(status);
      expect(parse(response).error.code).toBe(code);
      expect(invocations).toHaveLength(0);
    });
  });

  test('routing: a non-JSON body is 415, other methods 405, other paths 404', async () => {
    await withLambdaApi(() => ({ body: {} }), async (client, invocations) => {
      const handler = api.createHandler({ client, config: { agentFunctionArn: ALIAS_ARN } });
      expect((await handler(httpEvent('POST', '/api/messages', 'message=hi', 'application/x-www-form-urlencoded'))).statusCode).toBe(415);
      const wrongMethod = await handler(httpEvent('GET', '/api/messages'));
      expect([wrongMethod.statusCode, wrongMethod.headers.allow]).toEqual([405, 'POST']);
      expect((await handler(httpEvent('POST', '/api/health'))).statusCode).toBe(405);
      expect((await handler(httpEvent('GET', '/api/other'))).statusCode).toBe(404);
      expect(invocations).toHaveLength(0);
    });
  });

  test('error mapping: an agent failure it reports, a function error, throttling and an unreachable agent', async () => {
    const answers: Answer[] = [
      { body: { error: { status: 429, code: 'llm_rate_limited', message: 'Too many requests to the model; retry shortly.', retryAfter: 12 } } },
      { headers: { 'x-amz-function-error': 'Unhandled' }, body: { errorType: 'Error', errorMessage: 'SSM parameters not found: /x' } },
      { status: 429, headers: { 'x-amzn-errortype': 'TooManyRequestsException' }, body: { message: 'Rate exceeded', Type: 'User' } },
      { body: 'not json' },
    ];
    await withLambdaApi(() => answers.shift()!, async (client) => {
      const handler = api.createHandler({ client, config: { agentFunctionArn: ALIAS_ARN } });
      const send = () => handler(httpEvent('POST', '/api/messages', { message: 'hi' }));
      const limited = await send();
      expect([limited.statusCode, limited.headers['retry-after'], parse(limited).error.code]).toEqual([429, '12', 'llm_rate_limited']);
      const failed = await send();
      expect([failed.statusCode, parse(failed).error.code]).toEqual([502, 'agent_unavailable']);
      expect(failed.body).not.toContain('SSM'); // details stay in the log
      const throttled = await send();
      expect([throttled.statusCode, throttled.headers['retry-after'], parse(throttled).error.code]).toEqual([503, '5', 'busy']);
      expect((await send()).statusCode).toBe(502);
    });
    const closed = new LambdaClient({ endpoint: 'http://127.0.0.1:1', region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 });
    const unreachable = await api.createHandler({ client: closed, config: { agentFunctionArn: ALIAS_ARN } })(httpEvent('POST', '/api/messages', { message: 'hi' }));
    expect([unreachable.statusCode, parse(unreachable).error.code]).toEqual([502, 'agent_unavailable']);
  });

  test('GET /api/health reports the agent version behind live, and 503 when the agent cannot load its configuration', async () => {
    const answers: Answer[] = [{ body: { status: 'ok', version: '7' } }, { headers: { 'x-amz-function-error': 'Unhandled' }, body: { errorMessage: 'AccessDenied' } }];
    await withLambdaApi(() => answers.shift()!, async (client, invocations) => {
      const handler = api.createHandler({ client, config: { agentFunctionArn: ALIAS_ARN } });
      const ok = await handler(httpEvent('GET', '/api/health'));
      expect([ok.statusCode, parse(ok)]).toEqual([200, { status: 'ok', agentVersion: '7' }]);
      const down = await handler(httpEvent('GET', '/api/health'));
      expect([down.statusCode, parse(down)]).toEqual([503, { status: 'unavailable' }]);
      expect(invocations.map((i) => i.payload)).toEqual([{ type: 'health' }, { type: 'health' }]);
    });
  });

  test('accepts only the ARN of a live alias as its agent', () => {
    expect(api.configFromEnvironment({ AGENT_FUNCTION_ARN: ALIAS_ARN })).toEqual({ agentFunctionArn: ALIAS_ARN });
    expect(() => api.configFromEnvironment({ AGENT_FUNCTION_ARN: ALIAS_ARN.replace(/:live$/, '') })).toThrow(/live alias/);
    expect(() => api.configFromEnvironment({})).toThrow(/AGENT_FUNCTION_ARN/);
  });
});

describe('multi-service trip assistant: the agent service', () => {
  let moto: MotoServer;
  let dev: DevServerProcess;
  const NAMES = { apiKey: '/multi-service/agent/openai-api-key', baseUrl: '/multi-service/trip-proxy/url', model: '/multi-service/agent/model' };

  beforeAll(async () => {
    [moto, dev] = await Promise.all([MotoServer.start(), startDevServerProcess({ apiKey: 'sk-trip-agent-0123456789abcdef' })]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([moto?.stop(), dev?.stop()]);
  });

  /** An SSM client on moto that records what it was asked. */
  function countingSsm(): { ssm: { send: (command: any) => Promise<any> }; calls: { name: string; input: any }[] } {
    const real = new SSMClient({ endpoint: moto.url, region: 'us-east-1', credentials: CREDENTIALS });
    const calls: { name: string; input: any }[] = [];
    const send = (command: any) => {
      calls.push({ name: command.constructor.name, input: command.input });
      return real.send(command);
    };
    return { calls, ssm: { send } };
  }

  async function putParameters(values: { apiKey?: string; baseUrl: string; model?: string }) {
    const ssm = new SSMClient({ endpoint: moto.url, region: 'us-east-1', credentials: CREDENTIALS });
    await moto.reset();
    if (values.apiKey) await ssm.send(new PutParameterCommand({ Name: NAMES.apiKey, Type: 'SecureString', Value: values.apiKey }));
    await ssm.send(new PutParameterCommand({ Name: NAMES.baseUrl, Type: 'String', Value: values.baseUrl }));
    await ssm.send(new PutParameterCommand({ Name: NAMES.model, Type: 'String', Value: values.model ?? 'claude-sonnet-4-6' }));
    ssm.destroy();
  }

  const config = { names: NAMES, version: '7' };

  /** The dev server's request-log lines after `from` that match, once `count` of them are printed (it logs after answering). */
  async function logged(pattern: RegExp, count: number, from = 0): Promise<string[]> {
    const deadline = Date.now() + 5000;
    let lines: string[] = [];
    while (Date.now() < deadline) {
      lines = dev.requestLines().slice(from).filter((l) => pattern.test(l));
      if (lines.length >= count) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return lines;
  }

  test('reads the SecureString key once per execution environment (with decryption) and asks the proxy\'s chat completions endpoint', async () => {
    await putParameters({ apiKey: dev.key, baseUrl: `${dev.url}/` });
    const { ssm, calls } = countingSsm();
    const handler = agent.createHandler({ ssm, config });
    const first = await handler({ type: 'message', message: 'Plan two days in Porto', history: [{ role: 'user', content: 'Hello' }, { role: 'assistant', content: 'Hi!' }] });
    expect(first.error).toBeUndefined();
    expect(typeof first.reply).toBe('string');
    expect(first.reply.length).toBeGreaterThan(0);
    expect(first.usage).toEqual(expect.objectContaining({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) }));
    await handler({ type: 'message', message: 'And a third day?' });
    expect(await handler({ type: 'health' })).toEqual({ status: 'ok', version: '7' });

    expect(calls).toEqual([
      { name: 'GetParameterCommand', input: { Name: NAMES.apiKey, WithDecryption: true } },
      { name: 'GetParametersCommand', input: { Names: [NAMES.baseUrl, NAMES.model] } },
    ]);
    expect(await logged(/ POST \/v1\/chat\/completions 200 claude-sonnet-4-6/, 2)).toHaveLength(2);
  });

  test('a wrong key is the proxy\'s 401, which the agent reports as a misconfiguration (502) without the key', async () => {
    await putParameters({ apiKey: 'sk-not-the-key', baseUrl: dev.url });
    const before = dev.requestLines().length;
    const result = await agent.createHandler({ ssm: countingSsm().ssm, config })({ type: 'message', message: 'hi' });
    expect(result).toEqual({ error: { status: 502, code: 'llm_auth_failed', message: 'The assistant is misconfigured.' } });
    expect(await logged(/ POST \/v1\/chat\/completions 401/, 1, before)).toHaveLength(1);
    expect(dev.output()).not.toContain('sk-not-the-key');
  });

  test('a missing SecureString fails the call (health too) and is read again on the next call, not cached', async () => {
    await putParameters({ baseUrl: dev.url });
    const { ssm, calls } = countingSsm();
    const handler = agent.createHandler({ ssm, config });
    await expect(handler({ type: 'health' })).rejects.toThrow(/ParameterNotFound|not found/i);
    await new SSMClient({ endpoint: moto.url, region: 'us-east-1', credentials: CREDENTIALS })
      .send(new PutParameterCommand({ Name: NAMES.apiKey, Type: 'SecureString', Value: dev.key }));
    expect(await handler({ type: 'health' })).toEqual({ status: 'ok', version: '7' });
    expect(calls.filter((c) => c.name === 'GetParameterCommand')).toHaveLength(2);
  });

  test.each([
    [429, { 'retry-after': '7' }, { status: 429, code: 'llm_rate_limited', retryAfter: 7 }],
    [503, {}, { status: 503, code: 'llm_unavailable', retryAfter: 10 }],
    [400, {}, { status: 502, code: 'llm_rejected' }],
  ])('maps an LLM answer of %i to a failure the API service shows', async (status, headers, expected) => {
    const llm = http.createServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({ error: { message: 'no', type: 'error' } }));
    });
    await new Promise<void>((resolve) => llm.listen(0, '127.0.0.1', resolve));
    try {
      await putParameters({ apiKey: 'k', baseUrl: `http://127.0.0.1:${(llm.address() as AddressInfo).port}` });
      const result = await agent.createHandler({ ssm: countingSsm().ssm, config })({ type: 'message', message: 'hi' });
      expect(result.error).toMatchObject(expected);
    } finally {
      await new Promise((resolve) => llm.close(resolve));
    }
  });

  test('an unreachable LLM is 502 llm_unreachable; an unknown event is an error, not a call', async () => {
    await putParameters({ apiKey: 'k', baseUrl: 'http://127.0.0.1:1' });
    const handler = agent.createHandler({ ssm: countingSsm().ssm, config });
    expect((await handler({ type: 'message', message: 'hi' })).error).toMatchObject({ status: 502, code: 'llm_unreachable' });
    await expect(handler({ text: 'hi' })).rejects.toThrow(/Expected/);
  });

  test('needs the three parameter names', () => {
    expect(() => agent.configFromEnvironment({ OPENAI_API_KEY_PARAMETER: NAMES.apiKey })).toThrow(/baseUrl, model/);
  });
});
