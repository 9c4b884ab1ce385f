import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { bundledSource } from './assets';

/**
 * The viewer-request CloudFront Function of a behaviour that routes to the proxy (lambda/forwarded-host): it sets
 * `x-forwarded-host` to the viewer's Host, replacing any client-sent value, so the proxy builds absolute URLs (a
 * batch's `results_url`) on the distribution's address instead of its own endpoint's, which refuses direct calls.
 * The behaviour's `ALL_VIEWER_EXCEPT_HOST_HEADER` policy forwards the header to the origin.
 *
 * @internal
 */
export function forwardedHostFunction(scope: Construct, id: string): cloudfront.Function {
  return new cloudfront.Function(scope, id, {
    runtime: cloudfront.FunctionRuntime.JS_2_0,
    comment: 'Sets x-forwarded-host to the viewer Host, so the proxy answers with URLs on this distribution',
    code: cloudfront.FunctionCode.fromInline(bundledSource('forwarded-host')),
  });
}

