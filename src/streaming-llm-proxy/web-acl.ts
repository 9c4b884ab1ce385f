import { ArnFormat, Lazy, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { OriginVerification, WebAclContext } from './internal-types';

/**
 * Options for `ProxyWebAcl.managed()`.
 */
export interface ManagedWebAclOptions {
  /**
   * Requests one client IP may send in any 5-minute window before it is blocked (10 to 2,000,000,000).
   * @default 3000
   */
  readonly rateLimitPerFiveMinutes?: number;
}

/**
 * The AWS WAF web ACL in front of an endpoint: created with managed rules, an existing one, or none.
 */
export abstract class ProxyWebAcl {
  /**
   * A web ACL with the AWS managed IP-reputation, common and known-bad-inputs rule groups, a per-IP rate-based rule
   * and logging to CloudWatch Logs with the `authorization`, `x-api-key` and `x-origin-verify` headers redacted. On a
   * REST API behind CloudFront, requests that carry CloudFront's secret origin header are rate-limited per client
   * (the first `X-Forwarded-For` address) and all others per source IP. The body-inspecting
   * rules of the common and known-bad-inputs groups only count: prompts are larger than 8 KB and routinely contain
   * source code that looks like an attack.
   */
  public static managed(options: ManagedWebAclOptions = {}): ProxyWebAcl {
    return new ManagedWebAcl(options);
  }

  /**
   * An existing web ACL, by ARN (a `CLOUDFRONT`-scope ACL from us-east-1 for `cloudFront`, a `REGIONAL` one for a
   * REST API).
   */
  public static fromArn(webAclArn: string): ProxyWebAcl {
    return new ExistingWebAcl(webAclArn);
  }

  /**
   * No web ACL. cdk-nag reports the missing WAF; nothing filters abusive clients before they reach the function.
   */
  public static none(): ProxyWebAcl {
    return new NoWebAcl();
  }

  /**
   * Whether _bind creates a web ACL (CloudFront ones must be created in us-east-1).
   *
   * @internal
   */
  public abstract readonly _creates: boolean;

  /**
   * The ARN of the web ACL to associate, creating it in `scope` when needed; undefined for none().
   *
   * @internal
   */
  public abstract _bind(scope: Construct, id: string, context: WebAclContext): string | undefined;
}

/** Body-inspecting rules that count instead of block (see ProxyWebAcl.managed). */
const COUNT_ONLY_RULES: Record<string, string[]> = {
  AWSManagedRulesCommonRuleSet: [
    'SizeRestrictions_BODY',
    'CrossSiteScripting_BODY',
    'GenericLFI_BODY',
    'GenericRFI_BODY',
    'EC2MetaDataSSRF_BODY',
  ],
  AWSManagedRulesKnownBadInputsRuleSet: ['Log4JRCE_BODY', 'JavaDeserializationRCE_BODY'],
};

class ManagedWebAcl extends ProxyWebAcl {
  public readonly _creates = true;
  private readonly rateLimit: number;

  constructor(options: ManagedWebAclOptions) {
    super();
    this.rateLimit = options.rateLimitPerFiveMinutes ?? 3000;
    if (!Number.isInteger(this.rateLimit) || this.rateLimit < 10 || this.rateLimit > 2_000_000_000) {
      throw new Error(`ProxyWebAcl.managed(): \`rateLimitPerFiveMinutes\` must be an integer from 10 to 2,000,000,000, got ${this.rateLimit}.`);
    }
  }

  public _bind(scope: Construct, id: string, context: WebAclContext): string {
    const container = new Construct(scope, id);
    const metricPrefix = Names.uniqueResourceName(container, { maxLength: 100 });
    const visibility = (name: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName: `${metricPrefix}-${name}`.slice(0, 128),
    });
    const managed = (name: string, priority: number): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ruleActionOverrides: COUNT_ONLY_RULES[name]?.map((rule) => ({ name: rule, actionToUse: { count: {} } })),
        },
      },
      visibilityConfig: visibility(name),
    });

    const rateRules = (origin: OriginVerification | undefined): wafv2.CfnWebACL.RuleProperty[] => {
      if (!origin) {
        return [{
          name: 'RateLimitPerIp',
          priority: 3,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: this.rateLimit, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('RateLimitPerIp'),
        }];
      }
      // Proven to come through CloudFront: the secret origin header matches (a dynamic reference, resolved by
      // CloudFormation). Only those requests are keyed on the client address CloudFront forwards; all others on the
      // source IP, so a direct caller cannot choose its rate-limit key with a forged X-Forwarded-For.
      const viaCloudFront: wafv2.CfnWebACL.StatementProperty = {
        byteMatchStatement: {
          fieldToMatch: { singleHeader: { Name: origin.header } },
          positionalConstraint: 'EXACTLY',
          searchString: origin.value,
          textTransformations: [{ priority: 0, type: 'NONE' }],
        },
      };
      return [
        {
          name: `RateLimitPerClientViaCloudFront-r${origin.rotation}`,
          priority: 3,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: this.rateLimit,
              aggregateKeyType: 'FORWARDED_IP',
              forwardedIpConfig: { headerName: 'X-Forwarded-For', fallbackBehavior: 'MATCH' },
              evaluationWindowSec: 300,
              scopeDownStatement: viaCloudFront,
            },
          },
          visibilityConfig: visibility('RateLimitPerClientViaCloudFront'),
        },
        {
          name: 'RateLimitPerIp',
          priority: 4,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: this.rateLimit,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
              scopeDownStatement: { notStatement: { statement: viaCloudFront } },
            },
          },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
      ];
    };

    const rules = (): wafv2.CfnWebACL.RuleProperty[] => [
      managed('AWSManagedRulesAmazonIpReputationList', 0),
      managed('AWSManagedRulesCommonRuleSet', 1),
      managed('AWSManagedRulesKnownBadInputsRuleSet', 2),
      ...rateRules(context.originVerification?.()),
    ];
    const acl = new wafv2.CfnWebACL(container, 'WebAcl', {
      scope: context.wafScope,
      defaultAction: { allow: {} },
      description: 'LLM proxy: AWS managed rules and a per-IP rate limit',
      visibilityConfig: visibility('WebAcl'),
      // Read at synth time: CloudFront (and so the origin header) may be added after the ACL.
      rules: context.originVerification ? Lazy.any({ produce: rules }) : rules(),
    });

    // WAF delivers logs only to log groups named aws-waf-logs-*; API keys and tokens must never reach the logs.
    const logGroup = new logs.LogGroup(container, 'Logs', {
      logGroupName: `aws-waf-logs-${Names.uniqueResourceName(container, { maxLength: 400 })}`,
      retention: context.logRetention,
      encryptionKey: context.encryptionKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const logGroupArn = Stack.of(container).formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: logGroup.logGroupName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    new wafv2.CfnLoggingConfiguration(container, 'Logging', {
      resourceArn: acl.attrArn,
      logDestinationConfigs: [logGroupArn],
      redactedFields: [
        { singleHeader: { Name: 'authorization' } },
        { singleHeader: { Name: 'x-api-key' } },
        { singleHeader: { Name: 'x-origin-verify' } },
      ],
    });
    return acl.attrArn;
  }
}

