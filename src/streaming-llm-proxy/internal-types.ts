import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { ProxyAuthMode } from './auth-mode';

// Types shared between the construct and its option classes; not part of the public API (not re-exported).

/**
 * What an auth mode contributes to the proxy once bound.
 *
 * @internal
 */
export interface BoundProxyAuth {
  readonly mode: ProxyAuthMode;
  /** Runtime environment (never a secret value). */
  readonly environment: Record<string, string>;
  /** The API-key secret the function may read (api-keys mode). */
  readonly secret?: secretsmanager.ISecret;
  /** True when the endpoint itself authenticates the caller (SigV4). */
  readonly endpointIam: boolean;
  /** Where the runtime fetches the JWT signing keys (jwt mode). */
  readonly jwksUri?: string;
}

/**
 * What a gateway table contributes to the proxy once bound.
 *
 * @internal
 */
export interface BoundProxyGateway {
  readonly table: dynamodb.ITable;
  /** True when the table was created by `ProxyGateway.newTable()`. */
  readonly created: boolean;
  /** PROXY_GATEWAY_TABLE, PROXY_BUDGET_FAILURE_MODE and PROXY_GATEWAY_CACHE_TTL_SECONDS. */
  readonly environment: Record<string, string>;
  /** The SSM parameter name, when set by the user. */
  readonly parameterName?: string;
  /** Whether to add a DynamoDB gateway endpoint to the function's VPC (undefined: the construct decides). */
  readonly dynamoDbEndpoint?: boolean;
  /** Team budgets to alarm on (validated; the shape of gateway.ts TeamBudget, not imported to keep gateway.ts -> here one-way). */
  readonly teamBudgets: ReadonlyArray<{ readonly team: string; readonly monthlyUsd: number; readonly alarmAtPercent?: number }>;
}

/**
 * Settings the proxy passes when it creates a web ACL.
 *
 * @internal
 */
export interface WebAclContext {
  readonly wafScope: 'REGIONAL' | 'CLOUDFRONT';
  readonly logRetention: logs.RetentionDays;
  readonly encryptionKey?: kms.IKey;
  /** The prop that holds the ACL, for error messages (default `cloudFront.webAcl` / `ProxyEndpoint.restApi({ webAcl })`). */
  readonly propName?: string;
  /**
   * For a REGIONAL ACL behind CloudFront: the origin header that proves a request came through CloudFront, read at
   * synth time (CloudFront may be added after the ACL is created). Its requests are rate-limited by FORWARDED_IP.
   */
  readonly originVerification?: () => OriginVerification | undefined;
}

/**
 * The secret origin header CloudFront adds to requests to the proxy.
 *
 * @internal
 */
export interface OriginVerification {
  readonly header: string;
  /** A dynamic reference to the secret, never its value. */
  readonly value: string;
  readonly rotation: number;
}

