import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vm from 'vm';
import { App, Duration, RemovalPolicy, Stack, StackProps, Stage } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { SpaFrontend, SpaFrontendProps } from '../../src/spa-frontend';
import { ProxyAuth, ProxyEndpoint, ProxyWebAcl, StreamingLlmProxy, StreamingLlmProxyProps } from '../../src/streaming-llm-proxy';
import { loadFunction, viewerRequest } from '../support/cloudfront-function';
import { formatFindings, nagFindings } from '../support/nag';

const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';
const US_EAST_1 = { account: '111111111111', region: 'us-east-1' };
const EU_WEST_1 = { account: '111111111111', region: 'eu-west-1' };

/** A built site: an app shell, a hashed asset, an unhashed file and a config.json that runtimeConfig replaces. */
const SITE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'spa-site-'));
fs.mkdirSync(path.join(SITE_DIR, 'assets'));
fs.writeFileSync(path.join(SITE_DIR, 'index.html'), '<!doctype html><script src="/assets/app.1234.js"></script>');
fs.writeFileSync(path.join(SITE_DIR, 'assets', 'app.1234.js'), 'console.log(1)');
fs.writeFileSync(path.join(SITE_DIR, 'favicon.ico'), '');
fs.writeFileSync(path.join(SITE_DIR, 'config.json'), '{}');

function stackWith(props?: SpaFrontendProps, stackProps: StackProps = {}): { stack: Stack; site: SpaFrontend; template: Template } {
  const stack = new Stack(new App(), 'Web', stackProps);
  const site = new SpaFrontend(stack, 'Site', props);
  return { stack, site, template: Template.fromStack(stack) };
}

/** A StreamingLlmProxy in its own stack (API keys and a function URL unless `props` say otherwise). */
function proxyIn(app: App, props: StreamingLlmProxyProps = {}, id = 'Backend'): StreamingLlmProxy {
  return new StreamingLlmProxy(new Stack(app, id, { env: US_EAST_1 }), 'Proxy', props);
}

describe('SpaFrontend synthesizes without warnings', () => {
  test('in its default configuration, with no domain: no TLS-policy or bucket-listing warning, and no viewer TLS settings', () => {
    const { stack, template } = stackWith({ source: SITE_DIR });
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
    const config = distributionConfig(template);
    expect(config.ViewerCertificate).toBeUndefined();
    expect(config.DefaultRootObject).toBe('index.html');
  });

  test('with a custom domain, the TLS 1.2 policy and SNI are set', () => {
    const { template } = stackWith({
      source: SITE_DIR,
      domain: { domainName: 'chat.example.com', certificate: acm.Certificate.fromCertificateArn(new Stack(), 'C', 'arn:aws:acm:us-east-1:111111111111:certificate/abc') },
    }, { env: US_EAST_1 });
    expect(distributionConfig(template).ViewerCertificate).toMatchObject({ MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' });
  });
});

function distributionConfig(template: Template): Record<string, any> {
  const distributions = Object.values(template.findResources('AWS::CloudFront::Distribution'));
  expect(distributions).toHaveLength(1);
  return distributions[0].Properties.DistributionConfig;
}

/** The objects the construct asks BucketDeployment to write, by construct id. */
function deployments(template: Template): Record<string, Record<string, any>> {
  const result: Record<string, Record<string, any>> = {};
  for (const [id, resource] of Object.entries(template.findResources('Custom::CDKBucketDeployment'))) {
    result[id.replace(/^Site/, '').replace(/CustomResource.*$/, '')] = resource;
  }
  return result;
}

/** The code of the CloudFront Function on the default behaviour (the SPA router). */
function routerSource(template: Template): string {
  const associations = distributionConfig(template).DefaultCacheBehavior.FunctionAssociations;
  expect(associations).toHaveLength(1);
  return template.toJSON().Resources[associations[0].FunctionARN['Fn::GetAtt'][0]].Properties.FunctionCode;
}

/** Runs the function code the way cloudfront-js-2.0 does: a plain script, then `handler(event)`. */
function runRouter(code: string, uri: string): string {
  const context = vm.createContext({});
  vm.runInContext(code, context);
  const event = { version: '1.0', context: { eventType: 'viewer-request' }, viewer: { ip: '127.0.0.1' }, request: { method: 'GET', uri, querystring: {}, headers: {}, cookies: {} } };
  return (context.handler as (e: unknown) => { uri: string })(event).uri;
}

describe('SpaFrontend with no props', () => {
  const { stack, site, template } = stackWith();

  test('creates a private, encrypted, versioned site bucket that logs access and expires old versions', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: { DestinationBucketName: { Ref: Match.stringLikeRegexp('^SiteLogBucket') }, LogFilePrefix: 's3-access/' },
        LifecycleConfiguration: {
          Rules: [Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: 'Enabled' })],
        },
      }),
    });
  });

  test('creates a log bucket that CloudFront can deliver to and that expires logs after a year', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] },
        PublicAccessBlockConfiguration: Match.objectLike({ BlockPublicAcls: true, RestrictPublicBuckets: true }),
        LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 365 })] },
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    });
  });

  test('denies every request to both buckets that does not use TLS', () => {
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy'));
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]));
    }
  });

  test('lets only this distribution read and list the site bucket, through Origin Access Control', () => {
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' }),
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: Match.stringLikeRegexp('^SiteBucket') },
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Allow',
          Principal: { Service: 'cloudfront.amazonaws.com' },
          Action: Match.arrayWith(['s3:GetObject', 's3:ListBucket']),
          Condition: { StringEquals: { 'AWS:SourceArn': Match.anyValue() } },
        })]),
      },
    });
    const origin = distributionConfig(template).Origins[0];
    expect(origin.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
    expect(origin.OriginAccessControlId).toBeDefined();
  });

  test('redirects to HTTPS, compresses, caches and routes the default behaviour through the SPA router', () => {
    const behavior = distributionConfig(template).DefaultCacheBehavior;
    expect(behavior).toMatchObject({
      ViewerProtocolPolicy: 'redirect-to-https',
      Compress: true,
      CachePolicyId: CACHING_OPTIMIZED,
      AllowedMethods: ['GET', 'HEAD', 'OPTIONS'],
      FunctionAssociations: [{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [expect.stringMatching(/^SiteRouter/), 'FunctionARN'] } }],
      ResponseHeadersPolicyId: { Ref: expect.stringMatching(/^SiteHeaders/) },
    });
  });

  test('serves HTTP/2 and HTTP/3 over IPv4 and IPv6 from the cheapest price class, with access logs', () => {
    expect(distributionConfig(template)).toMatchObject({
      Enabled: true,
      HttpVersion: 'http2and3',
      IPV6Enabled: true,
      PriceClass: 'PriceClass_100',
      DefaultRootObject: 'index.html',
      Logging: { Bucket: { 'Fn::GetAtt': [expect.stringMatching(/^SiteLogBucket/), 'RegionalDomainName'] }, Prefix: 'cloudfront/' },
    });
  });

  test('does not use distribution-wide error responses, so real 404s and 403s reach the viewer', () => {
    expect(distributionConfig(template).CustomErrorResponses).toBeUndefined();
  });

  test('adds HSTS, the CSP, nosniff, frame denial, a referrer policy and COOP to every response', () => {
    template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        Name: { 'Fn::Join': ['', [Match.stringLikeRegexp('^WebSite[0-9A-F]{8}-$'), { Ref: 'AWS::Region' }]] },
        SecurityHeadersConfig: {
          StrictTransportSecurity: { AccessControlMaxAgeSec: 63072000, IncludeSubdomains: true, Override: true },
          ContentSecurityPolicy: { ContentSecurityPolicy: Match.stringLikeRegexp("^default-src 'self'; script-src 'self';.*frame-ancestors 'none'"), Override: true },
          ContentTypeOptions: { Override: true },
          FrameOptions: { FrameOption: 'DENY', Override: true },
          ReferrerPolicy: { ReferrerPolicy: 'strict-origin-when-cross-origin', Override: true },
        },
        CustomHeadersConfig: { Items: [{ Header: 'Cross-Origin-Opener-Policy', Value: 'same-origin', Override: true }] },
      }),
    });
  });

  test('runs the bundled router on cloudfront-js-2.0 with the index document and /.well-known/ passed through', () => {
    template.hasResourceProperties('AWS::CloudFront::Function', {
      AutoPublish: true,
      FunctionConfig: Match.objectLike({ Runtime: 'cloudfront-js-2.0' }),
    });
    const code = routerSource(template);
    expect(code.startsWith('var SPA_ROUTER_CONFIG = {"indexDocument":"/index.html","passthroughPrefixes":["/.well-known/"]};\n')).toBe(true);
    expect(runRouter(code, '/chat/42')).toBe('/index.html');
    expect(runRouter(code, '/.well-known/security')).toBe('/.well-known/security');
  });

  test('uses the *.cloudfront.net name and deploys nothing', () => {
    expect(distributionConfig(template).ViewerCertificate).toBeUndefined();
    expect(distributionConfig(template).Aliases).toBeUndefined();
    expect(stack.resolve(site.url)).toEqual({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [expect.stringMatching(/^SiteDistribution/), 'DomainName'] }]] });
    expect(template.findResources('Custom::CDKBucketDeployment')).toEqual({});
    expect(template.findResources('AWS::Lambda::Function')).toEqual({});
    expect(site.deployment).toBeUndefined();
    expect(site.apiPathPattern).toBeUndefined();
    expect(site.certificate).toBeUndefined();
  });

  test('exposes the bucket, the log bucket and the distribution', () => {
    expect(stack.resolve(site.bucket.bucketName)).toEqual({ Ref: expect.stringMatching(/^SiteBucket/) });
    expect(stack.resolve(site.logBucket.bucketName)).toEqual({ Ref: expect.stringMatching(/^SiteLogBucket/) });
    expect(site.distribution).toBeInstanceOf(cloudfront.Distribution);
  });
});

