/**
 * The policy stage, around the upstream call. Before it (admit): an API key's allowed models (403), its budgets (429
 * insufficient_quota), then the rate limits — the key's own, or the proxy-wide PROXY_RATE_LIMITS (429). After it
 * (recordUsage, at the commit point): the tokens against the limits and the cost charged to the key and its team.
 * Budgets come before the limits, so a request a budget refuses uses none of the key's requests per minute.
 */
import type { Usage } from '../../shared/canonical';
import { modelAllowed, type KeyBudgets } from '../../shared/gateway/schema';
import type { SpendStore } from '../../shared/gateway/types';
import type { RateLimiter, RateLimits } from '../../shared/limits';
import type { ProxyConfig } from '../config';
import { ProxyError } from '../errors';
import { estimateCost, tokenCounts, type Meter } from '../metering';
import { errorName, type Exchange } from './exchange';
import type { ResolvedModel } from '../upstream/types';

export interface PolicyStage {
  admit(x: Exchange): Promise<void>;
  recordUsage(x: Exchange): Promise<void>;
}

export interface PolicyDeps {
  readonly config: Pick<ProxyConfig, 'rateLimits' | 'limitFailureMode'> & Partial<Pick<ProxyConfig, 'budgetFailureMode'>>;
  readonly limiter?: RateLimiter;
  readonly spend?: SpendStore;
  readonly meter: Meter;
  readonly now: () => number;
}

export function createPolicyStage(deps: PolicyDeps): PolicyStage {
  const { config, now } = deps;
  /** A key's own limits replace the proxy-wide PROXY_RATE_LIMITS. */
  function limitsFor(x: Exchange): RateLimits | undefined {
    return x.identity?.policy?.limits ?? config.rateLimits;
  }

  /** The key's policy before the upstream call: the model allowed (403), the budgets (429), then the rate limits (429). */
  async function admit(x: Exchange): Promise<void> {
    const policy = x.identity?.policy;
    if (policy && x.model && !modelAllowed(policy, [x.model.id, x.model.requested, ...(x.model.aliases ?? [])])) {
      throw new ProxyError('permission', `This API key may not use the model ${x.model.requested}; it may use: ${policy.models!.join(', ')}.`, {
        param: 'model', code: 'model_not_allowed',
      });
    }
    await checkBudgets(x);
    const limits = limitsFor(x);
    if (!deps.limiter || !limits) return;
    let decision;
    try {
      decision = await deps.limiter.admit(x.identity!.id, limits);
    } catch (err) {
      x.limiterDegraded = true;
      deps.meter.warn('the rate limiter is unavailable', { requestId: x.request.requestId, error: errorName(err), failureMode: config.limitFailureMode });
      if (config.limitFailureMode === 'closed') throw new ProxyError('unavailable', 'Rate limiting is unavailable, and this proxy refuses requests until it is back.');
      return;
    }
    if (decision.degraded) x.limiterDegraded = true;
    if (decision.allowed) return;
    if (decision.degraded) throw new ProxyError('unavailable', 'Rate limiting is unavailable, and this proxy refuses requests until it is back.');
    const retryAfter = String(decision.retryAfterSeconds ?? 60);
    const what = decision.limit === 'tokens_per_day' ? 'daily token quota' : decision.limit === 'tokens_per_minute' ? 'tokens-per-minute limit' : 'requests-per-minute limit';
    x.outcome = 'rate_limited';
    throw new ProxyError('rate_limit', `You have reached this proxy's ${what}; retry after ${retryAfter} seconds.`, {
      headers: { 'retry-after': retryAfter },
      code: 'rate_limit_exceeded',
    });
  }

  async function checkBudgets(x: Exchange): Promise<void> {
    const budgets = x.identity?.policy?.budgets;
    if (!budgets || !deps.spend || (budgets.dailyUsd === undefined && budgets.monthlyUsd === undefined)) return;
    let spent;
    try {
      spent = await deps.spend.spent(x.identity!.id, now());
    } catch (err) {
      x.limiterDegraded = true;
      const mode = config.budgetFailureMode ?? 'closed';
      deps.meter.warn('the spend store is unavailable', { requestId: x.request.requestId, error: errorName(err), failureMode: mode });
      if (mode === 'closed') throw new ProxyError('unavailable', 'Budgets cannot be checked right now, and this proxy refuses requests until they can; retry shortly.');
      return;
    }
    const refusal = budgetRefusal(budgets, spent, now());
    if (refusal) {
      x.outcome = 'rate_limited';
      throw refusal;
    }
  }

  /** After the response (or what was sent of it): tokens against the limits, and the cost charged to the key. */
  async function recordUsage(x: Exchange): Promise<void> {
    if (!x.identity) return;
    const tokens = x.usage.totalTokens;
    if (tokens <= 0) return;
    if (deps.limiter && limitsFor(x)) {
      try {
        await deps.limiter.recordTokens(x.identity.id, tokens);
      } catch (err) {
        x.limiterDegraded = true;
        deps.meter.warn('the rate limiter could not record tokens', { requestId: x.request.requestId, error: errorName(err) });
      }
    }
    await charge(x);
  }

  async function charge(x: Exchange): Promise<void> {
    if (!deps.spend || !x.identity || !x.model) return;
    await chargeUsage(deps.spend, deps.meter, {
      requestId: x.request.requestId, key: x.identity.id, team: x.identity.policy?.team, model: x.model, usage: x.usage.usage, nowMs: now(),
    });
  }

  return { admit, recordUsage };
}

