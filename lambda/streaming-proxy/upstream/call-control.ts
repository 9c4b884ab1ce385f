/**
 * Per-call cancellation and timeouts shared by every upstream: one AbortSignal that fires when the caller's signal
 * aborts (client gone, function about to time out), when the first event takes too long, or when a started stream
 * goes silent for too long. Aborting it tears down the HTTP request, so nothing keeps running after a failure.
 */
import { toUpstreamError, UpstreamTimeout } from './errors';
import type { CanonicalEvent } from '../../shared/canonical';

/** Upstream timeouts, in milliseconds. Every one is far below Lambda's 15-minute maximum; the caller's signal bounds
 * the whole call by the function's own deadline. */
export interface UpstreamTimeouts {
  /** Establishing the TCP (and TLS) connection. */
  readonly connectMs: number;
  /** From sending the request to the first event of a stream. Failover happens only before this point. */
  readonly firstByteMs: number;
  /** Longest silence between two events of a stream that has started. */
  readonly idleMs: number;
  /** A whole non-streamed call (InvokeModel, Converse, stream:false, CountTokens). */
  readonly completeMs: number;
}

export const DEFAULT_TIMEOUTS: UpstreamTimeouts = {
  connectMs: 5_000,
  firstByteMs: 60_000,
  idleMs: 90_000,
  completeMs: 600_000,
};

/** How many events an upstream passes on between two turns of the event loop (see CallControl.pace). */
const PACE_EVERY = 32;

export class CallControl {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onParentAbort: () => void;
  private started = false;
  private passed = 0;

  /**
   * `mode` `stream`: first-byte timer now, idle timer after the first event (call `activity()` on every event).
   * `mode` `complete`: one timer for the whole call.
   */
  constructor(private readonly parent: AbortSignal, private readonly timeouts: UpstreamTimeouts, mode: 'stream' | 'complete') {
    this.onParentAbort = () => this.abort(parent.reason ?? new Error('aborted'));
    if (parent.aborted) {
      this.onParentAbort();
    } else {
      parent.addEventListener('abort', this.onParentAbort, { once: true });
      const ms = mode === 'stream' ? timeouts.firstByteMs : timeouts.completeMs;
      const what = mode === 'stream' ? 'no response within' : 'the call did not finish within';
      this.timer = setTimeout(() => this.abort(new UpstreamTimeout(`${what} ${ms} ms`)), ms);
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** An event arrived: the first one switches from the first-byte timer to the idle timer. Cheap enough per event. */
  activity(): void {
    if (this.started) {
      this.timer?.refresh();
      return;
    }
    this.started = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.controller.signal.aborted) return;
    const ms = this.timeouts.idleMs;
    this.timer = setTimeout(() => this.abort(new UpstreamTimeout(`the stream was silent for ${ms} ms`)), ms);
  }

  /**
   * Cooperative scheduling: after the first event and then every PACE_EVERY events, a promise that resolves on the next
   * turn of the event loop (undefined otherwise). Events that arrive together in one network read are otherwise all
   * decoded and passed on in one run of the microtask queue, and nothing written for them leaves the process (nor do
   * other streams progress) until that run ends: awaiting this lets the first byte go out at once and keeps concurrent
   * streams interleaved.
   */
  pace(): Promise<void> | undefined {
    const n = this.passed++;
    if (n !== 0 && n % PACE_EVERY !== 0) return undefined;
    return new Promise((resolve) => setImmediate(resolve));
  }

  /** Throws the abort reason once the call has been aborted (checked before passing on each event, so events already
   * decoded from a buffer are not delivered after an abort). */
  throwIfAborted(): void {
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
  }

  /** The call is over (success or failure): stop timers and listeners. */
  finish(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.parent.removeEventListener('abort', this.onParentAbort);
  }

  /** Tear the call down now (e.g. the consumer stopped iterating). */
  cancel(): void {
    if (!this.controller.signal.aborted) this.abort(new Error('the consumer stopped reading'));
  }

  private abort(reason: unknown): void {
    this.finish();
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }
}

/** Returned by a StreamSteps.translate to end the stream early (an explicit end marker such as `data: [DONE]`). */
export const END_OF_STREAM = Symbol('end of stream');

/** What an upstream adapter supplies to runStream. */
export interface StreamSteps<T> {
  /** Sends the request; resolves with the upstream's items (decoded frames, SSE messages, SDK events). */
  open(): Promise<AsyncIterable<T>>;
  /** One upstream item as canonical events: one, several, none (undefined), or END_OF_STREAM. May throw an
   * UpstreamError (an exception frame). */
  translate(item: T): CanonicalEvent | readonly CanonicalEvent[] | undefined | typeof END_OF_STREAM;
  /** Events still owed once the upstream has ended (a translator's closing events). */
  end?(): readonly CanonicalEvent[];
}

/**
 * The streaming loop every upstream shares: open the call, pass each translated event on (never one decoded after
 * an abort), yield to the event loop as CallControl.pace says, classify any failure with toUpstreamError, and tear the
 * HTTP stream down when the consumer stops early or the call fails.
 */
export async function* runStream<T>(control: CallControl, what: string, steps: StreamSteps<T>): AsyncGenerator<CanonicalEvent> {
  let completed = false;
  try {
    const source = await steps.open();
    for await (const item of source) {
      const out = steps.translate(item);
      if (out === END_OF_STREAM) break;
      if (out === undefined) continue;
      if (isEventList(out)) {
        for (const event of out) {
          control.throwIfAborted();
          yield event;
          const turn = control.pace();
          if (turn) await turn;
        }
      } else {
        control.throwIfAborted();
        yield out;
        const turn = control.pace();
        if (turn) await turn;
      }
    }
    const tail = steps.end?.() ?? [];
    completed = true;
    for (const event of tail) yield event;
  } catch (err) {
    throw toUpstreamError(err, what, control.signal);
  } finally {
    // Stopping early (client went away) or failing must release the HTTP stream too.
    if (!completed) control.cancel();
    control.finish();
  }
}

function isEventList(out: CanonicalEvent | readonly CanonicalEvent[]): out is readonly CanonicalEvent[] {
  return Array.isArray(out);
}
