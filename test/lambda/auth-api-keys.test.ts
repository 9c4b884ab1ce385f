import { createHash } from 'crypto';
import { ApiKeyStore, hashKey, KeySecretError, matchKey, parseKeySecret } from '../../lambda/streaming-proxy/auth/api-keys';
import { createAuthenticator } from '../../lambda/streaming-proxy/auth/index';
import { secretsManagerLoader } from '../../lambda/streaming-proxy/auth/secrets-manager';
import { ProxyError } from '../../lambda/streaming-proxy/errors';
import type { ProxyRequest } from '../../lambda/streaming-proxy/http';
import { FakeSecretsManager } from '../support/fake-secrets-manager';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:proxy-keys-AbCdEf';
const ALICE = 'sk-alice-0123456789abcdef';
const BOB = 'sk-bob-fedcba9876543210';

function request(headers: Record<string, string>): ProxyRequest {
  return { method: 'POST', path: '/v1/messages', query: new URLSearchParams(), headers, body: Buffer.alloc(0), requestId: 'r' };
}

async function rejection(p: Promise<unknown>): Promise<ProxyError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ProxyError) return err;
    throw err;
  }
  throw new Error('expected a ProxyError');
}

describe('parseKeySecret', () => {
  test('accepts plain keys and sha256 digests, keeping only digests', () => {
    const digest = createHash('sha256').update(BOB).digest('hex');
    const keys = parseKeySecret(JSON.stringify({ alice: ALICE, bob: `sha256:${digest}` }));
    expect(keys.map((k) => k.name)).toEqual(['alice', 'bob']);
    expect(keys[0].digest).toEqual(hashKey(ALICE));
    expect(keys[1].digest.toString('hex')).toBe(digest);
    expect(JSON.stringify(keys)).not.toContain(ALICE);
  });

  test('explains a bad secret without quoting any key', () => {
    const cases = ['not json', '[]', '{}', JSON.stringify({ alice: 42 }), JSON.stringify({ alice: 'tiny-key' }), JSON.stringify({ 'bad name': ALICE }), JSON.stringify({ a: 'sha256:xyz' })];
    for (const secret of cases) {
      let err: unknown;
      try {
        parseKeySecret(secret);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KeySecretError);
      expect((err as Error).message).not.toContain(ALICE);
      expect((err as Error).message).not.toContain('tiny-key');
    }
  });
});

describe('matchKey', () => {
  test('finds the matching key by name and nothing for others', () => {
    const keys = parseKeySecret(JSON.stringify({ alice: ALICE, bob: BOB }));
    expect(matchKey(keys, ALICE)?.name).toBe('alice');
    expect(matchKey(keys, BOB)?.name).toBe('bob');
    expect(matchKey(keys, `${ALICE}x`)?.name).toBeUndefined();
    expect(matchKey(keys, '')?.name).toBeUndefined();
  });
});

