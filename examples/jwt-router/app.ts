import { App, CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, ServerlessChecks } from 'cdk-nag';
import {
  ClaudeFallback, JwtTokenUse, ProxyAuth, ProxyEndpoint, RateLimitFailureMode, StreamingLlmProxy, VpcRedisSessions,
} from '../../src';

/** The API Gateway stage: the first path segment of every URL. */
const STAGE = 'prod';

/** The OpenAI Chat Completions request fields API Gateway checks before the function is invoked. */
export const CHAT_COMPLETIONS_SCHEMA: apigateway.JsonSchema = {
  schema: apigateway.JsonSchemaVersion.DRAFT4,
  title: 'ChatCompletionsRequest',
  type: apigateway.JsonSchemaType.OBJECT,
  required: ['model', 'messages'],
  properties: {
    model: { type: apigateway.JsonSchemaType.STRING, minLength: 1, maxLength: 200 },
    messages: {
      type: apigateway.JsonSchemaType.ARRAY,
      minItems: 1,
      items: {
        type: apigateway.JsonSchemaType.OBJECT,
        required: ['role'],
        properties: {
          role: { type: apigateway.JsonSchemaType.STRING, enum: ['system', 'developer', 'user', 'assistant', 'tool'] },
        },
      },
    },
    stream: { type: apigateway.JsonSchemaType.BOOLEAN },
    max_tokens: { type: apigateway.JsonSchemaType.INTEGER, minimum: 1 },
    max_completion_tokens: { type: apigateway.JsonSchemaType.INTEGER, minimum: 1 },
    temperature: { type: apigateway.JsonSchemaType.NUMBER, minimum: 0, maximum: 2 },
  },
};

/** The catalogue names the router serves; nothing else is callable. */
export const APPROVED_MODELS = ['chat', 'chat-fast', 'nova-pro'];
/** Requests per batch: the proxy's `batches.maxRequestsPerBatch` and the schema's `maxItems`. */
export const MAX_BATCH_REQUESTS = 1000;

/** The Message Batches request fields API Gateway checks before the job is enqueued (the proxy validates the rest). */
export const MESSAGE_BATCH_SCHEMA: apigateway.JsonSchema = {
  schema: apigateway.JsonSchemaVersion.DRAFT4,
  title: 'MessageBatchRequest',
  type: apigateway.JsonSchemaType.OBJECT,
  required: ['requests'],
  properties: {
    requests: {
      type: apigateway.JsonSchemaType.ARRAY,
      minItems: 1,
      maxItems: MAX_BATCH_REQUESTS,
      items: {
        type: apigateway.JsonSchemaType.OBJECT,
        required: ['custom_id', 'params'],
        properties: {
          custom_id: { type: apigateway.JsonSchemaType.STRING, pattern: '^[A-Za-z0-9_-]{1,64}$' },
          params: {
            type: apigateway.JsonSchemaType.OBJECT,
            required: ['model', 'max_tokens', 'messages'],
            properties: {
              model: { type: apigateway.JsonSchemaType.STRING, enum: APPROVED_MODELS },
              max_tokens: { type: apigateway.JsonSchemaType.INTEGER, minimum: 1 },
              messages: {
                type: apigateway.JsonSchemaType.ARRAY,
                minItems: 1,
                items: {
                  type: apigateway.JsonSchemaType.OBJECT,
                  required: ['role', 'content'],
                  properties: { role: { type: apigateway.JsonSchemaType.STRING, enum: ['user', 'assistant'] } },
                },
              },
            },
          },
        },
      },
    },
  },
};

/**
 * A JWT-protected, OpenAI-compatible LLM endpoint for a company's internal apps and users: Cognito issues the tokens
 * (users through the hosted sign-in with MFA, services through the client-credentials grant), the proxy verifies them
 * and rate-limits each identity with counters in ElastiCache, and API Gateway REST response streaming validates chat
 * requests before a function runs, answers `/health` for the Route 53 health check, and streams the completions.
 * Batch jobs are enqueued through the Message Batches API: API Gateway validates the batch, the proxy queues one SQS
 * message per request, and a worker with bounded concurrency runs them and keeps the results in S3.
 */
