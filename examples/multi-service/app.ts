import * as path from 'path';
import { App, CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
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
const SUMMARIZER_NAME = 'multi-service-summarizer';
const TRIAGE_NAME = 'multi-service-triage';

/**
 * Two application services that reach Bedrock only through one shared LLM proxy: every call is signed with the
 * service's own IAM role, so limits and metering are per service and no service holds Bedrock permissions. The
 * services read their configuration (proxy URL, model, token budget) from SSM Parameter Store. GitHub Actions jobs in
 * the `production` environment push the triage image to ECR and ship new code to both functions by
 * publishing a version and moving their `live` aliases.
 *
 * Two stacks: `MultiServiceCi` (the image repository and the deploy role) is deployed once by hand, so CI can push the
 * first image before `MultiService` creates the function that runs it.
 */
export function buildApp(app: App = new App()): App {
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app),
  );

  // --- CI stack: image repository and the GitHub deploy role ----------------------------------------------------------
  const ci = new Stack(app, 'MultiServiceCi', { env: ENV, description: 'Image repository and GitHub Actions deploy role of the LLM services' });
  const repository = new ecr.Repository(ci, 'TriageImages', {
    repositoryName: 'multi-service/triage',
    imageScanOnPush: true,
    imageTagMutability: ecr.TagMutability.IMMUTABLE,
    encryption: ecr.RepositoryEncryption.KMS,
    lifecycleRules: [{ description: 'Keep the last 30 images', maxImageCount: 30 }],
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const deployer = new GithubOidcDeployer(ci, 'Deployer', {
    repository: 'example-org/llm-services',
    // The `production` environment alone: with grantCdkDeploy() this role is admin-equivalent in the account (README),
    // so only jobs that pass the environment's protection rules (required reviewers) may assume it - not every job on main.
    filters: [TrustFilter.environment('production')],
  });
  deployer.grantEcrPush(repository);
  // The functions live in the other stack under fixed names, so the role can exist before they do.
  deployer.grantLambdaDeploy(lambda.Function.fromFunctionName(ci, 'SummarizerRef', SUMMARIZER_NAME));
  deployer.grantLambdaDeploy(lambda.Function.fromFunctionName(ci, 'TriageRef', TRIAGE_NAME));
  // ...and `cdk deploy MultiService` through the bootstrap roles.
  deployer.grantCdkDeploy();
  new CfnOutput(ci, 'RepositoryUri', { value: repository.repositoryUri });

  // --- services stack ----------------------------------------------------------------------------------------------
  const stack = new Stack(app, 'MultiService', { env: ENV, description: 'Two LLM-backed services behind one streaming Bedrock proxy' });
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

  new CfnOutput(stack, 'ProxyUrl', { value: proxy.url });
  new CfnOutput(stack, 'SummarizerFunction', { value: summarizer.functionName });
  new CfnOutput(stack, 'TriageFunction', { value: triage.functionName });
  return app;
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
  const vpc = 'The service calls only the LLM proxy\'s function URL and SSM over TLS with SigV4; it reaches no private resource, ' +
    'so attaching it to a VPC would add a NAT gateway or endpoints without narrowing what it can reach.';
  const inline = 'The role belongs to this one function; its inline policy holds the grants made to it (its log group, its SSM ' +
    'parameters, invoking the proxy URL, its dead-letter queue), created and deleted with the role.';
  const concurrency = 'Each service is capped by the proxy\'s per-role rate limits; reserved concurrency would fail to deploy in ' +
    'accounts at the default concurrency quota.';
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
