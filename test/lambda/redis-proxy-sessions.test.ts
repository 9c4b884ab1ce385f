/**
 * The real proxy (the `cdk-serverless-llm dev` CLI: the Lambda handler over the awslambda shim, mock upstream) with
 * the Redis backends, against a real redis-server, driven by the official Anthropic and OpenAI SDKs. Each proxy runs
 * in its own process, like a Lambda execution environment: stopping one and starting another is a cold start.
 *
 * The proxy reaches Redis the way VpcRedisSessions configures it — TLS (trusting the test CA through
 * NODE_EXTRA_CA_CERTS, as Lambda trusts Amazon's) and token auth with the token read from Secrets Manager (a loopback
 * double) — when this redis-server build has TLS; otherwise without TLS, as the test names say.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describeTransport, FakeSecretsManager, RedisTestServer } from '../support/redis-server';

const ROOT = path.resolve(__dirname, '..', '..');
const TOKEN = 'e2e-token-0123456789abcdefghijkl';
const KEY = 'sk-dev-redis-e2e-0123456789';
const MODEL = 'claude-haiku-4-5';

let redis: RedisTestServer;
let secrets: FakeSecretsManager;
let caFile: string | undefined;
const running: ChildProcess[] = [];

interface Proxy {
  readonly url: string;
  readonly anthropic: (sessionId?: string) => Anthropic;
  readonly openai: (sessionId?: string) => OpenAI;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Starts one proxy process (a cold start) configured like a function wired in with VpcRedisSessions.grantConnect(). */
async function startProxy(env: Record<string, string>): Promise<Proxy> {
  const port = await freePort();
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'lambda/dev-server/cli.ts', 'dev', '--port', String(port), '--api-key', KEY], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TS_NODE_PROJECT: 'test/tsconfig.json',
      ...(caFile ? { NODE_EXTRA_CA_CERTS: caFile } : {}),
      PROXY_SESSIONS: 'redis',
      PROXY_LIMIT_STORE: 'redis',
      PROXY_RATE_LIMITS: JSON.stringify({ requestsPerMinute: 1000 }),
      REDIS_HOST: redis.host,
      REDIS_PORT: String(redis.port),
      REDIS_TLS: String(redis.tls),
      REDIS_AUTH_MODE: 'token',
      REDIS_TOKEN_SECRET_ARN: secrets.arn,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDTEST',
      AWS_SECRET_ACCESS_KEY: 'test-secret-key',
      ...env,
    },
  });
  running.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the proxy did not start within 45 s:\n${output}`)), 45_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(`http://127.0.0.1:${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the proxy exited with ${code}:\n${output}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    anthropic: (sessionId) => new Anthropic({ baseURL: url, apiKey: KEY, maxRetries: 0, defaultHeaders: sessionId ? { 'x-session-id': sessionId } : {} }),
    openai: (sessionId) => new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0, defaultHeaders: sessionId ? { 'x-session-id': sessionId } : {} }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The conversation the proxy stored for a session id (read with the admin user, straight from Redis). */
function stored(sessionId: string): Array<{ role: string; content: unknown }> | undefined {
  const keys = redis.cli('--scan', '--pattern', `llm:s:*:${sessionId}`).split('\n').filter(Boolean);
  if (keys.length === 0) return undefined;
  expect(keys).toHaveLength(1);
  return JSON.parse(redis.cli('GET', keys[0]));
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return (content as Array<{ type: string; text?: string }>).filter((b) => b.type === 'text').map((b) => b.text).join('');
}

beforeAll(async () => {
  redis = await RedisTestServer.start({ defaultUserToken: TOKEN, persistent: true });
  if (redis.tls) {
    caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'redis-ca-')), 'ca.pem');
    fs.writeFileSync(caFile, redis.ca!);
  }
  secrets = await new FakeSecretsManager(JSON.stringify({ password: TOKEN })).start();
}, 60_000);

afterAll(async () => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  await secrets.stop();
  await redis.dispose();
});

