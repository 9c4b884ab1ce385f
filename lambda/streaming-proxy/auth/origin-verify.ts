/**
 * Origin verification: with CloudFront in front of the endpoint, CloudFront adds a secret header to every request it
 * forwards (an origin custom header) and this decorator refuses, with 403 in the client's protocol, every request that
 * does not carry it, before the wrapped authenticator or anything else looks at the request. So the function URL (or
 * REST API stage) cannot be used to go around CloudFront's web ACL, rate rules and geo restriction.
 *
 * The secret lives in Secrets Manager. Its AWSCURRENT and AWSPREVIOUS versions are both accepted, so rotating it
 * (put a new value, then update the distribution, see docs/runbook.md) never refuses CloudFront's requests. Only
 * SHA-256 digests are kept in memory, cached for a short TTL; a presented value is hashed and compared with every
 * accepted digest with timingSafeEqual (equal-length digests, no early exit).
 */
import { createHash, timingSafeEqual } from 'crypto';
import { ProxyError } from '../errors';
import type { ProxyRequest } from '../http';
import type { Authenticator, Identity } from './types';

export interface OriginSecretStoreOptions {
  /** Returns the accepted secret values (AWSCURRENT first, then AWSPREVIOUS when there is one). */
  readonly load: () => Promise<readonly string[]>;
  /** How long loaded digests are used before reloading. */
  readonly ttlMs: number;
  /** A mismatch reloads early at most this often (a value rotated moments ago). Default 30 s. */
  readonly missRefreshMs?: number;
  readonly now?: () => number;
  /** Told when a reload fails and the previously loaded values stay in use (no secret in the message). */
  readonly onStale?: (problem: string) => void;
}

/** Shorter values are refused as a configuration error: a guessable origin secret protects nothing. */
const MIN_SECRET_LENGTH = 32;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function matches(digests: readonly Buffer[], presented: string): boolean {
  const d = digest(presented);
  let ok = false;
  // Every accepted digest is compared, even after a match.
  for (const accepted of digests) ok = timingSafeEqual(accepted, d) || ok;
  return ok;
}

export class OriginSecretStore {
  private digests?: readonly Buffer[];
  private loadedAt = 0;
  private loading?: Promise<readonly Buffer[]>;
  private readonly now: () => number;

  constructor(private readonly options: OriginSecretStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  /** True when `presented` is the current or the previous secret. Throws ProxyError(unavailable) when none can be loaded. */
  public async verify(presented: string): Promise<boolean> {
    const fresh = this.digests !== undefined && this.now() - this.loadedAt < this.options.ttlMs;
    const digests = fresh ? this.digests! : await this.reload();
    if (matches(digests, presented)) return true;
    if (this.now() - this.loadedAt >= (this.options.missRefreshMs ?? 30_000)) return matches(await this.reload(), presented);
    return false;
  }

  private async reload(): Promise<readonly Buffer[]> {
    this.loading ??= (async () => {
      try {
        const values = await this.options.load();
        if (values.length === 0 || values.some((v) => v.length < MIN_SECRET_LENGTH)) {
          throw new OriginSecretError(`the origin secret must be at least ${MIN_SECRET_LENGTH} characters`);
        }
        this.digests = values.map(digest);
        this.loadedAt = this.now();
        return this.digests;
      } catch (err) {
        const problem = err instanceof OriginSecretError ? err.message : `loading the origin secret failed (${err instanceof Error ? err.name : 'unknown error'})`;
        if (this.digests) {
          this.options.onStale?.(problem);
          this.loadedAt = this.now() - Math.max(0, this.options.ttlMs - (this.options.missRefreshMs ?? 30_000));
          return this.digests;
        }
        throw new ProxyError('unavailable', `Origin verification is unavailable: ${problem}`);
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }
}

class OriginSecretError extends Error {
  public readonly name = 'OriginSecretError';
}

const DIRECT_CALL = 'This endpoint only accepts requests that come through its CloudFront distribution; use the distribution\'s URL.';

/** Requires the origin header before the wrapped authenticator runs. */
export class OriginVerifyingAuthenticator implements Authenticator {
  /** @param header the header name, lower case (request headers are lower case). */
  constructor(private readonly inner: Authenticator, private readonly store: OriginSecretStore, private readonly header: string) {}

  public async authenticate(request: ProxyRequest): Promise<Identity> {
    const presented = request.headers[this.header];
    if (!presented || !(await this.store.verify(presented))) throw new ProxyError('permission', DIRECT_CALL);
    return this.inner.authenticate(request);
  }
}
