import type { CanonicalMessage } from '../../lambda/shared/canonical';
import { RedisConnection, RedisUnavailableError, type RedisConnectionOptions } from '../../lambda/shared/redis/connection';
import { RedisRateLimiter } from '../../lambda/shared/redis/limiter';
import { RedisSessionStore } from '../../lambda/shared/redis/session-store';
import { SESSIONS_USER_ACCESS_STRING } from '../../src/vpc-redis-sessions/access-string';
import { clientTls, describeTransport, REDIS_TLS_SUPPORTED, RedisTestServer } from '../support/redis-server';

const USER = { name: 'proxy', password: 'proxy-password-for-tests', rules: SESSIONS_USER_ACCESS_STRING };
const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

let server: RedisTestServer;
const connections: RedisConnection[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

function instance(options: Partial<RedisConnectionOptions> = {}): RedisConnection {
  const connection = new RedisConnection({
    host: server.host,
    port: server.port,
    tls: clientTls(server),
    credentials: { get: async () => ({ username: USER.name, password: USER.password }) },
    ...options,
  });
  connections.push(connection);
  return connection;
}

async function eventually<T>(fn: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await fn();
  return { value, ms: Date.now() - started };
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  // Append-only with fsync on every write: what a committed write survives is what the test checks.
  server = await RedisTestServer.start({ users: [USER], persistent: true });
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await Promise.all(connections.map((c) => c.close()));
  await server.dispose();
});

const turn = (i: number): CanonicalMessage[] => [
  { role: 'user', content: `question ${i}` },
  { role: 'assistant', content: `answer ${i}` },
];

describe(`Redis runtime when the server stops and restarts mid-run, ${describeTransport()}`, () => {
  test('fails open or closed as configured, keeps committed sessions and limit counters, and recovers by itself', async () => {
    const connection = instance();
    const reported: string[] = [];
    const open = new RedisRateLimiter({ connection, failureMode: 'open', onUnavailable: (_e, op) => reported.push(`open:${op}`) });
    const closed = new RedisRateLimiter({ connection, failureMode: 'closed', onUnavailable: (_e, op) => reported.push(`closed:${op}`) });
    const sessions = new RedisSessionStore({ connection });
    const limits = { requestsPerMinute: 3 };

    // Before the outage: two requests counted, one session committed.
    expect((await open.admit('outage', limits, T0)).allowed).toBe(true);
    expect((await closed.admit('outage', limits, T0)).allowed).toBe(true);
    await sessions.save('alice', 'committed', turn(1));

    // A crash: no clean shutdown.
    await server.stop('SIGKILL');

    const openDecision = await timed(() => open.admit('outage', limits, T0 + 1000));
    expect(openDecision.value).toEqual({ allowed: true, degraded: true });
    expect(openDecision.ms).toBeLessThan(1500);
    const closedDecision = await timed(() => closed.admit('outage', limits, T0 + 1000));
    expect(closedDecision.value).toEqual({ allowed: false, degraded: true });
    // Known to be down: the next decisions do not wait for a connection at all.
    for (let i = 0; i < 5; i++) {
      const again = await timed(() => open.admit('outage', limits, T0 + 1000));
      expect(again.value).toEqual({ allowed: true, degraded: true });
      expect(again.ms).toBeLessThan(50);
    }
    await expect(open.recordTokens('outage', 10, T0 + 1000)).resolves.toBeUndefined();
    await expect(sessions.load('alice', 'committed')).rejects.toBeInstanceOf(RedisUnavailableError);
    await expect(sessions.save('alice', 'committed', turn(2))).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(reported).toEqual(expect.arrayContaining(['open:admit', 'closed:admit', 'open:recordTokens']));

    await server.restart();

    // The same connection object comes back on its own (no new instance, no cold start).
    await eventually(() => sessions.load('alice', 'committed').catch(() => 'down'), (v) => v !== 'down');
    expect(await sessions.load('alice', 'committed')).toEqual(turn(1));
    // The counters survived too: one more request fits in the minute, then the limit applies again.
    expect(await open.admit('outage', limits, T0 + 2000)).toEqual({ allowed: true });
    expect(await closed.admit('outage', limits, T0 + 2000)).toEqual({ allowed: false, limit: 'requests_per_minute', retryAfterSeconds: 58 });
    expect(unhandled).toEqual([]);
  });

  test('a cold start while the server is down answers within the connect deadline, then recovers', async () => {
    await server.stop('SIGTERM');
    const connection = instance({ connectTimeoutMs: 1000 });
    const limiter = new RedisRateLimiter({ connection, failureMode: 'closed' });
    const first = await timed(() => limiter.admit('cold', { requestsPerMinute: 1 }, T0));
    expect(first.value).toEqual({ allowed: false, degraded: true });
    expect(first.ms).toBeLessThan(1500);
    await server.restart();
    const decision = await eventually(() => limiter.admit('cold', { requestsPerMinute: 1 }, T0), (d) => !d.degraded);
    expect(decision).toEqual({ allowed: true });
    expect(unhandled).toEqual([]);
  });

  test('a server that stops answering costs at most the command deadline, and the connection recovers', async () => {
    const connection = instance({ commandTimeoutMs: 300 });
    const limiter = new RedisRateLimiter({ connection, failureMode: 'open' });
    const sessions = new RedisSessionStore({ connection });
    await sessions.save('alice', 'slow', turn(3));
    // Every client, ours included, is held for 2 s.
    server.cli('CLIENT', 'PAUSE', '2000', 'ALL');
    const slow = await timed(() => limiter.admit('slow', { requestsPerMinute: 5 }, T0));
    expect(slow.value).toEqual({ allowed: true, degraded: true });
    expect(slow.ms).toBeGreaterThanOrEqual(250);
    expect(slow.ms).toBeLessThan(800);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await eventually(() => sessions.load('alice', 'slow').catch(() => undefined), (v) => v !== undefined)).toEqual(turn(3));
    expect(await limiter.admit('slow', { requestsPerMinute: 5 }, T0)).toEqual({ allowed: true });
  });
});

