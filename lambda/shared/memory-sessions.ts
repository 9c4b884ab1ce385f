/**
 * The in-memory SessionStore (dev server, tests, and a single Lambda execution environment): conversations keyed by
 * identity and session id, with a TTL and a size cap (oldest turns dropped first). Stored as JSON, so what a caller
 * loads is always a fresh copy.
 */
import type { CanonicalMessage } from './canonical';
import { trimConversation } from './session-trim';
import type { SessionStore } from './sessions';

export interface MemorySessionStoreOptions {
  /** Session expiry after the last save. */
  readonly ttlSeconds: number;
  /** Stored conversation size cap in bytes of JSON. */
  readonly maxBytes: number;
  /** Sessions kept at most; the least recently used are dropped first. Default 10,000. */
  readonly maxSessions?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

interface Entry {
  readonly json: string;
  readonly expiresAt: number;
}

export class MemorySessionStore implements SessionStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxSessions: number;
  private readonly now: () => number;

  constructor(private readonly options: MemorySessionStoreOptions) {
    this.maxSessions = options.maxSessions ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  public async load(identity: string, sessionId: string): Promise<CanonicalMessage[] | undefined> {
    const key = sessionKey(identity, sessionId);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return JSON.parse(entry.json) as CanonicalMessage[];
  }

  public async save(identity: string, sessionId: string, messages: CanonicalMessage[]): Promise<void> {
    const key = sessionKey(identity, sessionId);
    this.entries.delete(key);
    const json = trimConversation(messages, this.options.maxBytes);
    if (json === undefined) return;
    if (this.entries.size >= this.maxSessions) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { json, expiresAt: this.now() + this.options.ttlSeconds * 1000 });
  }
}

/** Identity and session id cannot collide: the separator cannot occur in a session id. */
function sessionKey(identity: string, sessionId: string): string {
  return `${identity}\n${sessionId}`;
}