describe('source', () => {
  test('uploads hashed assets as immutable, other files for revalidation and the app shell last with an invalidation', () => {
    const { template } = stackWith({ source: SITE_DIR });
    const d = deployments(template);
    expect(Object.keys(d).sort()).toEqual(['DeployAppShell', 'DeployFiles', 'DeployHashedAssets']);
    expect(d.DeployHashedAssets.Properties).toMatchObject({
      Prune: true,
      Exclude: ['*'],
      Include: ['assets/*', 'static/*'],
      SystemMetadata: { 'cache-control': 'public, max-age=31536000, immutable' },
    });
    expect(d.DeployHashedAssets.Properties.DistributionId).toBeUndefined();
    expect(d.DeployFiles.Properties).toMatchObject({
      Prune: true,
      Exclude: ['assets/*', 'static/*', '*.html', 'config.json'],
      SystemMetadata: { 'cache-control': 'public, max-age=0, s-maxage=86400' },
    });
    expect(d.DeployAppShell.Properties).toMatchObject({
      Prune: true,
      Exclude: ['*'],
      Include: ['*.html', 'config.json'],
      SystemMetadata: { 'cache-control': 'no-cache' },
      DistributionId: { Ref: expect.stringMatching(/^SiteDistribution/) },
      DistributionPaths: ['/*'],
    });
    expect(d.DeployAppShell.DependsOn).toEqual(expect.arrayContaining([
      expect.stringMatching(/^SiteDeployHashedAssetsCustomResource/),
      expect.stringMatching(/^SiteDeployFilesCustomResource/),
    ]));
  });

  test('runs the copy function with 512 MiB unless deploymentMemoryLimit says otherwise', () => {
    stackWith({ source: SITE_DIR }).template.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 512 });
    stackWith({ source: SITE_DIR, deploymentMemoryLimit: 2048 }).template.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 2048 });
  });

  test('keeps files that are not in the source when prune is false', () => {
    const d = deployments(stackWith({ source: SITE_DIR, prune: false }).template);
    for (const deployment of Object.values(d)) expect(deployment.Properties.Prune).toBe(false);
  });

  test('treats the paths in hashedAssetPaths as immutable', () => {
    const d = deployments(stackWith({ source: SITE_DIR, hashedAssetPaths: ['_app/immutable/*'] }).template);
    expect(d.DeployHashedAssets.Properties.Include).toEqual(['_app/immutable/*']);
    expect(d.DeployFiles.Properties.Exclude).toEqual(['_app/immutable/*', '*.html', 'config.json']);
  });

  test('exposes the deployment that finishes last', () => {
    const { stack, site } = stackWith({ source: SITE_DIR });
    expect(site.deployment!.node.path).toBe(`${stack.stackName}/Site/DeployAppShell`);
  });
});

