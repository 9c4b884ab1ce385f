/**
 * API-key authentication. The keys live in one Secrets Manager secret, a JSON object of named keys:
 * `{ "<key name>": "<key>" | "sha256:<hex digest of the key>" }`. Only SHA-256 digests are kept in memory; a presented
 * key is hashed and compared with every stored digest in constant time (no early exit), so timing reveals neither
 * which key matched nor how much of one did. The digests are cached for the configured TTL; a miss may trigger one
 * early reload (a newly added key works without waiting for the TTL), at most once per refresh interval.
 */
import { createHash, timingSafeEqual } from 'crypto';
import { ProxyError } from '../errors';
import type { ProxyRequest } from '../http';
import { presentedCredential, type Authenticator, type Identity } from './types';

export interface StoredKey {
  readonly name: string;
  readonly digest: Buffer;
}

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
    if (typeof value !== 'string') throw new KeySecretError(`API key "${name}" must be a string`);
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

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** The name of the stored key that matches, compared in constant time against every stored key. */
export function matchKey(keys: readonly StoredKey[], presented: string): string | undefined {
  const digest = hashKey(presented);
  let match: string | undefined;
  for (const key of keys) {
    // timingSafeEqual on equal-length digests; every key is compared even after a match.
    if (timingSafeEqual(key.digest, digest) && match === undefined) match = key.name;
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

  /** The name of the key, or undefined when no stored key matches. Throws ProxyError(unavailable) when no keys can be loaded. */
  public async verify(presented: string): Promise<string | undefined> {
    const fresh = this.keys !== undefined && this.now() - this.loadedAt < this.options.ttlMs;
    const keys = fresh ? this.keys! : await this.reload();
    const name = matchKey(keys, presented);
    if (name !== undefined) return name;
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

export class ApiKeyAuthenticator implements Authenticator {
  constructor(private readonly store: ApiKeyStore) {}

  public async authenticate(request: ProxyRequest): Promise<Identity> {
    const presented = presentedCredential(request.headers);
    if (!presented) {
      throw new ProxyError('authentication', 'An API key is required: send it in the x-api-key header or as Authorization: Bearer <key>.');
    }
    const name = await this.store.verify(presented);
    if (name === undefined) throw new ProxyError('authentication', 'Invalid API key.');
    return { id: name, method: 'api-key' };
  }
}
