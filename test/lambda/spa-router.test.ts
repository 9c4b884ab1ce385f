import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';
import * as fc from 'fast-check';
import { hasFileExtension, isPassthrough, route, SpaRouterConfig } from '../../lambda/spa-router/router';
import { cloudFrontScriptCheck } from '../support/cloudfront-function';

/** The bundle CloudFront runs (built by `npx projen bundle`, which the build runs before the tests). */
const BUNDLE = path.join(__dirname, '..', '..', 'assets', 'spa-router', 'index.js');

function bundleSource(): string {
  if (!fs.existsSync(BUNDLE)) {
    throw new Error(`${BUNDLE} is missing: run \`npx projen bundle\` first.`);
  }
  return fs.readFileSync(BUNDLE, 'utf8');
}

interface ViewerRequestEvent {
  version: string;
  context: Record<string, string>;
  viewer: { ip: string };
  request: { method: string; uri: string; querystring: Record<string, unknown>; headers: Record<string, unknown>; cookies: Record<string, unknown> };
}

function viewerRequest(uri: string, method = 'GET'): ViewerRequestEvent {
  return {
    version: '1.0',
    context: { distributionDomainName: 'd111111abcdef8.cloudfront.net', distributionId: 'EDFDVBD6EXAMPLE', eventType: 'viewer-request', requestId: 'r-1' },
    viewer: { ip: '198.51.100.11' },
    request: {
      method,
      uri,
      querystring: { v: { value: '1' } },
      headers: { host: { value: 'chat.example.com' }, accept: { value: 'text/html' } },
      cookies: {},
    },
  };
}

/**
 * Loads the function code as a plain script in a fresh context (no `require`, no `module`, no `exports`, as in
 * cloudfront-js-2.0) and returns the top-level `handler` it defines. `configLine` is what the construct prepends.
 */
function loadHandler(configLine = ''): (event: ViewerRequestEvent) => ViewerRequestEvent['request'] {
  const context = vm.createContext({});
  vm.runInContext(`${configLine}${bundleSource()}`, context, { filename: 'spa-router.js' });
  const handler = context.handler;
  expect(typeof handler).toBe('function');
  return handler as (event: ViewerRequestEvent) => ViewerRequestEvent['request'];
}

const SITE_CONFIG = 'var SPA_ROUTER_CONFIG = {"indexDocument":"/index.html","passthroughPrefixes":["/.well-known/","/api/"]};\n';

describe('the bundled CloudFront Function, run as cloudfront-js-2.0 runs it', () => {
  const handler = loadHandler(SITE_CONFIG);

  test.each([
    ['/', '/index.html'],
    ['/chat/42', '/index.html'],
    ['/chat/42/', '/index.html'],
    ['/settings', '/index.html'],
    ['/assets/app.1234.js', '/assets/app.1234.js'],
    ['/favicon.ico', '/favicon.ico'],
    ['/config.json', '/config.json'],
    ['/index.html', '/index.html'],
    ['/api/v1/messages', '/api/v1/messages'],
    ['/api/v1/chat/completions', '/api/v1/chat/completions'],
    ['/api', '/api'],
    ['/apixyz', '/index.html'],
    ['/.well-known/security.txt', '/.well-known/security.txt'],
    ['/.well-known/apple-app-site-association', '/.well-known/apple-app-site-association'],
  ])('routes %s to %s', (uri, expected) => {
    expect(handler(viewerRequest(uri)).uri).toBe(expected);
  });

  test('returns the request it was given, with headers, cookies and query string untouched', () => {
    const event = viewerRequest('/chat/42');
    const result = handler(event);
    expect(result).toBe(event.request);
    expect(result.headers).toEqual({ host: { value: 'chat.example.com' }, accept: { value: 'text/html' } });
    expect(result.querystring).toEqual({ v: { value: '1' } });
  });

  test('passes POSTs to the API prefix through as they are', () => {
    expect(handler(viewerRequest('/api/v1/messages', 'POST')).uri).toBe('/api/v1/messages');
  });

  test('uses the defaults (index.html, /.well-known/ only) when the construct wrote no configuration', () => {
    const bare = loadHandler();
    expect(bare(viewerRequest('/chat/42')).uri).toBe('/index.html');
    expect(bare(viewerRequest('/.well-known/x')).uri).toBe('/.well-known/x');
    expect(bare(viewerRequest('/api/v1/messages')).uri).toBe('/index.html');
  });

  test('fits the 10 KB CloudFront Functions code limit with room for the configuration', () => {
    expect(Buffer.byteLength(SITE_CONFIG + bundleSource())).toBeLessThan(8 * 1024);
  });

  test('uses only syntax the cloudfront-js-2.0 runtime documents (no for-of, spread, classes, optional chaining or ??)', () => {
    const { forbidden, topLevelFunctions } = cloudFrontScriptCheck(bundleSource());
    expect(forbidden).toEqual([]);
    // CloudFront calls a function declaration named handler at the top level of the script.
    expect(topLevelFunctions).toEqual(['handler']);
  });
});

describe('router rules', () => {
  const config: SpaRouterConfig = { indexDocument: '/index.html', passthroughPrefixes: ['/api/'] };

  test.each([
    ['/assets/app.1234.js', true],
    ['/favicon.ico', true],
    ['/chat/42', false],
    ['/', false],
    ['/docs/', false],
    ['/.env', false],
    ['/v1.', false],
    ['/release/v1.2/notes', false],
  ])('hasFileExtension(%s) is %s', (uri, expected) => {
    expect(hasFileExtension(uri)).toBe(expected);
  });

  test('isPassthrough matches the prefix and the prefix without its slash, nothing else', () => {
    expect(isPassthrough('/api/v1/messages', ['/api/'])).toBe(true);
    expect(isPassthrough('/api', ['/api/'])).toBe(true);
    expect(isPassthrough('/apiary', ['/api/'])).toBe(false);
    expect(isPassthrough('/x/api/', ['/api/'])).toBe(false);
  });

  test('treats a request without a uri as the root', () => {
    expect(route({ method: 'GET', uri: '' }, config).uri).toBe('/index.html');
  });

  test('never rewrites a path under a pass-through prefix', () => {
    fc.assert(fc.property(fc.webPath(), (p) => {
      const uri = `/api/${p.replace(/^\//, '')}`;
      return route({ method: 'GET', uri }, config).uri === uri;
    }));
  });

  const segment = fc.stringMatching(/^[a-z0-9_-]{1,12}$/);

  test('never rewrites a file, however deep', () => {
    fc.assert(fc.property(fc.array(segment, { maxLength: 5 }), segment, fc.stringMatching(/^[a-z0-9]{1,5}$/), (dirs, name, ext) => {
      const uri = `/${[...dirs, `${name}.${ext}`].join('/')}`;
      return route({ method: 'GET', uri }, config).uri === uri;
    }));
  });

  test('sends every client route (no dot in the last segment, outside the prefixes) to the index document', () => {
    fc.assert(fc.property(fc.array(segment, { maxLength: 6 }), fc.boolean(), (dirs, trailingSlash) => {
      fc.pre(dirs[0] !== 'api');
      const uri = `/${dirs.join('/')}${trailingSlash && dirs.length > 0 ? '/' : ''}`;
      return route({ method: 'GET', uri }, config).uri === '/index.html';
    }));
  });
});
