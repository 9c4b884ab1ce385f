import { createHash, createHmac } from 'crypto';
import { connectionConfig } from '../../lambda/shared/redis/config';
import { credentialsFor, RedisConnection } from '../../lambda/shared/redis/connection';
import { IAM_TOKEN_REFRESH_AFTER_MS, IamTokenSigner } from '../../lambda/shared/redis/iam-token';
import { SESSIONS_USER_ACCESS_STRING } from '../../src/vpc-redis-sessions/access-string';
import { clientTls, describeTransport, RedisTestServer } from '../support/redis-server';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const SIGNED_AT = new Date('2026-01-15T12:00:00Z');

/** SigV4 query signing written out from the specification, independent of @smithy/signature-v4. */
function expectedSignature(token: string, secretAccessKey: string, region: string): string {
  const [hostAndPath, query] = token.split('?');
  const host = hostAndPath.replace(/\/$/, '');
  const pairs = query.split('&').map((p) => p.split('=') as [string, string]).filter(([k]) => k !== 'X-Amz-Signature');
  const canonicalQuery = pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('&');
  const amzDate = decodeURIComponent(pairs.find(([k]) => k === 'X-Amz-Date')![1]);
  const day = amzDate.slice(0, 8);
  const emptyPayloadHash = createHash('sha256').update('').digest('hex');
  const canonicalRequest = ['GET', '/', canonicalQuery, `host:${host}`, '', 'host', emptyPayloadHash].join('\n');
  const scope = `${day}/${region}/elasticache/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, day), region), 'elasticache'), 'aws4_request');
  return createHmac('sha256', signingKey).update(stringToSign).digest('hex');
}

function params(token: string): Record<string, string> {
  return Object.fromEntries(token.split('?')[1].split('&').map((p) => p.split('=').map(decodeURIComponent)));
}

describe('ElastiCache IAM auth tokens (offline)', () => {
  test('are a SigV4-presigned connect URL for the replication group, without the http:// scheme', async () => {
    const signer = new IamTokenSigner({ userId: 'proxy-user', cacheName: 'sessions-rg', region: 'eu-west-1', credentials, now: () => SIGNED_AT });
    const token = await signer.token();
    expect(token.startsWith('sessions-rg/?')).toBe(true);
    expect(token).not.toMatch(/^https?:/);
    expect(params(token)).toEqual({
      'Action': 'connect',
      'User': 'proxy-user',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIDEXAMPLE/20260115/eu-west-1/elasticache/aws4_request',
      'X-Amz-Date': '20260115T120000Z',
      'X-Amz-Expires': '900',
      'X-Amz-SignedHeaders': 'host',
      'X-Amz-Signature': expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(params(token)['X-Amz-Signature']).toBe(expectedSignature(token, credentials.secretAccessKey, 'eu-west-1'));
  });

  test('carry the session token of temporary credentials', async () => {
    const signer = new IamTokenSigner({
      userId: 'proxy-user',
      cacheName: 'sessions-rg',
      region: 'us-east-1',
      now: () => SIGNED_AT,
      credentials: { ...credentials, sessionToken: 'session/token+with=chars' },
    });
    const token = await signer.token();
    expect(params(token)['X-Amz-Security-Token']).toBe('session/token+with=chars');
    expect(token).toContain('X-Amz-Security-Token=session%2Ftoken%2Bwith%3Dchars');
    expect(params(token)['X-Amz-Signature']).toBe(expectedSignature(token, credentials.secretAccessKey, 'us-east-1'));
  });

  test('are cached, refreshed after 10 minutes or before the credentials expire, and re-signed after a rejection', async () => {
    let now = SIGNED_AT.getTime();
    let resolved = 0;
    const signer = new IamTokenSigner({
      userId: 'u',
      cacheName: 'c',
      region: 'us-east-1',
      now: () => new Date(now),
      credentials: async () => {
        resolved += 1;
        return { ...credentials, expiration: new Date(SIGNED_AT.getTime() + 60 * 60_000) };
      },
    });
    const first = await signer.token();
    now += IAM_TOKEN_REFRESH_AFTER_MS - 1;
    expect(await signer.token()).toBe(first);
    expect(resolved).toBe(1);
    now += 1;
    const second = await signer.token();
    expect(second).not.toBe(first);
    expect(resolved).toBe(2);
    signer.invalidate();
    now += 1000;
    expect(await signer.token()).not.toBe(second);

    // Credentials that expire in 2 minutes bound the cache to 1 minute.
    let shortNow = SIGNED_AT.getTime();
    let shortResolved = 0;
    const short = new IamTokenSigner({
      userId: 'u',
      cacheName: 'c',
      region: 'us-east-1',
      now: () => new Date(shortNow),
      credentials: async () => {
        shortResolved += 1;
        return { ...credentials, expiration: new Date(shortNow + 2 * 60_000) };
      },
    });
    await short.token();
    shortNow += 59_000;
    await short.token();
    expect(shortResolved).toBe(1);
    shortNow += 1_000;
    await short.token();
    expect(shortResolved).toBe(2);
  });

  test('sign the lower-case replication group id and need the user, cache name and region', () => {
    expect(connectionConfig({ host: 'h', port: 6380, tls: true, authMode: 'iam', user: 'u', cacheName: 'Sessions-RG' }, 'us-east-1').auth)
      .toEqual({ mode: 'iam', userId: 'u', cacheName: 'sessions-rg', region: 'us-east-1' });
    expect(() => connectionConfig({ host: 'h', port: 6380, tls: true, authMode: 'iam', cacheName: 'c' }, 'us-east-1')).toThrow(/REDIS_USER/);
    expect(() => connectionConfig({ host: 'h', port: 6380, tls: true, authMode: 'iam', user: 'u' }, 'us-east-1')).toThrow(/REDIS_CACHE_NAME/);
    expect(() => connectionConfig({ host: 'h', port: 6380, tls: true, authMode: 'iam', user: 'u', cacheName: 'c' }, undefined)).toThrow(/AWS_REGION/);
    expect(() => connectionConfig({ host: 'h', port: 6380, tls: true, authMode: 'token' }, 'us-east-1')).toThrow(/REDIS_TOKEN_SECRET_ARN/);
  });

  test('come from the default credential chain in the runtime (credentialsFor)', async () => {
    const saved = { ...process.env };
    try {
      process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
      delete process.env.AWS_SESSION_TOKEN;
      delete process.env.AWS_PROFILE;
      const auth = credentialsFor(connectionConfig({ host: 'h', port: 6380, tls: true, authMode: 'iam', user: 'proxy-user', cacheName: 'sessions-rg' }, 'us-east-1'))!;
      const { username, password } = await auth.get();
      expect(username).toBe('proxy-user');
      expect(params(password)['X-Amz-Credential']).toMatch(/^AKIDEXAMPLE\/\d{8}\/us-east-1\/elasticache\/aws4_request$/);
      expect(params(password)['X-Amz-Signature']).toBe(expectedSignature(password, credentials.secretAccessKey, 'us-east-1'));
    } finally {
      process.env = saved;
    }
  });
});

describe(`IAM-authenticated connections to a real redis-server ${describeTransport()}`, () => {
  let server: RedisTestServer;
  const signer = new IamTokenSigner({ userId: 'proxy-iam', cacheName: 'sessions-rg', region: 'us-east-1', credentials, now: () => SIGNED_AT });

  beforeAll(async () => {
    // The server plays ElastiCache: the user's password is the token it expects for this user.
    server = await RedisTestServer.start({ users: [{ name: 'proxy-iam', password: await signer.token(), rules: SESSIONS_USER_ACCESS_STRING }] });
  });
  afterAll(async () => server.dispose());

  test('send AUTH <user id> <token> and work with the sessions access string', async () => {
    const connection = new RedisConnection({
      host: server.host,
      port: server.port,
      tls: clientTls(server),
      credentials: { get: async () => ({ username: signer.username, password: await signer.token() }), rejected: () => signer.invalidate() },
    });
    try {
      expect(await connection.run((c) => c.ping())).toBe('PONG');
      expect(await connection.run((c) => c.set('llm:iam', 'ok'))).toBe('OK');
      expect(server.cli('ACL', 'WHOAMI')).toBe('admin');
      expect(server.cli('CLIENT', 'LIST')).toMatch(/user=proxy-iam/);
    } finally {
      await connection.close();
    }
  });
});
