/**
 * The shipped bundle, not the TypeScript sources: assets/streaming-proxy/index.js is what Lambda runs. The Redis client
 * is kept out of it (build-tools/bundle.ts builds lambda/shared/redis into assets/streaming-proxy/redis.js, loaded with
 * require only when PROXY_SESSIONS or PROXY_LIMIT_STORE is redis), and so is the mock model (mock.js, loaded only when
 * PROXY_UPSTREAM=mock or a catalogue entry uses it), so these tests load the real files in a fresh Node
 * process with a minimal `awslambda` runtime global and drive the handler like the Lambda runtime does.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { createGatewayTable, dynamoClient, putKey } from '../support/gateway-table';
import { MotoServer } from '../support/moto-server';
import { FakeSecretsManager, RedisTestServer } from '../support/redis-server';

const ROOT = path.join(__dirname, '..', '..');
const ASSET = path.join(ROOT, 'assets', 'streaming-proxy');
const TOKEN = 'bundle-test-auth-token-0123456789';

/**
 * Runs in a child process: installs a minimal awslambda global (streamifyResponse + HttpResponseStream.from writing
 * the prelude), loads the bundle, invokes the handler with each Function URL event and prints one JSON line per
 * response, plus which modules were loaded.
 */
const RUNNER = `
const { PassThrough } = require('stream');
globalThis.awslambda = {
  streamifyResponse: (fn) => fn,
  HttpResponseStream: { from: (stream, prelude) => { stream.prelude = prelude; return stream; } },
};
const started = process.hrtime.bigint();
const { handler } = require(process.argv[1] + '/index.js');
const initMs = Number(process.hrtime.bigint() - started) / 1e6;
const events = JSON.parse(process.argv[2]);
(async () => {
  for (const event of events) {
    const stream = new PassThrough();
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    await handler(event, stream, { awsRequestId: 'req', getRemainingTimeInMillis: () => 60000 });
    await new Promise((r) => setImmediate(r));
    console.log(JSON.stringify({ status: stream.prelude && stream.prelude.statusCode, body: Buffer.concat(chunks).toString() }));
  }
  const loaded = Object.keys(require.cache).map((f) => require('path').basename(f));
  console.log(JSON.stringify({ loaded, initMs }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
`;

function run(env: Record<string, string>, events: unknown[]): Promise<{ lines: any[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', RUNNER, ASSET, JSON.stringify(events)], {
      env: { PATH: process.env.PATH, POWERTOOLS_LOG_LEVEL: 'SILENT', AWS_REGION: 'us-east-1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`the bundle exited with ${code}:\n${stderr}\n${stdout}`));
      // EMF metric lines are JSON too; keep the runner's own lines (responses and the final module list).
      const lines = stdout.split('\n').filter((l) => l.startsWith('{"status"') || l.startsWith('{"loaded"')).map((l) => JSON.parse(l));
      resolve({ lines, stderr });
    });
  });
}

function messagesEvent(text: string, sessionId?: string) {
  const body = JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: text }] });
  return {
    version: '2.0',
    rawPath: '/v1/messages',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...(sessionId ? { 'x-session-id': sessionId } : {}) },
    body,
    isBase64Encoded: false,
    requestContext: { http: { method: 'POST', path: '/v1/messages' }, requestId: 'r1' },
  };
}

const BASE_ENV = { PROXY_AUTH_MODE: 'none', PROXY_UPSTREAM: 'mock' };

