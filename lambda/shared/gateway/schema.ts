/**
 * The gateway table: one DynamoDB table (partition key `pk`, sort key `sk`, both strings; TTL attribute `ttl`, epoch
 * seconds) holding virtual keys, rate-limit counters and spend. The proxy runtime (lambda/shared/gateway/store.ts),
 * the key-management CLI (`cdk-serverless-llm keys` / `usage`) and the construct (StreamingLlmProxy `gateway`) all use
 * the item layout below, and only it. See docs/gateway.md.
 *
 *   item                     pk                          sk                              attributes
 *   a key                    key#<sha256 hex of the key> key                             KeyRecord fields
 *   a key's name             name#<key name>             name                            digest (the key item's hex)
 *   requests in a minute     limit#<identity>            rpm#<epoch minute>              n, ttl
 *   tokens in a minute       limit#<identity>            tpm#<epoch minute>              n, ttl
 *   tokens in a UTC day      limit#<identity>            tpd#<YYYY-MM-DD>                n, ttl
 *   spend of a key           spend#key#<key name>        day#<YYYY-MM-DD> | month#<YYYY-MM>   SpendFields, ttl (days)
 *   spend of a key by model  spend#key#<key name>        day#<YYYY-MM-DD>#model#<model> | month#<YYYY-MM>#model#<model>
 *   spend of a team          spend#team#<team>           day#… | month#…  (and #model#… as for keys)
 *   a charged request        charge#<request id>         charge                          ttl (a day): the charge's idempotency marker
 *
 * Keys are never stored: a key item is found by the SHA-256 of the presented key (hex), the key itself is printed once
 * by `keys create` / `keys rotate`. Names are unique (the name item is written in the same transaction, conditional on
 * not existing). Counters and spend are added atomically (UpdateItem ADD); a charge is one TransactWriteItems with the
 * request id as ClientRequestToken, so a retried charge is applied once.
 */
import { createHash } from 'crypto';

/** Key names: what rate limits, sessions, metering and spend are keyed by. */
export const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/;
/** Team tags. */
export const TEAM_NAME = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}$/;
/** Keys made by `keys create`: a recognisable prefix and 32 random bytes (base64url). */
export const KEY_PREFIX = 'sk-llm-';

export interface KeyLimits {
  readonly requestsPerMinute?: number;
  readonly tokensPerMinute?: number;
  readonly tokensPerDay?: number;
}

export interface KeyBudgets {
  /** USD per UTC day, from the catalogue's prices (cache reads and writes priced). */
  readonly dailyUsd?: number;
  /** USD per UTC calendar month. */
  readonly monthlyUsd?: number;
}

/** A key's policy: the same fields in the table and in a Secrets Manager key entry. */
export interface KeyPolicy {
  readonly team?: string;
  /** Model ids or aliases the key may call; `*` = any. Unset = any. */
  readonly models?: readonly string[];
  /** Replaces the proxy-wide PROXY_RATE_LIMITS for this key (each unset field: unlimited). Unset = the proxy-wide limits. */
  readonly limits?: KeyLimits;
  readonly budgets?: KeyBudgets;
  /** ISO 8601 instant after which the key is refused (401). */
  readonly expiresAt?: string;
  /** A disabled (revoked) key is refused (401). */
  readonly disabled?: boolean;
}

/** The key item (pk `key#<digest>`, sk `key`). */
export interface KeyRecord extends KeyPolicy {
  readonly name: string;
  /** SHA-256 of the key, hex. */
  readonly digest: string;
  /** The first characters of the key (`sk-llm-AbCd`), to tell keys apart in listings; not enough to use it. */
  readonly hint: string;
  readonly createdAt: string;
  readonly updatedAt?: string;
  /** When `keys rotate` replaced this key with a new one (the old one is disabled then). */
  readonly rotatedAt?: string;
  readonly description?: string;
}

/** Counters and amounts of a spend item (all numbers; added with UpdateItem ADD). */
export interface SpendFields {
  readonly usd: number;
  readonly requests: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
}

export const SPEND_FIELDS: readonly (keyof SpendFields)[] = ['usd', 'requests', 'inputTokens', 'outputTokens', 'cacheReadTokens', 'cacheWriteTokens'];

