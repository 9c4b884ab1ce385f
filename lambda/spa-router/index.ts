/**
 * CloudFront Function entry (runtime cloudfront-js-2.0). The bundle is a plain script: esbuild wraps this module in
 * `var spaRouter = (() => { ... })()` and build-tools/bundle.ts appends the top-level `function handler(event)` that
 * CloudFront calls. The construct prepends `var SPA_ROUTER_CONFIG = {...};` with the site's settings.
 */
import { CloudFrontFunctionEvent, CloudFrontFunctionRequest, DEFAULT_CONFIG, route, SpaRouterConfig } from './router';

declare const SPA_ROUTER_CONFIG: SpaRouterConfig | undefined;

/** The settings written into the function code by the construct, or the defaults when run on its own. */
function currentConfig(): SpaRouterConfig {
  return typeof SPA_ROUTER_CONFIG === 'undefined' ? DEFAULT_CONFIG : SPA_ROUTER_CONFIG;
}

/** Viewer-request handler: returns the (possibly rewritten) request. */
export function handler(event: CloudFrontFunctionEvent): CloudFrontFunctionRequest {
  return route(event.request, currentConfig());
}
