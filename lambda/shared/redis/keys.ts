/**
 * Key layout. Everything lives under `llm:` — the only key pattern the ElastiCache user created by VpcRedisSessions may
 * touch (`~llm:*`). The identity is percent-encoded inside a hash tag, so one identity's keys never collide with
 * another's and would land in one slot if the cache were ever sharded (Lua scripts need all their keys in one slot).
 */

export const KEY_PREFIX = 'llm:';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

function tag(identity: string): string {
  if (identity.length === 0) throw new Error('An identity must not be empty.');
  return `{${encodeURIComponent(identity)}}`;
}

/** The counters of one identity's rate limits at `nowMs`. */
export function rateLimitKeys(identity: string, nowMs: number): { requests: string; tokens: string; day: string } {
  const t = tag(identity);
  return {
    // Sorted sets scored by time (ms): admissions, and token usage as `<unique id>:<tokens>` members.
    requests: `${KEY_PREFIX}rl:${t}:req`,
    tokens: `${KEY_PREFIX}rl:${t}:tok`,
    // The UTC day's token total.
    day: `${KEY_PREFIX}rl:${t}:day:${Math.floor(nowMs / DAY_MS)}`,
  };
}

/** The stored conversation of one identity's session. */
export function sessionKey(identity: string, sessionId: string): string {
  return `${KEY_PREFIX}s:${tag(identity)}:${sessionId}`;
}

export { MINUTE_MS, DAY_MS };
