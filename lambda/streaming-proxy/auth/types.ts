import type { KeyPolicy } from '../../shared/gateway/schema';
import type { ProxyRequest } from '../http';

/** Who is calling: the name rate limits, sessions and metering use. Never a secret. */
export interface Identity {
  readonly id: string;
  readonly method: 'api-key' | 'jwt' | 'iam' | 'none';
  /** A key's own policy (allowed models, limits, budgets, team), from the gateway table or the key secret's entry. */
  readonly policy?: KeyPolicy;
}

/** Authenticates a request; throws a ProxyError (401/403/503) when it cannot. */
export interface Authenticator {
  authenticate(request: ProxyRequest): Promise<Identity>;
}

/** The credential a client sent: `x-api-key`, or `Authorization: Bearer <token>`. */
export function presentedCredential(headers: Readonly<Record<string, string>>): string | undefined {
  const apiKey = headers['x-api-key']?.trim();
  if (apiKey) return apiKey;
  const match = /^bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return match?.[1];
}
