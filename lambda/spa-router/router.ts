/**
 * SPA routing for CloudFront Functions (runtime cloudfront-js-2.0): a viewer-request handler on the site's default
 * behaviour that serves the app shell for client-side routes and leaves real files alone.
 *
 * Kept to the subset of JavaScript that the CloudFront Functions runtime supports (ES 5.1 plus let/const/arrow
 * functions and template literals): no optional chaining, no spread, no classes, no regular-expression lookbehind.
 */

/** The part of a CloudFront Functions viewer-request event that the router reads and rewrites. */
export interface CloudFrontFunctionRequest {
  method: string;
  uri: string;
  querystring?: Record<string, unknown>;
  headers?: Record<string, unknown>;
  cookies?: Record<string, unknown>;
}

/** A CloudFront Functions viewer-request event (version 1.0). */
export interface CloudFrontFunctionEvent {
  version?: string;
  context?: Record<string, unknown>;
  viewer?: Record<string, unknown>;
  request: CloudFrontFunctionRequest;
}

/** Router settings; the construct writes them into the function code as `SPA_ROUTER_CONFIG`. */
export interface SpaRouterConfig {
  /** The app shell that client-side routes are served from, e.g. `/index.html`. */
  readonly indexDocument: string;
  /**
   * Path prefixes that are never rewritten, each ending in `/` (e.g. `/api/`, `/.well-known/`). The path that equals a
   * prefix without its trailing slash (`/api`) is passed through as well.
   */
  readonly passthroughPrefixes: string[];
}

/** What the router does when no configuration is given. */
export const DEFAULT_CONFIG: SpaRouterConfig = {
  indexDocument: '/index.html',
  passthroughPrefixes: ['/.well-known/'],
};

/** Whether the last segment of a path names a file (`app.1234.js`, `favicon.ico`), as opposed to a client route. */
export function hasFileExtension(uri: string): boolean {
  const lastSlash = uri.lastIndexOf('/');
  const segment = uri.substring(lastSlash + 1);
  const dot = segment.lastIndexOf('.');
  // A leading dot (`/.env`) is a hidden file name, not an extension; a trailing dot (`/v1.`) is not an extension.
  return dot > 0 && dot < segment.length - 1;
}

/** Whether a path is under one of the pass-through prefixes. */
export function isPassthrough(uri: string, prefixes: string[]): boolean {
  for (let i = 0; i < prefixes.length; i++) {
    const prefix = prefixes[i];
    if (uri.indexOf(prefix) === 0) return true;
    if (prefix.charAt(prefix.length - 1) === '/' && uri === prefix.substring(0, prefix.length - 1)) return true;
  }
  return false;
}

/**
 * Rewrites the request in place and returns it: client routes (no file extension, including `/` and paths ending in
 * `/`) go to the index document; files and pass-through prefixes are left untouched, so a missing file is a real 404
 * (403 from S3 through OAC without `s3:ListBucket`) rather than the app shell.
 */
export function route(request: CloudFrontFunctionRequest, config: SpaRouterConfig): CloudFrontFunctionRequest {
  const uri = request.uri || '/';
  if (isPassthrough(uri, config.passthroughPrefixes)) return request;
  if (hasFileExtension(uri)) return request;
  request.uri = config.indexDocument;
  return request;
}
