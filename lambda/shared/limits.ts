/**
 * Rate limits and quotas per identity. The in-memory limiter (lambda/shared/memory-limiter.ts) and the Redis limiter
 * (lambda/shared/redis/) both implement RateLimiter; the proxy handler only sees this interface.
 */

export interface RateLimits {
  /** Requests admitted per rolling minute. Unset = unlimited. */
  readonly requestsPerMinute?: number;
  /** Input + output tokens per rolling minute. Unset = unlimited. */
  readonly tokensPerMinute?: number;
  /** Input + output tokens per UTC day. Unset = unlimited. */
  readonly tokensPerDay?: number;
}

export type LimitName = 'requests_per_minute' | 'tokens_per_minute' | 'tokens_per_day';

export interface LimitDecision {
  readonly allowed: boolean;
  /** Which limit refused the request (when not allowed). */
  readonly limit?: LimitName;
  /** Seconds until the refused limit admits again (for the Retry-After header). */
  readonly retryAfterSeconds?: number;
  /** True when the store could not be reached and the configured failure mode decided (see RateLimiterFailureMode). */
  readonly degraded?: boolean;
}

/** What a limiter does when its store cannot be reached: admit and count a metric, or refuse with 503. */
export type RateLimiterFailureMode = 'open' | 'closed';

export interface RateLimiter {
  /**
   * Called before the upstream call. Counts one request against requestsPerMinute and checks the token budgets already
   * used. Must be atomic across concurrent callers and instances sharing a store.
   */
  admit(identity: string, limits: RateLimits, nowMs?: number): Promise<LimitDecision>;
  /** Called when the response is complete (or failed mid-stream) with the tokens it used. */
  recordTokens(identity: string, tokens: number, nowMs?: number): Promise<void>;
}
