import { createApp } from '../../lambda/streaming-proxy/app';
import { withOriginVerify, type Authenticator } from '../../lambda/streaming-proxy/auth/index';
import { OriginSecretStore } from '../../lambda/streaming-proxy/auth/origin-verify';
import { currentAndPreviousLoader } from '../../lambda/streaming-proxy/auth/secrets-manager';
import { ConfigError, loadConfig } from '../../lambda/streaming-proxy/config';
import { ProxyError } from '../../lambda/streaming-proxy/errors';
import type { ProxyRequest } from '../../lambda/streaming-proxy/http';
import { FakeSecretsManager } from '../support/fake-secrets-manager';
import { MemorySink } from '../support/memory-sink';
import { KEY, RecordingMeter } from '../support/proxy-harness';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:proxy-origin-AbCdEf';
const KEYS_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:proxy-keys-AbCdEf';
const FIRST = 'origin-secret-one-0123456789abcdef0123456789';
const SECOND = 'origin-secret-two-fedcba9876543210fedcba9876';
const THIRD = 'origin-secret-three-00112233445566778899aabbcc';

function request(headers: Record<string, string>, path = '/v1/messages', body: string | Buffer = ''): ProxyRequest {
  return { method: 'POST', path, query: new URLSearchParams(), headers, body: Buffer.from(body), requestId: 'r' };
}

async function rejection(p: Promise<unknown>): Promise<ProxyError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ProxyError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

/** Counts calls; always admits. */
class CountingAuthenticator implements Authenticator {
  public calls = 0;
  public async authenticate() {
    this.calls++;
    return { id: 'alice', method: 'api-key' as const };
  }
}

describe('OriginSecretStore', () => {
  test('accepts the current and the previous value and nothing else', async () => {
    const store = new OriginSecretStore({ load: async () => [SECOND, FIRST], ttlMs: 60_000 });
    await expect(store.verify(SECOND)).resolves.toBe(true);
    await expect(store.verify(FIRST)).resolves.toBe(true);
    await expect(store.verify(THIRD)).resolves.toBe(false);
    await expect(store.verify(SECOND.slice(0, -1))).resolves.toBe(false);
    await expect(store.verify('')).resolves.toBe(false);
  });

  test('caches for the TTL, reloads after it, and reloads early on a mismatch at most once per refresh interval', async () => {
    let now = 0;
    let values = [FIRST];
    let loads = 0;
    const store = new OriginSecretStore({ load: async () => (loads++, values), ttlMs: 60_000, missRefreshMs: 10_000, now: () => now });
    await expect(store.verify(FIRST)).resolves.toBe(true);
    values = [SECOND, FIRST];
    now = 5_000;
    // Within the refresh interval a mismatch does not reload (an attacker cannot make it call Secrets Manager per request).
    await expect(store.verify(SECOND)).resolves.toBe(false);
    expect(loads).toBe(1);
    now = 10_000;
    await expect(store.verify(SECOND)).resolves.toBe(true);
    expect(loads).toBe(2);
    values = [THIRD, SECOND];
    now = 70_001;
    await expect(store.verify(FIRST)).resolves.toBe(false);
    expect(loads).toBe(3);
  });

  test('keeps the loaded values when a reload fails, and answers 503 when none was ever loaded', async () => {
    let fail = false;
    let now = 0;
    const stale: string[] = [];
    const store = new OriginSecretStore({
      load: async () => {
        if (fail) throw Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
        return [FIRST];
      },
      ttlMs: 1000,
      now: () => now,
      onStale: (p) => stale.push(p),
    });
    await expect(store.verify(FIRST)).resolves.toBe(true);
    fail = true;
    now = 5000;
    await expect(store.verify(FIRST)).resolves.toBe(true);
    expect(stale).toEqual(['loading the origin secret failed (AccessDeniedException)']);

    const empty = new OriginSecretStore({ load: async () => { throw Object.assign(new Error('x'), { name: 'AccessDeniedException' }); }, ttlMs: 1000 });
    const err = await rejection(empty.verify(FIRST));
    expect(err.kind).toBe('unavailable');
    expect(err.message).toBe('Origin verification is unavailable: loading the origin secret failed (AccessDeniedException)');
  });

  test('refuses a guessable (short) secret as unavailable instead of accepting it', async () => {
    const store = new OriginSecretStore({ load: async () => ['short'], ttlMs: 1000 });
    const err = await rejection(store.verify('short'));
    expect(err.kind).toBe('unavailable');
    expect(err.message).not.toContain('short');
  });
});

