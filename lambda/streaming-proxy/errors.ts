/**
 * Errors the proxy answers with, independent of the client protocol, and their rendering in each protocol:
 * Anthropic `{"type":"error","error":{"type","message"}}` and OpenAI `{"error":{"message","type","param","code"}}`.
 * Messages never contain secrets: they are written here or taken from UpstreamError messages.
 */
import { UpstreamError } from '../shared/canonical';

export type Protocol = 'anthropic' | 'openai';

export type ErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'method_not_allowed'
  | 'request_too_large'
  | 'rate_limit'
  | 'internal'
  | 'bad_gateway'
  | 'unavailable'
  | 'timeout'
  | 'overloaded';

interface Rendering {
  readonly status: number;
  readonly type: string;
  readonly code?: string;
}

/** Status and error type per kind and protocol (Anthropic's 529 overloaded is a 503 in OpenAI's world). */
const RENDERING: Record<ErrorKind, { anthropic: Rendering; openai: Rendering }> = {
  invalid_request: { anthropic: { status: 400, type: 'invalid_request_error' }, openai: { status: 400, type: 'invalid_request_error' } },
  authentication: {
    anthropic: { status: 401, type: 'authentication_error' },
    openai: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' },
  },
  permission: { anthropic: { status: 403, type: 'permission_error' }, openai: { status: 403, type: 'permission_error', code: 'permission_denied' } },
  not_found: { anthropic: { status: 404, type: 'not_found_error' }, openai: { status: 404, type: 'invalid_request_error', code: 'not_found' } },
  method_not_allowed: {
    anthropic: { status: 405, type: 'invalid_request_error' },
    openai: { status: 405, type: 'invalid_request_error', code: 'method_not_allowed' },
  },
  request_too_large: {
    anthropic: { status: 413, type: 'request_too_large' },
    openai: { status: 413, type: 'invalid_request_error', code: 'request_too_large' },
  },
  rate_limit: { anthropic: { status: 429, type: 'rate_limit_error' }, openai: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' } },
  internal: { anthropic: { status: 500, type: 'api_error' }, openai: { status: 500, type: 'server_error' } },
  bad_gateway: { anthropic: { status: 502, type: 'api_error' }, openai: { status: 502, type: 'server_error', code: 'upstream_error' } },
  unavailable: { anthropic: { status: 503, type: 'api_error' }, openai: { status: 503, type: 'server_error', code: 'service_unavailable' } },
  timeout: { anthropic: { status: 504, type: 'timeout_error' }, openai: { status: 504, type: 'timeout', code: 'timeout' } },
  overloaded: { anthropic: { status: 529, type: 'overloaded_error' }, openai: { status: 503, type: 'server_error', code: 'overloaded' } },
};

export class ProxyError extends Error {
  public readonly name = 'ProxyError';
  constructor(
    public readonly kind: ErrorKind,
    message: string,
    public readonly options: {
      /** The request field at fault (OpenAI `param`). */
      readonly param?: string;
      /** Overrides the OpenAI error code. */
      readonly code?: string;
      /** Extra response headers (e.g. retry-after). */
      readonly headers?: Record<string, string>;
      /** True when the upstream caused it (metering tells upstream failures from the proxy's own). */
      readonly upstream?: boolean;
    } = {},
  ) {
    super(message);
  }

  public status(protocol: Protocol): number {
    return RENDERING[this.kind][protocol].status;
  }

  public body(protocol: Protocol): string {
    const r = RENDERING[this.kind][protocol];
    if (protocol === 'anthropic') {
      return JSON.stringify({ type: 'error', error: { type: r.type, message: this.message } });
    }
    const code = this.options.code ?? r.code ?? null;
    return JSON.stringify({ error: { message: this.message, type: r.type, param: this.options.param ?? null, code } });
  }
}

const UPSTREAM_KIND: Record<UpstreamError['kind'], ErrorKind> = {
  throttling: 'rate_limit',
  overloaded: 'overloaded',
  validation: 'invalid_request',
  access_denied: 'permission',
  not_found: 'not_found',
  timeout: 'timeout',
  internal: 'bad_gateway',
};

/** Turns anything thrown while serving a request into a ProxyError; unexpected errors become a generic 500. */
export function toProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  if (err instanceof UpstreamError) {
    return new ProxyError(UPSTREAM_KIND[err.kind], err.message || `upstream error (${err.kind})`, { upstream: true });
  }
  return new ProxyError('internal', 'The proxy failed to handle the request.');
}
