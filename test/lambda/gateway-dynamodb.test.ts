/**
 * The gateway table against a real DynamoDB wire protocol (moto's standalone server): the DynamoDB store on its own
 * (keys, limits shared by two clients, idempotent charges), and two proxy processes (the shipped dev server bundle with
 * PROXY_GATEWAY_TABLE, like two Lambda instances with a function URL) sharing one per-key limit and one budget, a key
 * revoked in the table stopping within the cache TTL, and the table going away mid-run.
 */
import { execFile } from 'child_process';
import { promisify } from 'util';
import Anthropic from '@anthropic-ai/sdk';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { DynamoGateway } from '../../lambda/shared/gateway/dynamodb';
import { DEV_SERVER_BUNDLE, startDevServerProcess, type DevServerProcess } from '../support/dev-server-process';
import { createGatewayTable, digestOf, disableKey, dynamoClient, putKey } from '../support/gateway-table';
import { MotoServer } from '../support/moto-server';

jest.setTimeout(120_000);

const MODEL = 'claude-haiku-4-5';
let moto: MotoServer;
let client: DynamoDBClient;
let tableCount = 0;

async function newTable(): Promise<string> {
  const name = `gateway-${++tableCount}`;
  await createGatewayTable(client, name);
  return name;
}

async function call(proxy: DevServerProcess, key: string, content = 'hi'): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await fetch(`${proxy.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content }] }),
  });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

async function items(table: string): Promise<Array<Record<string, unknown>>> {
  const out = await client.send(new ScanCommand({ TableName: table }));
  return (out.Items ?? []).map((i) => unmarshall(i));
}

beforeAll(async () => {
  moto = await MotoServer.start();
  client = dynamoClient(moto.url);
});
afterAll(async () => {
  client?.destroy();
  await moto?.stop();
});

describe('the DynamoDB store', () => {
  test('finds a key by its digest, and nothing for another', async () => {
    const table = await newTable();
    await putKey(client, table, 'alice', 'sk-llm-alice-0123456789abcdef', { team: 'search', models: ['claude-haiku-4-5'] });
    const store = new DynamoGateway({ tableName: table, client });
    expect(await store.find(digestOf('sk-llm-alice-0123456789abcdef'))).toMatchObject({ name: 'alice', team: 'search', models: ['claude-haiku-4-5'] });
    expect(await store.find(digestOf('sk-llm-someone-else-0123456789'))).toBeUndefined();
  });

  test('a charge that meets concurrent charges (TransactionConflict, as DynamoDB cancels them) is tried again, not lost', async () => {
    const table = await newTable();
    let conflicts = 2;
    // The real client, except that its first two transactions are cancelled the way DynamoDB cancels transactions
    // that meet another on the same items (moto does not: test/support/moto-server.ts).
    const conflicting = {
      send: async (command: { constructor: { name: string } }) => {
        if (command.constructor.name === 'TransactWriteItemsCommand' && conflicts > 0) {
          conflicts--;
          throw Object.assign(new Error('Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]'), {
            name: 'TransactionCanceledException',
            CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }],
          });
        }
        return client.send(command as never);
      },
    };
    const store = new DynamoGateway({ tableName: table, client: conflicting as never });
    const now = Date.now();
    await store.charge({ requestId: 'req_conflict', key: 'alice', model: 'claude-haiku-4-5', usd: 0.25, inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, nowMs: now });
    expect(conflicts).toBe(0);
    expect((await store.spent('alice', now)).day).toBeCloseTo(0.25, 9);
  });

  test('two stores on one table admit exactly the requests-per-minute limit between them', async () => {
    // Each admission is one conditional ADD, which DynamoDB applies atomically; moto's threaded server does not lock
    // conditional updates, so the requests here alternate between the stores one at a time.
    const table = await newTable();
    const a = new DynamoGateway({ tableName: table, client });
    const b = new DynamoGateway({ tableName: table, client: dynamoClient(moto.url) });
    const now = Date.UTC(2026, 11, 3, 12, 0, 10);
    const decisions = [];
    for (let i = 0; i < 12; i++) decisions.push(await (i % 2 ? a : b).admit('alice', { requestsPerMinute: 5 }, now));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    expect(decisions.find((d) => !d.allowed)).toEqual({ allowed: false, limit: 'requests_per_minute', retryAfterSeconds: 50 });
    // The next minute is a new window.
    expect((await a.admit('alice', { requestsPerMinute: 5 }, now + 60_000)).allowed).toBe(true);
  });

  test('tokens recorded by one store count against the token limits the other checks', async () => {
    const table = await newTable();
    const a = new DynamoGateway({ tableName: table, client });
    const b = new DynamoGateway({ tableName: table, client });
    const now = Date.UTC(2026, 11, 3, 23, 59, 0);
    await a.recordTokens('alice', 900, now);
    expect((await b.admit('alice', { tokensPerMinute: 1000 }, now)).allowed).toBe(true);
    await a.recordTokens('alice', 200, now);
    expect(await b.admit('alice', { tokensPerMinute: 1000 }, now)).toMatchObject({ allowed: false, limit: 'tokens_per_minute' });
    expect(await b.admit('alice', { tokensPerDay: 1100 }, now)).toEqual({ allowed: false, limit: 'tokens_per_day', retryAfterSeconds: 60 });
  });

  test('a charge adds to the key and team, day and month, overall and per model; the same request id is charged once', async () => {
    const table = await newTable();
    const store = new DynamoGateway({ tableName: table, client });
    const nowMs = Date.UTC(2026, 11, 3, 12, 0, 0);
    const charge = { requestId: 'req_1', key: 'alice', team: 'search', model: MODEL, usd: 0.25, inputTokens: 100, outputTokens: 50, cacheReadTokens: 10, cacheWriteTokens: 0, nowMs };
    await store.charge(charge);
    await store.charge(charge);
    await store.charge({ ...charge, requestId: 'req_2', usd: 0.5 });
    expect(await store.spent('alice', nowMs)).toEqual({ day: 0.75, month: 0.75 });
    const all = await items(table);
    expect(all.filter((i) => String(i.pk).startsWith('charge#')).map((i) => i.pk).sort()).toEqual(['charge#req_1', 'charge#req_2']);
    const spend = all.filter((i) => String(i.pk).startsWith('spend#'));
    const find = (pk: string, sk: string) => spend.find((i) => i.pk === pk && i.sk === sk);
    expect(find('spend#key#alice', 'day#2026-12-03')).toMatchObject({ usd: 0.75, requests: 2, inputTokens: 200, outputTokens: 100, cacheReadTokens: 20 });
    expect(find('spend#key#alice', `month#2026-12#model#${MODEL}`)).toMatchObject({ usd: 0.75, requests: 2 });
    expect(find('spend#team#search', 'month#2026-12')).toMatchObject({ usd: 0.75, requests: 2 });
    expect(spend.every((i) => typeof i.ttl === 'number' && (i.ttl as number) > nowMs / 1000)).toBe(true);
    expect(spend).toHaveLength(8);
  });
});

