/**
 * A stand-in for the Bedrock control plane's batch inference operations, on a loopback port, speaking their wire
 * protocol (REST-JSON, as @aws-sdk/client-bedrock sends it; point the SDK at it with AWS_ENDPOINT_URL_BEDROCK):
 *
 *   POST /model-invocation-job                       CreateModelInvocationJob (idempotent on clientRequestToken)
 *   GET  /model-invocation-job/{jobIdentifier}       GetModelInvocationJob
 *   POST /model-invocation-job/{jobIdentifier}/stop  StopModelInvocationJob
 *
 * Requests are checked against the API's constraints (job name pattern and length, role ARN, S3 URIs, timeout 24–168 h,
 * SigV4 Authorization header), errors come back as Bedrock's (`x-amzn-errortype`, JSON `message`). Moto has no Bedrock,
 * and no AWS account is available, so the job itself is run on demand by the test (`run`): it reads the input records
 * from S3 (moto), writes Bedrock's output format (`<output prefix><job id>/<input file>.out` with one
 * `{recordId, modelInput, modelOutput}` or `{recordId, modelInput, error}` line per record, and `manifest.json.out`),
 * and sets the job's final status. `event` gives the EventBridge event Bedrock would publish.
 */
import { randomBytes } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const JOB_NAME = /^[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9+\-.]){0,63}$/;
const ROLE_ARN = /^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role\/.+$/;

export interface FakeJob {
  readonly arn: string;
  readonly name: string;
  readonly clientRequestToken?: string;
  readonly modelId: string;
  readonly roleArn: string;
  readonly inputUri: string;
  readonly outputUri: string;
  readonly timeoutHours: number;
  status: string;
  message?: string;
  readonly submitTime: Date;
  endTime?: Date;
}

export interface RunOptions {
  /** Process only this many records (a job stopped or failing part-way). Default: all. */
  readonly limit?: number;
  /** The final status. Default: Stopped when the job was asked to stop, else Completed (PartiallyCompleted with errors). */
  readonly status?: string;
  readonly message?: string;
}

class ApiError extends Error {
  constructor(public readonly status: number, public readonly type: string, message: string) {
    super(message);
  }
}

function lastUserText(modelInput: { messages?: { role: string; content: unknown }[] }): string {
  const last = [...(modelInput.messages ?? [])].reverse().find((m) => m.role === 'user');
  if (!last) return '';
  if (typeof last.content === 'string') return last.content;
  return (last.content as { type: string; text?: string }[]).filter((b) => b.type === 'text').map((b) => b.text ?? '').join('');
}

function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!m) throw new ApiError(400, 'ValidationException', `Invalid S3 URI ${uri}`);
  return { bucket: m[1], key: m[2] };
}

