/**
 * Secrets Manager rotation of an ElastiCache AUTH token (token auth in VpcRedisSessions).
 *
 * The four steps Secrets Manager invokes, each safe to retry:
 * - createSecret: a new random token as the AWSPENDING version (kept when it already exists);
 * - setSecret:    ElastiCache `AuthTokenUpdateStrategy: ROTATE` — the cache now accepts the old and the new token, so
 *                 every client keeps working whichever one it holds (skipped when the new token already works);
 * - testSecret:   connects to the cache over TLS with the new token and runs PING;
 * - finishSecret: moves AWSCURRENT to the new version, then `SET` — the cache accepts only the new token. Clients that
 *                 still hold the old one re-read the secret when the server rejects it (lambda/shared/redis).
 * ElastiCache accepts one modification at a time, so every change first waits until the replication group is
 * `available`.
 */
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RedisConnection } from '../shared/redis/connection';
import { parseSecretPassword } from '../shared/redis/secret-token';

export interface RotationEvent {
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly Step: 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
}

export interface RotationDeps {
  readonly secretsManager: SecretsManagerClient;
  readonly elastiCache: ElastiCacheClient;
  /** The replication group whose token this secret holds. */
  readonly replicationGroupId: string;
  /** The primary endpoint, for testSecret. */
  readonly host: string;
  readonly port: number;
  /** TLS options for testSecret: true (the system trust store) or a private CA (tests). */
  readonly tls: boolean | { readonly ca?: string; readonly servername?: string };
  /** Wait between DescribeReplicationGroups calls. Default 10 s. */
  readonly pollIntervalMs?: number;
  /**
   * Longest wait for the replication group to become available. A step waits at most twice (before and after its
   * change), so the default of 6 minutes keeps a step inside the function's 15-minute timeout.
   */
  readonly maxWaitMs?: number;
  /** Length of generated tokens (ElastiCache accepts 16-128). Default 64. */
  readonly tokenLength?: number;
  /** Told what happens (no secret values). */
  readonly log?: (message: string) => void;
}

/** The client SDK modules, loaded lazily so the handler module stays cheap to import in tests. */
type Sm = typeof import('@aws-sdk/client-secrets-manager');
type Ec = typeof import('@aws-sdk/client-elasticache');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sm = (): Sm => require('@aws-sdk/client-secrets-manager') as Sm;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ec = (): Ec => require('@aws-sdk/client-elasticache') as Ec;

export class RotationError extends Error {
  public readonly name = 'RotationError';
}