describe('two proxy processes on one gateway table (function URL: no VPC, no Redis)', () => {
  let table: string;
  let one: DevServerProcess;
  let two: DevServerProcess;
  const alice = 'sk-llm-alice-shared-0123456789abcdef';
  const bob = 'sk-llm-bob-budget-0123456789abcdefg';

  beforeAll(async () => {
    table = await newTable();
    await putKey(client, table, 'alice', alice, { limits: { requestsPerMinute: 4 } });
    await putKey(client, table, 'bob', bob, { budgets: { dailyUsd: 0.00002 } });
    const env = { ...moto.env(['DYNAMODB']), PROXY_GATEWAY_TABLE: table, PROXY_GATEWAY_CACHE_TTL_SECONDS: '1' };
    [one, two] = await Promise.all([startDevServerProcess({ env }), startDevServerProcess({ env })]);
  });
  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
  });

  test('share one per-key requests-per-minute limit: 4 admitted in all, then 429 from either', async () => {
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(i % 2 ? one : two, alice)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.slice(4)).toEqual([429, 429]);
  });

  test('share one budget: a response charged by one process makes the other refuse with 429 insufficient_quota', async () => {
    expect((await call(one, bob, 'spend it [[mock: words=40]]')).status).toBe(200);
    const refused = await call(two, bob);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { type: 'rate_limit_error', message: expect.stringContaining('daily budget') } });
    const spend = (await items(table)).find((i) => i.pk === 'spend#key#bob' && String(i.sk).startsWith('day#') && !String(i.sk).includes('#model#'));
    expect(spend).toMatchObject({ requests: 1 });
  });

  test('the dev server\'s own key still works beside the table\'s keys, and unknown keys are 401', async () => {
    expect((await call(one, one.key)).status).toBe(200);
    expect((await call(one, 'sk-llm-not-a-key-0123456789abcdef')).status).toBe(401);
  });

  test('a key revoked in the table stops within the cache TTL (1 s here, 30 s by default)', async () => {
    const carol = 'sk-llm-carol-revoked-0123456789abcd';
    await putKey(client, table, 'carol', carol);
    expect((await call(one, carol)).status).toBe(200);
    await disableKey(client, table, carol);
    await new Promise((r) => setTimeout(r, 1_200));
    const revoked = await call(one, carol);
    expect(revoked.status).toBe(401);
    expect(JSON.parse(revoked.body).error.message).toBe('This API key has been revoked.');
  });

  test('the table unreachable mid-run: no crash, limits fail open, budgets fail closed (503), and service resumes', async () => {
    const dave = 'sk-llm-dave-outage-0123456789abcdef';
    const erin = 'sk-llm-erin-outage-0123456789abcdef';
    await putKey(client, table, 'dave', dave, { limits: { requestsPerMinute: 100 } });
    await putKey(client, table, 'erin', erin, { budgets: { monthlyUsd: 100 } });
    expect((await call(one, dave)).status).toBe(200);
    expect((await call(one, erin)).status).toBe(200);
    await moto.stop();
    try {
      // Keys seen in the last TTL keep working; the limiter's failure mode (open by default) admits.
      expect((await call(one, dave)).status).toBe(200);
      const closed = await call(one, erin);
      expect(closed.status).toBe(503);
      expect(closed.body).toContain('Budgets cannot be checked');
    } finally {
      moto = await MotoServer.start(moto.port);
    }
    expect(one.child.exitCode).toBeNull();
    // moto restarts empty: recreate the table and the key, and the same process serves again.
    await createGatewayTable(client, table);
    await putKey(client, table, 'erin', erin, { budgets: { monthlyUsd: 100 } });
    expect((await call(one, erin)).status).toBe(200);
    expect(one.output()).toContain('the spend store is unavailable');
  });
});