class ExistingWebAcl extends ProxyWebAcl {
  public readonly _creates = false;

  constructor(private readonly arn: string) {
    super();
    if (!Token.isUnresolved(arn) && !/^arn:[^:]+:wafv2:[^:]*:\d{12}:(global|regional)\/webacl\/.+/.test(arn)) {
      throw new Error(`ProxyWebAcl.fromArn(): '${arn}' is not a WAFv2 web ACL ARN (arn:aws:wafv2:<region>:<account>:global|regional/webacl/...).`);
    }
  }

  public _bind(_scope: Construct, _id: string, context: WebAclContext): string {
    if (!Token.isUnresolved(this.arn)) {
      const global = this.arn.includes(':global/webacl/');
      if (context.wafScope === 'CLOUDFRONT' && !global) {
        throw new Error(`${context.propName ?? 'cloudFront.webAcl'}: a CloudFront distribution needs a CLOUDFRONT-scope web ACL (arn:...:global/webacl/...), created in us-east-1.`);
      }
      if (context.wafScope === 'REGIONAL' && global) {
        throw new Error('ProxyEndpoint.restApi({ webAcl }): a REST API stage needs a REGIONAL web ACL (arn:...:regional/webacl/...) from its own region.');
      }
    }
    return this.arn;
  }
}

class NoWebAcl extends ProxyWebAcl {
  public readonly _creates = false;

  public _bind(): undefined {
    return undefined;
  }
}
