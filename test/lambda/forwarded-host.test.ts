/**
 * The forwarded-host CloudFront Function (lambda/forwarded-host), run from its bundle as cloudfront-js-2.0 runs it, on
 * CloudFront's viewer-request event shape.
 */
import { bundledFunctionSource, cloudFrontScriptCheck, DISTRIBUTION_DOMAIN, loadFunction, viewerRequest } from '../support/cloudfront-function';

const source = bundledFunctionSource('forwarded-host');
const handler = loadFunction(source, 'forwarded-host.js');

describe('the bundled forwarded-host CloudFront Function', () => {
  test('adds x-forwarded-host with the viewer\'s Host when the viewer sent none', () => {
    const event = viewerRequest('GET', '/api/v1/messages/batches/msgbatch_1', { 'host': 'chat.example.com', 'x-api-key': 'k' });
    const request = handler(event);
    expect(request.headers['x-forwarded-host']).toEqual({ value: 'chat.example.com' });
  });

  test('replaces an x-forwarded-host the viewer sent, single or repeated, so it cannot be spoofed through CloudFront', () => {
    const single = handler(viewerRequest('GET', '/v1/messages/batches', { 'host': 'llm.example.com', 'x-forwarded-host': 'evil.example' }));
    expect(single.headers['x-forwarded-host']).toEqual({ value: 'llm.example.com' });
    const repeated = handler(viewerRequest('GET', '/v1/messages/batches', { 'host': 'llm.example.com', 'x-forwarded-host': ['evil.example', 'llm.example.com'] }));
    expect(repeated.headers['x-forwarded-host']).toEqual({ value: 'llm.example.com' });
  });

  test('without a Host header, uses the distribution\'s own domain name (and still drops a spoofed value)', () => {
    const request = handler(viewerRequest('GET', '/v1/models', { 'x-forwarded-host': 'evil.example' }));
    expect(request.headers['x-forwarded-host']).toEqual({ value: DISTRIBUTION_DOMAIN });
  });

  test('with neither a Host nor a distribution name, removes a client-sent x-forwarded-host rather than pass it on', () => {
    const event = viewerRequest('GET', '/v1/models', { 'x-forwarded-host': 'evil.example' });
    const request = handler({ ...event, context: undefined } as unknown as typeof event);
    expect(request.headers['x-forwarded-host']).toBeUndefined();
  });

  test('returns the request it was given, with the uri, every other header, query string and cookies untouched', () => {
    const event = viewerRequest('POST', '/api/v1/messages', { 'host': 'chat.example.com', 'authorization': 'Bearer t', 'content-type': 'application/json' });
    event.request.querystring = { beta: { value: 'true' } };
    event.request.cookies = { s: { value: '1' } };
    const request = handler(event);
    expect(request).toBe(event.request);
    expect(request.uri).toBe('/api/v1/messages');
    expect(request.headers).toEqual({
      'host': { value: 'chat.example.com' },
      'authorization': { value: 'Bearer t' },
      'content-type': { value: 'application/json' },
      'x-forwarded-host': { value: 'chat.example.com' },
    });
    expect(request.querystring).toEqual({ beta: { value: 'true' } });
    expect(request.cookies).toEqual({ s: { value: '1' } });
  });

  test('never adds x-forwarded-proto or changes Host (CloudFront answers 502 to a function that does)', () => {
    const request = handler(viewerRequest('GET', '/v1/models', { host: 'chat.example.com' }));
    expect(Object.keys(request.headers).sort()).toEqual(['host', 'x-forwarded-host']);
    expect(request.headers.host).toEqual({ value: 'chat.example.com' });
  });

  test('is a cloudfront-js-2.0 script: one top-level handler, no module syntax, for-of, spread, classes, destructuring or optional chaining', () => {
    const { forbidden, topLevelFunctions } = cloudFrontScriptCheck(source);
    expect(forbidden).toEqual([]);
    expect(topLevelFunctions).toEqual(['handler']);
    expect(Buffer.byteLength(source)).toBeLessThan(4 * 1024);
  });
});
