/**
 * ElastiCache IAM authentication tokens.
 *
 * A token is a SigV4 presigned `GET http://<cache name>/?Action=connect&User=<user id>` for the service `elasticache`,
 * valid for 900 seconds, with the `http://` scheme removed. The client sends it as the password of `AUTH <user id>`.
 * Tokens are cached and refreshed well before they expire; a connection authenticated with a token stays valid after
 * the token expires (ElastiCache closes IAM-authenticated connections after 12 hours, and the client reconnects).
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** How long a signed token is valid (the maximum ElastiCache accepts). */
export const IAM_TOKEN_EXPIRES_SECONDS = 900;
/** A cached token is replaced once it is this old, leaving 5 minutes of validity for a connection attempt. */
export const IAM_TOKEN_REFRESH_AFTER_MS = 10 * 60 * 1000;

export interface IamTokenSignerOptions {
  /** The ElastiCache user id (for IAM-enabled users it equals the user name). */
  readonly userId: string;
  /** The replication group id the token is for (lower case, as ElastiCache stores it). */
  readonly cacheName: string;
  readonly region: string;
  /** Credentials; the default AWS credential chain when omitted. */
  readonly credentials?: AwsCredentialIdentityProvider | AwsCredentialIdentity;
  /** Clock, for tests. */
  readonly now?: () => Date;
}

/** RFC 3986 percent-encoding, the form SigV4 canonicalises query strings to. */
function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function defaultCredentials(): AwsCredentialIdentityProvider {
  // Loaded on first use: functions that do not use IAM auth never initialise the credential chain.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { defaultProvider } = require('@aws-sdk/credential-provider-node') as typeof import('@aws-sdk/credential-provider-node');
  return defaultProvider();
}

/** Signs ElastiCache IAM auth tokens, caching one until it is due for refresh. */
export class IamTokenSigner {
  private readonly credentials: AwsCredentialIdentityProvider;
  private readonly now: () => Date;
  private cached?: { token: string; refreshAt: number };
  private inFlight?: Promise<string>;

  constructor(private readonly options: IamTokenSignerOptions) {
    this.now = options.now ?? (() => new Date());
    const credentials = options.credentials;
    this.credentials = typeof credentials === 'function'
      ? credentials
      : credentials
        ? async () => credentials
        : defaultCredentials();
  }

  /** The user name to send with AUTH. */
  get username(): string {
    return this.options.userId;
  }

  /** A valid token: the cached one while it is fresh, otherwise a newly signed one. */
  async token(): Promise<string> {
    const nowMs = this.now().getTime();
    if (this.cached && nowMs < this.cached.refreshAt) return this.cached.token;
    this.inFlight ??= this.sign().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Forgets the cached token (after the server rejected it). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async sign(): Promise<string> {
    const credentials = await this.credentials();
    const signingDate = this.now();
    const signer = new SignatureV4({
      service: 'elasticache',
      region: this.options.region,
      credentials,
      sha256: Sha256,
      uriEscapePath: true,
      applyChecksum: false,
    });
    const request = new HttpRequest({
      method: 'GET',
      protocol: 'http:',
      hostname: this.options.cacheName,
      path: '/',
      query: { Action: 'connect', User: this.options.userId },
      headers: { host: this.options.cacheName },
    });
    const signed = await signer.presign(request, { expiresIn: IAM_TOKEN_EXPIRES_SECONDS, signingDate });
    const query = Object.entries(signed.query ?? {})
      .map(([key, value]) => `${rfc3986(key)}=${rfc3986(String(value))}`)
      .join('&');
    const token = `${signed.hostname}${signed.path}?${query}`;
    // Temporary credentials bound the token's life too: refresh a minute before they expire.
    const credentialsExpire = credentials.expiration ? credentials.expiration.getTime() - 60_000 : Infinity;
    this.cached = { token, refreshAt: Math.min(signingDate.getTime() + IAM_TOKEN_REFRESH_AFTER_MS, credentialsExpire) };
    return token;
  }
}
