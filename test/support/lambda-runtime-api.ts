/**
 * A Lambda Runtime API on loopback, for running a function under the real Node.js runtime interface client
 * (`aws-lambda-ric`, the code that runs handlers in Lambda's managed Node.js runtimes), and a decoder that reads a
 * streamed response the way a Lambda function URL does.
 *
 * The protocol (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html and its response-streaming section):
 * - `GET /2018-06-01/runtime/invocation/next` is a long poll answered with the next event and the invocation headers
 *   (`Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn`, ...);
 * - a streaming function answers with `POST /2018-06-01/runtime/invocation/<id>/response` carrying
 *   `Lambda-Runtime-Function-Response-Mode: streaming` and `Transfer-Encoding: chunked`; a failure after the response
 *   began is reported in the trailers `Lambda-Runtime-Function-Error-Type` and `Lambda-Runtime-Function-Error-Body`
 *   (base64 JSON); Lambda answers 202 once the body has ended;
 * - `POST .../<id>/error` (a buffered failure) and `POST /2018-06-01/runtime/init/error` (init failed).
 *
 * A function URL (and API Gateway's STREAM transfer mode) reads a response whose content type is
 * `application/vnd.awslambda.http-integration-response` as a JSON prelude `{ statusCode, headers, cookies }`, eight NUL
 * bytes, then the body; the status line goes to the client when the delimiter arrives, the body as it streams.
 */
import { spawn, type ChildProcess } from 'child_process';
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';

export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const DELIMITER = Buffer.alloc(8);
const API = '/2018-06-01/runtime';

/** One chunk of a streamed body and when it arrived (performance.now(), ms). */
export interface TimedChunk {
  readonly at: number;
  readonly data: Buffer;
}

/** What a function URL's client sees of a streamed response. */
export interface DecodedResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly cookies: string[];
  /** Body chunks as they arrived, after the prelude. */
  readonly body: TimedChunk[];
  /** When the status line would have reached the client (the prelude's delimiter arrived). */
  readonly headersAt: number;
}

/** Reads a streamed Runtime API response body incrementally, as a function URL does. */
export class FunctionUrlDecoder {
  private preludeBytes = Buffer.alloc(0);
  private decoded?: { statusCode: number; headers: Record<string, string>; cookies: string[]; headersAt: number };
  private readonly bodyChunks: TimedChunk[] = [];
  private sawBytes = false;

  constructor(private readonly contentType: string | undefined) {}

  public push(chunk: TimedChunk): void {
    this.sawBytes ||= chunk.data.length > 0;
    if (this.contentType !== HTTP_INTEGRATION_CONTENT_TYPE) {
      this.decoded ??= { statusCode: 200, headers: { 'content-type': this.contentType ?? 'application/octet-stream' }, cookies: [], headersAt: chunk.at };
      this.bodyChunks.push(chunk);
      return;
    }
    if (this.decoded) {
      this.bodyChunks.push(chunk);
      return;
    }
    this.preludeBytes = Buffer.concat([this.preludeBytes, chunk.data]);
    const end = this.preludeBytes.indexOf(DELIMITER);
    if (end < 0) return;
    const prelude = JSON.parse(this.preludeBytes.subarray(0, end).toString('utf8')) as {
      statusCode?: number; headers?: Record<string, string>; cookies?: string[];
    };
    const headers = lowerCaseKeys(prelude.headers ?? {});
    this.decoded = { statusCode: prelude.statusCode ?? 200, headers, cookies: prelude.cookies ?? [], headersAt: chunk.at };
    const rest = this.preludeBytes.subarray(end + DELIMITER.length);
    this.preludeBytes = Buffer.alloc(0);
    if (rest.length > 0) this.bodyChunks.push({ at: chunk.at, data: rest });
  }

  /** True once the status line and headers are known. */
  public get started(): boolean {
    return this.decoded !== undefined;
  }

  public get body(): readonly TimedChunk[] {
    return this.bodyChunks;
  }

  /**
   * The response at the end of the stream. An HTTP-integration response with no byte at all is a 200 without the
   * prelude's headers; one whose bytes never complete a prelude is a 502 (what function URLs answer, see
   * aws/aws-lambda-nodejs-runtime-interface-client#97).
   */
  public finish(at: number): DecodedResponse {
    if (this.decoded) return { ...this.decoded, body: this.bodyChunks };
    if (this.contentType === HTTP_INTEGRATION_CONTENT_TYPE && this.sawBytes) {
      return { statusCode: 502, headers: {}, cookies: [], body: [], headersAt: at };
    }
    return { statusCode: 200, headers: {}, cookies: [], body: [], headersAt: at };
  }
}

/** A function error reported by the runtime (streaming trailers, or the /error endpoint). */
export interface FunctionError {
  readonly errorType: string;
  readonly errorMessage?: string;
  readonly body: unknown;
}

