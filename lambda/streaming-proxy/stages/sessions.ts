/**
 * The session stage: the stored conversation a request continues (`x-session-id`, or the Responses API's
 * `previous_response_id`), and saving the finished conversation at the commit point. Per identity: another caller's
 * session or response id finds nothing.
 */
import type { CanonicalMessage, CanonicalRequest } from '../../shared/canonical';
import { SESSION_ID_PATTERN, type SessionStore } from '../../shared/sessions';
import { ProxyError } from '../errors';
import type { Meter } from '../metering';
import { errorName, type Conversation, type Exchange } from './exchange';

export interface SessionStage {
  /** The `x-session-id` conversation, prepended to the request's messages; undefined without the header. */
  loadSession(x: Exchange, request: CanonicalRequest): Promise<Conversation | undefined>;
  /** The conversation stored under a response id. */
  loadStoredResponse(x: Exchange, id: string): Promise<CanonicalMessage[]>;
  /** Saves a finished conversation; a failure is a warning, never the request's error. */
  saveSession(x: Exchange, id: string, conversation: CanonicalMessage[]): Promise<void>;
}

export function createSessionStage(deps: { readonly sessions?: SessionStore; readonly meter: Meter }): SessionStage {
  async function loadSession(x: Exchange, request: CanonicalRequest): Promise<Conversation | undefined> {
    const id = x.request.headers['x-session-id'];
    if (id === undefined) return undefined;
    if (!SESSION_ID_PATTERN.test(id)) {
      throw new ProxyError('invalid_request', 'x-session-id: must be 1-128 characters of letters, digits and . _ : -', { param: 'x-session-id' });
    }
    if (!deps.sessions) {
      throw new ProxyError('invalid_request', 'x-session-id: sessions are not enabled on this proxy.', { param: 'x-session-id' });
    }
    x.sessionId = id;
    let history: CanonicalMessage[];
    try {
      history = (await deps.sessions.load(x.identity!.id, id)) ?? [];
    } catch {
      throw new ProxyError('unavailable', 'The session store is unavailable; retry, or send the whole conversation without x-session-id.');
    }
    const newTurn = request.messages;
    if (history.length > 0) request.messages = [...history, ...request.messages];
    return { id, history, newTurn };
  }

  async function saveSession(x: Exchange, id: string, conversation: CanonicalMessage[]): Promise<void> {
    try {
      await deps.sessions!.save(x.identity!.id, id, conversation);
    } catch (err) {
      deps.meter.warn('the session could not be saved', { requestId: x.request.requestId, sessionId: id, error: errorName(err) });
    }
  }

  /** The conversation a previous_response_id names, from the session store (only the identity that made it sees it). */
  async function loadStoredResponse(x: Exchange, id: string): Promise<CanonicalMessage[]> {
    if (!deps.sessions) {
      throw new ProxyError('invalid_request', 'previous_response_id: this proxy does not store responses (sessions are off); send the whole conversation in input.', {
        param: 'previous_response_id',
      });
    }
    if (!SESSION_ID_PATTERN.test(id)) {
      throw new ProxyError('invalid_request', 'previous_response_id: not a response id.', { param: 'previous_response_id' });
    }
    let history: CanonicalMessage[] | undefined;
    try {
      history = await deps.sessions.load(x.identity!.id, id);
    } catch {
      throw new ProxyError('unavailable', 'The session store is unavailable; retry, or send the whole conversation without previous_response_id.');
    }
    if (!history || history.length === 0) {
      throw new ProxyError('not_found', `Previous response with id '${id}' not found (responses are kept for the session TTL).`, {
        param: 'previous_response_id', code: 'previous_response_not_found',
      });
    }
    return history;
  }

  return { loadSession, loadStoredResponse, saveSession };
}
