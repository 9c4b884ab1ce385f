/**
 * The batch worker: one job (one request of a batch) at a time, from SQS (lambda/batch-worker) or the dev server's
 * in-process queue. It calls the model through the same catalogue and upstream layer as POST /v1/messages, writes the
 * result line, charges the submitting key, then ends the request — in that order, so a worker killed at any point
 * leaves a job that, delivered again, ends the request exactly once (lambda/shared/batches/types.ts).
 *
 * Throttling and upstream failures are retried within a delivery (PROXY_BATCH_CALL_ATTEMPTS calls, exponential backoff
 * with jitter), then across deliveries (the job is handed back: SQS makes it visible again after the visibility
 * timeout), and after PROXY_BATCH_MAX_ATTEMPTS deliveries the request ends `errored` with the last error's body.
 */
import { randomInt } from 'crypto';
import { batchKeys, type BatchBackends, type BatchJob, type BatchRecord, type BatchRequestState, type BatchResultType, type BatchWorker } from '../../shared/batches/types';
import type { MessageResponse } from '../../shared/canonical';
import type { SpendStore } from '../../shared/gateway/types';
import { messagesToCanonical } from '../anthropic/request';
import { validateMessagesBody } from '../anthropic/validate';
import type { BatchConfig } from '../config';
import { ProxyError, toProxyError } from '../errors';
import { estimateCost, tokenCounts, type Meter } from '../metering';
import type { ModelCatalogue } from '../pipeline';
import { budgetRefusal, chargeUsage } from '../stages/policy';
import type { ResolvedModel, Upstream } from '../upstream/types';

export interface BatchWorkerDeps {
  readonly backends: Pick<BatchBackends, 'store' | 'objects'>;
  readonly catalogue: ModelCatalogue;
  readonly upstreams: (model: ResolvedModel) => Upstream;
  readonly config: Pick<BatchConfig, 'maxAttempts' | 'callAttempts'> & {
    readonly extraBetas: readonly string[];
    /** When the spend store cannot be read: `closed` (default) retries the request later, `open` runs it unchecked. */
    readonly budgetFailureMode?: 'open' | 'closed';
  };
  /** Spend per key: each request's cost is charged to the key that submitted the batch. */
  readonly spend?: SpendStore;
  readonly meter: Meter;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Delay before model call `n + 1` of a delivery (n ≥ 1). Default: 500 ms × 2^(n−1), ± 20 % jitter, at most 8 s. */
  readonly backoffMs?: (n: number) => number;
  /** Upper bound on one model call (ms). Default 10 minutes. */
  readonly callTimeoutMs?: number;
}

/** Errors another call may not hit: throttling, overload, upstream failures and timeouts. */
const RETRYABLE = new Set(['rate_limit', 'overloaded', 'bad_gateway', 'unavailable', 'timeout', 'internal']);

export function defaultBackoffMs(n: number): number {
  const base = Math.min(8000, 500 * 2 ** (n - 1));
  return Math.round(base * (0.8 + randomInt(0, 401) / 1000));
}

/** One result line of GET …/results (Anthropic's JSONL). */
export function resultLine(customId: string, result: Record<string, unknown>): string {
  return JSON.stringify({ custom_id: customId, result });
}

export function errorResult(error: ProxyError): Record<string, unknown> {
  return { type: 'errored', error: JSON.parse(error.body('anthropic')) as unknown };
}