/**
 * The 429 for a key whose daily or monthly budget (UTC) is spent, with retry-after until the budget renews; undefined
 * while both have room. Used before a request (the policy stage) and before each request of a batch (the worker).
 */
export function budgetRefusal(budgets: KeyBudgets, spent: { readonly day: number; readonly month: number }, t: number): ProxyError | undefined {
  const day = 86_400_000;
  const refuse = (what: string, limit: number, untilMs: number): ProxyError => {
    const retryAfter = String(Math.max(1, Math.ceil((untilMs - t) / 1000)));
    return new ProxyError('rate_limit', `This API key has used its ${what} of $${limit} (UTC); retry after ${retryAfter} seconds.`, {
      headers: { 'retry-after': retryAfter }, code: 'insufficient_quota',
    });
  };
  if (budgets.dailyUsd !== undefined && spent.day >= budgets.dailyUsd) return refuse('daily budget', budgets.dailyUsd, (Math.floor(t / day) + 1) * day);
  if (budgets.monthlyUsd !== undefined && spent.month >= budgets.monthlyUsd) {
    const d = new Date(t);
    return refuse('monthly budget', budgets.monthlyUsd, Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
  }
  return undefined;
}

/**
 * Charges one request's usage (priced from its model's catalogue entry) to its key and the key's team. Idempotent on
 * `requestId`; a store failure is a warning, never the request's error. Used by the policy stage and the batch worker.
 */
export async function chargeUsage(spend: SpendStore, meter: Meter, c: {
  readonly requestId: string;
  readonly key: string;
  readonly team?: string;
  readonly model: ResolvedModel;
  readonly usage: Usage;
  readonly nowMs: number;
}): Promise<void> {
  const tokens = tokenCounts(c.usage);
  const usd = estimateCost(tokens, c.model.pricing) ?? 0;
  try {
    await spend.charge({
      requestId: c.requestId,
      key: c.key,
      team: c.team,
      model: c.model.id,
      usd,
      inputTokens: tokens.inputTokens,
      outputTokens: tokens.outputTokens,
      cacheReadTokens: tokens.cacheReadInputTokens,
      cacheWriteTokens: tokens.cacheWriteInputTokens,
      nowMs: c.nowMs,
    });
  } catch (err) {
    meter.warn('the charge could not be recorded', { requestId: c.requestId, identity: c.key, usd, error: errorName(err) });
  }
}