describe('runtimeConfig', () => {
  test('writes config.json with no-cache after the app shell and replaces the one in source', () => {
    const { stack, site, template } = stackWith({ source: SITE_DIR, runtimeConfig: { apiBaseUrl: 'https://api.example.com', model: 'claude' } });
    const d = deployments(template);
    expect(d.DeployAppShell.Properties.Include).toEqual(['*.html']);
    expect(d.DeployRuntimeConfig.Properties).toMatchObject({
      Prune: false,
      SystemMetadata: { 'cache-control': 'no-cache', 'content-type': 'application/json' },
      DistributionPaths: ['/config.json'],
    });
    expect(d.DeployRuntimeConfig.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^SiteDeployAppShellCustomResource/)]));
    expect(site.deployment!.node.path).toBe(`${stack.stackName}/Site/DeployRuntimeConfig`);
    expect(configJson(site)).toEqual({ apiBaseUrl: 'https://api.example.com', model: 'claude' });
  });

  test('is deployed on its own when there is no source', () => {
    const d = deployments(stackWith({ runtimeConfig: { model: 'claude' } }).template);
    expect(Object.keys(d)).toEqual(['DeployRuntimeConfig']);
  });

  test('may hold deploy-time values such as another resource\'s URL', () => {
    const stack = new Stack(new App(), 'Web');
    const bucket = new s3.Bucket(stack, 'Other');
    new SpaFrontend(stack, 'Site', { runtimeConfig: { uploads: bucket.bucketWebsiteUrl } });
    const d = deployments(Template.fromStack(stack));
    expect(Object.keys(d.DeployRuntimeConfig.Properties.SourceMarkers[0])).toHaveLength(1);
  });
});