describe('the keys CLI end to end: create, use with the Anthropic SDK, usage, revoke', () => {
  test('a key the CLI creates works at once, its usage shows the tokens and cost, and once revoked it is a 401', async () => {
    const table = await newTable();
    const env = { ...process.env, ...moto.env(['DYNAMODB']), NODE_NO_WARNINGS: '1' };
    const cli = async (...args: string[]) => (await promisify(execFile)(process.execPath, [DEV_SERVER_BUNDLE, ...args, '--table', table], { env })).stdout;
    const created = JSON.parse(await cli('keys', 'create', '--name', 'grace', '--team', 'apps', '--monthly-usd', '50', '--json')) as { key: string };
    expect(created.key).toMatch(/^sk-llm-/);
    const proxy = await startDevServerProcess({ env: { ...moto.env(['DYNAMODB']), PROXY_GATEWAY_TABLE: table, PROXY_GATEWAY_CACHE_TTL_SECONDS: '1' } });
    try {
      const anthropic = new Anthropic({ baseURL: proxy.url, apiKey: created.key, maxRetries: 0 });
      const message = await anthropic.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'Hello [[mock: words=20]]' }] });
      const usage = JSON.parse(await cli('usage', '--key', 'grace', '--json')) as { total: { requests: number; inputTokens: number; outputTokens: number; usd: number } };
      // claude-haiku-4-5 list prices: $1 input, $5 output per million tokens.
      expect(usage.total).toMatchObject({ requests: 1, inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens });
      expect(usage.total.usd).toBeCloseTo((message.usage.input_tokens * 1 + message.usage.output_tokens * 5) / 1e6, 9);
      expect(await cli('keys', 'revoke', 'grace')).toContain('Revoked key grace');
      await new Promise((r) => setTimeout(r, 1_200));
      const error = await anthropic.messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'again' }] }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
      expect((error as Error).message).toContain('This API key has been revoked.');
    } finally {
      await proxy.stop();
    }
  });
});
