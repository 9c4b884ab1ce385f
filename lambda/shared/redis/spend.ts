/**
 * Spend per key on Redis, for budgets shared by every instance of a proxy that uses VpcRedisSessions (and no gateway
 * table): the key's USD per UTC day and month, in nano-USD integers (the ElastiCache user may run INCRBY, not
 * INCRBYFLOAT). A charge is one Lua script — a marker for the request id (SET NX), then the two INCRBYs — so a
 * retried charge is applied once. Spend for reports (team, model, tokens) is kept by the gateway table only.
 */
import type { RedisConnection } from './connection';
import { KEY_PREFIX } from './keys';
import { LuaScript } from './script';
import { utcDay, utcMonth } from '../gateway/schema';
import type { Charge, SpendStore, Spent } from '../gateway/types';

const NANO = 1_000_000_000;
/** Day totals are kept two days, month totals 32 days after their last charge, markers a day. */
const DAY_TTL_SECONDS = 2 * 86_400;
const MONTH_TTL_SECONDS = 32 * 86_400;
const MARKER_TTL_SECONDS = 86_400;

const CHARGE = new LuaScript(`
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[4]) then return 0 end
redis.call('INCRBY', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('INCRBY', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[3])
return 1
`);

function spendKeys(key: string, nowMs: number): { day: string; month: string; tag: string } {
  const tag = `{${encodeURIComponent(key)}}`;
  return { tag, day: `${KEY_PREFIX}sp:${tag}:d:${utcDay(nowMs)}`, month: `${KEY_PREFIX}sp:${tag}:m:${utcMonth(nowMs)}` };
}

export class RedisSpendStore implements SpendStore {
  constructor(private readonly connection: RedisConnection) {}

  public async spent(key: string, nowMs: number): Promise<Spent> {
    const keys = spendKeys(key, nowMs);
    const [day, month] = await this.connection.run((client) => Promise.all([client.get(keys.day), client.get(keys.month)]));
    return { day: Number(day ?? 0) / NANO, month: Number(month ?? 0) / NANO };
  }

  public async charge(c: Charge): Promise<void> {
    const nano = Math.round(c.usd * NANO);
    if (nano <= 0) return;
    const keys = spendKeys(c.key, c.nowMs);
    const marker = `${KEY_PREFIX}sp:${keys.tag}:c:${c.requestId}`;
    const args = [nano, DAY_TTL_SECONDS, MONTH_TTL_SECONDS, MARKER_TTL_SECONDS];
    await this.connection.run((client) => CHARGE.run(client, [marker, keys.day, keys.month], args));
  }
}
