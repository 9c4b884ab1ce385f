/**
 * CloudFront Function (runtime cloudfront-js-2.0, viewer request) on every behaviour that routes to the proxy: it sets
 * `x-forwarded-host` to the Host the viewer asked for, so the proxy can build absolute URLs on the address the client
 * used (a batch's `results_url`). The behaviours forward every viewer header except Host
 * (`ALL_VIEWER_EXCEPT_HOST_HEADER`, which a function URL or API Gateway origin needs), so without this the proxy sees
 * only its own endpoint's host, which refuses calls that do not come through CloudFront.
 *
 * A client-sent `x-forwarded-host` is always replaced, so it cannot be spoofed through CloudFront. The function does not
 * set `x-forwarded-proto`: CloudFront refuses edge functions that add it (502), and the proxy's endpoint sets it itself.
 *
 * The bundle is a plain script: esbuild wraps this module in `var forwardedHost = (() => { ... })()` and
 * build-tools/bundle.ts appends the top-level `function handler(event)` that CloudFront calls. Kept to the JavaScript
 * the CloudFront Functions runtime supports (no optional chaining, no spread, no classes).
 */

/** A header value in a CloudFront Functions event. */
export interface CloudFrontHeader {
  value: string;
  multiValue?: CloudFrontHeader[];
}

/** The part of a CloudFront Functions viewer-request event that this function reads and changes. */
export interface ViewerRequestEvent {
  context?: { distributionDomainName?: string };
  request: { headers: Record<string, CloudFrontHeader | undefined> };
}

/** Viewer-request handler: returns the request with `x-forwarded-host` set to the viewer's Host. */
export function handler(event: ViewerRequestEvent): ViewerRequestEvent['request'] {
  const request = event.request;
  const host = request.headers.host;
  // Every viewer request has a Host (HTTP/2 and HTTP/3 :authority arrive as host); the distribution's own name is the
  // fallback, so a spoofed value is never passed on.
  const viewerHost = host ? host.value : event.context && event.context.distributionDomainName;
  if (viewerHost) {
    request.headers['x-forwarded-host'] = { value: viewerHost };
  } else {
    delete request.headers['x-forwarded-host'];
  }
  return request;
}
