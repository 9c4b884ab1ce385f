/**
 * The bundled rotation function for VpcRedisSessions token auth (assets/redis-rotation/index.js). Configuration, set
 * by the construct: REPLICATION_GROUP_ID, REDIS_HOST, REDIS_PORT, REDIS_TLS. See rotation.ts for the steps.
 */
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createRotationHandler, type RotationEvent } from './rotation';

function env(name: string): string {
  const value = process.env[name]?.trim();
  if (!value) throw new Error(`${name} is required (set by VpcRedisSessions).`);
  return value;
}

const port = Number(env('REDIS_PORT'));
if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`REDIS_PORT must be a TCP port, got '${process.env.REDIS_PORT}'.`);

const rotate = createRotationHandler({
  secretsManager: new SecretsManagerClient({}),
  elastiCache: new ElastiCacheClient({}),
  replicationGroupId: env('REPLICATION_GROUP_ID'),
  host: env('REDIS_HOST'),
  port,
  tls: (process.env.REDIS_TLS ?? 'true') !== 'false',
});

export const handler = async (event: RotationEvent): Promise<void> => rotate(event);