describe(`the proxy with Redis sessions and limits, ${describeTransport().replace('an ACL user', 'token auth from Secrets Manager')}`, () => {
  let first: Proxy;

  beforeAll(async () => {
    first = await startProxy({});
  }, 60_000);

  test('Anthropic Messages: the client sends only the new turn, and the proxy keeps the conversation in Redis', async () => {
    const client = first.anthropic('anthropic-session');
    const one = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'My name is Ada.' }] });
    expect(one.content.length).toBeGreaterThan(0);
    expect(stored('anthropic-session')!.map((m) => m.role)).toEqual(['user', 'assistant']);

    const two = await client.messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'What is my name?' }] }).finalMessage();
    const alone = await first.anthropic().messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'What is my name?' }] });
    // The upstream saw the stored turns in front of the new one.
    expect(two.usage.input_tokens).toBeGreaterThan(alone.input_tokens);
    const conversation = stored('anthropic-session')!;
    expect(conversation.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(textOf(conversation[0].content)).toBe('My name is Ada.');
    expect(textOf(conversation[2].content)).toBe('What is my name?');
    expect(textOf(conversation[3].content)).toBe(two.content.filter((b) => b.type === 'text').map((b) => (b as Anthropic.TextBlock).text).join(''));
  });

  test('OpenAI Chat Completions: the same, streamed and not', async () => {
    const client = first.openai('openai-session');
    const stream = await client.chat.completions.create({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'Remember the number 42.' }] });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
    expect(streamed.length).toBeGreaterThan(0);
    const two = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Which number?' }] });
    const conversation = stored('openai-session')!;
    expect(conversation.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(textOf(conversation[0].content)).toBe('Remember the number 42.');
    expect(textOf(conversation[1].content)).toBe(streamed);
    expect(textOf(conversation[3].content)).toBe(two.choices[0].message.content);
  });

  test('a session survives a cold start: another proxy process continues it, in either protocol', async () => {
    await first.stop();
    const second = await startProxy({});
    try {
      const reply = await second.openai('anthropic-session').chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'And my age?' }] });
      expect(reply.choices[0].message.content).toBeTruthy();
      const conversation = stored('anthropic-session')!;
      expect(conversation).toHaveLength(6);
      expect(textOf(conversation[0].content)).toBe('My name is Ada.');
      expect(textOf(conversation[4].content)).toBe('And my age?');
    } finally {
      await second.stop();
    }
  });

  test('Responses API: a stored response in Redis is continued with previous_response_id by another proxy process', async () => {
    const one = await startProxy({});
    const two = await startProxy({});
    try {
      const opening = await one.openai().responses.create({ model: MODEL, input: 'My name is Grace.' });
      const second = await two.openai().responses.stream({ model: MODEL, previous_response_id: opening.id, input: 'What is my name?' }).finalResponse();
      expect(second.status).toBe('completed');
      const conversation = stored(second.id)!;
      expect(conversation.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
      expect(textOf(conversation[0].content)).toBe('My name is Grace.');
      expect(textOf(conversation[3].content)).toBe(second.output_text);
      // Not stored: nothing in Redis under its id.
      const unstored = await one.openai().responses.create({ model: MODEL, input: 'Forget me.', store: false });
      expect(stored(unstored.id)).toBeUndefined();
    } finally {
      await one.stop();
      await two.stop();
    }
  });

  test('a turn sent the moment the previous streamed reply ends always finds that reply (30 turns, both protocols)', async () => {
    // Token limits make the proxy record usage in Redis on every turn, as deployed with a token budget.
    const proxy = await startProxy({ PROXY_RATE_LIMITS: JSON.stringify({ requestsPerMinute: 1000, tokensPerMinute: 10_000_000 }) });
    try {
      const turns = 30;
      for (let i = 0; i < turns; i++) {
        const anthropic = i % 2 === 0;
        const response = await fetch(`${proxy.url}${anthropic ? '/v1/messages' : '/v1/chat/completions'}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-session-id': 'fast-follow-up', ...(anthropic ? { 'x-api-key': KEY } : { authorization: `Bearer ${KEY}` }) },
          body: JSON.stringify({ model: MODEL, max_tokens: 16, stream: true, messages: [{ role: 'user', content: `turn ${i}` }] }),
        });
        expect(response.status).toBe(200);
        // Read to the end, then send the next turn at once.
        const text = await response.text();
        expect(text).toContain(anthropic ? 'event: message_stop' : 'data: [DONE]');
      }
      const conversation = stored('fast-follow-up')!;
      expect(conversation).toHaveLength(turns * 2);
      expect(conversation.filter((m) => m.role === 'user').map((m) => textOf(m.content))).toEqual(Array.from({ length: turns }, (_, i) => `turn ${i}`));
    } finally {
      await proxy.stop();
    }
  }, 120_000);

  test('two proxy processes share one requests-per-minute limit exactly', async () => {
    for (const key of redis.cli('--scan', '--pattern', 'llm:rl:*').split('\n').filter(Boolean)) redis.cli('DEL', key);
    // Fail closed: a decision made without Redis (e.g. a connect deadline missed on a loaded machine) shows up as a 503
    // here instead of as a silent extra admission.
    const limits = { PROXY_RATE_LIMITS: JSON.stringify({ requestsPerMinute: 8 }), PROXY_LIMIT_FAILURE_MODE: 'closed' };
    const [a, b] = await Promise.all([startProxy(limits), startProxy(limits)]);
    try {
      // One request through each process first, so both have connected and authenticated before the concurrent burst;
      // these two count against the shared limit of 8.
      await a.anthropic().messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'warm up a' }] });
      await b.openai().chat.completions.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'warm up b' }] });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => {
        const proxy = i % 2 === 0 ? a : b;
        const call = i % 4 < 2
          ? proxy.anthropic().messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: `ping ${i}` }] })
          : proxy.openai().chat.completions.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: `ping ${i}` }] });
        return call.then(() => 200, (e: { status?: number; headers?: Headers | Record<string, string> }) => e.status ?? 0);
      }));
      expect(results.filter((s) => s === 503)).toHaveLength(0);
      expect(results.filter((s) => s === 200)).toHaveLength(6);
      expect(results.filter((s) => s === 429)).toHaveLength(14);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 120_000);

  test('while Redis is down: fail-closed answers 503 in both protocols, fail-open serves, sessions answer 503; all recover', async () => {
    const [closed, open] = await Promise.all([
      startProxy({ PROXY_LIMIT_FAILURE_MODE: 'closed' }),
      startProxy({ PROXY_LIMIT_FAILURE_MODE: 'open' }),
    ]);
    try {
      // Each proxy has connected (and authenticated) before the outage.
      await closed.anthropic().messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'warm up' }] });
      await open.anthropic().messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'warm up' }] });
      await redis.stop('SIGKILL');

      const anthropicClosed = await closed.anthropic().messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
        .then(() => 200, (e: { status?: number; error?: { error?: { type?: string } } }) => e.status);
      expect(anthropicClosed).toBe(503);
      const openaiClosed = await closed.openai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] })
        .then(() => 200, (e: { status?: number }) => e.status);
      expect(openaiClosed).toBe(503);
      const started = Date.now();
      const served = await open.anthropic().messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
      expect(served.content.length).toBeGreaterThan(0);
      expect(Date.now() - started).toBeLessThan(3000);
      const sessionDown = await open.anthropic('anthropic-session').messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
        .then(() => 200, (e: { status?: number }) => e.status);
      expect(sessionDown).toBe(503);

      await redis.restart();
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = await closed.anthropic('anthropic-session').messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'Back again.' }] })
          .then(() => 200, (e: { status?: number }) => e.status ?? 0);
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status).toBe(200);
      // Nothing committed before the crash was lost: the six stored turns plus this exchange.
      const conversation = stored('anthropic-session')!;
      expect(conversation).toHaveLength(8);
      expect(textOf(conversation[0].content)).toBe('My name is Ada.');
      expect(textOf(conversation[6].content)).toBe('Back again.');
    } finally {
      await Promise.all([closed.stop(), open.stop()]);
    }
  }, 120_000);
});
