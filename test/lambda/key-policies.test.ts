/**
 * Key policies through the real pipeline (memory limiter and spend store; the DynamoDB store runs the same checks in
 * test/lambda/gateway-dynamodb.test.ts): allowed models, a key's own limits, daily and monthly budgets charged from the
 * final usage, expiry and revocation, in both protocols. The policy fields come from object entries of the key secret.
 */
import { MemorySpendStore } from '../../lambda/shared/gateway/memory';
import type { Charge, Spent, SpendStore } from '../../lambda/shared/gateway/types';
import { harness, request, run } from '../support/proxy-harness';

const ALICE = 'sk-alice-0123456789abcdef';
const BOB = 'sk-bob-0123456789abcdefgh';
const message = (model: string, content = 'hi') => ({ model, max_tokens: 100, messages: [{ role: 'user', content }] });
const chat = (model: string, content = 'hi') => ({ model, messages: [{ role: 'user', content }] });
const asAlice = { 'x-api-key': ALICE };
const asBob = { 'x-api-key': BOB };

describe('allowed models', () => {
  const keys = { alice: { key: ALICE, models: ['claude-haiku-4-5'] }, bob: { key: BOB, models: ['*'] } };

  test('a model the key may not use is a 403 in the client\'s protocol, naming what it may use; nothing is called', async () => {
    const h = harness({}, { keys });
    const anthropic = await run(h, request('POST', '/v1/messages', message('claude-sonnet-4-6'), asAlice));
    expect(anthropic.status).toBe(403);
    expect(anthropic.json()).toEqual({ type: 'error', error: { type: 'permission_error', message: 'This API key may not use the model claude-sonnet-4-6; it may use: claude-haiku-4-5.' } });
    const openai = await run(h, request('POST', '/v1/chat/completions', chat('claude-sonnet-4-6'), { 'authorization': `Bearer ${ALICE}`, 'x-api-key': '' }));
    expect(openai.status).toBe(403);
    expect(openai.json().error).toMatchObject({ type: 'permission_error', param: 'model', code: 'model_not_allowed' });
    expect(h.upstream.calls).toHaveLength(0);
  });

  test('an allowed model works by id or by alias, and * allows any', async () => {
    const h = harness({}, { keys });
    expect((await run(h, request('POST', '/v1/messages', message('claude-haiku-4-5'), asAlice))).status).toBe(200);
    expect((await run(h, request('POST', '/v1/messages', message('claude-haiku-4-5-20251001'), asAlice))).status).toBe(200);
    expect((await run(h, request('POST', '/v1/messages', message('claude-sonnet-4-6'), asBob))).status).toBe(200);
  });
});

describe('a key\'s own limits', () => {
  test('replace the proxy-wide limits for that key only', async () => {
    const h = harness({ PROXY_RATE_LIMITS: JSON.stringify({ requestsPerMinute: 100 }) }, {
      keys: { alice: { key: ALICE, limits: { requestsPerMinute: 2 } }, bob: BOB },
    });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await run(h, request('POST', '/v1/messages', message('claude-haiku-4-5'), asAlice))).status);
    expect(statuses).toEqual([200, 200, 429]);
    for (let i = 0; i < 3; i++) expect((await run(h, request('POST', '/v1/messages', message('claude-haiku-4-5'), asBob))).status).toBe(200);
  });
});

