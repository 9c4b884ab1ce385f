import * as crypto from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

// The services are plain CommonJS (they run on the Lambda runtime's own AWS SDK, with nothing to bundle).
/* eslint-disable @typescript-eslint/no-require-imports */
const { complete } = require('../../examples/multi-service/services/llm-client.js');
const { parseTriage } = require('../../examples/multi-service/services/triage-rules.js');
/* eslint-enable @typescript-eslint/no-require-imports */

const CREDENTIALS = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'example-secret-key', sessionToken: 'example-session-token' };

interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** A loopback stand-in for the proxy's function URL: records the request and answers with `status` and `reply`. */
async function withServer(status: number, reply: string, run: (baseUrl: string, received: Received[]) => Promise<void>): Promise<void> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method!, path: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, received);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Recomputes the SigV4 signature of a received request, the way Lambda checks a function URL call. */
async function expectedAuthorization(r: Received, signingDate: Date): Promise<string> {
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(String(r.headers.authorization))![1].split(';');
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) headers[name] = String(r.headers[name]);
  const signer = new SignatureV4({ service: 'lambda', region: 'us-east-1', credentials: CREDENTIALS, sha256: Sha256 });
  const [hostname, port] = String(r.headers.host).split(':');
  const signed = await signer.sign(
    { method: r.method, protocol: 'http:', hostname, port: Number(port), path: r.path, headers, body: r.body },
    { signingDate },
  );
  return String(signed.headers.authorization);
}

describe('multi-service: the services\' LLM client', () => {
  test('signs a Messages request for the lambda service with the body hash a function URL requires, and returns the reply text', async () => {
    const reply = JSON.stringify({
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-4-5',
      content: [{ type: 'text', text: '- first point' }, { type: 'text', text: '\n- second point' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 10, output_tokens: 8 },
    });
    await withServer(200, reply, async (baseUrl, received) => {
      const signingDate = new Date('2025-11-22T10:00:00Z');
      const text = await complete({
        baseUrl,
        model: 'claude-haiku-4-5',
        prompt: 'Summarize this.',
        system: 'Be brief.',
        maxTokens: 300,
        region: 'us-east-1',
        credentials: CREDENTIALS,
        signingDate,
      });
      expect(text).toBe('- first point\n- second point');

      expect(received).toHaveLength(1);
      const r = received[0];
      expect(r.method).toBe('POST');
      expect(r.path).toBe('/v1/messages');
      expect(JSON.parse(r.body)).toEqual({
        model: 'claude-haiku-4-5', max_tokens: 300, system: 'Be brief.', messages: [{ role: 'user', content: 'Summarize this.' }],
      });
      expect(r.headers['anthropic-version']).toBe('2023-06-01');
      expect(r.headers['x-amz-content-sha256']).toBe(crypto.createHash('sha256').update(r.body).digest('hex'));
      expect(r.headers['x-amz-security-token']).toBe(CREDENTIALS.sessionToken);
      expect(r.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE\/20251122\/us-east-1\/lambda\/aws4_request, SignedHeaders=[^,]*x-amz-content-sha256[^,]*, Signature=[0-9a-f]{64}$/,
      );
      expect(r.headers.authorization).toBe(await expectedAuthorization(r, signingDate));
    });
  });

  test('keeps a path prefix of the proxy URL (e.g. behind /api) in the signed path', async () => {
    await withServer(200, JSON.stringify({ content: [{ type: 'text', text: 'ok' }] }), async (baseUrl, received) => {
      await complete({ baseUrl: `${baseUrl}api`, model: 'm', prompt: 'p', region: 'us-east-1', credentials: CREDENTIALS });
      expect(received[0].path).toBe('/api/v1/messages');
      expect(received[0].headers.authorization).toBe(await expectedAuthorization(received[0], new Date(
        `${String(received[0].headers['x-amz-date']).replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z')}`)));
    });
  });

  test('fails with the proxy\'s status and error body when the call is refused', async () => {
    const error = JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'Rate limit of 600 requests per minute reached.' } });
    await withServer(429, error, async (baseUrl) => {
      await expect(complete({ baseUrl, model: 'm', prompt: 'p', region: 'us-east-1', credentials: CREDENTIALS }))
        .rejects.toThrow(/answered 429: .*rate_limit_error/);
    });
  });

  test('triage keeps only the allowed category and priority from the model\'s reply', () => {
    expect(parseTriage('Here you go: {"category": "billing", "priority": "urgent"} Thanks.')).toEqual({ category: 'billing', priority: 'urgent' });
    expect(parseTriage('{"category": "refund-please", "priority": "now"}')).toEqual({ category: 'other', priority: 'normal' });
    expect(parseTriage('I cannot classify this.')).toEqual({ category: 'other', priority: 'normal' });
    expect(parseTriage('{"category": "bug", "priority": ')).toEqual({ category: 'other', priority: 'normal' });
    expect(parseTriage('{"category": "bug", "priority": "high"')).toEqual({ category: 'other', priority: 'normal' });
  });
});