export function buildApp(app: App = new App()): App {
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app),
  );
  const stack = new Stack(app, 'JwtRouter', {
    description: 'JWT-protected OpenAI-compatible endpoint on API Gateway REST streaming, with Redis-backed rate limits',
  });

  // --- identity: a user pool for people and a resource server for services ------------------------------------------
  const users = new cognito.UserPool(stack, 'Users', {
    selfSignUpEnabled: false,
    signInAliases: { email: true },
    mfa: cognito.Mfa.REQUIRED,
    mfaSecondFactor: { otp: true, sms: false },
    passwordPolicy: {
      minLength: 14, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: true,
    },
    accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
    featurePlan: cognito.FeaturePlan.PLUS,
    standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
    deletionProtection: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const domain = users.addDomain('Domain', { cognitoDomain: { domainPrefix: 'example-llm-router' } });
  const llmScope = new cognito.ResourceServerScope({ scopeName: 'chat', scopeDescription: 'Call the LLM router' });
  const resourceServer = users.addResourceServer('Api', { identifier: 'llm-router', scopes: [llmScope] });
  // People: the internal web app signs them in (authorization code + PKCE) and sends their access token.
  const webClient = users.addClient('WebApp', {
    generateSecret: false,
    authFlows: { userSrp: true },
    oAuth: {
      flows: { authorizationCodeGrant: true },
      scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.resourceServer(resourceServer, llmScope)],
      callbackUrls: ['https://tools.example.com/callback'],
    },
    accessTokenValidity: Duration.hours(1),
    preventUserExistenceErrors: true,
  });
  // Services: batch jobs get tokens with the client-credentials grant (the token's `sub` is the client id).
  const serviceClient = users.addClient('BatchJobs', {
    generateSecret: true,
    oAuth: {
      flows: { clientCredentials: true },
      scopes: [cognito.OAuthScope.resourceServer(resourceServer, llmScope)],
    },
    accessTokenValidity: Duration.hours(1),
  });

  // One customer managed key for the flow logs, the cache, the proxy's logs and its alarm topic.
  const key = new kms.Key(stack, 'Key', { description: 'LLM router: logs, cache data and alarms', enableKeyRotation: true });

  // --- network: private subnets with a NAT gateway (the proxy fetches Cognito's signing keys from the internet) -------
  const flowLogs = new logs.LogGroup(stack, 'FlowLogs', { retention: logs.RetentionDays.THREE_MONTHS, encryptionKey: key });
  // The flow-log role gets a managed policy scoped to its log group (no inline policy).
  const flowLogRole = new iam.Role(stack, 'FlowLogRole', {
    assumedBy: new iam.ServicePrincipal('vpc-flow-logs.amazonaws.com'),
    description: 'Delivers the LLM router VPC flow logs',
  });
  flowLogRole.addManagedPolicy(new iam.ManagedPolicy(stack, 'FlowLogPolicy', {
    statements: [new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      resources: [flowLogs.logGroupArn],
    })],
  }));
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
      { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
    ],
    restrictDefaultSecurityGroup: true,
    flowLogs: {
      All: {
        destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs, flowLogRole.withoutPolicyUpdates()),
        trafficType: ec2.FlowLogTrafficType.ALL,
      },
    },
  });
  // The NAT gateway needs a route to the internet gateway; nothing else runs in the public subnets.
  for (const subnet of vpc.publicSubnets) {
    const reason = 'The public subnets hold only the NAT gateway, which needs this route to reach the internet (the proxy fetches ' +
      'the Cognito user pool\'s signing keys through it); functions and the cache run in the private subnets.';
    Validations.of(subnet).acknowledge(
      { id: 'NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW', reason },
      { id: 'HIPAA.Security-VPCNoUnrestrictedRouteToIGW', reason },
    );
  }
  // Rate-limit counters shared by every function instance: Valkey with IAM auth, two nodes in two zones, and interface
  // endpoints so Bedrock, Secrets Manager and CloudWatch traffic stays off the NAT gateway.
  const limits = new VpcRedisSessions(stack, 'Limits', { vpc, vpcEndpoints: true, encryptionKey: key });

  // --- the router -------------------------------------------------------------------------------------------------
  const router = new StreamingLlmProxy(stack, 'Router', {
    auth: ProxyAuth.jwt({
      issuer: users.userPoolProviderUrl,
      audience: [webClient.userPoolClientId, serviceClient.userPoolClientId],
      tokenUse: JwtTokenUse.ACCESS,
    }),
    sessions: limits,
    encryptionKey: key,
    endpoint: ProxyEndpoint.restApi({ stageName: STAGE, throttlingRateLimit: 100, throttlingBurstLimit: 200 }),
    rateLimits: { requestsPerMinute: 30, tokensPerMinute: 200_000, tokensPerDay: 5_000_000 },
    // Without the counter store nobody is limited, so refuse (503) instead of admitting everyone.
    rateLimitFailureMode: RateLimitFailureMode.CLOSED,
    // Only the models the company approved, under stable names; nothing else is callable (nor in the IAM policy).
    replaceDefaultModels: true,
    claudeFallback: ClaudeFallback.NONE,
    models: [
      {
        id: 'chat',
        displayName: 'Claude Sonnet 4.6',
        target: 'global.anthropic.claude-sonnet-4-6',
        pricing: { inputPerMTok: 3, outputPerMTok: 15 },
      },
      {
        id: 'chat-fast',
        displayName: 'Claude Haiku 4.5',
        target: 'global.anthropic.claude-haiku-4-5-20251001-v1:0',
        pricing: { inputPerMTok: 1, outputPerMTok: 5 },
      },
      { id: 'nova-pro', displayName: 'Amazon Nova Pro', target: 'us.amazon.nova-pro-v1:0', pricing: { inputPerMTok: 0.8, outputPerMTok: 3.2 } },
    ],
    // Async jobs: POST /v1/messages/batches queues one SQS message per request; at most 4 workers run at once, so
    // batches never take the Bedrock quota interactive users need.
    batches: { maxRequestsPerBatch: MAX_BATCH_REQUESTS, workerConcurrency: 4 },
  });

  // --- request validation on POST /v1/chat/completions, in the OpenAI error format --------------------------------
  const api = router.restApi!;
  const streaming = new apigateway.LambdaIntegration(router.alias, {
    proxy: true,
    responseTransferMode: apigateway.ResponseTransferMode.STREAM,
    timeout: Duration.minutes(15),
    allowTestInvoke: false,
  });
  const v1 = api.root.addResource('v1');
  // Everything else under /v1 (models, embeddings, responses) goes to the router as before.
  v1.addResource('{proxy+}').addMethod('ANY', streaming);
  v1.addResource('chat').addResource('completions').addMethod('POST', streaming, {
    requestValidator: api.addRequestValidator('ChatCompletionsValidator', {
      requestValidatorName: 'chat-completions-body',
      validateRequestBody: true,
      validateRequestParameters: true,
    }),
    requestModels: { 'application/json': api.addModel('ChatCompletionsRequest', { contentType: 'application/json', schema: CHAT_COMPLETIONS_SCHEMA }) },
    requestParameters: { 'method.request.header.Authorization': true },
  });

  // --- Message Batches: POST /v1/messages/batches validated before the jobs are enqueued ----------------------------
  // API Gateway routes a path to its most specific resource and does not fall back to /v1/{proxy+}, so once
  // /v1/messages/batches exists, /v1/messages and the other routes under it need their own methods.
  const messages = v1.addResource('messages');
  messages.addMethod('ANY', streaming);
  messages.addResource('{proxy+}').addMethod('ANY', streaming);
  const batches = messages.addResource('batches');
  batches.addMethod('POST', streaming, {
    requestValidator: api.addRequestValidator('MessageBatchValidator', {
      requestValidatorName: 'message-batch-body',
      validateRequestBody: true,
      validateRequestParameters: true,
    }),
    requestModels: { 'application/json': api.addModel('MessageBatchRequest', { contentType: 'application/json', schema: MESSAGE_BATCH_SCHEMA }) },
    requestParameters: { 'method.request.header.Authorization': true },
  });
  // List; retrieve, cancel, results and delete of one batch (the proxy shows a caller only its own batches).
  batches.addMethod('GET', streaming);
  batches.addResource('{proxy+}').addMethod('ANY', streaming);

  // OpenAI SDKs parse `{ "error": { "message", "type" } }`; API Gateway's default is `{ "message": ... }`.
  // (Gateway response templates substitute variables only; messageString is already a quoted JSON string.)
  const openAiError = (type: string, message: string) =>
    `{"error":{"message":${message},"type":"${type}","param":null,"code":null}}`;
  api.addGatewayResponse('InvalidBody', {
    type: apigateway.ResponseType.BAD_REQUEST_BODY,
    statusCode: '400',
    templates: { 'application/json': openAiError('invalid_request_error', '$context.error.messageString') },
  });
  api.addGatewayResponse('MissingToken', {
    type: apigateway.ResponseType.BAD_REQUEST_PARAMETERS,
    statusCode: '401',
    templates: { 'application/json': openAiError('authentication_error', '"Send an access token from the company sign-in as Authorization: Bearer <token>."') },
  });

  // --- /health: unauthenticated, for the Route 53 health check ------------------------------------------------------
  api.root.addResource('health').addMethod('GET', streaming);
  const apiHost = `${api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}`;
  const healthCheck = new route53.CfnHealthCheck(stack, 'HealthCheck', {
    healthCheckConfig: {
      type: 'HTTPS',
      fullyQualifiedDomainName: apiHost,
      resourcePath: `/${STAGE}/health`,
      requestInterval: 30,
      failureThreshold: 3,
    },
  });
  const unhealthy = new cloudwatch.Alarm(stack, 'HealthAlarm', {
    alarmDescription: 'The LLM router\'s /health endpoint fails the Route 53 health check',
    metric: new cloudwatch.Metric({
      namespace: 'AWS/Route53',
      metricName: 'HealthCheckStatus',
      dimensionsMap: { HealthCheckId: healthCheck.attrHealthCheckId },
      statistic: cloudwatch.Stats.MINIMUM,
      period: Duration.minutes(1),
    }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: 3,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
  unhealthy.addAlarmAction(new cwActions.SnsAction(router.alarmTopic));
  unhealthy.addOkAction(new cwActions.SnsAction(router.alarmTopic));

  new CfnOutput(stack, 'OpenAiBaseUrl', { value: `${api.url}v1`, description: 'baseURL for the OpenAI SDKs' });
  new CfnOutput(stack, 'AnthropicBaseUrl', { value: api.url, description: 'baseURL for the Anthropic SDKs (Message Batches)' });
  new CfnOutput(stack, 'TokenUrl', {
    value: `${domain.baseUrl()}/oauth2/token`,
    description: 'Cognito token endpoint (client-credentials grant for services, scope llm-router/chat)',
  });
  new CfnOutput(stack, 'UserPoolId', { value: users.userPoolId });
  new CfnOutput(stack, 'BatchJobsClientId', { value: serviceClient.userPoolClientId });
  return app;
}
