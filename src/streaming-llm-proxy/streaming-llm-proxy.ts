import { Annotations, Aws, CfnOutput, Duration, Names, RemovalPolicy, Size, Stack, Token } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { ProxyAuth, ProxyAuthMode } from './auth';
import {
  acknowledgeBatchInferenceFindings, BatchStores, BatchWorker, batchAlarmSpecs, batchObjectsFindingId, batchWidgets, createBatchStores,
  createBatchWorker, grantBatchInference, grantProxyBatches, validateBatchInferenceModels,
} from './batch-resources';
import { ProxyBatchesOptions } from './batches';
import { bedrockResourceArns, bedrockStatement, embeddingResourceArns, embeddingStatement } from './bedrock-policy';
import { claudeCatalogueNames, DEFAULT_CATALOGUE_TARGETS, DEFAULT_EMBEDDING_TARGETS, toModelEntry, validateModels } from './catalogue';
import { ProxyEndpoint, ProxyEndpointType, RestApiEndpointOptions } from './endpoint';
import {
  LAMBDA_ENVIRONMENT_LIMIT_BYTES, environmentSize, environmentTooLargeMessage, resolvedEnvironmentSize,
} from './environment';
import { ProxyGateway } from './gateway';
import { BoundProxyAuth, BoundProxyGateway } from './internal-types';
import { ProxyModel } from './models';
import {
  ClaudeFallback, ProxyAlarmOptions, ProxyCloudFrontOptions, ProxyLogLevel, ProxyRateLimits, ProxyUpstream,
  RateLimitFailureMode,
} from './options';
import { IProxySessionStore } from './session-store';
import { ProxyWebAcl } from './web-acl';
import { bundledCode } from '../core/assets';
import { forwardedHostFunction } from '../core/forwarded-host';
import { acknowledgeNag } from '../core/nag';

/** Lambda's (and so both endpoints') longest invocation. */
const MAX_TIMEOUT = Duration.minutes(15);
/** Lambda's synchronous request payload limit. */
const MAX_REQUEST_BYTES = 6 * 1024 * 1024;
/** CloudFront's default origin read timeout quota is 120 s; the runtime pings every 10 s while the model is silent. */
const ORIGIN_READ_TIMEOUT = Duration.seconds(60);
const ORIGIN_KEEPALIVE_TIMEOUT = Duration.seconds(60);
/** Environment variables the construct owns; `environment` may not set them. */
const MANAGED_ENV_PREFIXES = ['PROXY_', 'POWERTOOLS_', 'REDIS_'];
/** The header CloudFront adds to every request it forwards to the endpoint (an origin custom header). */
const ORIGIN_VERIFY_HEADER = 'x-origin-verify';
/** Carries `originSecretRotation`, so that bumping it changes every distribution that uses the origin. */
const ORIGIN_ROTATION_HEADER = 'x-origin-verify-rotation';
/**
 * What the proxy function does on the gateway table (docs/gateway.md). IAM has no TransactWriteItems action: each item
 * of a transaction is authorized as its own PutItem / UpdateItem / ConditionCheckItem — the charge's idempotency marker
 * is a Put, so PutItem is needed.
 */
const GATEWAY_RUNTIME_ACTIONS = [
  'dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem',
];
/** What `cdk-serverless-llm keys` and `usage` do on the gateway table. */
const GATEWAY_ADMIN_ACTIONS = [
  'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:Scan',
  'dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DescribeTable',
];
/** What reading and writing items of a table encrypted with a customer managed key needs on the key. */
const GATEWAY_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'];
/**
 * What the batch worker reads of the proxy's environment: the catalogue and upstream, the gateway table (to charge
 * spend), metrics and the batch settings; never the auth settings (the worker has no endpoint).
 */
const BATCH_WORKER_ENV = [
  'PROXY_UPSTREAM', 'PROXY_MODELS', 'PROXY_CLAUDE_FALLBACK', 'PROXY_FAILOVER_REGION', 'PROXY_EXTRA_BETAS',
  'PROXY_GATEWAY_TABLE', 'PROXY_BUDGET_FAILURE_MODE', 'PROXY_GATEWAY_CACHE_TTL_SECONDS',
  'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_LOG_LEVEL',
];
/** Headers browsers may send to the proxy (CORS). */
const CORS_HEADERS = ['content-type', 'authorization', 'x-api-key', 'anthropic-version', 'anthropic-beta', 'x-session-id'];

/**
 * What another construct (e.g. `SpaFrontend`'s `api: { proxy }` route) needs to send traffic to a proxy.
 */
export interface IStreamingLlmProxyEndpoint {
  /** The URL clients use: the CloudFront domain when `cloudFront` is set, else the endpoint's own URL (ends with `/`). */
  readonly url: string;
  /** The endpoint's own URL (function URL or REST API stage URL), bypassing any CloudFront distribution of the proxy. */
  readonly endpointUrl: string;
  /** Which endpoint serves the proxy. */
  readonly endpointType: ProxyEndpointType;
  /** How callers authenticate. */
  readonly authMode: ProxyAuthMode;
  /** The function URL, when `endpointType` is FUNCTION_URL. */
  readonly functionUrl?: lambda.FunctionUrl;
  /** The REST API, when `endpointType` is REST_API. */
  readonly restApi?: apigateway.RestApi;

  /**
   * A CloudFront origin for the endpoint with streaming-friendly timeouts (use it with caching disabled and the
   * `ALL_VIEWER_EXCEPT_HOST_HEADER` origin request policy). Any path prefix of the behavior (e.g. `/api`) is
   * stripped by the runtime. Unless `restrictToCloudFront` is false, the origin adds the proxy's secret origin header
   * and the proxy from then on refuses requests without it (direct calls to the endpoint get 403). Give the behavior a
   * viewer-request function that sets `x-forwarded-host` to the viewer's Host (as `cloudFront` and `SpaFrontend` do),
   * or URLs the proxy returns (a batch's `results_url`) name the endpoint, which refuses them.
   */
  createCloudFrontOrigin(options?: ProxyCloudFrontOriginOptions): cloudfront.IOrigin;
}

/**
 * Options for `createCloudFrontOrigin()`.
 */
export interface ProxyCloudFrontOriginOptions {
  /**
   * How long CloudFront waits for the first byte and between bytes of a streamed response (above 60 seconds needs a
   * CloudFront quota increase).
   * @default Duration.seconds(60)
   */
  readonly readTimeout?: Duration;
}

/**
 * Properties of `StreamingLlmProxy`. Everything is optional: `new StreamingLlmProxy(this, 'Proxy')` deploys a
 * secure, working proxy.
 */
export interface StreamingLlmProxyProps {
  /**
   * How callers authenticate.
   * @default ProxyAuth.apiKeys(): a Secrets Manager secret holding one generated key is created
   */
  readonly auth?: ProxyAuth;
  /**
   * How the proxy is exposed.
   * @default ProxyEndpoint.functionUrl(), or ProxyEndpoint.restApi() when the function is in a VPC (`vpc` or `sessions`)
   */
  readonly endpoint?: ProxyEndpoint;
  /**
   * Catalogue entries added to the runtime's default catalogue (an entry with an existing name replaces it).
   * @default the default catalogue only
   */
  readonly models?: ProxyModel[];
  /**
   * Serve only `models`, without the default catalogue (the IAM policy then covers only `models`).
   * @default false
   */
  readonly replaceDefaultModels?: boolean;
  /**
   * How `claude-*` names that are not in the catalogue map to Bedrock ids; the function may invoke
   * `anthropic.claude-*` models and profiles unless NONE.
   * @default ClaudeFallback.GLOBAL
   */
  readonly claudeFallback?: ClaudeFallback;
  /**
   * Where requests are answered.
   * @default ProxyUpstream.BEDROCK
   */
  readonly upstream?: ProxyUpstream;
  /**
   * Second Bedrock region tried on 429/5xx before the first byte, for models without their own `failover`.
   * @default no failover region
   */
  readonly failoverRegion?: string;
  /**
   * Largest request body accepted; larger ones get 413 (at most 6 MB, Lambda's request payload limit).
   * @default Size.mebibytes(6)
   */
  readonly maxRequestBodySize?: Size;
  /**
   * Per-identity request and token limits.
   * @default no limits
   */
  readonly rateLimits?: ProxyRateLimits;
  /**
   * What the limiter does when the shared store (`sessions` or `gateway`) is unreachable.
   * @default RateLimitFailureMode.OPEN
   */
  readonly rateLimitFailureMode?: RateLimitFailureMode;
  /**
   * Shared store for conversation sessions and rate-limit counters (e.g. `VpcRedisSessions`); attaches the function
   * to the store's VPC, which makes the REST API the default endpoint.
   * @default no sessions; limit counters are kept per function instance
   */
  readonly sessions?: IProxySessionStore;
  /**
   * A DynamoDB gateway table for virtual API keys (with per-key models, limits and budgets), rate-limit counters shared
   * by all function instances, and spend per key, team and model; managed with `cdk-serverless-llm keys` and `usage`
   * (see `grantManageKeys()`). Works with a function URL (no VPC needed). Virtual keys need `ProxyAuth.apiKeys()` (the
   * key secret stays usable beside the table); with JWT or IAM auth the table keeps limits and spend per caller
   * identity, and with no auth every caller shares one identity. Limit counters stay in Redis when `sessions` is set.
   * @default no gateway table: keys only from the Secrets Manager secret, limit counters per function instance
   */
  readonly gateway?: ProxyGateway;
  /**
   * The Anthropic Message Batches API (`/v1/messages/batches`, the SDKs' `client.messages.batches.*`): one SQS message
   * per request (KMS, dead-letter queue), a worker Lambda with bounded concurrency that calls the model and writes each
   * result to S3 (KMS, TLS only, expiring after 29 days), batch state in DynamoDB (the gateway table when `gateway` is
   * set), alarms and dashboard widgets (docs/batches.md).
   * @default no batches: the batch endpoints answer 404
   */
  readonly batches?: ProxyBatchesOptions;
  /**
   * How long an idle session is kept.
   * @default Duration.days(1)
   */
  readonly sessionTtl?: Duration;
  /**
   * Largest stored conversation; the oldest turns are dropped first.
   * @default Size.mebibytes(1)
   */
  readonly sessionMaxSize?: Size;
  /**
   * Origins allowed to call the proxy from a browser (CORS); the function URL answers CORS itself, the REST API
   * through the runtime.
   * @default no cross-origin browser access
   */
  readonly corsAllowOrigins?: string[];
  /**
   * Anthropic beta flags allowed in addition to the runtime's built-in allowlist.
   * @default only the built-in allowlist
   */
  readonly extraBetas?: string[];
  /**
   * Keep-alive `ping` event after this much upstream silence (keeps CloudFront and clients from timing out).
   * @default Duration.seconds(10)
   */
  readonly pingInterval?: Duration;
  /**
   * Memory of the function; CPU scales with it.
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * Longest request, including the whole stream (at most 15 minutes, the limit of Lambda and of both endpoints).
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;
  /**
   * Concurrent executions reserved for (and capping) the function.
   * @default no reservation: the function shares the account's unreserved concurrency
   */
  readonly reservedConcurrency?: number;
  /**
   * Provisioned concurrency on the `live` alias, for teams that cannot accept a cold start (billed while idle).
   * @default no provisioned concurrency
   */
  readonly provisionedConcurrency?: number;
  /**
   * VPC for the function (set implicitly by `sessions`). Needs a route to Bedrock and Secrets Manager (NAT or VPC
   * endpoints).
   * @default not in a VPC, or the session store's VPC
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Subnets for the function in `vpc`.
   * @default the session store's subnets, or the VPC's private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups for the function in `vpc`.
   * @default a security group that allows all outbound traffic
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * Customer managed KMS key for the log groups, the created API-key secret, the alarm topic, the function's
   * environment and (with CloudFront) the access-log bucket. Its key policy must allow CloudWatch Logs and
   * CloudWatch alarms (added automatically for a key created in the same app).
   * @default AWS managed keys
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * How long function, access and WAF logs are kept.
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The runtime's log level.
   * @default ProxyLogLevel.INFO
   */
  readonly logLevel?: ProxyLogLevel;
  /**
   * The `service` dimension of the proxy's metrics and its logger name.
   * @default a name unique to this construct, so two proxies in one account never share metrics
   */
  readonly serviceName?: string;
  /**
   * CloudWatch namespace of the proxy's metrics.
   * @default 'ServerlessLlm'
   */
  readonly metricsNamespace?: string;
  /**
   * Alarm thresholds and notification topic.
   * @default alarms on errors, throttles, p99 duration and upstream throttles, notifying a created topic
   */
  readonly alarms?: ProxyAlarmOptions;
  /**
   * Create a CloudWatch dashboard of requests, errors, latency and token usage.
   * @default true
   */
  readonly dashboard?: boolean;
  /**
   * A CloudFront distribution in front of the endpoint (custom domain, WAF).
   * @default no distribution
   */
  readonly cloudFront?: ProxyCloudFrontOptions;
  /**
   * When CloudFront is in front of the endpoint (`cloudFront`, or a `SpaFrontend` route, i.e. any
   * `createCloudFrontOrigin()`), CloudFront adds a secret origin header (`x-origin-verify`, from the created
   * `originSecret` in Secrets Manager) and the runtime refuses every request without it with 403, so the function URL
   * or stage URL cannot be used to go around the distribution's web ACL and geo restriction. Set false only when
   * clients must also call the endpoint directly.
   * @default true
   */
  readonly restrictToCloudFront?: boolean;
  /**
   * Change this value (e.g. 1, 2, ...) after rotating `originSecret` (docs/runbook.md): the next deployment then
   * updates every distribution and web ACL that holds the secret, which makes CloudFormation read its new value.
   * @default 0
   */
  readonly originSecretRotation?: number;
  /**
   * SSM parameter path prefix (e.g. `/llm-proxy/prod`) under which `url` and, with API keys, `api-key-secret-arn`
   * are published for other stacks and CI.
   * @default no parameters
   */
  readonly parameterPrefix?: string;
  /**
   * Extra environment variables, e.g. `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` for a VPC endpoint. Never put secret values
   * here; variables the construct manages (`PROXY_*`, `POWERTOOLS_*`, `REDIS_*`) are set through props.
   * @default none
   */
  readonly environment?: { [name: string]: string };
}