export function createBatchWorker(deps: BatchWorkerDeps): BatchWorker {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const backoff = deps.backoffMs ?? defaultBackoffMs;
  const { store, objects } = deps.backends;

  async function end(batch: BatchRecord, state: BatchRequestState, type: BatchResultType, result: Record<string, unknown>): Promise<'done'> {
    await objects.put(batchKeys.result(batch.id, state.index), resultLine(state.customId, result));
    await store.finish(batch.id, state.index, type, now());
    return 'done';
  }

  async function process(job: BatchJob, delivery: { readonly attempt: number }): Promise<'done' | 'retry'> {
    const batch = await store.get(job.batchId);
    if (!batch) return 'done'; // deleted
    const state = await store.request(batch.id, job.index);
    if (!state) return 'done';
    if (state.result !== undefined) {
      // Delivered again after it ended (a crash between finish and the queue's delete): finish again only to make
      // sure the batch's own end was recorded; it counts nothing twice.
      await store.finish(batch.id, state.index, state.result, now());
      return 'done';
    }
    if (now() >= batch.expiresAt) return end(batch, state, 'expired', { type: 'expired' });
    if (batch.status !== 'in_progress') return end(batch, state, 'canceled', { type: 'canceled' });

    const started = now();
    const line = await objects.get(batchKeys.input(batch.id), { start: state.start, end: state.end });
    if (!line) {
      return end(batch, state, 'errored', errorResult(new ProxyError('internal', 'The request\'s input could not be read from the batch store.')));
    }
    let params: unknown;
    try {
      params = JSON.parse(line.toString('utf8'));
    } catch {
      return end(batch, state, 'errored', errorResult(new ProxyError('internal', 'The request\'s input in the batch store is not JSON.')));
    }
    // Validated when the batch was submitted; validated again because the catalogue may have changed since.
    const validated = validateMessagesBody(params);
    if (!validated.ok) {
      const e = validated.error;
      return end(batch, state, 'errored', errorResult(new ProxyError('invalid_request', e.path ? `${e.path}: ${e.message}` : e.message)));
    }
    const model = deps.catalogue.resolve(validated.value.model);
    if (!model || (model.kind ?? 'chat') !== 'chat') {
      return end(batch, state, 'errored', errorResult(new ProxyError('not_found', `model: ${validated.value.model} is not a chat model in this proxy's catalogue.`)));
    }
    // The key's budgets, as the proxy checks them before a request: a spent budget ends the request errored (429).
    const budget = await checkBudget(batch, state.index, delivery.attempt);
    if (budget === 'retry') return 'retry';
    if (budget) {
      record(batch, model, state, started, 'errored', undefined, budget.message);
      return end(batch, state, 'errored', errorResult(budget));
    }
    const { request } = messagesToCanonical(validated.value, {
      betaHeader: batch.betaHeader, extraBetas: deps.config.extraBetas, modelNames: [model.id, model.target],
    });
    const upstream = deps.upstreams(model);
    const requestId = `${batch.id}#${state.index}`;

    let response: MessageResponse | undefined;
    let lastError: ProxyError | undefined;
    for (let call = 1; call <= deps.config.callAttempts && !response; call++) {
      const signal = AbortSignal.timeout(deps.callTimeoutMs ?? 600_000);
      try {
        response = await upstream.complete({ request: { ...request, stream: false }, model, signal, requestId });
      } catch (err) {
        lastError = signal.aborted ? new ProxyError('timeout', 'The model did not answer in time.') : toProxyError(err);
        if (!RETRYABLE.has(lastError.kind)) break;
        if (call < deps.config.callAttempts) await sleep(backoff(call));
      }
    }
    if (!response) {
      const error = lastError ?? new ProxyError('internal', 'The model call failed.');
      if (RETRYABLE.has(error.kind) && delivery.attempt < deps.config.maxAttempts) {
        deps.meter.warn('a batch request will be retried', { requestId, attempt: delivery.attempt, error: error.message });
        return 'retry';
      }
      record(batch, model, state, started, 'errored', undefined, error.message);
      return end(batch, state, 'errored', errorResult(error));
    }
    const message = { ...response, model: request.model };
    await objects.put(batchKeys.result(batch.id, state.index), resultLine(state.customId, { type: 'succeeded', message }));
    const usd = await charge(batch, model, requestId, response);
    await store.finish(batch.id, state.index, 'succeeded', now());
    record(batch, model, state, started, 'succeeded', response, undefined, usd);
    return 'done';
  }

  /** The budget refusal for this request, 'retry' when the spend store cannot say (fail closed), else undefined. */
  async function checkBudget(batch: BatchRecord, index: number, attempt: number): Promise<ProxyError | 'retry' | undefined> {
    if (!batch.budgets || !deps.spend) return undefined;
    let spent;
    try {
      spent = await deps.spend.spent(batch.owner, now());
    } catch (err) {
      const mode = deps.config.budgetFailureMode ?? 'closed';
      deps.meter.warn('the spend store is unavailable', { requestId: `${batch.id}#${index}`, error: err instanceof Error ? err.name : String(err), failureMode: mode });
      if (mode === 'open') return undefined;
      if (attempt < deps.config.maxAttempts) return 'retry';
      return new ProxyError('unavailable', 'Budgets could not be checked, and this proxy runs no request until they can.');
    }
    return budgetRefusal(batch.budgets, spent, now());
  }

  async function charge(batch: BatchRecord, model: ResolvedModel, requestId: string, response: MessageResponse): Promise<number | undefined> {
    // The request id is the same on every delivery, so a charge repeated after a crash is applied once.
    if (deps.spend) {
      await chargeUsage(deps.spend, deps.meter, { requestId, key: batch.owner, team: batch.team, model, usage: response.usage, nowMs: now() });
    }
    return estimateCost(tokenCounts(response.usage), model.pricing);
  }

  function record(
    batch: BatchRecord, model: ResolvedModel, state: BatchRequestState, started: number, result: BatchResultType,
    response?: MessageResponse, error?: string, usd?: number,
  ): void {
    meterBatchRequest(deps.meter, { batch, model, index: state.index, durationMs: now() - started, result, response, error, usd });
  }

  return { process };
}

/** The usage record (EMF) of one request of a batch, however it ran. */
export function meterBatchRequest(meter: Meter, r: {
  readonly batch: BatchRecord;
  readonly model: ResolvedModel;
  readonly index: number;
  readonly durationMs: number;
  readonly result: BatchResultType;
  readonly response?: MessageResponse;
  readonly error?: string;
  readonly usd?: number;
}): void {
  const tokens = r.response ? tokenCounts(r.response.usage) : { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 };
  meter.record({
    requestId: `${r.batch.id}#${r.index}`,
    method: 'BATCH',
    path: `/v1/messages/batches/${r.batch.id}`,
    route: 'batch_request',
    protocol: 'anthropic',
    status: r.result === 'succeeded' ? 200 : 500,
    outcome: r.result === 'succeeded' ? 'ok' : 'upstream_error',
    identity: r.batch.owner,
    key: r.batch.meterKey ?? 'other',
    team: r.batch.team,
    model: r.model.requested,
    target: r.model.target,
    stream: false,
    ...tokens,
    estimatedCost: r.usd,
    durationMs: r.durationMs,
    error: r.error,
  });
}
