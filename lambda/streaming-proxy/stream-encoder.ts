import type { ProxyError } from './errors';
import type { CanonicalEvent } from '../shared/canonical';

/** Turns canonical events into a client protocol's stream frames. One instance per response (it may keep state). */
export interface StreamEncoder {
  readonly contentType: string;
  /** The frames for one event ('' when the protocol has nothing to say for it). */
  encode(event: CanonicalEvent): string;
  /** A keep-alive frame for long upstream silences. */
  ping(): string;
  /** The frame that reports a failure after the response has started. */
  error(err: ProxyError): string;
  /** Frames after the last event (e.g. OpenAI's `data: [DONE]`). */
  end(): string | undefined;
}
