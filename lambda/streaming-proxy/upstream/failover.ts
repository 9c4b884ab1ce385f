/**
 * Failover to a second region and/or inference profile. The second target is tried only when the first fails with a
 * retryable error (throttling, overloaded, 5xx, timeout) before its first event, i.e. before the client has received
 * anything, so the client still sees one clean response. Once an event has been passed on, errors propagate.
 */
import type { EmbedCall, EmbedResult, ResolvedModel, Upstream, UpstreamCall } from './types';
import { UpstreamError, type CanonicalEvent, type MessageResponse } from '../../shared/canonical';

export interface FailoverTarget {
  /** The upstream (client) for the failover region. */
  readonly upstream: Upstream;
  /** Model id or inference profile used there; the primary target when unset. */
  readonly target?: string;
  /** The failover region, for messages. */
  readonly region?: string;
}

export class FailoverUpstream implements Upstream {
  public readonly kind: Upstream['kind'];
  /** Called when the failover target is used (metrics, logs). */
  public onFailover?: (error: UpstreamError, call: UpstreamCall | EmbedCall) => void;

  constructor(private readonly primary: Upstream, private readonly secondary: FailoverTarget) {
    this.kind = primary.kind;
  }

  async *stream(call: UpstreamCall): AsyncIterable<CanonicalEvent> {
    let started = false;
    try {
      for await (const event of this.primary.stream(call)) {
        started = true;
        yield event;
      }
      return;
    } catch (err) {
      if (started || !this.shouldFailOver(err, call)) throw err;
      this.onFailover?.(err as UpstreamError, call);
    }
    yield* this.secondary.upstream.stream(this.secondaryCall(call));
  }

  async complete(call: UpstreamCall): Promise<MessageResponse> {
    try {
      return await this.primary.complete(call);
    } catch (err) {
      if (!this.shouldFailOver(err, call)) throw err;
      this.onFailover?.(err as UpstreamError, call);
    }
    return this.secondary.upstream.complete(this.secondaryCall(call));
  }

  async countTokens(call: UpstreamCall): Promise<number | undefined> {
    if (!this.primary.countTokens) return undefined;
    try {
      return await this.primary.countTokens(call);
    } catch (err) {
      if (!this.shouldFailOver(err, call) || !this.secondary.upstream.countTokens) throw err;
    }
    return this.secondary.upstream.countTokens(this.secondaryCall(call));
  }

  async embed(call: EmbedCall): Promise<EmbedResult> {
    if (!this.primary.embed) throw new UpstreamError('validation', `the ${this.primary.kind} upstream does not serve embeddings`, false);
    try {
      return await this.primary.embed(call);
    } catch (err) {
      if (!this.shouldFailOver(err, call) || !this.secondary.upstream.embed) throw err;
      this.onFailover?.(err as UpstreamError, call);
    }
    return this.secondary.upstream.embed(this.secondaryCall(call));
  }

  private shouldFailOver(err: unknown, call: { readonly signal: AbortSignal }): boolean {
    return err instanceof UpstreamError && err.retryable && !call.signal.aborted;
  }

  private secondaryCall<C extends { readonly model: ResolvedModel }>(call: C): C {
    const model: ResolvedModel = {
      ...call.model,
      target: this.secondary.target ?? call.model.target,
      region: this.secondary.region ?? call.model.region,
    };
    return { ...call, model };
  }
}
