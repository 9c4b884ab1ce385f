/**
 * Builds the Authenticator for the configured mode. api-keys and jwt load their SDKs lazily, on first use.
 */
import type { AuthConfig } from '../config';
import { ProxyError } from '../errors';
import type { ProxyRequest } from '../http';
import { ApiKeyAuthenticator, ApiKeyStore } from './api-keys';
import { JwtAuthenticator } from './jwt';
import { secretsManagerLoader } from './secrets-manager';
import type { Authenticator, Identity } from './types';

export type { Authenticator, Identity } from './types';

export interface AuthDeps {
  /** Loads the API key secret (default: Secrets Manager, PROXY_API_KEYS_SECRET_ARN). */
  readonly loadKeys?: () => Promise<string>;
  /** Region and endpoint for the Secrets Manager client. */
  readonly region?: string;
  /** Told when a key reload fails and stale keys stay in use. */
  readonly onStaleKeys?: (problem: string) => void;
}

export function createAuthenticator(config: AuthConfig, deps: AuthDeps = {}): Authenticator {
  switch (config.mode) {
    case 'api-keys': {
      const load = deps.loadKeys ?? secretsManagerLoader(config.secretArn, { region: deps.region });
      return new ApiKeyAuthenticator(new ApiKeyStore({ load, ttlMs: config.cacheTtlSeconds * 1000, onStale: deps.onStaleKeys }));
    }
    case 'jwt':
      return new JwtAuthenticator(config);
    case 'iam':
      return new IamAuthenticator();
    default:
      return { authenticate: async () => ({ id: 'anonymous', method: 'none' }) };
  }
}

/** The endpoint (Function URL / API Gateway with AWS_IAM) already authenticated; the identity is the caller's ARN. */
class IamAuthenticator implements Authenticator {
  public async authenticate(request: ProxyRequest): Promise<Identity> {
    if (!request.iamPrincipal) {
      throw new ProxyError('authentication', 'IAM authentication is configured, but the request carries no IAM caller identity.');
    }
    return { id: request.iamPrincipal, method: 'iam' };
  }
}
