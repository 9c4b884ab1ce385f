/**
 * Adapts the proxy to a Lambda response-streaming handler: the event (Function URL 2.0 or API Gateway REST 1.0) becomes
 * a ProxyRequest, and the response stream becomes a ResponseSink whose start() writes the HTTP prelude through
 * `awslambda.HttpResponseStream.from`. Used by index.ts with the real runtime and by the dev server with the shim.
 *
 * What the real runtime (aws-lambda-ric) does that shapes this file (test/lambda/real-runtime.test.ts runs the bundle
 * under it; docs/runtime-contract.md has the whole list):
 * - `HttpResponseStream.from` writes nothing: the prelude goes out with the first write() call, and a response that is
 *   ended without one reaches the client as a 200 without its status and headers. start() therefore writes once.
 * - When the connection that carries the response breaks (the client went away), the runtime rejects promises of its
 *   own with the error it emits on the response stream, before anything handles them; Node's default for an unhandled
 *   rejection ends the process. The sink recognises those errors so that one abort does not kill the environment.
 */
import type { Writable } from 'stream';
import { ProxyError } from './errors';
import { BadEventError, parseEvent, type ResponseSink } from './http';
import type { Proxy } from './pipeline';
import type { AwsLambdaRuntime, StreamingContext, StreamingHandler } from '../shared/awslambda-shim';

/** Time kept back from the Lambda deadline to write an error frame and end the stream. */
const DEADLINE_MARGIN_MS = 1500;

export function createStreamingHandler(proxy: Proxy, runtime: AwsLambdaRuntime): StreamingHandler {
  return runtime.streamifyResponse(async (event: unknown, responseStream: Writable, context: StreamingContext) => {
    const sink = responseSink(responseStream, runtime);
    let request;
    try {
      request = parseEvent(event, context.awsRequestId);
    } catch (err) {
      if (!(err instanceof BadEventError)) throw err;
      const error = new ProxyError('invalid_request', `Unsupported event: ${err.message}.`);
      sink.start(error.status('anthropic'), { 'content-type': 'application/json', 'request-id': context.awsRequestId });
      await sink.write(error.body('anthropic'));
      await sink.end();
      return;
    }
    await proxy.handle(request, sink, { deadline: Date.now() + context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS });
  });
}

/** Output held back for one flush never grows past this (bytes, roughly: strings count characters). */
const MAX_PENDING = 64 * 1024;

/**
 * A ResponseSink over a Lambda response stream, honouring backpressure and noticing when the client goes away.
 *
 * Writes are coalesced per event-loop turn: the first write of a turn goes out at once, so the first byte (and an
 * event that arrives on its own) is not delayed; the writes that follow in the same turn — typically the rest of the
 * events decoded from one upstream network read — are joined and written as one chunk when the turn ends
 * (setImmediate). Each write to a response stream costs a chunk of HTTP framing and a syscall, so an upstream read
 * holding 200 events becomes 2 writes instead of 200.
 */
export function responseSink(responseStream: Writable, runtime: AwsLambdaRuntime): ResponseSink {
  const gone = new AbortController();
  let out: Writable | undefined;
  let ended = false;
  let pending: (string | Uint8Array)[] = [];
  let pendingSize = 0;
  let turn: NodeJS.Immediate | undefined;
  /** Set while the response stream is over its buffer limit; resolves on 'drain' (or when the client goes away). */
  let drain: Promise<void> | undefined;

  const onGone = () => {
    if (!ended) gone.abort();
  };
  responseStream.once('close', onGone);
  // Not once: the runtime's stream emits the same error twice (from the socket, then from its own destroy()).
  responseStream.on('error', (err: unknown) => {
    expectRuntimeRejection(err);
    onGone();
  });

  const waitForDrain = (stream: Writable): void => {
    if (drain) return;
    drain = new Promise<void>((resolve) => {
      const done = () => {
        stream.off('drain', done);
        gone.signal.removeEventListener('abort', done);
        drain = undefined;
        // Whatever was written meanwhile (a keep-alive ping) goes first, before the writer that waited continues.
        flush();
        resolve();
      };
      stream.on('drain', done);
      gone.signal.addEventListener('abort', done, { once: true });
    });
  };
  const writeNow = (chunk: string | Uint8Array): void => {
    if (!out || gone.signal.aborted || out.destroyed) return;
    if (!out.write(chunk)) waitForDrain(out);
  };
  const flush = (): void => {
    if (pending.length === 0) return;
    const chunk = pending.length === 1 ? pending[0] : join(pending);
    pending = [];
    pendingSize = 0;
    writeNow(chunk);
  };
  const endTurn = (): void => {
    turn = undefined;
    if (!drain) flush();
  };

  return {
    signal: gone.signal,
    start(status: number, headers: Record<string, string>): void {
      if (out) throw new Error('the response has already started');
      out = runtime.HttpResponseStream.from(responseStream, { statusCode: status, headers });
      // The runtime writes the prelude on the first write() call, empty or not: send the status and headers now, as
      // start() promises, whether or not a body follows (a 204 preflight, a HEAD).
      if (!out.destroyed) out.write('');
    },
    write(chunk: string | Uint8Array): Promise<void> | undefined {
      if (!out) throw new Error('write before start');
      if (gone.signal.aborted || out.destroyed) return undefined;
      if (turn === undefined && !drain) {
        turn = setImmediate(endTurn);
        writeNow(chunk);
        return drain;
      }
      pending.push(chunk);
      pendingSize += chunk.length;
      if (pendingSize >= MAX_PENDING && !drain) flush();
      return drain;
    },
    end(): Promise<void> {
      ended = true;
      if (turn !== undefined) clearImmediate(turn);
      turn = undefined;
      flush();
      const stream = out ?? responseStream;
      if (stream.writableEnded || stream.destroyed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        stream.once('error', () => resolve());
        stream.end(() => resolve());
      });
    },
  };
}

function join(chunks: (string | Uint8Array)[]): string | Buffer {
  if (chunks.every((c) => typeof c === 'string')) return chunks.join('');
  return Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
}

/**
 * Errors that a response stream emitted. aws-lambda-ric's response stream is an HTTP request to the Runtime API; when
 * that connection breaks it rejects two promises it keeps for itself (the Runtime API's answer) with the same error,
 * while the handler is still running and before it awaits them, so Node reports them as unhandled rejections, and
 * Node's default for those ends the process: the next invocation would pay a cold start, and others sharing the
 * environment would fail. The sink has seen the error (the client is gone), so those rejections are expected.
 */
const runtimeRejections = new WeakSet<object>();
let rejectionListener = false;

/** Marks `err` (emitted by a response stream) as expected when it comes back as an unhandled rejection. */
function expectRuntimeRejection(err: unknown): void {
  if (typeof err !== 'object' || err === null) return;
  runtimeRejections.add(err);
  if (rejectionListener) return;
  rejectionListener = true;
  process.on('unhandledRejection', onUnhandledRejection);
}

/**
 * Ignores the rejections marked by expectRuntimeRejection; any other one is treated as if this listener were not
 * there: thrown (Node's default, which ends the process) unless another listener handles it.
 */
function onUnhandledRejection(reason: unknown): void {
  if (typeof reason === 'object' && reason !== null && runtimeRejections.has(reason)) return;
  if (process.listenerCount('unhandledRejection') <= 1) throw reason;
}