/**
 * Options for `StreamingLlmProxy.metricKeyEstimatedCost()`.
 */
export interface KeyMetricOptions extends cloudwatch.MetricOptions {
  /**
   * The API key's name (the `key` dimension).
   * @default 'other' (every caller that is not an API key)
   */
  readonly key?: string;
  /**
   * A model id, for the spend of the key on that model only.
   * @default all models
   */
  readonly model?: string;
}

/**
 * A streaming HTTP API in front of Amazon Bedrock that speaks the Anthropic Messages API and the OpenAI Chat
 * Completions API: Lambda (Node.js 24, ARM64, X-Ray, `live` alias) behind a streaming function URL or API Gateway
 * REST API, with API keys in Secrets Manager, least-privilege Bedrock access, alarms, a dashboard and optional
 * CloudFront + WAF.
 */
export class StreamingLlmProxy extends Construct implements IStreamingLlmProxyEndpoint {
  /** The proxy function. */
  public readonly function: lambda.Function;
  /** The `live` alias, published on every code or configuration change; the endpoint invokes it. */
  public readonly alias: lambda.Alias;
  /** The function's execution role. */
  public readonly role: iam.Role;
  /** The function's log group. */
  public readonly logGroup: logs.LogGroup;
  /** The URL clients use (`ANTHROPIC_BASE_URL`, the OpenAI SDK's `baseURL` + `/v1`). */
  public readonly url: string;
  /** The endpoint's own URL, bypassing the proxy's CloudFront distribution if any. */
  public readonly endpointUrl: string;
  /** Which endpoint serves the proxy. */
  public readonly endpointType: ProxyEndpointType;
  /** How callers authenticate. */
  public readonly authMode: ProxyAuthMode;
  /** The secret holding the API keys (API-key auth only). */
  public readonly apiKeySecret?: secretsmanager.ISecret;
  /** The function URL (FUNCTION_URL endpoint only). */
  public readonly functionUrl?: lambda.FunctionUrl;
  /** The REST API (REST_API endpoint only). */
  public readonly restApi?: apigateway.RestApi;
  /** The REST API's usage plan (when `usagePlan` is set). */
  public readonly usagePlan?: apigateway.UsagePlan;
  /** The CloudFront distribution (when `cloudFront` is set). */
  public readonly distribution?: cloudfront.Distribution;
  /**
   * The distribution's viewer-request CloudFront Function (when `cloudFront` is set): it sets `x-forwarded-host` to the
   * viewer's Host, so URLs the proxy returns (a batch's `results_url`) point at the distribution, not the endpoint.
   */
  public readonly forwardedHostFunction?: cloudfront.Function;
  /** The topic alarms notify. */
  public readonly alarmTopic: sns.ITopic;
  /** The alarms the construct created. */
  public readonly alarms: cloudwatch.Alarm[];
  /** The dashboard (unless `dashboard: false`). */
  public readonly dashboard?: cloudwatch.Dashboard;
  /** The SSM parameter holding `url` (when `parameterPrefix` is set). */
  public readonly urlParameter?: ssm.StringParameter;
  /** The SSM parameter holding the API-key secret's ARN (when `parameterPrefix` is set with API-key auth). */
  public readonly apiKeySecretArnParameter?: ssm.StringParameter;
  /** The gateway table (when `gateway` is set). */
  public readonly gatewayTable?: dynamodb.ITable;
  /** The SSM parameter holding the gateway table's name (when `gateway` is set). */
  public readonly gatewayTableParameter?: ssm.IStringParameter;
  /** The table of batch and request state (when `batches` is set): the gateway table, `batches.table` or a created one. */
  public readonly batchTable?: dynamodb.ITable;
  /** The queue with one message per batch request (when `batches` is set). */
  public readonly batchQueue?: sqs.Queue;
  /** The dead-letter queue of `batchQueue` (when `batches` is set). */
  public readonly batchDeadLetterQueue?: sqs.Queue;
  /** The bucket of batch inputs and results (when `batches` is set). */
  public readonly batchBucket?: s3.Bucket;
  /** The batch worker function (when `batches` is set). */
  public readonly batchWorker?: lambda.Function;
  /**
   * The service role of the Bedrock batch inference jobs (when `batches.batchInference` is set): assumed by Bedrock for
   * this account's model invocation jobs, it reads a job's input and writes its output in `batchBucket`.
   */
  public readonly batchInferenceRole?: iam.IRole;
  /** The `service` dimension of the proxy's metrics. */
  public readonly serviceName: string;
  /** The namespace of the proxy's metrics. */
  public readonly metricsNamespace: string;

  private readonly auth: BoundProxyAuth;
  private readonly gateway?: BoundProxyGateway;
  private readonly batchStores?: BatchStores;
  private readonly batchWorkerResources?: BatchWorker;
  private readonly timeout: Duration;
  private readonly restrictToCloudFront: boolean;
  private readonly originSecretRotation: number;
  private readonly encryptionKey?: kms.IKey;
  private createdOriginSecret?: secretsmanager.Secret;
  private readonly functionSubnets: ec2.SubnetSelection;

