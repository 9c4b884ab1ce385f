/**
 * What the proxy pipeline needs from the gateway's stores, independent of where they live (in memory for the dev
 * server and one Lambda instance, or the DynamoDB gateway table shared by every instance: ./dynamodb.ts). Loaded without
 * the AWS SDK; the DynamoDB implementation is a separate lazily loaded module of the Lambda bundle.
 */
import type { KeyRecord } from './schema';

/** One request's usage, charged to its key (and the key's team) after the response. */
export interface Charge {
  /** Makes the charge idempotent: a retried charge with the same id is applied once (DynamoDB: ClientRequestToken). */
  readonly requestId: string;
  readonly key: string;
  readonly team?: string;
  /** The catalogue id of the model. */
  readonly model: string;
  readonly usd: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
  readonly nowMs: number;
}

/** USD a key has spent in the current UTC day and month. */
export interface Spent {
  readonly day: number;
  readonly month: number;
}

export interface SpendStore {
  spent(key: string, nowMs: number): Promise<Spent>;
  charge(charge: Charge): Promise<void>;
}

/** Virtual keys by the SHA-256 (hex) of the presented key. */
export interface KeyLookup {
  find(digestHex: string): Promise<KeyRecord | undefined>;
}
