/**
 * The admin side of the gateway table (layout: ../shared/gateway/schema.ts), for `cdk-serverless-llm keys` and
 * `usage`: create, list, change, revoke and rotate virtual keys, and read spend. It runs with the caller's AWS
 * credentials (IAM is the admin auth); the proxy only reads keys and adds to counters.
 *
 * Keys are made here and never stored: the key item is written under the SHA-256 of the key, and the key itself is
 * returned once to be printed. Every change that touches two items (create: the key and its name; rotate: the new key,
 * the name and the old key) is one TransactWriteItems, so a name always points at exactly one key item.
 */
import { randomBytes } from 'crypto';
import {
  GetItemCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import {
  daySk,
  KEY_PREFIX,
  KEY_SK,
  keyDigest,
  keyHint,
  keyPk,
  monthSk,
  NAME_SK,
  namePk,
  SPEND_FIELDS,
  type KeyBudgets,
  type KeyLimits,
  type KeyRecord,
  type SpendFields,
} from '../shared/gateway/schema';

/** A refusal that is not an AWS error: no such key, a name in use, a concurrent change. One sentence. */
export class GatewayAdminError extends Error {
  public readonly name = 'GatewayAdminError';
}

/** The policy and description of a new key. */
export interface NewKey {
  readonly name: string;
  readonly team?: string;
  readonly models?: readonly string[];
  readonly limits?: KeyLimits;
  readonly budgets?: KeyBudgets;
  readonly expiresAt?: string;
  readonly description?: string;
}

/** What `keys update` changes; unset fields are kept. Limits and budgets are merged field by field after any clear. */
export interface KeyChange {
  readonly team?: string;
  readonly models?: readonly string[];
  readonly limits?: KeyLimits;
  readonly budgets?: KeyBudgets;
  readonly clearLimits?: boolean;
  readonly clearBudgets?: boolean;
  /** An instant, or null to remove the expiry. */
  readonly expiresAt?: string | null;
  readonly description?: string;
}

/** A key item in a listing; `current` is false for a key that `keys rotate` replaced. */
export interface ListedKey {
  readonly record: KeyRecord;
  readonly current: boolean;
}

/** A spend item: its sort key's parts and amounts. */
export interface SpendRow extends SpendFields {
  /** `YYYY-MM-DD` or `YYYY-MM`. */
  readonly period: string;
  readonly model?: string;
}

/** A new key: the prefix and 32 random bytes, base64url. */
export function generateKey(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** The policy fields of a record with `change` applied (pure; validated by the caller). */
export function applyChange(record: KeyRecord, change: KeyChange): KeyRecord {
  const merged = <T extends object>(current: T | undefined, clear: boolean | undefined, update: T | undefined): T | undefined => {
    const result = { ...(clear ? {} : current), ...update } as T;
    return Object.keys(result).length === 0 ? undefined : result;
  };
  const next: Record<string, unknown> = {
    ...record,
    limits: merged(record.limits, change.clearLimits, change.limits),
    budgets: merged(record.budgets, change.clearBudgets, change.budgets),
  };
  if (change.team !== undefined) next.team = change.team;
  if (change.models !== undefined) next.models = [...change.models];
  if (change.expiresAt !== undefined) next.expiresAt = change.expiresAt ?? undefined;
  if (change.description !== undefined) next.description = change.description;
  return withoutUndefined(next) as unknown as KeyRecord;
}

/** The attributes of a key item that `keys update` may change (all others are kept as they are). */
const POLICY_ATTRIBUTES = ['team', 'models', 'limits', 'budgets', 'expiresAt', 'description'] as const;

export class GatewayAdmin {
  constructor(private readonly client: DynamoDBClient, private readonly table: string) {}

  /** Makes a key and writes its key item and name item in one transaction; a name in use is refused. */
  async create(input: NewKey, nowMs: number = Date.now()): Promise<{ key: string; record: KeyRecord }> {
    const key = generateKey();
    const record = withoutUndefined({
      name: input.name,
      digest: keyDigest(key),
      hint: keyHint(key),
      team: input.team,
      models: input.models ? [...input.models] : undefined,
      limits: input.limits,
      budgets: input.budgets,
      expiresAt: input.expiresAt,
      description: input.description,
      createdAt: new Date(nowMs).toISOString(),
    }) as unknown as KeyRecord;
    try {
      await this.client.send(new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: this.table, Item: keyItem(record), ConditionExpression: 'attribute_not_exists(pk)' } },
          { Put: { TableName: this.table, Item: nameItem(record.name, record.digest), ConditionExpression: 'attribute_not_exists(pk)' } },
        ],
      }));
    } catch (err) {
      if (cancelledBy(err, 1)) throw new GatewayAdminError(`a key named ${input.name} exists; use keys rotate or choose another name`);
      throw err;
    }
    return { key, record };
  }

  /** The key a name points at, or undefined. */
  async find(name: string): Promise<KeyRecord | undefined> {
    const nameOut = await this.client.send(new GetItemCommand({ TableName: this.table, Key: itemKey(namePk(name), NAME_SK), ConsistentRead: true }));
    const digest = nameOut.Item?.digest?.S;
    if (!digest) return undefined;
    const keyOut = await this.client.send(new GetItemCommand({ TableName: this.table, Key: itemKey(keyPk(digest), KEY_SK), ConsistentRead: true }));
    return keyOut.Item ? toRecord(keyOut.Item) : undefined;
  }

  /** Every key item (paginated Scan), marked current when its name points at it. */
  async list(): Promise<ListedKey[]> {
    const keys: KeyRecord[] = [];
    const current = new Map<string, string>();
    for await (const item of this.scan('sk = :key OR sk = :name', { ':key': { S: KEY_SK }, ':name': { S: NAME_SK } })) {
      if (item.sk?.S === KEY_SK) keys.push(toRecord(item));
      else if (item.pk?.S?.startsWith(namePk('')) && item.digest?.S) current.set(item.pk.S.slice(namePk('').length), item.digest.S);
    }
    return keys.map((r) => ({ record: r, current: current.get(r.name) === r.digest }));
  }

  /** The names of all keys (from their name items). */
  async names(): Promise<string[]> {
    const names: string[] = [];
    for await (const item of this.scan('sk = :name', { ':name': { S: NAME_SK } }, 'pk')) {
      if (item.pk?.S?.startsWith(namePk(''))) names.push(item.pk.S.slice(namePk('').length));
    }
    return names.sort();
  }

  /** Applies `change` to the key a name points at (UpdateItem, conditional on no concurrent change). */
  async update(name: string, change: KeyChange, nowMs: number = Date.now()): Promise<KeyRecord> {
    const before = await this.require(name);
    const after = { ...applyChange(before, change), updatedAt: new Date(nowMs).toISOString() } as KeyRecord;
    const names: Record<string, string> = { '#updatedAt': 'updatedAt' };
    const values: Record<string, AttributeValue> = { ':updatedAt': { S: after.updatedAt! } };
    const set = ['#updatedAt = :updatedAt'];
    const remove: string[] = [];
    for (const attribute of POLICY_ATTRIBUTES) {
      const value = (after as unknown as Record<string, unknown>)[attribute];
      if (value !== undefined) {
        names[`#${attribute}`] = attribute;
        set.push(`#${attribute} = :${attribute}`);
        values[`:${attribute}`] = marshall({ v: value }, { removeUndefinedValues: true }).v;
      } else if ((before as unknown as Record<string, unknown>)[attribute] !== undefined) {
        names[`#${attribute}`] = attribute;
        remove.push(`#${attribute}`);
      }
    }
    await this.conditionalUpdate(name, before, `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`, names, values);
    return after;
  }

  /** Disables the key a name points at. */
  async revoke(name: string, nowMs: number = Date.now()): Promise<KeyRecord> {
    const before = await this.require(name);
    const updatedAt = new Date(nowMs).toISOString();
    await this.conditionalUpdate(name, before, 'SET #disabled = :true, #updatedAt = :updatedAt',
      { '#disabled': 'disabled', '#updatedAt': 'updatedAt' }, { ':true': { BOOL: true }, ':updatedAt': { S: updatedAt } });
    return { ...before, disabled: true, updatedAt };
  }

  /**
   * Replaces the key a name points at with a new one of the same policy, in one transaction: the new key item, the
   * name item pointing at it (conditional on still pointing at the old one), and the old key item marked `rotatedAt`
   * and disabled — or, with `graceUntil`, left working until then (its `expiresAt`, never later than it was).
   */
  async rotate(name: string, nowMs: number = Date.now(), graceUntil?: string): Promise<{ key: string; record: KeyRecord; previous: KeyRecord }> {
    const previous = await this.require(name);
    const now = new Date(nowMs).toISOString();
    const until = graceUntil === undefined ? undefined
      : previous.expiresAt !== undefined && Date.parse(previous.expiresAt) < Date.parse(graceUntil) ? previous.expiresAt : graceUntil;
    const retire = until === undefined
      ? { expression: 'SET #end = :true, #rotatedAt = :now, #updatedAt = :now', attribute: 'disabled', value: { BOOL: true } }
      : { expression: 'SET #end = :until, #rotatedAt = :now, #updatedAt = :now', attribute: 'expiresAt', value: { S: until } };
    const key = generateKey();
    const { disabled: _disabled, updatedAt: _updatedAt, rotatedAt: _rotatedAt, ...policy } = previous;
    const next = { ...policy, digest: keyDigest(key), hint: keyHint(key), createdAt: now } as KeyRecord;
    try {
      await this.client.send(new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: this.table, Item: keyItem(next), ConditionExpression: 'attribute_not_exists(pk)' } },
          {
            Update: {
              TableName: this.table,
              Key: itemKey(namePk(name), NAME_SK),
              UpdateExpression: 'SET #digest = :new',
              ConditionExpression: '#digest = :old',
              ExpressionAttributeNames: { '#digest': 'digest' },
              ExpressionAttributeValues: { ':new': { S: next.digest }, ':old': { S: previous.digest } },
            },
          },
          {
            Update: {
              TableName: this.table,
              Key: itemKey(keyPk(previous.digest), KEY_SK),
              UpdateExpression: retire.expression,
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeNames: { '#end': retire.attribute, '#rotatedAt': 'rotatedAt', '#updatedAt': 'updatedAt' },
              ExpressionAttributeValues: { [until === undefined ? ':true' : ':until']: retire.value, ':now': { S: now } },
            },
          },
        ],
      }));
    } catch (err) {
      if (cancelledBy(err, 1) || cancelledBy(err, 2)) throw new GatewayAdminError(`key ${name} changed while rotating it; run keys rotate again`);
      throw err;
    }
    const retired = until === undefined ? { disabled: true } : { expiresAt: until };
    return { key, record: next, previous: { ...previous, ...retired, rotatedAt: now, updatedAt: now } };
  }

  /**
   * Spend items of one partition (`spend#key#<name>` or `spend#team#<team>`) whose periods lie in [from, to]: day items
   * (`kind` day, periods YYYY-MM-DD) or month items (YYYY-MM); with `byModel` the per-model items, else the totals.
   */
  async spend(pk: string, kind: 'day' | 'month', from: string, to: string, byModel: boolean): Promise<SpendRow[]> {
    const rows: SpendRow[] = [];
    const sortKey = kind === 'day' ? daySk : monthSk;
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        // `~` sorts after `#`, so the upper bound takes in the per-model items of the last period too.
        ExpressionAttributeValues: { ':pk': { S: pk }, ':from': { S: sortKey(from) }, ':to': { S: `${sortKey(to)}~` } },
        ExclusiveStartKey: start,
      }));
      for (const item of out.Items ?? []) {
        const match = /^(day|month)#([0-9-]+)(?:#model#(.+))?$/.exec(item.sk?.S ?? '');
        if (!match || match[1] !== kind || (match[3] !== undefined) !== byModel) continue;
        const values = unmarshall(item) as Record<string, unknown>;
        const amounts = Object.fromEntries(SPEND_FIELDS.map((f) => [f, typeof values[f] === 'number' ? values[f] : 0])) as unknown as SpendFields;
        rows.push({ period: match[2], ...(match[3] !== undefined ? { model: match[3] } : {}), ...amounts });
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return rows;
  }

  private async require(name: string): Promise<KeyRecord> {
    const found = await this.find(name);
    if (!found) throw new GatewayAdminError(`there is no key named ${name} (keys list shows the names)`);
    return found;
  }

  /** An UpdateItem on the key a name points at, refused if the key was rotated or changed since it was read. */
  private async conditionalUpdate(
    name: string, before: KeyRecord, expression: string, names: Record<string, string>, values: Record<string, AttributeValue>,
  ): Promise<void> {
    const unchanged = before.updatedAt === undefined ? 'attribute_not_exists(#updatedAt)' : '#updatedAt = :before';
    try {
      await this.client.send(new UpdateItemCommand({
        TableName: this.table,
        Key: itemKey(keyPk(before.digest), KEY_SK),
        UpdateExpression: expression,
        ConditionExpression: `attribute_exists(pk) AND attribute_not_exists(#rotatedAt) AND ${unchanged}`,
        ExpressionAttributeNames: { ...names, '#rotatedAt': 'rotatedAt', '#updatedAt': 'updatedAt' },
        ExpressionAttributeValues: before.updatedAt === undefined ? values : { ...values, ':before': { S: before.updatedAt } },
      }));
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') {
        throw new GatewayAdminError(`key ${name} was changed or rotated by someone else meanwhile; run the command again`);
      }
      throw err;
    }
  }

  private async *scan(filter: string, values: Record<string, AttributeValue>, projection?: string): AsyncGenerator<Record<string, AttributeValue>> {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client.send(new ScanCommand({
        TableName: this.table,
        FilterExpression: filter,
        ExpressionAttributeValues: values,
        ...(projection ? { ProjectionExpression: projection } : {}),
        ExclusiveStartKey: start,
      }));
      yield* out.Items ?? [];
      start = out.LastEvaluatedKey;
    } while (start);
  }
}

function itemKey(pk: string, sk: string): Record<string, AttributeValue> {
  return { pk: { S: pk }, sk: { S: sk } };
}

function keyItem(r: KeyRecord): Record<string, AttributeValue> {
  return marshall({ pk: keyPk(r.digest), sk: KEY_SK, ...r }, { removeUndefinedValues: true });
}

function nameItem(name: string, digest: string): Record<string, AttributeValue> {
  return { pk: { S: namePk(name) }, sk: { S: NAME_SK }, digest: { S: digest } };
}

function toRecord(item: Record<string, AttributeValue>): KeyRecord {
  const { pk: _pk, sk: _sk, ...rest } = unmarshall(item) as Record<string, unknown>;
  return rest as unknown as KeyRecord;
}

function withoutUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

/** Whether a TransactWriteItems failed on the condition of item `index`. */
function cancelledBy(err: unknown, index: number): boolean {
  const e = err as { name?: string; CancellationReasons?: { Code?: string }[] };
  return e.name === 'TransactionCanceledException' && e.CancellationReasons?.[index]?.Code === 'ConditionalCheckFailed';
}
