/**
 * Adapts the proxy to a Lambda response-streaming handler: the event (Function URL 2.0 or API Gateway REST 1.0) becomes
 * a ProxyRequest, and the response stream becomes a ResponseSink whose start() writes the HTTP prelude through
 * `awslambda.HttpResponseStream.from`. Used by index.ts with the real runtime and by the dev server with the shim.
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
  responseStream.once('error', onGone);

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