describe('withOriginVerify', () => {
  const config = { secretArn: ARN, header: 'x-origin-verify', cacheTtlSeconds: 60 };

  test('without origin verification configured, returns the authenticator unchanged', () => {
    const inner = new CountingAuthenticator();
    expect(withOriginVerify(inner, undefined)).toBe(inner);
  });

  test('refuses a request without the header or with a wrong value with 403, before the wrapped authenticator runs', async () => {
    const inner = new CountingAuthenticator();
    const auth = withOriginVerify(inner, config, { loadOriginSecrets: async () => [FIRST] });
    const cases: Array<Record<string, string>> = [{}, { 'x-origin-verify': THIRD }, { 'x-origin-verify': '' }];
    for (const headers of cases) {
      const err = await rejection(auth.authenticate(request({ ...headers, 'x-api-key': KEY })));
      expect(err.status('anthropic')).toBe(403);
      expect(err.body('anthropic')).not.toContain(THIRD);
    }
    expect(inner.calls).toBe(0);
    await expect(auth.authenticate(request({ 'x-origin-verify': FIRST }))).resolves.toEqual({ id: 'alice', method: 'api-key' });
    expect(inner.calls).toBe(1);
  });
});

describe('origin verification through Secrets Manager and the whole proxy', () => {
  const fake = new FakeSecretsManager();
  const env = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret-example', AWS_ENDPOINT_URL_SECRETS_MANAGER: '' };
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    await fake.start();
    env.AWS_ENDPOINT_URL_SECRETS_MANAGER = fake.endpoint;
    // The SDK's credential chain and endpoint settings read these (the handler never does).
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await fake.stop();
  });

  test('loads AWSCURRENT alone before the first rotation, and AWSCURRENT and AWSPREVIOUS after it, with the real SDK client', async () => {
    fake.secrets.set(ARN, FIRST);
    fake.previous.delete(ARN);
    const load = currentAndPreviousLoader(ARN, { region: 'us-east-1' });
    await expect(load()).resolves.toEqual([FIRST]);
    fake.rotate(ARN, SECOND);
    await expect(load()).resolves.toEqual([SECOND, FIRST]);
    expect(fake.stagesRequested.slice(-4).sort()).toEqual(['AWSCURRENT', 'AWSCURRENT', 'AWSPREVIOUS', 'AWSPREVIOUS']);
  });

  function proxy(ttlSeconds = 60) {
    const config = loadConfig({
      PROXY_UPSTREAM: 'mock',
      PROXY_AUTH_MODE: 'api-keys',
      PROXY_API_KEYS_SECRET_ARN: KEYS_ARN,
      PROXY_ORIGIN_VERIFY_SECRET_ARN: ARN,
      PROXY_ORIGIN_VERIFY_CACHE_TTL_SECONDS: String(ttlSeconds),
      AWS_REGION: 'us-east-1',
    });
    return createApp(config, { auth: { loadKeys: async () => JSON.stringify({ alice: KEY }) }, meter: new RecordingMeter() });
  }

  async function call(p: ReturnType<typeof proxy>, req: ProxyRequest): Promise<MemorySink> {
    const sink = new MemorySink();
    await p.handle(req, sink);
    return sink;
  }

  const messages = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  const chat = JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] });

  test('a direct call (no CloudFront header) gets 403 in the client\'s protocol: Anthropic on /v1/messages, OpenAI on /v1/chat/completions', async () => {
    fake.secrets.set(ARN, FIRST);
    fake.previous.delete(ARN);
    const p = proxy();
    const anthropic = await call(p, request({ 'x-api-key': KEY, 'content-type': 'application/json' }, '/v1/messages', messages));
    expect(anthropic.status).toBe(403);
    expect(anthropic.json()).toEqual({ type: 'error', error: { type: 'permission_error', message: expect.stringContaining('CloudFront') } });
    const openai = await call(p, request({ 'authorization': `Bearer ${KEY}`, 'content-type': 'application/json' }, '/v1/chat/completions', chat));
    expect(openai.status).toBe(403);
    expect(openai.json()).toEqual({ error: { type: 'permission_error', code: 'permission_denied', param: null, message: expect.stringContaining('CloudFront') } });
  });

  test('checks the header before the body is parsed: a malformed body without the header is 403, not 400', async () => {
    fake.secrets.set(ARN, FIRST);
    const p = proxy();
    const res = await call(p, request({ 'x-api-key': KEY, 'content-type': 'application/json' }, '/v1/messages', '{not json'));
    expect(res.status).toBe(403);
    const through = await call(p, request({ 'x-api-key': KEY, 'x-origin-verify': FIRST, 'content-type': 'application/json' }, '/v1/messages', '{not json'));
    expect(through.status).toBe(400);
  });

  test('answers requests that carry the secret, and keeps answering both values across a rotation', async () => {
    fake.secrets.set(ARN, FIRST);
    fake.previous.delete(ARN);
    const p = proxy(1);
    const ok = (value: string) => request({ 'x-api-key': KEY, 'x-origin-verify': value, 'content-type': 'application/json' }, '/v1/messages', messages);
    expect((await call(p, ok(FIRST))).status).toBe(200);
    expect((await call(p, ok(SECOND))).status).toBe(403);
    // put-secret-value: SECOND becomes AWSCURRENT, FIRST AWSPREVIOUS. CloudFront still sends FIRST until the distribution
    // is updated, then SECOND: both are answered once the cache has expired.
    fake.rotate(ARN, SECOND);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call(p, ok(FIRST))).status).toBe(200);
    expect((await call(p, ok(SECOND))).status).toBe(200);
    // The next rotation retires FIRST.
    fake.rotate(ARN, THIRD);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call(p, ok(FIRST))).status).toBe(403);
    expect((await call(p, ok(SECOND))).status).toBe(200);
    expect((await call(p, ok(THIRD))).status).toBe(200);
  });
});

