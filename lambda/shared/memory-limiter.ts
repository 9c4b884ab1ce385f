/**
 * The in-memory RateLimiter: per-identity sliding windows for requests and tokens per minute, and a UTC-day counter for
 * tokens per day. Counters live in this process only (one Lambda execution environment, or the dev server); the Redis
 * limiter shares them across instances. Node runs each admit() to completion before the next, so it is atomic.
 */
import type { LimitDecision, RateLimiter, RateLimits } from './limits';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

interface IdentityState {
  /** Admission times (ms) within the last minute, oldest first. */
  requests: number[];
  /** [time ms, tokens] within the last minute, oldest first. */
  tokens: Array<[number, number]>;
  tokensInMinute: number;
  day: number;
  tokensInDay: number;
}

export interface MemoryRateLimiterOptions {
  /** Identities tracked at most; the least recently seen are forgotten first. Default 10,000. */
  readonly maxIdentities?: number;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly states = new Map<string, IdentityState>();
  private readonly maxIdentities: number;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.maxIdentities = options.maxIdentities ?? 10_000;
  }

  public async admit(identity: string, limits: RateLimits, nowMs: number = Date.now()): Promise<LimitDecision> {
    const state = this.state(identity, nowMs);

    if (limits.tokensPerDay !== undefined && state.tokensInDay >= limits.tokensPerDay) {
      const nextDay = (state.day + 1) * DAY_MS;
      return { allowed: false, limit: 'tokens_per_day', retryAfterSeconds: seconds(nextDay - nowMs) };
    }
    if (limits.tokensPerMinute !== undefined && state.tokensInMinute >= limits.tokensPerMinute) {
      // Wait until enough of the oldest entries leave the window to bring the total under the limit.
      let remaining = state.tokensInMinute;
      let until = nowMs;
      for (const [at, count] of state.tokens) {
        remaining -= count;
        until = at + MINUTE_MS;
        if (remaining < limits.tokensPerMinute) break;
      }
      return { allowed: false, limit: 'tokens_per_minute', retryAfterSeconds: seconds(until - nowMs) };
    }
    if (limits.requestsPerMinute !== undefined && state.requests.length >= limits.requestsPerMinute) {
      const index = state.requests.length - limits.requestsPerMinute;
      const until = state.requests[index] + MINUTE_MS;
      return { allowed: false, limit: 'requests_per_minute', retryAfterSeconds: seconds(until - nowMs) };
    }
    if (limits.requestsPerMinute !== undefined) state.requests.push(nowMs);
    return { allowed: true };
  }

  public async recordTokens(identity: string, tokens: number, nowMs: number = Date.now()): Promise<void> {
    if (!(tokens > 0)) return;
    const state = this.state(identity, nowMs);
    state.tokens.push([nowMs, tokens]);
    state.tokensInMinute += tokens;
    state.tokensInDay += tokens;
  }

  /** The identity's counters, with entries older than the window dropped; marks the identity as recently seen. */
  private state(identity: string, nowMs: number): IdentityState {
    let state = this.states.get(identity);
    if (state) {
      this.states.delete(identity);
    } else {
      state = { requests: [], tokens: [], tokensInMinute: 0, day: utcDay(nowMs), tokensInDay: 0 };
      if (this.states.size >= this.maxIdentities) {
        const oldest = this.states.keys().next().value;
        if (oldest !== undefined) this.states.delete(oldest);
      }
    }
    this.states.set(identity, state);

    const windowStart = nowMs - MINUTE_MS;
    let drop = 0;
    while (drop < state.requests.length && state.requests[drop] <= windowStart) drop++;
    if (drop > 0) state.requests.splice(0, drop);
    drop = 0;
    while (drop < state.tokens.length && state.tokens[drop][0] <= windowStart) {
      state.tokensInMinute -= state.tokens[drop][1];
      drop++;
    }
    if (drop > 0) state.tokens.splice(0, drop);
    const day = utcDay(nowMs);
    if (day !== state.day) {
      state.day = day;
      state.tokensInDay = 0;
    }
    return state;
  }
}

function utcDay(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
