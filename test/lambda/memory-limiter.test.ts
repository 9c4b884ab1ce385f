import { MemoryRateLimiter } from '../../lambda/shared/memory-limiter';

const T0 = Date.UTC(2025, 0, 10, 12, 0, 0);

describe('MemoryRateLimiter', () => {
  test('admits up to requestsPerMinute in a rolling minute, then refuses with the seconds until the oldest leaves', async () => {
    const limiter = new MemoryRateLimiter();
    const limits = { requestsPerMinute: 3 };
    expect((await limiter.admit('alice', limits, T0)).allowed).toBe(true);
    expect((await limiter.admit('alice', limits, T0 + 10_000)).allowed).toBe(true);
    expect((await limiter.admit('alice', limits, T0 + 20_000)).allowed).toBe(true);
    const refused = await limiter.admit('alice', limits, T0 + 30_000);
    expect(refused).toEqual({ allowed: false, limit: 'requests_per_minute', retryAfterSeconds: 30 });
    // A refused request is not counted: once the first admission leaves the window, one more is admitted.
    expect((await limiter.admit('alice', limits, T0 + 60_001)).allowed).toBe(true);
    expect((await limiter.admit('alice', limits, T0 + 60_002)).allowed).toBe(false);
  });

  test('keeps identities apart', async () => {
    const limiter = new MemoryRateLimiter();
    const limits = { requestsPerMinute: 1 };
    expect((await limiter.admit('alice', limits, T0)).allowed).toBe(true);
    expect((await limiter.admit('bob', limits, T0)).allowed).toBe(true);
    expect((await limiter.admit('alice', limits, T0)).allowed).toBe(false);
  });

  test('refuses once the tokens recorded in the last minute reach tokensPerMinute', async () => {
    const limiter = new MemoryRateLimiter();
    const limits = { tokensPerMinute: 1000 };
    expect((await limiter.admit('alice', limits, T0)).allowed).toBe(true);
    await limiter.recordTokens('alice', 600, T0 + 1000);
    expect((await limiter.admit('alice', limits, T0 + 2000)).allowed).toBe(true);
    await limiter.recordTokens('alice', 500, T0 + 5000);
    const refused = await limiter.admit('alice', limits, T0 + 6000);
    // Removing the 600 recorded at T0+1s brings the total under the limit, at T0+61s.
    expect(refused).toEqual({ allowed: false, limit: 'tokens_per_minute', retryAfterSeconds: 55 });
    expect((await limiter.admit('alice', limits, T0 + 61_001)).allowed).toBe(true);
  });

  test('tokensPerDay resets at UTC midnight', async () => {
    const limiter = new MemoryRateLimiter();
    const limits = { tokensPerDay: 100 };
    await limiter.recordTokens('alice', 150, T0);
    const refused = await limiter.admit('alice', limits, T0 + 3_600_000);
    expect(refused.allowed).toBe(false);
    expect(refused.limit).toBe('tokens_per_day');
    // 12:00 + 1h = 13:00 UTC, so 11 hours to midnight.
    expect(refused.retryAfterSeconds).toBe(11 * 3600);
    expect((await limiter.admit('alice', limits, Date.UTC(2025, 0, 11, 0, 0, 1))).allowed).toBe(true);
  });

  test('admits everything when no limit is set', async () => {
    const limiter = new MemoryRateLimiter();
    for (let i = 0; i < 100; i++) expect((await limiter.admit('alice', {}, T0)).allowed).toBe(true);
  });

  test('forgets the least recently seen identity beyond maxIdentities', async () => {
    const limiter = new MemoryRateLimiter({ maxIdentities: 2 });
    const limits = { requestsPerMinute: 1 };
    await limiter.admit('a', limits, T0);
    await limiter.admit('b', limits, T0);
    await limiter.admit('c', limits, T0); // evicts a
    expect((await limiter.admit('b', limits, T0)).allowed).toBe(false);
    expect((await limiter.admit('a', limits, T0)).allowed).toBe(true);
  });
});