describe('api', () => {
  test('routes /api/* to a function URL uncached, with every method and every viewer header except Host', () => {
    const app = new App();
    const stack = new Stack(app, 'Web', { env: US_EAST_1 });
    const site = new SpaFrontend(stack, 'Site', { api: { proxy: proxyIn(app) } });
    const template = Template.fromStack(stack);
    const config = distributionConfig(template);
    expect(config.CacheBehaviors).toHaveLength(1);
    const behavior = config.CacheBehaviors[0];
    expect(behavior).toMatchObject({
      PathPattern: '/api/*',
      ViewerProtocolPolicy: 'https-only',
      AllowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'],
      CachePolicyId: CACHING_DISABLED,
      OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
      Compress: false,
    });
    expect(behavior.FunctionAssociations).toEqual([{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [expect.stringMatching(/^SiteApiForwardedHost/), 'FunctionARN'] } }]);
    const origin = config.Origins.find((o: any) => o.Id === behavior.TargetOriginId);
    expect(origin).toMatchObject({
      CustomOriginConfig: { OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'], OriginReadTimeout: 60, OriginKeepaliveTimeout: 60 },
    });
    expect(origin.OriginAccessControlId).toBeUndefined();
    expect(site.apiPathPattern).toBe('/api/*');
  });

  test.each([
    ['a proxy function URL', (app: App) => ({ proxy: proxyIn(app) })],
    ['a proxy REST API', (app: App) => ({ proxy: proxyIn(app, { endpoint: ProxyEndpoint.restApi() }) })],
    ['api.origin', () => ({ origin: new origins.HttpOrigin('llm.example.com') })],
  ])('sends the viewer\'s Host to %s as x-forwarded-host: the API route has its own viewer-request function, the router stays on the default behaviour', (_name, api) => {
    const app = new App();
    const stack = new Stack(app, 'Web', { env: US_EAST_1 });
    const site = new SpaFrontend(stack, 'Site', { api: api(app) });
    const template = Template.fromStack(stack);
    const functions = template.findResources('AWS::CloudFront::Function');
    const routerId = stack.getLogicalId(site.routerFunction.node.defaultChild as cloudfront.CfnFunction);
    const apiFnId = stack.getLogicalId(site.apiForwardedHostFunction!.node.defaultChild as cloudfront.CfnFunction);
    expect(Object.keys(functions).sort()).toEqual([apiFnId, routerId].sort());
    expect(functions[apiFnId].Properties.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    const config = distributionConfig(template);
    expect(config.CacheBehaviors[0].OriginRequestPolicyId).toBe(ALL_VIEWER_EXCEPT_HOST_HEADER);
    expect(config.CacheBehaviors[0].FunctionAssociations).toEqual([{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [apiFnId, 'FunctionARN'] } }]);
    expect(config.DefaultCacheBehavior.FunctionAssociations).toEqual([{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [routerId, 'FunctionARN'] } }]);
    // The code in the template is the function that runs: a spoofed value is replaced by the viewer's Host.
    const handler = loadFunction(functions[apiFnId].Properties.FunctionCode);
    const request = handler(viewerRequest('GET', '/api/v1/messages/batches/msgbatch_1', { 'host': 'chat.example.com', 'x-forwarded-host': 'evil.example' }));
    expect(request.headers['x-forwarded-host']).toEqual({ value: 'chat.example.com' });
    expect(request.uri).toBe('/api/v1/messages/batches/msgbatch_1');
  });

  test('has no API function without api', () => {
    const { template, site } = stackWith();
    expect(Object.keys(template.findResources('AWS::CloudFront::Function'))).toHaveLength(1);
    expect(site.apiForwardedHostFunction).toBeUndefined();
  });

  test('makes the proxy refuse direct calls: the API origin adds the proxy\'s secret origin header, which the proxy then requires', () => {
    const app = new App();
    const proxy = proxyIn(app);
    const stack = new Stack(app, 'Web', { env: US_EAST_1 });
    new SpaFrontend(stack, 'Site', { api: { proxy, readTimeout: Duration.seconds(90) } });
    const config = distributionConfig(Template.fromStack(stack));
    const origin = config.Origins.find((o: any) => o.Id === config.CacheBehaviors[0].TargetOriginId);
    expect(origin.CustomOriginConfig.OriginReadTimeout).toBe(90);
    const header = origin.OriginCustomHeaders.find((h: any) => h.HeaderName === 'x-origin-verify');
    // A dynamic reference to the proxy stack's secret (imported), resolved by CloudFormation: no value in the template.
    expect(JSON.stringify(header.HeaderValue)).toMatch(/^\{"Fn::Join":\["",\["\{\{resolve:secretsmanager:",\{"Fn::ImportValue":"Backend:ExportsOutputRefProxyOriginSecret[^"]+"\},":SecretString:::\}\}"\]\]\}$/);
    expect(proxy.originSecret).toBeDefined();
    const backend = Template.fromStack(Stack.of(proxy));
    const fn = Object.values(backend.findResources('AWS::Lambda::Function'))[0];
    expect(fn.Properties.Environment.Variables.PROXY_ORIGIN_VERIFY_SECRET_ARN).toEqual({ Ref: expect.stringMatching(/^ProxyOriginSecret/) });
  });

  test('leaves a proxy with restrictToCloudFront: false reachable directly, without the header', () => {
    const app = new App();
    const proxy = proxyIn(app, { restrictToCloudFront: false });
    const stack = new Stack(app, 'Web', { env: US_EAST_1 });
    new SpaFrontend(stack, 'Site', { api: { proxy } });
    const config = distributionConfig(Template.fromStack(stack));
    const origin = config.Origins.find((o: any) => o.Id === config.CacheBehaviors[0].TargetOriginId);
    expect(origin.OriginCustomHeaders).toBeUndefined();
    expect(proxy.originSecret).toBeUndefined();
  });

  test('tells the app where the API is through config.json and keeps the router away from it', () => {
    const app = new App();
    const stack = new Stack(app, 'Web', { env: US_EAST_1 });
    new SpaFrontend(stack, 'Site', { api: { proxy: proxyIn(app), pathPattern: '/llm/v2/*' } });
    const template = Template.fromStack(stack);
    expect(deployments(template).DeployRuntimeConfig).toBeDefined();
    const code = routerSource(template);
    expect(code).toContain('"passthroughPrefixes":["/.well-known/","/llm/v2/"]');
    expect(runRouter(code, '/llm/v2/v1/messages')).toBe('/llm/v2/v1/messages');
    expect(runRouter(code, '/llm/v2')).toBe('/llm/v2');
    expect(runRouter(code, '/llm/other')).toBe('/index.html');
    expect(distributionConfig(template).CacheBehaviors[0].PathPattern).toBe('/llm/v2/*');
  });

  test('writes apiBaseUrl into config.json, with runtimeConfig values on top', () => {
    const app = new App();
    const stack = new Stack(app, 'Web', { env: US_EAST_1 });
    const site = new SpaFrontend(stack, 'Site', { api: { proxy: proxyIn(app) }, runtimeConfig: { model: 'claude-sonnet' } });
    expect(configJson(site)).toEqual({ apiBaseUrl: '/api', model: 'claude-sonnet' });
  });

  test('signs requests to an AWS_IAM function URL with Origin Access Control and tells the app to send the payload hash', () => {
    const app = new App();
    const stack = new Stack(app, 'Web', { env: US_EAST_1 });
    const site = new SpaFrontend(stack, 'Site', { api: { proxy: proxyIn(app, { auth: ProxyAuth.iam() }) } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 'lambda', SigningBehavior: 'always' }),
    });
    template.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunctionUrl', Principal: 'cloudfront.amazonaws.com' });
    const config = distributionConfig(template);
    const origin = config.Origins.find((o: any) => o.Id === config.CacheBehaviors[0].TargetOriginId);
    expect(origin.OriginAccessControlId).toBeDefined();
    expect(configJson(site)).toEqual({ apiBaseUrl: '/api', apiPayloadSigning: 'sha256' });
    Annotations.fromStack(stack).hasWarning('/Web/Site', Match.stringLikeRegexp('anyone who can load the site can call it'));
  });

  test('lets only its own distribution invoke the AWS_IAM function URL\'s alias: InvokeFunction and InvokeFunctionUrl', () => {
    const app = new App();
    const proxy = proxyIn(app, { auth: ProxyAuth.iam() });
    const stack = new Stack(app, 'Web', { env: US_EAST_1 });
    const site = new SpaFrontend(stack, 'Site', { api: { proxy } });
    const template = Template.fromStack(stack);
    const distributionId = stack.getLogicalId(site.distribution.node.defaultChild as cloudfront.CfnDistribution);
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).map((r) => r.Properties);
    const byAction = (action: string) => permissions.filter((p) => p.Action === action && p.Principal === 'cloudfront.amazonaws.com');
    for (const action of ['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl']) {
      const found = byAction(action);
      expect(found).toHaveLength(1);
      // The alias ARN, imported from the proxy's stack.
      expect(JSON.stringify(found[0].FunctionName)).toMatch(/Fn::ImportValue.*ProxyLive/);
      expect(JSON.stringify(found[0].SourceArn)).toContain(distributionId);
    }
  });

  test('warns about nothing for a function URL with its own auth', () => {
    const app = new App();
    const stack = new Stack(app, 'Web', { env: US_EAST_1 });
    new SpaFrontend(stack, 'Site', { api: { proxy: proxyIn(app) } });
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('anyone who can load the site can call it'))).toEqual([]);
  });

  test('calls a REST API on its stage', () => {
    const app = new App();
    const proxy = proxyIn(app, { endpoint: ProxyEndpoint.restApi({ stageName: 'live' }) });
    const stack = new Stack(app, 'Web', { env: US_EAST_1 });
    new SpaFrontend(stack, 'Site', { api: { proxy, readTimeout: Duration.seconds(120) } });
    const config = distributionConfig(Template.fromStack(stack));
    const origin = config.Origins.find((o: any) => o.Id === config.CacheBehaviors[0].TargetOriginId);
    expect(origin).toMatchObject({ CustomOriginConfig: { OriginProtocolPolicy: 'https-only', OriginReadTimeout: 120 } });
    expect(origin.OriginAccessControlId).toBeUndefined();
    // The stage is the fourth segment of the API's URL (https://<id>.execute-api.<region>.<suffix>/<stage>/).
    expect(JSON.stringify(origin.OriginPath)).toContain('ExportsOutputRefProxyApiDeploymentStagelive');
    expect(origin.OriginPath['Fn::Join'][1][1]['Fn::Select'][0]).toBe(3);
  });

  test('rejects a REST API proxy with IAM auth, whose signatures browsers cannot make', () => {
    const app = new App();
    const proxy = proxyIn(app, { endpoint: ProxyEndpoint.restApi(), auth: ProxyAuth.iam() });
    expect(() => new SpaFrontend(new Stack(app, 'Web', { env: US_EAST_1 }), 'Site', { api: { proxy } }))
      .toThrow(/api.proxy uses ProxyAuth.iam\(\) on a REST API/);
  });

  test('uses any origin given as api.origin', () => {
    const { template } = stackWith({ api: { origin: new origins.HttpOrigin('llm.example.com') } });
    const config = distributionConfig(template);
    expect(config.Origins.find((o: any) => o.Id === config.CacheBehaviors[0].TargetOriginId).DomainName).toBe('llm.example.com');
  });

  test.each([
    ['/api', 'must have the form'],
    ['/api*', 'must have the form'],
    ['api/*', 'must have the form'],
    ['/*', 'must have the form'],
    ['/api/*.json', 'must have the form'],
  ])('rejects the path pattern %s', (pathPattern, message) => {
    expect(() => stackWith({ api: { origin: new origins.HttpOrigin('x.example.com'), pathPattern } }))
      .toThrow(new RegExp(`api.pathPattern '${escape(pathPattern)}' ${message}`));
  });

  test('rejects an api with both or neither of proxy and origin', () => {
    const app = new App();
    const proxy = proxyIn(app);
    expect(() => new SpaFrontend(new Stack(app, 'A', { env: US_EAST_1 }), 'Site', { api: { proxy, origin: new origins.HttpOrigin('x.example.com') } }))
      .toThrow(/api needs exactly one of api.proxy \(a StreamingLlmProxy\) and api.origin/);
    expect(() => stackWith({ api: {} })).toThrow(/api needs exactly one of api.proxy/);
  });

  test('rejects readTimeout together with api.origin', () => {
    expect(() => stackWith({ api: { origin: new origins.HttpOrigin('x.example.com'), readTimeout: Duration.seconds(90) } }))
      .toThrow(/api.readTimeout applies to api.proxy/);
  });
});

