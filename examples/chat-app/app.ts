import * as path from 'path';
import { App, CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, ServerlessChecks } from 'cdk-nag';
import {
  CacheAuth, CacheEngine, GithubOidcDeployer, ProxyEndpoint, SpaFrontend, StreamingLlmProxy, TrustFilter, VpcRedisSessions,
} from '../../src';

/** The built chat page (examples/chat-web/web: plain HTML, CSS and JS, no build step). */
export const CHAT_WEB_DIR = path.join(__dirname, '..', 'chat-web', 'web');

/**
 * A team chat product: the chat page on `https://chat.example.com` (private S3 + CloudFront), `/api/*` on the same
 * origin to a VPC-attached proxy that keeps conversations and rate limits in ElastiCache, and a GitHub Actions role
 * that publishes the page and ships new proxy code from the repository's `main` branch.
 */
export function buildApp(app: App = new App()): App {
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app),
  );
  const stack = new Stack(app, 'ChatApp', {
    env: { account: '123456789012', region: 'us-east-1' },
    description: 'Chat page on CloudFront with a streaming Bedrock proxy and Redis-backed sessions',
  });
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', {
    hostedZoneId: 'Z0123456789EXAMPLE',
    zoneName: 'example.com',
  });

  // Conversations (x-session-id) and per-key limits: Valkey 8 with IAM auth, Multi-AZ, in a new VPC without NAT
  // (interface endpoints for Bedrock, Secrets Manager, STS, CloudWatch and X-Ray).
  const sessions = new VpcRedisSessions(stack, 'Sessions', {
    engine: CacheEngine.valkey('8.0'),
    auth: CacheAuth.iam(),
    replicas: 1,
  });

  // VPC-attached, so the proxy is served by API Gateway REST response streaming (function URLs cannot stream from a VPC).
  const proxy = new StreamingLlmProxy(stack, 'Proxy', {
    sessions,
    endpoint: ProxyEndpoint.restApi({ throttlingRateLimit: 20, throttlingBurstLimit: 40 }),
    rateLimits: { requestsPerMinute: 20, tokensPerDay: 1_000_000 },
    sessionTtl: Duration.hours(12),
    alarms: { tokensPerHour: 5_000_000 },
  });

  const site = new SpaFrontend(stack, 'Site', {
    source: CHAT_WEB_DIR,
    domain: { domainName: 'chat.example.com', alternateNames: ['www.chat.example.com'], hostedZone },
    api: { proxy, pathPattern: '/api/*' },
    // Read by the page at start-up (/config.json); apiBaseUrl ("/api") is added by SpaFrontend.
    runtimeConfig: { title: 'Example chat', protocol: 'anthropic', model: 'claude-sonnet-4-6', maxTokens: '2048' },
  });

  // CI on `main`: upload a rebuilt page and ship new proxy code (publish a version, move the `live` alias).
  const deployer = new GithubOidcDeployer(stack, 'Deployer', {
    repository: 'example-org/chat-app',
    filters: [TrustFilter.branch('main')],
  });
  deployer.grantAssetDeploy(site.bucket, site.distribution);
  deployer.grantLambdaDeploy(proxy.function);

  new CfnOutput(stack, 'SiteUrl', { value: site.url });
  new CfnOutput(stack, 'ApiKeySecretArn', {
    value: proxy.apiKeySecret!.secretArn,
    description: 'API keys of the chat users: { "<name>": "<key>" | "sha256:<hex>" }; users paste theirs into the page',
  });
  new CfnOutput(stack, 'SiteBucket', { value: site.bucket.bucketName });
  new CfnOutput(stack, 'DistributionId', { value: site.distribution.distributionId });
  new CfnOutput(stack, 'ProxyFunctionName', { value: proxy.function.functionName });
  return app;
}
