import fc from 'fast-check';
import { MemoryRateLimiter } from '../../lambda/shared/memory-limiter';
import { RedisConnection } from '../../lambda/shared/redis/connection';
import { RedisRateLimiter } from '../../lambda/shared/redis/limiter';
import { SESSIONS_USER_ACCESS_STRING } from '../../src/vpc-redis-sessions/access-string';
import { clientTls, describeTransport, RedisTestServer } from '../support/redis-server';

const USER = { name: 'proxy', password: 'proxy-password-for-tests', rules: SESSIONS_USER_ACCESS_STRING };
const T0 = Date.UTC(2026, 0, 15, 12, 0, 0); // a fixed clock: every call passes nowMs

let server: RedisTestServer;
const connections: RedisConnection[] = [];

/** A new connection as the ACL user, the way a new function instance (cold start) would open one. */
function instance(): RedisConnection {
  const connection = new RedisConnection({
    host: server.host,
    port: server.port,
    tls: clientTls(server),
    credentials: { get: async () => ({ username: USER.name, password: USER.password }) },
    // These tests are about atomicity and counting, not latency: on a loaded 2-core machine a TLS connect can take
    // longer than the production deadlines (1 s / 500 ms), and a missed deadline would turn into a degraded
    // (fail-open) decision. The deadlines themselves are tested in redis-resilience.test.ts.
    connectTimeoutMs: 15_000,
    commandTimeoutMs: 10_000,
  });
  connections.push(connection);
  return connection;
}

beforeAll(async () => {
  server = await RedisTestServer.start({ users: [USER] });
});
afterAll(async () => {
  await Promise.all(connections.map((c) => c.close()));
  await server.dispose();
});