/** What the runtime sent for one invocation. */
export interface InvocationRecord {
  readonly requestId: string;
  /** The headers of the runtime's POST .../response (undefined when it answered through /error). */
  readonly responseHeaders?: http.IncomingHttpHeaders;
  /** The raw streamed body, chunk by chunk, with arrival times. */
  readonly chunks: TimedChunk[];
  /** The HTTP trailers of the streamed body. */
  readonly trailers: Record<string, string>;
  /** How the response ended: the chunked body completed, the Runtime API closed the connection, or /error was used. */
  readonly outcome: 'completed' | 'aborted' | 'error-endpoint';
  /** The decoded function URL response (undefined when the runtime used /error). */
  readonly response?: DecodedResponse;
  /** The function error from the trailers or from /error, if any. */
  readonly functionError?: FunctionError;
}

export interface InvokeOptions {
  /** Milliseconds until the invocation's deadline. Default 60 s. */
  readonly timeoutMs?: number;
  /** Called after each body chunk; when it returns true the Runtime API closes the connection (a client abort). */
  readonly abortWhen?: (decoder: FunctionUrlDecoder) => boolean;
  /** Read nothing of the response for this long after it begins (a slow client: the function's writes back up). */
  readonly pauseReadingMs?: number;
}

interface Pending {
  readonly requestId: string;
  readonly event: unknown;
  readonly options: InvokeOptions;
  readonly resolve: (record: InvocationRecord) => void;
}

/** The Runtime API: queue invocations with invoke(); the runtime fetches them from /next. */
export class LambdaRuntimeApi extends EventEmitter {
  /** `GET /next` requests received (each is the runtime asking for work). */
  public nextRequests = 0;
  /** Invocations handed to the runtime. */
  public dispatched = 0;
  /** The init error the runtime reported, if any. */
  public initError?: FunctionError;
  private readonly queue: Pending[] = [];
  private readonly waiting: http.ServerResponse[] = [];
  private readonly inFlight = new Map<string, Pending>();
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private counter = 0;

  /** `127.0.0.1:PORT`, the value of AWS_LAMBDA_RUNTIME_API. */
  public address = '';

  public async start(): Promise<this> {
    // The runtime's long poll on /next may wait for as long as a test takes.
    this.server.requestTimeout = 0;
    this.server.keepAliveTimeout = 120_000;
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.address = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  public async stop(): Promise<void> {
    for (const res of this.waiting.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Queues an event; resolves with what the runtime sent back. */
  public invoke(event: unknown, options: InvokeOptions = {}): Promise<InvocationRecord> {
    return new Promise((resolve) => {
      const requestId = `req-${++this.counter}-${process.pid}`;
      this.queue.push({ requestId, event, options, resolve });
      this.dispatch();
    });
  }

  /** Resolves once the runtime is idle again: it has asked for the invocation after the last one dispatched. */
  public waitForIdle(): Promise<void> {
    return this.waitForNext(this.dispatched + 1);
  }

  /** Resolves once the runtime has asked for work `count` times in all. */
  public waitForNext(count: number): Promise<void> {
    if (this.nextRequests >= count) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.nextRequests < count) return;
        this.off('next', check);
        resolve();
      };
      this.on('next', check);
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0 && this.waiting.length > 0) {
      const res = this.waiting.shift()!;
      if (res.destroyed) continue;
      const pending = this.queue.shift()!;
      this.inFlight.set(pending.requestId, pending);
      this.dispatched++;
      const body = JSON.stringify(pending.event);
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        'Lambda-Runtime-Aws-Request-Id': pending.requestId,
        'Lambda-Runtime-Deadline-Ms': String(Date.now() + (pending.options.timeoutMs ?? 60_000)),
        'Lambda-Runtime-Invoked-Function-Arn': 'arn:aws:lambda:us-east-1:123456789012:function:streaming-proxy',
        'Lambda-Runtime-Trace-Id': `Root=1-00000000-${pending.requestId.padStart(24, '0').slice(-24)};Sampled=0`,
      });
      res.end(body);
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === `${API}/invocation/next`) {
      this.nextRequests++;
      this.waiting.push(res);
      this.emit('next', this.nextRequests);
      this.dispatch();
      return;
    }
    const match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (req.method === 'POST' && match) {
      const pending = this.inFlight.get(decodeURIComponent(match[1]));
      if (!pending) {
        res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"errorType":"InvalidRequestID"}');
        return;
      }
      this.inFlight.delete(pending.requestId);
      if (match[2] === 'error') this.receiveError(req, res, pending);
      else this.receiveResponse(req, res, pending);
      return;
    }
    if (req.method === 'POST' && url === `${API}/init/error`) {
      readAll(req).then((body) => {
        this.initError = parseError(req.headers['lambda-runtime-function-error-type'], body.toString('utf8'));
        res.writeHead(202).end('{"status":"OK"}');
        this.emit('init-error', this.initError);
      }, () => undefined);
      return;
    }
    res.writeHead(404).end();
  }

  private receiveError(req: http.IncomingMessage, res: http.ServerResponse, pending: Pending): void {
    readAll(req).then((body) => {
      res.writeHead(202).end('{"status":"OK"}');
      pending.resolve({
        requestId: pending.requestId,
        chunks: [],
        trailers: {},
        outcome: 'error-endpoint',
        functionError: parseError(req.headers['lambda-runtime-function-error-type'], body.toString('utf8')),
      });
    }, () => undefined);
  }

  private receiveResponse(req: http.IncomingMessage, res: http.ServerResponse, pending: Pending): void {
    const contentType = req.headers['content-type'];
    const decoder = new FunctionUrlDecoder(contentType);
    const chunks: TimedChunk[] = [];
    let settled = false;
    const settle = (outcome: 'completed' | 'aborted') => {
      if (settled) return;
      settled = true;
      const trailers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.trailers)) if (typeof value === 'string') trailers[name.toLowerCase()] = value;
      const type = trailers['lambda-runtime-function-error-type'];
      const errorBody = trailers['lambda-runtime-function-error-body'];
      pending.resolve({
        requestId: pending.requestId,
        responseHeaders: req.headers,
        chunks,
        trailers,
        outcome,
        response: decoder.finish(performance.now()),
        functionError: type ? parseError(type, errorBody ? Buffer.from(errorBody, 'base64').toString('utf8') : '') : undefined,
      });
    };
    req.on('data', (data: Buffer) => {
      if (settled) return;
      const chunk = { at: performance.now(), data };
      chunks.push(chunk);
      decoder.push(chunk);
      if (pending.options.abortWhen?.(decoder)) {
        // The client went away: Lambda closes the runtime's response connection mid-stream.
        settle('aborted');
        req.socket.destroy();
      }
    });
    if (pending.options.pauseReadingMs) {
      req.pause();
      setTimeout(() => req.resume(), pending.options.pauseReadingMs);
    }
    req.on('end', () => {
      settle('completed');
      res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"status":"OK"}');
    });
    req.on('error', () => settle('aborted'));
    req.on('close', () => settle('aborted'));
  }
}

