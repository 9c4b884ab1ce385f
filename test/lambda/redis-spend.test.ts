/**
 * RedisSpendStore against a real redis-server as VpcRedisSessions' ACL user: budgets' spend shared by every instance
 * of a VPC proxy without a gateway table, charged once per request id.
 */
import { RedisConnection } from '../../lambda/shared/redis/connection';
import { RedisSpendStore } from '../../lambda/shared/redis/spend';
import { SESSIONS_USER_ACCESS_STRING } from '../../src/vpc-redis-sessions/access-string';
import { clientTls, describeTransport, RedisTestServer } from '../support/redis-server';

const USER = { name: 'proxy', password: 'proxy-password-for-tests', rules: SESSIONS_USER_ACCESS_STRING };
const T0 = Date.UTC(2026, 11, 31, 23, 59, 0);

let server: RedisTestServer;
const connections: RedisConnection[] = [];

function instance(): RedisSpendStore {
  const connection = new RedisConnection({
    host: server.host,
    port: server.port,
    tls: clientTls(server),
    credentials: { get: async () => ({ username: USER.name, password: USER.password }) },
    connectTimeoutMs: 15_000,
    commandTimeoutMs: 10_000,
  });
  connections.push(connection);
  return new RedisSpendStore(connection);
}

const charge = (requestId: string, usd: number, nowMs = T0) => ({
  requestId, key: 'ada', team: 'search', model: 'claude-haiku-4-5', usd, inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, nowMs,
});

beforeAll(async () => {
  server = await RedisTestServer.start({ users: [USER] });
});
afterAll(async () => {
  await Promise.all(connections.map((c) => c.close()));
  await server.dispose();
});

describe(`RedisSpendStore against a real redis-server ${describeTransport()}`, () => {
  test('charges from two instances add up for the day and the month; a repeated request id is charged once', async () => {
    const a = instance();
    const b = instance();
    await a.charge(charge('req_1', 0.000021));
    await b.charge(charge('req_2', 1.5));
    await b.charge(charge('req_1', 0.000021));
    expect(await a.spent('ada', T0)).toEqual({ day: 1.500021, month: 1.500021 });
    // The next minute is a new UTC day, month and year: nothing spent yet.
    expect(await b.spent('ada', T0 + 60_000)).toEqual({ day: 0, month: 0 });
    expect(await b.spent('someone-else', T0)).toEqual({ day: 0, month: 0 });
  });

  test('every key it writes is under llm: with a TTL', async () => {
    const store = instance();
    await store.charge(charge('req_ttl', 0.25));
    const keys = server.cli('--scan', '--pattern', 'llm:sp:*').split('\n').filter(Boolean);
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const key of keys) expect(Number(server.cli('TTL', key))).toBeGreaterThan(0);
  });
});
