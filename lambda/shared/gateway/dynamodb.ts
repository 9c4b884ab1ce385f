/**
 * The gateway table in DynamoDB (layout: ./schema.ts): virtual keys, rate limits and spend shared by every proxy
 * instance, reachable from a function-URL proxy (no VPC) and, through a gateway endpoint, from a VPC proxy.
 *
 * - Keys: GetItem on `key#<digest>`.
 * - Rate limits, fixed windows (the minute and the UTC day an instant falls in): a request is one conditional ADD on
 *   `rpm#<minute>` (refused when the count has reached the limit, so concurrent instances never admit more than the
 *   limit); token limits are checked against `tpm#<minute>` / `tpd#<day>` before the call and added after it (a
 *   request already admitted finishes, so tokens can exceed the limit by the requests in flight).
 * - Spend: one TransactWriteItems of ADDs per charge (key and team, day and month, overall and per model) that also
 *   puts a marker item for the request id, conditional on its absence: a retried charge (an SDK retry after a lost
 *   response, or the proxy's own) is cancelled by the marker and applied once. The request id is also the
 *   ClientRequestToken, which DynamoDB honours for 10 minutes.
 *
 * Every item a counter lives in carries a TTL (`ttl`), so the table does not grow with old windows.
 */
import { createHash } from 'crypto';
import {
  BatchGetItemCommand,
  DynamoDBClient,
  GetItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { LimitDecision, RateLimiter, RateLimits } from '../limits';
import {
  daySk,
  KEY_SK,
  keyPk,
  limitPk,
  monthSk,
  SPEND_RETENTION_DAYS,
  spendKeyPk,
  spendTeamPk,
  utcDay,
  utcMonth,
  type KeyRecord,
} from './schema';

/** The marker of a charged request (pk `charge#<request id>`, sk `charge`, TTL a day). */
const chargePk = (requestId: string): string => `charge#${requestId}`;
const CHARGE_SK = 'charge';
/** Calls of a charge that meets concurrent charges of the same key (TransactionConflict) before it is an error. */
const CHARGE_CONFLICT_ATTEMPTS = 8;
import type { Charge, KeyLookup, SpendStore, Spent } from './types';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export interface DynamoGatewayOptions {
  readonly tableName: string;
  readonly region?: string;
  /** A client to use (tests); default: a DynamoDBClient for `region` (AWS_ENDPOINT_URL_DYNAMODB is honoured). */
  readonly client?: DynamoDBClient;
}

export class DynamoGateway implements RateLimiter, SpendStore, KeyLookup {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: DynamoGatewayOptions) {
    this.table = options.tableName;
    this.client = options.client ?? new DynamoDBClient({ region: options.region, maxAttempts: 3 });
  }

  // ---- keys ------------------------------------------------------------------------------------------------------

  public async find(digestHex: string): Promise<KeyRecord | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.table, Key: key(keyPk(digestHex), KEY_SK) }));
    if (!out.Item) return undefined;
    const item = unmarshall(out.Item) as KeyRecord & { pk: string; sk: string };
    return item.digest === digestHex && typeof item.name === 'string' ? item : undefined;
  }

  // ---- rate limits -----------------------------------------------------------------------------------------------

  public async admit(identity: string, limits: RateLimits, nowMs: number = Date.now()): Promise<LimitDecision> {
    const minute = Math.floor(nowMs / MINUTE_MS);
    const day = utcDay(nowMs);
    const minuteLeft = seconds((minute + 1) * MINUTE_MS - nowMs);
    const dayLeft = seconds((Math.floor(nowMs / DAY_MS) + 1) * DAY_MS - nowMs);
    if (limits.tokensPerMinute !== undefined || limits.tokensPerDay !== undefined) {
      const counts = await this.counters(identity, [`tpm#${minute}`, `tpd#${day}`]);
      if (limits.tokensPerDay !== undefined && (counts.get(`tpd#${day}`) ?? 0) >= limits.tokensPerDay) {
        return { allowed: false, limit: 'tokens_per_day', retryAfterSeconds: dayLeft };
      }
      if (limits.tokensPerMinute !== undefined && (counts.get(`tpm#${minute}`) ?? 0) >= limits.tokensPerMinute) {
        return { allowed: false, limit: 'tokens_per_minute', retryAfterSeconds: minuteLeft };
      }
    }
    if (limits.requestsPerMinute !== undefined) {
      try {
        await this.client.send(new UpdateItemCommand({
          TableName: this.table,
          Key: key(limitPk(identity), `rpm#${minute}`),
          UpdateExpression: 'ADD n :one SET #ttl = :ttl',
          ConditionExpression: 'attribute_not_exists(n) OR n < :limit',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':one': num(1), ':limit': num(limits.requestsPerMinute), ':ttl': num(expiry(nowMs, 2 * MINUTE_MS)) },
        }));
      } catch (err) {
        if ((err as Error).name === 'ConditionalCheckFailedException') {
          return { allowed: false, limit: 'requests_per_minute', retryAfterSeconds: minuteLeft };
        }
        throw err;
      }
    }
    return { allowed: true };
  }

  public async recordTokens(identity: string, tokens: number, nowMs: number = Date.now()): Promise<void> {
    if (tokens <= 0) return;
    const minute = Math.floor(nowMs / MINUTE_MS);
    const add = (sk: string, ttl: number) => this.client.send(new UpdateItemCommand({
      TableName: this.table,
      Key: key(limitPk(identity), sk),
      UpdateExpression: 'ADD n :n SET #ttl = :ttl',
      ExpressionAttributeNames: { '#ttl': 'ttl' },
      ExpressionAttributeValues: { ':n': num(tokens), ':ttl': num(ttl) },
    }));
    await Promise.all([add(`tpm#${minute}`, expiry(nowMs, 2 * MINUTE_MS)), add(`tpd#${utcDay(nowMs)}`, expiry(nowMs, 2 * DAY_MS))]);
  }

  // ---- spend -----------------------------------------------------------------------------------------------------

  public async spent(name: string, nowMs: number): Promise<Spent> {
    const pk = spendKeyPk(name);
    const daySort = daySk(utcDay(nowMs));
    const monthSort = monthSk(utcMonth(nowMs));
    const out = await this.client.send(new BatchGetItemCommand({
      RequestItems: { [this.table]: { Keys: [key(pk, daySort), key(pk, monthSort)], ConsistentRead: true, ProjectionExpression: 'sk, usd' } },
    }));
    let day = 0;
    let month = 0;
    for (const item of out.Responses?.[this.table] ?? []) {
      const usd = Number(item.usd?.N ?? 0);
      if (item.sk?.S === daySort) day = usd;
      else if (item.sk?.S === monthSort) month = usd;
    }
    return { day, month };
  }

  public async charge(c: Charge): Promise<void> {
    const day = utcDay(c.nowMs);
    const month = utcMonth(c.nowMs);
    const dayTtl = expiry(c.nowMs, SPEND_RETENTION_DAYS * DAY_MS);
    const monthTtl = expiry(c.nowMs, (SPEND_RETENTION_DAYS + 31) * DAY_MS);
    const values: Record<string, AttributeValue> = {
      ':usd': num(c.usd),
      ':one': num(1),
      ':in': num(c.inputTokens),
      ':out': num(c.outputTokens),
      ':cr': num(c.cacheReadTokens),
      ':cw': num(c.cacheWriteTokens),
    };
    const update = (pk: string, sk: string, ttl: number): TransactWriteItem => ({
      Update: {
        TableName: this.table,
        Key: key(pk, sk),
        UpdateExpression: 'ADD usd :usd, requests :one, inputTokens :in, outputTokens :out, cacheReadTokens :cr, cacheWriteTokens :cw SET #ttl = :ttl',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ...values, ':ttl': num(ttl) },
      },
    });
    const items: TransactWriteItem[] = [];
    for (const pk of c.team ? [spendKeyPk(c.key), spendTeamPk(c.team)] : [spendKeyPk(c.key)]) {
      items.push(
        update(pk, daySk(day), dayTtl),
        update(pk, monthSk(month), monthTtl),
        update(pk, daySk(day, c.model), dayTtl),
        update(pk, monthSk(month, c.model), monthTtl),
      );
    }
    // The charge marker makes the charge once-only beyond the ClientRequestToken's 10 minutes (and where the token is
    // not honoured): the transaction is cancelled when the marker exists, and that cancellation means "charged already".
    items.unshift({
      Put: {
        TableName: this.table,
        Item: { ...key(chargePk(c.requestId), CHARGE_SK), ttl: num(expiry(c.nowMs, DAY_MS)) },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(new TransactWriteItemsCommand({ TransactItems: items, ClientRequestToken: requestToken(c.requestId) }));
        return;
      } catch (err) {
        const reasons = (err as { name?: string; CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? [];
        const canceled = (err as Error).name === 'TransactionCanceledException';
        if (canceled && reasons[0]?.Code === 'ConditionalCheckFailed') return;
        // Concurrent charges to the same key update the same spend items, and DynamoDB cancels all but one of the
        // transactions that meet (TransactionConflict): try again, or the charge would be lost.
        if (canceled && reasons.some((r) => r.Code === 'TransactionConflict') && attempt < CHARGE_CONFLICT_ATTEMPTS) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(1000, 20 * 2 ** attempt)));
          continue;
        }
        throw err;
      }
    }
  }

  private async counters(identity: string, sks: string[]): Promise<Map<string, number>> {
    const pk = limitPk(identity);
    const out = await this.client.send(new BatchGetItemCommand({
      RequestItems: { [this.table]: { Keys: sks.map((sk) => key(pk, sk)), ConsistentRead: true, ProjectionExpression: 'sk, n' } },
    }));
    const counts = new Map<string, number>();
    for (const item of out.Responses?.[this.table] ?? []) if (item.sk?.S) counts.set(item.sk.S, Number(item.n?.N ?? 0));
    return counts;
  }
}

function key(pk: string, sk: string): Record<string, AttributeValue> {
  return { pk: { S: pk }, sk: { S: sk } };
}

function num(n: number): AttributeValue {
  return { N: String(n) };
}

function expiry(nowMs: number, afterMs: number): number {
  return Math.ceil((nowMs + afterMs) / 1000);
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** ClientRequestToken is 1-36 characters: request ids longer than that are hashed to 36 hex characters. */
function requestToken(requestId: string): string {
  return requestId.length <= 36 && /^[\x21-\x7e]+$/.test(requestId) ? requestId : createHash('sha256').update(requestId).digest('hex').slice(0, 36);
}
