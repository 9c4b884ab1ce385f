/**
 * A loopback stand-in for the CloudFront distribution a `SpaFrontend` synthesizes, built from the synthesized template
 * itself: requests on the default behaviour go through the template's CloudFront Function code (run in node:vm) and
 * are served from the `source` folder with the Cache-Control its deployments would set; `/config.json` is the runtime
 * configuration the construct would write; the API path pattern is proxied, unbuffered, to an upstream on loopback;
 * every response carries the headers of the template's response headers policy.
 */
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import * as vm from 'vm';
import { App, Stack, Stage } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import { SpaFrontend, SpaFrontendProps } from '../../src/spa-frontend';
import { loadFunction, originRequestHeaders, viewerRequest } from '../support/cloudfront-function';

/** What the harness reads out of a synthesized SpaFrontend. */
export interface EdgeSpec {
  /** The CloudFront Function code (`FunctionCode`) of the default behaviour. */
  readonly routerCode: string;
  /** The CloudFront Function code of the API behaviour (it sets `x-forwarded-host`), when it has one. */
  readonly apiFunctionCode?: string;
  /** Response headers from the response headers policy, lower-case names. */
  readonly headers: Record<string, string>;
  /** The API behaviour's path pattern, e.g. `/api/*`. */
  readonly apiPathPattern?: string;
  /** Cache-Control by S3 sync filters, in deployment order. */
  readonly cacheRules: CacheRule[];
}

export interface CacheRule {
  readonly exclude: string[];
  readonly include: string[];
  readonly cacheControl: string;
}

type Handler = (event: unknown) => { uri: string };

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/** Reads the router code, response headers, API path pattern and cache rules out of a synthesized template. */
export function edgeSpecFrom(template: Template): EdgeSpec {
  const resources = template.toJSON().Resources;
  const functionCode = (behavior: { FunctionAssociations?: { FunctionARN: { 'Fn::GetAtt': string[] } }[] } | undefined) => {
    const association = behavior?.FunctionAssociations?.[0];
    return association ? resources[association.FunctionARN['Fn::GetAtt'][0]].Properties.FunctionCode as string : undefined;
  };
  const policy = Object.values(template.findResources('AWS::CloudFront::ResponseHeadersPolicy'))[0].Properties.ResponseHeadersPolicyConfig;
  const security = policy.SecurityHeadersConfig;
  const headers: Record<string, string> = {
    'strict-transport-security': `max-age=${security.StrictTransportSecurity.AccessControlMaxAgeSec}`
      + (security.StrictTransportSecurity.IncludeSubdomains ? '; includeSubDomains' : ''),
    'content-security-policy': security.ContentSecurityPolicy.ContentSecurityPolicy,
    'x-content-type-options': 'nosniff',
    'x-frame-options': security.FrameOptions.FrameOption,
    'referrer-policy': security.ReferrerPolicy.ReferrerPolicy,
  };
  for (const item of policy.CustomHeadersConfig?.Items ?? []) headers[item.Header.toLowerCase()] = item.Value;
  const distribution = Object.values(template.findResources('AWS::CloudFront::Distribution'))[0].Properties.DistributionConfig;
  const cacheRules = Object.values(template.findResources('Custom::CDKBucketDeployment')).map((d) => ({
    exclude: d.Properties.Exclude ?? [],
    include: d.Properties.Include ?? [],
    cacheControl: d.Properties.SystemMetadata?.['cache-control'] ?? '',
  }));
  return {
    routerCode: functionCode(distribution.DefaultCacheBehavior)!,
    apiFunctionCode: functionCode(distribution.CacheBehaviors?.[0]),
    headers,
    apiPathPattern: distribution.CacheBehaviors?.[0]?.PathPattern,
    cacheRules,
  };
}

/**
 * Synthesizes a SpaFrontend serving `siteDir` with an `/api/*` route (plus `props`) and returns what the stand-in needs:
 * the edge spec and the config.json the construct would write. The API origin is only a template value here.
 */
export function synthesizeSite(siteDir: string, props: SpaFrontendProps = {}): { spec: EdgeSpec; runtimeConfig: unknown } {
  const stack = new Stack(new App(), 'Site');
  const site = new SpaFrontend(stack, 'Site', { source: siteDir, api: { origin: new origins.HttpOrigin('127.0.0.1') }, ...props });
  const template = Template.fromStack(stack);
  const asset = site.node.findChild('DeployRuntimeConfig').node.children.find((c) => c.node.id.startsWith('Asset')) as unknown as { assetPath: string };
  const runtimeConfig = JSON.parse(fs.readFileSync(path.join(Stage.of(site)!.assetOutdir, asset.assetPath, 'config.json'), 'utf8'));
  return { spec: edgeSpecFrom(template), runtimeConfig };
}

