/**
 * API-key authentication. The keys live in one Secrets Manager secret, a JSON object of named keys:
 * `{ "<key name>": "<key>" | "sha256:<hex digest of the key>" | { "key" | "sha256": …, <policy fields> } }` (the
 * policy fields of lambda/shared/gateway/schema.ts: team, models, limits, budgets, expiresAt, disabled), and/or in the
 * gateway table (virtual keys, looked up by digest and cached for a short TTL, so a revoked key stops within it). Only SHA-256 digests are kept in memory; a presented
 * key is hashed and compared with every stored digest in constant time (no early exit), so timing reveals neither
 * which key matched nor how much of one did. The digests are cached for the configured TTL; a miss may trigger one
 * early reload (a newly added key works without waiting for the TTL), at most once per refresh interval.
 */
import { createHash, timingSafeEqual } from 'crypto';
import { keyRefusal, policyProblem, type KeyPolicy, type KeyRecord } from '../../shared/gateway/schema';
import type { KeyLookup } from '../../shared/gateway/types';
import { ProxyError } from '../errors';
import type { ProxyRequest } from '../http';
import { presentedCredential, type Authenticator, type Identity } from './types';

export interface StoredKey {
  readonly name: string;
  readonly digest: Buffer;
  readonly policy?: KeyPolicy;
}

const POLICY_FIELDS = new Set(['team', 'models', 'limits', 'budgets', 'expiresAt', 'disabled']);

export class KeySecretError extends Error {
  public readonly name = 'KeySecretError';
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/;
const DIGEST = /^sha256:([0-9a-f]{64})$/i;
/** Plain keys shorter than this are refused: they would be guessable. */
const MIN_KEY_LENGTH = 16;

/** Parses the key secret. Errors name the entry, never its value. */
export function parseKeySecret(secret: string): StoredKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secret);
  } catch {
    throw new KeySecretError('the API key secret is not JSON; expected {"<key name>": "<key>" | "sha256:<hex>"}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new KeySecretError('the API key secret must be a JSON object of named keys');
  }
  const keys: StoredKey[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (!NAME.test(name)) throw new KeySecretError(`API key name ${JSON.stringify(name.slice(0, 40))} must be 1-128 characters of [A-Za-z0-9._@:-]`);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      keys.push(keyWithPolicy(name, value as Record<string, unknown>));
      continue;
    }
    if (typeof value !== 'string') throw new KeySecretError(`API key "${name}" must be a string or an object with "key" or "sha256" and policy fields`);
    const digest = DIGEST.exec(value);
    if (digest) {
      keys.push({ name, digest: Buffer.from(digest[1], 'hex') });
    } else if (value.startsWith('sha256:')) {
      throw new KeySecretError(`API key "${name}" looks like a digest but is not 64 hex characters after "sha256:"`);
    } else if (value.length < MIN_KEY_LENGTH) {
      throw new KeySecretError(`API key "${name}" is shorter than ${MIN_KEY_LENGTH} characters`);
    } else {
      keys.push({ name, digest: hashKey(value) });
    }
  }
  if (keys.length === 0) throw new KeySecretError('the API key secret holds no keys');
  return keys;
}

/** An entry `{ "key": "…" | "sha256": "<hex>", team, models, limits, budgets, expiresAt, disabled }`. */
function keyWithPolicy(name: string, entry: Record<string, unknown>): StoredKey {
  const { key, sha256, ...rest } = entry;
  for (const field of Object.keys(rest)) {
    if (!POLICY_FIELDS.has(field)) throw new KeySecretError(`API key "${name}": ${field} is not a key field (key, sha256, ${[...POLICY_FIELDS].join(', ')})`);
  }
  const problem = policyProblem(rest);
  if (problem) throw new KeySecretError(`API key "${name}": ${problem}`);
  let digest: Buffer;
  if (typeof sha256 === 'string' && /^[0-9a-f]{64}$/i.test(sha256.replace(/^sha256:/i, ''))) {
    digest = Buffer.from(sha256.replace(/^sha256:/i, ''), 'hex');
  } else if (typeof key === 'string' && key.length >= MIN_KEY_LENGTH) {
    digest = hashKey(key);
  } else {
    throw new KeySecretError(`API key "${name}" needs "key" (at least ${MIN_KEY_LENGTH} characters) or "sha256" (64 hex characters)`);
  }
  return { name, digest, policy: rest as KeyPolicy };
}

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** The stored key that matches, compared in constant time against every stored key. */
export function matchKey(keys: readonly StoredKey[], presented: string): StoredKey | undefined {
  const digest = hashKey(presented);
  let match: StoredKey | undefined;
  for (const key of keys) {
    // timingSafeEqual on equal-length digests; every key is compared even after a match.
    if (timingSafeEqual(key.digest, digest) && match === undefined) match = key;
  }
  return match;
}

