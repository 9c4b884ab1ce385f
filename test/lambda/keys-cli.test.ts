/**
 * `cdk-serverless-llm keys …` and `usage` end to end: the bundled CLI (assets/dev-server/cli.js, made by
 * `npx projen bundle`) runs as a process against moto's DynamoDB and SSM (real wire protocol) through
 * AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SSM, with dummy credentials; the test reads and writes the table itself
 * with the schema's helpers. Argument checks are also tested on the parser directly.
 */
import { execFile } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateTimeToLiveCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { GatewayUsageError, parseGatewayCommand } from '../../lambda/dev-server/keys-cli';
import {
  daySk,
  KEY_SK,
  keyPk,
  monthSk,
  NAME_SK,
  namePk,
  spendKeyPk,
  spendTeamPk,
  utcDay,
  utcMonth,
  type KeyRecord,
  type SpendFields,
} from '../../lambda/shared/gateway/schema';
import { MotoServer } from '../support/moto-server';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'assets', 'dev-server', 'cli.js');
const KEY = /sk-llm-[A-Za-z0-9_-]{43}/g;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

let moto: MotoServer;
let ddb: DynamoDBClient;
let tables = 0;

beforeAll(async () => {
  // The test runs the shipped bundle: it must exist and be newer than the sources it is built from.
  const sources = ['lambda/dev-server/cli.ts', 'lambda/dev-server/keys-cli.ts', 'lambda/dev-server/gateway-admin.ts', 'lambda/shared/gateway/schema.ts'];
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npx projen bundle first`);
  const built = fs.statSync(CLI).mtimeMs;
  for (const source of sources) {
    if (fs.statSync(path.join(ROOT, source)).mtimeMs > built) throw new Error(`${CLI} is older than ${source}: run npx projen bundle first`);
  }
  moto = await MotoServer.start();
  ddb = new DynamoDBClient({ endpoint: moto.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDTESTMOTO', secretAccessKey: 'test' } });
}, 30_000);

afterAll(async () => {
  ddb?.destroy();
  await moto?.stop();
});

/** A fresh gateway table as the construct makes it: pk/sk strings, on-demand, TTL on `ttl`. */
async function newTable(): Promise<string> {
  tables += 1;
  const name = `gateway-${tables}`;
  await ddb.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
  }));
  await ddb.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true } }));
  return name;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the bundled CLI with the table in CDK_SERVERLESS_LLM_TABLE (unless `table` is undefined) against moto. */
function cli(table: string | undefined, args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: '/nonexistent-home',
    NODE_NO_WARNINGS: '1',
    ...moto.env(),
    ...(table === undefined ? {} : { CDK_SERVERLESS_LLM_TABLE: table }),
    ...extraEnv,
  };
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(table: string | undefined, args: string[], extraEnv?: Record<string, string>): Promise<string> {
  const run = await cli(table, args, extraEnv);
  if (run.code !== 0) throw new Error(`keys ${args.join(' ')} exited ${run.code}:\n${run.stderr}${run.stdout}`);
  return run.stdout;
}

async function scanAll(table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const out = await ddb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items.map((i) => unmarshall(i));
}

async function getItem(table: string, pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
  const out = await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }));
  return out.Item ? unmarshall(out.Item) : undefined;
}

async function keyItem(table: string, key: string): Promise<KeyRecord & { pk: string; sk: string }> {
  const item = await getItem(table, keyPk(sha256(key)), KEY_SK);
  if (!item) throw new Error('no key item under the SHA-256 of the printed key');
  return item as unknown as KeyRecord & { pk: string; sk: string };
}

function onlyKey(stdout: string): string {
  const keys = stdout.match(KEY) ?? [];
  expect(keys).toHaveLength(1);
  return keys[0]!;
}

/** A spend item as the runtime writes it (UpdateItem ADD gives the same attributes). */
async function putSpend(table: string, pk: string, sk: string, amounts: Partial<SpendFields>): Promise<void> {
  const item = { usd: 0, requests: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, ...amounts };
  await ddb.send(new PutItemCommand({ TableName: table, Item: marshall({ pk, sk, ...item, ttl: 4_000_000_000 }) }));
}

describe('keys create', () => {
  test('prints a new key once; its SHA-256 finds the key item with the policy, and the key itself is stored nowhere', async () => {
    const table = await newTable();
    const out = await ok(table, ['keys', 'create', '--name', 'alice', '--team', 'ml', '--models', 'claude-sonnet,claude-haiku', '--rpm', '60',
      '--tpm', '100000', '--tpd', '2000000', '--daily-usd', '5', '--monthly-usd', '100.5', '--expires', '2030-01-01', '--description', 'Alice laptop']);
    const key = onlyKey(out);
    expect(key).toMatch(/^sk-llm-[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.slice('sk-llm-'.length), 'base64url')).toHaveLength(32);
    expect(out).toContain('only time the key is shown');

    const item = await keyItem(table, key);
    expect(item).toEqual({
      pk: keyPk(sha256(key)),
      sk: KEY_SK,
      name: 'alice',
      digest: sha256(key),
      hint: key.slice(0, 11),
      team: 'ml',
      models: ['claude-sonnet', 'claude-haiku'],
      limits: { requestsPerMinute: 60, tokensPerMinute: 100000, tokensPerDay: 2000000 },
      budgets: { dailyUsd: 5, monthlyUsd: 100.5 },
      expiresAt: '2030-01-01T00:00:00.000Z',
      description: 'Alice laptop',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(await getItem(table, namePk('alice'), NAME_SK)).toEqual({ pk: namePk('alice'), sk: NAME_SK, digest: sha256(key) });

    const everything = JSON.stringify(await scanAll(table));
    expect(everything).not.toContain(key);
    expect(everything).not.toContain(key.slice('sk-llm-'.length));
    expect(await scanAll(table)).toHaveLength(2);
  });

  test('--json prints the key and the record for scripts, and a duration such as 30d sets the expiry', async () => {
    const table = await newTable();
    const before = Date.now();
    const parsed = JSON.parse(await ok(table, ['keys', 'create', '--name', 'ci-bot', '--expires', '30d', '--json'])) as { key: string; name: string; record: KeyRecord };
    expect(parsed.name).toBe('ci-bot');
    expect(parsed.record.digest).toBe(sha256(parsed.key));
    const expires = Date.parse(parsed.record.expiresAt!);
    expect(expires).toBeGreaterThanOrEqual(before + 30 * 86_400_000);
    expect(expires).toBeLessThan(Date.now() + 30 * 86_400_000 + 1000);
    expect((await keyItem(table, parsed.key)).name).toBe('ci-bot');
  });

  test('refuses a name in use with a sentence naming keys rotate, and leaves the table as it was', async () => {
    const table = await newTable();
    const first = onlyKey(await ok(table, ['keys', 'create', '--name', 'alice']));
    const second = await cli(table, ['keys', 'create', '--name', 'alice', '--team', 'other']);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe('cdk-serverless-llm: a key named alice exists; use keys rotate or choose another name\n');
    expect(second.stdout).not.toMatch(KEY);
    const items = await scanAll(table);
    expect(items).toHaveLength(2);
    expect(items.find((i) => i.sk === NAME_SK)?.digest).toBe(sha256(first));
  });
});

describe('keys list, show, update, revoke, rotate', () => {
  test('list shows name, team, hint, models, limits, budgets, expiry, status and creation, and --team filters', async () => {
    const table = await newTable();
    const alice = onlyKey(await ok(table, ['keys', 'create', '--name', 'alice', '--team', 'ml', '--models', 'claude-sonnet', '--rpm', '60', '--daily-usd', '5']));
    await ok(table, ['keys', 'create', '--name', 'bob', '--team', 'web']);
    await ok(table, ['keys', 'create', '--name', 'carol', '--team', 'ml', '--expires', '2030-06-01T12:00:00Z']);
    // An expired key, as a table edited by hand (or an old key) would hold it.
    const expired = onlyKey(await ok(table, ['keys', 'create', '--name', 'dave', '--expires', '1h']));
    await ddb.send(new PutItemCommand({ TableName: table, Item: marshall({ ...(await keyItem(table, expired)), expiresAt: '2020-01-01T00:00:00.000Z' }) }));

    const listing = await ok(table, ['keys', 'list']);
    const lines = listing.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['NAME', 'TEAM', 'HINT', 'MODELS', 'LIMITS', 'BUDGETS', 'EXPIRES', 'STATUS', 'CREATED']);
    expect(lines).toHaveLength(5);
    expect(lines[1].split(/\s{2,}/)).toEqual(['alice', 'ml', alice.slice(0, 11), 'claude-sonnet', '60 rpm', '$5/day', 'never', 'active', expect.stringMatching(/Z$/)]);
    expect(lines[3].split(/\s{2,}/).slice(0, 2)).toEqual(['carol', 'ml']);
    expect(lines[3]).toContain('2030-06-01 12:00Z');
    expect(lines[4].split(/\s{2,}/)[0]).toBe('dave');
    expect(lines[4]).toContain('expired');
    expect(listing).not.toMatch(KEY);

    const ml = JSON.parse(await ok(table, ['keys', 'list', '--team', 'ml', '--json'])) as (KeyRecord & { status: string })[];
    expect(ml.map((k) => [k.name, k.status])).toEqual([['alice', 'active'], ['carol', 'active']]);
    expect(await ok(table, ['keys', 'list', '--team', 'nobody'])).toBe('No keys of team nobody.\n');
  });

  test('list reads every page of a table larger than one Scan page', async () => {
    const table = await newTable();
    // About 1.2 MB of filler items makes moto split the Scan (1 MB pages); the key sits after them in no particular order.
    const filler = 'x'.repeat(100_000);
    for (let i = 0; i < 12; i++) await ddb.send(new PutItemCommand({ TableName: table, Item: marshall({ pk: `filler#${i}`, sk: 'x', filler }) }));
    await ok(table, ['keys', 'create', '--name', 'paged']);
    const pages = await ddb.send(new ScanCommand({ TableName: table }));
    expect(pages.LastEvaluatedKey).toBeDefined();
    const listed = JSON.parse(await ok(table, ['keys', 'list', '--json'])) as KeyRecord[];
    expect(listed.map((k) => k.name)).toEqual(['paged']);
  });

  test('show prints the record and this UTC day\'s and month\'s spend', async () => {
    const table = await newTable();
    await ok(table, ['keys', 'create', '--name', 'alice', '--team', 'ml', '--daily-usd', '5', '--monthly-usd', '100']);
    const now = Date.now();
    await putSpend(table, spendKeyPk('alice'), daySk(utcDay(now)), { usd: 1.23456, requests: 3, inputTokens: 300, outputTokens: 40, cacheReadTokens: 7, cacheWriteTokens: 2 });
    await putSpend(table, spendKeyPk('alice'), monthSk(utcMonth(now)), { usd: 12.5, requests: 30, inputTokens: 3000, outputTokens: 400 });
    await putSpend(table, spendKeyPk('alice'), daySk(utcDay(now), 'claude-sonnet'), { usd: 99, requests: 99 });

    const text = await ok(table, ['keys', 'show', 'alice']);
    expect(text).toMatch(/^name +alice$/m);
    expect(text).toMatch(/^team +ml$/m);
    expect(text).toMatch(/^status +active$/m);
    expect(text).toContain(`${utcDay(now)}: $1.2346 of $5.0000, 3 requests, 300 input, 40 output, 7 cache read, 2 cache write tokens`);
    expect(text).toContain(`${utcMonth(now)}: $12.5000 of $100.0000, 30 requests, 3000 input, 400 output, 0 cache read, 0 cache write tokens`);

    const shown = JSON.parse(await ok(table, ['keys', 'show', 'alice', '--json'])) as { record: KeyRecord; status: string; spend: Record<string, SpendFields> };
    expect(shown.record.name).toBe('alice');
    expect(shown.status).toBe('active');
    expect(shown.spend.day).toEqual({
      period: utcDay(now), usd: 1.23456, requests: 3, inputTokens: 300, outputTokens: 40, cacheReadTokens: 7, cacheWriteTokens: 2,
    });
    expect(shown.spend.month.usd).toBe(12.5);

    const missing = await cli(table, ['keys', 'show', 'nobody']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('cdk-serverless-llm: there is no key named nobody (keys list shows the names)\n');
  });

  test('update changes the key item found through the name item: limits merged field by field, clears, models and expiry', async () => {
    const table = await newTable();
    const key = onlyKey(await ok(table, ['keys', 'create', '--name', 'alice', '--team', 'ml', '--models', 'a,b', '--rpm', '60', '--tpm', '1000',
      '--daily-usd', '5', '--expires', '2030-01-01']));
    const created = await keyItem(table, key);

    await ok(table, ['keys', 'update', 'alice', '--tpm', '5000', '--tpd', '90000', '--models', '*', '--team', 'research']);
    let item = await keyItem(table, key);
    expect(item.limits).toEqual({ requestsPerMinute: 60, tokensPerMinute: 5000, tokensPerDay: 90000 });
    expect(item.models).toEqual(['*']);
    expect(item.team).toBe('research');
    expect(item.budgets).toEqual({ dailyUsd: 5 });
    expect(item.createdAt).toBe(created.createdAt);
    expect(item.updatedAt).toEqual(expect.any(String));

    await ok(table, ['keys', 'update', 'alice', '--clear-limits', '--rpm', '10', '--clear-budgets', '--expires', 'never', '--description', 'moved']);
    item = await keyItem(table, key);
    expect(item.limits).toEqual({ requestsPerMinute: 10 });
    expect(item).not.toHaveProperty('budgets');
    expect(item).not.toHaveProperty('expiresAt');
    expect(item.description).toBe('moved');

    await ok(table, ['keys', 'update', 'alice', '--clear-limits']);
    expect(await keyItem(table, key)).not.toHaveProperty('limits');
    // Still one key and one name: update never writes a second item.
    expect(await scanAll(table)).toHaveLength(2);

    const bad = await cli(table, ['keys', 'update', 'alice', '--rpm', '1.5']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--rpm must be a positive integer');
    const nothing = await cli(table, ['keys', 'update', 'alice']);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('keys update needs something to change');
  });

  test('revoke disables the key, says when it takes effect, and the name stays taken', async () => {
    const table = await newTable();
    const key = onlyKey(await ok(table, ['keys', 'create', '--name', 'alice']));
    const out = await ok(table, ['keys', 'revoke', 'alice']);
    expect(out).toContain('takes effect within 30 seconds');
    expect(out).toContain('PROXY_GATEWAY_CACHE_TTL_SECONDS');
    const item = await keyItem(table, key);
    expect(item.disabled).toBe(true);
    expect(item.updatedAt).toEqual(expect.any(String));
    expect(JSON.parse(await ok(table, ['keys', 'list', '--json']))).toEqual([expect.objectContaining({ name: 'alice', status: 'disabled' })]);
    expect((await cli(table, ['keys', 'create', '--name', 'alice'])).code).toBe(1);
  });

  test('rotate writes a new key item with the same policy, points the name at it and disables the old one with rotatedAt', async () => {
    const table = await newTable();
    const old = onlyKey(await ok(table, ['keys', 'create', '--name', 'alice', '--team', 'ml', '--models', 'claude-sonnet', '--rpm', '60',
      '--monthly-usd', '50', '--expires', '2030-01-01', '--description', 'laptop']));
    await ok(table, ['keys', 'revoke', 'alice']);
    const out = await ok(table, ['keys', 'rotate', 'alice']);
    const fresh = onlyKey(out);
    expect(fresh).not.toBe(old);
    expect(out).toContain('only time the key is shown');

    const next = await keyItem(table, fresh);
    const previous = await keyItem(table, old);
    expect(next).toEqual({
      pk: keyPk(sha256(fresh)),
      sk: KEY_SK,
      name: 'alice',
      digest: sha256(fresh),
      hint: fresh.slice(0, 11),
      team: 'ml',
      models: ['claude-sonnet'],
      limits: { requestsPerMinute: 60 },
      budgets: { monthlyUsd: 50 },
      expiresAt: '2030-01-01T00:00:00.000Z',
      description: 'laptop',
      createdAt: expect.any(String),
    });
    expect(previous.disabled).toBe(true);
    expect(previous.rotatedAt).toEqual(expect.any(String));
    expect((await getItem(table, namePk('alice'), NAME_SK))?.digest).toBe(sha256(fresh));

    const everything = JSON.stringify(await scanAll(table));
    expect(everything).not.toContain(fresh);
    expect(everything).not.toContain(old);

    expect((JSON.parse(await ok(table, ['keys', 'list', '--json'])) as KeyRecord[]).map((k) => k.hint)).toEqual([fresh.slice(0, 11)]);
    const all = JSON.parse(await ok(table, ['keys', 'list', '--all', '--json'])) as (KeyRecord & { status: string })[];
    expect(all.map((k) => k.status).sort()).toEqual(['active', 'rotated']);
    // Updates go to the current key only.
    await ok(table, ['keys', 'update', 'alice', '--rpm', '5']);
    expect((await keyItem(table, fresh)).limits).toEqual({ requestsPerMinute: 5 });
    expect((await keyItem(table, old)).limits).toEqual({ requestsPerMinute: 60 });
  });

  test('rotate --grace keeps the old key working until the grace period ends (never past its own expiry)', async () => {
    const table = await newTable();
    const old = onlyKey(await ok(table, ['keys', 'create', '--name', 'alice', '--rpm', '60']));
    const before = Date.now();
    const out = await ok(table, ['keys', 'rotate', 'alice', '--grace', '2h']);
    const fresh = onlyKey(out);
    const previous = await keyItem(table, old);
    expect(previous).not.toHaveProperty('disabled');
    expect(previous.rotatedAt).toEqual(expect.any(String));
    const until = Date.parse(previous.expiresAt!);
    expect(until).toBeGreaterThanOrEqual(before + 2 * 3_600_000 - 1000);
    expect(until).toBeLessThanOrEqual(Date.now() + 2 * 3_600_000);
    expect(out).toContain(`keeps working until ${previous.expiresAt}, then expires`);
    expect((await keyItem(table, fresh))).not.toHaveProperty('expiresAt');
    expect((await getItem(table, namePk('alice'), NAME_SK))?.digest).toBe(sha256(fresh));

    // A key that expires sooner than the grace period keeps its own expiry.
    const soon = onlyKey(await ok(table, ['keys', 'create', '--name', 'bob', '--expires', '1h']));
    const soonExpiry = (await keyItem(table, soon)).expiresAt;
    await ok(table, ['keys', 'rotate', 'bob', '--grace', '7d']);
    expect((await keyItem(table, soon)).expiresAt).toBe(soonExpiry);
    // The new key keeps the policy's expiry too: rotation does not extend a key's life.
    const shown = JSON.parse(await ok(table, ['keys', 'show', 'bob', '--json'])) as { record: KeyRecord };
    expect(shown.record.expiresAt).toBe(soonExpiry);
  });
});