/** The object the runtime-config deployment writes. */
function configJson(site: SpaFrontend): Record<string, string> {
  const deployment = site.node.findChild('DeployRuntimeConfig');
  const asset = deployment.node.children.find((c) => c.node.id.startsWith('Asset')) as { assetPath?: string } | undefined;
  expect(asset?.assetPath).toBeDefined();
  return JSON.parse(fs.readFileSync(path.join(Stage.of(site)!.assetOutdir, asset!.assetPath!, 'config.json'), 'utf8'));
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('domain', () => {
  function zoneStack(env = US_EAST_1): { app: App; stack: Stack; zone: route53.IHostedZone } {
    const app = new App();
    const stack = new Stack(app, 'Web', { env });
    const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z123', zoneName: 'example.com' });
    return { app, stack, zone };
  }

  test('creates a DNS-validated certificate, serves the names with TLSv1.2_2021 over SNI and adds A and AAAA aliases', () => {
    const { stack, zone } = zoneStack();
    const site = new SpaFrontend(stack, 'Site', { domain: { domainName: 'chat.example.com', alternateNames: ['www.chat.example.com'], hostedZone: zone } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'chat.example.com',
      SubjectAlternativeNames: ['www.chat.example.com'],
      ValidationMethod: 'DNS',
      DomainValidationOptions: Match.arrayWith([{ DomainName: 'chat.example.com', HostedZoneId: 'Z123' }]),
    });
    expect(distributionConfig(template)).toMatchObject({
      Aliases: ['chat.example.com', 'www.chat.example.com'],
      ViewerCertificate: { AcmCertificateArn: { Ref: expect.stringMatching(/^SiteCertificate/) }, MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' },
    });
    for (const type of ['A', 'AAAA']) {
      for (const name of ['chat.example.com.', 'www.chat.example.com.']) {
        template.hasResourceProperties('AWS::Route53::RecordSet', {
          Name: name,
          Type: type,
          HostedZoneId: 'Z123',
          AliasTarget: { DNSName: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SiteDistribution'), 'DomainName'] }, HostedZoneId: Match.anyValue() },
        });
      }
    }
    expect(site.url).toBe('https://chat.example.com');
    expect(site.certificate).toBeDefined();
  });

  test('applies minimumProtocolVersion to the custom domain', () => {
    const { stack, zone } = zoneStack();
    new SpaFrontend(stack, 'Site', { domain: { domainName: 'chat.example.com', hostedZone: zone }, minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_3_2025 });
    expect(distributionConfig(Template.fromStack(stack)).ViewerCertificate.MinimumProtocolVersion).toBe('TLSv1.3_2025');
  });

  test('fails the deployment of an environment-agnostic stack outside us-east-1 before creating the certificate', () => {
    const stack = new Stack(new App(), 'Web');
    const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z123', zoneName: 'example.com' });
    new SpaFrontend(stack, 'Site', { domain: { domainName: 'chat.example.com', hostedZone: zone } });
    const rules = Template.fromStack(stack).toJSON().Rules;
    expect(Object.entries(rules).filter(([id]) => id.startsWith('Site')).map(([, rule]) => rule)).toEqual([{
      Assertions: [{ Assert: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] }, AssertDescription: expect.stringContaining('must be deployed to us-east-1') }],
    }]);
  });

  test('rejects creating a certificate in a stack outside us-east-1', () => {
    const { stack, zone } = zoneStack(EU_WEST_1);
    expect(() => new SpaFrontend(stack, 'Site', { domain: { domainName: 'chat.example.com', hostedZone: zone } }))
      .toThrow(/the stack is in eu-west-1.*pass it as domain.certificate/);
  });

  test('rejects a certificate ARN from another region', () => {
    const { stack, zone } = zoneStack(EU_WEST_1);
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:111111111111:certificate/abc');
    expect(() => new SpaFrontend(stack, 'Site', { domain: { domainName: 'chat.example.com', hostedZone: zone, certificate } }))
      .toThrow(/domain.certificate is in eu-west-1, but CloudFront only accepts certificates from us-east-1/);
  });

  test('rejects a certificate created by a stack in another region', () => {
    const app = new App();
    const certStack = new Stack(app, 'Certs', { env: EU_WEST_1 });
    const certificate = new acm.Certificate(certStack, 'Cert', { domainName: 'chat.example.com' });
    const stack = new Stack(app, 'Web', { env: EU_WEST_1 });
    expect(() => new SpaFrontend(stack, 'Site', { domain: { domainName: 'chat.example.com', certificate } }))
      .toThrow(/domain.certificate is in eu-west-1/);
  });

  test('accepts a us-east-1 certificate in a stack of another region, and creates no records without a zone', () => {
    const app = new App();
    const certStack = new Stack(app, 'Certs', { env: US_EAST_1, crossRegionReferences: true });
    const certificate = new acm.Certificate(certStack, 'Cert', { domainName: 'chat.example.com' });
    const stack = new Stack(app, 'Web', { env: EU_WEST_1, crossRegionReferences: true });
    const site = new SpaFrontend(stack, 'Site', { domain: { domainName: 'chat.example.com', certificate } });
    const template = Template.fromStack(stack);
    expect(distributionConfig(template).Aliases).toEqual(['chat.example.com']);
    template.resourceCountIs('AWS::Route53::RecordSet', 0);
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    expect(site.certificate).toBe(certificate);
  });

  test('accepts a certificate ARN from us-east-1', () => {
    const { stack, zone } = zoneStack(EU_WEST_1);
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:us-east-1:111111111111:certificate/abc');
    new SpaFrontend(stack, 'Site', { domain: { domainName: 'chat.example.com', hostedZone: zone, certificate } });
    expect(distributionConfig(Template.fromStack(stack)).ViewerCertificate.AcmCertificateArn).toBe('arn:aws:acm:us-east-1:111111111111:certificate/abc');
  });

  test('rejects a domain with neither a hosted zone nor a certificate', () => {
    expect(() => stackWith({ domain: { domainName: 'chat.example.com' } }, { env: US_EAST_1 }))
      .toThrow(/domain needs a hostedZone .* or a certificate/);
  });
});

describe('bucket props', () => {
  test('serves an existing bucket without creating one', () => {
    const stack = new Stack(new App(), 'Web');
    const bucket = new s3.Bucket(stack, 'Mine', { enforceSSL: true });
    const site = new SpaFrontend(stack, 'Site', { existingBucket: bucket });
    expect(site.bucket).toBe(bucket);
    Template.fromStack(stack).resourceCountIs('AWS::S3::Bucket', 2); // the existing bucket and the log bucket
  });

  test.each<[string, SpaFrontendProps, RegExp]>([
    ['bucketProps', { bucketProps: {} }, /existingBucket or bucketProps, not both/],
    ['removalPolicy', { removalPolicy: RemovalPolicy.DESTROY }, /noncurrentVersionExpiration and removalPolicy apply to the bucket the construct creates/],
    ['noncurrentVersionExpiration', { noncurrentVersionExpiration: Duration.days(3) }, /cannot be used with existingBucket/],
  ])('rejects existingBucket together with %s', (_name, props, message) => {
    const stack = new Stack(new App(), 'Web');
    expect(() => new SpaFrontend(stack, 'Site', { existingBucket: new s3.Bucket(stack, 'Mine'), ...props })).toThrow(message);
  });

  test('encrypts with the KMS key given in bucketProps and lets this distribution decrypt with it', () => {
    const stack = new Stack(new App(), 'Web');
    const encryptionKey = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new SpaFrontend(stack, 'Site', { bucketProps: { encryption: s3.BucketEncryption.KMS, encryptionKey, bucketKeyEnabled: true } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } }] },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudfront.amazonaws.com' }, Action: 'kms:Decrypt' })]) },
    });
  });

  test.each<[string, s3.BucketProps, RegExp]>([
    ['website hosting', { websiteIndexDocument: 'index.html' }, /must not turn on S3 website hosting/],
    ['public read access', { publicReadAccess: true }, /must not set publicReadAccess, blockPublicAccess or accessControl/],
    ['a weaker public access block', { blockPublicAccess: s3.BlockPublicAccess.BLOCK_ACLS_ONLY }, /must not set publicReadAccess, blockPublicAccess/],
    ['ACLs', { objectOwnership: s3.ObjectOwnership.OBJECT_WRITER }, /objectOwnership must stay BUCKET_OWNER_ENFORCED/],
    ['plain HTTP', { enforceSSL: false }, /enforceSSL cannot be false/],
    ['no encryption', { encryption: s3.BucketEncryption.UNENCRYPTED }, /encryption cannot be UNENCRYPTED/],
    ['the aws/s3 key', { encryption: s3.BucketEncryption.KMS_MANAGED }, /encryption cannot be KMS_MANAGED/],
  ])('rejects bucketProps that turn on %s', (_name, bucketProps, message) => {
    expect(() => stackWith({ bucketProps })).toThrow(message);
  });

  test('applies removalPolicy to both buckets', () => {
    const { template } = stackWith({ removalPolicy: RemovalPolicy.DESTROY });
    const buckets = Object.values(template.findResources('AWS::S3::Bucket'));
    expect(buckets.map((b) => b.DeletionPolicy)).toEqual(['Delete', 'Delete']);
  });

  test('keeps noncurrent versions for noncurrentVersionExpiration', () => {
    stackWith({ noncurrentVersionExpiration: Duration.days(90) }).template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 90 } })] },
    });
  });
});

