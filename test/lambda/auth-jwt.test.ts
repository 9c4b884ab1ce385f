import { generateKeyPairSync } from 'crypto';
import { createAuthenticator } from '../../lambda/streaming-proxy/auth/index';
import { ProxyError } from '../../lambda/streaming-proxy/errors';
import type { ProxyRequest } from '../../lambda/streaming-proxy/http';
import { JwksServer } from '../support/jwks-server';

function request(headers: Record<string, string>, iamPrincipal?: string): ProxyRequest {
  return { method: 'POST', path: '/v1/messages', query: new URLSearchParams(), headers, body: Buffer.alloc(0), requestId: 'r', iamPrincipal };
}

async function rejection(p: Promise<unknown>): Promise<ProxyError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ProxyError) return err;
    throw err;
  }
  throw new Error('expected a ProxyError');
}

describe('jwt authentication', () => {
  const idp = new JwksServer();
  const issuer = 'https://idp.example.com';
  let auth: ReturnType<typeof createAuthenticator>;

  beforeAll(async () => {
    await idp.start();
    auth = createAuthenticator({ mode: 'jwt', issuer, audience: ['proxy-client'], jwksUri: idp.jwksUri, identityClaim: 'sub', tokenUse: 'any' });
  });
  afterAll(() => idp.stop());

  test('accepts a real RS256 token from the JWKS and uses its subject as the identity', async () => {
    const token = idp.sign({ iss: issuer, aud: 'proxy-client', sub: 'user-123' });
    await expect(auth.authenticate(request({ authorization: `Bearer ${token}` }))).resolves.toEqual({ id: 'user-123', method: 'jwt' });
  });

  test('uses another claim when configured', async () => {
    const byEmail = createAuthenticator({ mode: 'jwt', issuer, audience: ['proxy-client'], jwksUri: idp.jwksUri, identityClaim: 'email', tokenUse: 'any' });
    const token = idp.sign({ iss: issuer, aud: 'proxy-client', sub: 'u', email: 'dev@example.com' });
    await expect(byEmail.authenticate(request({ authorization: `Bearer ${token}` }))).resolves.toEqual({ id: 'dev@example.com', method: 'jwt' });
    const without = idp.sign({ iss: issuer, aud: 'proxy-client', sub: 'u' });
    expect((await rejection(byEmail.authenticate(request({ authorization: `Bearer ${without}` })))).message).toMatch(/no "email" claim/);
  });

  test('refuses a token without an exp claim by default: it would never expire', async () => {
    const token = idp.sign({ iss: issuer, aud: 'proxy-client', sub: 'user-123', exp: undefined });
    const err = await rejection(auth.authenticate(request({ authorization: `Bearer ${token}` })));
    expect(err.status('anthropic')).toBe(401);
    expect(err.message).toBe('Invalid token: the token has no expiry (exp claim).');
  });

  test('accepts a token without exp only when allowMissingExpiry is set, and still refuses an expired one', async () => {
    const lenient = createAuthenticator({
      mode: 'jwt', issuer, audience: ['proxy-client'], jwksUri: idp.jwksUri, identityClaim: 'sub', tokenUse: 'any', allowMissingExpiry: true,
    });
    const token = idp.sign({ iss: issuer, aud: 'proxy-client', sub: 'user-123', exp: undefined });
    await expect(lenient.authenticate(request({ authorization: `Bearer ${token}` }))).resolves.toEqual({ id: 'user-123', method: 'jwt' });
    const expired = idp.sign({ iss: issuer, aud: 'proxy-client', sub: 'u', exp: Math.floor(Date.now() / 1000) - 3600 });
    expect((await rejection(lenient.authenticate(request({ authorization: `Bearer ${expired}` })))).message).toBe('Invalid token: the token has expired.');
  });

  test('refuses expired, foreign, mis-addressed and forged tokens with 401 and a short reason', async () => {
    const now = Math.floor(Date.now() / 1000);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const cases: Array<[string, string]> = [
      [idp.sign({ iss: issuer, aud: 'proxy-client', sub: 'u', exp: now - 3600 }), 'the token has expired'],
      [idp.sign({ iss: 'https://evil.example.com', aud: 'proxy-client', sub: 'u' }), 'wrong issuer'],
      [idp.sign({ iss: issuer, aud: 'someone-else', sub: 'u' }), 'wrong audience'],
      [idp.sign({ iss: issuer, aud: 'proxy-client', sub: 'u' }, { key: other }), 'the signature does not verify'],
      [idp.sign({ iss: issuer, aud: 'proxy-client', sub: 'u' }, { kid: 'unknown' }), 'unknown signing key'],
      ['not.a.jwt', 'not a well-formed JWT'],
    ];
    for (const [token, reason] of cases) {
      const err = await rejection(auth.authenticate(request({ authorization: `Bearer ${token}` })));
      expect(err.status('anthropic')).toBe(401);
      expect(err.message).toBe(`Invalid token: ${reason}.`);
      expect(err.body('openai')).not.toContain(token);
    }
    expect((await rejection(auth.authenticate(request({})))).message).toMatch(/bearer token is required/);
  });
});

describe('iam and none authentication', () => {
  test('iam takes the caller ARN from the request context and refuses requests without one', async () => {
    const auth = createAuthenticator({ mode: 'iam' });
    const arn = 'arn:aws:iam::123456789012:role/dev';
    await expect(auth.authenticate(request({}, arn))).resolves.toEqual({ id: arn, method: 'iam' });
    expect((await rejection(auth.authenticate(request({})))).status('openai')).toBe(401);
  });

  test('none admits everyone as anonymous', async () => {
    await expect(createAuthenticator({ mode: 'none' }).authenticate(request({}))).resolves.toEqual({ id: 'anonymous', method: 'none' });
  });
});