describe(`RedisRateLimiter against a real redis-server ${describeTransport()}`, () => {
  test('admits exactly requestsPerMinute of 50 concurrent callers spread over 5 instances', async () => {
    const limiters = Array.from({ length: 5 }, () => new RedisRateLimiter({ connection: instance() }));
    const decisions = await Promise.all(
      Array.from({ length: 50 }, (_, i) => limiters[i % 5].admit('concurrent', { requestsPerMinute: 20 }, T0)),
    );
    const allowed = decisions.filter((d) => d.allowed);
    const refused = decisions.filter((d) => !d.allowed);
    expect(decisions.filter((d) => d.degraded)).toEqual([]);
    expect(allowed).toHaveLength(20);
    expect(refused).toHaveLength(30);
    for (const d of refused) {
      expect(d.limit).toBe('requests_per_minute');
      expect(d.degraded).toBeUndefined();
      expect(d.retryAfterSeconds).toBe(60);
    }
  });

  test('counts requests in a rolling minute and says when the oldest one leaves it', async () => {
    const limiter = new RedisRateLimiter({ connection: instance() });
    const limits = { requestsPerMinute: 3 };
    expect((await limiter.admit('rolling', limits, T0)).allowed).toBe(true);
    expect((await limiter.admit('rolling', limits, T0 + 10_000)).allowed).toBe(true);
    expect((await limiter.admit('rolling', limits, T0 + 20_000)).allowed).toBe(true);
    expect(await limiter.admit('rolling', limits, T0 + 30_000)).toEqual({ allowed: false, limit: 'requests_per_minute', retryAfterSeconds: 30 });
    // A refused request is not counted: at T0+60s only the first request has left the window.
    expect((await limiter.admit('rolling', limits, T0 + 60_000)).allowed).toBe(true);
    expect(await limiter.admit('rolling', limits, T0 + 60_500)).toEqual({ allowed: false, limit: 'requests_per_minute', retryAfterSeconds: 10 });
  });

  test('refuses once the tokens of the rolling minute reach tokensPerMinute, until they age out', async () => {
    const limiter = new RedisRateLimiter({ connection: instance() });
    const limits = { tokensPerMinute: 1000 };
    expect((await limiter.admit('tpm', limits, T0)).allowed).toBe(true);
    await limiter.recordTokens('tpm', 600, T0 + 1_000);
    expect((await limiter.admit('tpm', limits, T0 + 2_000)).allowed).toBe(true);
    await limiter.recordTokens('tpm', 400, T0 + 5_000);
    expect(await limiter.admit('tpm', limits, T0 + 6_000)).toEqual({ allowed: false, limit: 'tokens_per_minute', retryAfterSeconds: 55 });
    expect((await limiter.admit('tpm', limits, T0 + 61_000)).allowed).toBe(true);
  });

  test('keeps the daily quota across cold starts (new client instances) and resets it at UTC midnight', async () => {
    const limits = { tokensPerDay: 5000 };
    const first = instance();
    await new RedisRateLimiter({ connection: first }).recordTokens('daily', 3000, T0);
    await first.close();
    const second = instance();
    const secondLimiter = new RedisRateLimiter({ connection: second });
    expect((await secondLimiter.admit('daily', limits, T0 + 3_600_000)).allowed).toBe(true);
    await secondLimiter.recordTokens('daily', 2500, T0 + 3_600_000);
    await second.close();
    const third = new RedisRateLimiter({ connection: instance() });
    // 14:00 UTC: ten hours to midnight.
    expect(await third.admit('daily', limits, T0 + 7_200_000)).toEqual({ allowed: false, limit: 'tokens_per_day', retryAfterSeconds: 36_000 });
    expect((await third.admit('daily', limits, Date.UTC(2026, 0, 16, 0, 0, 1))).allowed).toBe(true);
  });

  test('adds up 50 concurrent token records exactly', async () => {
    const limiters = Array.from({ length: 5 }, () => new RedisRateLimiter({ connection: instance() }));
    await Promise.all(Array.from({ length: 50 }, (_, i) => limiters[i % 5].recordTokens('tally', 10, T0 + i)));
    const day = Math.floor(T0 / 86_400_000);
    expect(server.cli('GET', `llm:rl:{tally}:day:${day}`)).toBe('500');
    expect((await limiters[0].admit('tally', { tokensPerDay: 501 }, T0 + 100)).allowed).toBe(true);
    expect((await limiters[0].admit('tally', { tokensPerDay: 500 }, T0 + 100)).limit).toBe('tokens_per_day');
  });

  test('checks tokens/day, then tokens/minute, then requests/minute, and names the first that refuses', async () => {
    const limiter = new RedisRateLimiter({ connection: instance() });
    await limiter.admit('several', { requestsPerMinute: 1 }, T0);
    await limiter.recordTokens('several', 100, T0);
    const decision = await limiter.admit('several', { requestsPerMinute: 1, tokensPerMinute: 100, tokensPerDay: 100 }, T0 + 1_000);
    expect(decision).toEqual({ allowed: false, limit: 'tokens_per_day', retryAfterSeconds: 43_199 });
    const minute = await limiter.admit('several', { requestsPerMinute: 1, tokensPerMinute: 100 }, T0 + 1_000);
    expect(minute).toEqual({ allowed: false, limit: 'tokens_per_minute', retryAfterSeconds: 59 });
  });

  test('keeps identities apart, including identities with key-like characters', async () => {
    const limiter = new RedisRateLimiter({ connection: instance() });
    const limits = { requestsPerMinute: 1 };
    expect((await limiter.admit('alice', limits, T0)).allowed).toBe(true);
    expect((await limiter.admit('alice', limits, T0)).allowed).toBe(false);
    expect((await limiter.admit('bob', limits, T0)).allowed).toBe(true);
    expect((await limiter.admit('alice}:x{', limits, T0)).allowed).toBe(true);
    expect((await limiter.admit('alice}:x{', limits, T0)).allowed).toBe(false);
  });

  test('admits without touching Redis when no limit is set, and treats a zero limit as "never"', async () => {
    const limiter = new RedisRateLimiter({ connection: instance() });
    expect(await limiter.admit('nolimits', {}, T0)).toEqual({ allowed: true });
    expect(server.cli('KEYS', 'llm:rl:{nolimits}*')).toBe('');
    expect(await limiter.admit('zero', { requestsPerMinute: 0 }, T0)).toEqual({ allowed: false, limit: 'requests_per_minute', retryAfterSeconds: 60 });
  });

  test('decides exactly like the in-memory limiter for random traffic, across UTC midnight (property test)', async () => {
    const redisLimiter = new RedisRateLimiter({ connection: instance() });
    // PROXY_RATE_LIMITS only accepts limits >= 1 (a zero limit is covered above).
    const maybe = (max: number) => fc.option(fc.integer({ min: 1, max }), { nil: undefined });
    const operation = fc.record({
      gapMs: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 70_000 })),
      tokens: fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({ requestsPerMinute: maybe(6), tokensPerMinute: maybe(1_000), tokensPerDay: maybe(3_000) }),
        fc.array(operation, { minLength: 1, maxLength: 40 }),
        async (rawLimits, operations) => {
          const limits = Object.fromEntries(Object.entries(rawLimits).filter(([, v]) => v !== undefined));
          const identity = `property-${run++}`;
          const memory = new MemoryRateLimiter();
          let now = Date.UTC(2026, 1, 1, 23, 50, 0);
          for (const op of operations) {
            now += op.gapMs;
            if (op.tokens === undefined) {
              const expected = await memory.admit(identity, limits, now);
              expect(await redisLimiter.admit(identity, limits, now)).toEqual(expected);
            } else {
              await memory.recordTokens(identity, op.tokens, now);
              await redisLimiter.recordTokens(identity, op.tokens, now);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  test('writes only under the llm: prefix the ElastiCache user is limited to', async () => {
    const keys = server.cli('KEYS', '*').split('\n').filter(Boolean);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key.startsWith('llm:')).toBe(true);
    // Keys expire: minute windows 61 s after their last write, day totals after 2 days.
    const ttl = Number(server.cli('PTTL', 'llm:rl:{rolling}:req'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(61_000);
    const day = Math.floor(T0 / 86_400_000);
    expect(Number(server.cli('TTL', `llm:rl:{tally}:day:${day}`))).toBeGreaterThan(86_400);
  });
});
