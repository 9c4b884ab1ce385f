/**
 * The Message Batches front end: POST/GET /v1/messages/batches, GET/DELETE /v1/messages/batches/{id},
 * POST …/{id}/cancel and GET …/{id}/results (JSONL, streamed), shaped as Anthropic's API returns them so the SDKs'
 * `client.messages.batches.*` work unchanged. Each request of a batch is validated exactly as POST /v1/messages
 * validates it; a bad entry rejects the whole batch, naming its index and custom_id. A batch is visible only to the
 * identity that submitted it (anyone else gets the 404 an unknown id gets). The work itself is the worker's (worker.ts).
 */
import { randomBytes } from 'crypto';
import {
  BATCH_TTL_MS, batchKeys, emptyCounts, inferenceJobName, newBatchId, recordIdOf,
  type BatchBackends, type BatchJob, type BatchRecord, type BatchRequestRef, type BatchRequestState,
} from '../../shared/batches/types';
import { messagesToCanonical } from '../anthropic/request';
import { validateMessagesBody, type MessagesBody } from '../anthropic/validate';
import { MAX_INFERENCE_RECORDS, type BatchConfig, type BatchInferenceConfig } from '../config';
import { ProxyError } from '../errors';
import type { ResponseSink } from '../http';
import type { ModelCatalogue } from '../pipeline';
import { bodyUnlessHead, JSON_TYPE, send, type Exchange } from '../stages/exchange';
import { anthropicBody } from '../upstream/anthropic-native';
import type { ResolvedModel } from '../upstream/types';
import { parseJsonBody } from '../validation';
import { errorResult, resultLine } from './worker';
import { modelAllowed } from '../../shared/gateway/schema';

export const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;
/** Jobs sent to the queue per call (SQS SendMessageBatch takes 10; the store groups them itself). */
const SEND_CHUNK = 500;
/** Result objects read ahead of the one being written, when streaming results. */
const READ_AHEAD = 8;

export interface BatchesApiDeps {
  readonly backends: BatchBackends;
  readonly catalogue: ModelCatalogue;
  readonly config: Pick<BatchConfig, 'maxRequests' | 'inference'> & { readonly extraBetas?: readonly string[] };
  /** The proxy's region: a model whose catalogue entry names another region takes the queue path. */
  readonly region?: string;
  /** Operational warnings (Bedrock refused a batch inference job; stopping one failed). */
  readonly warn?: (message: string, details: Record<string, unknown>) => void;
  /** The policy check before a submission: budgets and the rate limit (one request per batch). */
  readonly admit: (x: Exchange) => Promise<void>;
  readonly now: () => number;
  /** The scheme of results_url when no x-forwarded-proto says (`https` deployed, `http` in the dev server). */
  readonly scheme?: 'http' | 'https';
}

export type BatchRouteName = 'batches' | 'batch' | 'batch_cancel' | 'batch_results';

export interface BatchesApi {
  handle(sink: ResponseSink, x: Exchange, route: BatchRouteName, batchId?: string): Promise<void>;
}

