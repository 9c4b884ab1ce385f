import { Duration, Token } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ProxyAuthMode } from './auth-mode';
import { BoundProxyAuth } from './internal-types';

export { ProxyAuthMode } from './auth-mode';

/**
 * Options for `ProxyAuth.apiKeys()`.
 */
export interface ApiKeysAuthOptions {
  /**
   * An existing secret holding a JSON object `{ "<key name>": "<key>" | "sha256:<hex digest>" }`.
   * @default a secret `{ "default": "<48 random characters>" }` is created
   */
  readonly secret?: secretsmanager.ISecret;
  /**
   * How long the runtime caches the loaded keys; a removed key stops working after at most this long.
   * @default Duration.minutes(5)
   */
  readonly cacheTtl?: Duration;
}

/**
 * Which Cognito token the JWT mode accepts (ignored for other issuers).
 */
export enum JwtTokenUse {
  /** Cognito ID tokens only. */
  ID = 'id',
  /** Cognito access tokens only. */
  ACCESS = 'access',
  /** Either. */
  ANY = 'any',
}

/**
 * Options for `ProxyAuth.jwt()`.
 */
export interface JwtAuthOptions {
  /** The token issuer URL, e.g. `https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf` or `https://example.auth0.com/`. */
  readonly issuer: string;
  /** Accepted `aud` (or Cognito `client_id`) values; at least one. */
  readonly audience: string[];
  /**
   * Where the issuer's signing keys are published.
   * @default the issuer's `/.well-known/jwks.json`
   */
  readonly jwksUri?: string;
  /**
   * The claim used as the caller's identity for rate limits and metering.
   * @default 'sub'
   */
  readonly identityClaim?: string;
  /**
   * Which Cognito token is accepted.
   * @default JwtTokenUse.ANY
   */
  readonly tokenUse?: JwtTokenUse;
  /**
   * Accept tokens without an `exp` claim. Such tokens never expire, so a leaked one works forever; allow them only for
   * an issuer that cannot set `exp` and whose tokens you can revoke another way.
   * @default false: a token without `exp` gets 401
   */
  readonly allowMissingExpiry?: boolean;
}

/**
 * How callers authenticate to the proxy: API keys (the default), JWTs, IAM or nothing.
 */
export abstract class ProxyAuth {
  /**
   * API keys kept in Secrets Manager, compared in constant time by the runtime. Clients send them as `x-api-key`
   * (Anthropic SDKs, Claude Code) or `Authorization: Bearer` (OpenAI SDKs).
   */
  public static apiKeys(options: ApiKeysAuthOptions = {}): ProxyAuth {
    return new ApiKeysAuth(options);
  }

  /**
   * JSON Web Tokens from any OIDC issuer, verified by the runtime against the issuer's published keys.
   */
  public static jwt(options: JwtAuthOptions): ProxyAuth {
    return new JwtAuth(options);
  }

  /**
   * AWS SigV4: the function URL (`AWS_IAM`) or the REST API methods (`AWS_IAM`) authenticate the caller; use
   * `grantInvoke()` to allow a principal. Callers must sign their requests, so off-the-shelf SDKs need a signing
   * proxy or custom fetch.
   */
  public static iam(): ProxyAuth {
    return new SimpleAuth(ProxyAuthMode.IAM);
  }

  /**
   * No authentication at all: anyone who knows the URL can spend your Bedrock budget. For private networks and demos.
   */
  public static none(): ProxyAuth {
    return new SimpleAuth(ProxyAuthMode.NONE);
  }

  /** The runtime's `PROXY_AUTH_MODE`. */
  public abstract readonly mode: ProxyAuthMode;

  /** @internal */
  public abstract _bind(scope: Construct, encryptionKey?: kms.IKey): BoundProxyAuth;
}

class ApiKeysAuth extends ProxyAuth {
  public readonly mode = ProxyAuthMode.API_KEYS;

  constructor(private readonly options: ApiKeysAuthOptions) {
    super();
    const ttl = options.cacheTtl;
    if (ttl && !ttl.isUnresolved() && ttl.toMilliseconds() % 1000 !== 0) {
      throw new Error('ProxyAuth.apiKeys(): `cacheTtl` must be a whole number of seconds.');
    }
  }

  public _bind(scope: Construct, encryptionKey?: kms.IKey): BoundProxyAuth {
    const secret = this.options.secret ?? new secretsmanager.Secret(scope, 'ApiKeys', {
      description: 'API keys of the LLM proxy: a JSON object { "<key name>": "<key>" | "sha256:<hex digest>" }',
      encryptionKey,
      generateSecretString: {
        secretStringTemplate: '{}',
        generateStringKey: 'default',
        passwordLength: 48,
        excludePunctuation: true,
        includeSpace: false,
      },
    });
    const environment: Record<string, string> = { PROXY_API_KEYS_SECRET_ARN: secret.secretArn };
    if (this.options.cacheTtl) {
      environment.PROXY_API_KEYS_CACHE_TTL_SECONDS = String(this.options.cacheTtl.toSeconds());
    }
    return { mode: this.mode, environment, secret, endpointIam: false };
  }
}

class JwtAuth extends ProxyAuth {
  public readonly mode = ProxyAuthMode.JWT;

  constructor(private readonly options: JwtAuthOptions) {
    super();
    const { issuer, audience, jwksUri, identityClaim } = options;
    if (!Token.isUnresolved(issuer) && !/^https:\/\/[^\s/]+/.test(issuer)) {
      throw new Error(`ProxyAuth.jwt(): \`issuer\` must be an https:// URL, got '${issuer}'.`);
    }
    if (!audience || audience.length === 0 || audience.some((a) => !Token.isUnresolved(a) && (a.trim() === '' || a.includes(',')))) {
      throw new Error('ProxyAuth.jwt(): `audience` needs at least one non-empty value (client id or API identifier) without commas.');
    }
    if (jwksUri !== undefined && !Token.isUnresolved(jwksUri) && !/^https:\/\/[^\s/]+/.test(jwksUri)) {
      throw new Error(`ProxyAuth.jwt(): \`jwksUri\` must be an https:// URL, got '${jwksUri}'.`);
    }
    if (identityClaim !== undefined && identityClaim.trim() === '') {
      throw new Error('ProxyAuth.jwt(): `identityClaim` must name a claim, e.g. \'sub\' or \'email\'.');
    }
  }

  public _bind(): BoundProxyAuth {
    const o = this.options;
    const environment: Record<string, string> = {
      PROXY_JWT_ISSUER: o.issuer,
      PROXY_JWT_AUDIENCE: o.audience.join(','),
    };
    if (o.jwksUri !== undefined) environment.PROXY_JWT_JWKS_URI = o.jwksUri;
    if (o.identityClaim !== undefined) environment.PROXY_JWT_IDENTITY_CLAIM = o.identityClaim;
    if (o.tokenUse !== undefined) environment.PROXY_JWT_TOKEN_USE = o.tokenUse;
    if (o.allowMissingExpiry) environment.PROXY_JWT_ALLOW_MISSING_EXPIRY = 'true';
    return { mode: this.mode, environment, endpointIam: false, jwksUri: o.jwksUri ?? `${o.issuer.replace(/\/+$/, '')}/.well-known/jwks.json` };
  }
}

class SimpleAuth extends ProxyAuth {
  constructor(public readonly mode: ProxyAuthMode) {
    super();
  }

  public _bind(): BoundProxyAuth {
    return { mode: this.mode, environment: {}, endpointIam: this.mode === ProxyAuthMode.IAM };
  }
}
