/**
 * What a front end (one protocol's routes: anthropic/front-end.ts, openai/front-end.ts, responses/front-end.ts,
 * batches/api.ts) is given: the stages it composes, in the order a request meets them — parse and resolve, policy,
 * sessions, generate (upstream, encode, meter and charge, commit) — and the upstreams for calls of its own.
 */
import type { ProxyConfig } from '../config';
import type { ResponseSink } from '../http';
import type { Exchange } from './exchange';
import type { GenerateStage } from './generate';
import type { PolicyStage } from './policy';
import type { ResolveStage } from './resolve';
import type { SessionStage } from './sessions';
import type { ResolvedModel, Upstream } from '../upstream/types';

export interface FrontEndDeps {
  readonly config: Pick<ProxyConfig, 'extraBetas'>;
  readonly resolve: ResolveStage;
  readonly policy: PolicyStage;
  readonly sessions: SessionStage;
  readonly generate: GenerateStage;
  readonly upstreams: (model: ResolvedModel) => Upstream;
  /** Whether a session store is configured (the Responses API's `store`). */
  readonly storesResponses: boolean;
  readonly now: () => number;
}

/** One route's handler; `deadline` is the epoch ms by which the response must be finished. */
export type RouteHandler = (sink: ResponseSink, x: Exchange, deadline: number | undefined) => Promise<void>;

/** Default max_tokens for OpenAI requests that set none, when the catalogue entry has no maxOutputTokens. */
export const DEFAULT_MAX_TOKENS = 4096;