describe('ApiKeyStore', () => {
  test('caches for the TTL, reloads after it, and picks up a new key early on a miss', async () => {
    let now = 0;
    let secret = JSON.stringify({ alice: ALICE });
    let loads = 0;
    const store = new ApiKeyStore({ load: async () => { loads++; return secret; }, ttlMs: 300_000, missRefreshMs: 30_000, now: () => now });
    expect((await store.verify(ALICE))?.name).toBe('alice');
    expect((await store.verify(ALICE))?.name).toBe('alice');
    expect(loads).toBe(1);
    secret = JSON.stringify({ alice: ALICE, bob: BOB });
    now = 10_000;
    expect((await store.verify(BOB))?.name).toBeUndefined(); // within the miss-refresh interval: no reload
    expect(loads).toBe(1);
    now = 31_000;
    expect((await store.verify(BOB))?.name).toBe('bob'); // a miss after the interval reloads once
    expect(loads).toBe(2);
    secret = JSON.stringify({ bob: BOB });
    now = 400_000;
    expect((await store.verify(ALICE))?.name).toBeUndefined(); // TTL expired: the removed key stops working
  });

  test('keeps stale keys when a reload fails, and is unavailable (503) when it never loaded', async () => {
    let now = 0;
    let fail = false;
    const problems: string[] = [];
    const store = new ApiKeyStore({
      load: async () => { if (fail) throw new Error('network down'); return JSON.stringify({ alice: ALICE }); },
      ttlMs: 1000,
      now: () => now,
      onStale: (p) => problems.push(p),
    });
    expect((await store.verify(ALICE))?.name).toBe('alice');
    fail = true;
    now = 5000;
    expect((await store.verify(ALICE))?.name).toBe('alice');
    expect(problems).toHaveLength(1);

    const empty = new ApiKeyStore({ load: async () => { throw new Error('network down'); }, ttlMs: 1000 });
    const err = await rejection(empty.verify(ALICE));
    expect(err.kind).toBe('unavailable');
    expect(err.status('anthropic')).toBe(503);
  });

  test('loads once for concurrent first requests', async () => {
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 10));
      return JSON.stringify({ alice: ALICE });
    };
    const store = new ApiKeyStore({ load, ttlMs: 1000 });
    const names = (await Promise.all([store.verify(ALICE), store.verify(ALICE), store.verify(ALICE)])).map((k) => k?.name);
    expect(names).toEqual(['alice', 'alice', 'alice']);
    expect(loads).toBe(1);
  });
});

describe('api-keys authentication through Secrets Manager', () => {
  const fake = new FakeSecretsManager();
  const credentials = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret-example' };
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    await fake.start();
    // The SDK's credential chain reads these (the handler never does).
    for (const [k, v] of Object.entries(credentials)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    fake.secrets.set(ARN, JSON.stringify({ alice: ALICE, bob: `sha256:${createHash('sha256').update(BOB).digest('hex')}` }));
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await fake.stop();
  });

  test('authenticates x-api-key and bearer keys with the real SDK client, naming the caller by key name', async () => {
    const auth = createAuthenticator(
      { mode: 'api-keys', secretArn: ARN, cacheTtlSeconds: 300 },
      { loadKeys: secretsManagerLoader(ARN, { region: 'us-east-1', endpoint: fake.endpoint }) },
    );
    await expect(auth.authenticate(request({ 'x-api-key': ALICE }))).resolves.toEqual({ id: 'alice', method: 'api-key' });
    await expect(auth.authenticate(request({ authorization: `Bearer ${BOB}` }))).resolves.toEqual({ id: 'bob', method: 'api-key' });
    expect(fake.calls).toBe(1);
  });

  test('refuses missing and wrong keys with 401 and never echoes them', async () => {
    const auth = createAuthenticator(
      { mode: 'api-keys', secretArn: ARN, cacheTtlSeconds: 300 },
      { loadKeys: secretsManagerLoader(ARN, { region: 'us-east-1', endpoint: fake.endpoint }) },
    );
    const missing = await rejection(auth.authenticate(request({})));
    expect(missing.status('anthropic')).toBe(401);
    const wrong = await rejection(auth.authenticate(request({ 'x-api-key': 'sk-wrong-key-but-long-enough' })));
    expect(wrong.status('openai')).toBe(401);
    expect(wrong.body('openai')).not.toContain('sk-wrong');
    expect(JSON.parse(wrong.body('anthropic'))).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'Invalid API key.' } });
  });

  test('answers 503 without details when Secrets Manager refuses', async () => {
    fake.failWith = { status: 400, type: 'AccessDeniedException' };
    try {
      const auth = createAuthenticator(
        { mode: 'api-keys', secretArn: ARN, cacheTtlSeconds: 300 },
        { loadKeys: secretsManagerLoader(ARN, { region: 'us-east-1', endpoint: fake.endpoint }) },
      );
      const err = await rejection(auth.authenticate(request({ 'x-api-key': ALICE })));
      expect(err.kind).toBe('unavailable');
      expect(err.message).toBe('API keys are unavailable: loading the API key secret failed (AccessDeniedException)');
    } finally {
      fake.failWith = undefined;
    }
  });
});
