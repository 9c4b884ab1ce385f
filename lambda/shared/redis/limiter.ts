/**
 * Rate limits and quotas per identity on Redis: the RateLimiter interface of lambda/shared/limits.ts, shared by every
 * function instance, atomic under concurrency (each check-and-count is one Lua script).
 *
 * Semantics (the same as the in-memory limiter, lambda/shared/memory-limiter.ts):
 * - requests per minute and tokens per minute are sliding windows of the last 60 000 ms (sorted sets of admission and
 *   usage times, so memory per identity grows with its traffic in the last minute);
 * - tokens per day is the UTC day's total;
 * - `admit` refuses when a window already holds `limit` requests, or when the tokens already used reach the limit
 *   (token counts are only known after a response, so the request that crosses a token budget completes);
 *   an admitted request is counted; a refused one is not;
 * - limits are checked in the order tokens/day, tokens/minute, requests/minute; the first that refuses is named, with
 *   `retryAfterSeconds` until it admits again;
 * - when Redis cannot be reached (or is too slow), the configured failure mode decides: `open` admits, `closed`
 *   refuses, both with `degraded: true` so the handler can emit `RateLimiterUnavailable` or answer 503;
 *   `recordTokens` never throws (a lost count is reported through `onUnavailable`).
 */
import { randomUUID } from 'crypto';
import type { LimitDecision, LimitName, RateLimiter, RateLimiterFailureMode, RateLimits } from '../limits';
import type { RedisConnection } from './connection';
import { DAY_MS, rateLimitKeys } from './keys';
import { LuaScript } from './script';

/**
 * KEYS: requests (sorted set of admission times), tokens (sorted set of `<id>:<tokens>` by time), day (UTC day total).
 * ARGV: now ms, requests/min, tokens/min, tokens/day (-1 = unlimited), day end ms, a unique member id.
 * Reply: { 1 } admitted, or { 0, limit code, retry-after seconds }.
 */
const ADMIT = new LuaScript(`
local now_ms = tonumber(ARGV[1])
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local tpd = tonumber(ARGV[4])
local day_end_ms = tonumber(ARGV[5])
local window_start = now_ms - 60000

local function seconds(ms)
  return math.max(1, math.ceil(ms / 1000))
end

if tpd >= 0 then
  local used = tonumber(redis.call('GET', KEYS[3]) or '0')
  if used >= tpd then return { 0, 3, seconds(day_end_ms - now_ms) } end
end

if tpm >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', window_start)
  local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  local sum = 0
  for i = 1, #entries, 2 do
    sum = sum + tonumber(string.match(entries[i], ':(%d+)$'))
  end
  if sum >= tpm then
    local until_ms = now_ms + 60000
    for i = 1, #entries, 2 do
      sum = sum - tonumber(string.match(entries[i], ':(%d+)$'))
      until_ms = tonumber(entries[i + 1]) + 60000
      if sum < tpm then break end
    end
    return { 0, 2, seconds(until_ms - now_ms) }
  end
end

if rpm >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', window_start)
  local count = redis.call('ZCARD', KEYS[1])
  if count >= rpm then
    local until_ms = now_ms + 60000
    if rpm > 0 then
      local oldest = redis.call('ZRANGE', KEYS[1], count - rpm, count - rpm, 'WITHSCORES')
      until_ms = tonumber(oldest[2]) + 60000
    end
    return { 0, 1, seconds(until_ms - now_ms) }
  end
  redis.call('ZADD', KEYS[1], now_ms, ARGV[6])
  redis.call('PEXPIRE', KEYS[1], 61000)
end
return { 1 }
`);

/** KEYS: tokens, day. ARGV: now ms, tokens, a unique member id. */
const RECORD = new LuaScript(`
local now_ms = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - 60000)
redis.call('ZADD', KEYS[1], now_ms, ARGV[3] .. ':' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], 61000)
redis.call('INCRBY', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[2], 172800)
return 1
`);

const LIMIT_NAMES: Record<number, LimitName> = {
  1: 'requests_per_minute',
  2: 'tokens_per_minute',
  3: 'tokens_per_day',
};

export interface RedisRateLimiterOptions {
  readonly connection: RedisConnection;
  /** What to do when Redis cannot be reached: admit (`open`) or refuse (`closed`). Default `open`. */
  readonly failureMode?: RateLimiterFailureMode;
  /** Told whenever Redis could not be used (for the `RateLimiterUnavailable` metric and a log line). */
  readonly onUnavailable?: (error: unknown, operation: 'admit' | 'recordTokens') => void;
}

function limitArg(value: number | undefined): number {
  return value === undefined ? -1 : Math.max(0, Math.floor(value));
}

export class RedisRateLimiter implements RateLimiter {
  private readonly failureMode: RateLimiterFailureMode;

  constructor(private readonly options: RedisRateLimiterOptions) {
    this.failureMode = options.failureMode ?? 'open';
  }

  async admit(identity: string, limits: RateLimits, nowMs: number = Date.now()): Promise<LimitDecision> {
    if (limits.requestsPerMinute === undefined && limits.tokensPerMinute === undefined && limits.tokensPerDay === undefined) {
      return { allowed: true };
    }
    const keys = rateLimitKeys(identity, nowMs);
    const dayEndMs = (Math.floor(nowMs / DAY_MS) + 1) * DAY_MS;
    try {
      const reply = await this.options.connection.run((client) => ADMIT.run(
        client,
        [keys.requests, keys.tokens, keys.day],
        [nowMs, limitArg(limits.requestsPerMinute), limitArg(limits.tokensPerMinute), limitArg(limits.tokensPerDay), dayEndMs, randomUUID()],
      )) as number[];
      if (reply[0] === 1) return { allowed: true };
      return { allowed: false, limit: LIMIT_NAMES[reply[1]], retryAfterSeconds: reply[2] };
    } catch (error) {
      this.options.onUnavailable?.(error, 'admit');
      return { allowed: this.failureMode === 'open', degraded: true };
    }
  }

  async recordTokens(identity: string, tokens: number, nowMs: number = Date.now()): Promise<void> {
    const count = Math.floor(tokens);
    if (!Number.isFinite(count) || count <= 0) return;
    const keys = rateLimitKeys(identity, nowMs);
    try {
      await this.options.connection.run((client) => RECORD.run(client, [keys.tokens, keys.day], [nowMs, count, randomUUID()]));
    } catch (error) {
      this.options.onUnavailable?.(error, 'recordTokens');
    }
  }
}
