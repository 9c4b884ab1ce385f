import * as path from 'path';
import { App, CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, ServerlessChecks } from 'cdk-nag';
import { ClaudeFallback, GithubOidcDeployer, ProxyAuth, StreamingLlmProxy, TrustFilter } from '../../src';

/** The code of both services (plain CommonJS on the runtime's AWS SDK; the triage image is built from the same folder). */
export const SERVICES_DIR = path.join(__dirname, 'services');
const ENV = { account: '123456789012', region: 'us-east-1' };
const CROSS_STACK_REFERENCES = '@aws-cdk/core:defaultCrossStackReferences';
const SUMMARIZER_NAME = 'multi-service-summarizer';
const TRIAGE_NAME = 'multi-service-triage';
const AGENT_NAME = 'multi-service-agent';
const API_NAME = 'multi-service-api';
/** The names the GitHub workflow (.github/workflows/deploy.yml) and the README use. */
export const NAMES = {
  account: ENV.account,
  region: ENV.region,
  functions: { summarizer: SUMMARIZER_NAME, triage: TRIAGE_NAME, agent: AGENT_NAME, api: API_NAME },
  repositories: { triage: 'multi-service/triage', agent: 'multi-service/agent' },
  alias: 'live',
  /** The agent's OpenAI-style key: a SecureString the stack does not create (CloudFormation cannot); see README. */
  agentKeyParameter: '/multi-service/agent/openai-api-key',
  agentKeyAlias: 'alias/multi-service/agent-key',
  apiUrlParameter: '/multi-service/api/url',
  tripProxyPrefix: '/multi-service/trip-proxy',
} as const;

/**
 * Application services that reach Bedrock only through LLM proxies: the summarizer and triage services sign every call
 * with their own IAM role, so limits and metering are per service and no service holds Bedrock permissions; they read
 * their configuration (proxy URL, model, token budget) from SSM Parameter Store. The trip assistant (an HTTP API, its
 * API service and its agent service) is described at buildTripAssistant(). GitHub Actions jobs in the `production`
 * environment push the container images (triage, agent) to ECR and ship new code by publishing a version and moving
 * the `live` aliases, with a smoke check and rollback (.github/workflows/deploy.yml).
 *
 * Two stacks: `MultiServiceCi` (the image repositories and the deploy role) is deployed once by hand, so CI can push the
 * first images before `MultiService` creates the functions that run them.
 */