/** Node's request headers as a viewer-request event holds them (repeated ones as several values). */
function viewerHeaders(headers: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name] = value;
  return out;
}

/** An `aws s3 sync` filter pattern (fnmatch: `*` also matches `/`) as a regular expression. */
function filterRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Whether `aws s3 sync --exclude ... --include ...` selects the key: later filters win, everything starts included. */
export function selectedBy(key: string, rule: { exclude: string[]; include: string[] }): boolean {
  let selected = true;
  for (const p of rule.exclude) if (filterRegExp(p).test(key)) selected = false;
  for (const p of rule.include) if (filterRegExp(p).test(key)) selected = true;
  return selected;
}

/** A request the stand-in passed to the API route. */
export interface ApiRequest {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface Edge {
  readonly url: string;
  /** The loopback base URL the API route goes to. */
  readonly upstream: string;
  /** Requests seen, as `METHOD path -> status`. */
  readonly log: string[];
  /** The requests sent to the API route, in order. */
  readonly apiRequests: ApiRequest[];
  close(): Promise<void>;
}

/**
 * Starts the stand-in on a loopback port (random unless given). `siteDir` is the `source` folder, `runtimeConfig` the object the
 * construct writes as config.json, `upstream` the loopback base URL the API route goes to.
 */
export async function startEdge(spec: EdgeSpec, siteDir: string, runtimeConfig: unknown, upstream: string, port = 0): Promise<Edge> {
  const context = vm.createContext({});
  vm.runInContext(spec.routerCode, context, { filename: 'spa-router.js' });
  const router = context.handler as Handler;
  const apiFunction = spec.apiFunctionCode ? loadFunction(spec.apiFunctionCode, 'api.js') : undefined;
  const apiPrefix = spec.apiPathPattern?.replace(/\*$/, '');
  const upstreamUrl = new URL(upstream);
  const log: string[] = [];
  const apiRequests: ApiRequest[] = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://edge.invalid');
    for (const [name, value] of Object.entries(spec.headers)) res.setHeader(name, value);
    res.on('finish', () => log.push(`${req.method} ${url.pathname} -> ${res.statusCode}`));

    if (apiPrefix && url.pathname.startsWith(apiPrefix)) {
      // The API behaviour's viewer-request function, then CachingDisabled + AllViewerExceptHostHeader: every header but
      // Host (with the function's changes), the full path, the body streamed both ways.
      const viewer = viewerRequest(req.method ?? 'GET', url.pathname, viewerHeaders(req.headers));
      const forwarded = apiFunction ? apiFunction(viewer) : viewer.request;
      const headers = originRequestHeaders(forwarded, upstreamUrl.host);
      const proxied = http.request({ host: upstreamUrl.hostname, port: upstreamUrl.port, method: req.method, path: req.url, headers }, (answer) => {
        const passed = { ...answer.headers };
        for (const name of Object.keys(spec.headers)) delete passed[name];
        res.writeHead(answer.statusCode ?? 502, passed);
        answer.pipe(res);
      });
      proxied.on('error', (err) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`upstream error: ${err.message}`);
      });
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => apiRequests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }));
      req.pipe(proxied);
      return;
    }

    if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method ?? '')) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('This distribution is not configured to allow the HTTP request method that was used for this request.');
      return;
    }
    const request = { method: req.method, uri: url.pathname, querystring: {}, headers: {}, cookies: {} };
    const uri = router({ version: '1.0', context: { eventType: 'viewer-request' }, viewer: { ip: '127.0.0.1' }, request }).uri;
    const key = decodeURIComponent(uri.replace(/^\//, ''));
    let body: Buffer | undefined;
    let cacheControl = '';
    if (key === 'config.json' && runtimeConfig !== undefined) {
      body = Buffer.from(JSON.stringify(runtimeConfig));
      cacheControl = 'no-cache';
    } else {
      const file = path.join(siteDir, key);
      if (file.startsWith(siteDir + path.sep) && fs.existsSync(file) && fs.statSync(file).isFile()) {
        body = fs.readFileSync(file);
        cacheControl = spec.cacheRules.find((rule) => selectedBy(key, rule))?.cacheControl ?? '';
      }
    }
    if (!body) {
      // S3 through OAC with s3:ListBucket answers a missing key with 404 NoSuchKey.
      res.writeHead(404, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code></Error>');
      return;
    }
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[path.extname(key)] ?? 'application/octet-stream',
      'content-length': body.length,
      ...(cacheControl ? { 'cache-control': cacheControl } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    upstream,
    log,
    apiRequests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