/** Day spend items expire after this many days (TTL); month items after this many days too, counted from month end. */
export const SPEND_RETENTION_DAYS = 400;

/** The SHA-256 of a presented key, hex: what its key item is found by (`keyPk(keyDigest(key))`). */
export function keyDigest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A key's hint for listings (KeyRecord.hint): the prefix and four more characters, `sk-llm-AbCd`. */
export function keyHint(key: string): string {
  return key.slice(0, (key.startsWith(KEY_PREFIX) ? KEY_PREFIX.length : 0) + 4);
}

export const keyPk = (digestHex: string): string => `key#${digestHex}`;
export const KEY_SK = 'key';
export const namePk = (name: string): string => `name#${name}`;
export const NAME_SK = 'name';
export const limitPk = (identity: string): string => `limit#${identity}`;
export const spendKeyPk = (name: string): string => `spend#key#${name}`;
export const spendTeamPk = (team: string): string => `spend#team#${team}`;

/** `YYYY-MM-DD` (UTC) of an instant. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `YYYY-MM` (UTC) of an instant. */
export function utcMonth(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

export const daySk = (day: string, model?: string): string => (model ? `day#${day}#model#${model}` : `day#${day}`);
export const monthSk = (month: string, model?: string): string => (model ? `month#${month}#model#${model}` : `month#${month}`);

/** Whether a key's policy lets it call a model (by the catalogue id, or any of the names it resolves from). */
export function modelAllowed(policy: KeyPolicy, names: readonly string[]): boolean {
  if (!policy.models) return true;
  const allowed = new Set(policy.models.map((m) => m.toLowerCase()));
  return allowed.has('*') || names.some((n) => allowed.has(n.toLowerCase()));
}

/** Why a key is refused now, or undefined when it is usable. */
export function keyRefusal(policy: KeyPolicy, nowMs: number): 'disabled' | 'expired' | undefined {
  if (policy.disabled) return 'disabled';
  if (policy.expiresAt !== undefined && Date.parse(policy.expiresAt) <= nowMs) return 'expired';
  return undefined;
}

/**
 * Validates a policy from untrusted JSON (a Secrets Manager entry, a table item, CLI input). Returns the problem as a
 * sentence naming the field, or undefined.
 */
export function policyProblem(value: Record<string, unknown>): string | undefined {
  const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (value.team !== undefined && (typeof value.team !== 'string' || !TEAM_NAME.test(value.team))) return 'team must be 1-64 characters of [A-Za-z0-9._@:-]';
  if (value.models !== undefined && (!Array.isArray(value.models) || value.models.some((m) => typeof m !== 'string' || m.length === 0))) {
    return 'models must be a list of model ids or aliases (or "*")';
  }
  if (value.limits !== undefined) {
    if (typeof value.limits !== 'object' || value.limits === null) return 'limits must be an object';
    for (const [k, v] of Object.entries(value.limits)) {
      if (!['requestsPerMinute', 'tokensPerMinute', 'tokensPerDay'].includes(k)) return `limits.${k} is not a limit (requestsPerMinute, tokensPerMinute, tokensPerDay)`;
      if (!positive(v) || !Number.isInteger(v)) return `limits.${k} must be a positive integer`;
    }
  }
  if (value.budgets !== undefined) {
    if (typeof value.budgets !== 'object' || value.budgets === null) return 'budgets must be an object';
    for (const [k, v] of Object.entries(value.budgets)) {
      if (!['dailyUsd', 'monthlyUsd'].includes(k)) return `budgets.${k} is not a budget (dailyUsd, monthlyUsd)`;
      if (!positive(v)) return `budgets.${k} must be a positive number of USD`;
    }
  }
  if (value.expiresAt !== undefined && (typeof value.expiresAt !== 'string' || Number.isNaN(Date.parse(value.expiresAt)))) {
    return 'expiresAt must be an ISO 8601 date and time';
  }
  if (value.disabled !== undefined && typeof value.disabled !== 'boolean') return 'disabled must be true or false';
  return undefined;
}
