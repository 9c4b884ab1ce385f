import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * A shared store for conversation sessions and rate-limit counters that the proxy function connects to
 * (implemented by `VpcRedisSessions`).
 *
 * When `StreamingLlmProxy` gets a session store it:
 * - attaches the function to `vpc` (in `vpcSubnets`), which also makes the REST API the default endpoint, since
 *   function URLs cannot stream from a VPC-attached function;
 * - sets `PROXY_SESSIONS=redis` and `PROXY_LIMIT_STORE=redis`;
 * - calls `grantConnect(fn)` once, with the proxy function.
 *
 * An implementation's `grantConnect` must make the function able to reach and authenticate to the store: allow its
 * security groups (`fn.connections`) into the store, grant any IAM connect permission or secret read, and set the
 * runtime's `REDIS_HOST`, `REDIS_PORT`, `REDIS_TLS`, `REDIS_AUTH_MODE` and `REDIS_USER` + `REDIS_CACHE_NAME` (IAM auth)
 * or `REDIS_TOKEN_SECRET_ARN` (token auth) with `fn.addEnvironment` — never a password value
 * (see docs/runtime-contract.md).
 */
export interface IProxySessionStore {
  /** The VPC the store lives in; the proxy function is attached to it. */
  readonly vpc: ec2.IVpc;

  /**
   * The subnets for functions that connect to the store (private, with a route to Bedrock through NAT or VPC
   * endpoints).
   * @default the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Lets `fn` reach and authenticate to the store, and tells the runtime where it is (REDIS_* environment).
   */
  grantConnect(fn: lambda.Function): void;
}
