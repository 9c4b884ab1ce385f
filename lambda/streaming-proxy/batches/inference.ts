/**
 * Bedrock batch inference, the worker's side: when a job the proxy created changes state (EventBridge "Batch Inference
 * Job State Change" → the batch worker), `settle` asks Bedrock for the job's status and, once the job has ended, turns
 * its output records into the batch's results — the same result objects, charges and `finish` as the queue path
 * (worker.ts), so GET …/results cannot tell the two apart and an event delivered twice ends each request once.
 *
 * The output is Bedrock's JSONL: one `{recordId, modelInput, modelOutput}` line per record it ran (modelOutput is the
 * InvokeModel response body: a Claude Messages response), or `{recordId, modelInput, error: {errorCode, errorMessage}}`.
 * A request with no output line ends by how the job ended: `canceled` after a cancel (Stopped), `expired` (Expired),
 * `errored` with Bedrock's message (Failed, or a record Bedrock skipped).
 *
 * Charges are at half the catalogue's prices: Bedrock bills batch inference at 50 % of on-demand.
 */
import {
  batchIdOfJobName, batchKeys, ENDED_JOB_STATUSES, indexOfRecordId,
  type BatchBackends, type BatchRecord, type BatchRequestState, type BatchResultType, type InferenceJobInfo,
} from '../../shared/batches/types';
import { UpstreamError, type MessageResponse } from '../../shared/canonical';
import type { SpendStore } from '../../shared/gateway/types';
import { ProxyError, toProxyError } from '../errors';
import { estimateCost, tokenCounts, type Meter } from '../metering';
import type { ModelCatalogue } from '../pipeline';
import { errorResult, meterBatchRequest, resultLine } from './worker';
import { chargeUsage } from '../stages/policy';
import { claudeResponse } from '../upstream/anthropic-native';
import { mapLimit } from '../upstream/bedrock-embed';
import { kindForStatus } from '../upstream/errors';
import type { ModelPricing, ResolvedModel } from '../upstream/types';

/** Bedrock's batch inference price as a share of on-demand. */
export const BATCH_INFERENCE_PRICE_FACTOR = 0.5;

/** Requests of one job ended at once (each is an S3 put and a DynamoDB transaction). */
const SETTLE_CONCURRENCY = 16;

export interface InferenceSettlerDeps {
  readonly backends: Pick<BatchBackends, 'store' | 'objects' | 'jobs'>;
  readonly catalogue: ModelCatalogue;
  readonly spend?: SpendStore;
  readonly meter: Meter;
  readonly now?: () => number;
}

/**
 * `ended`: the job has ended and every request of its batch with it; `running`: the job has not ended (a later event
 * will say when it has); `unknown`: not a job of this proxy's batches (another application's, or a deleted batch).
 */
export type SettleOutcome = 'ended' | 'running' | 'unknown';

export interface InferenceSettler {
  settle(jobArn: string): Promise<SettleOutcome>;
}

interface OutputRecord {
  readonly modelOutput?: unknown;
  readonly error?: { readonly errorCode?: unknown; readonly errorMessage?: unknown };
}

export function halfPriced(model: ResolvedModel): ResolvedModel {
  const p = model.pricing;
  if (!p) return model;
  const scale = (n: number | undefined) => (n === undefined ? undefined : n * BATCH_INFERENCE_PRICE_FACTOR);
  const pricing: ModelPricing = {
    inputPerMTok: p.inputPerMTok * BATCH_INFERENCE_PRICE_FACTOR,
    outputPerMTok: p.outputPerMTok * BATCH_INFERENCE_PRICE_FACTOR,
    ...(p.cacheWritePerMTok !== undefined ? { cacheWritePerMTok: scale(p.cacheWritePerMTok) } : {}),
    ...(p.cacheReadPerMTok !== undefined ? { cacheReadPerMTok: scale(p.cacheReadPerMTok) } : {}),
  };
  return { ...model, pricing };
}

/** The output records by request index (lines that name no request of ours are skipped). */
export function parseOutput(body: Buffer | undefined): Map<number, OutputRecord> {
  const out = new Map<number, OutputRecord>();
  if (!body) return out;
  for (const line of body.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    const index = indexOfRecordId((value as { recordId?: unknown }).recordId);
    if (index !== undefined) out.set(index, value as OutputRecord);
  }
  return out;
}