export function buildApp(app: App = new App()): App {
  // MultiService imports the image repositories from MultiServiceCi. Strong references (CloudFormation exports) keep a
  // repository from being removed while a function still runs its images; say so, instead of the CLI's warning that
  // no strength was chosen.
  if (app.node.tryGetContext(CROSS_STACK_REFERENCES) === undefined) app.node.setContext(CROSS_STACK_REFERENCES, 'strong');
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app),
  );

  // --- CI stack: image repository and the GitHub deploy role ----------------------------------------------------------
  const ci = new Stack(app, 'MultiServiceCi', { env: ENV, description: 'Image repositories and GitHub Actions deploy role of the LLM services' });
  // One repository per container service, each with immutable tags (a git sha names one image forever) and scan on push.
  const imageRepository = (id: string, repositoryName: string) => new ecr.Repository(ci, id, {
    repositoryName,
    imageScanOnPush: true,
    imageTagMutability: ecr.TagMutability.IMMUTABLE,
    encryption: ecr.RepositoryEncryption.KMS,
    lifecycleRules: [{ description: 'Keep the last 30 images', maxImageCount: 30 }],
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const repository = imageRepository('TriageImages', NAMES.repositories.triage);
  const agentRepository = imageRepository('AgentImages', NAMES.repositories.agent);
  const deployer = new GithubOidcDeployer(ci, 'Deployer', {
    repository: 'example-org/llm-services',
    // The `production` environment alone: with grantCdkDeploy() this role is admin-equivalent in the account (README),
    // so only jobs that pass the environment's protection rules (required reviewers) may assume it - not every job on main.
    filters: [TrustFilter.environment('production')],
  });
  deployer.grantEcrPush(repository);
  deployer.grantEcrPush(agentRepository);
  // The functions live in the other stack under fixed names, so the role can exist before they do.
  deployer.grantLambdaDeploy(lambda.Function.fromFunctionName(ci, 'SummarizerRef', SUMMARIZER_NAME));
  deployer.grantLambdaDeploy(lambda.Function.fromFunctionName(ci, 'TriageRef', TRIAGE_NAME));
  deployer.grantLambdaDeploy(lambda.Function.fromFunctionName(ci, 'AgentRef', AGENT_NAME));
  // The workflow's smoke check reads the API's URL from SSM (a parameter of the other stack, by its fixed name).
  new iam.ManagedPolicy(ci, 'SmokeCheckPolicy', {
    description: 'Lets the deploy workflow read the URL of the multi-service API for its smoke check',
    roles: [deployer.role],
    statements: [new iam.PolicyStatement({
      actions: ['ssm:GetParameter'],
      resources: [ci.formatArn({ service: 'ssm', resource: 'parameter', resourceName: NAMES.apiUrlParameter.slice(1) })],
    })],
  });
  // ...and `cdk deploy MultiService` through the bootstrap roles.
  deployer.grantCdkDeploy();
  new CfnOutput(ci, 'RepositoryUri', { value: repository.repositoryUri });
  new CfnOutput(ci, 'AgentRepositoryUri', { value: agentRepository.repositoryUri });

  // --- services stack ----------------------------------------------------------------------------------------------
  const stack = new Stack(app, 'MultiService', { env: ENV, description: 'LLM-backed services and the trip assistant API behind streaming Bedrock proxies' });
  const key = new kms.Key(stack, 'Key', { description: 'LLM services: logs, dead-letter queues and alarms', enableKeyRotation: true });

  // The proxy: IAM auth on a streaming function URL; only the two approved models; URL published as /multi-service/llm-proxy/url.
  const proxy = new StreamingLlmProxy(stack, 'LlmProxy', {
    auth: ProxyAuth.iam(),
    encryptionKey: key,
    parameterPrefix: '/multi-service/llm-proxy',
    replaceDefaultModels: true,
    claudeFallback: ClaudeFallback.NONE,
    models: [
      { id: 'claude-haiku-4-5', target: 'global.anthropic.claude-haiku-4-5-20251001-v1:0', pricing: { inputPerMTok: 1, outputPerMTok: 5 } },
      { id: 'claude-sonnet-4-6', target: 'global.anthropic.claude-sonnet-4-6', pricing: { inputPerMTok: 3, outputPerMTok: 15 } },
    ],
    // Per calling role: one runaway service cannot starve the other.
    rateLimits: { requestsPerMinute: 600, tokensPerMinute: 400_000 },
  });

  // Configuration in SSM: the services' environment holds parameter names only.
  const parameter = (id: string, name: string, value: string, description: string) =>
    new ssm.StringParameter(stack, id, { parameterName: name, stringValue: value, description });
  const summarizerModel = parameter('SummarizerModel', '/multi-service/summarizer/model', 'claude-haiku-4-5', 'Model the summarizer asks for');
  const summarizerMaxTokens = parameter('SummarizerMaxTokens', '/multi-service/summarizer/max-tokens', '600', 'Longest summary, in tokens');
  const triageModel = parameter('TriageModel', '/multi-service/triage/model', 'claude-sonnet-4-6', 'Model the triage service asks for');

  const summarizer = new lambda.Function(stack, 'Summarizer', {
    ...serviceProps(stack, 'Summarizer', SUMMARIZER_NAME, key),
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'summarizer.handler',
    code: lambda.Code.fromAsset(SERVICES_DIR, { exclude: ['Dockerfile.*'] }),
    environment: {
      PROXY_URL_PARAMETER: proxy.urlParameter!.parameterName,
      MODEL_PARAMETER: summarizerModel.parameterName,
      MAX_TOKENS_PARAMETER: summarizerMaxTokens.parameterName,
    },
  });
  const triage = new lambda.DockerImageFunction(stack, 'Triage', {
    ...serviceProps(stack, 'Triage', TRIAGE_NAME, key),
    // The first image is pushed by CI before this stack is deployed (`-c triageImageTag=<git sha>`).
    code: lambda.DockerImageCode.fromEcr(repository, { tagOrDigest: app.node.tryGetContext('triageImageTag') ?? 'initial' }),
    environment: {
      PROXY_URL_PARAMETER: proxy.urlParameter!.parameterName,
      MODEL_PARAMETER: triageModel.parameterName,
    },
  });

  for (const [fn, params] of [[summarizer, [summarizerModel, summarizerMaxTokens]], [triage, [triageModel]]] as const) {
    proxy.grantInvoke(fn);
    proxy.urlParameter!.grantRead(fn);
    for (const p of params) p.grantRead(fn);
    // Callers invoke `live`; CI publishes a version and moves the alias.
    new lambda.Alias(stack, `${fn.node.id}Live`, { aliasName: 'live', version: fn.currentVersion });
    acknowledgeServiceFindings(fn);
  }

  buildTripAssistant(stack, app, key, agentRepository);

  new CfnOutput(stack, 'ProxyUrl', { value: proxy.url });
  new CfnOutput(stack, 'SummarizerFunction', { value: summarizer.functionName });
  new CfnOutput(stack, 'TriageFunction', { value: triage.functionName });
  return app;
}

/**
 * The trip assistant: an HTTP API (`POST /api/messages`, `GET /api/health`) on the API service, which invokes the agent
 * service's `live` alias (and nothing else). The agent is a container image; it calls the LLM through a proxy of its
 * own on the proxy's OpenAI-compatible endpoint with an OpenAI-style key, kept as an SSM SecureString that it reads at
 * runtime. Its own proxy, because a proxy has one auth mode: the shared one is IAM-only for the SigV4 services, and the
 * agent is the OpenAI-client shape the original system had (base URL + key), so it gets `ProxyAuth.apiKeys()`.
 */
function buildTripAssistant(stack: Stack, app: App, key: kms.IKey, agentRepository: ecr.IRepository): void {
  // The agent's LLM: the proxy's OpenAI-compatible endpoint, API keys in Secrets Manager (the README stores only the
  // SHA-256 of the agent's key there; the key itself lives only in the SecureString).
  const tripProxy = new StreamingLlmProxy(stack, 'TripProxy', {
    auth: ProxyAuth.apiKeys({ cacheTtl: Duration.minutes(1) }),
    encryptionKey: key,
    parameterPrefix: NAMES.tripProxyPrefix,
    replaceDefaultModels: true,
    claudeFallback: ClaudeFallback.NONE,
    models: [{ id: 'claude-sonnet-4-6', target: 'global.anthropic.claude-sonnet-4-6', pricing: { inputPerMTok: 3, outputPerMTok: 15 } }],
    rateLimits: { requestsPerMinute: 300, tokensPerMinute: 300_000 },
  });
  const agentModel = new ssm.StringParameter(stack, 'AgentModel', {
    parameterName: '/multi-service/agent/model', stringValue: 'claude-sonnet-4-6', description: 'Model the trip agent asks for',
  });

  // The key of the SecureString: the agent may decrypt with it only through SSM, and only that one parameter.
  const agentKeyKey = new kms.Key(stack, 'AgentKeyKey', {
    description: `Encrypts the SecureString ${NAMES.agentKeyParameter}`,
    alias: NAMES.agentKeyAlias,
    enableKeyRotation: true,
  });
  const agentKeyParameter = ssm.StringParameter.fromSecureStringParameterAttributes(stack, 'AgentKeyParameter', {
    parameterName: NAMES.agentKeyParameter,
    encryptionKey: agentKeyKey,
  });

  const agent = new lambda.DockerImageFunction(stack, 'Agent', {
    ...serviceProps(stack, 'Agent', AGENT_NAME, key),
    // The HTTP API answers within 30 s: the agent gives up on the LLM after 20 s and has 25 s in all.
    timeout: Duration.seconds(25),
    code: lambda.DockerImageCode.fromEcr(agentRepository, { tagOrDigest: app.node.tryGetContext('agentImageTag') ?? 'initial' }),
    environment: {
      OPENAI_API_KEY_PARAMETER: NAMES.agentKeyParameter,
      LLM_BASE_URL_PARAMETER: tripProxy.urlParameter!.parameterName,
      MODEL_PARAMETER: agentModel.parameterName,
    },
  });
  agent.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [agentKeyParameter.parameterArn] }));
  agent.addToRolePolicy(new iam.PolicyStatement({
    actions: ['kms:Decrypt'],
    resources: [agentKeyKey.keyArn],
    conditions: {
      StringEquals: {
        'kms:ViaService': `ssm.${stack.region}.amazonaws.com`,
        // SSM puts the parameter's ARN in the encryption context of a SecureString: this parameter's, nothing else.
        'kms:EncryptionContext:PARAMETER_ARN': agentKeyParameter.parameterArn,
      },
    },
  }));
  tripProxy.urlParameter!.grantRead(agent);
  agentModel.grantRead(agent);
  const agentLive = new lambda.Alias(stack, 'AgentLive', { aliasName: NAMES.alias, version: agent.currentVersion });
  acknowledgeServiceFindings(agent);

  const api = new lambda.Function(stack, 'Api', {
    ...serviceProps(stack, 'Api', API_NAME, key),
    timeout: Duration.seconds(29),
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'api.handler',
    code: lambda.Code.fromAsset(SERVICES_DIR, { exclude: ['Dockerfile.*'] }),
    environment: { AGENT_FUNCTION_ARN: agentLive.functionArn },
  });
  // The alias ARN only: not the function, not its other versions.
  agentLive.grantInvoke(api);
  const apiLive = new lambda.Alias(stack, 'ApiLive', { aliasName: NAMES.alias, version: api.currentVersion });
  acknowledgeServiceFindings(api);

  const accessLogs = new logs.LogGroup(stack, 'HttpApiAccessLogs', {
    retention: logs.RetentionDays.ONE_YEAR, encryptionKey: key, removalPolicy: RemovalPolicy.RETAIN,
  });
  const httpApi = new apigwv2.HttpApi(stack, 'HttpApi', {
    apiName: API_NAME,
    description: 'The trip assistant: POST /api/messages, GET /api/health',
    createDefaultStage: false,
  });
  const stage = httpApi.addStage('DefaultStage', {
    stageName: '$default',
    autoDeploy: true,
    throttle: { rateLimit: 50, burstLimit: 100 },
    accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs), format: AccessLogFormat.jsonWithStandardFields() },
  });
  const integration = new HttpLambdaIntegration('ApiIntegration', apiLive);
  // Callers are services in the account (IAM principals that sign with SigV4): grant them execute-api:Invoke on
  // POST /api/messages (README). The health route is open for load balancers and the deploy workflow's smoke check.
  httpApi.addRoutes({
    path: '/api/messages', methods: [apigwv2.HttpMethod.POST], integration, authorizer: new HttpIamAuthorizer(),
  });
  const [healthRoute] = httpApi.addRoutes({ path: '/api/health', methods: [apigwv2.HttpMethod.GET], integration });
  Validations.of(healthRoute).acknowledge({
    id: 'AwsSolutions-APIG4',
    reason: 'GET /api/health is unauthenticated on purpose (health probes and the deploy workflow\'s smoke check); it ' +
      'answers only whether the agent can load its configuration and which version is live, and the stage throttles it.',
  });
  new ssm.StringParameter(stack, 'ApiUrlParameter', {
    parameterName: NAMES.apiUrlParameter, stringValue: stage.url, description: 'Base URL of the trip assistant API',
  });
  new CfnOutput(stack, 'ApiUrl', { value: stage.url });
  new CfnOutput(stack, 'AgentFunction', { value: agent.functionName });
  new CfnOutput(stack, 'TripProxyKeysSecretArn', { value: tripProxy.apiKeySecret!.secretArn });
}

