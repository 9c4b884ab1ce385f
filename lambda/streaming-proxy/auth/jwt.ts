/**
 * JWT authentication with aws-jwt-verify, for any OIDC issuer (Cognito user pools get Cognito's token_use / client_id
 * checks). The verifier is imported lazily (only jwt mode needs it) and caches the issuer's JWKS. The identity is the
 * configured claim (default `sub`).
 */
import * as http from 'http';
import { isLoopbackHttp } from '../config';
import { ProxyError } from '../errors';
import type { ProxyRequest } from '../http';
import { presentedCredential, type Authenticator, type Identity } from './types';

export interface JwtSettings {
  readonly issuer: string;
  readonly audience: readonly string[];
  readonly jwksUri: string;
  readonly identityClaim: string;
  readonly tokenUse: 'id' | 'access' | 'any';
  /** Accept tokens without an `exp` claim; by default they are refused (a stolen token would never expire). */
  readonly allowMissingExpiry?: boolean;
}

type Verify = (token: string) => Promise<Record<string, unknown>>;
type ErrorModule = typeof import('aws-jwt-verify/error');

const COGNITO_ISSUER = /^https:\/\/cognito-idp\.[a-z0-9-]+\.amazonaws\.com\/([a-z0-9-]+_[A-Za-z0-9]+)$/;

export class JwtAuthenticator implements Authenticator {
  private verifier?: Promise<{ verify: Verify; errors: ErrorModule }>;

  constructor(private readonly settings: JwtSettings) {}

  public async authenticate(request: ProxyRequest): Promise<Identity> {
    const token = presentedCredential(request.headers);
    if (!token) throw new ProxyError('authentication', 'A bearer token is required: send Authorization: Bearer <JWT>.');
    this.verifier ??= this.createVerifier();
    const { verify, errors } = await this.verifier;
    let payload: Record<string, unknown>;
    try {
      payload = await verify(token);
    } catch (err) {
      throw new ProxyError('authentication', `Invalid token: ${reason(err, errors)}.`);
    }
    // aws-jwt-verify checks `exp` only when the token has one.
    if (payload.exp === undefined && !this.settings.allowMissingExpiry) {
      throw new ProxyError('authentication', 'Invalid token: the token has no expiry (exp claim).');
    }
    const id = payload[this.settings.identityClaim];
    if (typeof id !== 'string' || id.length === 0) {
      throw new ProxyError('authentication', `The token has no "${this.settings.identityClaim}" claim to identify the caller.`);
    }
    return { id, method: 'jwt' };
  }

  private async createVerifier(): Promise<{ verify: Verify; errors: ErrorModule }> {
    const s = this.settings;
    // require, not import(): esbuild keeps it lazy in the bundle, and it also runs under jest's CommonJS loader.
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { JwtVerifier, CognitoJwtVerifier } = require('aws-jwt-verify') as typeof import('aws-jwt-verify');
    const { SimpleJwksCache } = require('aws-jwt-verify/jwk') as typeof import('aws-jwt-verify/jwk');
    const { SimpleFetcher } = require('aws-jwt-verify/https') as typeof import('aws-jwt-verify/https');
    const errors = require('aws-jwt-verify/error') as ErrorModule;
    /* eslint-enable @typescript-eslint/no-require-imports */
    const jwksCache = new SimpleJwksCache({ fetcher: new LoopbackAwareFetcher(new SimpleFetcher()) });
    const audience = [...s.audience];
    const cognito = COGNITO_ISSUER.exec(s.issuer);
    if (cognito) {
      const verifier = CognitoJwtVerifier.create(
        { userPoolId: cognito[1], clientId: audience, tokenUse: s.tokenUse === 'any' ? null : s.tokenUse },
        { jwksCache },
      );
      return { errors, verify: async (token) => (await verifier.verify(token)) as unknown as Record<string, unknown> };
    }
    const verifier = JwtVerifier.create({ issuer: s.issuer, audience, jwksUri: s.jwksUri }, { jwksCache });
    return { errors, verify: async (token) => (await verifier.verify(token)) as unknown as Record<string, unknown> };
  }
}

/** aws-jwt-verify fetches over https only; this also serves http JWKS URIs on loopback (tests, local IdPs). */
class LoopbackAwareFetcher {
  constructor(private readonly https: { fetch: (uri: string, options?: Record<string, unknown>, data?: ArrayBuffer) => Promise<ArrayBuffer> }) {}

  public fetch(uri: string, options?: Record<string, unknown>, data?: ArrayBuffer): Promise<ArrayBuffer> {
    if (!isLoopbackHttp(uri)) return this.https.fetch(uri, options, data);
    return new Promise((resolve, reject) => {
      const req = http.get(uri, { timeout: 3000 }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`JWKS fetch returned ${res.statusCode}`));
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          resolve(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('JWKS fetch timed out')));
      req.on('error', reject);
    });
  }
}

/**
 * A short reason from aws-jwt-verify's error classes (their messages can quote claims; the class cannot). Checked with
 * instanceof, most specific first: class names do not survive minification.
 */
function reason(err: unknown, e: ErrorModule): string {
  const reasons: Array<[abstract new (...args: never[]) => Error, string]> = [
    [e.JwtExpiredError, 'the token has expired'],
    [e.JwtNotBeforeError, 'the token is not valid yet'],
    [e.JwtInvalidIssuerError, 'wrong issuer'],
    [e.JwtInvalidAudienceError, 'wrong audience'],
    [e.CognitoJwtInvalidTokenUseError, 'wrong token use'],
    [e.CognitoJwtInvalidClientIdError, 'wrong client id'],
    [e.JwtInvalidClaimError, 'a claim is invalid'],
    [e.JwtInvalidSignatureAlgorithmError, 'unsupported signature algorithm'],
    [e.JwtInvalidSignatureError, 'the signature does not verify'],
    [e.KidNotFoundInJwksError, 'unknown signing key'],
    [e.JwtWithoutValidKidError, 'the token names no signing key'],
    [e.FetchError, 'signing keys unavailable'],
    [e.JwksNotAvailableInCacheError, 'signing keys unavailable'],
    [e.JwtParseError, 'not a well-formed JWT'],
    [e.ParameterValidationError, 'not a well-formed JWT'],
  ];
  for (const [type, text] of reasons) if (err instanceof type) return text;
  return 'verification failed';
}
