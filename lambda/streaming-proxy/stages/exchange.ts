/**
 * One request's state as it moves through the stages (the metering record is built from it), and the small helpers
 * every stage uses to answer.
 */
import type { CanonicalMessage } from '../../shared/canonical';
import type { Identity } from '../auth/types';
import { ProxyError, type Protocol } from '../errors';
import type { ProxyRequest, ResponseSink } from '../http';
import { UsageTracker, type Outcome } from '../metering';
import type { RouteName } from '../router';
import type { ResolvedModel } from '../upstream/types';

export const JSON_TYPE = 'application/json';

/** The stored conversation a request continues: `history` before it, `newTurn` its own messages, and the key the
 * finished conversation is saved under (undefined: not saved). */
export interface Conversation {
  readonly id?: string;
  readonly history: CanonicalMessage[];
  readonly newTurn: CanonicalMessage[];
}

/** Per-request state the metering record is built from. */
export class Exchange {
  public route?: RouteName;
  public protocol: Protocol = 'anthropic';
  public status = 0;
  public outcome: Outcome = 'ok';
  public identity?: Identity;
  public model?: ResolvedModel;
  public stream?: boolean;
  public error?: string;
  public limiterDegraded = false;
  public sessionId?: string;
  public dropped?: { betas: string[]; fields: string[] };
  public readonly usage: UsageTracker;
  public readonly headers: Record<string, string>;

  constructor(public readonly request: ProxyRequest, public readonly started: number, now: () => number, cors: Record<string, string>) {
    this.usage = new UsageTracker(now);
    this.headers = { 'request-id': request.requestId, 'x-request-id': request.requestId, ...cors };
  }
}

export async function send(
  sink: ResponseSink, x: Exchange, status: number, body: string | undefined, headers: Record<string, string>,
): Promise<void> {
  x.status = status;
  sink.start(status, { ...x.headers, ...headers });
  if (body !== undefined) {
    const wait = sink.write(body);
    if (wait) await wait;
  }
  await sink.end();
}

/** A HEAD request gets the headers of the GET response and no body. */
export function bodyUnlessHead(request: ProxyRequest, body: string): string | undefined {
  return request.method === 'HEAD' ? undefined : body;
}

export async function sendError(sink: ResponseSink, x: Exchange, error: ProxyError): Promise<void> {
  await send(sink, x, error.status(x.protocol), error.body(x.protocol), { 'content-type': JSON_TYPE, ...(error.options.headers ?? {}) });
}

export function invalidField(error: { path: string; message: string }): ProxyError {
  return new ProxyError('invalid_request', error.path ? `${error.path}: ${error.message}` : error.message, { param: error.path || undefined });
}

/** Sets the outcome and error message of an exchange from the error that ended it. */
export function classify(x: Exchange, error: ProxyError): void {
  x.error = error.message;
  if (x.outcome === 'rate_limited') return;
  const upstream = error.options.upstream === true;
  if (error.kind === 'rate_limit' && upstream) x.outcome = 'upstream_throttled';
  else if (upstream || error.kind === 'bad_gateway' || error.kind === 'timeout') x.outcome = 'upstream_error';
  else if (error.status('anthropic') >= 500) x.outcome = 'proxy_error';
  else x.outcome = 'client_error';
}

export function corsHeaders(allowed: readonly string[], origin: string | undefined): Record<string, string> {
  if (allowed.length === 0 || !origin) return {};
  const ok = allowed.includes('*') || allowed.includes(origin);
  if (!ok) return {};
  return {
    'access-control-allow-origin': allowed.includes('*') ? '*' : origin,
    'access-control-expose-headers': 'request-id, x-request-id, retry-after, x-token-count',
    'vary': 'origin',
  };
}

/** Rejects with the signal's reason when it aborts first (non-streamed calls, deadline and client disconnect). */
export function withAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : 'unknown error';
}

/**
 * The abort signal of one upstream call: aborted when the client goes away or the deadline passes. `release` must be
 * called when the call is over (it clears the timer and the listener).
 */
export function upstreamAbort(sink: ResponseSink, deadline: number | undefined, now: () => number): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onClientGone = () => controller.abort(new ProxyError('internal', 'client disconnected'));
  sink.signal.addEventListener('abort', onClientGone, { once: true });
  const timer = deadline !== undefined
    ? setTimeout(() => controller.abort(new ProxyError('timeout', 'The proxy ran out of time before the upstream finished.')), Math.max(0, deadline - now()))
    : undefined;
  return {
    signal: controller.signal,
    release: () => {
      if (timer) clearTimeout(timer);
      sink.signal.removeEventListener('abort', onClientGone);
    },
  };
}