/** What both services share: ARM64, X-Ray, an own role and log group, a dead-letter queue, explicit memory and timeout. */
function serviceProps(stack: Stack, id: string, functionName: string, key: kms.IKey) {
  const logGroup = new logs.LogGroup(stack, `${id}Logs`, {
    retention: logs.RetentionDays.ONE_YEAR,
    encryptionKey: key,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const role = new iam.Role(stack, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `Execution role of the ${functionName} service`,
  });
  logGroup.grantWrite(role);
  const deadLetterQueue = new sqs.Queue(stack, `${id}DeadLetters`, {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: key,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  // Lambda sends failed asynchronous events with the role's permissions (Lambda adds sqs:SendMessage itself); an
  // SSE-KMS queue also needs these two on its key.
  key.grant(role, 'kms:GenerateDataKey', 'kms:Decrypt');
  Validations.of(deadLetterQueue).acknowledge({
    id: 'Serverless-SQSRedrivePolicy',
    reason: `This queue is the dead-letter queue of ${functionName}; failed events are inspected and replayed from it by hand, ` +
      'and a dead-letter queue of its own would only move them again.',
  });
  return {
    functionName,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 512,
    timeout: Duration.minutes(2),
    role,
    logGroup,
    tracing: lambda.Tracing.ACTIVE,
    deadLetterQueue,
  };
}

function acknowledgeServiceFindings(fn: lambda.Function): void {
  const vpc = 'The service calls only public AWS APIs (SSM, Lambda) and an LLM proxy\'s function URL, over TLS; it reaches no ' +
    'private resource, so attaching it to a VPC would add a NAT gateway or endpoints without narrowing what it can reach.';
  const inline = 'The role belongs to this one function; its inline policy holds the grants made to it (its log group, its SSM ' +
    'parameters, invoking a proxy URL or the agent\'s live alias, its dead-letter queue), created and deleted with the role.';
  const concurrency = 'Each service is capped upstream (the proxies\' per-caller rate limits, the HTTP API stage\'s throttling); ' +
    'reserved concurrency would fail to deploy in accounts at the default concurrency quota.';
  Validations.of(fn.role!).acknowledge(
    { id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: inline },
    { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: inline },
  );
  Validations.of(fn).acknowledge(
    { id: 'NIST.800.53.R5-LambdaInsideVPC', reason: vpc },
    { id: 'HIPAA.Security-LambdaInsideVPC', reason: vpc },
    { id: 'NIST.800.53.R5-LambdaConcurrency', reason: concurrency },
    { id: 'HIPAA.Security-LambdaConcurrency', reason: concurrency },
  );
}