describe('logging', () => {
  test('keeps logs for logRetention', () => {
    stackWith({ logRetention: Duration.days(30) }).template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 30 })] },
    });
  });

  test('delivers logs to an existing logBucket', () => {
    const stack = new Stack(new App(), 'Web');
    const logBucket = s3.Bucket.fromBucketAttributes(stack, 'Logs', { bucketName: 'my-logs', region: 'us-east-1' });
    const site = new SpaFrontend(stack, 'Site', { logBucket });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('AWS::S3::Bucket', { LoggingConfiguration: { DestinationBucketName: 'my-logs', LogFilePrefix: 's3-access/' } });
    expect(distributionConfig(template).Logging.Bucket).toBe('my-logs.s3.us-east-1.amazonaws.com');
    expect(site.logBucket).toBe(logBucket);
  });

  test('rejects logRetention together with logBucket', () => {
    const stack = new Stack(new App(), 'Web');
    expect(() => new SpaFrontend(stack, 'Site', { logBucket: s3.Bucket.fromBucketName(stack, 'L', 'my-logs'), logRetention: Duration.days(1) }))
      .toThrow(/logRetention applies to the log bucket the construct creates/);
  });
});

describe('distribution props', () => {
  test('uses priceClass, geoRestriction and comment', () => {
    const { template } = stackWith({
      priceClass: cloudfront.PriceClass.PRICE_CLASS_ALL,
      geoRestriction: cloudfront.GeoRestriction.allowlist('DE', 'FR'),
      comment: 'chat site',
    });
    expect(distributionConfig(template)).toMatchObject({
      PriceClass: 'PriceClass_All',
      Restrictions: { GeoRestriction: { Locations: ['DE', 'FR'], RestrictionType: 'whitelist' } },
      Comment: 'chat site',
    });
  });

  test('attaches the web ACL in webAclArn', () => {
    const arn = 'arn:aws:wafv2:us-east-1:111111111111:global/webacl/site/0123';
    expect(distributionConfig(stackWith({ webAclArn: arn }).template).WebACLId).toBe(arn);
  });

  test.each([
    'arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/site/0123',
    'arn:aws:wafv2:us-east-1:111111111111:regional/webacl/site/0123',
    '0123-4567',
  ])('rejects %s as webAclArn', (webAclArn) => {
    expect(() => stackWith({ webAclArn })).toThrow(/is not the ARN of a WAFv2 web ACL with scope CLOUDFRONT/);
  });

  test('with api, attaches a created CLOUDFRONT-scope web ACL with managed rules, a per-viewer-IP rate rule and redacted logs', () => {
    const app = new App();
    const stack = new Stack(app, 'Web', { env: US_EAST_1 });
    new SpaFrontend(stack, 'Site', { api: { proxy: proxyIn(app) } });
    const template = Template.fromStack(stack);
    expect(distributionConfig(template).WebACLId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^SiteWebAcl/), 'Arn'] });
    const acl = Object.values(template.findResources('AWS::WAFv2::WebACL'));
    expect(acl).toHaveLength(1);
    expect(acl[0].Properties.Scope).toBe('CLOUDFRONT');
    const rules = acl[0].Properties.Rules as Array<{ Name: string; Statement: any }>;
    expect(rules.map((r) => r.Name)).toEqual([
      'AWSManagedRulesAmazonIpReputationList', 'AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet', 'RateLimitPerIp',
    ]);
    // At the edge the source IP is the viewer's own address.
    expect(rules[3].Statement.RateBasedStatement).toMatchObject({ AggregateKeyType: 'IP', Limit: 3000 });
    template.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: Match.arrayWith([{ SingleHeader: { Name: 'authorization' } }, { SingleHeader: { Name: 'x-api-key' } }]),
    });
  });

  test('without api, creates no web ACL (static files only)', () => {
    const { template } = stackWith();
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    expect(distributionConfig(template).WebACLId).toBeUndefined();
  });

  test('webAcl: none() opts out (and leaves AwsSolutions-CFR2 reported), fromArn() brings your own, managed() sets the rate', () => {
    const app = new App();
    const none = new Stack(app, 'None', { env: US_EAST_1 });
    new SpaFrontend(none, 'Site', { api: { proxy: proxyIn(app) }, webAcl: ProxyWebAcl.none() });
    Template.fromStack(none).resourceCountIs('AWS::WAFv2::WebACL', 0);
    expect(nagFindings(none).map((f) => f.rule)).toContain('AwsSolutions-CFR2');

    // A site in another region, with its proxy there too.
    const arn = 'arn:aws:wafv2:us-east-1:111111111111:global/webacl/site/0123';
    const euApp = new App();
    const own = new Stack(euApp, 'Own', { env: EU_WEST_1 });
    new SpaFrontend(own, 'Site', { api: { proxy: new StreamingLlmProxy(own, 'Proxy') }, webAcl: ProxyWebAcl.fromArn(arn) });
    expect(distributionConfig(Template.fromStack(own)).WebACLId).toBe(arn);

    const managed = new Stack(new App(), 'Managed', { env: US_EAST_1 });
    new SpaFrontend(managed, 'Site', { webAcl: ProxyWebAcl.managed({ rateLimitPerFiveMinutes: 500 }) });
    Template.fromStack(managed).hasResourceProperties('AWS::WAFv2::WebACL', {
      Rules: Match.arrayWith([Match.objectLike({ Name: 'RateLimitPerIp', Statement: { RateBasedStatement: Match.objectLike({ Limit: 500 }) } })]),
    });
  });

  test('webAcl errors name the prop: outside us-east-1, a regional ACL, and together with webAclArn', () => {
    const app = new App();
    const proxy = proxyIn(app);
    expect(() => new SpaFrontend(new Stack(app, 'Eu', { env: EU_WEST_1 }), 'Site', { api: { proxy } }))
      .toThrow(/SpaFrontend webAcl: a CLOUDFRONT-scope web ACL must be created in us-east-1, but this stack is in eu-west-1 \(with `api` set.*ProxyWebAcl.none\(\)/);
    expect(() => new SpaFrontend(new Stack(app, 'Regional', { env: US_EAST_1 }), 'Site', {
      webAcl: ProxyWebAcl.fromArn('arn:aws:wafv2:us-east-1:111111111111:regional/webacl/api/0123'),
    })).toThrow(/^SpaFrontend webAcl: a CloudFront distribution needs a CLOUDFRONT-scope web ACL/);
    expect(() => new SpaFrontend(new Stack(app, 'Both', { env: US_EAST_1 }), 'Site', {
      webAclArn: 'arn:aws:wafv2:us-east-1:111111111111:global/webacl/site/0123', webAcl: ProxyWebAcl.none(),
    })).toThrow(/SpaFrontend takes webAclArn or webAcl, not both/);
  });

  test('in an environment-agnostic stack, a created web ACL comes with a rule that fails deployment outside us-east-1', () => {
    const stack = new Stack(new App(), 'Agnostic');
    new SpaFrontend(stack, 'Site', { api: { proxy: new StreamingLlmProxy(stack, 'Proxy') } });
    const rules = Template.fromStack(stack).toJSON().Rules as Record<string, { Assertions: Array<{ Assert: unknown }> }>;
    const rule = Object.entries(rules).find(([id]) => id.startsWith('SiteWebAclRegionRule'))![1];
    expect(rule.Assertions[0].Assert).toEqual({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] });
  });

  test('uses contentSecurityPolicy', () => {
    const csp = "default-src 'self'; connect-src 'self' https://api.example.com";
    stackWith({ contentSecurityPolicy: csp }).template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: Match.objectLike({ ContentSecurityPolicy: { ContentSecurityPolicy: csp, Override: true } }),
      }),
    });
  });

  test('uses a responseHeadersPolicy given instead of creating one, also on the API route', () => {
    const stack = new Stack(new App(), 'Web');
    const responseHeadersPolicy = cloudfront.ResponseHeadersPolicy.fromResponseHeadersPolicyId(stack, 'P', 'my-policy-id');
    new SpaFrontend(stack, 'Site', { responseHeadersPolicy, api: { origin: new origins.HttpOrigin('x.example.com') } });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudFront::ResponseHeadersPolicy', 0);
    const config = distributionConfig(template);
    expect(config.DefaultCacheBehavior.ResponseHeadersPolicyId).toBe('my-policy-id');
    expect(config.CacheBehaviors[0].ResponseHeadersPolicyId).toBe('my-policy-id');
  });

  test('rejects contentSecurityPolicy together with responseHeadersPolicy', () => {
    const stack = new Stack(new App(), 'Web');
    const responseHeadersPolicy = cloudfront.ResponseHeadersPolicy.fromResponseHeadersPolicyId(stack, 'P', 'my-policy-id');
    expect(() => new SpaFrontend(stack, 'Site', { responseHeadersPolicy, contentSecurityPolicy: "default-src 'none'" }))
      .toThrow(/responseHeadersPolicy or contentSecurityPolicy, not both/);
  });
});

