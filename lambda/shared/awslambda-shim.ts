/**
 * A local stand-in for the `awslambda` global that the Lambda Node.js runtime provides to response-streaming functions
 * (`awslambda.streamifyResponse`, `awslambda.HttpResponseStream.from`). The dev server and the tests run the real
 * handler through it, so a response reaches the client incrementally, exactly as the handler writes it.
 *
 * It behaves like the real runtime interface client (aws-lambda-ric 4.x) together with a function URL in front of it;
 * test/lambda/real-runtime.test.ts runs the same probe handler under both and compares what a client gets:
 * - `HttpResponseStream.from(stream, prelude)` sends nothing. The prelude goes out with the first write() call (an
 *   empty one too), and that is when `prelude` is set and the `prelude` event fires; until then a later `from()`
 *   replaces it, and after it `from()` throws `Runtime.InvalidStreamingOperation`.
 * - A stream ended with no write before it never sends the prelude: the client gets a 200 without the prelude's
 *   status and headers, or a 502 when `end(chunk)` carried the body (the runtime writes that chunk without a prelude).
 * - After the handler returns, the invocation goes on until the stream ends (the runtime waits for it), or until the
 *   deadline passes (`Task timed out`); it is not ended for the handler.
 * - When the client goes away (the consumer destroys the stream), the handler's stream emits an ECONNRESET
 *   `socket hang up` error, then `close`, as the runtime's HTTP connection does; the stream always has an error
 *   listener of its own, like the runtime's, so such an error never throws.
 * - A handler that rejects fails the invocation: the stream is destroyed with its error (the runtime reports it in the
 *   `Lambda-Runtime-Function-Error-*` trailers).
 */
import { PassThrough, type TransformOptions, type Writable } from 'stream';

/** Status, headers and cookies written before the body of a streamed HTTP response. */
export interface HttpResponseMetadata {
  statusCode?: number;
  headers?: Record<string, string>;
  cookies?: string[];
}

/** The parts of the Lambda context object the proxy uses. */
export interface StreamingContext {
  readonly awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

export type StreamingHandler<E = unknown> = (event: E, responseStream: Writable, context: StreamingContext) => Promise<void>;

/** The shape of the `awslambda` global in the Lambda Node.js runtime (the parts used here). */
export interface AwsLambdaRuntime {
  readonly HttpResponseStream: {
    from(responseStream: Writable, metadata: HttpResponseMetadata): Writable;
  };
  streamifyResponse<E>(handler: StreamingHandler<E>): StreamingHandler<E>;
}

/** Where the Lambda Node.js runtime puts the `awslambda` object (typed here; @types/aws-lambda's global differs). */
export const runtimeGlobal = globalThis as unknown as { awslambda?: AwsLambdaRuntime };

type WriteCallback = (error: Error | null | undefined) => void;

/** What a function URL answers for a stream that ended without its prelude. */
const NO_PRELUDE: HttpResponseMetadata = { statusCode: 200, headers: {}, cookies: [] };
const BROKEN_PRELUDE: HttpResponseMetadata = { statusCode: 502, headers: {}, cookies: [] };

/** The response stream handed to a handler run through the shim. */
export class ShimResponseStream extends PassThrough {
  private pending?: HttpResponseMetadata;
  private sent?: HttpResponseMetadata;
  private written = false;

  constructor(options?: TransformOptions) {
    super(options);
    // The runtime listens for errors on its own connection; an error event here never goes unheard either.
    this.on('error', () => undefined);
  }

  /** The status, headers and cookies the client got, once they were sent. */
  public get prelude(): HttpResponseMetadata | undefined {
    return this.sent;
  }

  /** Called by HttpResponseStream.from: records the prelude, which goes out with the first write. */
  public setPrelude(metadata: HttpResponseMetadata): void {
    if (this.written) throw invalidStreamingOperation('Cannot set content-type, too late.');
    this.pending = { statusCode: metadata.statusCode ?? 200, headers: { ...metadata.headers }, cookies: [...(metadata.cookies ?? [])] };
  }

