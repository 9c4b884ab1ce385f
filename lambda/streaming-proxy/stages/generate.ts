/**
 * The generate stage, shared by every chat front end: the stored conversation, the policy check, the upstream call,
 * encoding for the client (streamed through relay.ts, or rendered whole), and the commit — tokens against the limits,
 * the charge, the conversation saved — before the client can see the end of the response.
 */
import type { CanonicalMessage, CanonicalRequest, MessageResponse } from '../../shared/canonical';
import { MessageAccumulator } from '../accumulate';
import type { ProxyConfig } from '../config';
import type { ResponseSink } from '../http';
import { relay } from '../relay';
import type { StreamEncoder } from '../stream-encoder';
import { classify, JSON_TYPE, send, upstreamAbort, withAbort, type Conversation, type Exchange } from './exchange';
import type { PolicyStage } from './policy';
import type { SessionStage } from './sessions';
import type { ResolvedModel, Upstream, UpstreamCall } from '../upstream/types';

export interface GenerateStage {
  /**
   * Serves one generation request. `encoder` set: streamed; else `renderComplete` renders the whole response.
   * `conversation`: the stored conversation it continues (else the `x-session-id` one, if any).
   */
  run(
    sink: ResponseSink,
    x: Exchange,
    request: CanonicalRequest,
    model: ResolvedModel,
    deadline: number | undefined,
    encoder: StreamEncoder | undefined,
    renderComplete: (response: MessageResponse) => string,
    conversation?: Conversation,
  ): Promise<void>;
}

export interface GenerateDeps {
  readonly config: Pick<ProxyConfig, 'pingIntervalMs'>;
  readonly upstreams: (model: ResolvedModel) => Upstream;
  readonly policy: PolicyStage;
  readonly sessions: SessionStage;
  readonly now: () => number;
}

export function createGenerateStage(deps: GenerateDeps): GenerateStage {
  /** The shared part of a generation request: session history, rate limit, the upstream call, and the bookkeeping after. */
  async function run(
    sink: ResponseSink,
    x: Exchange,
    request: CanonicalRequest,
    model: ResolvedModel,
    deadline: number | undefined,
    encoder: StreamEncoder | undefined,
    renderComplete: (response: MessageResponse) => string,
    conversation?: Conversation,
  ): Promise<void> {
    const session = conversation ?? await deps.sessions.loadSession(x, request);
    await deps.policy.admit(x);

    const abort = upstreamAbort(sink, deadline, deps.now);
    const call: UpstreamCall = { request, model, signal: abort.signal, requestId: x.request.requestId };
    // The turn is committed (tokens counted against the limits, the conversation saved) before the client can see the
    // end of the response, so a follow-up sent the moment it ends finds both. A failed turn records its tokens only.
    let committed = false;
    const commit = async (reply?: CanonicalMessage): Promise<void> => {
      if (committed) return;
      committed = true;
      await deps.policy.recordUsage(x);
      if (session?.id && reply && reply.content.length > 0) {
        await deps.sessions.saveSession(x, session.id, [...session.history, ...session.newTurn, reply]);
      }
    };
    try {
      const upstream = deps.upstreams(model);
      if (encoder) {
        const accumulator = session?.id ? new MessageAccumulator() : undefined;
        const result = await relay({
          events: upstream.stream(call),
          encoder,
          sink,
          headers: { ...x.headers, 'cache-control': 'no-cache', 'x-accel-buffering': 'no' },
          pingIntervalMs: deps.config.pingIntervalMs,
          signal: abort.signal,
          observe: accumulator
            ? (event) => { x.usage.observe(event); accumulator.add(event); }
            : (event) => x.usage.observe(event),
          beforeStop: () => commit(accumulator?.complete ? { role: 'assistant', content: accumulator.result().content } : undefined),
        });
        switch (result.state) {
          case 'failed_before_start':
            throw result.error;
          case 'failed_mid_stream':
            x.status = 200;
            classify(x, result.error);
            break;
          case 'client_gone':
            x.status = 200;
            x.outcome = 'client_disconnected';
            break;
          default:
            x.status = 200;
        }
      } else {
        const response = await withAbort(upstream.complete(call), abort.signal);
        x.usage.set(response.usage);
        x.usage.firstTokenAt = deps.now();
        await commit({ role: 'assistant', content: response.content });
        await send(sink, x, 200, renderComplete(response), { 'content-type': JSON_TYPE });
      }
    } finally {
      abort.release();
      await commit();
    }
  }

  return { run };
}