export function createRotationHandler(deps: RotationDeps): (event: RotationEvent) => Promise<void> {
  const log = deps.log ?? ((message: string) => console.log(message));
  const pollIntervalMs = deps.pollIntervalMs ?? 10_000;
  const maxWaitMs = deps.maxWaitMs ?? 6 * 60_000;

  async function versionPassword(
    secretId: string,
    selector: { VersionId?: string; VersionStage?: string },
  ): Promise<{ password: string; secret: Record<string, unknown> } | undefined> {
    try {
      const result = await deps.secretsManager.send(new (sm().GetSecretValueCommand)({ SecretId: secretId, ...selector }));
      const password = parseSecretPassword(result.SecretString, secretId);
      return { password, secret: JSON.parse(result.SecretString!) as Record<string, unknown> };
    } catch (error) {
      if ((error as { name?: string }).name === 'ResourceNotFoundException') return undefined;
      throw error;
    }
  }

  async function pendingPassword(event: RotationEvent): Promise<string> {
    const pending = await versionPassword(event.SecretId, { VersionId: event.ClientRequestToken, VersionStage: 'AWSPENDING' });
    if (!pending) throw new RotationError(`Secret ${event.SecretId} has no AWSPENDING version ${event.ClientRequestToken}.`);
    return pending.password;
  }

  async function waitAvailable(): Promise<void> {
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const result = await deps.elastiCache.send(new (ec().DescribeReplicationGroupsCommand)({ ReplicationGroupId: deps.replicationGroupId }));
      const status = result.ReplicationGroups?.[0]?.Status;
      if (status === 'available') return;
      if (Date.now() + pollIntervalMs > deadline) {
        throw new RotationError(`Replication group ${deps.replicationGroupId} is '${status}', not 'available', after ${Math.round(maxWaitMs / 1000)} s.`);
      }
      log(`waiting for replication group ${deps.replicationGroupId} (status '${status}')`);
      await new Promise((r) => setTimeout(r, pollIntervalMs));
    }
  }

  async function modify(token: string, strategy: 'ROTATE' | 'SET'): Promise<void> {
    await waitAvailable();
    await deps.elastiCache.send(new (ec().ModifyReplicationGroupCommand)({
      ReplicationGroupId: deps.replicationGroupId,
      AuthToken: token,
      AuthTokenUpdateStrategy: strategy,
      ApplyImmediately: true,
    }));
    log(`ModifyReplicationGroup ${deps.replicationGroupId} AuthTokenUpdateStrategy=${strategy}`);
    await waitAvailable();
  }

  /** Whether the cache accepts `password` (AUTH + PING over TLS). */
  async function accepts(password: string): Promise<boolean> {
    const connection = new RedisConnection({
      host: deps.host,
      port: deps.port,
      tls: deps.tls,
      credentials: { get: async () => ({ password }) },
      connectTimeoutMs: 5000,
      commandTimeoutMs: 5000,
    });
    try {
      return (await connection.run((client) => client.ping())) === 'PONG';
    } catch (error) {
      log(`the cache did not accept the token: ${(error as Error).message}`);
      return false;
    } finally {
      await connection.close();
    }
  }

  const steps: Record<RotationEvent['Step'], (event: RotationEvent) => Promise<void>> = {
    async createSecret(event) {
      const current = await versionPassword(event.SecretId, { VersionStage: 'AWSCURRENT' });
      if (!current) throw new RotationError(`Secret ${event.SecretId} has no AWSCURRENT version.`);
      if (await versionPassword(event.SecretId, { VersionId: event.ClientRequestToken, VersionStage: 'AWSPENDING' })) {
        log('createSecret: the AWSPENDING version exists already');
        return;
      }
      const random = await deps.secretsManager.send(new (sm().GetRandomPasswordCommand)({
        PasswordLength: deps.tokenLength ?? 64,
        // ElastiCache tokens are printable ASCII without @ " / and spaces: letters and digits only is always valid.
        ExcludePunctuation: true,
        IncludeSpace: false,
        RequireEachIncludedType: true,
      }));
      await deps.secretsManager.send(new (sm().PutSecretValueCommand)({
        SecretId: event.SecretId,
        ClientRequestToken: event.ClientRequestToken,
        SecretString: JSON.stringify({ ...current.secret, password: random.RandomPassword }),
        VersionStages: ['AWSPENDING'],
      }));
      log('createSecret: stored a new AWSPENDING version');
    },

    async setSecret(event) {
      const pending = await pendingPassword(event);
      if (await accepts(pending)) {
        log('setSecret: the cache accepts the new token already');
        return;
      }
      await modify(pending, 'ROTATE');
    },

    async testSecret(event) {
      const pending = await pendingPassword(event);
      if (!(await accepts(pending))) throw new RotationError('testSecret: the cache does not accept the new token.');
      log('testSecret: the cache accepts the new token');
    },

    async finishSecret(event) {
      const described = await deps.secretsManager.send(new (sm().DescribeSecretCommand)({ SecretId: event.SecretId }));
      const stages = described.VersionIdsToStages ?? {};
      const currentVersion = Object.keys(stages).find((id) => stages[id]?.includes('AWSCURRENT'));
      if (currentVersion !== event.ClientRequestToken) {
        await deps.secretsManager.send(new (sm().UpdateSecretVersionStageCommand)({
          SecretId: event.SecretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: event.ClientRequestToken,
          RemoveFromVersionId: currentVersion,
        }));
        log('finishSecret: AWSCURRENT moved to the new version');
      }
      // After the label moved (so every reader gets the new token), the cache drops the old one.
      await modify(await pendingOrCurrent(event), 'SET');
    },
  };

  /** The new token, whether it is still labelled AWSPENDING or already AWSCURRENT. */
  async function pendingOrCurrent(event: RotationEvent): Promise<string> {
    const version = await versionPassword(event.SecretId, { VersionId: event.ClientRequestToken });
    if (!version) throw new RotationError(`Secret ${event.SecretId} has no version ${event.ClientRequestToken}.`);
    return version.password;
  }

  return async (event: RotationEvent) => {
    const step = steps[event.Step];
    if (!step) throw new RotationError(`Unknown rotation step '${String(event.Step)}'.`);
    const described = await deps.secretsManager.send(new (sm().DescribeSecretCommand)({ SecretId: event.SecretId }));
    if (described.RotationEnabled === false) throw new RotationError(`Secret ${event.SecretId} does not have rotation enabled.`);
    const stages = described.VersionIdsToStages?.[event.ClientRequestToken];
    if (!stages) throw new RotationError(`Version ${event.ClientRequestToken} of secret ${event.SecretId} does not exist.`);
    if (stages.includes('AWSCURRENT') && !stages.includes('AWSPENDING') && event.Step !== 'finishSecret') {
      log(`${event.Step}: version ${event.ClientRequestToken} is already AWSCURRENT`);
      return;
    }
    if (!stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT')) {
      throw new RotationError(`Version ${event.ClientRequestToken} of secret ${event.SecretId} is not AWSPENDING.`);
    }
    log(`${event.Step}: secret ${event.SecretId}, version ${event.ClientRequestToken}`);
    await step(event);
  };
}