describe('the bundled proxy (assets/streaming-proxy)', () => {
  test('is within the 800 KB budget, with the Redis client in a separate file', () => {
    const main = fs.statSync(path.join(ASSET, 'index.js')).size;
    expect(main).toBeLessThanOrEqual(800_000);
    expect(fs.existsSync(path.join(ASSET, 'redis.js'))).toBe(true);
    const source = fs.readFileSync(path.join(ASSET, 'index.js'), 'utf8');
    expect(source).toContain('require("./redis.js")');
    // The Redis client's RESP parser lives only in redis.js.
    expect(source).not.toMatch(/RESP_TYPES|@redis\/client/);
  });

  test('answers without loading redis.js when Redis is not configured', async () => {
    const { lines } = await run(BASE_ENV, [messagesEvent('hello')]);
    expect(lines[0].status).toBe(200);
    expect(JSON.parse(lines[0].body).content[0].type).toBe('text');
    expect(lines[1].loaded).not.toContain('redis.js');
    expect(lines[1].loaded).toContain('mock.js');
  }, 60_000);

  test('keeps the mock model in mock.js, which a proxy on Bedrock never loads', async () => {
    const source = fs.readFileSync(path.join(ASSET, 'index.js'), 'utf8');
    expect(source).toContain('require("./mock.js")');
    expect(source).not.toContain('mock upstream: simulated');
    expect(fs.readFileSync(path.join(ASSET, 'mock.js'), 'utf8')).toContain('mock upstream: simulated');
    // A Bedrock proxy answering a bad request (no upstream call) loads neither optional file.
    const bad = { ...messagesEvent('hello'), body: '{' };
    const { lines } = await run({ PROXY_AUTH_MODE: 'none', PROXY_UPSTREAM: 'bedrock' }, [bad]);
    expect(lines[0].status).toBe(400);
    expect(lines[1].loaded).not.toContain('mock.js');
    expect(lines[1].loaded).not.toContain('redis.js');
  }, 60_000);

  test.each([
    ['throttling', 429, 'rate_limit_error'],
    ['overloaded', 529, 'overloaded_error'],
    ['validation', 400, 'invalid_request_error'],
  ])('maps the mock\'s %s error (thrown from mock.js) as it maps Bedrock\'s', async (kind, status, type) => {
    const { lines } = await run(BASE_ENV, [messagesEvent(`[[mock: error=${kind}]]`)]);
    expect(lines[0].status).toBe(status);
    expect(JSON.parse(lines[0].body).error.type).toBe(type);
  }, 60_000);

  describe('with Redis sessions (real redis-server)', () => {
    let redis: RedisTestServer;
    let secrets: FakeSecretsManager;
    let caFile: string | undefined;

    beforeAll(async () => {
      redis = await RedisTestServer.start({ defaultUserToken: TOKEN });
      if (redis.tls) {
        caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-ca-')), 'ca.pem');
        fs.writeFileSync(caFile, redis.ca!);
      }
      secrets = await new FakeSecretsManager(JSON.stringify({ password: TOKEN })).start();
    }, 60_000);

    afterAll(async () => {
      await secrets?.stop();
      await redis?.dispose();
    });

    test('loads redis.js and keeps the conversation across two invocations', async () => {
      const env = {
        ...BASE_ENV,
        ...(caFile ? { NODE_EXTRA_CA_CERTS: caFile } : {}),
        PROXY_SESSIONS: 'redis',
        REDIS_HOST: redis.host,
        REDIS_PORT: String(redis.port),
        REDIS_TLS: String(redis.tls),
        REDIS_AUTH_MODE: 'token',
        REDIS_TOKEN_SECRET_ARN: secrets.arn,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
        AWS_ACCESS_KEY_ID: 'AKIDTEST',
        AWS_SECRET_ACCESS_KEY: 'test-secret-key',
      };
      const { lines } = await run(env, [messagesEvent('first turn', 'bundle-session-1'), messagesEvent('second turn', 'bundle-session-1')]);
      expect(lines[0].status).toBe(200);
      expect(lines[1].status).toBe(200);
      expect(lines[2].loaded).toContain('redis.js');
      // The second request sent one user turn; with the stored session the upstream saw three messages, so the mock's
      // input token count grows.
      const first = JSON.parse(lines[0].body);
      const second = JSON.parse(lines[1].body);
      expect(second.usage.input_tokens).toBeGreaterThan(first.usage.input_tokens);
      const stored = redis.cli('--scan').split('\n').filter((k) => k.includes('bundle-session-1'));
      expect(stored.length).toBe(1);
    }, 60_000);
  });

  describe('with the gateway table (moto)', () => {
    let moto: MotoServer;
    let client: DynamoDBClient;
    beforeAll(async () => {
      moto = await MotoServer.start();
      client = dynamoClient(moto.url);
      await createGatewayTable(client, 'bundle-gateway');
      await putKey(client, 'bundle-gateway', 'ada', 'sk-llm-bundle-ada-0123456789abcdef', { budgets: { monthlyUsd: 10 } });
    });
    afterAll(async () => {
      client?.destroy();
      await moto?.stop();
    });

    test('loads gateway.js, authenticates a table key, and charges its spend; an unknown key is a 401', async () => {
      const withKey = (key: string) => {
        const event = messagesEvent('hello from the bundle') as { headers: Record<string, string> };
        return { ...event, headers: { ...event.headers, 'x-api-key': key } };
      };
      const env = { ...BASE_ENV, ...moto.env(['DYNAMODB']), PROXY_AUTH_MODE: 'api-keys', PROXY_GATEWAY_TABLE: 'bundle-gateway' };
      const { lines } = await run(env, [withKey('sk-llm-bundle-ada-0123456789abcdef'), withKey('sk-llm-not-a-key-0123456789abcdef')]);
      expect(lines.map((l) => l.status).slice(0, 2)).toEqual([200, 401]);
      expect(lines[2].loaded).toContain('gateway.js');
      expect(lines[2].loaded).not.toContain('redis.js');
      const spend = await client.send(new GetItemCommand({ TableName: 'bundle-gateway', Key: marshall({ pk: 'spend#key#ada', sk: `month#${new Date().toISOString().slice(0, 7)}` }) }));
      expect(Number(spend.Item?.requests?.N)).toBe(1);
    }, 60_000);

    test('a proxy without the table never loads gateway.js', async () => {
      const { lines } = await run(BASE_ENV, [messagesEvent('hi')]);
      expect(lines[1].loaded).not.toContain('gateway.js');
    });
  });
});
