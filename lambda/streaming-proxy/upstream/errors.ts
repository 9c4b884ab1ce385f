/**
 * Classification of everything an upstream call can throw (AWS SDK service exceptions, exception frames in an event
 * stream, HTTP error responses of the Bedrock Anthropic Messages endpoint and of OpenAI-compatible servers, Node
 * network errors, our own timeouts and aborts) into UpstreamError kinds. The front ends map kinds to HTTP statuses and
 * error bodies in the client's protocol; nothing here knows about either protocol.
 */
import { UpstreamError, type UpstreamErrorKind } from '../../shared/canonical';

/** AWS / Bedrock exception names (SDK `name`, `x-amzn-errortype`, event-stream `:exception-type`) -> kind. */
const BY_EXCEPTION: Record<string, UpstreamErrorKind> = {
  throttlingexception: 'throttling',
  servicequotaexceededexception: 'throttling',
  toomanyrequestsexception: 'throttling',
  serviceunavailableexception: 'overloaded',
  modelnotreadyexception: 'overloaded',
  internalserverexception: 'internal',
  internalfailure: 'internal',
  modelstreamerrorexception: 'internal',
  modelerrorexception: 'internal',
  modeltimeoutexception: 'timeout',
  validationexception: 'validation',
  serializationexception: 'validation',
  conflictexception: 'validation',
  accessdeniedexception: 'access_denied',
  unrecognizedclientexception: 'access_denied',
  invalidsignatureexception: 'access_denied',
  expiredtokenexception: 'access_denied',
  missingauthenticationtokenexception: 'access_denied',
  resourcenotfoundexception: 'not_found',
  timeouterror: 'timeout',
};

/** Anthropic error types (Bedrock Anthropic Messages endpoint, and `error` events inside a Claude stream) -> kind. */
const BY_ANTHROPIC_TYPE: Record<string, UpstreamErrorKind> = {
  rate_limit_error: 'throttling',
  overloaded_error: 'overloaded',
  invalid_request_error: 'validation',
  request_too_large: 'validation',
  authentication_error: 'access_denied',
  permission_error: 'access_denied',
  not_found_error: 'not_found',
  timeout_error: 'timeout',
  api_error: 'internal',
};

/** Node network error codes: the upstream could not be reached or dropped the connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED',
  'ERR_HTTP2_STREAM_ERROR', 'ERR_HTTP2_SESSION_ERROR', 'ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_STREAM_CANCEL',
  'ERR_HTTP2_ERROR', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET',
]);

/**
 * True for a connection the server closed before answering (ECONNRESET "socket hang up", EPIPE): what a client sees
 * when it reuses a keep-alive connection the server has just closed, or after a Lambda environment was frozen while
 * idle. Nothing was answered, so sending the request again on a new connection is safe; the SDK's retry does the same
 * for generated commands.
 */
export function isConnectionDrop(err: unknown): boolean {
  if (err instanceof UpstreamError || typeof err !== 'object' || err === null) return false;
  const e = err as ErrorLike;
  const code = e.code ?? (typeof e.cause === 'object' && e.cause !== null ? (e.cause as ErrorLike).code : undefined);
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/** The kind for an HTTP status when nothing more specific is known. */
export function kindForStatus(status: number): UpstreamErrorKind {
  if (status === 429) return 'throttling';
  if (status === 503 || status === 529) return 'overloaded';
  if (status === 408 || status === 504) return 'timeout';
  if (status === 401 || status === 403) return 'access_denied';
  if (status === 404) return 'not_found';
  if (status >= 400 && status < 500) return 'validation';
  return 'internal';
}

/** Bedrock answers an unknown or disabled model id with a ValidationException; the client should see 404. */
const MODEL_NOT_FOUND = /model identifier is invalid|model id is invalid|model (?:is )?not found|unknown model|does not exist|end of its life/i;

export function kindForException(name: string, message = ''): UpstreamErrorKind | undefined {
  const key = name.split(':')[0].trim().toLowerCase();
  const kind = BY_EXCEPTION[key];
  if (kind === 'validation' && MODEL_NOT_FOUND.test(message)) return 'not_found';
  return kind;
}

export function kindForAnthropicType(type: string): UpstreamErrorKind | undefined {
  return BY_ANTHROPIC_TYPE[type];
}

/** Raised by our own timers (first byte, idle) through an AbortController. */
/** A block of Claude's tool search (server_tool_use, tool_search_tool_result, tool_reference) sent to another model:
 * a validation error (400) that names it. */
export function claudeOnlyBlock(type: string): UpstreamError {
  return new UpstreamError('validation', `${type} blocks come from Claude's tool search; only Claude models accept them`);
}

/**
 * A block type or role the proxy does not know (a newer Anthropic API feature), in a request to a model that is not
 * reached through an Anthropic-native upstream: a validation error (400) that names it and where it is. Claude models
 * take such parts unchanged.
 */
export function untranslatable(part: { path: string; what: string }, to: string): UpstreamError {
  return new UpstreamError('validation', `${part.path}: ${part.what} cannot be translated for ${to}; only Claude models served through InvokeModel or the Messages endpoint take them unchanged`);
}

export class UpstreamTimeout extends Error {
  public readonly name = 'UpstreamTimeout';
}

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $response?: { statusCode?: unknown };
  cause?: unknown;
}

