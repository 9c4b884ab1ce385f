import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createRotationHandler, type RotationDeps, type RotationEvent } from '../../lambda/redis-rotation/rotation';
import { credentialsFor, RedisConnection, RedisUnavailableError } from '../../lambda/shared/redis/connection';
import { SecretTokenProvider } from '../../lambda/shared/redis/secret-token';
import { clientTls, describeTransport, FakeElastiCache, FakeSecretsManager, RedisTestServer } from '../support/redis-server';

const INITIAL_TOKEN = 'initial-token-0123456789abcdef';
const GROUP = 'sessions-rg';
const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key' };

let server: RedisTestServer;
let secrets: FakeSecretsManager;
let elastiCache: FakeElastiCache;
let secretsClient: SecretsManagerClient;
const connections: RedisConnection[] = [];

function deps(overrides: Partial<RotationDeps> = {}): RotationDeps {
  return {
    secretsManager: secretsClient,
    elastiCache: new ElastiCacheClient({ endpoint: elastiCache.url, region: 'us-east-1', credentials }),
    replicationGroupId: GROUP,
    host: server.host,
    port: server.port,
    tls: clientTls(server) || false,
    pollIntervalMs: 10,
    log: () => undefined,
    ...overrides,
  };
}

/** A proxy-side connection that authenticates the way REDIS_AUTH_MODE=token does: AUTH <password from the secret>. */
function proxyConnection(): { connection: RedisConnection; provider: SecretTokenProvider } {
  const provider = new SecretTokenProvider(secrets.arn, async (arn) => {
    const result = await secretsClient.send(new GetSecretValueCommand({ SecretId: arn }));
    return JSON.parse(result.SecretString!).password;
  });
  const connection = new RedisConnection({
    host: server.host,
    port: server.port,
    tls: clientTls(server),
    credentials: { get: async () => ({ password: await provider.token() }), rejected: () => provider.invalidate() },
    maxReconnectDelayMs: 200,
  });
  connections.push(connection);
  return { connection, provider };
}

async function accepted(password: string): Promise<boolean> {
  const connection = new RedisConnection({
    host: server.host, port: server.port, tls: clientTls(server), credentials: { get: async () => ({ password }) },
  });
  try {
    return (await connection.run((c) => c.ping())) === 'PONG';
  } catch {
    return false;
  } finally {
    await connection.close();
  }
}

const event = (Step: RotationEvent['Step'], token: string): RotationEvent => ({ SecretId: secrets.arn, ClientRequestToken: token, Step });

beforeEach(async () => {
  server = await RedisTestServer.start({ defaultUserToken: INITIAL_TOKEN });
  secrets = await new FakeSecretsManager(JSON.stringify({ password: INITIAL_TOKEN })).start();
  elastiCache = await new FakeElastiCache(server, GROUP).start();
  secretsClient = new SecretsManagerClient({ endpoint: secrets.url, region: 'us-east-1', credentials });
});
afterEach(async () => {
  await Promise.all(connections.splice(0).map((c) => c.close()));
  await secrets.stop();
  await elastiCache.stop();
  await server.dispose();
});