  constructor(scope: Construct, id: string, props: StreamingLlmProxyProps = {}) {
    super(scope, id);

    const encryptionKey = props.encryptionKey;
    this.encryptionKey = encryptionKey;
    this.restrictToCloudFront = props.restrictToCloudFront ?? true;
    this.originSecretRotation = props.originSecretRotation ?? 0;
    if (!Number.isInteger(this.originSecretRotation) || this.originSecretRotation < 0) {
      throw new Error(`\`originSecretRotation\` must be a whole number of 0 or more, got ${this.originSecretRotation}.`);
    }
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    this.timeout = props.timeout ?? MAX_TIMEOUT;
    validateScalars(props, this.timeout);

    // --- placement and endpoint -----------------------------------------------------------------------------------
    if (props.sessions && props.vpc && props.vpc !== props.sessions.vpc) {
      throw new Error('`vpc` differs from the VPC of `sessions`; the function must run in the session store\'s VPC. Remove `vpc`.');
    }
    const vpc = props.sessions?.vpc ?? props.vpc;
    if (!vpc && (props.vpcSubnets || props.securityGroups)) {
      throw new Error('`vpcSubnets` and `securityGroups` need `vpc` (or `sessions`); set one of them or remove these props.');
    }
    const endpoint = props.endpoint ?? (vpc ? ProxyEndpoint.restApi() : ProxyEndpoint.functionUrl());
    if (vpc && endpoint.type === ProxyEndpointType.FUNCTION_URL) {
      throw new Error(
        '`endpoint`: Lambda function URLs cannot stream responses from a VPC-attached function, and this proxy is in a VPC ' +
        '(`vpc` or `sessions`). Use ProxyEndpoint.restApi() (API Gateway REST response streaming), or leave `endpoint` unset to get it by default.',
      );
    }
    this.endpointType = endpoint.type;

    // --- auth -----------------------------------------------------------------------------------------------------
    this.auth = (props.auth ?? ProxyAuth.apiKeys())._bind(this, encryptionKey);
    this.authMode = this.auth.mode;
    this.apiKeySecret = this.auth.secret;
    if (props.cloudFront && this.auth.endpointIam) {
      throw new Error(
        '`cloudFront` cannot be combined with ProxyAuth.iam(): SigV4 callers sign for the function URL or API Gateway host, ' +
        'which CloudFront would change. Remove `cloudFront`, or use ProxyAuth.apiKeys() or ProxyAuth.jwt().',
      );
    }

    // --- gateway table --------------------------------------------------------------------------------------------
    this.gateway = props.gateway?._bind(this, encryptionKey);
    this.gatewayTable = this.gateway?.table;

    // --- batch stores (the worker comes after the function) ------------------------------------------------------
    if (props.batches) {
      this.batchStores = createBatchStores(this, props.batches, { proxyEncryptionKey: encryptionKey, gatewayTable: this.gateway?.table });
      this.batchTable = this.batchStores.table;
      this.batchQueue = this.batchStores.queue;
      this.batchDeadLetterQueue = this.batchStores.deadLetterQueue;
      this.batchBucket = this.batchStores.bucket;
      this.batchInferenceRole = this.batchStores.inferenceRole;
    }

    // --- models ---------------------------------------------------------------------------------------------------
    const models = props.models ?? [];
    validateModels(models);
    if (props.replaceDefaultModels && models.length === 0) {
      throw new Error('`replaceDefaultModels` is true but `models` is empty: the proxy would serve no model. Add `models` or drop `replaceDefaultModels`.');
    }
    const claudeFallback = props.claudeFallback ?? ClaudeFallback.GLOBAL;
    const upstream = props.upstream ?? ProxyUpstream.BEDROCK;
    if (props.batches) {
      validateBatchInferenceModels(props.batches, {
        mockUpstream: upstream === ProxyUpstream.MOCK,
        names: claudeCatalogueNames(models, props.replaceDefaultModels ?? false),
      });
    }

    // --- environment (the runtime's config contract, docs/runtime-contract.md) --------------------------------------
    this.serviceName = props.serviceName ?? Names.uniqueResourceName(this, { maxLength: 64, separator: '-' });
    this.metricsNamespace = props.metricsNamespace ?? 'ServerlessLlm';
    const { environment, modelsSize } = this.buildEnvironment(props, models, claudeFallback, upstream, endpoint.type);

    // --- function -------------------------------------------------------------------------------------------------
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logRetention,
      encryptionKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the LLM proxy ${this.node.path}`,
    });
    this.logGroup.grantWrite(this.role);

    this.functionSubnets = props.vpcSubnets ?? props.sessions?.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    this.function = new lambda.Function(this, 'Function', {
      description: 'LLM proxy: Anthropic Messages and OpenAI Chat Completions APIs in front of Amazon Bedrock (streaming)',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: bundledCode('streaming-proxy'),
      memorySize: props.memorySize ?? 1024,
      timeout: this.timeout,
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      reservedConcurrentExecutions: props.reservedConcurrency,
      environment,
      environmentEncryption: encryptionKey,
      vpc,
      vpcSubnets: vpc ? this.functionSubnets : undefined,
      securityGroups: props.securityGroups,
    });
    if (vpc && this.auth.jwksUri) this.warnIfNoRouteToJwks(vpc, this.auth.jwksUri);
    if (vpc) {
      // What AWSLambdaVPCAccessExecutionRole grants, inline: Lambda attaches the function through these.
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'AttachToVpc',
        actions: [
          'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }));
    }

    // Every code or configuration change publishes a version; the endpoint invokes the `live` alias.
    this.alias = new lambda.Alias(this, 'Live', {
      aliasName: 'live',
      version: this.function.currentVersion,
      provisionedConcurrentExecutions: props.provisionedConcurrency,
    });

    // --- permissions ----------------------------------------------------------------------------------------------
    const bedrockArns = upstream === ProxyUpstream.MOCK ? [] : bedrockResourceArns(this, {
      defaultTargets: props.replaceDefaultModels ? [] : DEFAULT_CATALOGUE_TARGETS,
      models,
      claudeFallback,
    });
    if (bedrockArns.length > 0) {
      this.role.addToPrincipalPolicy(bedrockStatement(bedrockArns));
    }
    const embeddingArns = upstream === ProxyUpstream.MOCK ? [] : embeddingResourceArns(this, {
      defaultTargets: props.replaceDefaultModels ? [] : DEFAULT_EMBEDDING_TARGETS,
      models,
    });
    if (embeddingArns.length > 0) {
      this.role.addToPrincipalPolicy(embeddingStatement(embeddingArns));
    }
    const readableSecrets = [
      ...(this.auth.secret ? [this.auth.secret] : []),
      ...models.flatMap((m) => (m.apiKeySecret ? [m.apiKeySecret] : [])),
    ];
    if (readableSecrets.length > 0) {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'ReadProxySecrets',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [...new Set(readableSecrets.map(secretResourceArn))],
      }));
      for (const secret of readableSecrets) {
        secret.encryptionKey?.grantDecrypt(this.role);
      }
    }
    props.sessions?.grantConnect(this.function);
    if (this.gateway) {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'UseGatewayTable',
        actions: GATEWAY_RUNTIME_ACTIONS,
        resources: [this.gateway.table.tableArn],
      }));
      this.gateway.table.encryptionKey?.grant(this.role, ...GATEWAY_KEY_ACTIONS);
      if (vpc) this.placeDynamoDbEndpoint(vpc, this.gateway.dynamoDbEndpoint);
    }
    if (this.batchStores) {
      grantProxyBatches(this.batchStores, this.role);
      grantBatchInference(this.batchStores, this.role, bedrockArns);
      if (vpc) this.warnIfNoRouteToBatchStores(vpc, this.batchStores);
      this.batchWorkerResources = createBatchWorker(this, this.batchStores, {
        environment: batchWorkerEnvironment(environment),
        logRetention,
        logEncryptionKey: encryptionKey,
        bedrockStatement: bedrockArns.length > 0 ? bedrockStatement(bedrockArns) : undefined,
        gatewayStatement: this.gateway ? new iam.PolicyStatement({
          sid: 'ChargeToGatewayTable',
          actions: GATEWAY_RUNTIME_ACTIONS,
          resources: [this.gateway.table.tableArn],
        }) : undefined,
        gatewayTable: this.gateway?.table,
      });
      this.batchWorker = this.batchWorkerResources.function;
    }

    // --- endpoint -------------------------------------------------------------------------------------------------
    if (endpoint.type === ProxyEndpointType.FUNCTION_URL) {
      this.functionUrl = this.alias.addFunctionUrl({
        authType: this.auth.endpointIam ? lambda.FunctionUrlAuthType.AWS_IAM : lambda.FunctionUrlAuthType.NONE,
        invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
        cors: props.corsAllowOrigins ? {
          allowedOrigins: props.corsAllowOrigins,
          allowedMethods: [lambda.HttpMethod.GET, lambda.HttpMethod.POST],
          allowedHeaders: CORS_HEADERS,
          maxAge: Duration.hours(1),
        } : undefined,
      });
      this.endpointUrl = this.functionUrl.url;
    } else {
      const rest = this.createRestApi(endpoint._restApiOptions ?? {}, logRetention, encryptionKey, props.corsAllowOrigins !== undefined);
      this.restApi = rest.api;
      this.usagePlan = rest.usagePlan;
      this.endpointUrl = rest.api.url;
    }

    // --- CloudFront -----------------------------------------------------------------------------------------------
    if (props.cloudFront) {
      if (!this.restrictToCloudFront) {
        Annotations.of(this).addWarningV2('cdk-serverless-llm:unrestrictedOrigin',
          '`restrictToCloudFront` is false: clients can call the endpoint directly and skip the distribution\'s web ACL, rate rule ' +
          'and geo restriction. Leave it unset unless direct calls are intended.');
      }
      this.forwardedHostFunction = forwardedHostFunction(this, 'ForwardedHost');
      this.distribution = this.createDistribution(props.cloudFront, this.forwardedHostFunction, logRetention, encryptionKey);
      const domain = props.cloudFront.domainNames?.[0] ?? this.distribution.distributionDomainName;
      this.url = `https://${domain}/`;
    } else {
      this.url = this.endpointUrl;
    }

    // --- monitoring -----------------------------------------------------------------------------------------------
    if (encryptionKey) this.allowServicesToUseKey(encryptionKey);
    this.alarmTopic = props.alarms?.topic ?? this.createAlarmTopic(encryptionKey);
    this.alarms = this.createAlarms(props.alarms ?? {});
    if (this.batchStores && this.batchWorkerResources) {
      this.alarms.push(...this.createAlarmsFrom(
        batchAlarmSpecs(this.batchStores, this.batchWorkerResources, props.alarms?.errorsPerFiveMinutes ?? 5)));
    }
    if (props.dashboard ?? true) {
      this.dashboard = this.createDashboard();
    }

    // --- SSM parameters -------------------------------------------------------------------------------------------
    if (props.parameterPrefix !== undefined) {
      const prefix = props.parameterPrefix;
      this.urlParameter = new ssm.StringParameter(this, 'UrlParameter', {
        parameterName: `${prefix}/url`,
        stringValue: this.url,
        description: 'URL of the LLM proxy (ANTHROPIC_BASE_URL)',
      });
      if (this.apiKeySecret) {
        this.apiKeySecretArnParameter = new ssm.StringParameter(this, 'ApiKeySecretArnParameter', {
          parameterName: `${prefix}/api-key-secret-arn`,
          stringValue: this.apiKeySecret.secretArn,
          description: 'ARN of the Secrets Manager secret holding the LLM proxy API keys',
        });
      }
    }

    if (this.gateway) {
      const parameterName = this.gateway.parameterName ?? `${props.parameterPrefix ?? `/llm-proxy/${this.serviceName}`}/gateway-table`;
      this.gatewayTableParameter = new ssm.StringParameter(this, 'GatewayTableParameter', {
        parameterName,
        stringValue: this.gateway.table.tableName,
        description: 'Name of the LLM proxy gateway table (cdk-serverless-llm keys --table-parameter)',
      });
      new CfnOutput(this, 'GatewayTableName', {
        value: this.gateway.table.tableName,
        description: 'The LLM proxy gateway table (virtual keys, limits, spend): cdk-serverless-llm keys --table <name>',
      });
      new CfnOutput(this, 'GatewayTableParameterName', {
        value: this.gatewayTableParameter.parameterName,
        description: 'SSM parameter holding the gateway table name: cdk-serverless-llm keys --table-parameter <name>',
      });
    }