export function createBatchesApi(deps: BatchesApiDeps): BatchesApi {
  const { store, objects, queue, jobs } = deps.backends;
  const warn = deps.warn ?? (() => undefined);

  async function handle(sink: ResponseSink, x: Exchange, route: BatchRouteName, batchId?: string): Promise<void> {
    const method = x.request.method;
    switch (route) {
      case 'batches':
        return method === 'POST' ? create(sink, x) : list(sink, x);
      case 'batch':
        return method === 'DELETE' ? remove(sink, x, batchId!) : retrieve(sink, x, batchId!);
      case 'batch_cancel':
        return cancel(sink, x, batchId!);
      case 'batch_results':
        return results(sink, x, batchId!);
    }
  }

  async function create(sink: ResponseSink, x: Exchange): Promise<void> {
    const body = parse(x);
    const requests = (body as { requests?: unknown }).requests;
    if (!Array.isArray(requests)) throw field('requests', 'requests: must be an array of {custom_id, params} objects');
    if (requests.length === 0) throw field('requests', 'requests: must have at least one request');
    if (requests.length > deps.config.maxRequests) {
      throw field('requests', `requests: a batch may have at most ${deps.config.maxRequests} requests on this proxy; this one has ${requests.length}`);
    }
    const extra = Object.keys(body).filter((k) => k !== 'requests');
    if (extra.length > 0) throw field(extra[0], `${extra[0]}: unknown field; a batch body has only \`requests\``);

    const policy = x.identity?.policy;
    const seen = new Set<string>();
    const lines: string[] = [];
    const refs: BatchRequestRef[] = [];
    const entries: { readonly body: MessagesBody; readonly model: ResolvedModel }[] = [];
    let offset = 0;
    requests.forEach((entry: unknown, index: number) => {
      const at = `requests[${index}]`;
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw field(`requests.${index}`, `${at}: must be an object with custom_id and params`);
      const { custom_id: customId, params, ...rest } = entry as { custom_id?: unknown; params?: unknown };
      const stray = Object.keys(rest);
      if (stray.length > 0) throw field(`requests.${index}.${stray[0]}`, `${at}.${stray[0]}: unknown field; a request has custom_id and params`);
      if (typeof customId !== 'string' || !CUSTOM_ID.test(customId)) {
        throw field(`requests.${index}.custom_id`, `${at}.custom_id: must be 1 to 64 letters, digits, hyphens or underscores`);
      }
      const named = `${at} (custom_id "${customId}")`;
      if (seen.has(customId)) throw field(`requests.${index}.custom_id`, `${named}: custom_id must be unique within the batch`);
      seen.add(customId);
      const validated = validateMessagesBody(params);
      if (!validated.ok) {
        const e = validated.error;
        const path = e.path ? `params.${e.path}` : 'params';
        throw field(`requests.${index}.${path}`, `${named}: ${path}: ${e.message}`);
      }
      if ((params as { stream?: unknown }).stream === true) {
        throw field(`requests.${index}.params.stream`, `${named}: params.stream: requests in a batch cannot stream; leave stream out`);
      }
      const model = deps.catalogue.resolve(validated.value.model);
      if (!model) {
        throw new ProxyError('not_found', `${named}: params.model: the model is not in this proxy's catalogue; GET /v1/models lists the available models.`, {
          param: `requests.${index}.params.model`, code: 'model_not_found',
        });
      }
      if ((model.kind ?? 'chat') !== 'chat') {
        throw field(`requests.${index}.params.model`, `${named}: params.model: ${validated.value.model} is an embedding model; a batch holds Messages requests.`);
      }
      if (policy && !modelAllowed(policy, [model.id, model.requested, ...(model.aliases ?? [])])) {
        throw new ProxyError('permission', `${named}: this API key may not use the model ${model.requested}; it may use: ${policy.models!.join(', ')}.`, {
          param: `requests.${index}.params.model`, code: 'model_not_allowed',
        });
      }
      entries.push({ body: validated.value, model });
      const line = JSON.stringify(params);
      const bytes = Buffer.byteLength(line, 'utf8');
      refs.push({ index, customId, start: offset, end: offset + bytes });
      lines.push(line);
      offset += bytes + 1;
    });
    await deps.admit(x);

    const createdAt = deps.now();
    const id = newBatchId(createdAt, randomBytes);
    const identity = x.identity!;
    // The betas the batch was submitted with apply to each of its requests (a client's `betas` on batches.create).
    const betaHeader = (x.request.headers['anthropic-beta'] ?? '').slice(0, 2048) || undefined;
    // Input first, then the Bedrock job or the state and the queue jobs: nothing names a batch whose input is not stored.
    await objects.put(batchKeys.input(id), lines.join('\n'));
    const inference = deps.config.inference;
    const inferenceJob = inference && jobs && inferencePath(entries, inference) ? await submitJob(id, entries, inference, betaHeader) : undefined;
    const batch: BatchRecord = {
      id,
      owner: identity.id,
      team: identity.policy?.team,
      meterKey: identity.method === 'api-key' ? identity.id : 'other',
      createdAt,
      // A Bedrock job may run until its own timeout (24 h unless configured longer); the queue path's requests expire at 24 h.
      expiresAt: createdAt + (inferenceJob ? inference!.timeoutHours * 3600_000 : BATCH_TTL_MS),
      total: refs.length,
      status: 'in_progress',
      counts: emptyCounts(refs.length),
      ...(inferenceJob ? { inferenceJob } : {}),
      ...(identity.policy?.budgets ? { budgets: { ...identity.policy.budgets } } : {}),
      ...(betaHeader ? { betaHeader } : {}),
    };
    try {
      await store.create(batch, refs);
    } catch (err) {
      if (inferenceJob) await jobs!.stop(inferenceJob).catch((e: unknown) => warn('A batch inference job of a batch that could not be stored was not stopped', { batchId: id, jobArn: inferenceJob, error: String(e) }));
      throw err;
    }
    if (inferenceJob) {
      await sendJson(sink, x, render(x, batch));
      return;
    }
    try {
      for (let i = 0; i < refs.length; i += SEND_CHUNK) {
        await queue.send(refs.slice(i, i + SEND_CHUNK).map((r): BatchJob => ({ batchId: id, index: r.index })));
      }
    } catch (err) {
      // Not accepted: take it back (jobs already sent find no batch and end at once).
      await store.delete(id).catch(() => undefined);
      await objects.deletePrefix(batchKeys.prefix(id)).catch(() => undefined);
      throw new ProxyError('unavailable', 'The batch could not be queued; nothing was submitted. Retry shortly.');
    }
    await sendJson(sink, x, render(x, batch));
  }

  /**
   * Whether a batch goes to Bedrock batch inference: enough requests (and not more than a job takes), all for one Claude
   * model on an Anthropic-native Bedrock upstream in the proxy's region, that the configuration lets take this path.
   */
  function inferencePath(entries: readonly { readonly model: ResolvedModel }[], inference: BatchInferenceConfig): boolean {
    if (entries.length < inference.minRecords || entries.length > MAX_INFERENCE_RECORDS) return false;
    const first = entries[0].model;
    if (first.upstream !== 'bedrock-invoke' && first.upstream !== 'bedrock-messages') return false;
    if (first.region !== undefined && deps.region !== undefined && first.region !== deps.region) return false;
    if (inference.models !== '*') {
      const names = [first.id, ...(first.aliases ?? [])];
      if (!inference.models.some((m) => names.includes(m))) return false;
    }
    return entries.every((e) => e.model.id === first.id && e.model.target === first.target && e.model.longContext === first.longContext);
  }

  /**
   * Writes the job's records and creates the job; its ARN, or undefined when Bedrock refused it (then the batch takes
   * the queue path, so a model or quota Bedrock batch inference does not cover costs the client nothing).
   */
  async function submitJob(
    id: string, entries: readonly { readonly body: MessagesBody; readonly model: ResolvedModel }[], inference: BatchInferenceConfig,
    betaHeader: string | undefined,
  ): Promise<string | undefined> {
    const model = entries[0].model;
    const records = entries.map(({ body, model: m }, index) => {
      const { request } = messagesToCanonical(body, { betaHeader, extraBetas: deps.config.extraBetas ?? [], modelNames: [m.id, m.target] });
      return JSON.stringify({ recordId: recordIdOf(index), modelInput: anthropicBody(request, m) });
    });
    try {
      await objects.put(batchKeys.inferenceInput(id), records.join('\n'));
      return await jobs!.create({
        name: inferenceJobName(id),
        clientToken: id,
        modelId: model.target,
        roleArn: inference.roleArn,
        inputUri: objects.uri(batchKeys.inferenceInput(id)),
        outputUri: objects.uri(batchKeys.inferenceOutputPrefix(id)),
        timeoutHours: inference.timeoutHours,
      });
    } catch (err) {
      warn('Bedrock batch inference did not take the batch; it runs on the queue', {
        batchId: id, model: model.target, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
      return undefined;
    }
  }

  async function list(sink: ResponseSink, x: Exchange): Promise<void> {
    const q = x.request.query;
    const limitRaw = q.get('limit');
    const limit = limitRaw === null ? 20 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw field('limit', 'limit: must be a whole number from 1 to 1000');
    const afterId = q.get('after_id') ?? undefined;
    const beforeId = q.get('before_id') ?? undefined;
    if (afterId !== undefined && beforeId !== undefined) throw field('before_id', 'before_id and after_id cannot be used together');
    const page = await store.list(x.identity!.id, { limit, afterId, beforeId });
    const data = await Promise.all(page.batches.map((b) => current(b)));
    await sendJson(sink, x, {
      data: data.map((b) => render(x, b)),
      has_more: page.hasMore,
      first_id: data[0]?.id ?? null,
      last_id: data[data.length - 1]?.id ?? null,
    });
  }

  async function retrieve(sink: ResponseSink, x: Exchange, id: string): Promise<void> {
    await sendJson(sink, x, render(x, await owned(x, id)));
  }

  async function cancel(sink: ResponseSink, x: Exchange, id: string): Promise<void> {
    const batch = await owned(x, id);
    const after = batch.status === 'in_progress' ? await store.cancel(id, deps.now()) : batch;
    if (batch.inferenceJob && batch.status === 'in_progress' && jobs) {
      // Bedrock stops the job; the worker ends what it did not finish `canceled` when the job's Stopped event arrives.
      await jobs.stop(batch.inferenceJob).catch((e: unknown) => warn('A canceled batch\'s Bedrock job could not be stopped; its results are kept when it ends', {
        batchId: id, jobArn: batch.inferenceJob, error: String(e),
      }));
    }
    await sendJson(sink, x, render(x, after ?? batch));
  }

  async function remove(sink: ResponseSink, x: Exchange, id: string): Promise<void> {
    const batch = await owned(x, id);
    if (batch.status !== 'ended') {
      throw new ProxyError('invalid_request', `Batch ${id} is still ${batch.status === 'canceling' ? 'canceling' : 'processing'}; a batch can be deleted once it has ended (cancel it first to end it sooner).`);
    }
    await objects.deletePrefix(batchKeys.prefix(id));
    await store.delete(id);
    await sendJson(sink, x, { id, type: 'message_batch_deleted' });
  }

  async function results(sink: ResponseSink, x: Exchange, id: string): Promise<void> {
    const batch = await owned(x, id);
    if (batch.status !== 'ended') {
      throw new ProxyError('invalid_request', `Batch ${id} has not ended (processing_status ${batch.status}); its results are available once it has.`);
    }
    const states = await store.requests(id);
    x.status = 200;
    sink.start(200, { ...x.headers, 'content-type': 'application/x-jsonl', 'cache-control': 'no-store' });
    if (x.request.method === 'HEAD') {
      await sink.end();
      return;
    }
    const reads: Promise<string>[] = [];
    const read = (state: BatchRequestState): Promise<string> => objects.get(batchKeys.result(id, state.index)).then((body) => body?.toString('utf8') ?? missing(state));
    for (let i = 0; i < Math.min(READ_AHEAD, states.length); i++) reads.push(read(states[i]));
    for (let i = 0; i < states.length; i++) {
      if (sink.signal.aborted) return;
      const line = await reads[i];
      if (i + READ_AHEAD < states.length) reads.push(read(states[i + READ_AHEAD]));
      const wait = sink.write(`${line}\n`);
      if (wait) await wait;
    }
    await sink.end();
  }

  /** A result line for a request whose result object is absent (ended canceled or expired before it was written). */
  function missing(state: BatchRequestState): string {
    if (state.result === 'canceled' || state.result === 'expired') return resultLine(state.customId, { type: state.result });
    return resultLine(state.customId, errorResult(new ProxyError('internal', 'The result of this request could not be read.')));
  }

  /** The batch, if it exists and the caller submitted it; else the 404 an unknown id gets. */
  async function owned(x: Exchange, id: string): Promise<BatchRecord> {
    const batch = /^msgbatch_[A-Za-z0-9]{1,64}$/.test(id) ? await store.get(id) : undefined;
    if (!batch || batch.owner !== x.identity?.id) {
      throw new ProxyError('not_found', `No message batch with id ${JSON.stringify(id.slice(0, 80))}; GET /v1/messages/batches lists yours.`);
    }
    return current(batch);
  }

  /** A batch past its expiry with requests still processing: those end `expired` now. */
  async function current(batch: BatchRecord): Promise<BatchRecord> {
    if (batch.status === 'ended' || deps.now() < batch.expiresAt) return batch;
    for (const state of await store.requests(batch.id)) {
      if (state.result !== undefined) continue;
      await objects.put(batchKeys.result(batch.id, state.index), resultLine(state.customId, { type: 'expired' }));
      await store.finish(batch.id, state.index, 'expired', deps.now());
    }
    return (await store.get(batch.id)) ?? batch;
  }

  function render(x: Exchange, b: BatchRecord): Record<string, unknown> {
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    return {
      id: b.id,
      type: 'message_batch',
      processing_status: b.status,
      request_counts: { ...b.counts },
      ended_at: iso(b.endedAt),
      created_at: iso(b.createdAt),
      expires_at: iso(b.expiresAt),
      archived_at: null,
      cancel_initiated_at: iso(b.cancelInitiatedAt),
      results_url: b.status === 'ended' ? `${baseUrl(x)}/v1/messages/batches/${b.id}/results` : null,
    };
  }

  /**
   * The proxy's address as the client sees it: x-forwarded-host / -proto when a front door sets them, else Host, plus
   * any path prefix in front of /v1 (CloudFront's /api, an API Gateway stage), so results_url works through the same
   * base URL the client used.
   */
  function baseUrl(x: Exchange): string {
    const h = x.request.headers;
    const host = (h['x-forwarded-host'] ?? h.host ?? 'localhost').split(',')[0].trim();
    const scheme = (h['x-forwarded-proto'] ?? deps.scheme ?? 'https').split(',')[0].trim();
    // Behind CloudFront (x-forwarded-host) the event's path is the one the viewer used; called directly, API Gateway's
    // own path has the stage (execute-api) or the base path (a custom domain) that the resource path leaves out.
    const path = h['x-forwarded-host'] === undefined && x.request.clientPath !== undefined ? x.request.clientPath : x.request.path;
    const at = path.indexOf('/v1/messages/batches');
    const prefix = at > 0 ? path.slice(0, at) : '';
    return `${scheme}://${host}${prefix}`;
  }

  async function sendJson(sink: ResponseSink, x: Exchange, body: unknown): Promise<void> {
    await send(sink, x, 200, bodyUnlessHead(x.request, JSON.stringify(body)), { 'content-type': JSON_TYPE });
  }

  return { handle };
}

function parse(x: Exchange): Record<string, unknown> {
  const parsed = parseJsonBody(x.request.body);
  if (!parsed.ok) throw new ProxyError('invalid_request', parsed.message);
  const body = parsed.value;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ProxyError('invalid_request', 'The request body must be a JSON object with `requests`.');
  return body as Record<string, unknown>;
}

function field(param: string, message: string): ProxyError {
  return new ProxyError('invalid_request', message, { param });
}
