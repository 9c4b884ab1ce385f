/**
 * The HTTP request the proxy serves, taken from a Lambda Function URL event (payload 2.0) or an API Gateway REST proxy
 * event (payload 1.0), and the response sink it writes to.
 */
export interface ProxyRequest {
  readonly method: string;
  /** The raw path; routes match on its suffix, so a prefix such as /api is ignored. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-cased header names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The Lambda request id (or a local one). */
  readonly requestId: string;
  /** The caller's IAM principal ARN when the endpoint authenticated with IAM. */
  readonly iamPrincipal?: string;
  readonly sourceIp?: string;
  /**
   * API Gateway REST only: the path as the client asked for it (`requestContext.path`: with the stage on the
   * execute-api host, with the base path on a custom domain), where `path` is the resource path without them.
   */
  readonly clientPath?: string;
}

/** Where a response goes. Status and headers are sent by start(), exactly once, before any body. */
export interface ResponseSink {
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
  start(status: number, headers: Record<string, string>): void;
  /** Writes a chunk; returns a promise when the client is slower than the writer (wait for it before writing more). */
  write(chunk: string | Uint8Array): Promise<void> | undefined;
  end(): Promise<void>;
}

export class BadEventError extends Error {
  public readonly name = 'BadEventError';
}

type Headers = Record<string, string | undefined> | null | undefined;
type MultiHeaders = Record<string, string[] | undefined> | null | undefined;

interface EventV2 {
  version?: string;
  rawPath?: string;
  rawQueryString?: string;
  headers?: Headers;
  cookies?: string[];
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext?: {
    requestId?: string;
    http?: { method?: string; path?: string; sourceIp?: string };
    authorizer?: { iam?: { userArn?: string; callerId?: string; userId?: string } };
  };
}

interface EventV1 {
  httpMethod?: string;
  path?: string;
  headers?: Headers;
  multiValueHeaders?: MultiHeaders;
  queryStringParameters?: Record<string, string | undefined> | null;
  multiValueQueryStringParameters?: Record<string, string[] | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext?: { requestId?: string; path?: string; identity?: { userArn?: string | null; caller?: string | null; sourceIp?: string } };
}

/** Normalizes a Function URL (2.0) or API Gateway REST proxy (1.0) event. */
export function parseEvent(event: unknown, requestId: string): ProxyRequest {
  if (typeof event !== 'object' || event === null) throw new BadEventError('the event is not an HTTP event');
  const e = event as EventV2 & EventV1;
  if (e.requestContext?.http?.method && typeof e.rawPath === 'string') return fromV2(e, requestId);
  if (typeof e.httpMethod === 'string' && typeof e.path === 'string') return fromV1(e, requestId);
  throw new BadEventError('the event is neither a Function URL (payload 2.0) nor an API Gateway REST proxy (payload 1.0) event');
}

function fromV2(e: EventV2, requestId: string): ProxyRequest {
  const headers = lowerCase(e.headers);
  if (e.cookies?.length && !headers.cookie) headers.cookie = e.cookies.join('; ');
  const iam = e.requestContext?.authorizer?.iam;
  return {
    method: e.requestContext!.http!.method!.toUpperCase(),
    path: e.rawPath!,
    query: new URLSearchParams(e.rawQueryString ?? ''),
    headers,
    body: decodeBody(e.body, e.isBase64Encoded),
    requestId,
    iamPrincipal: iam?.userArn ?? iam?.callerId ?? iam?.userId,
    sourceIp: e.requestContext?.http?.sourceIp,
  };
}

function fromV1(e: EventV1, requestId: string): ProxyRequest {
  const headers = lowerCase(e.headers);
  for (const [name, values] of Object.entries(e.multiValueHeaders ?? {})) {
    if (values && values.length > 0) headers[name.toLowerCase()] = values.join(', ');
  }
  const query = new URLSearchParams();
  const multi = e.multiValueQueryStringParameters;
  if (multi) {
    for (const [name, values] of Object.entries(multi)) for (const v of values ?? []) query.append(name, v);
  } else {
    for (const [name, v] of Object.entries(e.queryStringParameters ?? {})) if (v !== undefined) query.append(name, v);
  }
  const identity = e.requestContext?.identity;
  return {
    method: e.httpMethod!.toUpperCase(),
    path: e.path!,
    query,
    headers,
    body: decodeBody(e.body, e.isBase64Encoded),
    requestId,
    iamPrincipal: identity?.userArn ?? identity?.caller ?? undefined,
    sourceIp: identity?.sourceIp,
    ...(typeof e.requestContext?.path === 'string' ? { clientPath: e.requestContext.path } : {}),
  };
}

function lowerCase(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value === 'string') out[name.toLowerCase()] = value;
  }
  return out;
}

function decodeBody(body: string | null | undefined, base64: boolean | undefined): Buffer {
  if (!body) return Buffer.alloc(0);
  return base64 ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
}
