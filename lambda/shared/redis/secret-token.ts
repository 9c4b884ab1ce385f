/**
 * The AUTH token of a token-authenticated cache, read from its Secrets Manager secret (`{ "password": "..." }`).
 *
 * The value is cached for a short time and is re-read whenever the server rejects it: the bundled rotation function
 * first adds the new token next to the old one (ROTATE) and later removes the old one (SET), so a function holding an
 * old value recovers on its next connection attempt.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** How long a read token is reused before it is read again. */
export const SECRET_TOKEN_CACHE_MS = 5 * 60 * 1000;

/** Reads the `password` field of a secret. */
export type SecretReader = (secretArn: string) => Promise<string>;

let sharedClient: SecretsManagerClient | undefined;

/** Reads the secret with the AWS SDK (loaded on first use; the default endpoint and credential chain). */
export const readSecretPassword: SecretReader = async (secretArn) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sm = require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
  sharedClient ??= new sm.SecretsManagerClient({});
  const result = await sharedClient.send(new sm.GetSecretValueCommand({ SecretId: secretArn }));
  return parseSecretPassword(result.SecretString, secretArn);
};

/** The `password` of a secret string; throws a message that never includes the value. */
export function parseSecretPassword(secretString: string | undefined, secretArn: string): string {
  if (!secretString) throw new Error(`The secret ${secretArn} has no SecretString.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new Error(`The secret ${secretArn} is not a JSON object with a "password" field.`);
  }
  const password = (parsed as { password?: unknown } | null)?.password;
  if (typeof password !== 'string' || password.length === 0) {
    throw new Error(`The secret ${secretArn} has no "password" string field.`);
  }
  return password;
}

/** Caches the token of one secret. */
export class SecretTokenProvider {
  private cached?: { value: string; readAt: number };
  private inFlight?: Promise<string>;

  constructor(
    private readonly secretArn: string,
    private readonly read: SecretReader = readSecretPassword,
    private readonly now: () => number = Date.now,
  ) {}

  async token(): Promise<string> {
    if (this.cached && this.now() - this.cached.readAt < SECRET_TOKEN_CACHE_MS) return this.cached.value;
    this.inFlight ??= this.read(this.secretArn)
      .then((value) => {
        this.cached = { value, readAt: this.now() };
        return value;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  /** Forgets the cached value (after the server rejected it). */
  invalidate(): void {
    this.cached = undefined;
  }
}