    // --- Lambda's 4 KB environment limit, now and after later addEnvironment() calls (e.g. by `sessions`) ----------
    const knownSize = environmentSize({ ...environment, ...(environment.PROXY_MODELS ? { PROXY_MODELS: 'x'.repeat(modelsSize - 'PROXY_MODELS'.length) } : {}) });
    if (knownSize > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
      throw new Error(environmentTooLargeMessage(knownSize, modelsSize));
    }
    const cfnFunction = this.function.node.defaultChild as lambda.CfnFunction;
    this.node.addValidation({
      validate: () => {
        const size = resolvedEnvironmentSize(this, cfnFunction.environment);
        return size > LAMBDA_ENVIRONMENT_LIMIT_BYTES ? [environmentTooLargeMessage(size, modelsSize)] : [];
      },
    });

    this.acknowledgeByDesignFindings({ props, vpc, bedrockArns: [...new Set([...bedrockArns, ...embeddingArns])], encryptionKey });
  }

  /**
   * Grants `grantee` what it needs to call the proxy: with `ProxyAuth.iam()`, permission to invoke the endpoint; with
   * `ProxyAuth.apiKeys()`, read access to the key secret (its callers send a key from it).
   */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    if (this.auth.endpointIam) {
      if (this.restApi) {
        return iam.Grant.addToPrincipal({
          grantee,
          actions: ['execute-api:Invoke'],
          resourceArns: [this.restApi.arnForExecuteApi('*', '/*', this.restApi.deploymentStage.stageName)],
        });
      }
      return this.alias.grantInvokeUrl(grantee);
    }
    if (this.apiKeySecret) {
      return this.grantReadApiKeys(grantee);
    }
    throw new Error(
      `grantInvoke(): with ${this.authMode} auth the proxy does not use AWS permissions; ` +
      (this.authMode === ProxyAuthMode.JWT ? 'callers need a token from the configured issuer.' : 'anyone can call it.'),
    );
  }

  /**
   * Grants `grantee` read access to the API keys (e.g. a CI role that hands a key to tests).
   */
  public grantReadApiKeys(grantee: iam.IGrantable): iam.Grant {
    if (!this.apiKeySecret) {
      throw new Error(`grantReadApiKeys(): the proxy uses ${this.authMode} auth and has no API-key secret.`);
    }
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: [secretResourceArn(this.apiKeySecret)],
    });
    this.apiKeySecret.encryptionKey?.grantDecrypt(grantee);
    return grant;
  }

  /**
   * Grants `grantee` (e.g. an administrator's role) what `cdk-serverless-llm keys` and `usage` need: item reads and
   * writes, Query, Scan and DescribeTable on the gateway table, `ssm:GetParameter` on `gatewayTableParameter`, and use
   * of the table's customer managed key. Throws unless `gateway` is set.
   */
  public grantManageKeys(grantee: iam.IGrantable): iam.Grant {
    if (!this.gateway || !this.gatewayTableParameter) {
      throw new Error('grantManageKeys(): the proxy has no gateway table; set `gateway` (e.g. ProxyGateway.newTable()) to manage virtual keys.');
    }
    const table = this.gateway.table;
    const grant = iam.Grant.addToPrincipal({ grantee, actions: GATEWAY_ADMIN_ACTIONS, resourceArns: [table.tableArn] });
    const parameter = iam.Grant.addToPrincipal({ grantee, actions: ['ssm:GetParameter'], resourceArns: [this.gatewayTableParameter.parameterArn] });
    const key = table.encryptionKey?.grant(grantee, ...GATEWAY_KEY_ACTIONS);
    return key ? grant.combine(parameter).combine(key) : grant.combine(parameter);
  }

  /**
   * The secret CloudFront sends in the `x-origin-verify` header, created once CloudFront is in front of the endpoint
   * (`cloudFront` or `createCloudFrontOrigin()`) unless `restrictToCloudFront` is false. Rotate it as docs/runbook.md
   * says: the runtime accepts its AWSCURRENT and AWSPREVIOUS values.
   */
  public get originSecret(): secretsmanager.ISecret | undefined {
    return this.createdOriginSecret;
  }

  /**
   * A CloudFront origin for the endpoint with streaming-friendly timeouts that adds the secret origin header (unless
   * `restrictToCloudFront` is false); from then on the proxy answers only requests that carry it.
   */
  public createCloudFrontOrigin(options: ProxyCloudFrontOriginOptions = {}): cloudfront.IOrigin {
    const readTimeout = options.readTimeout ?? ORIGIN_READ_TIMEOUT;
    const secret = this.ensureOriginSecret();
    const customHeaders = secret ? {
      // A dynamic reference ({{resolve:secretsmanager:...}}): CloudFormation puts the value into the distribution, the
      // template never holds it.
      [ORIGIN_VERIFY_HEADER]: secret.secretValue.unsafeUnwrap(),
      [ORIGIN_ROTATION_HEADER]: String(this.originSecretRotation),
    } : undefined;
    const originOptions = { readTimeout, keepaliveTimeout: ORIGIN_KEEPALIVE_TIMEOUT, customHeaders };
    if (this.restApi) {
      return new origins.RestApiOrigin(this.restApi, originOptions);
    }
    return new origins.FunctionUrlOrigin(this.functionUrl!, originOptions);
  }

  /**
   * The origin header CloudFront sends and the runtime requires, when the proxy is behind CloudFront.
   *
   * @internal
   */
  public _originVerification(): { header: string; value: string; rotation: number } | undefined {
    const secret = this.createdOriginSecret;
    return secret ? { header: ORIGIN_VERIFY_HEADER, value: secret.secretValue.unsafeUnwrap(), rotation: this.originSecretRotation } : undefined;
  }

  /**
   * A VPC-attached function reaches DynamoDB through a NAT gateway or a gateway endpoint. The construct adds a gateway
   * endpoint to the route tables of the function's subnets when the VPC is defined in this app and has none for
   * DynamoDB (e.g. the isolated VPC of VpcRedisSessions, where nothing else would work); it cannot know whether an
   * imported VPC has one (a route table takes one per service), so it warns and lets `dynamoDbEndpoint` decide.
   */
  private placeDynamoDbEndpoint(vpc: ec2.IVpc, requested: boolean | undefined): void {
    const dynamoDbEndpoints = () => this.node.root.node.findAll().filter((c): c is ec2.CfnVPCEndpoint =>
      c instanceof ec2.CfnVPCEndpoint && c.vpcId === vpc.vpcId && (c.vpcEndpointType ?? 'Gateway') === 'Gateway'
      && JSON.stringify(Stack.of(c).resolve(c.serviceName)).includes('.dynamodb'));
    const defined = vpc instanceof ec2.Vpc;
    const create = requested ?? (defined && dynamoDbEndpoints().length === 0);
    if (requested === undefined && !defined) {
      Annotations.of(this).addWarningV2('cdk-serverless-llm:gatewayWithoutDynamoDbEndpoint',
        '`gateway`: the proxy function runs in an imported VPC, so no DynamoDB gateway endpoint is added to it. Unless its subnets ' +
        'route to DynamoDB (an existing gateway endpoint or a NAT gateway), the function cannot reach the gateway table and every ' +
        'request fails. Set `dynamoDbEndpoint: true` in the ProxyGateway options to add one, or `false` if the VPC already routes to DynamoDB.');
    }
    if (!create) return;
    const endpoint = new ec2.GatewayVpcEndpoint(this, 'DynamoDbEndpoint', {
      vpc,
      service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
      subnets: [this.functionSubnets],
    });
    if (requested === undefined) {
      const ours = endpoint.node.defaultChild;
      this.node.addValidation({
        validate: () => dynamoDbEndpoints().some((c) => c !== ours)
          ? ['`gateway`: the proxy added a DynamoDB gateway endpoint to its VPC, which has another one; a route table takes only one ' +
            'per service. Set `dynamoDbEndpoint: false` in the ProxyGateway options to use the existing endpoint.']
          : [],
      });
    }
  }

  /**
   * With `batches`, a VPC-attached proxy function reaches the batch table, queue and bucket through a NAT gateway or
   * VPC endpoints; in isolated subnets (known at synth time) it needs endpoints the construct does not add (a route
   * table takes one gateway endpoint per service, which the app may already have), so it says so.
   */
  private warnIfNoRouteToBatchStores(vpc: ec2.IVpc, stores: BatchStores): void {
    // The gateway table's DynamoDB endpoint (placeDynamoDbEndpoint) also serves a batch table in the gateway table.
    const needs = [...(stores.table === this.gateway?.table ? [] : ['a DynamoDB gateway endpoint']), 'an SQS interface endpoint ' +
      '(ec2.InterfaceVpcEndpointAwsService.SQS, private DNS)', 'an S3 gateway endpoint'];
    const isolated = new Set(vpc.isolatedSubnets.map((subnet) => subnet.subnetId));
    const subnets = this.function.isBoundToVpc ? vpc.selectSubnets(this.functionSubnets).subnets : [];
    if (subnets.length > 0 && subnets.every((subnet) => isolated.has(subnet.subnetId))) {
      Annotations.of(this).addWarningV2('cdk-serverless-llm:batchesWithoutEgress',
        '`batches`: the proxy function runs in isolated subnets (no NAT gateway), so it reaches the batch table, queue and bucket only ' +
        `through VPC endpoints: add ${needs.join(', ')} to the VPC, or place the function in subnets with egress.`);
    }
  }

  /**
   * JWT signing keys come from the issuer's JWKS URL on the internet (no VPC endpoint serves them). A function whose
   * subnets are all isolated (no NAT gateway or other egress route, known at synth time for subnets of a CDK VPC or a
   * VPC imported with subnet types) cannot fetch them, and every request would get 503. Subnets whose type cannot be
   * known (imported by id) are given the benefit of the doubt.
   */
  private warnIfNoRouteToJwks(vpc: ec2.IVpc, jwksUri: string): void {
    const isolated = new Set(vpc.isolatedSubnets.map((subnet) => subnet.subnetId));
    const subnets = this.function.isBoundToVpc ? vpc.selectSubnets(this.functionSubnets).subnets : [];
    if (subnets.length > 0 && subnets.every((subnet) => isolated.has(subnet.subnetId))) {
      Annotations.of(this).addWarningV2('cdk-serverless-llm:jwtWithoutEgress',
        'ProxyAuth.jwt(): the function runs in isolated subnets (no NAT gateway or other egress route), so unless a VPC endpoint ' +
        `serves its host it cannot fetch the issuer's signing keys from ${Token.isUnresolved(jwksUri) ? 'the JWKS URL' : jwksUri} and ` +
        'every request would get 503. Place it in subnets with egress (`vpcSubnets`, or a VPC with a NAT gateway), or serve the JWKS ' +
        'from inside the VPC and set `jwksUri`.');
    }
  }

  /** Creates the origin secret and makes the runtime require it (once), unless the proxy is not restricted to CloudFront. */
  private ensureOriginSecret(): secretsmanager.Secret | undefined {
    if (!this.restrictToCloudFront || this.auth.endpointIam) return undefined;
    if (this.createdOriginSecret) return this.createdOriginSecret;
    const secret = new secretsmanager.Secret(this, 'OriginSecret', {
      description: 'Secret origin header (x-origin-verify) that CloudFront adds to requests to the LLM proxy; the proxy refuses requests without it',
      encryptionKey: this.encryptionKey,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });
    this.createdOriginSecret = secret;
    this.function.addEnvironment('PROXY_ORIGIN_VERIFY_SECRET_ARN', secret.secretArn);
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ReadOriginSecret',
      // AWSCURRENT and AWSPREVIOUS, so a rotation never refuses CloudFront.
      actions: ['secretsmanager:GetSecretValue'],
      resources: [secretResourceArn(secret)],
    }));
    this.encryptionKey?.grantDecrypt(this.role);
    const rotation =
      'CloudFront origin custom headers are static in the distribution (CloudFormation resolves the dynamic reference on each ' +
      'update), so the secret is rotated with the two-step procedure of docs/runbook.md (new value, then originSecretRotation + ' +
      'deploy); the runtime accepts the current and the previous value, so no rotation Lambda is needed.';
    acknowledgeNag(secret,
      { id: 'AwsSolutions-SMG4', reason: rotation },
      { id: 'NIST.800.53.R5-SecretsManagerRotationEnabled', reason: rotation },
      { id: 'HIPAA.Security-SecretsManagerRotationEnabled', reason: rotation },
    );
    if (!this.encryptionKey) {
      const reason = 'Encrypted with the AWS managed key aws/secretsmanager by default; pass `encryptionKey` for a customer managed key.';
      acknowledgeNag(secret,
        { id: 'NIST.800.53.R5-SecretsManagerUsingKMSKey', reason },
        { id: 'HIPAA.Security-SecretsManagerUsingKMSKey', reason },
      );
    }
    return secret;
  }

  /**
   * A metric the runtime emits (EMF, namespace `metricsNamespace`, dimension `service`), e.g. `InputTokens`.
   */
  public metric(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricsNamespace,
      metricName,
      dimensionsMap: { service: this.serviceName },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
      ...props,
    });
  }

  /** Requests received (sum over 5 minutes). */
  public metricRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Requests', props);
  }

  /** Input tokens billed (sum over 5 minutes). */
  public metricInputTokens(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('InputTokens', props);
  }

  /** Output tokens billed (sum over 5 minutes). */
  public metricOutputTokens(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('OutputTokens', props);
  }

  /** Prompt-cache read tokens (sum over 5 minutes). */
  public metricCacheReadInputTokens(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('CacheReadInputTokens', props);
  }

  /** Prompt-cache write tokens (sum over 5 minutes). */
  public metricCacheWriteInputTokens(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('CacheWriteInputTokens', props);
  }

  /** Estimated cost in USD from the catalogue prices (sum over 5 minutes). */
  public metricEstimatedCost(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('EstimatedCost', props);
  }

  /**
   * Estimated cost in USD of one API key (sum over 5 minutes), optionally of one model: the runtime's
   * `KeyEstimatedCost` metric, whose `key` dimension is the key's name (`other` for callers that are not API keys).
   */
  public metricKeyEstimatedCost(props: KeyMetricOptions = {}): cloudwatch.Metric {
    const { key, model, ...options } = props;
    return new cloudwatch.Metric({
      namespace: this.metricsNamespace,
      metricName: 'KeyEstimatedCost',
      dimensionsMap: { service: this.serviceName, key: key ?? 'other', ...(model ? { model } : {}) },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
      ...options,
    });
  }

  /**
   * Estimated cost in USD of the API keys whose policies name `team` (sum over 5 minutes): the runtime's
   * `TeamEstimatedCost` metric (dimensions `service` and `team`), which the gateway's `teamBudgets` alarms read.
   */
  public metricTeamEstimatedCost(team: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricsNamespace,
      metricName: 'TeamEstimatedCost',
      dimensionsMap: { service: this.serviceName, team },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
      ...props,
    });
  }

  /** Time to first token in milliseconds (p90 over 5 minutes). */
  public metricTimeToFirstToken(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('TimeToFirstToken', { statistic: cloudwatch.Stats.p(90), ...props });
  }

  /** Request duration measured by the runtime, in milliseconds (p90 over 5 minutes). */
  public metricDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Duration', { statistic: cloudwatch.Stats.p(90), ...props });
  }

  /** Requests refused as invalid or unauthenticated (4xx, sum over 5 minutes). */
  public metricClientErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ClientErrors', props);
  }

  /** Upstream failures other than throttling (sum over 5 minutes). */
  public metricUpstreamErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('UpstreamErrors', props);
  }

  /** Upstream throttling responses, i.e. Bedrock 429s (sum over 5 minutes). */
  public metricUpstreamThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('UpstreamThrottles', props);
  }

  /** Requests refused by the proxy's own rate limits (sum over 5 minutes). */
  public metricRateLimited(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('RateLimited', props);
  }

  /** Requests decided without the rate-limit store because it was unreachable (sum over 5 minutes). */
  public metricRateLimiterUnavailable(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('RateLimiterUnavailable', props);
  }

  // ------------------------------------------------------------------------------------------------------------------

  private buildEnvironment(
    props: StreamingLlmProxyProps,
    models: readonly ProxyModel[],
    claudeFallback: ClaudeFallback,
    upstream: ProxyUpstream,
    endpointType: ProxyEndpointType,
  ): { environment: Record<string, string>; modelsSize: number } {
    const env: Record<string, string> = {
      PROXY_UPSTREAM: upstream,
      PROXY_AUTH_MODE: this.auth.mode,
      ...this.auth.environment,
      PROXY_CLAUDE_FALLBACK: claudeFallback,
      POWERTOOLS_SERVICE_NAME: this.serviceName,
      POWERTOOLS_METRICS_NAMESPACE: this.metricsNamespace,
      POWERTOOLS_LOG_LEVEL: props.logLevel ?? ProxyLogLevel.INFO,
    };
    let modelsSize = 0;
    if (models.length > 0 || props.replaceDefaultModels) {
      const catalogue = { replace: props.replaceDefaultModels ?? false, models: models.map(toModelEntry) };
      const json = JSON.stringify(catalogue);
      // Secret ARNs are deploy-time values: toJsonString renders them as intrinsics inside the JSON.
      env.PROXY_MODELS = Token.isUnresolved(json) ? Stack.of(this).toJsonString(catalogue) : json;
      modelsSize = environmentSize({ PROXY_MODELS: json });
    }
    if (props.failoverRegion !== undefined) env.PROXY_FAILOVER_REGION = props.failoverRegion;
    if (props.maxRequestBodySize !== undefined) env.PROXY_MAX_BODY_BYTES = String(props.maxRequestBodySize.toBytes());
    if (props.rateLimits) {
      env.PROXY_RATE_LIMITS = JSON.stringify(Object.fromEntries(Object.entries(props.rateLimits).filter(([, v]) => v !== undefined)));
    }
    if (props.sessions) {
      env.PROXY_SESSIONS = 'redis';
      env.PROXY_LIMIT_STORE = 'redis';
      if (props.sessionTtl !== undefined) env.PROXY_SESSION_TTL_SECONDS = String(props.sessionTtl.toSeconds());
      if (props.sessionMaxSize !== undefined) env.PROXY_SESSION_MAX_BYTES = String(props.sessionMaxSize.toBytes());
    } else if (props.sessionTtl !== undefined || props.sessionMaxSize !== undefined) {
      throw new Error('`sessionTtl` and `sessionMaxSize` apply to shared sessions; set `sessions` or remove them.');
    }
    if (this.gateway) {
      Object.assign(env, this.gateway.environment);
      // Redis (with `sessions`) is the faster limit store; the table otherwise.
      if (!props.sessions) env.PROXY_LIMIT_STORE = 'dynamodb';
    }
    if (this.batchStores) Object.assign(env, this.batchStores.environment);
    if (props.rateLimitFailureMode !== undefined) {
      if (!props.sessions && !this.gateway) {
        throw new Error('`rateLimitFailureMode` applies to a shared limit store; set `sessions` or `gateway`, or remove it.');
      }
      env.PROXY_LIMIT_FAILURE_MODE = props.rateLimitFailureMode;
    }
    if (props.pingInterval !== undefined) env.PROXY_PING_INTERVAL_MS = String(props.pingInterval.toMilliseconds());
    if (props.extraBetas && props.extraBetas.length > 0) env.PROXY_EXTRA_BETAS = props.extraBetas.join(',');
    // The function URL answers CORS itself; behind API Gateway the runtime does.
    if (props.corsAllowOrigins && endpointType === ProxyEndpointType.REST_API) {
      env.PROXY_CORS_ALLOW_ORIGINS = props.corsAllowOrigins.join(',');
    }
    for (const [name, value] of Object.entries(props.environment ?? {})) {
      if (MANAGED_ENV_PREFIXES.some((p) => name.startsWith(p))) {
        throw new Error(`\`environment\`: ${name} is managed by the construct; set it through the matching prop instead.`);
      }
      env[name] = value;
    }
    return { environment: env, modelsSize };
  }

  private createRestApi(
    options: RestApiEndpointOptions,
    logRetention: logs.RetentionDays,
    encryptionKey: kms.IKey | undefined,
    cors: boolean,
  ): { api: apigateway.RestApi; usagePlan?: apigateway.UsagePlan } {
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logRetention,
      encryptionKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const api = new apigateway.RestApi(this, 'Api', {
      description: 'LLM proxy (Anthropic Messages and OpenAI Chat Completions APIs, response streaming)',
      endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
      // The account-level logging role is created below with a customer managed policy instead of the AWS managed one.
      cloudWatchRole: false,
      deployOptions: {
        stageName: options.stageName ?? 'prod',
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        // Request and response bodies are prompts and completions: never in execution logs.
        dataTraceEnabled: false,
        throttlingRateLimit: options.throttlingRateLimit ?? 50,
        throttlingBurstLimit: options.throttlingBurstLimit ?? 100,
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields({
          caller: true,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: true,
        }),
      },
      defaultMethodOptions: {
        authorizationType: this.auth.endpointIam ? apigateway.AuthorizationType.IAM : apigateway.AuthorizationType.NONE,
        apiKeyRequired: options.usagePlan !== undefined,
      },
    });
    if (options.cloudWatchRole ?? true) {
      // API Gateway writes execution and access logs with one role per account and region. It is retained when the stack
      // is deleted, since every REST API of the account relies on it.
      const logsRole = new iam.Role(this, 'ApiGatewayLogsRole', {
        assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
        description: 'Lets API Gateway write execution and access logs (account-level setting shared by all REST APIs of the region)',
      });
      const logsPolicy = new iam.ManagedPolicy(this, 'ApiGatewayLogsPolicy', {
        description: 'API Gateway execution and access logging (the actions of AmazonAPIGatewayPushToCloudWatchLogs)',
        roles: [logsRole],
        statements: [new iam.PolicyStatement({
          actions: [
            'logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogGroups', 'logs:DescribeLogStreams',
            'logs:PutLogEvents', 'logs:GetLogEvents', 'logs:FilterLogEvents',
          ],
          resources: ['*'],
        })],
      });
      const account = new apigateway.CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: logsRole.roleArn });
      for (const retained of [logsRole, logsPolicy]) retained.applyRemovalPolicy(RemovalPolicy.RETAIN);
      account.applyRemovalPolicy(RemovalPolicy.RETAIN);
      account.node.addDependency(logsPolicy);
      api.deploymentStage.node.addDependency(account);
    }

    const integration = new apigateway.LambdaIntegration(this.alias, {
      proxy: true,
      responseTransferMode: apigateway.ResponseTransferMode.STREAM,
      timeout: this.timeout,
      allowTestInvoke: false,
    });
    const proxyResource = api.root.addResource('{proxy+}');
    for (const resource of [api.root, proxyResource]) {
      resource.addMethod('ANY', integration);
      // Browsers send CORS preflights without credentials or API Gateway keys: answer them (through the runtime)
      // without IAM authorization or an API key, or every cross-origin request would fail before it starts.
      if (cors && (this.auth.endpointIam || options.usagePlan)) {
        const preflight = resource.addMethod('OPTIONS', integration, { authorizationType: apigateway.AuthorizationType.NONE, apiKeyRequired: false });
        acknowledgeNag(preflight, {
          id: 'AwsSolutions-APIG4',
          reason: 'CORS preflight (OPTIONS) requests carry no credentials by browser design; the runtime answers them without calling a model.',
        }, {
          id: 'AwsSolutions-COG4',
          reason: 'CORS preflight (OPTIONS) requests carry no credentials by browser design; the runtime answers them without calling a model.',
        });
      }
    }

    let usagePlan: apigateway.UsagePlan | undefined;
    if (options.usagePlan) {
      usagePlan = api.addUsagePlan('UsagePlan', {
        description: 'LLM proxy usage plan',
        quota: options.usagePlan.quota,
        throttle: options.usagePlan.throttle,
        apiStages: [{ api, stage: api.deploymentStage }],
      });
    }

    const webAclArn = (options.webAcl ?? ProxyWebAcl.managed())._bind(this, 'ApiWebAcl', {
      wafScope: 'REGIONAL',
      logRetention,
      encryptionKey,
      originVerification: () => this._originVerification(),
    });
    if (webAclArn) {
      new wafv2.CfnWebACLAssociation(this, 'ApiWebAclAssociation', {
        resourceArn: api.deploymentStage.stageArn,
        webAclArn,
      });
    }
    return { api, usagePlan };
  }

  private createDistribution(
    options: ProxyCloudFrontOptions,
    forwardedHost: cloudfront.IFunction,
    logRetention: logs.RetentionDays,
    encryptionKey?: kms.IKey,
  ): cloudfront.Distribution {
    const stackRegion = Stack.of(this).region;
    const domainNames = options.domainNames ?? [];
    if (domainNames.length > 0 && !options.certificate) {
      throw new Error('`cloudFront.domainNames` needs `cloudFront.certificate`: an ACM certificate in us-east-1 that covers them.');
    }
    if (options.certificate && domainNames.length === 0) {
      throw new Error('`cloudFront.certificate` needs `cloudFront.domainNames`: the names the certificate covers.');
    }
    if (options.certificate) {
      const region = certificateRegion(options.certificate);
      if (region !== undefined && region !== 'us-east-1') {
        throw new Error(
          `\`cloudFront.certificate\` is in ${region}, but CloudFront only uses ACM certificates from us-east-1. ` +
          'Issue the certificate in us-east-1 (a us-east-1 stack, or acm.Certificate in a stack with env.region us-east-1) and pass it here.',
        );
      }
    }
    const webAcl = options.webAcl ?? ProxyWebAcl.managed();
    if (webAcl._creates) {
      if (!Token.isUnresolved(stackRegion) && stackRegion !== 'us-east-1') {
        throw new Error(
          `\`cloudFront.webAcl\`: a CloudFront web ACL must be created in us-east-1, but this stack is in ${stackRegion}. ` +
          'Create it in a us-east-1 stack and pass ProxyWebAcl.fromArn(arn), or deploy this stack to us-east-1.',
        );
      }
      if (Token.isUnresolved(stackRegion)) {
        Annotations.of(this).addWarningV2('cdk-serverless-llm:cloudFrontWebAclRegion',
          'The CloudFront web ACL is created in this stack, which has no explicit region: deploy it to us-east-1, or pass ' +
          'cloudFront.webAcl: ProxyWebAcl.fromArn(arn) with a web ACL created in us-east-1.');
      }
    }
    const webAclArn = webAcl._bind(this, 'CdnWebAcl', { wafScope: 'CLOUDFRONT', logRetention, encryptionKey });

    const logBucket = options.logBucket ?? this.createAccessLogBucket(logRetention, encryptionKey);
    return new cloudfront.Distribution(this, 'Distribution', {
      comment: `LLM proxy ${this.node.path}`.slice(0, 128),
      domainNames: domainNames.length > 0 ? domainNames : undefined,
      certificate: options.certificate,
      minimumProtocolVersion: options.certificate ? cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 : undefined,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: options.priceClass,
      geoRestriction: options.geoRestriction,
      webAclId: webAclArn,
      enableLogging: true,
      logBucket,
      logFilePrefix: 'cloudfront/',
      defaultBehavior: {
        origin: this.createCloudFrontOrigin(),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        // The origin gets its own Host; the viewer's goes as x-forwarded-host, for the URLs the proxy returns.
        functionAssociations: [{ function: forwardedHost, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
        // Server-sent events must reach the client unbuffered.
        compress: false,
      },
    });
  }

  private createAccessLogBucket(logRetention: logs.RetentionDays, encryptionKey?: kms.IKey): s3.Bucket {
    const days = logRetention === logs.RetentionDays.INFINITE ? undefined : Duration.days(logRetention);
    const bucket = new s3.Bucket(this, 'AccessLogBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // CloudFront standard logging writes with ACLs.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      encryption: encryptionKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey,
      enforceSSL: true,
      versioned: true,
      lifecycleRules: days ? [{ expiration: days, noncurrentVersionExpiration: Duration.days(1) }] : undefined,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    if (encryptionKey) {
      // CloudFront's log delivery encrypts the objects it writes with the bucket's key.
      encryptionKey.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'AllowCloudFrontLogDelivery',
        principals: [new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
        actions: ['kms:GenerateDataKey*'],
        resources: ['*'],
        // Only log deliveries made for this account (confused-deputy protection).
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }));
    }
    return bucket;
  }

  /** Key-policy statements so CloudWatch Logs can encrypt the log groups and CloudWatch alarms can publish. */
  private allowServicesToUseKey(key: kms.IKey): void {
    const stack = Stack.of(this);
    const logsAdded = key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudWatchLogsOfThisAccount',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${stack.region}:${stack.account}:log-group:*` },
      },
    }));
    const alarmsAdded = key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudWatchAlarmsToPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      // Only alarms of this account (confused-deputy protection).
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
      },
    }));
    if (!logsAdded.statementAdded || !alarmsAdded.statementAdded) {
      Annotations.of(this).addWarningV2('cdk-serverless-llm:importedEncryptionKey',
        '`encryptionKey` is imported, so its key policy cannot be changed here: it must allow ' +
        `logs.${stack.region}.amazonaws.com (encrypt/decrypt for log groups) and cloudwatch.amazonaws.com (kms:Decrypt, kms:GenerateDataKey*), ` +
        'or deploying the log groups and alarm notifications fails.');
    }
  }

  private createAlarmTopic(encryptionKey?: kms.IKey): sns.Topic {
    return new sns.Topic(this, 'AlarmTopic', {
      displayName: 'LLM proxy alarms',
      enforceSSL: true,
      masterKey: encryptionKey,
    });
  }

  private createAlarms(options: ProxyAlarmOptions): cloudwatch.Alarm[] {
    const fiveMinutes = Duration.minutes(5);
    const p99Threshold = options.p99Duration ?? Duration.millis(Math.floor(this.timeout.toMilliseconds() * 0.9));
    const specs: { id: string; metric: cloudwatch.IMetric; threshold: number; description: string }[] = [
      {
        id: 'ErrorsAlarm',
        metric: this.function.metricErrors({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
        threshold: options.errorsPerFiveMinutes ?? 5,
        description: 'LLM proxy function errors (crashes or timeouts)',
      },
      {
        id: 'ThrottlesAlarm',
        metric: this.function.metricThrottles({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
        threshold: options.throttlesPerFiveMinutes ?? 1,
        description: 'LLM proxy invocations throttled by Lambda concurrency',
      },
      {
        id: 'DurationAlarm',
        metric: this.function.metricDuration({ period: fiveMinutes, statistic: cloudwatch.Stats.p(99) }),
        threshold: p99Threshold.toMilliseconds(),
        description: 'LLM proxy p99 duration close to the timeout',
      },
      {
        id: 'UpstreamThrottlesAlarm',
        metric: this.metricUpstreamThrottles({ period: fiveMinutes }),
        threshold: options.upstreamThrottlesPerFiveMinutes ?? 10,
        description: 'Bedrock throttling (429) responses to the LLM proxy',
      },
    ];
    if (options.tokensPerHour !== undefined) {
      specs.push({
        id: 'TokenUsageAlarm',
        metric: new cloudwatch.MathExpression({
          expression: 'input + output',
          usingMetrics: {
            input: this.metricInputTokens({ period: Duration.hours(1) }),
            output: this.metricOutputTokens({ period: Duration.hours(1) }),
          },
          period: Duration.hours(1),
          label: 'Tokens per hour',
        }),
        threshold: options.tokensPerHour,
        description: 'LLM proxy token usage per hour',
      });
    }
    // Team budgets: a burn-rate alarm each (CloudWatch cannot sum a calendar month in an alarm; see TeamBudget).
    for (const budget of this.gateway?.teamBudgets ?? []) {
      const percent = budget.alarmAtPercent ?? 80;
      const perDay = budget.monthlyUsd * percent / 100 / 30;
      specs.push({
        id: `TeamBudgetAlarm-${budget.team}`,
        metric: this.metricTeamEstimatedCost(budget.team, { period: Duration.days(1) }),
        threshold: perDay,
        description: `Team ${budget.team} spent $${perDay.toFixed(2)} or more in 24 hours, the pace of ${percent}% of its monthly budget of $${budget.monthlyUsd} in 30 days`,
      });
    }
    return this.createAlarmsFrom(specs);
  }

  private createAlarmsFrom(specs: { id: string; metric: cloudwatch.IMetric; threshold: number; description: string }[]): cloudwatch.Alarm[] {
    const action = new cwActions.SnsAction(this.alarmTopic);
    return specs.map((spec) => {
      const alarm = new cloudwatch.Alarm(this, spec.id, {
        metric: spec.metric,
        threshold: spec.threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${spec.description} (${this.node.path})`,
      });
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      return alarm;
    });
  }

  private createDashboard(): cloudwatch.Dashboard {
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(1),
    });
    const fn = this.function;
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Requests and errors',
        left: [this.metricRequests(), this.metricClientErrors(), this.metricUpstreamErrors(), fn.metricErrors()],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Throttling',
        left: [this.metricUpstreamThrottles(), this.metricRateLimited(), fn.metricThrottles(), this.metricRateLimiterUnavailable()],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Latency (ms)',
        left: [
          this.metricTimeToFirstToken({ statistic: cloudwatch.Stats.p(50), label: 'Time to first token p50' }),
          this.metricTimeToFirstToken({ label: 'Time to first token p90' }),
          fn.metricDuration({ statistic: cloudwatch.Stats.p(99), label: 'Function duration p99' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Tokens',
        left: [this.metricInputTokens(), this.metricOutputTokens(), this.metricCacheReadInputTokens(), this.metricCacheWriteInputTokens()],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Estimated cost (USD)',
        left: [this.metricEstimatedCost()],
        right: [fn.metric('ConcurrentExecutions', { statistic: cloudwatch.Stats.MAXIMUM, label: 'Concurrent executions' })],
        width: 12,
      }),
    );
    if (this.gatewayTable) {
      // One line per API key (the ten that spent most in the period), from the runtime's per-key spend metric.
      dashboard.addWidgets(new cloudwatch.GraphWidget({
        title: 'Spend per key, top 10 (USD)',
        left: [new cloudwatch.MathExpression({
          expression: `SORT(SEARCH('{${this.metricsNamespace},service,key} MetricName="KeyEstimatedCost" service="${this.serviceName}"', 'Sum', 300), SUM, DESC, 10)`,
          label: '',
          period: Duration.minutes(5),
        })],
        width: 24,
      }));
    }
    if (this.batchStores && this.batchWorkerResources) {
      dashboard.addWidgets(...batchWidgets(this.batchStores, this.batchWorkerResources.function));
    }
    return dashboard;
  }

  private acknowledgeByDesignFindings(input: {
    readonly props: StreamingLlmProxyProps;
    readonly vpc?: ec2.IVpc;
    readonly bedrockArns: readonly string[];
    readonly encryptionKey?: kms.IKey;
  }): void {
    const { props, vpc, bedrockArns, encryptionKey } = input;
    const dlqReason =
      'The proxy is only invoked synchronously (function URL or API Gateway) and answers every failure to the caller; ' +
      'a dead-letter queue only receives failed asynchronous invocations, which this function never gets.';
    acknowledgeNag(this.function,
      { id: 'Serverless-LambdaDLQ', reason: dlqReason },
      { id: 'NIST.800.53.R5-LambdaDLQ', reason: dlqReason },
      { id: 'HIPAA.Security-LambdaDLQ', reason: dlqReason },
    );
    if (props.reservedConcurrency === undefined) {
      const reason =
        'Reserved concurrency is opt-in (`reservedConcurrency`): reserving capacity fails to deploy in accounts at the default ' +
        'concurrency quota, and spend is bounded by the per-identity rate limits and the endpoint throttling instead.';
      acknowledgeNag(this.function,
        { id: 'NIST.800.53.R5-LambdaConcurrency', reason },
        { id: 'HIPAA.Security-LambdaConcurrency', reason },
      );
    }
    if (!vpc) {
      const reason =
        'The function calls only public AWS endpoints (Bedrock, Secrets Manager, DynamoDB) over TLS with SigV4, and Lambda function URLs ' +
        'cannot stream from a VPC-attached function; set `vpc` or `sessions` to attach it (the endpoint then becomes the REST API).';
      acknowledgeNag(this.function,
        { id: 'NIST.800.53.R5-LambdaInsideVPC', reason },
        { id: 'HIPAA.Security-LambdaInsideVPC', reason },
      );
    }

    const inline =
      'The role belongs to this function alone and its policy is generated from the construct\'s least-privilege grants (its log ' +
      'group, the catalogue\'s Bedrock models, its secrets); an inline policy is created and deleted with the role, which a ' +
      'separately managed policy would not improve.';
    acknowledgeNag(this.role,
      { id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: inline },
      { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: inline },
    );
    if (this.functionUrl && !this.auth.endpointIam && this.authMode !== ProxyAuthMode.NONE) {
      const how = this.authMode === ProxyAuthMode.API_KEYS ? 'an API key from Secrets Manager' : 'a JWT from the configured issuer';
      const reason =
        'The function URL is the proxy\'s public API endpoint (auth type NONE, because Anthropic and OpenAI clients cannot sign ' +
        `requests with SigV4); every request must carry ${how}, checked by the runtime before any upstream call.`;
      acknowledgeNag(this.alias,
        { id: 'NIST.800.53.R5-LambdaFunctionPublicAccessProhibited', reason },
        { id: 'HIPAA.Security-LambdaFunctionPublicAccessProhibited', reason },
      );
    }

    const bedrockAcks: { id: string; reason: string }[] = [];
    const policy = this.role.node.tryFindChild('DefaultPolicy');
    if (policy) {
      const acks = [{
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray PutTraceSegments/PutTelemetryRecords' + (vpc ? ' and the EC2 network-interface actions Lambda uses to attach the function to the VPC' : '') +
          ' do not support resource-level permissions, so they are granted on Resource "*".',
      }];
      const bedrockStart = acks.length;
      for (const arn of bedrockArns.filter((a) => !Token.isUnresolved(a) && a.includes('*'))) {
        const fallback = arn.includes('anthropic.claude-*');
        acks.push({
          id: `AwsSolutions-IAM5[Resource::${arn}]`,
          reason: fallback
            ? 'The claude-* fallback (claudeFallback) maps new Claude model names to Bedrock ids at request time; the grant is limited to ' +
              'anthropic.claude-* foundation models and the configured profile prefix, never all models. Set claudeFallback: NONE to remove it.'
            : 'Bedrock cross-region inference profiles route to foundation models in every region of the profile (and models may set ' +
              'their own region or failover region); the ARN pattern is limited to the configured model id. Foundation-model ARNs ' +
              'have an empty account segment, and partition and account are * only in stacks without an explicit environment.',
        });
      }
      bedrockAcks.push(...acks.slice(bedrockStart));
      if (this.batchStores) {
        acks.push({
          id: batchObjectsFindingId(this.batchStores.bucket),
          reason: 'The proxy writes each batch\'s input, reads its results and deletes its objects when the batch is deleted; batch ids ' +
            'are created at request time, so the grant covers the batches/ prefix of the construct\'s own batch bucket.',
        });
      }
      acknowledgeNag(policy, ...acks);
    }
    const workerPolicy = this.batchWorkerResources?.role.node.tryFindChild('DefaultPolicy');
    if (workerPolicy && this.batchStores) {
      acknowledgeNag(workerPolicy, {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions, so they are granted on Resource "*".',
      }, ...bedrockAcks, {
        id: batchObjectsFindingId(this.batchStores.bucket),
        reason: 'The worker reads each request\'s line of a batch\'s input and writes its result; batch ids are created at request ' +
          'time, so the grant covers the batches/ prefix of the construct\'s own batch bucket.',
      });
    }
    if (this.batchStores) acknowledgeBatchInferenceFindings(this.batchStores, { proxyPolicy: policy, workerPolicy, bedrockAcks });

    if (this.gateway?.created) {
      const backup =
        'Point-in-time recovery is on (restore to any second of the last 35 days) and deletion protection is on by default; ' +
        'the table holds key digests, limit counters and spend, and an AWS Backup plan is an account-level choice: add the table ' +
        'to yours with backup.BackupResource.fromDynamoDbTable(proxy.gatewayTable).';
      acknowledgeNag(this.gateway.table,
        { id: 'NIST.800.53.R5-DynamoDBInBackupPlan', reason: backup },
        { id: 'HIPAA.Security-DynamoDBInBackupPlan', reason: backup },
      );
    }

    const createdSecret = this.node.tryFindChild('ApiKeys');
    if (createdSecret) {
      const rotation =
        'API keys are handed to client developers and tools (Claude Code, SDKs); automatic rotation would revoke keys nobody ' +
        'received. Keys are rotated by adding a new key name to the secret and deleting the old one once clients have moved.';
      acknowledgeNag(createdSecret,
        { id: 'AwsSolutions-SMG4', reason: rotation },
        { id: 'NIST.800.53.R5-SecretsManagerRotationEnabled', reason: rotation },
        { id: 'HIPAA.Security-SecretsManagerRotationEnabled', reason: rotation },
      );
      if (!encryptionKey) {
        const reason = 'Encrypted with the AWS managed key aws/secretsmanager by default; pass `encryptionKey` for a customer managed key.';
        acknowledgeNag(createdSecret,
          { id: 'NIST.800.53.R5-SecretsManagerUsingKMSKey', reason },
          { id: 'HIPAA.Security-SecretsManagerUsingKMSKey', reason },
        );
      }
    }

    if (!encryptionKey) {
      const reason = 'Log groups are encrypted with CloudWatch Logs\' service-managed key by default; pass `encryptionKey` for a customer managed key.';
      for (const logGroup of this.node.findAll().filter((c) => c instanceof logs.LogGroup)) {
        acknowledgeNag(logGroup,
          { id: 'NIST.800.53.R5-CloudWatchLogGroupEncrypted', reason },
          { id: 'HIPAA.Security-CloudWatchLogGroupEncrypted', reason },
        );
      }
      const topic = this.node.tryFindChild('AlarmTopic');
      if (topic) {
        const topicReason =
          'Alarm notifications carry only alarm names and states (no prompts or keys), and CloudWatch cannot publish to topics ' +
          'encrypted with the AWS managed SNS key; pass `encryptionKey` to encrypt the topic with a customer managed key.';
        acknowledgeNag(topic,
          { id: 'AwsSolutions-SNS2', reason: topicReason },
          { id: 'NIST.800.53.R5-SNSEncryptedKMS', reason: topicReason },
          { id: 'HIPAA.Security-SNSEncryptedKMS', reason: topicReason },
        );
      }
    }

    if (this.restApi) this.acknowledgeRestApiFindings();
    if (this.distribution) this.acknowledgeDistributionFindings(props.cloudFront!, encryptionKey);
  }

  private acknowledgeRestApiFindings(): void {
    const api = this.restApi!;
    const validation =
      'The proxy runtime validates every request body against the Anthropic or OpenAI schema and answers in the client\'s own ' +
      'error format; an API Gateway request validator would answer with a different error shape that SDKs cannot parse.';
    acknowledgeNag(api, { id: 'AwsSolutions-APIG2', reason: validation });
    const cache =
      'API Gateway response streaming (ResponseTransferMode.STREAM) does not support endpoint caching, and LLM completions must ' +
      'never be served from a cache.';
    const backendCert =
      'The only backend is a Lambda proxy integration, invoked through the Lambda API with SigV4; client certificates apply to ' +
      'HTTP backends only.';
    acknowledgeNag(api.deploymentStage,
      { id: 'NIST.800.53.R5-APIGWCacheEnabledAndEncrypted', reason: cache },
      { id: 'HIPAA.Security-APIGWCacheEnabledAndEncrypted', reason: cache },
      { id: 'NIST.800.53.R5-APIGWSSLEnabled', reason: backendCert },
      { id: 'HIPAA.Security-APIGWSSLEnabled', reason: backendCert },
    );
    if (this.auth.endpointIam) {
      acknowledgeNag(api, {
        id: 'AwsSolutions-COG4',
        reason: 'Callers authenticate with AWS SigV4 (AWS_IAM authorization, ProxyAuth.iam()); there is no Cognito user pool.',
      });
    } else if (this.authMode !== ProxyAuthMode.NONE) {
      const how = this.authMode === ProxyAuthMode.API_KEYS
        ? 'API keys from Secrets Manager, compared in constant time'
        : 'JWTs verified against the issuer\'s published keys';
      const reason =
        `Callers authenticate in the proxy runtime with ${how}: Anthropic and OpenAI clients send credentials in x-api-key / ` +
        'Authorization headers in their own formats, which the runtime checks on every request before any upstream call.';
      acknowledgeNag(api,
        { id: 'AwsSolutions-APIG4', reason },
        { id: 'AwsSolutions-COG4', reason },
      );
    }
    const logsPolicy = this.node.tryFindChild('ApiGatewayLogsPolicy');
    if (logsPolicy) {
      acknowledgeNag(logsPolicy, {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'This is the account-level API Gateway logging role: it writes execution logs (API-Gateway-Execution-Logs_*) and ' +
          'access logs to whichever log group each stage of every REST API in the account and region names, like the AWS managed ' +
          'AmazonAPIGatewayPushToCloudWatchLogs policy it replaces.',
      });
    }
  }

  private acknowledgeDistributionFindings(options: ProxyCloudFrontOptions, encryptionKey?: kms.IKey): void {
    const distribution = this.distribution!;
    if (!options.geoRestriction) {
      acknowledgeNag(distribution, {
        id: 'AwsSolutions-CFR1',
        reason: 'The proxy serves authenticated API clients wherever they are; set `cloudFront.geoRestriction` to limit countries.',
      });
    }
    if (!options.certificate) {
      acknowledgeNag(distribution, {
        id: 'AwsSolutions-CFR4',
        reason: 'Without a custom domain the distribution uses the *.cloudfront.net certificate, whose minimum TLS version CloudFront ' +
          'fixes; pass `cloudFront.domainNames` and `certificate` to enforce TLSv1.2_2021.',
      });
    }
    const bucket = this.node.tryFindChild('AccessLogBucket');
    if (bucket) {
      const selfLog = 'This bucket is the access-log destination itself; logging its own access would log the log deliveries.';
      const replication = 'CloudFront access logs are operational data that expire with the log retention; cross-region replication would only copy them.';
      const lock = 'Object Lock would stop the lifecycle rule from expiring access logs at the end of the log retention.';
      acknowledgeNag(bucket,
        { id: 'AwsSolutions-S1', reason: selfLog },
        { id: 'NIST.800.53.R5-S3BucketLoggingEnabled', reason: selfLog },
        { id: 'HIPAA.Security-S3BucketLoggingEnabled', reason: selfLog },
        { id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason: replication },
        { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: replication },
        { id: 'NIST.800.53.R5-S3BucketDefaultLockEnabled', reason: lock },
        { id: 'HIPAA.Security-S3BucketDefaultLockEnabled', reason: lock },
      );
      if (!encryptionKey) {
        const sse = 'Access logs are encrypted with SSE-S3 by default; pass `encryptionKey` to encrypt them with a customer managed key.';
        acknowledgeNag(bucket,
          { id: 'NIST.800.53.R5-S3DefaultEncryptionKMS', reason: sse },
          { id: 'HIPAA.Security-S3DefaultEncryptionKMS', reason: sse },
        );
      }
    }
  }
}

/** The worker's environment: BATCH_WORKER_ENV and PROXY_BATCH_* from the proxy's. */
function batchWorkerEnvironment(environment: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(environment)
    .filter(([name]) => BATCH_WORKER_ENV.includes(name) || name.startsWith('PROXY_BATCH_')));
}

/** The ARN to grant for a secret: the full ARN when known, else the partial ARN with Secrets Manager's 6-character suffix. */
function secretResourceArn(secret: secretsmanager.ISecret): string {
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}

/** The region of a certificate when it can be known at synth time. */
function certificateRegion(certificate: { readonly certificateArn: string; readonly env?: { readonly region: string } }): string | undefined {
  const arn = certificate.certificateArn;
  if (!Token.isUnresolved(arn)) {
    const region = arn.split(':')[3];
    return region || undefined;
  }
  const region = certificate.env?.region;
  return region && !Token.isUnresolved(region) ? region : undefined;
}

function validateScalars(props: StreamingLlmProxyProps, timeout: Duration): void {
  const positiveInt = (name: string, value: number | undefined, max?: number) => {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!Number.isInteger(value) || value < 1 || (max !== undefined && value > max)) {
      throw new Error(`\`${name}\` must be an integer from 1${max !== undefined ? ` to ${max}` : ''}, got ${value}.`);
    }
  };
  if (props.memorySize !== undefined && !Token.isUnresolved(props.memorySize)
    && !(Number.isInteger(props.memorySize) && props.memorySize >= 128 && props.memorySize <= 10240)) {
    throw new Error(`\`memorySize\` must be an integer from 128 to 10240 MB, got ${props.memorySize}.`);
  }
  if (!timeout.isUnresolved() && (timeout.toMilliseconds() > MAX_TIMEOUT.toMilliseconds() || timeout.toMilliseconds() < 1000)) {
    throw new Error(`\`timeout\` must be from 1 second to 15 minutes (the limit of Lambda and of both streaming endpoints), got ${timeout.toHumanString()}.`);
  }
  positiveInt('reservedConcurrency', props.reservedConcurrency);
  positiveInt('provisionedConcurrency', props.provisionedConcurrency);
  if (props.reservedConcurrency !== undefined && props.provisionedConcurrency !== undefined
    && props.provisionedConcurrency > props.reservedConcurrency) {
    throw new Error(`\`provisionedConcurrency\` (${props.provisionedConcurrency}) cannot exceed \`reservedConcurrency\` (${props.reservedConcurrency}).`);
  }
  if (props.maxRequestBodySize !== undefined) {
    const b = props.maxRequestBodySize.toBytes();
    if (!(b >= 1024 && b <= MAX_REQUEST_BYTES)) {
      throw new Error(`\`maxRequestBodySize\` must be from 1 KiB to 6 MiB (Lambda's request payload limit), got ${b} bytes.`);
    }
  }
  if (props.pingInterval !== undefined) {
    const ms = props.pingInterval.toMilliseconds();
    if (!(ms >= 1000 && ms <= 60_000)) {
      throw new Error('`pingInterval` must be from 1 to 60 seconds: CloudFront and API Gateway close streams that stay silent longer.');
    }
  }
  if (props.sessionTtl !== undefined && props.sessionTtl.toSeconds() < 60) {
    throw new Error('`sessionTtl` must be at least 1 minute.');
  }
  if (props.sessionMaxSize !== undefined && props.sessionMaxSize.toBytes() < 1024) {
    throw new Error('`sessionMaxSize` must be at least 1 KiB.');
  }
  const limits = props.rateLimits ?? {};
  positiveInt('rateLimits.requestsPerMinute', limits.requestsPerMinute);
  positiveInt('rateLimits.tokensPerMinute', limits.tokensPerMinute);
  positiveInt('rateLimits.tokensPerDay', limits.tokensPerDay);
  if (props.failoverRegion !== undefined && !Token.isUnresolved(props.failoverRegion) && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(props.failoverRegion)) {
    throw new Error(`\`failoverRegion\` must be a region name such as 'us-west-2', got '${props.failoverRegion}'.`);
  }
  if (props.serviceName !== undefined && !/^[A-Za-z0-9._\-]{1,255}$/.test(props.serviceName)) {
    throw new Error('`serviceName` may contain only letters, digits, \'.\', \'_\' and \'-\' (it is a metric dimension value).');
  }
  if (props.metricsNamespace !== undefined && !/^[A-Za-z0-9._\-/#:]{1,255}$/.test(props.metricsNamespace)) {
    throw new Error('`metricsNamespace` may contain only letters, digits and . _ - / # : (a CloudWatch namespace).');
  }
  if (props.parameterPrefix !== undefined && !/^(\/[A-Za-z0-9_.\-]+)+$/.test(props.parameterPrefix)) {
    throw new Error(`\`parameterPrefix\` must be an SSM path such as '/llm-proxy/prod' (leading '/', no trailing '/'), got '${props.parameterPrefix}'.`);
  }
  for (const origin of props.corsAllowOrigins ?? []) {
    if (origin !== '*' && !/^https?:\/\/[^/\s,]+$/.test(origin)) {
      throw new Error(`\`corsAllowOrigins\`: '${origin}' is not an origin; use scheme://host[:port] without a path, e.g. https://chat.example.com.`);
    }
  }
  for (const beta of props.extraBetas ?? []) {
    if (!/^[A-Za-z0-9._\-]+$/.test(beta)) {
      throw new Error(`\`extraBetas\`: '${beta}' is not a beta flag name (letters, digits, '.', '_', '-').`);
    }
  }
}
