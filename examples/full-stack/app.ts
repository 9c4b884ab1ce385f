// All four constructs in one app: a chat page on CloudFront whose /api/* streams from a VPC-attached Bedrock proxy with
// sessions and rate limits in ElastiCache, deployed by GitHub Actions. The region below is the README's headline
// example (test/examples/readme.test.ts keeps the two equal); examples/python/full_stack and examples/java/full-stack are
// the same app in Python and Java, and test/bindings/{python,java}-full-stack.sh check that they synthesize the same
// resources.
// #region readme
import * as path from 'path';
import { App, CfnOutput, Stack, Validations } from 'aws-cdk-lib';
import { HostedZone } from 'aws-cdk-lib/aws-route53';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, ServerlessChecks } from 'cdk-nag';
import { GithubOidcDeployer, SpaFrontend, StreamingLlmProxy, TrustFilter, VpcRedisSessions } from '../../src';

export function buildApp(app: App = new App()): App {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app));
  const stack = new Stack(app, 'FullStack', { env: { account: '123456789012', region: 'us-east-1' } });
  const hostedZone = HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789EXAMPLE', zoneName: 'example.com' });

  // Valkey (Multi-AZ, TLS, IAM auth) in a new VPC, for sessions and rate-limit counters.
  const sessions = new VpcRedisSessions(stack, 'Sessions');
  // Anthropic and OpenAI APIs on Bedrock with API keys; in the VPC, so served by API Gateway REST response streaming.
  const proxy = new StreamingLlmProxy(stack, 'Proxy', { sessions, rateLimits: { requestsPerMinute: 60, tokensPerDay: 2_000_000 } });
  // The chat page on CloudFront with a certificate and DNS records, and /api/* streamed from the proxy.
  const site = new SpaFrontend(stack, 'Site', {
    source: path.join(__dirname, '..', 'chat-web', 'web'),
    domain: { domainName: 'chat.example.com', hostedZone },
    api: { proxy },
  });
  // GitHub Actions in the `production` environment: cdk deploy, upload the page, ship new proxy code.
  const deployer = new GithubOidcDeployer(stack, 'Deployer', { repository: 'example-org/llm-chat', filters: [TrustFilter.environment('production')] });
  deployer.grantCdkDeploy();
  deployer.grantAssetDeploy(site.bucket, site.distribution);
  deployer.grantLambdaDeploy(proxy.function);
  new CfnOutput(stack, 'SiteUrl', { value: site.url });
  return app;
}
// #endregion readme
