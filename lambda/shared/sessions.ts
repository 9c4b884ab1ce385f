import type { CanonicalMessage } from './canonical';

/**
 * Conversation sessions: with an `x-session-id` header the proxy stores the conversation so a client can send only the
 * new turn. Keys are namespaced by identity, so one caller can never read another caller's session.
 * Implementations: in memory (dev server, tests) and Redis (lambda/shared/redis/, survives cold starts).
 */
export interface SessionStore {
  /** The stored conversation, or undefined when there is none (or it expired). */
  load(identity: string, sessionId: string): Promise<CanonicalMessage[] | undefined>;
  /** Replace the stored conversation; enforces the store's TTL and size cap (oldest turns dropped first). */
  save(identity: string, sessionId: string, messages: CanonicalMessage[]): Promise<void>;
}

/** Session ids clients may send: 1-128 characters of [A-Za-z0-9._:-]. Anything else is a 400. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