export interface ApiKeyStoreOptions {
  /** Returns the secret's JSON string (Secrets Manager in Lambda, an in-memory value in the dev server). */
  readonly load: () => Promise<string>;
  /** How long loaded digests are used before reloading. 0 = reload for every request. */
  readonly ttlMs: number;
  /** A miss reloads early at most this often. Default 30 s. */
  readonly missRefreshMs?: number;
  readonly now?: () => number;
  /** Told when a reload fails and stale keys stay in use (no secret in the message). */
  readonly onStale?: (problem: string) => void;
}

export class ApiKeyStore {
  private keys?: readonly StoredKey[];
  private loadedAt = 0;
  private loading?: Promise<readonly StoredKey[]>;
  private readonly now: () => number;

  constructor(private readonly options: ApiKeyStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The matching key, or undefined when no stored key matches. Throws ProxyError(unavailable) when no keys can be loaded. */
  public async verify(presented: string): Promise<StoredKey | undefined> {
    const fresh = this.keys !== undefined && this.now() - this.loadedAt < this.options.ttlMs;
    const keys = fresh ? this.keys! : await this.reload();
    const match = matchKey(keys, presented);
    if (match !== undefined) return match;
    if (this.now() - this.loadedAt >= (this.options.missRefreshMs ?? 30_000)) return matchKey(await this.reload(), presented);
    return undefined;
  }

  private async reload(): Promise<readonly StoredKey[]> {
    this.loading ??= (async () => {
      try {
        const keys = parseKeySecret(await this.options.load());
        this.keys = keys;
        this.loadedAt = this.now();
        return keys;
      } catch (err) {
        const problem = err instanceof KeySecretError ? err.message : `loading the API key secret failed (${errorName(err)})`;
        if (this.keys) {
          this.options.onStale?.(problem);
          // Try again after the miss-refresh interval, not on every request.
          this.loadedAt = this.now() - Math.max(0, this.options.ttlMs - (this.options.missRefreshMs ?? 30_000));
          return this.keys;
        }
        throw new ProxyError('unavailable', `API keys are unavailable: ${problem}`);
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : 'unknown error';
}

/**
 * Virtual keys in the gateway table, by digest, cached for `ttlMs` (a revoked or changed key takes effect within it);
 * a key that is not there is remembered for at most 5 s, so a new key works almost at once.
 */
export class GatewayKeyCache {
  private readonly entries = new Map<string, { record: StoredKey | null; at: number }>();
  private readonly now: () => number;

  constructor(private readonly lookup: KeyLookup, private readonly ttlMs: number, now?: () => number) {
    this.now = now ?? Date.now;
  }

  public async find(digest: Buffer): Promise<StoredKey | undefined> {
    const hex = digest.toString('hex');
    const cached = this.entries.get(hex);
    const age = cached ? this.now() - cached.at : Infinity;
    if (cached && age < (cached.record ? this.ttlMs : Math.min(this.ttlMs, 5_000))) return cached.record ?? undefined;
    let record;
    try {
      record = await this.lookup.find(hex);
    } catch (err) {
      // The table is unreachable: a key seen recently keeps working; otherwise the caller cannot be told apart.
      if (cached?.record) return cached.record;
      throw new ProxyError('unavailable', `API keys are unavailable: the gateway table could not be read (${errorName(err)}).`);
    }
    const stored: StoredKey | null = record ? { name: record.name, digest, policy: policyOf(record) } : null;
    if (this.entries.size >= 10_000) this.entries.clear();
    this.entries.set(hex, { record: stored, at: this.now() });
    return stored ?? undefined;
  }
}

function policyOf(record: KeyRecord): KeyPolicy {
  const { team, models, limits, budgets, expiresAt, disabled } = record;
  return { team, models, limits, budgets, expiresAt, disabled };
}

export class ApiKeyAuthenticator implements Authenticator {
  constructor(private readonly store?: ApiKeyStore, private readonly gateway?: GatewayKeyCache, private readonly now: () => number = Date.now) {}

  public async authenticate(request: ProxyRequest): Promise<Identity> {
    const presented = presentedCredential(request.headers);
    if (!presented) {
      throw new ProxyError('authentication', 'An API key is required: send it in the x-api-key header or as Authorization: Bearer <key>.');
    }
    const key = (this.gateway ? await this.gateway.find(hashKey(presented)) : undefined) ?? await this.store?.verify(presented);
    if (key === undefined) throw new ProxyError('authentication', 'Invalid API key.');
    const refusal = key.policy ? keyRefusal(key.policy, this.now()) : undefined;
    if (refusal === 'disabled') throw new ProxyError('authentication', 'This API key has been revoked.');
    if (refusal === 'expired') throw new ProxyError('authentication', `This API key expired at ${key.policy!.expiresAt}.`);
    return { id: key.name, method: 'api-key', ...(key.policy ? { policy: key.policy } : {}) };
  }
}