  public write(chunk: unknown, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    if (!this.written) {
      this.written = true;
      if (this.pending) this.send(this.pending);
    }
    return super.write(chunk, encoding as BufferEncoding, callback);
  }

  public end(chunk?: unknown, encoding?: BufferEncoding | (() => void), callback?: () => void): this {
    if (!this.written && this.pending && !this.writableEnded) {
      this.written = true;
      const body = typeof chunk === 'function' ? undefined : chunk;
      const withBody = body !== undefined && body !== null && (body as { length?: number }).length !== 0;
      this.send(withBody ? BROKEN_PRELUDE : NO_PRELUDE);
      // The function URL answers 502 by itself; the bytes the runtime sent without a prelude do not reach the client.
      if (withBody) return super.end(typeof encoding === 'function' ? encoding : callback);
    }
    return super.end(chunk, encoding as BufferEncoding, callback);
  }

  public _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A consumer that goes away before the end is a broken connection to the runtime.
    callback(error ?? (this.writableEnded ? null : connectionReset()));
  }

  private send(metadata: HttpResponseMetadata): void {
    this.sent = metadata;
    this.emit('prelude', metadata);
  }
}

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');

/** The shim's `awslambda` object. */
export const awslambdaShim: AwsLambdaRuntime = {
  streamifyResponse<E>(handler: StreamingHandler<E>): StreamingHandler<E> {
    (handler as unknown as Record<symbol, string>)[STREAMING] = 'response';
    return handler;
  },
  HttpResponseStream: {
    from(responseStream: Writable, metadata: HttpResponseMetadata): Writable {
      if (!(responseStream instanceof ShimResponseStream)) {
        throw new Error('HttpResponseStream.from (shim) expects the response stream created by invokeStreaming');
      }
      responseStream.setPrelude(metadata);
      return responseStream;
    },
  },
};

/** Installs the shim as the `awslambda` global unless a real runtime already provides one. Returns the global. */
export function installAwslambdaShim(): AwsLambdaRuntime {
  runtimeGlobal.awslambda ??= awslambdaShim;
  return runtimeGlobal.awslambda;
}

/** A Lambda-like context for local invocations. */
export function localContext(requestId: string, timeoutMs = 15 * 60_000): StreamingContext {
  const deadline = Date.now() + timeoutMs;
  return { awsRequestId: requestId, getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
}

/**
 * Invokes a streaming handler the way the Lambda runtime does. Returns the response stream at once (read it while the
 * handler runs) and a promise that settles when the invocation does: when the handler has returned and the stream has
 * ended (or the client went away). It rejects when the handler rejects (the stream is destroyed with that error) or
 * when the context's deadline passes first (`Task timed out after N seconds`; the stream is cut).
 */
export function invokeStreaming<E>(
  handler: StreamingHandler<E>,
  event: E,
  context: StreamingContext,
): { stream: ShimResponseStream; done: Promise<void> } {
  const stream = new ShimResponseStream();
  const timeoutMs = context.getRemainingTimeInMillis();
  const done = (async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`)), timeoutMs);
      timer.unref?.();
    });
    const run = (async () => {
      await handler(event, stream, context);
      await closed(stream);
    })();
    // After a timeout the handler may still fail; the invocation is over by then.
    run.catch(() => undefined);
    try {
      await Promise.race([run, timeout]);
    } catch (err) {
      if (!stream.destroyed) stream.destroy(err instanceof Error ? err : new Error(String(err)));
      throw err;
    } finally {
      clearTimeout(timer);
    }
  })();
  return { stream, done };
}

/** Resolves when the handler's side of the stream has ended (all written) or the stream was destroyed. */
function closed(stream: ShimResponseStream): Promise<void> {
  if (stream.writableFinished || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('finish', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('finish', done);
    stream.on('close', done);
  });
}

function invalidStreamingOperation(message: string): Error {
  const error = new Error(message);
  error.name = 'Runtime.InvalidStreamingOperation';
  return error;
}

function connectionReset(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}