describe(`Redis connection security, ${describeTransport()}`, () => {
  test('the ElastiCache access string confines the user to llm: keys and the commands the runtime needs', async () => {
    const connection = instance();
    await connection.run((client) => client.set('llm:probe', '1'));
    await expect(connection.run((client) => client.set('other:probe', '1'))).rejects.toThrow(/NOPERM/);
    await expect(connection.run((client) => client.keys('*'))).rejects.toThrow(/NOPERM/);
    await expect(connection.run((client) => client.flushAll())).rejects.toThrow(/NOPERM/);
  });

  test('wrong credentials never connect, tell the credentials source, and a corrected source recovers', async () => {
    let password = 'stale-password';
    let rejections = 0;
    const connection = instance({
      credentials: { get: async () => ({ username: USER.name, password }), rejected: () => { rejections += 1; } },
      maxReconnectDelayMs: 200,
    });
    const sessions = new RedisSessionStore({ connection });
    await expect(sessions.load('alice', 'x')).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(rejections).toBeGreaterThan(0);
    // What a rotated secret looks like to the runtime: the next connection attempt reads the new value.
    password = USER.password;
    expect(await eventually(() => sessions.load('alice', 'x').then(() => 'ok', () => 'down'), (v) => v === 'ok')).toBe('ok');
  });

  if (REDIS_TLS_SUPPORTED) {
    test('refuses a server certificate it does not trust (TLS verification is on)', async () => {
      const connection = instance({ tls: { servername: server.servername } });
      await expect(connection.run((client) => client.ping())).rejects.toThrow(/certificate/i);
    });

    test('checks the server name against the certificate', async () => {
      const connection = instance({ tls: { ca: server.ca, servername: 'not-the-cache.example' } });
      await expect(connection.run((client) => client.ping())).rejects.toThrow(/not-the-cache\.example|altnames|certificate/i);
    });
  } else {
    // Reported, not skipped: the certificate checks need a redis-server built with TLS.
    test('NOT RUN: TLS certificate and server-name checks, because this redis-server build lacks TLS', () => {
      expect(REDIS_TLS_SUPPORTED).toBe(false);
    });
  }
});
