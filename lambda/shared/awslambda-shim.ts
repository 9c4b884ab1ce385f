/**
 * A local stand-in for the `awslambda` global that the Lambda Node.js runtime provides to response-streaming functions
 * (`awslambda.streamifyResponse`, `awslambda.HttpResponseStream.from`). The dev server and the tests run the real
 * handler through it, so a response reaches the client incrementally, exactly as the handler writes it.
 *
 * The response stream is a PassThrough. `HttpResponseStream.from(stream, prelude)` records the status and headers on it
 * and emits `prelude` before the first body byte, which is when a local HTTP server writes its status line — the same
 * order the Lambda runtime follows (prelude, then body).
 */
import { PassThrough, Writable } from 'stream';

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

/** The response stream handed to a handler run through the shim. */
export class ShimResponseStream extends PassThrough {
  private metadata?: HttpResponseMetadata;

  /** The prelude the handler set with HttpResponseStream.from, if it did. */
  public get prelude(): HttpResponseMetadata | undefined {
    return this.metadata;
  }

  /** Called by HttpResponseStream.from; a second call is a handler bug, as it is in Lambda. */
  public setPrelude(metadata: HttpResponseMetadata): void {
    if (this.metadata) throw new Error('HttpResponseStream.from was called twice on the same response stream');
    this.metadata = { statusCode: metadata.statusCode ?? 200, headers: { ...metadata.headers }, cookies: metadata.cookies };
    this.emit('prelude', this.metadata);
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
 * handler runs) and a promise that settles when the handler does. When the handler resolves without ending the stream,
 * the stream is ended; when it rejects, the stream is destroyed with the error.
 */
export function invokeStreaming<E>(
  handler: StreamingHandler<E>,
  event: E,
  context: StreamingContext,
): { stream: ShimResponseStream; done: Promise<void> } {
  const stream = new ShimResponseStream();
  const done = (async () => {
    try {
      await handler(event, stream, context);
      if (!stream.writableEnded && !stream.destroyed) stream.end();
    } catch (err) {
      if (!stream.destroyed) stream.destroy(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  })();
  return { stream, done };
}
