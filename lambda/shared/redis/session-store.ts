/**
 * Conversation sessions on Redis: the SessionStore interface of lambda/shared/sessions.ts. A session survives cold
 * starts and is shared by every function instance.
 *
 * - One key per (identity, session id), namespaced by identity (see keys.ts): one caller cannot read another's session.
 * - `save` is a single SET with the TTL, so a reader sees either the previous or the new conversation, never a mix;
 *   once `save` resolves the conversation is committed (it survives a reconnect, and a failover to a replica).
 * - The stored JSON is capped at `maxBytes` with the same trimming as the in-memory store (lambda/shared/session-trim.ts):
 *   the oldest turns are dropped first, and the kept part starts with a user message that is not a tool result, so it
 *   is still a valid conversation. When nothing fits, the session is deleted and the client has to send the whole
 *   conversation again.
 * - Errors (Redis unreachable or too slow) are thrown as RedisUnavailableError: continuing without the stored turns
 *   would silently send the model half a conversation, so the handler answers with an error instead.
 */
import type { CanonicalMessage } from '../canonical';
import { trimConversation } from '../session-trim';
import { SESSION_ID_PATTERN, type SessionStore } from '../sessions';
import type { RedisConnection } from './connection';
import { sessionKey } from './keys';

export const DEFAULT_SESSION_TTL_SECONDS = 86_400;
export const DEFAULT_SESSION_MAX_BYTES = 1_048_576;

export interface RedisSessionStoreOptions {
  readonly connection: RedisConnection;
  /** Seconds a session lives after its last save. Default 86400 (PROXY_SESSION_TTL_SECONDS). */
  readonly ttlSeconds?: number;
  /** Cap on the stored JSON in bytes. Default 1048576 (PROXY_SESSION_MAX_BYTES). */
  readonly maxBytes?: number;
}

export class RedisSessionStore implements SessionStore {
  private readonly ttlSeconds: number;
  private readonly maxBytes: number;

  constructor(private readonly options: RedisSessionStoreOptions) {
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_SESSION_TTL_SECONDS;
    this.maxBytes = options.maxBytes ?? DEFAULT_SESSION_MAX_BYTES;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1) throw new Error('The session TTL must be a whole number of seconds of at least 1.');
    if (!Number.isInteger(this.maxBytes) || this.maxBytes < 2) throw new Error('The session size cap must be a whole number of bytes of at least 2.');
  }

  async load(identity: string, sessionId: string): Promise<CanonicalMessage[] | undefined> {
    const key = this.key(identity, sessionId);
    const stored = await this.options.connection.run((client) => client.get(key));
    if (stored === null || stored === undefined) return undefined;
    try {
      const parsed: unknown = JSON.parse(String(stored));
      return Array.isArray(parsed) ? (parsed as CanonicalMessage[]) : undefined;
    } catch {
      return undefined;
    }
  }

  async save(identity: string, sessionId: string, messages: CanonicalMessage[]): Promise<void> {
    const key = this.key(identity, sessionId);
    const value = trimConversation(messages, this.maxBytes);
    if (value === undefined) {
      await this.options.connection.run((client) => client.del(key));
      return;
    }
    await this.options.connection.run((client) => client.set(key, value, { expiration: { type: 'EX', value: this.ttlSeconds } }));
  }

  private key(identity: string, sessionId: string): string {
    if (!SESSION_ID_PATTERN.test(sessionId)) {
      throw new Error('A session id is 1-128 characters of A-Z, a-z, 0-9, ".", "_", ":" and "-".');
    }
    return sessionKey(identity, sessionId);
  }
}
