import type { CanonicalMessage } from '../../lambda/shared/canonical';
import { MemorySessionStore } from '../../lambda/shared/memory-sessions';
import { trimConversation } from '../../lambda/shared/session-trim';

const turn = (i: number): CanonicalMessage[] => [
  { role: 'user', content: `question ${i}` },
  { role: 'assistant', content: [{ type: 'text', text: `answer ${i}` }] },
];

describe('MemorySessionStore', () => {
  test('returns what was saved, as a copy, per identity and session id', async () => {
    const store = new MemorySessionStore({ ttlSeconds: 60, maxBytes: 10_000 });
    const messages = turn(1);
    await store.save('alice', 's1', messages);
    const loaded = await store.load('alice', 's1');
    expect(loaded).toEqual(messages);
    loaded!.push({ role: 'user', content: 'mutated' });
    expect(await store.load('alice', 's1')).toEqual(messages);
    expect(await store.load('bob', 's1')).toBeUndefined();
    expect(await store.load('alice', 's2')).toBeUndefined();
  });

  test('expires a session after its TTL', async () => {
    let now = 1_000_000;
    const store = new MemorySessionStore({ ttlSeconds: 10, maxBytes: 10_000, now: () => now });
    await store.save('alice', 's1', turn(1));
    now += 9_999;
    expect(await store.load('alice', 's1')).toBeDefined();
    now += 2;
    expect(await store.load('alice', 's1')).toBeUndefined();
  });

  test('drops the oldest turns to stay under the size cap', async () => {
    const messages = [...turn(1), ...turn(2), ...turn(3)];
    const full = JSON.stringify(messages).length;
    const store = new MemorySessionStore({ ttlSeconds: 60, maxBytes: full - 1 });
    await store.save('alice', 's1', messages);
    expect(await store.load('alice', 's1')).toEqual([...turn(2), ...turn(3)]);
  });

  test('keeps the least recently used sessions out beyond maxSessions', async () => {
    const store = new MemorySessionStore({ ttlSeconds: 60, maxBytes: 10_000, maxSessions: 2 });
    await store.save('a', 's', turn(1));
    await store.save('b', 's', turn(1));
    await store.load('a', 's');
    await store.save('c', 's', turn(1));
    expect(await store.load('a', 's')).toBeDefined();
    expect(await store.load('b', 's')).toBeUndefined();
  });
});

describe('trimConversation', () => {
  test('never starts a conversation with a tool result', () => {
    const messages: CanonicalMessage[] = [
      { role: 'user', content: 'x'.repeat(200) },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok' }] },
      { role: 'assistant', content: 'done' },
      { role: 'user', content: 'next' },
      { role: 'assistant', content: 'fine' },
    ];
    const json = trimConversation(messages, 250);
    expect(JSON.parse(json!)).toEqual(messages.slice(4));
  });

  test('returns exactly the serialized conversation when it fits', () => {
    const messages = turn(1);
    expect(trimConversation(messages, 10_000)).toBe(JSON.stringify(messages));
    expect(trimConversation(messages, JSON.stringify(messages).length)).toBe(JSON.stringify(messages));
  });

  test('returns undefined when not even the last turn fits', () => {
    expect(trimConversation(turn(1), 5)).toBeUndefined();
  });
});