export class FakeBedrockJobs {
  static async start(s3: S3Client): Promise<FakeBedrockJobs> {
    let fake: FakeBedrockJobs | undefined;
    const server = http.createServer((req, res) => {
      void fake!.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake = new FakeBedrockJobs(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, s3);
    return fake;
  }

  public readonly jobs = new Map<string, FakeJob>();
  /** Every request received: operation and body. */
  public readonly calls: { readonly operation: string; readonly body?: Record<string, unknown> }[] = [];
  /** Refuse the next creates with this error (e.g. a model batch inference does not support). */
  public refuseCreate?: { readonly type: string; readonly message: string };

  private constructor(private readonly server: http.Server, public readonly url: string, private readonly s3: S3Client) {}

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    try {
      if (!/^AWS4-HMAC-SHA256 Credential=/.test(req.headers.authorization ?? '')) {
        throw new ApiError(403, 'UnrecognizedClientException', 'The request is not signed (SigV4)');
      }
      const url = new URL(req.url ?? '/', 'http://localhost');
      const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      const body = raw ? JSON.parse(raw) as Record<string, unknown> : undefined;
      let out: unknown;
      if (req.method === 'POST' && parts.length === 1 && parts[0] === 'model-invocation-job') {
        this.calls.push({ operation: 'CreateModelInvocationJob', body });
        out = this.create(body ?? {});
      } else if (req.method === 'GET' && parts.length === 2 && parts[0] === 'model-invocation-job') {
        this.calls.push({ operation: 'GetModelInvocationJob' });
        out = this.describe(this.find(parts[1]));
      } else if (req.method === 'POST' && parts.length === 3 && parts[0] === 'model-invocation-job' && parts[2] === 'stop') {
        this.calls.push({ operation: 'StopModelInvocationJob' });
        out = this.stopJob(this.find(parts[1]));
      } else {
        throw new ApiError(404, 'UnknownOperationException', `${req.method} ${url.pathname}`);
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': randomBytes(8).toString('hex') });
      res.end(JSON.stringify(out));
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(500, 'InternalServerException', String(err));
      res.writeHead(e.status, { 'content-type': 'application/json', 'x-amzn-errortype': e.type });
      res.end(JSON.stringify({ message: e.message }));
    }
  }

  private create(body: Record<string, unknown>): { jobArn: string } {
    const name = body.jobName;
    if (typeof name !== 'string' || name.length > 63 || !JOB_NAME.test(name)) {
      throw new ApiError(400, 'ValidationException', `1 validation error detected: Value '${String(name)}' at 'jobName' failed to satisfy constraint`);
    }
    if (typeof body.roleArn !== 'string' || !ROLE_ARN.test(body.roleArn)) throw new ApiError(400, 'ValidationException', 'roleArn is invalid');
    if (typeof body.modelId !== 'string' || body.modelId === '') throw new ApiError(400, 'ValidationException', 'modelId is required');
    const input = (body.inputDataConfig as { s3InputDataConfig?: { s3Uri?: string; s3InputFormat?: string } } | undefined)?.s3InputDataConfig;
    const output = (body.outputDataConfig as { s3OutputDataConfig?: { s3Uri?: string } } | undefined)?.s3OutputDataConfig;
    if (!input?.s3Uri?.startsWith('s3://') || (input.s3InputFormat !== undefined && input.s3InputFormat !== 'JSONL')) {
      throw new ApiError(400, 'ValidationException', 'inputDataConfig.s3InputDataConfig must name an s3:// URI of JSONL');
    }
    if (!output?.s3Uri?.startsWith('s3://')) throw new ApiError(400, 'ValidationException', 'outputDataConfig.s3OutputDataConfig must name an s3:// URI');
    const timeout = body.timeoutDurationInHours ?? 24;
    if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 24 || timeout > 168) {
      throw new ApiError(400, 'ValidationException', 'timeoutDurationInHours must be from 24 to 168');
    }
    const token = typeof body.clientRequestToken === 'string' ? body.clientRequestToken : undefined;
    if (token) {
      const same = [...this.jobs.values()].find((j) => j.clientRequestToken === token);
      if (same) return { jobArn: same.arn };
    }
    if (this.refuseCreate) throw new ApiError(400, this.refuseCreate.type, this.refuseCreate.message);
    if ([...this.jobs.values()].some((j) => j.name === name)) throw new ApiError(409, 'ConflictException', `A job named ${name} already exists`);
    const id = Array.from(randomBytes(12), (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
    const job: FakeJob = {
      arn: `arn:aws:bedrock:${REGION}:${ACCOUNT}:model-invocation-job/${id}`,
      name,
      clientRequestToken: token,
      modelId: body.modelId,
      roleArn: body.roleArn,
      inputUri: input.s3Uri,
      outputUri: output.s3Uri,
      timeoutHours: timeout,
      status: 'Submitted',
      submitTime: new Date(),
    };
    this.jobs.set(job.arn, job);
    return { jobArn: job.arn };
  }

  private find(identifier: string): FakeJob {
    const job = this.jobs.get(identifier) ?? [...this.jobs.values()].find((j) => j.arn.endsWith(`/${identifier}`));
    if (!job) throw new ApiError(404, 'ResourceNotFoundException', `Could not find job ${identifier}`);
    return job;
  }

  private describe(job: FakeJob): Record<string, unknown> {
    return {
      jobArn: job.arn,
      jobName: job.name,
      modelId: job.modelId,
      ...(job.clientRequestToken ? { clientRequestToken: job.clientRequestToken } : {}),
      roleArn: job.roleArn,
      status: job.status,
      ...(job.message ? { message: job.message } : {}),
      submitTime: job.submitTime.toISOString(),
      lastModifiedTime: (job.endTime ?? job.submitTime).toISOString(),
      ...(job.endTime ? { endTime: job.endTime.toISOString() } : {}),
      inputDataConfig: { s3InputDataConfig: { s3Uri: job.inputUri, s3InputFormat: 'JSONL' } },
      outputDataConfig: { s3OutputDataConfig: { s3Uri: job.outputUri } },
      timeoutDurationInHours: job.timeoutHours,
    };
  }

  private stopJob(job: FakeJob): Record<string, never> {
    if (['Completed', 'PartiallyCompleted', 'Failed', 'Stopped', 'Expired'].includes(job.status)) {
      throw new ApiError(400, 'ValidationException', `Job ${job.arn} has ended (${job.status}) and cannot be stopped`);
    }
    job.status = 'Stopping';
    return {};
  }

  /** Marks the job InProgress (the event Bedrock sends when it starts). */
  start(arn: string): void {
    const job = this.find(arn);
    job.status = 'InProgress';
  }

  /**
   * Runs the job: each input record becomes an output record — a Claude Messages response that quotes the record's
   * last user text, or, for a record whose text contains `FAIL-RECORD`, an error line (400, as Bedrock reports a
   * record it could not run).
   */
  async run(arn: string, options: RunOptions = {}): Promise<FakeJob> {
    const job = this.find(arn);
    const input = parseS3Uri(job.inputUri);
    const got = await this.s3.send(new GetObjectCommand({ Bucket: input.bucket, Key: input.key }));
    const lines = (await got.Body!.transformToString()).split('\n').filter((l) => l.trim() !== '');
    const limit = options.limit ?? lines.length;
    let errors = 0;
    let inputTokens = 0;
    let outputTokens = 0;
    const out = lines.slice(0, limit).map((line) => {
      const record = JSON.parse(line) as { recordId?: string; modelInput: Record<string, unknown> };
      const text = lastUserText(record.modelInput as never);
      if (text.includes('FAIL-RECORD')) {
        errors++;
        return JSON.stringify({ recordId: record.recordId, modelInput: record.modelInput, error: { errorCode: 400, errorMessage: 'Malformed input request: the record was refused by the fake' } });
      }
      const usage = { input_tokens: 10 + text.length, output_tokens: 5 + Math.min(40, text.length) };
      inputTokens += usage.input_tokens;
      outputTokens += usage.output_tokens;
      const modelOutput = {
        id: `msg_bdrk_${randomBytes(8).toString('hex')}`,
        type: 'message',
        role: 'assistant',
        model: job.modelId,
        content: [{ type: 'text', text: `batch answer to: ${text.slice(0, 40)}` }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage,
      };
      return JSON.stringify({ recordId: record.recordId, modelInput: record.modelInput, modelOutput });
    });
    const output = parseS3Uri(job.outputUri);
    const jobId = job.arn.slice(job.arn.lastIndexOf('/') + 1);
    const base = `${output.key}${output.key === '' || output.key.endsWith('/') ? '' : '/'}${jobId}/`;
    const inputName = input.key.slice(input.key.lastIndexOf('/') + 1);
    await this.s3.send(new PutObjectCommand({ Bucket: output.bucket, Key: `${base}${inputName}.out`, Body: out.join('\n') }));
    await this.s3.send(new PutObjectCommand({
      Bucket: output.bucket,
      Key: `${base}manifest.json.out`,
      Body: JSON.stringify({
        totalRecordCount: lines.length,
        processedRecordCount: out.length,
        successRecordCount: out.length - errors,
        errorRecordCount: errors,
        inputTokenCount: inputTokens,
        outputTokenCount: outputTokens,
      }),
    }));
    job.status = options.status ?? (job.status === 'Stopping' ? 'Stopped' : errors > 0 ? 'PartiallyCompleted' : 'Completed');
    if (options.message) job.message = options.message;
    job.endTime = new Date();
    return job;
  }

  /** Ends the job without running it (Expired, Failed, Stopped). */
  end(arn: string, status: string, message?: string): FakeJob {
    const job = this.find(arn);
    job.status = status;
    if (message) job.message = message;
    job.endTime = new Date();
    return job;
  }

  /** The EventBridge event Bedrock publishes when the job's status changes. */
  event(arn: string): Record<string, unknown> {
    const job = this.find(arn);
    return {
      'version': '0',
      'id': randomBytes(16).toString('hex'),
      'detail-type': 'Batch Inference Job State Change',
      'source': 'aws.bedrock',
      'account': ACCOUNT,
      'time': new Date().toISOString(),
      'region': REGION,
      'resources': [job.arn],
      'detail': {
        version: '0.0',
        accountId: ACCOUNT,
        batchJobName: job.name,
        batchJobArn: job.arn,
        batchModelId: job.modelId,
        status: job.status,
        ...(job.message ? { failureMessage: job.message } : {}),
      },
    };
  }
}