describe('table selection', () => {
  test('--table-parameter reads the table name from an SSM String parameter', async () => {
    const table = await newTable();
    const ssm = new SSMClient({ endpoint: moto.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDTESTMOTO', secretAccessKey: 'test' } });
    await ssm.send(new PutParameterCommand({ Name: '/my-app/gateway-table', Value: table, Type: 'String' }));
    ssm.destroy();
    const key = onlyKey(await ok(undefined, ['keys', 'create', '--name', 'via-ssm', '--table-parameter', '/my-app/gateway-table']));
    expect((await keyItem(table, key)).name).toBe('via-ssm');
    expect(await ok(undefined, ['keys', 'list', '--table-parameter', '/my-app/gateway-table'])).toContain('via-ssm');

    const missing = await cli(undefined, ['keys', 'list', '--table-parameter', '/my-app/nothing-here']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^cdk-serverless-llm: ParameterNotFound: /);
  });

  test('--table wins over nothing else given; a missing table is an AWS error: name and message, exit 1, no stack trace', async () => {
    const table = await newTable();
    expect(await ok(undefined, ['keys', 'list', '--table', table])).toBe('No keys in this table yet (keys create makes one).\n');
    const run = await cli(undefined, ['keys', 'list', '--table', 'no-such-table']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^cdk-serverless-llm: ResourceNotFoundException: .+\n$/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  test('without --table, --table-parameter or CDK_SERVERLESS_LLM_TABLE the command says how to name the table (exit 2)', async () => {
    const run = await cli(undefined, ['keys', 'list']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('name the gateway table with --table, --table-parameter or the CDK_SERVERLESS_LLM_TABLE environment variable');
  });
});

describe('usage', () => {
  let table: string;
  beforeAll(async () => {
    table = await newTable();
    await ok(table, ['keys', 'create', '--name', 'alice', '--team', 'ml']);
    await ok(table, ['keys', 'create', '--name', 'bob', '--team', 'ml']);
    const a = spendKeyPk('alice');
    await putSpend(table, a, daySk('2026-11-30'), { usd: 1, requests: 1, inputTokens: 10, outputTokens: 1 });
    await putSpend(table, a, daySk('2026-12-01'), { usd: 0.5, requests: 2, inputTokens: 200, outputTokens: 20, cacheReadTokens: 5, cacheWriteTokens: 1 });
    await putSpend(table, a, daySk('2026-12-01', 'claude-sonnet'), { usd: 0.4, requests: 1, inputTokens: 150, outputTokens: 15, cacheReadTokens: 5, cacheWriteTokens: 1 });
    await putSpend(table, a, daySk('2026-12-01', 'claude-haiku'), { usd: 0.1, requests: 1, inputTokens: 50, outputTokens: 5 });
    await putSpend(table, a, daySk('2026-12-03'), { usd: 0.25, requests: 1, inputTokens: 100, outputTokens: 10 });
    await putSpend(table, a, daySk('2026-12-03', 'claude-sonnet'), { usd: 0.25, requests: 1, inputTokens: 100, outputTokens: 10 });
    await putSpend(table, a, daySk('2026-12-04'), { usd: 9, requests: 9 });
    await putSpend(table, a, monthSk('2026-11'), { usd: 1, requests: 1, inputTokens: 10, outputTokens: 1 });
    await putSpend(table, a, monthSk('2026-12'), { usd: 9.75, requests: 12, inputTokens: 300, outputTokens: 30 });
    await putSpend(table, a, monthSk('2026-12', 'claude-sonnet'), { usd: 0.65, requests: 2 });
    await putSpend(table, spendKeyPk('bob'), daySk('2026-12-02'), { usd: 0.00005, requests: 1, inputTokens: 1, outputTokens: 1 });
    await putSpend(table, spendTeamPk('ml'), daySk('2026-12-01'), { usd: 0.5, requests: 2, inputTokens: 200, outputTokens: 20 });
    await putSpend(table, spendTeamPk('ml'), daySk('2026-12-02'), { usd: 0.00005, requests: 1, inputTokens: 1, outputTokens: 1 });
  });

  interface UsageJson {
    rows: (SpendFields & { day?: string; month?: string; key?: string; model?: string })[];
    total: SpendFields;
  }
  const usageJson = async (args: string[]) => JSON.parse(await ok(table, ['usage', ...args, '--json'])) as UsageJson;

  test('sums one key\'s day items between --since and --until, inclusive, per day and in total', async () => {
    const out = await usageJson(['--key', 'alice', '--since', '2026-12-01', '--until', '2026-12-03']);
    expect(out.rows.map((r) => [r.day, r.usd, r.requests])).toEqual([['2026-12-01', 0.5, 2], ['2026-12-03', 0.25, 1]]);
    expect(out.total).toEqual({ usd: 0.75, requests: 3, inputTokens: 300, outputTokens: 30, cacheReadTokens: 5, cacheWriteTokens: 1 });

    const text = await ok(table, ['usage', '--key', 'alice', '--since', '2026-12-01', '--until', '2026-12-03']);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('Spend of key alice, 2026-12-01 to 2026-12-03 (UTC)');
    expect(lines[2].split(/\s+/)).toEqual(['DAY', 'REQUESTS', 'INPUT', 'OUTPUT', 'CACHE', 'READ', 'CACHE', 'WRITE', 'USD']);
    expect(lines[3].split(/\s+/)).toEqual(['2026-12-01', '2', '200', '20', '5', '1', '0.5000']);
    expect(lines[5].split(/\s+/)).toEqual(['total', '3', '300', '30', '5', '1', '0.7500']);
  });

  test('--by model reads the #model# items, including the last day\'s', async () => {
    const out = await usageJson(['--key', 'alice', '--since', '2026-12-01', '--until', '2026-12-03', '--by', 'model']);
    expect(out.rows.map((r) => [r.day, r.model, r.usd])).toEqual([
      ['2026-12-01', 'claude-haiku', 0.1], ['2026-12-01', 'claude-sonnet', 0.4], ['2026-12-03', 'claude-sonnet', 0.25],
    ]);
    expect(out.total.usd).toBeCloseTo(0.75, 10);
    expect(out.total.inputTokens).toBe(300);
  });

  test('--monthly reads the month items; --team reads the team\'s items', async () => {
    const months = await usageJson(['--key', 'alice', '--since', '2026-11-15', '--until', '2026-12-31', '--monthly']);
    expect(months.rows.map((r) => [r.month, r.usd])).toEqual([['2026-11', 1], ['2026-12', 9.75]]);
    expect(months.total.requests).toBe(13);
    const byModel = await usageJson(['--key', 'alice', '--since', '2026-12-01', '--until', '2026-12-31', '--monthly', '--by', 'model']);
    expect(byModel.rows).toEqual([expect.objectContaining({ month: '2026-12', model: 'claude-sonnet', usd: 0.65 })]);

    const team = await usageJson(['--team', 'ml', '--since', '2026-12-01', '--until', '2026-12-31']);
    expect(team.rows.map((r) => [r.day, r.requests])).toEqual([['2026-12-01', 2], ['2026-12-02', 1]]);
    expect(team.total.usd).toBeCloseTo(0.50005, 10);
  });

  test('without --key or --team sums every key, one row per day and key', async () => {
    const out = await usageJson(['--since', '2026-12-01', '--until', '2026-12-02']);
    expect(out.rows.map((r) => [r.day, r.key, r.requests])).toEqual([['2026-12-01', 'alice', 2], ['2026-12-02', 'bob', 1]]);
    expect(out.total.requests).toBe(3);
    const text = await ok(table, ['usage', '--since', '2026-12-01', '--until', '2026-12-02']);
    expect(text).toContain('Spend of all keys');
    expect(text).toMatch(/^2026-12-02 +bob +1 +1 +1 +0 +0 +0\.0001$/m);
  });
});

describe('bad command lines', () => {
  const problem = (argv: string[]): string => {
    try {
      parseGatewayCommand(argv, { CDK_SERVERLESS_LLM_TABLE: 'gateway' }, Date.parse('2026-12-03T10:00:00Z'));
    } catch (err) {
      if (err instanceof GatewayUsageError) return err.message;
      throw err;
    }
    throw new Error(`accepted: ${argv.join(' ')}`);
  };

  test('durations: 90m, 12h and 30d from now for --expires and --grace', () => {
    const now = Date.parse('2026-12-03T10:00:00Z');
    const env = { CDK_SERVERLESS_LLM_TABLE: 'gateway' };
    expect(parseGatewayCommand(['keys', 'create', '--name', 'a', '--expires', '90m'], env, now)).toMatchObject({ policy: { expiresAt: '2026-12-03T11:30:00.000Z' } });
    expect(parseGatewayCommand(['keys', 'create', '--name', 'a', '--expires', '30d'], env, now)).toMatchObject({ policy: { expiresAt: '2027-01-02T10:00:00.000Z' } });
    expect(parseGatewayCommand(['keys', 'rotate', 'a', '--grace', '12h'], env, now)).toMatchObject({ kind: 'rotate', graceUntil: '2026-12-03T22:00:00.000Z' });
    expect(parseGatewayCommand(['keys', 'update', 'a', '--expires', 'never'], env, now)).toMatchObject({ change: { expiresAt: null } });
  });

  test.each([
    [['keys', 'create'], '--name is required'],
    [['keys', 'create', '--name', 'bad name'], '--name must be 1-128 characters'],
    [['keys', 'create', '--name', 'a', '--rpm', '0'], '--rpm must be a positive integer'],
    [['keys', 'create', '--name', 'a', '--tpm', 'many'], '--tpm must be a positive integer'],
    [['keys', 'create', '--name', 'a', '--tpd', ''], '--tpd must be a positive integer'],
    [['keys', 'create', '--name', 'a', '--daily-usd=-1'], '--daily-usd must be a positive number of USD'],
    [['keys', 'create', '--name', 'a', '--daily-usd', '-1'], '--daily-usd needs a value (write --daily-usd=<value> for a value that starts with a dash)'],
    [['keys', 'create', '--name', 'a', '--monthly-usd', 'x'], '--monthly-usd must be a positive number of USD'],
    [['keys', 'create', '--name', 'a', '--team', 'no spaces'], '--team must be 1-64 characters'],
    [['keys', 'create', '--name', 'a', '--models', 'a,,b'], '--models must be a list of model ids'],
    [['keys', 'create', '--name', 'a', '--expires', 'soon'], '--expires must be an ISO 8601 date or instant, or a duration such as 30d or 12h'],
    [['keys', 'create', '--name', 'a', '--expires', '2020-01-01'], '--expires 2020-01-01 is not in the future'],
    [['keys', 'create', '--name', 'a', '--expires', 'never'], '--expires must be'],
    [['keys', 'create', '--name', 'a', '--colour', 'red'], '--colour is not an option of keys create'],
    [['keys', 'create', '--name'], '--name needs a value'],
    [['keys', 'list', '--json=yes'], '--json takes no value'],
    [['keys', 'show'], 'keys show needs the key\'s name'],
    [['keys', 'show', 'a', 'b'], 'unexpected argument b'],
    [['keys', 'delete', 'a'], 'unknown command keys delete'],
    [['keys', 'list', '--table', 'x'], '--table must be a DynamoDB table name'],
    [['keys', 'list', '--table', 'gateway', '--table-parameter', '/p'], '--table and --table-parameter both name the table'],
    [['keys', 'list', '--region', 'mars'], '--region must be an AWS region'],
    [['usage', '--since', '2026-02-30'], '--since must be a date as YYYY-MM-DD'],
    [['usage', '--until', 'yesterday'], '--until must be a date as YYYY-MM-DD'],
    [['usage', '--since', '2026-12-02', '--until', '2026-12-01'], '--since 2026-12-02 is after --until 2026-12-01'],
    [['usage', '--key', 'a', '--team', 'b'], '--key and --team both choose'],
    [['usage', '--by', 'day'], '--by must be model'],
    [['keys', 'rotate', 'a', '--grace', '31d'], '--grace must be a duration of at most 30 days'],
    [['keys', 'rotate', 'a', '--grace', 'tomorrow'], '--grace must be a duration'],
    [['keys', 'revoke', 'a', '--grace', '1h'], '--grace is not an option of keys revoke'],
  ])('%j is refused: %s', (argv, message) => {
    const text = problem(argv);
    expect(text).toContain(message);
    expect(text).not.toMatch(/\.\s+\S/); // one sentence
  });

  test('the process exits 2 with the sentence and the pointer to --help, and writes nothing to the table', async () => {
    const table = await newTable();
    const run = await cli(table, ['keys', 'create', '--name', 'alice', '--rpm=-5']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('cdk-serverless-llm: --rpm must be a positive integer\nRun cdk-serverless-llm keys create --help for the options.\n');
    expect(run.stdout).toBe('');
    expect(await scanAll(table)).toHaveLength(0);
    const unknown = await cli(table, ['usage', '--weekly']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--weekly is not an option of usage');
  });

  test('--help lists the commands; each command has its own help; dev keeps its own', async () => {
    const top = await ok(undefined, ['--help']);
    expect(top).toMatch(/^ {2}dev /m);
    expect(top).toMatch(/^ {2}keys create\|list\|show\|update\|revoke\|rotate$/m);
    expect(top).toMatch(/^ {2}usage /m);
    expect(await ok(undefined, ['keys', '--help'])).toMatch(/^ {2}rotate <name> /m);
    for (const command of ['create', 'list', 'show', 'update', 'revoke', 'rotate']) {
      expect(await ok(undefined, ['keys', command, '--help'])).toMatch(new RegExp(`^Usage: cdk-serverless-llm keys ${command}`));
    }
    const usageHelp = await ok(undefined, ['usage', '--help']);
    for (const flag of ['--key', '--team', '--since', '--until', '--by model', '--monthly', '--json', '--table-parameter']) expect(usageHelp).toContain(flag);
    expect(await ok(undefined, ['dev', '--help'])).toMatch(/^Usage: cdk-serverless-llm dev \[options\]/);
  });
});
