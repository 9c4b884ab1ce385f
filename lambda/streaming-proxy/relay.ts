/**
 * Streams canonical events to the client as they arrive. Status and headers are written when the first event arrives,
 * so a failure before it still gets a real HTTP status (the caller answers with an error response). After that, a
 * failure becomes the protocol's error frame and the stream ends cleanly. Writes wait when the client is slower than
 * the upstream (backpressure); a keep-alive ping is written after `pingIntervalMs` of upstream silence; when the
 * client goes away the upstream iterator is closed.
 */
import { ProxyError, toProxyError } from './errors';
import type { ResponseSink } from './http';
import type { StreamEncoder } from './stream-encoder';
import type { CanonicalEvent } from '../shared/canonical';

export interface RelayOptions {
  readonly events: AsyncIterable<CanonicalEvent>;
  readonly encoder: StreamEncoder;
  readonly sink: ResponseSink;
  readonly headers: Record<string, string>;
  readonly pingIntervalMs: number;
  /** Sees every event before it is encoded (usage, session accumulation). */
  readonly observe: (event: CanonicalEvent) => void;
  /** Aborted when the upstream should stop (client gone, deadline); its reason explains why. */
  readonly signal: AbortSignal;
  /**
   * Runs once the upstream's message_stop has been observed and before the client is shown the end of the message
   * (the held stop_reason frame, message_stop, `[DONE]`): the caller commits the turn here (session, token usage), so
   * a client that sends its next turn the moment this response ends always finds the previous one stored.
   */
  readonly beforeStop?: () => Promise<void>;
}

export type RelayResult =
  /** The stream completed (message_stop sent). */
  | { readonly state: 'complete' }
  /** Failed before the first event: nothing was written; answer with an error response. */
  | { readonly state: 'failed_before_start'; readonly error: ProxyError }
  /** Failed after the first event: an error frame was written and the stream ended. */
  | { readonly state: 'failed_mid_stream'; readonly error: ProxyError }
  /** The client went away. */
  | { readonly state: 'client_gone' };

export async function relay(options: RelayOptions): Promise<RelayResult> {
  const { encoder, sink, signal } = options;
  const iterator = options.events[Symbol.asyncIterator]();
  let started = false;
  let sawStop = false;
  let ping: NodeJS.Timeout | undefined;
  // The message_delta frame (stop_reason, final usage; OpenAI's finish_reason chunk) waits for message_stop, so the
  // client cannot learn that the message is over before beforeStop() has committed it. Any other frame flushes it.
  let held = '';

  const write = async (frame: string | undefined): Promise<void> => {
    const out = held + (frame ?? '');
    held = '';
    if (!out || sink.signal.aborted) return;
    const wait = sink.write(out);
    if (wait) await wait;
  };

  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      const event = next.value;
      if (!started) {
        sink.start(200, { ...options.headers, 'content-type': encoder.contentType });
        started = true;
        ping = setTimeout(function keepAlive() {
          // A ping is tiny: it is written even while a data write waits for the client (no await here).
          if (!sink.signal.aborted) void sink.write(encoder.ping());
          ping?.refresh();
        }, options.pingIntervalMs);
        ping.unref?.();
      } else {
        ping?.refresh();
      }
      options.observe(event);
      if (event.type === 'message_delta') {
        held += encoder.encode(event) ?? '';
        continue;
      }
      if (event.type === 'message_stop') {
        sawStop = true;
        if (options.beforeStop) await options.beforeStop();
      }
      await write(encoder.encode(event));
      if (sink.signal.aborted) return { state: 'client_gone' };
    }
    if (sink.signal.aborted) return { state: 'client_gone' };
    if (!started) {
      return { state: 'failed_before_start', error: aborted(signal) ?? new ProxyError('bad_gateway', 'The upstream returned an empty response.') };
    }
    if (!sawStop) {
      const error = aborted(signal) ?? new ProxyError('bad_gateway', 'The upstream response ended before the message was complete.');
      await write(encoder.error(error));
      return { state: 'failed_mid_stream', error };
    }
    await write(encoder.end());
    return { state: 'complete' };
  } catch (err) {
    if (sink.signal.aborted) return { state: 'client_gone' };
    const error = aborted(signal) ?? toProxyError(err);
    if (!started) return { state: 'failed_before_start', error };
    await write(encoder.error(error));
    return { state: 'failed_mid_stream', error };
  } finally {
    if (ping) clearTimeout(ping);
    if (sink.signal.aborted || !sawStop) {
      // Close the upstream (an iterator that is still producing) without waiting on a slow upstream for long.
      void Promise.resolve(iterator.return?.()).catch(() => undefined);
    }
    if (started) await sink.end();
  }
}

/** The error an abort stands for, when the upstream was aborted with a ProxyError reason (e.g. the deadline). */
function aborted(signal: AbortSignal): ProxyError | undefined {
  return signal.aborted && signal.reason instanceof ProxyError ? signal.reason : undefined;
}
