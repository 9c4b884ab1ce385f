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

/** A ResponseSink over a Lambda response stream, honouring backpressure and noticing when the client goes away. */
export function responseSink(responseStream: Writable, runtime: AwsLambdaRuntime): ResponseSink {
  const gone = new AbortController();
  let out: Writable | undefined;
  let ended = false;
  const onGone = () => {
    if (!ended) gone.abort();
  };
  responseStream.once('close', onGone);
  responseStream.once('error', onGone);

  return {
    signal: gone.signal,
    start(status: number, headers: Record<string, string>): void {
      if (out) throw new Error('the response has already started');
      out = runtime.HttpResponseStream.from(responseStream, { statusCode: status, headers });
    },
    write(chunk: string | Uint8Array): Promise<void> | undefined {
      if (!out) throw new Error('write before start');
      if (gone.signal.aborted || out.destroyed) return undefined;
      if (out.write(chunk)) return undefined;
      const stream = out;
      return new Promise<void>((resolve) => {
        const done = () => {
          stream.off('drain', done);
          gone.signal.removeEventListener('abort', done);
          resolve();
        };
        stream.on('drain', done);
        gone.signal.addEventListener('abort', done, { once: true });
      });
    },
    end(): Promise<void> {
      ended = true;
      const stream = out ?? responseStream;
      if (stream.writableEnded || stream.destroyed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        stream.once('error', () => resolve());
        stream.end(() => resolve());
      });
    },
  };
}