describe(`AUTH token rotation (ROTATE then SET) against a real redis-server ${describeTransport().replace('an ACL user', 'the default user (token auth)')}`, () => {
  test('rotates through the four steps while a connected proxy keeps working and a stale one recovers', async () => {
    const live = proxyConnection();
    await live.connection.run((c) => c.set('llm:before', '1'));
    const stale = proxyConnection();
    expect(await stale.provider.token()).toBe(INITIAL_TOKEN); // caches the old token

    const rotate = createRotationHandler(deps());
    secrets.beginRotation('v-2');
    await rotate(event('createSecret', 'v-2'));
    const pending = JSON.parse(secrets.versions.get('v-2')!.secretString!).password as string;
    expect(pending).toMatch(/^[A-Za-z0-9]{64}$/);

    await rotate(event('setSecret', 'v-2'));
    // ROTATE: both tokens work, so nobody is locked out mid-rotation.
    expect(await accepted(INITIAL_TOKEN)).toBe(true);
    expect(await accepted(pending)).toBe(true);

    await rotate(event('testSecret', 'v-2'));
    await rotate(event('finishSecret', 'v-2'));
    expect(secrets.versionWith('AWSCURRENT')![0]).toBe('v-2');
    expect(secrets.versions.get('v-initial')!.stages).toEqual(['AWSPREVIOUS']);
    // SET: only the new token works.
    expect(await accepted(INITIAL_TOKEN)).toBe(false);
    expect(await accepted(pending)).toBe(true);
    expect(elastiCache.calls.filter((c) => c.startsWith('Modify'))).toEqual(['ModifyReplicationGroup:ROTATE', 'ModifyReplicationGroup:SET']);
    // Each change waited for the group to be available again.
    expect(elastiCache.calls.filter((c) => c === 'DescribeReplicationGroups:modifying')).toHaveLength(4);

    // The connection opened before the rotation is still authenticated.
    expect(await live.connection.run((c) => c.get('llm:before'))).toBe('1');
    // The stale connection offers the old token once, is rejected, re-reads the secret and gets in.
    await expect(stale.connection.run((c) => c.ping())).rejects.toBeInstanceOf(RedisUnavailableError);
    let reply: string | undefined;
    for (let i = 0; i < 50 && reply !== 'PONG'; i++) {
      reply = await stale.connection.run((c) => c.ping()).catch(() => undefined);
      if (reply !== 'PONG') await new Promise((r) => setTimeout(r, 100));
    }
    expect(reply).toBe('PONG');
  });

  test('every step can be retried without a second change', async () => {
    const rotate = createRotationHandler(deps());
    secrets.beginRotation('v-2');
    for (const step of ['createSecret', 'createSecret', 'setSecret', 'setSecret', 'testSecret', 'testSecret', 'finishSecret', 'finishSecret'] as const) {
      await rotate(event(step, 'v-2'));
    }
    expect(secrets.calls.filter((c) => c === 'PutSecretValue')).toHaveLength(1);
    expect(secrets.calls.filter((c) => c === 'UpdateSecretVersionStage')).toHaveLength(1);
    expect(elastiCache.calls.filter((c) => c === 'ModifyReplicationGroup:ROTATE')).toHaveLength(1);
    const current = JSON.parse(secrets.versionWith('AWSCURRENT')![1].secretString!).password as string;
    expect(await accepted(current)).toBe(true);
    expect(await accepted(INITIAL_TOKEN)).toBe(false);
  });

  test('testSecret fails when the cache does not accept the new token', async () => {
    const rotate = createRotationHandler(deps());
    secrets.beginRotation('v-2');
    await rotate(event('createSecret', 'v-2'));
    await expect(rotate(event('testSecret', 'v-2'))).rejects.toThrow(/does not accept the new token/);
  });

  test('waits while another change is in progress, and gives up with a clear error when it never ends', async () => {
    secrets.beginRotation('v-2');
    await createRotationHandler(deps())(event('createSecret', 'v-2'));
    elastiCache.busyFor(3);
    await createRotationHandler(deps())(event('setSecret', 'v-2'));
    expect(elastiCache.calls.slice(0, 4)).toEqual([
      'DescribeReplicationGroups:modifying', 'DescribeReplicationGroups:modifying', 'DescribeReplicationGroups:modifying',
      'DescribeReplicationGroups:available',
    ]);
    elastiCache.busyFor(1_000);
    secrets.beginRotation('v-3');
    const impatient = createRotationHandler(deps({ maxWaitMs: 100 }));
    await impatient(event('createSecret', 'v-3'));
    await expect(impatient(event('setSecret', 'v-3'))).rejects.toThrow(/is 'modifying', not 'available'/);
    expect(elastiCache.calls.some((c) => c.endsWith(':refused'))).toBe(false);
  });

  test('refuses versions that are not being rotated', async () => {
    const rotate = createRotationHandler(deps());
    await expect(rotate(event('createSecret', 'v-unknown'))).rejects.toThrow(/does not exist/);
    // The current version needs nothing (a duplicate invocation after the rotation finished).
    await expect(rotate(event('setSecret', 'v-initial'))).resolves.toBeUndefined();
    expect(elastiCache.calls).toEqual([]);
  });
});

describe('token auth in the proxy runtime reads the secret with the default SDK client', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  test('credentialsFor(token) sends AUTH with the secret password and never a user name', async () => {
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = secrets.url;
    process.env.AWS_REGION = 'us-east-1';
    process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
    const auth = credentialsFor({ host: server.host, port: server.port, tls: true, auth: { mode: 'token', secretArn: secrets.arn } })!;
    expect(await auth.get()).toEqual({ password: INITIAL_TOKEN });
    expect(secrets.calls).toEqual(['GetSecretValue']);
    const connection = new RedisConnection({ host: server.host, port: server.port, tls: clientTls(server), credentials: auth });
    connections.push(connection);
    expect(await connection.run((c) => c.ping())).toBe('PONG');
  });
});
