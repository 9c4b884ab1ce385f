/**
 * The meter stage's record: what one exchange did (route, identity, key and team, model, tokens, cost, timings,
 * outcome), for the log line and the EMF metrics (metering.ts).
 */
import { estimateCost, tokenCounts, type RequestRecord } from '../metering';
import type { Exchange } from './exchange';

/** The record of an exchange that ended at `end` (epoch ms). */
export function toRecord(x: Exchange, end: number): RequestRecord {
  const tokens = tokenCounts(x.usage.usage);
  return {
    requestId: x.request.requestId,
    method: x.request.method,
    path: x.request.path.length > 200 ? `${x.request.path.slice(0, 200)}…` : x.request.path,
    route: x.route,
    protocol: x.protocol,
    status: x.status,
    outcome: x.outcome,
    identity: x.identity?.id,
    key: x.identity ? (x.identity.method === 'api-key' ? x.identity.id : 'other') : undefined,
    team: x.identity?.policy?.team,
    model: x.model?.requested,
    target: x.model?.target,
    stream: x.stream,
    ...tokens,
    estimatedCost: estimateCost(tokens, x.model?.pricing),
    timeToFirstTokenMs: x.usage.firstTokenAt === undefined ? undefined : x.usage.firstTokenAt - x.started,
    durationMs: end - x.started,
    error: x.error,
    rateLimiterUnavailable: x.limiterDegraded || undefined,
    sessionId: x.sessionId,
    dropped: x.dropped,
  };
}
