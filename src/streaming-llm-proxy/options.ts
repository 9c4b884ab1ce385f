import { Duration } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ProxyWebAcl } from './web-acl';

/**
 * Where requests are answered (the runtime's `PROXY_UPSTREAM`).
 */
export enum ProxyUpstream {
  /** Amazon Bedrock (and any OPENAI_COMPATIBLE catalogue entries). */
  BEDROCK = 'bedrock',
  /** The embedded deterministic mock model, for every model name; the function gets no Bedrock permissions. */
  MOCK = 'mock',
}

/**
 * How `claude-*` model names that are not in the catalogue map to Bedrock ids (the runtime's
 * `PROXY_CLAUDE_FALLBACK`): `<prefix>.anthropic.<name>-v1:0`.
 */
export enum ClaudeFallback {
  /** The `global.` cross-region inference profile. */
  GLOBAL = 'global',
  /** The `us.` cross-region inference profile. */
  US = 'us',
  /** The `eu.` cross-region inference profile. */
  EU = 'eu',
  /** The `apac.` cross-region inference profile. */
  APAC = 'apac',
  /** The foundation model in the function's region, without an inference profile. */
  DIRECT = 'direct',
  /** Unknown names get 404; the function may call only the catalogue's models. */
  NONE = 'none',
}

/**
 * The runtime's log level (`POWERTOOLS_LOG_LEVEL`).
 */
export enum ProxyLogLevel {
  /** Everything, including per-request debug lines (never bodies or keys). */
  DEBUG = 'DEBUG',
  /** One line per request. */
  INFO = 'INFO',
  /** Warnings and errors. */
  WARN = 'WARN',
  /** Errors only. */
  ERROR = 'ERROR',
}

/**
 * What the rate limiter does when its shared store cannot be reached (the runtime's `PROXY_LIMIT_FAILURE_MODE`).
 */
export enum RateLimitFailureMode {
  /** Admit the request and emit the `RateLimiterUnavailable` metric. */
  OPEN = 'open',
  /** Refuse the request with 503. */
  CLOSED = 'closed',
}

/**
 * Per-identity limits enforced by the runtime (an identity is an API key name, a JWT subject or an IAM caller).
 */
export interface ProxyRateLimits {
  /**
   * Requests admitted per rolling minute.
   * @default unlimited
   */
  readonly requestsPerMinute?: number;
  /**
   * Input + output tokens per rolling minute.
   * @default unlimited
   */
  readonly tokensPerMinute?: number;
  /**
   * Input + output tokens per UTC day.
   * @default unlimited
   */
  readonly tokensPerDay?: number;
}

/**
 * Alarm thresholds and where alarms notify.
 */
export interface ProxyAlarmOptions {
  /**
   * The SNS topic every alarm notifies (on ALARM and OK).
   * @default a topic is created (`alarmTopic`), encrypted with `encryptionKey` when one is given
   */
  readonly topic?: sns.ITopic;
  /**
   * Function errors (crashes and timeouts) in 5 minutes that raise the errors alarm.
   * @default 5
   */
  readonly errorsPerFiveMinutes?: number;
  /**
   * Throttled invocations in 5 minutes that raise the throttles alarm.
   * @default 1
   */
  readonly throttlesPerFiveMinutes?: number;
  /**
   * p99 function duration over 5 minutes that raises the duration alarm.
   * @default 90% of the function timeout
   */
  readonly p99Duration?: Duration;
  /**
   * Bedrock throttling responses (429) in 5 minutes that raise the upstream-throttles alarm.
   * @default 10
   */
  readonly upstreamThrottlesPerFiveMinutes?: number;
  /**
   * Input + output tokens in one hour that raise the token-usage alarm.
   * @default no token-usage alarm (token usage is on the dashboard)
   */
  readonly tokensPerHour?: number;
}

/**
 * A CloudFront distribution in front of the endpoint.
 */
export interface ProxyCloudFrontOptions {
  /**
   * Custom domain names for the distribution; needs `certificate`.
   * @default the distribution's cloudfront.net domain
   */
  readonly domainNames?: string[];
  /**
   * ACM certificate for `domainNames`; must be in us-east-1.
   * @default none (required with `domainNames`)
   */
  readonly certificate?: acm.ICertificate;
  /**
   * The CLOUDFRONT-scope WAF web ACL. A created one requires the stack to be in us-east-1; for stacks elsewhere,
   * create one in a us-east-1 stack and pass `ProxyWebAcl.fromArn()`.
   * @default ProxyWebAcl.managed()
   */
  readonly webAcl?: ProxyWebAcl;
  /**
   * Bucket for CloudFront standard access logs (ACLs must be enabled on it).
   * @default a private, versioned, TLS-only bucket whose logs expire with the proxy's `logRetention`
   */
  readonly logBucket?: s3.IBucket;
  /**
   * Countries allowed or denied.
   * @default no geographic restriction
   */
  readonly geoRestriction?: cloudfront.GeoRestriction;
  /**
   * Edge locations used.
   * @default PriceClass.PRICE_CLASS_ALL
   */
  readonly priceClass?: cloudfront.PriceClass;
}
