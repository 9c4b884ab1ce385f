/**
 * The dev server against what arrives on a raw socket: request targets no URL parser accepts, requests Node's HTTP
 * parser refuses, oversized unauthenticated bodies and a seeded fuzz. Every request gets an HTTP answer with an error
 * body in the client's protocol, and the server keeps serving.
 */
import * as net from 'net';
import fc from 'fast-check';
import { startDevServer, type DevServer } from '../../lambda/dev-server/server';

const KEY = 'sk-dev-robust-0123456789abcdef';

interface RawResponse {
  readonly raw: string;
  readonly status?: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Sends bytes on a fresh connection and reads until the server closes it (or `timeoutMs`). */
function rawRequest(server: DevServer, payload: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms to ${JSON.stringify(payload.toString().slice(0, 200))}; got ${JSON.stringify(Buffer.concat(chunks).toString())}`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parse(Buffer.concat(chunks).toString('utf8')));
    });
    socket.write(payload);
  });
}

function parse(raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const [statusLine, ...lines] = head.split('\r\n');
  const match = /^HTTP\/1\.1 (\d{3})/.exec(statusLine);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = end < 0 ? '' : raw.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { raw, status: match ? Number(match[1]) : undefined, headers, body };
}

function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const i = rest.indexOf('\r\n');
    if (i < 0) return out;
    const size = parseInt(rest.slice(0, i), 16);
    if (!size) return out;
    out += rest.slice(i + 2, i + 2 + size);
    rest = rest.slice(i + 2 + size + 2);
  }
}

function anthropicError(body: string): { type: string; message: string } {
  const parsed = JSON.parse(body);
  expect(parsed).toEqual({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
  return parsed.error;
}

function openAiError(body: string): { type: string; message: string } {
  const parsed = JSON.parse(body);
  expect(parsed).toEqual({ error: { message: expect.any(String), type: expect.any(String), param: null, code: null } });
  return parsed.error;
}

describe('the dev server on a raw socket', () => {
  let server: DevServer;
  const lines: string[] = [];

  beforeAll(async () => {
    server = await startDevServer({ port: 0, apiKey: KEY, log: (l) => lines.push(l) });
  });
  afterAll(() => server.close());

  async function expectAlive(): Promise<void> {
    const health = await rawRequest(server, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
  }

  test.each([
    ['GET', '//['],
    ['GET', 'http://['],
    ['GET', 'https://:80/v1/models'],
    ['GET', 'http://%zz/'],
    ['POST', '//['],
    ['POST', 'http://%zz/'],
  ])('%s %s: 400 with an Anthropic error body, and the server lives on', async (method, target) => {
    const body = method === 'POST' ? '{"model":"x"}' : '';
    const response = await rawRequest(server, `${method} ${target} HTTP/1.1\r\nHost: x\r\nx-api-key: ${KEY}\r\ncontent-length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toBe('application/json');
    expect(anthropicError(response.body)).toEqual({ type: 'invalid_request_error', message: expect.stringContaining('request target') });
    await expectAlive();
  });

  test('a bad target from an OpenAI client gets an OpenAI error body', async () => {
    const response = await rawRequest(server, `GET https://:80/v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nConnection: close\r\n\r\n`);
    expect(response.status).toBe(400);
    expect(openAiError(response.body).type).toBe('invalid_request_error');
  });

  test('requests the HTTP parser refuses get a protocol-shaped body instead of an empty one', async () => {
    const huge = await rawRequest(server, `GET /v1/models HTTP/1.1\r\nHost: x\r\nx-api-key: ${KEY}\r\nx-filler: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(huge.status).toBe(431);
    expect(anthropicError(huge.body).message).toMatch(/headers are larger/);

    const method = await rawRequest(server, 'FROB /v1/models HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(method.status).toBe(400);
    expect(anthropicError(method.body).type).toBe('invalid_request_error');

    const framing = await rawRequest(server, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`);
    expect(framing.status).toBe(400);
    expect(openAiError(framing.body).message).toMatch(/not valid HTTP/);
    await expectAlive();
  });

  test('credentials are checked before the body size: a 10 MB body without a key gets 401, with one 413', async () => {
    const big = `{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[{"role":"user","content":"${'x'.repeat(10 * 1024 * 1024)}"}]}`;
    const head = (auth: string) => `POST /v1/messages HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\nanthropic-version: 2023-06-01\r\n${auth}content-length: ${Buffer.byteLength(big)}\r\nConnection: close\r\n\r\n`;
    const anonymous = await rawRequest(server, head('') + big, 20_000);
    expect(anonymous.status).toBe(401);
    expect(anthropicError(anonymous.body).type).toBe('authentication_error');
    const keyed = await rawRequest(server, `${head(`x-api-key: ${KEY}\r\n`)}${big}`, 20_000);
    expect(keyed.status).toBe(413);
    expect(anthropicError(keyed.body).type).toBe('request_too_large');
  });

  test('a seeded fuzz of request lines, headers and bodies: every request is answered, in a protocol error shape when refused', async () => {
    const methods = fc.constantFrom('GET', 'POST', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PATCH');
    const pathPart = fc.oneof(
      fc.constantFrom('/v1/messages', '/v1/chat/completions', '/v1/models', '/v1/messages/count_tokens', '/health', '/api/v1/messages', '/', '//', '/v1/models/claude-sonnet-4-6'),
      fc.string({ unit: fc.constantFrom(...'/[]%:@?#!$&\'()*+,;=abc09-._~'.split('')), maxLength: 24 }).map((s) => `/${s}`),
    );
    const prefix = fc.constantFrom('', '', '', 'http://', 'https://', 'http://localhost', 'http://[', 'https://:80', 'http://%zz', '/');
    const auth = fc.constantFrom('', `x-api-key: ${KEY}\r\n`, `Authorization: Bearer ${KEY}\r\n`, 'x-api-key: wrong\r\n', 'anthropic-version: 2023-06-01\r\n');
    const body = fc.oneof(
      fc.constant(''),
      fc.constant('{"model":"claude-sonnet-4-6","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'),
      fc.constant('{"model":"claude-sonnet-4-6","messages":[{"role":"user","content":"hi"}],"stream":true}'),
      fc.json({ maxDepth: 4 }),
      fc.string({ maxLength: 64 }),
    );
    await fc.assert(fc.asyncProperty(methods, prefix, pathPart, auth, body, async (method, pre, p, credentials, payload) => {
      const target = `${pre}${p}`;
      const bytes = Buffer.from(payload, 'utf8');
      const request = Buffer.concat([
        Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: x\r\n${credentials}content-type: application/json\r\ncontent-length: ${bytes.length}\r\nConnection: close\r\n\r\n`, 'latin1'),
        bytes,
      ]);
      const response = await rawRequest(server, request);
      expect(response.status).toBeGreaterThanOrEqual(200);
      expect(response.status).toBeLessThan(600);
      if (response.status! >= 400 && method !== 'HEAD') {
        const parsed = JSON.parse(response.body);
        expect(parsed.error).toEqual(expect.objectContaining({ type: expect.any(String), message: expect.any(String) }));
      }
    }), { seed: 20261203, numRuns: 300 });
    await expectAlive();
  }, 120_000);
});

describe('the dev server on a port that is in use', () => {
  test('says which flag picks another port', async () => {
    const first = await startDevServer({ port: 0, apiKey: KEY, log: () => undefined });
    try {
      await expect(startDevServer({ port: first.port, apiKey: KEY, log: () => undefined }))
        .rejects.toThrow(`port ${first.port} on 127.0.0.1 is already in use; choose another with --port <n> (--port 0 picks a free one)`);
    } finally {
      await first.close();
    }
  });
});
