import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { ProxyWebAcl } from './web-acl';

/**
 * The kind of HTTP endpoint in front of the proxy function.
 */
export enum ProxyEndpointType {
  /** A Lambda function URL with `InvokeMode.RESPONSE_STREAM`. */
  FUNCTION_URL = 'function-url',
  /** An API Gateway REST API whose Lambda proxy integration uses `ResponseTransferMode.STREAM`. */
  REST_API = 'rest-api',
}

/**
 * A usage plan on the REST API: quotas and throttling per API Gateway API key.
 */
export interface ProxyUsagePlanOptions {
  /**
   * Requests each API Gateway key may make per period.
   * @default no quota
   */
  readonly quota?: apigateway.QuotaSettings;
  /**
   * Request rate and burst for each API Gateway key.
   * @default the stage's throttling
   */
  readonly throttle?: apigateway.ThrottleSettings;
}

/**
 * Options for `ProxyEndpoint.restApi()`.
 */
export interface RestApiEndpointOptions {
  /**
   * The stage name, which is the first path segment of the URL.
   * @default 'prod'
   */
  readonly stageName?: string;
  /**
   * Steady-state requests per second for the whole stage.
   * @default 50
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst of requests for the whole stage.
   * @default 100
   */
  readonly throttlingBurstLimit?: number;
  /**
   * A usage plan; API Gateway then requires an API Gateway API key in the `x-api-key` header on every request.
   * Anthropic clients send their proxy key in that header, so create the API Gateway keys with the same values as the
   * proxy's keys (or use JWT auth).
   * @default no usage plan and no API Gateway API keys
   */
  readonly usagePlan?: ProxyUsagePlanOptions;
  /**
   * The regional AWS WAF web ACL associated with the stage.
   * @default ProxyWebAcl.managed()
   */
  readonly webAcl?: ProxyWebAcl;
  /**
   * Create the account-level role that lets API Gateway write execution logs (one per account and region; it is
   * retained when the stack is deleted, since other APIs rely on it). Set false when the account already has one.
   * @default true
   */
  readonly cloudWatchRole?: boolean;
}

/**
 * How the proxy is exposed: a Lambda function URL (the default) or an API Gateway REST API, both streaming.
 */
export abstract class ProxyEndpoint {
  /**
   * A function URL on the `live` alias with `InvokeMode.RESPONSE_STREAM`: no extra cost or limits beyond Lambda.
   * Function URLs cannot stream from a VPC-attached function.
   */
  public static functionUrl(): ProxyEndpoint {
    return new FunctionUrlEndpoint();
  }

  /**
   * A regional API Gateway REST API (`{proxy+}` to the `live` alias, `ResponseTransferMode.STREAM`) with access logs,
   * execution logs, X-Ray, stage throttling, a WAF web ACL and optionally a usage plan. Streams from VPC-attached
   * functions for up to 15 minutes.
   */
  public static restApi(options: RestApiEndpointOptions = {}): ProxyEndpoint {
    return new RestApiEndpoint(options);
  }

  /** The endpoint kind. */
  public abstract readonly type: ProxyEndpointType;

  /** @internal */
  public abstract readonly _restApiOptions?: RestApiEndpointOptions;
}

class FunctionUrlEndpoint extends ProxyEndpoint {
  public readonly type = ProxyEndpointType.FUNCTION_URL;
  public readonly _restApiOptions = undefined;
}

class RestApiEndpoint extends ProxyEndpoint {
  public readonly type = ProxyEndpointType.REST_API;

  constructor(public readonly _restApiOptions: RestApiEndpointOptions) {
    super();
    const { stageName, throttlingRateLimit, throttlingBurstLimit } = _restApiOptions;
    if (stageName !== undefined && !/^[A-Za-z0-9_]{1,128}$/.test(stageName)) {
      throw new Error(`ProxyEndpoint.restApi(): \`stageName\` may contain only letters, digits and '_', got '${stageName}'.`);
    }
    if (throttlingRateLimit !== undefined && !(throttlingRateLimit > 0)) {
      throw new Error('ProxyEndpoint.restApi(): `throttlingRateLimit` must be a positive number of requests per second.');
    }
    if (throttlingBurstLimit !== undefined && !(Number.isInteger(throttlingBurstLimit) && throttlingBurstLimit > 0)) {
      throw new Error('ProxyEndpoint.restApi(): `throttlingBurstLimit` must be a positive integer.');
    }
  }
}
