/**
 * Builds the Authenticator for the configured mode. api-keys and jwt load their SDKs lazily, on first use.
 */
import type { KeyLookup } from '../../shared/gateway/types';
import type { AuthConfig, OriginVerifyConfig } from '../config';
import { ProxyError } from '../errors';
import type { ProxyRequest } from '../http';
import { ApiKeyAuthenticator, ApiKeyStore, GatewayKeyCache } from './api-keys';
import { JwtAuthenticator } from './jwt';
import { OriginSecretStore, OriginVerifyingAuthenticator } from './origin-verify';
import { currentAndPreviousLoader, secretsManagerLoader } from './secrets-manager';
import type { Authenticator, Identity } from './types';

export type { Authenticator, Identity } from './types';

export interface AuthDeps {
  /** Loads the API key secret (default: Secrets Manager, PROXY_API_KEYS_SECRET_ARN). */
  readonly loadKeys?: () => Promise<string>;
  /** Region and endpoint for the Secrets Manager client. */
  readonly region?: string;
  /** Told when a key reload fails and stale keys stay in use. */
  readonly onStaleKeys?: (problem: string) => void;
  /** Loads the accepted origin secrets, current first (default: Secrets Manager AWSCURRENT and AWSPREVIOUS). */
  readonly loadOriginSecrets?: () => Promise<readonly string[]>;
  /** Told when an origin-secret reload fails and the previous values stay in use. */
  readonly onStaleOriginSecret?: (problem: string) => void;
  /** Virtual keys in the gateway table, and how long a lookup is cached (ms). */
  readonly gatewayKeys?: { readonly lookup: KeyLookup; readonly cacheTtlMs: number };
}

/**
 * Wraps `inner` so that, when the endpoint sits behind CloudFront (`config` set), a request without CloudFront's
 * origin secret header is refused with 403 before `inner` or anything else runs.
 */
export function withOriginVerify(inner: Authenticator, config: OriginVerifyConfig | undefined, deps: AuthDeps = {}): Authenticator {
  if (!config) return inner;
  const load = deps.loadOriginSecrets ?? currentAndPreviousLoader(config.secretArn, { region: deps.region });
  const store = new OriginSecretStore({ load, ttlMs: config.cacheTtlSeconds * 1000, onStale: deps.onStaleOriginSecret });
  return new OriginVerifyingAuthenticator(inner, store, config.header);
}

export function createAuthenticator(config: AuthConfig, deps: AuthDeps = {}): Authenticator {
  switch (config.mode) {
    case 'api-keys': {
      const secretArn = config.secretArn;
      const load = deps.loadKeys ?? (secretArn ? secretsManagerLoader(secretArn, { region: deps.region }) : undefined);
      const store = load ? new ApiKeyStore({ load, ttlMs: config.cacheTtlSeconds * 1000, onStale: deps.onStaleKeys }) : undefined;
      const gateway = deps.gatewayKeys ? new GatewayKeyCache(deps.gatewayKeys.lookup, deps.gatewayKeys.cacheTtlMs) : undefined;
      return new ApiKeyAuthenticator(store, gateway);
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
