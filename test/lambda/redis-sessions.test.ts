import type { CanonicalMessage } from '../../lambda/shared/canonical';
import { RedisConnection } from '../../lambda/shared/redis/connection';
import { RedisSessionStore } from '../../lambda/shared/redis/session-store';
import { SESSIONS_USER_ACCESS_STRING } from '../../src/vpc-redis-sessions/access-string';
import { clientTls, describeTransport, RedisTestServer } from '../support/redis-server';

const USER = { name: 'proxy', password: 'proxy-password-for-tests', rules: SESSIONS_USER_ACCESS_STRING };

let server: RedisTestServer;
const connections: RedisConnection[] = [];

function instance(): RedisConnection {
  const connection = new RedisConnection({
    host: server.host,
    port: server.port,
    tls: clientTls(server),
    credentials: { get: async () => ({ username: USER.name, password: USER.password }) },
  });
  connections.push(connection);
  return connection;
}

beforeAll(async () => {
  server = await RedisTestServer.start({ users: [USER] });
});
afterAll(async () => {
  await Promise.all(connections.map((c) => c.close()));
  await server.dispose();
});

const user = (text: string): CanonicalMessage => ({ role: 'user', content: text });
const assistant = (text: string): CanonicalMessage => ({ role: 'assistant', content: text });

const toolTurn: CanonicalMessage[] = [
  user('What is the weather in Paris?'),
  { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } }] },
  { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '18 C, cloudy' }] },
  assistant('It is 18 C and cloudy in Paris.'),
];

describe(`RedisSessionStore against a real redis-server ${describeTransport()}`, () => {
  test('round-trips a conversation with tool use, thinking and images exactly', async () => {
    const store = new RedisSessionStore({ connection: instance() });
    const conversation: CanonicalMessage[] = [
      ...toolTurn,
      { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }, { type: 'text', text: 'and this? ünïcödé ✓' }] },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'Looking at the image…', signature: 'sig-abc' }, { type: 'text', text: 'A tiny PNG.' }] },
    ];
    await store.save('alice', 'conv-1', conversation);
    expect(await store.load('alice', 'conv-1')).toEqual(conversation);
  });

  test('survives a cold start: a new client instance reads what another one committed', async () => {
    const writer = instance();
    await new RedisSessionStore({ connection: writer }).save('alice', 'cold', [user('hi'), assistant('hello')]);
    await writer.close();
    const reader = new RedisSessionStore({ connection: instance() });
    expect(await reader.load('alice', 'cold')).toEqual([user('hi'), assistant('hello')]);
  });

  test('returns undefined for an unknown session and never shows one identity the session of another', async () => {
    const store = new RedisSessionStore({ connection: instance() });
    await store.save('alice', 'private', [user('secret plans')]);
    expect(await store.load('bob', 'private')).toBeUndefined();
    expect(await store.load('alice', 'nope')).toBeUndefined();
  });

  test('sets the TTL on every save and lets the session expire', async () => {
    const store = new RedisSessionStore({ connection: instance(), ttlSeconds: 1 });
    await store.save('alice', 'short', [user('hi')]);
    const key = 'llm:s:{alice}:short';
    expect(Number(server.cli('PTTL', key))).toBeGreaterThan(0);
    expect(Number(server.cli('PTTL', key))).toBeLessThanOrEqual(1000);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await store.load('alice', 'short')).toBeUndefined();
    const longer = new RedisSessionStore({ connection: instance(), ttlSeconds: 86_400 });
    await longer.save('alice', 'long', [user('hi')]);
    expect(Number(server.cli('TTL', 'llm:s:{alice}:long'))).toBeGreaterThan(86_000);
  });

  test('caps the stored size by dropping the oldest turns and keeps a valid conversation', async () => {
    const history: CanonicalMessage[] = [];
    for (let i = 0; i < 20; i++) history.push(user(`question ${i} ${'x'.repeat(100)}`), assistant(`answer ${i} ${'y'.repeat(100)}`));
    const maxBytes = 1000;
    const store = new RedisSessionStore({ connection: instance(), maxBytes });
    await store.save('alice', 'capped', history);
    const stored = (await store.load('alice', 'capped'))!;
    expect(Buffer.byteLength(JSON.stringify(stored))).toBeLessThanOrEqual(maxBytes);
    expect(stored.length).toBeGreaterThan(2);
    expect(stored).toEqual(history.slice(history.length - stored.length));
    expect(stored[0].role).toBe('user');
    expect(stored[stored.length - 1]).toEqual(history[history.length - 1]);
    expect(Buffer.byteLength(server.cli('GET', 'llm:s:{alice}:capped'))).toBeLessThanOrEqual(maxBytes);
  });

  test('never keeps a tool result whose tool call was dropped', async () => {
    const conversation = [...toolTurn, user('thanks'), assistant('you are welcome')];
    // Room for everything but the first question: the tool call and its result must go too.
    const store = new RedisSessionStore({ connection: instance(), maxBytes: Buffer.byteLength(JSON.stringify(conversation.slice(1))) });
    await store.save('alice', 'tools', conversation);
    expect(await store.load('alice', 'tools')).toEqual([user('thanks'), assistant('you are welcome')]);
  });

  test('deletes the session when even the newest turn does not fit', async () => {
    const store = new RedisSessionStore({ connection: instance(), maxBytes: 50 });
    await new RedisSessionStore({ connection: instance() }).save('alice', 'huge', [user('small')]);
    await store.save('alice', 'huge', [user('x'.repeat(200))]);
    expect(await store.load('alice', 'huge')).toBeUndefined();
    expect(server.cli('EXISTS', 'llm:s:{alice}:huge')).toBe('0');
  });

  test('rejects session ids outside the documented pattern before touching Redis', async () => {
    const store = new RedisSessionStore({ connection: instance() });
    await expect(store.save('alice', 'bad id with spaces', [user('x')])).rejects.toThrow(/session id/);
    await expect(store.load('alice', 'x'.repeat(129))).rejects.toThrow(/session id/);
    await expect(store.load('alice', '*')).rejects.toThrow(/session id/);
  });

  test('gives concurrent saves of one session last-writer-wins, never a mix', async () => {
    const stores = Array.from({ length: 5 }, () => new RedisSessionStore({ connection: instance() }));
    const versions = Array.from({ length: 50 }, (_, i) => [user(`v${i}`), assistant(`a${i}`.repeat(50))]);
    await Promise.all(versions.map((v, i) => stores[i % 5].save('alice', 'race', v)));
    const stored = await stores[0].load('alice', 'race');
    expect(versions).toContainEqual(stored);
  });

  test('round-trips without TLS as well (the harness mode for redis-server builds that lack TLS)', async () => {
    const plain = await RedisTestServer.start({ tls: false, users: [USER] });
    const connection = new RedisConnection({
      host: plain.host,
      port: plain.port,
      tls: false,
      credentials: { get: async () => ({ username: USER.name, password: USER.password }) },
    });
    try {
      const store = new RedisSessionStore({ connection });
      await store.save('alice', 'plain', [user('hi'), assistant('hello')]);
      expect(await store.load('alice', 'plain')).toEqual([user('hi'), assistant('hello')]);
      expect(plain.tls).toBe(false);
    } finally {
      await connection.close();
      await plain.dispose();
    }
  });
});