/** Bedrock's per-record error as the error an Anthropic batch result carries. */
export function recordError(error: NonNullable<OutputRecord['error']>): ProxyError {
  const code = Number(error.errorCode);
  const message = typeof error.errorMessage === 'string' && error.errorMessage ? error.errorMessage : 'Bedrock batch inference could not run this request.';
  return toProxyError(new UpstreamError(Number.isInteger(code) ? kindForStatus(code) : 'internal', `Bedrock batch inference: ${message}`));
}

export function createInferenceSettler(deps: InferenceSettlerDeps): InferenceSettler {
  const now = deps.now ?? Date.now;
  const { store, objects, jobs } = deps.backends;

  async function settle(jobArn: string): Promise<SettleOutcome> {
    if (!jobs) return 'unknown';
    const job = await jobs.get(jobArn);
    const batchId = job ? batchIdOfJobName(job.name) : undefined;
    if (!job || !batchId) return 'unknown';
    const batch = await store.get(batchId);
    if (!batch || batch.inferenceJob !== job.arn) return 'unknown';
    if (!ENDED_JOB_STATUSES.has(job.status)) return 'running';

    const states = await store.requests(batch.id);
    const open = states.filter((s) => s.result === undefined);
    if (open.length === 0) {
      // Every request ended (an event delivered again): finish once more only so that the batch's own end is recorded.
      if (states.length > 0) await store.finish(batch.id, states[0].index, states[0].result!, now());
      return 'ended';
    }
    const input = await objects.get(batchKeys.input(batch.id));
    const output = parseOutput(await objects.get(batchKeys.inferenceOutput(batch.id, job.arn)));
    await mapLimit(open, SETTLE_CONCURRENCY, (state) => end(batch, job, state, input, output.get(state.index)));
    return 'ended';
  }

  async function end(
    batch: BatchRecord, job: InferenceJobInfo, state: BatchRequestState, input: Buffer | undefined, record: OutputRecord | undefined,
  ): Promise<void> {
    const requested = modelOf(input, state);
    const resolved = requested !== undefined ? deps.catalogue.resolve(requested) : undefined;
    let type: BatchResultType;
    let result: Record<string, unknown>;
    let response: MessageResponse | undefined;
    let error: ProxyError | undefined;
    if (record?.modelOutput !== undefined) {
      try {
        response = claudeResponse(record.modelOutput, requested ?? resolved?.requested ?? 'unknown', 'Bedrock batch inference');
      } catch (err) {
        error = toProxyError(err);
      }
    } else if (record?.error) {
      error = recordError(record.error);
    }
    if (response) {
      type = 'succeeded';
      result = { type, message: response };
    } else if (error) {
      type = 'errored';
      result = errorResult(error);
    } else if (job.status === 'Stopped' && batch.status !== 'in_progress') {
      type = 'canceled';
      result = { type };
    } else if (job.status === 'Expired') {
      type = 'expired';
      result = { type };
    } else {
      error = new ProxyError('bad_gateway', job.status === 'Failed'
        ? `The Bedrock batch inference job failed: ${job.message ?? 'no reason given'}.`
        : `The Bedrock batch inference job ended ${job.status} without a result for this request.`);
      type = 'errored';
      result = errorResult(error);
    }
    await objects.put(batchKeys.result(batch.id, state.index), resultLine(state.customId, result));
    let usd: number | undefined;
    if (response && resolved) {
      const model = halfPriced(resolved);
      // The request id is the same however often the job's event arrives, so the charge is applied once.
      if (deps.spend) {
        await chargeUsage(deps.spend, deps.meter, {
          requestId: `${batch.id}#${state.index}`, key: batch.owner, team: batch.team, model, usage: response.usage, nowMs: now(),
        });
      }
      usd = estimateCost(tokenCounts(response.usage), model.pricing);
    }
    const first = await store.finish(batch.id, state.index, type, now());
    if (first && resolved) {
      meterBatchRequest(deps.meter, {
        batch,
        model: resolved,
        index: state.index,
        durationMs: Math.max(0, now() - batch.createdAt),
        result: type,
        response,
        error: error?.message,
        usd,
      });
    }
  }

  return { settle };
}

/** The model name the request asked for (its `params.model`), read from the batch's input by the request's byte range. */
function modelOf(input: Buffer | undefined, state: BatchRequestState): string | undefined {
  if (!input) return undefined;
  try {
    const params = JSON.parse(input.subarray(state.start, state.end).toString('utf8')) as { model?: unknown };
    return typeof params.model === 'string' ? params.model : undefined;
  } catch {
    return undefined;
  }
}