function parseError(type: string | string[] | undefined, body: string): FunctionError {
  let parsed: unknown = body;
  try {
    parsed = JSON.parse(body);
  } catch {
    // keep the text
  }
  const message = typeof parsed === 'object' && parsed !== null ? (parsed as { errorMessage?: string }).errorMessage : undefined;
  return { errorType: Array.isArray(type) ? type.join(',') : type ?? 'Unknown', errorMessage: message, body: parsed };
}

function readAll(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Where aws-lambda-ric is installed, and its native Runtime API client, without which it cannot start. */
export function runtimeInterfaceClient(): { entry: string; nativeClient: string } {
  const dir = path.dirname(require.resolve('aws-lambda-ric/package.json'));
  const nativeClient = path.join(dir, 'rapid-client.node');
  if (!fs.existsSync(nativeClient)) {
    throw new Error(
      `aws-lambda-ric's native Runtime API client (${nativeClient}) was not built: its install scripts did not run. `
      + 'They need cmake, make, g++ and python3; run `npm rebuild aws-lambda-ric` (package.json allowScripts approves them).',
    );
  }
  return { entry: path.join(dir, 'index.mjs'), nativeClient };
}

export interface RuntimeProcessOptions {
  /** LAMBDA_TASK_ROOT: the folder holding the function's code. */
  readonly taskRoot: string;
  /** _HANDLER, e.g. `index.handler`. */
  readonly handler: string;
  /** The function's own environment (configuration), on top of what Lambda sets. */
  readonly env?: Record<string, string>;
}

/** The function's execution environment: `aws-lambda-ric` in a Node process, started as Lambda's bootstrap does. */
export class RuntimeProcess {
  public readonly child: ChildProcess;
  /** Resolves with the exit code (or signal) when the process ends. */
  public readonly exited: Promise<string>;
  private output = '';

  constructor(api: LambdaRuntimeApi, options: RuntimeProcessOptions) {
    const { entry } = runtimeInterfaceClient();
    this.child = spawn(process.execPath, [entry], {
      cwd: options.taskRoot,
      env: {
        PATH: process.env.PATH,
        AWS_LAMBDA_RUNTIME_API: api.address,
        _HANDLER: options.handler,
        LAMBDA_TASK_ROOT: options.taskRoot,
        AWS_LAMBDA_FUNCTION_NAME: 'streaming-proxy',
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
        AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/streaming-proxy',
        AWS_LAMBDA_LOG_STREAM_NAME: '2026/12/02/[$LATEST]0123456789abcdef',
        AWS_REGION: 'us-east-1',
        AWS_DEFAULT_REGION: 'us-east-1',
        TZ: ':UTC',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      // The last 64 KB of the function's logs, for failure messages.
      this.output = (this.output + chunk.toString('utf8')).slice(-65_536);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve(signal ?? `exit code ${code}`));
    });
  }

  /** The function's log output so far (stdout and stderr, the last 64 KB). */
  public get logs(): string {
    return this.output;
  }

  public get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Races `work` against the process ending, so a crash fails at once with the function's logs. */
  public async whileAlive<T>(work: Promise<T>): Promise<T> {
    const crash = this.exited.then((how) => {
      throw new Error(`the runtime process ended (${how}) while the test waited; its output:\n${this.output}`);
    });
    return Promise.race([work, crash]);
  }

  public async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
