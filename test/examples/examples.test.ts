import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp as chatApp } from '../../examples/chat-app/app';
import { buildApp as claudeCodeGateway } from '../../examples/claude-code-gateway/app';
import { buildApp as fullStack } from '../../examples/full-stack/app';
import { buildApp as jwtRouter } from '../../examples/jwt-router/app';
import { buildApp as multiService } from '../../examples/multi-service/app';

/** The cdk-nag packs every example registers with Validations.of(app).addPlugins(...). */
const NAG_PACKS = ['AwsSolutions', 'Serverless', 'NIST.800.53.R5', 'HIPAA.Security'];

/** Synthesis runs five packs (the four nag packs and CloudFormation's own validation) over large apps; the machine is shared. */
const SYNTH_TIMEOUT_MS = 240_000;

interface Synthesized {
  readonly templates: Record<string, Template>;
  /** The names of the validation plugins the app registered (Validations.of(app).addPlugins). */
  readonly pluginNames: string[];
}

/**
 * Synthesizes an example exactly as `cdk synth` would (the nag packs run as validation plugins during synthesis) and
 * returns its templates. Any unacknowledged finding fails synthesis; the test then fails with every finding listed.
 */
function synthesize(build: (app: App) => App): Synthesized {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'example-'));
  const app = build(new App({ outdir }));
  let assembly;
  try {
    assembly = app.synth();
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${findingsIn(outdir).join('\n')}`);
  }
  expect(findingsIn(outdir)).toEqual([]);
  const templates: Record<string, Template> = {};
  for (const stack of assembly.stacks) templates[stack.stackName] = Template.fromJSON(stack.template);
  // Stage keeps the registered plugins in a private field; it is the only way to see them after synthesis.
  const plugins = (app as unknown as { _validationPlugins: { name: string }[] })._validationPlugins;
  return { templates, pluginNames: plugins.map((p) => p.name) };
}

interface ValidationReport {
  readonly pluginReports: { pluginName: string; violations: { ruleName: string; violatingConstructs?: { constructPath: string }[] }[] }[];
}

function readReport(outdir: string): ValidationReport {
  const file = path.join(outdir, 'validation-report.json');
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { pluginReports: [] };
}

/** Unacknowledged findings of the nag packs in the app's validation report (CloudFormation's own warnings are not findings). */
function findingsIn(outdir: string): string[] {
  return readReport(outdir).pluginReports.filter((r) => NAG_PACKS.includes(r.pluginName)).flatMap((r) => r.violations.flatMap((v) =>
    (v.violatingConstructs ?? [{ constructPath: '?' }]).map((c) => `${r.pluginName}: ${v.ruleName} on ${c.constructPath}`)));
}

/** The one resource of a type whose properties match, with its logical id. */
function only(template: Template, type: string, props: object = {}): { id: string; properties: any } {
  const found = Object.entries(template.findResources(type, { Properties: Match.objectLike(props) }));
  expect(found.map(([id]) => id)).toHaveLength(1);
  return { id: found[0][0], properties: found[0][1].Properties };
}

function proxyEnvironment(template: Template): Record<string, unknown> {
  return only(template, 'AWS::Lambda::Function', { Environment: { Variables: { PROXY_AUTH_MODE: Match.anyValue() } } })
    .properties.Environment.Variables;
}

describe('reference apps synthesize with zero unacknowledged cdk-nag findings', () => {
  test('claude-code-gateway: API keys in Secrets Manager and the gateway table, streaming function URL, CloudFront with custom domain and WAF rate rule, alarms', () => {
    const { templates, pluginNames } = synthesize(claudeCodeGateway);
    expect(pluginNames).toEqual(expect.arrayContaining(NAG_PACKS));
    const t = templates.ClaudeCodeGateway;
    expect(proxyEnvironment(t)).toMatchObject({ PROXY_AUTH_MODE: 'api-keys', PROXY_API_KEYS_CACHE_TTL_SECONDS: '60' });
    t.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: Match.objectLike({ GenerateStringKey: 'default' }) });
    t.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' });
    const distribution = only(t, 'AWS::CloudFront::Distribution').properties.DistributionConfig;
    expect(distribution.Aliases).toEqual(['llm.example.com']);
    expect(distribution.ViewerCertificate).toMatchObject({ MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' });
    expect(distribution.WebACLId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^GatewayCdnWebAcl/), 'Arn'] });
    t.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'CLOUDFRONT',
      Rules: Match.arrayWith([Match.objectLike({ Statement: { RateBasedStatement: { Limit: 1000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } } })]),
    });
    t.hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: 'llm.example.com', ValidationMethod: 'DNS' });
    t.resourceCountIs('AWS::Route53::RecordSet', 2);
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'llm.example.com.', Type: 'AAAA' });
    expect(Object.keys(t.findResources('AWS::CloudWatch::Alarm')).length).toBeGreaterThanOrEqual(5);
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'platform-oncall@example.com' });
    t.hasResourceProperties('AWS::SSM::Parameter', { Name: '/claude-code-gateway/url', Value: 'https://llm.example.com/' });
    t.hasResourceProperties('AWS::SSM::Parameter', { Name: '/claude-code-gateway/api-key-secret-arn' });
    // Per-key limits and monthly budgets shared by every instance, through the gateway table (function URL kept).
    t.hasResourceProperties('AWS::DynamoDB::Table', { BillingMode: 'PAY_PER_REQUEST', DeletionProtectionEnabled: true });
    expect(proxyEnvironment(t)).toMatchObject({ PROXY_GATEWAY_TABLE: expect.anything(), PROXY_LIMIT_STORE: 'dynamodb', PROXY_BUDGET_FAILURE_MODE: 'closed' });
    t.hasResourceProperties('AWS::SSM::Parameter', { Name: '/claude-code-gateway/gateway-table' });
    t.hasOutput('AnthropicBaseUrl', { Value: 'https://llm.example.com' });
  }, SYNTH_TIMEOUT_MS);

  test('jwt-router: Cognito JWTs, REST API streaming with request validation and /health, Redis-backed rate limits', () => {
    const t = synthesize(jwtRouter).templates.JwtRouter;
    t.hasResourceProperties('AWS::Cognito::UserPool', { MfaConfiguration: 'ON', UserPoolTier: 'PLUS' });
    t.hasResourceProperties('AWS::Cognito::UserPoolClient', { AllowedOAuthFlows: ['client_credentials'], GenerateSecret: true });
    const env = proxyEnvironment(t);
    expect(env).toMatchObject({
      PROXY_AUTH_MODE: 'jwt',
      PROXY_JWT_TOKEN_USE: 'access',
      PROXY_LIMIT_STORE: 'redis',
      PROXY_LIMIT_FAILURE_MODE: 'closed',
      PROXY_CLAUDE_FALLBACK: 'none',
      REDIS_AUTH_MODE: 'iam',
    });
    expect(env.PROXY_JWT_ISSUER).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Users/), 'ProviderURL'] });
    expect(JSON.parse(env.PROXY_RATE_LIMITS as string)).toEqual({ requestsPerMinute: 30, tokensPerMinute: 200000, tokensPerDay: 5000000 });
    t.resourceCountIs('AWS::Lambda::Url', 0);
    t.resourceCountIs('AWS::ElastiCache::ReplicationGroup', 1);
    t.resourceCountIs('AWS::EC2::NatGateway', 1);

    // POST /v1/chat/completions: body validated against the model, Authorization required, streamed from the alias.
    const completions = only(t, 'AWS::ApiGateway::Resource', { PathPart: 'completions' });
    const post = only(t, 'AWS::ApiGateway::Method', { HttpMethod: 'POST', ResourceId: { Ref: completions.id } }).properties;
    expect(post.RequestValidatorId).toEqual({ Ref: expect.stringMatching(/ChatCompletionsValidator/) });
    expect(post.RequestModels).toEqual({ 'application/json': { Ref: expect.stringMatching(/ChatCompletionsRequest/) } });
    expect(post.RequestParameters).toEqual({ 'method.request.header.Authorization': true });
    expect(post.Integration).toMatchObject({ Type: 'AWS_PROXY', ResponseTransferMode: 'STREAM' });
    t.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true, ValidateRequestParameters: true });
    t.hasResourceProperties('AWS::ApiGateway::Model', { Schema: Match.objectLike({ required: ['model', 'messages'] }) });
    t.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'BAD_REQUEST_BODY',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"type":"invalid_request_error"') },
    });
    t.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'BAD_REQUEST_PARAMETERS', StatusCode: '401' });

    // GET /health without a validator, watched by a Route 53 health check and an alarm.
    const health = only(t, 'AWS::ApiGateway::Resource', { PathPart: 'health' });
    expect(only(t, 'AWS::ApiGateway::Method', { HttpMethod: 'GET', ResourceId: { Ref: health.id } }).properties.RequestValidatorId).toBeUndefined();
    t.hasResourceProperties('AWS::Route53::HealthCheck', { HealthCheckConfig: Match.objectLike({ Type: 'HTTPS', ResourcePath: '/prod/health' }) });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/Route53', MetricName: 'HealthCheckStatus' });

    // Batch jobs: POST /v1/messages/batches validated (approved models, custom_id pattern, 1..1000 requests), then queued.
    const batches = only(t, 'AWS::ApiGateway::Resource', { PathPart: 'batches' });
    const submit = only(t, 'AWS::ApiGateway::Method', { HttpMethod: 'POST', ResourceId: { Ref: batches.id } }).properties;
    expect(submit.RequestValidatorId).toEqual({ Ref: expect.stringMatching(/MessageBatchValidator/) });
    expect(submit.RequestModels).toEqual({ 'application/json': { Ref: expect.stringMatching(/MessageBatchRequest/) } });
    expect(submit.RequestParameters).toEqual({ 'method.request.header.Authorization': true });
    const schema = only(t, 'AWS::ApiGateway::Model', { Schema: Match.objectLike({ title: 'MessageBatchRequest' }) }).properties.Schema;
    expect(schema.properties.requests).toMatchObject({ minItems: 1, maxItems: 1000 });
    expect(schema.properties.requests.items.properties.custom_id.pattern).toBe('^[A-Za-z0-9_-]{1,64}$');
    expect(schema.properties.requests.items.properties.params.properties.model.enum).toEqual(['chat', 'chat-fast', 'nova-pro']);
    // The other batch routes, /v1/messages itself and the routes under it still reach the router.
    expect(only(t, 'AWS::ApiGateway::Method', { HttpMethod: 'GET', ResourceId: { Ref: batches.id } }).properties.Integration)
      .toMatchObject({ Type: 'AWS_PROXY', ResponseTransferMode: 'STREAM' });
    const batch = only(t, 'AWS::ApiGateway::Resource', { PathPart: '{proxy+}', ParentId: { Ref: batches.id } });
    only(t, 'AWS::ApiGateway::Method', { HttpMethod: 'ANY', ResourceId: { Ref: batch.id } });
    const messages = only(t, 'AWS::ApiGateway::Resource', { PathPart: 'messages' });
    only(t, 'AWS::ApiGateway::Method', { HttpMethod: 'ANY', ResourceId: { Ref: messages.id } });
    expect(env).toMatchObject({ PROXY_BATCH_MAX_REQUESTS: '1000', PROXY_BATCH_QUEUE_URL: expect.anything() });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 4 }, FunctionResponseTypes: ['ReportBatchItemFailures'] });
  }, SYNTH_TIMEOUT_MS);

  test('chat-app: the chat page with /api/* to a VPC-attached proxy with Redis sessions, custom domain, GitHub deploy role', () => {
    const t = synthesize(chatApp).templates.ChatApp;
    const env = proxyEnvironment(t);
    expect(env).toMatchObject({ PROXY_SESSIONS: 'redis', PROXY_SESSION_TTL_SECONDS: '43200', REDIS_AUTH_MODE: 'iam' });
    expect(only(t, 'AWS::Lambda::Function', { Environment: { Variables: { PROXY_AUTH_MODE: 'api-keys' } } }).properties.VpcConfig).toBeDefined();
    t.resourceCountIs('AWS::Lambda::Url', 0);
    t.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    const site = Object.values(t.findResources('AWS::CloudFront::Distribution'))
      .map((d) => d.Properties.DistributionConfig)
      .find((c) => c.Aliases?.includes('chat.example.com'));
    expect(site.Aliases).toEqual(['chat.example.com', 'www.chat.example.com']);
    expect(site.CacheBehaviors).toEqual([expect.objectContaining({ PathPattern: '/api/*', Compress: false })]);
    const apiOrigin = site.Origins.find((o: any) => o.Id === site.CacheBehaviors[0].TargetOriginId);
    expect(JSON.stringify(apiOrigin.DomainName)).toContain('execute-api');
    // The page is deployed from examples/chat-web/web, then its config.json, each invalidated.
    t.hasResourceProperties('Custom::CDKBucketDeployment', { Prune: true, DistributionPaths: ['/*'] });
    t.hasResourceProperties('Custom::CDKBucketDeployment', { Prune: false, DistributionPaths: ['/config.json'] });
    // The GitHub role: trusted for main only, may sync the site, invalidate, and ship proxy code.
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Condition: { StringEquals: Match.objectLike({ 'token.actions.githubusercontent.com:sub': ['repo:example-org/chat-app:ref:refs/heads/main'] }) } })] },
    });
    const policy = JSON.stringify(only(t, 'AWS::IAM::ManagedPolicy', { Description: Match.stringLikeRegexp('example-org/chat-app') }).properties);
    for (const action of ['s3:PutObject', 's3:DeleteObject', 'cloudfront:CreateInvalidation', 'lambda:UpdateFunctionCode', 'lambda:UpdateAlias']) {
      expect(policy).toContain(action);
    }
  }, SYNTH_TIMEOUT_MS);

  test('multi-service: two services call the IAM-authenticated proxy with config from SSM; CI pushes to ECR and moves live aliases', () => {
    const { templates } = synthesize(multiService);
    const ci = templates.MultiServiceCi;
    const services = templates.MultiService;
    ci.hasResourceProperties('AWS::ECR::Repository', { ImageTagMutability: 'IMMUTABLE', ImageScanningConfiguration: { ScanOnPush: true } });
    ci.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({
          Condition: {
            StringEquals: Match.objectLike({
              // The environment alone: a job on main outside the environment must not get a role that can cdk deploy.
              'token.actions.githubusercontent.com:sub': ['repo:example-org/llm-services:environment:production'],
            }),
          },
        })],
      },
    });
    const policy = JSON.stringify(only(ci, 'AWS::IAM::ManagedPolicy', { Description: Match.stringLikeRegexp('^Deploy permissions') }).properties.PolicyDocument);
    for (const needle of ['ecr:PutImage', 'ecr:GetAuthorizationToken', 'lambda:GetAlias', 'lambda:UpdateAlias', 'lambda:PublishVersion',
      'function:multi-service-summarizer', 'function:multi-service-triage', 'function:multi-service-agent', 'sts:AssumeRole']) {
      expect(policy).toContain(needle);
    }

    expect(only(services, 'AWS::Lambda::Function', { Environment: { Variables: { PROXY_AUTH_MODE: 'iam' } } })).toBeDefined();
    services.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM', InvokeMode: 'RESPONSE_STREAM' });
    services.hasResourceProperties('AWS::SSM::Parameter', { Name: '/multi-service/llm-proxy/url' });
    services.hasResourceProperties('AWS::SSM::Parameter', { Name: '/multi-service/summarizer/model', Value: 'claude-haiku-4-5' });
    services.hasResourceProperties('AWS::SSM::Parameter', { Name: '/multi-service/triage/model', Value: 'claude-sonnet-4-6' });
    const summarizer = only(services, 'AWS::Lambda::Function', { FunctionName: 'multi-service-summarizer' });
    expect(summarizer.properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'summarizer.handler', TracingConfig: { Mode: 'Active' } });
    expect(summarizer.properties.DeadLetterConfig).toBeDefined();
    expect(Object.keys(summarizer.properties.Environment.Variables)).toEqual(['MAX_TOKENS_PARAMETER', 'MODEL_PARAMETER', 'PROXY_URL_PARAMETER']);
    const triage = only(services, 'AWS::Lambda::Function', { FunctionName: 'multi-service-triage' });
    expect(JSON.stringify(triage.properties.Code.ImageUri)).toContain('MultiServiceCi:ExportsOutput');
    // Each service may invoke the proxy's function URL with its own role, and nothing in Bedrock.
    for (const role of ['SummarizerRole', 'TriageRole']) {
      const doc = JSON.stringify(Object.entries(services.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith(`${role}DefaultPolicy`))![1]);
      expect(doc).toContain('lambda:InvokeFunctionUrl');
      expect(doc).not.toContain('bedrock:');
    }
    // live aliases: summarizer, triage, agent, API and the two proxies.
    services.resourceCountIs('AWS::Lambda::Alias', 6);
    services.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live', FunctionName: { Ref: summarizer.id } });
  }, SYNTH_TIMEOUT_MS);

  test('multi-service trip assistant: HTTP API -> API Lambda -> agent live alias only; the key a SecureString read at runtime; one ECR repository per image', () => {
    const { templates } = synthesize(multiService);
    const ci = templates.MultiServiceCi;
    const services = templates.MultiService;

    // One repository per container service, each immutable and scanned; the deploy role pushes to both and deploys the agent.
    const repositories = ci.findResources('AWS::ECR::Repository');
    expect(Object.values(repositories).map((r) => r.Properties.RepositoryName).sort()).toEqual(['multi-service/agent', 'multi-service/triage']);
    for (const r of Object.values(repositories)) {
      expect(r.Properties).toMatchObject({ ImageTagMutability: 'IMMUTABLE', ImageScanningConfiguration: { ScanOnPush: true } });
    }
    const deploy = only(ci, 'AWS::IAM::ManagedPolicy', { Description: Match.stringLikeRegexp('^Deploy permissions') }).properties.PolicyDocument;
    const pushed = deploy.Statement.filter((st: any) => [].concat(st.Action).includes('ecr:PutImage' as never))
      .flatMap((st: any) => [].concat(st.Resource)).map((r: any) => r['Fn::GetAtt'][0]);
    expect(pushed.sort()).toEqual(Object.keys(repositories).sort());
    const smoke = only(ci, 'AWS::IAM::ManagedPolicy', { Description: Match.stringLikeRegexp('smoke check') }).properties.PolicyDocument;
    expect(JSON.stringify(smoke.Statement)).toContain(':parameter/multi-service/api/url');
    expect(smoke.Statement).toHaveLength(1);

    // The HTTP API: two routes on the API Lambda's live alias, IAM auth on messages, access logs and throttling.
    const routes = services.findResources('AWS::ApiGatewayV2::Route');
    expect(Object.values(routes).map((r) => [r.Properties.RouteKey, r.Properties.AuthorizationType]).sort()).toEqual([
      ['GET /api/health', 'NONE'], ['POST /api/messages', 'AWS_IAM'],
    ]);
    const apiFn = only(services, 'AWS::Lambda::Function', { FunctionName: 'multi-service-api' });
    const apiLive = only(services, 'AWS::Lambda::Alias', { FunctionName: { Ref: apiFn.id } });
    services.hasResourceProperties('AWS::ApiGatewayV2::Integration', { IntegrationType: 'AWS_PROXY', IntegrationUri: { Ref: apiLive.id }, PayloadFormatVersion: '2.0' });
    const stage = only(services, 'AWS::ApiGatewayV2::Stage').properties;
    expect(stage).toMatchObject({ StageName: '$default', AutoDeploy: true, DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 } });
    expect(stage.AccessLogSettings.DestinationArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^HttpApiAccessLogs/), 'Arn'] });

    // The API Lambda may invoke exactly the agent's live alias: not the function, not its versions, not `:*`.
    const agentFn = only(services, 'AWS::Lambda::Function', { FunctionName: 'multi-service-agent' });
    const agentLive = only(services, 'AWS::Lambda::Alias', { FunctionName: { Ref: agentFn.id } });
    expect(agentLive.properties.Name).toBe('live');
    expect(apiFn.properties.Environment.Variables).toEqual({ AGENT_FUNCTION_ARN: { Ref: agentLive.id } });
    const policyOf = (roleId: string) => Object.entries(services.findResources('AWS::IAM::Policy'))
      .find(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))![1].Properties.PolicyDocument.Statement;
    const invokes = policyOf(apiFn.properties.Role['Fn::GetAtt'][0]).filter((st: any) => JSON.stringify(st.Action).includes('lambda:'));
    expect(invokes).toEqual([{ Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { Ref: agentLive.id } }]);
    expect(JSON.stringify(services.toJSON().Resources)).not.toContain('lambda:*');

    // The agent: a container image from its repository; the key's parameter by name (no value, no dynamic reference).
    expect(JSON.stringify(agentFn.properties.Code.ImageUri)).toContain('MultiServiceCi:ExportsOutputRefAgentImages');
    expect(agentFn.properties.Environment.Variables).toEqual({
      OPENAI_API_KEY_PARAMETER: '/multi-service/agent/openai-api-key',
      LLM_BASE_URL_PARAMETER: { Ref: expect.stringMatching(/^TripProxyUrlParameter/) },
      MODEL_PARAMETER: { Ref: expect.stringMatching(/^AgentModel/) },
    });
    expect(JSON.stringify(services.toJSON())).not.toMatch(/resolve:ssm-secure/);
    services.resourcePropertiesCountIs('AWS::SSM::Parameter', { Name: '/multi-service/agent/openai-api-key' }, 0);
    const agentStatements = policyOf(agentFn.properties.Role['Fn::GetAtt'][0]);
    const keyArn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:us-east-1:123456789012:parameter/multi-service/agent/openai-api-key']] };
    expect(agentStatements.filter((st: any) => JSON.stringify(st).includes('openai-api-key'))).toEqual([
      { Action: 'ssm:GetParameter', Effect: 'Allow', Resource: keyArn },
      {
        Action: 'kms:Decrypt',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^AgentKeyKey/), 'Arn'] },
        Condition: { StringEquals: { 'kms:ViaService': 'ssm.us-east-1.amazonaws.com', 'kms:EncryptionContext:PARAMETER_ARN': keyArn } },
      },
    ]);
    services.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/multi-service/agent-key' });
    // Its LLM: a proxy with API keys, whose URL the agent reads from SSM.
    const tripProxyEnv = only(services, 'AWS::Lambda::Function', { Environment: { Variables: { PROXY_AUTH_MODE: 'api-keys' } } }).properties.Environment.Variables;
    expect(tripProxyEnv.PROXY_API_KEYS_CACHE_TTL_SECONDS).toBe('60');
    services.hasResourceProperties('AWS::SSM::Parameter', { Name: '/multi-service/trip-proxy/url' });
    services.hasResourceProperties('AWS::SSM::Parameter', { Name: '/multi-service/api/url' });
  }, SYNTH_TIMEOUT_MS);

  test('full-stack: all four constructs in one app', () => {
    const t = synthesize(fullStack).templates.FullStack;
    t.resourceCountIs('AWS::ElastiCache::ReplicationGroup', 1);
    expect(proxyEnvironment(t)).toMatchObject({ PROXY_SESSIONS: 'redis', PROXY_LIMIT_STORE: 'redis' });
    t.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    t.hasResourceProperties('AWS::CloudFront::Distribution', { DistributionConfig: Match.objectLike({ Aliases: ['chat.example.com'] }) });
    t.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    t.hasOutput('SiteUrl', { Value: 'https://chat.example.com' });
  }, SYNTH_TIMEOUT_MS);
});