describe('budgets', () => {
  test('a key is charged each response\'s cost, and refused with 429 insufficient_quota once its daily budget is spent', async () => {
    // claude-haiku-4-5: $1 / $5 per MTok. A few hundred tokens cost well under a cent; the budget is one request's worth.
    const h = harness({}, { keys: { alice: { key: ALICE, team: 'search', budgets: { dailyUsd: 0.0001 } } } });
    const first = await run(h, request('POST', '/v1/messages', message('claude-haiku-4-5', 'Tell me [[mock: words=60]]'), asAlice));
    expect(first.status).toBe(200);
    const spent = await h.spend.spent('alice', Date.now());
    expect(spent.day).toBeGreaterThanOrEqual(0.0001);
    expect(spent.month).toBe(spent.day);
    const refused = await run(h, request('POST', '/v1/chat/completions', chat('claude-haiku-4-5'), { 'authorization': `Bearer ${ALICE}`, 'x-api-key': '' }));
    expect(refused.status).toBe(429);
    expect(refused.json().error).toMatchObject({ type: 'rate_limit_error', code: 'insufficient_quota', message: expect.stringContaining('daily budget of $0.0001') });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(h.meter.records.at(-1)).toMatchObject({ outcome: 'rate_limited' });
    expect(h.upstream.calls).toHaveLength(1);
  });

  test('the charge is the catalogue price of the final usage, with the team and the model, once per request', async () => {
    const charges: Charge[] = [];
    const inner = new MemorySpendStore();
    const spend: SpendStore = { spent: (k, t) => inner.spent(k, t), charge: async (c) => { charges.push(c); await inner.charge(c); } };
    const h = harness({}, { keys: { alice: { key: ALICE, team: 'search' } }, spend });
    await run(h, request('POST', '/v1/messages', { ...message('claude-haiku-4-5'), stream: true }, asAlice));
    expect(charges).toHaveLength(1);
    const record = h.meter.records[0];
    expect(charges[0]).toMatchObject({ key: 'alice', team: 'search', model: 'claude-haiku-4-5', inputTokens: record.inputTokens, outputTokens: record.outputTokens });
    expect(charges[0].usd).toBeCloseTo(record.estimatedCost!, 12);
  });

  test('a stream that breaks mid-way is charged for what was sent', async () => {
    const h = harness({}, { keys: { alice: { key: ALICE } } });
    const sink = await run(h, request('POST', '/v1/messages', { ...message('claude-haiku-4-5', 'go [[mock: words=50 error=internal after=6]]'), stream: true }, asAlice));
    expect(sink.body).toContain('event: error');
    expect((await h.spend.spent('alice', Date.now())).day).toBeGreaterThan(0);
  });

  test('the spend store unavailable: budgets fail closed with 503 by default, and open when configured', async () => {
    const broken: SpendStore = { spent: async (): Promise<Spent> => { throw new Error('connection refused'); }, charge: async () => undefined };
    const keys = { alice: { key: ALICE, budgets: { monthlyUsd: 5 } } };
    const closed = harness({}, { keys, spend: broken });
    const refused = await run(closed, request('POST', '/v1/messages', message('claude-haiku-4-5'), asAlice));
    expect(refused.status).toBe(503);
    expect(refused.json().error.message).toContain('Budgets cannot be checked');
    const open = harness({ PROXY_BUDGET_FAILURE_MODE: 'open' }, { keys, spend: broken });
    expect((await run(open, request('POST', '/v1/messages', message('claude-haiku-4-5'), asAlice))).status).toBe(200);
  });
});

describe('expiry and revocation', () => {
  test('an expired or disabled key is a 401 that says so', async () => {
    const h = harness({}, { keys: { alice: { key: ALICE, expiresAt: '2020-01-01T00:00:00Z' }, bob: { key: BOB, disabled: true } } });
    const expired = await run(h, request('POST', '/v1/messages', message('claude-haiku-4-5'), asAlice));
    expect(expired.status).toBe(401);
    expect(expired.json().error.message).toBe('This API key expired at 2020-01-01T00:00:00Z.');
    const revoked = await run(h, request('POST', '/v1/messages', message('claude-haiku-4-5'), asBob));
    expect(revoked.status).toBe(401);
    expect(revoked.json().error.message).toBe('This API key has been revoked.');
  });

  test('a bad policy in the key secret is a 503 naming the entry and the field, never the key', async () => {
    const h = harness({}, { keys: { alice: { key: ALICE, budgets: { dailyUsd: -1 } } } });
    const sink = await run(h, request('POST', '/v1/messages', message('claude-haiku-4-5'), asAlice));
    expect(sink.status).toBe(503);
    expect(sink.json().error.message).toContain('API key "alice": budgets.dailyUsd must be a positive number of USD');
    expect(sink.body).not.toContain(ALICE);
  });
});