describe('origin verification configuration', () => {
  test('PROXY_ORIGIN_VERIFY_SECRET_ARN turns it on with the x-origin-verify header and a 60 s cache', () => {
    expect(loadConfig({ PROXY_AUTH_MODE: 'none' }).originVerify).toBeUndefined();
    expect(loadConfig({ PROXY_AUTH_MODE: 'none', PROXY_ORIGIN_VERIFY_SECRET_ARN: ARN }).originVerify)
      .toEqual({ secretArn: ARN, header: 'x-origin-verify', cacheTtlSeconds: 60 });
  });

  test('rejects a bad ARN, a bad header and settings without the ARN, naming the variable', () => {
    const error = (env: Record<string, string>) => {
      try {
        loadConfig({ PROXY_AUTH_MODE: 'none', ...env });
      } catch (err) {
        return (err as ConfigError).variable;
      }
      return undefined;
    };
    expect(error({ PROXY_ORIGIN_VERIFY_SECRET_ARN: 'not-an-arn' })).toBe('PROXY_ORIGIN_VERIFY_SECRET_ARN');
    expect(error({ PROXY_ORIGIN_VERIFY_SECRET_ARN: ARN, PROXY_ORIGIN_VERIFY_HEADER: 'origin verify' })).toBe('PROXY_ORIGIN_VERIFY_HEADER');
    expect(error({ PROXY_ORIGIN_VERIFY_HEADER: 'x-origin-verify' })).toBe('PROXY_ORIGIN_VERIFY_HEADER');
  });
});