/**
 * Turns anything thrown by an upstream call into an UpstreamError. `what` names the upstream in messages
 * (`Bedrock`, `the OpenAI-compatible server at 10.0.1.5:8000`). `signal` is the call's own signal: when it has
 * aborted, its reason decides (our UpstreamTimeout -> timeout; the caller's abort -> timeout "aborted").
 */
export function toUpstreamError(err: unknown, what: string, signal?: AbortSignal): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof UpstreamError) return reason;
    if (reason instanceof UpstreamTimeout) return new UpstreamError('timeout', `${what}: ${reason.message}`);
    return new UpstreamError('timeout', `${what}: the call was aborted`, false);
  }
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as ErrorLike;
  const name = typeof e.name === 'string' ? e.name : '';
  const message = typeof e.message === 'string' && e.message.length > 0 ? e.message : name || 'unknown error';
  const status = numberOr(e.$metadata?.httpStatusCode) ?? numberOr(e.$response?.statusCode);

  if (err instanceof UpstreamTimeout) return new UpstreamError('timeout', `${what}: ${message}`);
  // Network codes first: the SDK's HTTP handler renames ECONNRESET / EPIPE errors to TimeoutError (so that its retry
  // strategy treats them as transient), but a dropped connection is not a timeout.
  // The SDK wraps errors that are not service exceptions ("AWS SDK error wrapper for …"); the code is on the cause.
  const rawCode = e.code ?? (typeof e.cause === 'object' && e.cause !== null ? (e.cause as ErrorLike).code : undefined);
  const code = typeof rawCode === 'string' ? rawCode : undefined;
  if (code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT') return new UpstreamError('timeout', `${what}: ${message}`);
  if (code && NETWORK_CODES.has(code)) return new UpstreamError('internal', `${what} is unreachable or dropped the connection (${code})`);

  const byName = name ? kindForException(name, message) : undefined;
  if (byName) return new UpstreamError(byName, `${what}: ${message}`, undefined, status);
  if (name === 'AbortError') return new UpstreamError('timeout', `${what}: the call was aborted`);
  if (/checksum|prelude|event[- ]?stream|unexpected end of json|is not valid json|deserializ/i.test(message)) {
    return new UpstreamError('internal', `${what} sent a malformed response: ${message}`, undefined, status);
  }
  if (status !== undefined && status >= 400) return new UpstreamError(kindForStatus(status), `${what}: ${message}`, undefined, status);
  if (e.cause && e.cause !== err) {
    const inner = toUpstreamError(e.cause, what);
    if (inner.kind !== 'internal') return inner;
  }
  return new UpstreamError('internal', `${what}: ${message}`, undefined, status);
}

/**
 * An event-stream union member that is an exception (`{ throttlingException: { message } }`), for the rare case the SDK
 * hands one over instead of throwing it: classified by its member name like the exception it names.
 */
export function exceptionMember(event: object, what: string): UpstreamError {
  const [name, value] = Object.entries(event).find(([, v]) => v !== undefined) ?? ['unknown', {}];
  const message = (value as { message?: unknown } | undefined)?.message;
  const error = Object.assign(new Error(typeof message === 'string' ? message : name), { name: name.charAt(0).toUpperCase() + name.slice(1) });
  return toUpstreamError(error, what);
}

/**
 * The error carried by an HTTP error response (Bedrock Anthropic Messages endpoint, OpenAI-compatible servers), from its
 * status, `x-amzn-errortype` header and JSON body (`{"type":"error","error":{...}}`, `{"error":{...}}` or
 * `{"message":...}`).
 */
export function errorFromHttpResponse(
  what: string, status: number, headers: Record<string, string | undefined>, bodyText: string,
): UpstreamError {
  let body: unknown;
  try {
    body = bodyText ? JSON.parse(bodyText) : undefined;
  } catch {
    body = undefined;
  }
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const inner = (typeof b.error === 'object' && b.error !== null ? b.error : {}) as Record<string, unknown>;
  const message = firstString(inner.message, b.message, b.Message, typeof b.error === 'string' ? b.error : undefined)
    ?? (bodyText.length > 0 && bodyText.length <= 300 && body === undefined ? bodyText : `HTTP ${status}`);
  const amznType = headers['x-amzn-errortype'];
  const kind = (amznType ? kindForException(amznType, message) : undefined)
    ?? (typeof inner.type === 'string' ? kindForAnthropicType(inner.type) : undefined)
    ?? kindForStatus(status);
  return new UpstreamError(kind, `${what}: ${message}`, undefined, status);
}

function firstString(...values: unknown[]): string | undefined {
  for (const v of values) if (typeof v === 'string' && v.length > 0) return v;
  return undefined;
}

function numberOr(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
