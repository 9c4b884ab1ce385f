/**
 * Bedrock batch inference behind the Message Batches API (PROXY_BATCH_INFERENCE_*): the dev server's bundle writes the
 * state to DynamoDB and the input to S3 (moto) and creates the job through @aws-sdk/client-bedrock against the fake
 * control plane (test/support/fake-bedrock-jobs.ts); the fake runs the job on demand and gives Bedrock's EventBridge
 * event, which the batch worker — the real bundle (assets/batch-worker) in a child process, or its source in this
 * process — settles into results the Anthropic SDK reads back.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import Anthropic from '@anthropic-ai/sdk';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createWorkerHandler, jobArnOf, type JobStateEvent } from '../../lambda/batch-worker/events';
import { createAwsBatchBackends } from '../../lambda/shared/batches';
import { batchKeys, indexOfRecordId, inferenceJobName, recordIdOf } from '../../lambda/shared/batches/types';
import { createBatchWorkerApps } from '../../lambda/streaming-proxy/app';
import { halfPriced, parseOutput, recordError } from '../../lambda/streaming-proxy/batches/inference';
import { Catalogue } from '../../lambda/streaming-proxy/catalogue';
import { ConfigError, loadConfig, loadWorkerConfig } from '../../lambda/streaming-proxy/config';
import { estimateCost } from '../../lambda/streaming-proxy/metering';
import { BATCH_SERVICES, batchEnv, createBatchResources, type BatchResources } from '../support/batch-aws';
import { startDevServerProcess, type DevServerProcess } from '../support/dev-server-process';
import { FakeBedrockJobs } from '../support/fake-bedrock-jobs';
import { MotoServer } from '../support/moto-server';
import { RecordingMeter } from '../support/proxy-harness';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..', '..');
const ROLE = 'arn:aws:iam::123456789012:role/llm-proxy-batch-inference';
const MODEL = 'claude-sonnet-4-6';

interface ResultLine {
  custom_id: string;
  result: {
    type: string;
    message?: { model: string; content: { text?: string }[] };
    error?: { type: string; error: { type: string; message: string } };
  };
}

function requests(n: number, text: (i: number) => string = (i) => `Summarise document ${i}`, model = MODEL) {
  return Array.from({ length: n }, (_, i) => ({
    custom_id: `doc-${i}`,
    params: { model, max_tokens: 256, messages: [{ role: 'user' as const, content: text(i) }] },
  }));
}

describe('config', () => {
  const base = { PROXY_AUTH_MODE: 'none', PROXY_BATCH_TABLE: 'batches-t', PROXY_BATCH_QUEUE_URL: 'http://127.0.0.1:1/q', PROXY_BATCH_BUCKET: 'bucket-1' };

  test('PROXY_BATCH_INFERENCE_ROLE_ARN turns it on with the defaults; the others shape it', () => {
    expect(loadConfig({ ...base, PROXY_BATCH_INFERENCE_ROLE_ARN: ROLE }).batches.inference).toEqual({ roleArn: ROLE, minRecords: 100, models: '*', timeoutHours: 24 });
    expect(loadConfig({
      ...base, PROXY_BATCH_INFERENCE_ROLE_ARN: ROLE, PROXY_BATCH_INFERENCE_MIN_RECORDS: '500', PROXY_BATCH_INFERENCE_MODELS: 'claude-sonnet-4-6, claude-haiku-4-5', PROXY_BATCH_INFERENCE_TIMEOUT_HOURS: '72',
    }).batches.inference).toEqual({ roleArn: ROLE, minRecords: 500, models: ['claude-sonnet-4-6', 'claude-haiku-4-5'], timeoutHours: 72 });
    expect(loadConfig(base).batches.inference).toBeUndefined();
  });

  test.each([
    [{ PROXY_BATCH_INFERENCE_ROLE_ARN: 'llm-role' }, 'PROXY_BATCH_INFERENCE_ROLE_ARN', /must be an IAM role ARN/],
    [{ PROXY_BATCH_INFERENCE_ROLE_ARN: ROLE, PROXY_BATCH_INFERENCE_MIN_RECORDS: '99' }, 'PROXY_BATCH_INFERENCE_MIN_RECORDS', /≥ 100/],
    [{ PROXY_BATCH_INFERENCE_ROLE_ARN: ROLE, PROXY_BATCH_INFERENCE_MIN_RECORDS: '50001' }, 'PROXY_BATCH_INFERENCE_MIN_RECORDS', /at most 50000/],
    [{ PROXY_BATCH_INFERENCE_ROLE_ARN: ROLE, PROXY_BATCH_INFERENCE_TIMEOUT_HOURS: '12' }, 'PROXY_BATCH_INFERENCE_TIMEOUT_HOURS', /≥ 24/],
    [{ PROXY_BATCH_INFERENCE_ROLE_ARN: ROLE, PROXY_BATCH_INFERENCE_TIMEOUT_HOURS: '169' }, 'PROXY_BATCH_INFERENCE_TIMEOUT_HOURS', /24 to 168/],
    [{ PROXY_BATCH_INFERENCE_ROLE_ARN: ROLE, PROXY_BATCH_INFERENCE_MODELS: ' , ' }, 'PROXY_BATCH_INFERENCE_MODELS', /comma-separated/],
    [{ PROXY_BATCH_INFERENCE_MIN_RECORDS: '200' }, 'PROXY_BATCH_INFERENCE_MIN_RECORDS', /needs PROXY_BATCH_INFERENCE_ROLE_ARN/],
  ])('%j is refused, naming %s', (extra, name, message) => {
    let error: unknown;
    try {
      loadConfig({ ...base, ...extra });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(name);
    expect((error as ConfigError).message).toMatch(message);
  });

  test('the role without the batch stores is refused', () => {
    expect(() => loadConfig({ PROXY_AUTH_MODE: 'none', PROXY_BATCH_INFERENCE_ROLE_ARN: ROLE })).toThrow(/PROXY_BATCH_INFERENCE_ROLE_ARN.*needs the batch stores/);
  });
});

describe('records and output', () => {
  test('record ids are 11 characters and map back to the request index', () => {
    expect(recordIdOf(0)).toBe('R0000000000');
    expect(recordIdOf(99_999)).toHaveLength(11);
    expect(indexOfRecordId(recordIdOf(4321))).toBe(4321);
    expect(indexOfRecordId('3223593EFGH')).toBeUndefined();
    expect(inferenceJobName('msgbatch_01KBM0000000000000000000AB')).toBe('msgbatch-01KBM0000000000000000000AB');
  });

  test('parseOutput keeps the lines that name a request, whatever else the file holds', () => {
    const body = Buffer.from([
      JSON.stringify({ recordId: recordIdOf(2), modelInput: {}, modelOutput: { content: [] } }),
      '',
      'not json',
      JSON.stringify({ recordId: 'someone-else', modelOutput: {} }),
      JSON.stringify({ recordId: recordIdOf(0), modelInput: {}, error: { errorCode: 429, errorMessage: 'Too many tokens' } }),
    ].join('\n'));
    const out = parseOutput(body);
    expect([...out.keys()].sort()).toEqual([0, 2]);
    expect(out.get(0)!.error).toEqual({ errorCode: 429, errorMessage: 'Too many tokens' });
  });

  test("a record's error keeps Bedrock's message and maps its code to the Anthropic error type", () => {
    expect(JSON.parse(recordError({ errorCode: 400, errorMessage: 'bad' }).body('anthropic'))).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'Bedrock batch inference: bad' } });
    expect(JSON.parse(recordError({ errorCode: 429 }).body('anthropic')).error.type).toBe('rate_limit_error');
  });

  test('batch inference is charged at half the catalogue price', () => {
    const model = new Catalogue().resolve(MODEL)!;
    const usage = { inputTokens: 1_000_000, outputTokens: 1_000_000, cacheReadInputTokens: 1_000_000, cacheWriteInputTokens: 1_000_000 };
    expect(estimateCost(usage, halfPriced(model).pricing)).toBeCloseTo(estimateCost(usage, model.pricing)! / 2, 9);
  });
});

describe('on moto and the fake Bedrock control plane', () => {
  let moto: MotoServer;
  let resources: BatchResources;
  let fake: FakeBedrockJobs;
  let env: Record<string, string>;
  let proxy: DevServerProcess;
  let client: Anthropic;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    moto = await MotoServer.start(undefined, { serial: true });
    resources = await createBatchResources(moto);
    fake = await FakeBedrockJobs.start(resources.s3);
    env = {
      ...moto.env([...BATCH_SERVICES]),
      ...batchEnv(resources),
      AWS_ENDPOINT_URL_BEDROCK: fake.url,
      PROXY_BATCH_INFERENCE_ROLE_ARN: ROLE,
    };
    Object.assign(process.env, env, { PROXY_UPSTREAM: 'mock', POWERTOOLS_METRICS_DISABLED: 'true' });
    // On Bedrock (the mock upstream is never Bedrock, so it never takes this path); the proxy itself calls no model here.
    proxy = await startDevServerProcess({ env, args: ['--upstream', 'bedrock'] });
    client = new Anthropic({ baseURL: proxy.url, apiKey: proxy.key, maxRetries: 0 });
  });
  afterAll(async () => {
    await proxy?.stop();
    await fake?.stop();
    resources?.destroy();
    await moto?.stop();
    process.env = savedEnv;
  });

  async function queued(): Promise<number> {
    const out = await resources.sqs.send(new GetQueueAttributesCommand({ QueueUrl: resources.queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    return Number(out.Attributes!.ApproximateNumberOfMessages);
  }

  function creates() {
    return fake.calls.filter((c) => c.operation === 'CreateModelInvocationJob');
  }

  /** The worker's source in this process, with a recording meter. */
  function inProcessWorker() {
    const meter = new RecordingMeter();
    const warnings: string[] = [];
    const { worker, settler } = createBatchWorkerApps(loadWorkerConfig({ ...process.env, ...env, PROXY_UPSTREAM: 'mock' }), { meter });
    return { meter, warnings, handler: createWorkerHandler(worker, settler, { warn: (m) => warnings.push(m) }) };
  }

  /** The real worker bundle in a child process, handling one event as Lambda would hand it over. */
  async function bundledWorker(event: unknown): Promise<{ status: number | null; stderr: string }> {
    const script = `const { handler } = require(${JSON.stringify(path.join(ROOT, 'assets', 'batch-worker', 'index.js'))});
      handler(JSON.parse(process.argv[1])).catch((e) => { console.error(e); process.exit(3); });`;
    const child = spawn(process.execPath, ['-e', script, JSON.stringify(event)], {
      env: { PATH: process.env.PATH ?? '', ...env, PROXY_UPSTREAM: 'mock', POWERTOOLS_METRICS_DISABLED: 'true', AWS_EC2_METADATA_DISABLED: 'true' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
    const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { status, stderr };
  }

  async function results(id: string): Promise<ResultLine[]> {
    const lines: ResultLine[] = [];
    for await (const line of await client.messages.batches.results(id)) lines.push(line as never);
    return lines;
  }

  test('a batch of 120 requests for one Claude model runs as one Bedrock job, settled by the real worker bundle from its event', async () => {
    const before = creates().length;
    const texts = (i: number) => (i === 7 ? 'FAIL-RECORD please' : `Summarise document ${i}`);
    const created = await client.messages.batches.create({ requests: requests(120, texts) });
    expect(created.processing_status).toBe('in_progress');
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(24 * 3600_000);

    // One job, named after the batch, idempotent on its id, with the catalogue's Bedrock id; no queue jobs.
    expect(creates()).toHaveLength(before + 1);
    const call = creates()[before].body!;
    expect(call).toEqual({
      jobName: inferenceJobName(created.id),
      clientRequestToken: created.id,
      modelId: 'global.anthropic.claude-sonnet-4-6',
      roleArn: ROLE,
      inputDataConfig: { s3InputDataConfig: { s3Uri: `s3://${resources.bucket}/${batchKeys.inferenceInput(created.id)}`, s3InputFormat: 'JSONL' } },
      outputDataConfig: { s3OutputDataConfig: { s3Uri: `s3://${resources.bucket}/${batchKeys.inferenceOutputPrefix(created.id)}` } },
      timeoutDurationInHours: 24,
    });
    expect(await queued()).toBe(0);
    // The records are InvokeModel bodies for Claude, in request order.
    const input = await resources.s3.send(new GetObjectCommand({ Bucket: resources.bucket, Key: batchKeys.inferenceInput(created.id) }));
    const records = (await input.Body!.transformToString()).split('\n').map((l) => JSON.parse(l) as { recordId: string; modelInput: Record<string, unknown> });
    expect(records).toHaveLength(120);
    expect(records[3]).toEqual({
      recordId: 'R0000000003',
      modelInput: { anthropic_version: 'bedrock-2023-05-31', max_tokens: 256, messages: [{ role: 'user', content: 'Summarise document 3' }] },
    });

    // Bedrock starts the job: the worker learns it is running and changes nothing.
    const [job] = [...fake.jobs.values()].filter((j) => j.name === inferenceJobName(created.id));
    fake.start(job.arn);
    expect(await bundledWorker(fake.event(job.arn))).toMatchObject({ status: 0 });
    expect((await client.messages.batches.retrieve(created.id)).request_counts.processing).toBe(120);

    // It ends; its event, delivered twice, ends every request once.
    await fake.run(job.arn);
    for (let delivery = 0; delivery < 2; delivery++) {
      const run = await bundledWorker(fake.event(job.arn));
      expect(run).toMatchObject({ status: 0 });
    }
    const ended = await client.messages.batches.retrieve(created.id);
    expect(ended.processing_status).toBe('ended');
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 119, errored: 1, canceled: 0, expired: 0 });

    const lines = await results(created.id);
    expect(lines.map((l) => l.custom_id)).toEqual(requests(120).map((r) => r.custom_id));
    expect(lines[3].result).toMatchObject({ type: 'succeeded', message: { model: MODEL, content: [{ text: 'batch answer to: Summarise document 3' }] } });
    expect(lines[7].result).toEqual({
      type: 'errored',
      error: { type: 'error', error: { type: 'invalid_request_error', message: 'Bedrock batch inference: Malformed input request: the record was refused by the fake' } },
    });
  });

  test('the worker charges half price and meters each request once, however often the event comes', async () => {
    // Submitted with a beta, which each record carries (as anthropic_beta in the InvokeModel body).
    const created = await client.messages.batches.create({ requests: requests(100) }, { headers: { 'anthropic-beta': 'tool-search-tool-2025-10-19' } });
    const input = await resources.s3.send(new GetObjectCommand({ Bucket: resources.bucket, Key: batchKeys.inferenceInput(created.id) }));
    const first = JSON.parse((await input.Body!.transformToString()).split('\n')[0]) as { modelInput: { anthropic_beta?: string[] } };
    expect(first.modelInput.anthropic_beta).toEqual(['tool-search-tool-2025-10-19']);
    const job = [...fake.jobs.values()].find((j) => j.name === inferenceJobName(created.id))!;
    await fake.run(job.arn);
    const w = inProcessWorker();
    await w.handler(fake.event(job.arn) as unknown as JobStateEvent);
    await w.handler(fake.event(job.arn) as unknown as JobStateEvent);
    const records = w.meter.records.filter((r) => r.route === 'batch_request');
    expect(records).toHaveLength(100);
    const model = new Catalogue().resolve(MODEL)!;
    const r0 = records.find((r) => r.requestId === `${created.id}#0`)!;
    const tokens = { inputTokens: r0.inputTokens, outputTokens: r0.outputTokens, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 };
    expect(r0.inputTokens).toBeGreaterThan(0);
    expect(r0.estimatedCost).toBeCloseTo(estimateCost(tokens, model.pricing)! / 2, 12);
    expect((await client.messages.batches.retrieve(created.id)).request_counts.succeeded).toBe(100);
  });

  test('a settle that fails part-way (the worker killed or out of time) fails the invocation, and the retry ends the rest once', async () => {
    const created = await client.messages.batches.create({ requests: requests(100) });
    const job = [...fake.jobs.values()].find((j) => j.name === inferenceJobName(created.id))!;
    await fake.run(job.arn);
    const stores = { tableName: resources.tableName, queueUrl: resources.queueUrl, bucket: resources.bucket, inference: true };
    const backends = createAwsBatchBackends(stores, 'us-east-1');
    const finish = backends.store.finish.bind(backends.store);
    let ended = 0;
    backends.store.finish = async (...args) => {
      if (++ended > 40) throw new Error('Task timed out after 300.00 seconds');
      return finish(...args);
    };
    const meter = new RecordingMeter();
    const config = loadWorkerConfig({ ...process.env, ...env, PROXY_UPSTREAM: 'mock' });
    const first = createBatchWorkerApps(config, { meter, batches: backends });
    await expect(createWorkerHandler(first.worker, first.settler)(fake.event(job.arn) as unknown as JobStateEvent)).rejects.toThrow(/timed out/);
    const midway = (await client.messages.batches.retrieve(created.id)).request_counts;
    expect(midway.succeeded).toBeGreaterThanOrEqual(40);
    expect(midway.processing).toBeGreaterThan(0);
    backends.store.finish = finish;
    await createWorkerHandler(first.worker, first.settler)(fake.event(job.arn) as unknown as JobStateEvent);
    const after = (await client.messages.batches.retrieve(created.id)).request_counts;
    expect(after).toEqual({ processing: 0, succeeded: 100, errored: 0, canceled: 0, expired: 0 });
    // Metered once per request: the first invocation's 40 and the retry's 60.
    expect(new Set(meter.records.filter((r) => r.route === 'batch_request').map((r) => r.requestId)).size).toBe(100);
    expect(meter.records.filter((r) => r.route === 'batch_request')).toHaveLength(100);
  });

  test('cancel stops the job: what Bedrock finished before it stopped succeeds, the rest ends canceled', async () => {
    const created = await client.messages.batches.create({ requests: requests(100) });
    const job = [...fake.jobs.values()].find((j) => j.name === inferenceJobName(created.id))!;
    fake.start(job.arn);
    const canceling = await client.messages.batches.cancel(created.id);
    expect(canceling.processing_status).toBe('canceling');
    expect(fake.jobs.get(job.arn)!.status).toBe('Stopping');
    await fake.run(job.arn, { limit: 30 });
    expect(fake.jobs.get(job.arn)!.status).toBe('Stopped');
    await inProcessWorker().handler(fake.event(job.arn) as unknown as JobStateEvent);
    const ended = await client.messages.batches.retrieve(created.id);
    expect(ended.processing_status).toBe('ended');
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 30, errored: 0, canceled: 70, expired: 0 });
    const lines = await results(created.id);
    expect(lines[29].result.type).toBe('succeeded');
    expect(lines[30].result).toEqual({ type: 'canceled' });
  });

  test.each([
    ['Expired', undefined, { expired: 100 }],
    ['Failed', 'The input file has no valid records', { errored: 100 }],
  ])('a job that ends %s ends its requests so', async (status, message, counts) => {
    const created = await client.messages.batches.create({ requests: requests(100) });
    const job = [...fake.jobs.values()].find((j) => j.name === inferenceJobName(created.id))!;
    fake.end(job.arn, status, message);
    await inProcessWorker().handler(fake.event(job.arn) as unknown as JobStateEvent);
    const ended = await client.messages.batches.retrieve(created.id);
    expect(ended.request_counts).toEqual({ processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0, ...counts });
    const [first] = await results(created.id);
    if (status === 'Failed') expect(first.result.error!.error.message).toBe(`The Bedrock batch inference job failed: ${message}.`);
    else expect(first.result).toEqual({ type: 'expired' });
  });

  describe('the queue path instead', () => {
    // Jobs stay queued (no worker drains them here): each test counts what its batch added.
    afterEach(() => {
      fake.refuseCreate = undefined;
    });

    test('a batch smaller than PROXY_BATCH_INFERENCE_MIN_RECORDS (100)', async () => {
      const before = creates().length;
      const queuedBefore = await queued();
      await client.messages.batches.create({ requests: requests(99) });
      expect(creates()).toHaveLength(before);
      expect(await queued()).toBe(queuedBefore + 99);
    });

    test('a batch for more than one model', async () => {
      const before = creates().length;
      const queuedBefore = await queued();
      const mixed = [...requests(60), ...requests(60, undefined, 'claude-haiku-4-5').map((r, i) => ({ ...r, custom_id: `h-${i}` }))];
      await client.messages.batches.create({ requests: mixed });
      expect(creates()).toHaveLength(before);
      expect(await queued()).toBe(queuedBefore + 120);
    });

    test('a job Bedrock refuses: the batch runs on the queue, and the client sees only a batch', async () => {
      const queuedBefore = await queued();
      fake.refuseCreate = { type: 'ValidationException', message: 'The provided model does not support batch inference.' };
      const created = await client.messages.batches.create({ requests: requests(100) });
      expect(created.processing_status).toBe('in_progress');
      expect([...fake.jobs.values()].some((j) => j.name === inferenceJobName(created.id))).toBe(false);
      expect(await queued()).toBe(queuedBefore + 100);
      expect(proxy.output()).toContain('Bedrock batch inference did not take the batch; it runs on the queue');
    });
  });

  test('events about jobs that are not this proxy\'s are ignored without failing the invocation', async () => {
    const w = inProcessWorker();
    const unknown = { ...fake.event([...fake.jobs.keys()][0]), resources: ['arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/zzzzzzzzzzzz'], detail: {} };
    await expect(w.handler(unknown as unknown as JobStateEvent)).resolves.toBeUndefined();
    await expect(w.handler({ 'source': 'aws.s3', 'detail-type': 'Object Created', 'detail': {} } as unknown as JobStateEvent)).resolves.toBeUndefined();
    expect(w.warnings).toEqual([
      'Ignored a batch inference job this proxy did not create (or whose batch is deleted)',
      'Ignored an event the batch worker does not handle',
    ]);
    expect(jobArnOf({ resources: ['arn:aws:s3:::bucket'], detail: { batchJobArn: 'arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abc123' } } as unknown as JobStateEvent))
      .toBe('arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abc123');
  });
});
