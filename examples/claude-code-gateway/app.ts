import { App, CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, ServerlessChecks } from 'cdk-nag';
import { BudgetFailureMode, ProxyAuth, ProxyGateway, ProxyWebAcl, StreamingLlmProxy } from '../../src';

/** The name developers put in ANTHROPIC_BASE_URL. */
export const GATEWAY_DOMAIN = 'llm.example.com';

/**
 * A Claude Code / Anthropic SDK gateway: developers point `ANTHROPIC_BASE_URL` at `https://llm.example.com` and use a
 * personal API key kept in Secrets Manager; Bedrock answers. CloudFront (custom domain, WAF with a per-IP rate-based
 * rule) sits in front of the streaming function URL; alarms go to the platform team's on-call address.
 */
export function buildApp(app: App = new App()): App {
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app),
  );
  // CloudFront certificates and CLOUDFRONT-scope web ACLs live in us-east-1, so the gateway stack does too.
  const stack = new Stack(app, 'ClaudeCodeGateway', {
    env: { account: '123456789012', region: 'us-east-1' },
    description: 'Claude Code / Anthropic SDK gateway in front of Amazon Bedrock',
  });

  // An existing public hosted zone, by id (no lookup at synth time).
  const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', {
    hostedZoneId: 'Z0123456789EXAMPLE',
    zoneName: 'example.com',
  });
  const certificate = new acm.Certificate(stack, 'Certificate', {
    domainName: GATEWAY_DOMAIN,
    validation: acm.CertificateValidation.fromDns(zone),
  });

  // One customer managed key for the API-key secret, the logs, the alarm topic and the function's environment.
  const key = new kms.Key(stack, 'Key', {
    description: 'Claude Code gateway: API keys, logs and alarm notifications',
    enableKeyRotation: true,
  });

  const gateway = new StreamingLlmProxy(stack, 'Gateway', {
    // Keys live in a created secret ({ "default": "<generated>" }); add one entry per developer or tool.
    // A removed key stops working within a minute.
    auth: ProxyAuth.apiKeys({ cacheTtl: Duration.minutes(1) }),
    encryptionKey: key,
    cloudFront: {
      domainNames: [GATEWAY_DOMAIN],
      certificate,
      // AWS managed rules plus a rate-based rule: one IP may send 1,000 requests in 5 minutes. Claude Code sends a few
      // requests per prompt; a runaway script hits the wall long before the Bedrock bill does.
      webAcl: ProxyWebAcl.managed({ rateLimitPerFiveMinutes: 1000 }),
    },
    // Every developer's key in the gateway table (`cdk-serverless-llm keys create --name <dev> --monthly-usd 300 …`):
    // its limits, monthly budget and spend are shared by all function instances, with the function URL kept (no VPC).
    gateway: ProxyGateway.newTable({ budgetFailureMode: BudgetFailureMode.CLOSED }),
    // The limits of keys that set none of their own, counted in the gateway table across instances.
    rateLimits: { requestsPerMinute: 120, tokensPerDay: 20_000_000 },
    alarms: {
      errorsPerFiveMinutes: 5,
      upstreamThrottlesPerFiveMinutes: 5,
      tokensPerHour: 50_000_000,
    },
    // Published for CI, the keys CLI and other stacks: /claude-code-gateway/url, /claude-code-gateway/api-key-secret-arn
    // and /claude-code-gateway/gateway-table.
    parameterPrefix: '/claude-code-gateway',
  });
  // The platform team's admin role may create, revoke and rotate keys and read spend with the CLI.
  const keyAdmin = new iam.Role(stack, 'KeyAdmin', {
    assumedBy: new iam.AccountRootPrincipal(),
    description: 'Runs cdk-serverless-llm keys and usage against the gateway table',
  });
  gateway.grantManageKeys(keyAdmin);
  for (const id of ['NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy']) {
    Validations.of(keyAdmin).acknowledge({
      id,
      reason: 'The key-admin role\'s only policy is the one grantManageKeys() writes: the gateway table, its name parameter and '
        + 'its KMS key, nothing else; kept inline so it cannot be attached to another principal.',
    });
  }
  const onCall = new sns.Subscription(stack, 'OnCallEmail', {
    topic: gateway.alarmTopic,
    protocol: sns.SubscriptionProtocol.EMAIL,
    endpoint: 'platform-oncall@example.com',
  });
  Validations.of(onCall).acknowledge({
    id: 'Serverless-SNSRedrivePolicy',
    reason: 'An e-mail notification that cannot be delivered leaves the alarm in ALARM state in CloudWatch and on the proxy ' +
      'dashboard; a dead-letter queue would hold copies of alarm state changes that nobody reads.',
  });

  // The distribution's alias records (IPv4 and IPv6).
  const target = route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(gateway.distribution!));
  new route53.ARecord(stack, 'AliasRecord', { zone, recordName: GATEWAY_DOMAIN, target });
  new route53.AaaaRecord(stack, 'AliasRecordIpv6', { zone, recordName: GATEWAY_DOMAIN, target });

  new CfnOutput(stack, 'AnthropicBaseUrl', {
    value: `https://${GATEWAY_DOMAIN}`,
    description: 'ANTHROPIC_BASE_URL for Claude Code and the Anthropic SDKs',
  });
  new CfnOutput(stack, 'ApiKeySecretArn', {
    value: gateway.apiKeySecret!.secretArn,
    description: 'Secrets Manager secret with the API keys: { "<key name>": "<key>" | "sha256:<hex>" }',
  });
  return app;
}