describe('routing props', () => {
  test('serves client routes from indexDocument', () => {
    const { template } = stackWith({ indexDocument: 'app.html' });
    expect(distributionConfig(template).DefaultRootObject).toBe('app.html');
    expect(runRouter(routerSource(template), '/chat/42')).toBe('/app.html');
  });

  test.each(['/index.html', 'index', ''])('rejects %j as indexDocument', (indexDocument) => {
    expect(() => stackWith({ indexDocument })).toThrow(/indexDocument '.*' must be a file name relative to the bucket root/);
  });

  test('passes the passthroughPrefixes through unchanged', () => {
    const code = routerSource(stackWith({ passthroughPrefixes: ['/auth/', '/.well-known/'] }).template);
    expect(runRouter(code, '/auth/callback')).toBe('/auth/callback');
    expect(runRouter(code, '/.well-known/openid-configuration')).toBe('/.well-known/openid-configuration');
    expect(runRouter(code, '/profile')).toBe('/index.html');
  });

  test.each(['auth/', '/auth', '*'])('rejects %j as a pass-through prefix', (prefix) => {
    expect(() => stackWith({ passthroughPrefixes: [prefix] })).toThrow(/passthroughPrefixes entry '.*' must start and end with '\/'/);
  });
});

describe('deployment props', () => {
  test.each([64, 20000, 512.5])('rejects %d MiB as deploymentMemoryLimit', (deploymentMemoryLimit) => {
    expect(() => stackWith({ source: SITE_DIR, deploymentMemoryLimit })).toThrow(/deploymentMemoryLimit .* must be a whole number of MiB between 128 and 10240/);
  });

  test('rejects deploymentMemoryLimit when nothing is deployed', () => {
    expect(() => stackWith({ deploymentMemoryLimit: 1024 })).toThrow(/deploymentMemoryLimit has no effect without source or runtimeConfig/);
  });
});

describe('grantDeploy', () => {
  test('lets a CI role write and delete site files and invalidate this distribution', () => {
    const stack = new Stack(new App(), 'Web');
    const site = new SpaFrontend(stack, 'Site');
    const role = new iam.Role(stack, 'Ci', { assumedBy: new iam.AccountRootPrincipal() });
    site.grantDeploy(role);
    const template = Template.fromStack(stack);
    const policy = Object.values(template.findResources('AWS::IAM::Policy'))[0];
    const statements = policy.Properties.PolicyDocument.Statement;
    const actions = statements.flatMap((s: any) => [].concat(s.Action));
    expect(actions).toEqual(expect.arrayContaining(['s3:PutObject', 's3:DeleteObject*', 's3:GetObject*', 's3:List*', 'cloudfront:CreateInvalidation']));
    const invalidation = statements.find((s: any) => [].concat(s.Action).includes('cloudfront:CreateInvalidation' as never));
    expect(invalidation.Action).toEqual(['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation']);
    expect(JSON.stringify(invalidation.Resource)).toContain('distribution/');
    expect(JSON.stringify(invalidation.Resource)).not.toBe('"*"');
  });
});

describe('cdk-nag', () => {
  test('the default configuration has no unacknowledged findings in the four packs', () => {
    const { stack } = stackWith();
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('a site with files and an API has no unacknowledged findings in an environment-agnostic stack', () => {
    const { stack } = stackWith({ source: SITE_DIR, api: { origin: new origins.HttpOrigin('llm.example.com') } });
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('the fully-featured configuration has no unacknowledged findings in the four packs', () => {
    const app = new App();
    const stack = new Stack(app, 'Web', { env: US_EAST_1 });
    const proxy = new StreamingLlmProxy(stack, 'Proxy');
    const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z123', zoneName: 'example.com' });
    const encryptionKey = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const site = new SpaFrontend(stack, 'Site', {
      source: SITE_DIR,
      prune: true,
      hashedAssetPaths: ['assets/*'],
      deploymentMemoryLimit: 1024,
      runtimeConfig: { model: 'claude-sonnet' },
      domain: { domainName: 'chat.example.com', alternateNames: ['www.chat.example.com'], hostedZone: zone },
      api: { proxy, pathPattern: '/api/*', readTimeout: Duration.seconds(90) },
      bucketProps: { encryption: s3.BucketEncryption.KMS, encryptionKey, bucketKeyEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
      noncurrentVersionExpiration: Duration.days(7),
      logRetention: Duration.days(90),
      priceClass: cloudfront.PriceClass.PRICE_CLASS_ALL,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2025,
      webAclArn: 'arn:aws:wafv2:us-east-1:111111111111:global/webacl/site/0123',
      geoRestriction: cloudfront.GeoRestriction.denylist('KP'),
      contentSecurityPolicy: "default-src 'self'",
      indexDocument: 'index.html',
      passthroughPrefixes: ['/.well-known/', '/auth/'],
      comment: 'chat',
    });
    expect(site.apiPathPattern).toBe('/api/*');
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('two sites with files in one stack, sharing the copy function, have no unacknowledged findings', () => {
    const stack = new Stack(new App(), 'Web');
    new SpaFrontend(stack, 'Site', { source: SITE_DIR });
    new SpaFrontend(stack, 'Admin', { source: SITE_DIR, runtimeConfig: { role: 'admin' } });
    Template.fromStack(stack).resourceCountIs('AWS::Lambda::Function', 1);
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('a site in front of an IAM-auth proxy (Origin Access Control) has no unacknowledged findings in the four packs', () => {
    const stack = new Stack(new App(), 'Web', { env: US_EAST_1 });
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { auth: ProxyAuth.iam() });
    new SpaFrontend(stack, 'Site', { source: SITE_DIR, api: { proxy } });
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });
});
