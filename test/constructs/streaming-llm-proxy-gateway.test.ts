import { App, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  BudgetFailureMode, IProxySessionStore, ProxyAuth, ProxyEndpointType, ProxyGateway, RateLimitFailureMode, StreamingLlmProxy,
  StreamingLlmProxyProps, VpcRedisSessions,
} from '../../src';
import { formatFindings, nagFindings } from '../support/nag';

const ENV = { account: '111111111111', region: 'us-east-1' };

const RUNTIME_ACTIONS = [
  'dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem',
];
const ADMIN_ACTIONS = [
  'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:Scan',
  'dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DescribeTable',
];

function newStack(): Stack {
  return new Stack(new App(), 'TestStack', { env: ENV });
}

function build(props: StreamingLlmProxyProps = { gateway: ProxyGateway.newTable() }) {
  const stack = newStack();
  const proxy = new StreamingLlmProxy(stack, 'Proxy', props);
  return { stack, proxy, template: Template.fromStack(stack) };
}

function only<T>(items: Record<string, T>): [string, T] {
  const entries = Object.entries(items);
  expect(entries).toHaveLength(1);
  return entries[0];
}

function functionEnv(template: Template): Record<string, unknown> {
  const proxyFunctions = template.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: { PROXY_AUTH_MODE: Match.anyValue() } } },
  });
  return only(proxyFunctions)[1].Properties.Environment.Variables;
}

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown };

/** The statements of the policy attached to a role whose logical id starts with `rolePrefix`. */
function roleStatements(template: Template, rolePrefix: string): Statement[] {
  return only(template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: [{ Ref: Match.stringLikeRegexp(`^${rolePrefix}`) }] },
  }))[1].Properties.PolicyDocument.Statement;
}

function logicalId(template: Template, type: string): string {
  return only(template.findResources(type))[0];
}

class FakeSessionStore implements IProxySessionStore {
  constructor(public readonly vpc: ec2.IVpc) {}
  public grantConnect(fn: lambda.Function): void {
    fn.addEnvironment('REDIS_HOST', 'master.sessions.abc123.use1.cache.amazonaws.com');
    fn.addEnvironment('REDIS_PORT', '6379');
    fn.addEnvironment('REDIS_AUTH_MODE', 'iam');
    fn.addEnvironment('REDIS_USER', 'llm-proxy');
    fn.addEnvironment('REDIS_CACHE_NAME', 'sessions');
  }
}

describe('ProxyGateway.newTable()', () => {
  test('creates an on-demand table with keys pk/sk, TTL on ttl, point-in-time recovery, a rotated KMS key and deletion protection, retained', () => {
    const { template, proxy } = build();
    const [tableId, table] = only(template.findResources('AWS::DynamoDB::Table'));
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties).toEqual(expect.objectContaining({
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [logicalId(template, 'AWS::KMS::Key'), 'Arn'] } },
      DeletionProtectionEnabled: true,
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
    }));
    expect(table.Properties.GlobalSecondaryIndexes).toBeUndefined();
    template.hasResource('AWS::KMS::Key', { Properties: { EnableKeyRotation: true }, DeletionPolicy: 'Retain' });
    expect(Stack.of(proxy).resolve(proxy.gatewayTable!.tableName)).toEqual({ Ref: tableId });
  });

  test('encrypts with the proxy\'s encryptionKey when one is given, or with the option\'s key', () => {
    const stack = newStack();
    const proxyKey = new kms.Key(stack, 'ProxyKey', { enableKeyRotation: true });
    const tableKey = new kms.Key(stack, 'TableKey', { enableKeyRotation: true });
    new StreamingLlmProxy(stack, 'A', { encryptionKey: proxyKey, gateway: ProxyGateway.newTable() });
    new StreamingLlmProxy(stack, 'B', { encryptionKey: proxyKey, gateway: ProxyGateway.newTable({ encryptionKey: tableKey }) });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 2);
    const keys = Object.values(template.findResources('AWS::DynamoDB::Table')).map((t) => t.Properties.SSESpecification.KMSMasterKeyId['Fn::GetAtt'][0]);
    const keyId = (key: kms.Key) => stack.getLogicalId(key.node.defaultChild as kms.CfnKey);
    expect(keys.sort()).toEqual([keyId(proxyKey), keyId(tableKey)].sort());
  });

  test('deletionProtection, removalPolicy and tableName are honoured', () => {
    const { template } = build({
      gateway: ProxyGateway.newTable({ deletionProtection: false, removalPolicy: RemovalPolicy.DESTROY, tableName: 'llm-gateway' }),
    });
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: { DeletionProtectionEnabled: false, TableName: 'llm-gateway' },
      DeletionPolicy: 'Delete',
    });
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
  });
});

describe('the runtime environment', () => {
  test('names the table, keeps limit counters in it and fails budgets closed by default', () => {
    const { template } = build();
    const env = functionEnv(template);
    expect(env).toMatchObject({
      PROXY_AUTH_MODE: 'api-keys',
      PROXY_GATEWAY_TABLE: { Ref: logicalId(template, 'AWS::DynamoDB::Table') },
      PROXY_LIMIT_STORE: 'dynamodb',
      PROXY_BUDGET_FAILURE_MODE: 'closed',
    });
    // The key secret stays: keys from both work.
    expect(env.PROXY_API_KEYS_SECRET_ARN).toBeDefined();
    expect(env.PROXY_GATEWAY_CACHE_TTL_SECONDS).toBeUndefined();
    expect(env.PROXY_LIMIT_FAILURE_MODE).toBeUndefined();
  });

  test('budgetFailureMode, cacheTtl and rateLimitFailureMode are written', () => {
    const { template } = build({
      gateway: ProxyGateway.newTable({ budgetFailureMode: BudgetFailureMode.OPEN, cacheTtl: Duration.seconds(5) }),
      rateLimits: { requestsPerMinute: 60 },
      rateLimitFailureMode: RateLimitFailureMode.CLOSED,
    });
    expect(functionEnv(template)).toMatchObject({
      PROXY_BUDGET_FAILURE_MODE: 'open',
      PROXY_GATEWAY_CACHE_TTL_SECONDS: '5',
      PROXY_LIMIT_FAILURE_MODE: 'closed',
      PROXY_RATE_LIMITS: '{"requestsPerMinute":60}',
    });
  });

  test('keeps limit counters in Redis when sessions are set', () => {
    const stack = newStack();
    new StreamingLlmProxy(stack, 'Proxy', { sessions: new FakeSessionStore(new ec2.Vpc(stack, 'Vpc')), gateway: ProxyGateway.newTable() });
    const env = functionEnv(Template.fromStack(stack));
    expect(env).toMatchObject({ PROXY_LIMIT_STORE: 'redis', PROXY_SESSIONS: 'redis', PROXY_BUDGET_FAILURE_MODE: 'closed' });
    expect(env.PROXY_GATEWAY_TABLE).toBeDefined();
  });

  test('a function-URL proxy (no VPC) uses the table', () => {
    const { template, proxy } = build();
    expect(proxy.endpointType).toBe(ProxyEndpointType.FUNCTION_URL);
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    expect(only(template.findResources('AWS::Lambda::Function'))[1].Properties.VpcConfig).toBeUndefined();
  });

  test('JWT, IAM and no auth are allowed with the table (limits and spend per caller identity)', () => {
    for (const auth of [ProxyAuth.jwt({ issuer: 'https://issuer.example.com', audience: ['proxy'] }), ProxyAuth.iam(), ProxyAuth.none()]) {
      const { template } = build({ auth, gateway: ProxyGateway.newTable() });
      expect(functionEnv(template)).toMatchObject({ PROXY_LIMIT_STORE: 'dynamodb', PROXY_GATEWAY_TABLE: { Ref: expect.stringMatching(/^ProxyGatewayTable/) } });
    }
  });
});

describe('IAM', () => {
  test('the proxy role may use exactly the items actions of the runtime on the table, and its key', () => {
    const { template } = build();
    const table = logicalId(template, 'AWS::DynamoDB::Table');
    const key = logicalId(template, 'AWS::KMS::Key');
    const statements = roleStatements(template, 'ProxyRole');
    expect(statements.filter((s) => JSON.stringify(s).includes('dynamodb:'))).toEqual([{
      Sid: 'UseGatewayTable',
      Effect: 'Allow',
      Action: RUNTIME_ACTIONS,
      Resource: { 'Fn::GetAtt': [table, 'Arn'] },
    }]);
    expect(statements.filter((s) => JSON.stringify(s.Resource).includes(key))).toEqual([{
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: { 'Fn::GetAtt': [key, 'Arn'] },
    }]);
  });

  test('grantManageKeys() gives the admin exactly what the keys CLI needs: the table, the name parameter and the key', () => {
    const stack = newStack();
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { gateway: ProxyGateway.newTable() });
    const admin = new iam.Role(stack, 'Admin', { assumedBy: new iam.AccountRootPrincipal() });
    const grant = proxy.grantManageKeys(admin);
    expect(grant.success).toBe(true);
    const template = Template.fromStack(stack);
    const table = logicalId(template, 'AWS::DynamoDB::Table');
    const key = logicalId(template, 'AWS::KMS::Key');
    const parameter = logicalId(template, 'AWS::SSM::Parameter');
    expect(roleStatements(template, 'Admin')).toEqual([
      { Effect: 'Allow', Action: ADMIN_ACTIONS, Resource: { 'Fn::GetAtt': [table, 'Arn'] } },
      {
        Effect: 'Allow',
        Action: 'ssm:GetParameter',
        Resource: {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:us-east-1:111111111111:parameter', { Ref: parameter }]],
        },
      },
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: { 'Fn::GetAtt': [key, 'Arn'] } },
    ]);
  });

  test('grantManageKeys() without a gateway is an error naming the prop', () => {
    const stack = newStack();
    const proxy = new StreamingLlmProxy(stack, 'Proxy');
    const admin = new iam.Role(stack, 'Admin', { assumedBy: new iam.AccountRootPrincipal() });
    expect(() => proxy.grantManageKeys(admin)).toThrow(/grantManageKeys\(\): the proxy has no gateway table; set `gateway`/);
  });
});

describe('outputs', () => {
  test('publishes the table name in an SSM parameter named after the service, and as stack outputs', () => {
    const { template, proxy } = build();
    const table = logicalId(template, 'AWS::DynamoDB::Table');
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Type: 'String',
      Name: `/llm-proxy/${proxy.serviceName}/gateway-table`,
      Value: { Ref: table },
    });
    expect(proxy.serviceName).toMatch(/^TestStack-Proxy-/);
    expect(proxy.gatewayTableParameter).toBeDefined();
    const outputs = template.findOutputs('*');
    expect(Object.values(outputs).map((o) => o.Value)).toEqual(expect.arrayContaining([
      { Ref: table },
      { Ref: logicalId(template, 'AWS::SSM::Parameter') },
    ]));
  });

  test('the parameter goes under parameterPrefix, or where parameterName says', () => {
    const withPrefix = build({ gateway: ProxyGateway.newTable(), parameterPrefix: '/llm-proxy/prod' });
    withPrefix.template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/llm-proxy/prod/gateway-table' });
    const named = build({ gateway: ProxyGateway.newTable({ parameterName: '/teams/llm/table' }), parameterPrefix: '/llm-proxy/prod' });
    named.template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/teams/llm/table' });
  });

  test('no gateway, no table, parameter or output', () => {
    const stack = newStack();
    const proxy = new StreamingLlmProxy(stack, 'Proxy');
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    template.resourceCountIs('AWS::SSM::Parameter', 0);
    expect(proxy.gatewayTable).toBeUndefined();
    expect(proxy.gatewayTableParameter).toBeUndefined();
    expect(functionEnv(template).PROXY_GATEWAY_TABLE).toBeUndefined();
    expect(functionEnv(template).PROXY_BUDGET_FAILURE_MODE).toBeUndefined();
  });
});

describe('ProxyGateway.fromTable()', () => {
  test('creates no table and grants on the given table and its key', () => {
    const stack = newStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555');
    const table = dynamodb.Table.fromTableAttributes(stack, 'Table', { tableName: 'shared-gateway', encryptionKey: key });
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { gateway: ProxyGateway.fromTable(table, { budgetFailureMode: BudgetFailureMode.OPEN }) });
    const admin = new iam.Role(stack, 'Admin', { assumedBy: new iam.AccountRootPrincipal() });
    proxy.grantManageKeys(admin);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    template.resourceCountIs('AWS::KMS::Key', 0);
    expect(proxy.gatewayTable).toBe(table);
    expect(functionEnv(template)).toMatchObject({ PROXY_GATEWAY_TABLE: 'shared-gateway', PROXY_BUDGET_FAILURE_MODE: 'open', PROXY_LIMIT_STORE: 'dynamodb' });
    const tableArn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':dynamodb:us-east-1:111111111111:table/shared-gateway']] };
    const proxyStatements = roleStatements(template, 'ProxyRole');
    expect(proxyStatements).toEqual(expect.arrayContaining([
      { Sid: 'UseGatewayTable', Effect: 'Allow', Action: RUNTIME_ACTIONS, Resource: tableArn },
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: key.keyArn },
    ]));
    expect(roleStatements(template, 'Admin')).toEqual(expect.arrayContaining([
      { Effect: 'Allow', Action: ADMIN_ACTIONS, Resource: tableArn },
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: key.keyArn },
    ]));
    template.hasResourceProperties('AWS::SSM::Parameter', { Value: 'shared-gateway' });
  });

  test('a table without a customer managed key gets no KMS grant', () => {
    const stack = newStack();
    const table = dynamodb.Table.fromTableName(stack, 'Table', 'shared-gateway');
    new StreamingLlmProxy(stack, 'Proxy', { gateway: ProxyGateway.fromTable(table) });
    const statements = roleStatements(Template.fromStack(stack), 'ProxyRole');
    expect(statements.some((s) => JSON.stringify(s.Action).includes('kms:GenerateDataKey'))).toBe(false);
  });
});

describe('a proxy in a VPC', () => {
  function endpoints(template: Template) {
    return Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) => e.Properties);
  }

  test('adds a DynamoDB gateway endpoint to the route tables of the function\'s subnets of a VPC defined in the app', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc');
    new StreamingLlmProxy(stack, 'Proxy', { vpc, gateway: ProxyGateway.newTable() });
    const template = Template.fromStack(stack);
    expect(endpoints(template)).toEqual([{
      VpcEndpointType: 'Gateway',
      VpcId: stack.resolve(vpc.vpcId),
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.dynamodb']] },
      RouteTableIds: stack.resolve(vpc.privateSubnets.map((s) => s.routeTable.routeTableId)),
    }]);
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('dynamoDbEndpoint'))).toEqual([]);
  });

  test('adds the endpoint to the session store\'s VPC too', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'cache', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    new StreamingLlmProxy(stack, 'Proxy', { sessions: new FakeSessionStore(vpc), vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, gateway: ProxyGateway.newTable() });
    const template = Template.fromStack(stack);
    expect(endpoints(template)).toEqual([expect.objectContaining({
      RouteTableIds: stack.resolve(vpc.isolatedSubnets.map((s) => s.routeTable.routeTableId)),
    })]);
  });

  test('with VpcRedisSessions (isolated subnets, no NAT) the table is reached through the added endpoint, and nag stays clean', () => {
    const stack = newStack();
    const sessions = new VpcRedisSessions(stack, 'Sessions');
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { sessions, gateway: ProxyGateway.newTable() });
    const template = Template.fromStack(stack);
    const subnets = sessions.vpc.selectSubnets(sessions.vpcSubnets).subnets;
    expect(subnets.length).toBeGreaterThan(0);
    const dynamo = endpoints(template).filter((e) => JSON.stringify(e.ServiceName).includes('.dynamodb'));
    expect(dynamo).toEqual([expect.objectContaining({
      VpcEndpointType: 'Gateway',
      RouteTableIds: stack.resolve(subnets.map((s) => s.routeTable.routeTableId)),
    })]);
    expect(functionEnv(template)).toMatchObject({ PROXY_LIMIT_STORE: 'redis', PROXY_GATEWAY_TABLE: { Ref: expect.stringMatching(/^ProxyGatewayTable/) } });
    expect(proxy.endpointType).toBe(ProxyEndpointType.REST_API);
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('does not add a second endpoint to a VPC that has one, nor when dynamoDbEndpoint is false', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { gatewayEndpoints: { DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB } } });
    new StreamingLlmProxy(stack, 'Proxy', { vpc, gateway: ProxyGateway.newTable() });
    expect(endpoints(Template.fromStack(stack))).toHaveLength(1);

    const other = newStack();
    new StreamingLlmProxy(other, 'Proxy', { vpc: new ec2.Vpc(other, 'Vpc'), gateway: ProxyGateway.newTable({ dynamoDbEndpoint: false }) });
    expect(endpoints(Template.fromStack(other))).toHaveLength(0);
  });

  test('an imported VPC gets no endpoint and a warning naming dynamoDbEndpoint, unless it is set', () => {
    const importVpc = (stack: Stack) => ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
      vpcId: 'vpc-12345678',
      availabilityZones: ['us-east-1a', 'us-east-1b'],
      privateSubnetIds: ['subnet-1', 'subnet-2'],
      privateSubnetRouteTableIds: ['rtb-1', 'rtb-2'],
    });
    const stack = newStack();
    new StreamingLlmProxy(stack, 'Proxy', { vpc: importVpc(stack), gateway: ProxyGateway.newTable() });
    expect(endpoints(Template.fromStack(stack))).toHaveLength(0);
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('imported VPC.*`dynamoDbEndpoint: true`'));
    expect(warnings).toHaveLength(1);

    const explicit = newStack();
    new StreamingLlmProxy(explicit, 'Proxy', { vpc: importVpc(explicit), gateway: ProxyGateway.newTable({ dynamoDbEndpoint: true }) });
    expect(endpoints(Template.fromStack(explicit))).toEqual([expect.objectContaining({ VpcId: 'vpc-12345678', RouteTableIds: ['rtb-1', 'rtb-2'] })]);
    expect(Annotations.fromStack(explicit).findWarning('*', Match.stringLikeRegexp('dynamoDbEndpoint'))).toEqual([]);
  });

  test('a DynamoDB endpoint added to the VPC after the proxy is a synth error naming dynamoDbEndpoint', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc');
    new StreamingLlmProxy(stack, 'Proxy', { vpc, gateway: ProxyGateway.newTable() });
    vpc.addGatewayEndpoint('LaterDynamoDb', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
    expect(() => Template.fromStack(stack)).toThrow(/another one.*`dynamoDbEndpoint: false`/);
  });
});

describe('misuse', () => {
  test('cacheTtl must be whole seconds', () => {
    expect(() => ProxyGateway.newTable({ cacheTtl: Duration.millis(1500) })).toThrow(/`cacheTtl` must be a whole number of seconds/);
  });

  test('parameterName must be an SSM path', () => {
    expect(() => ProxyGateway.newTable({ parameterName: 'gateway-table' })).toThrow(/`parameterName` must be an SSM path/);
    const stack = newStack();
    expect(() => ProxyGateway.fromTable(dynamodb.Table.fromTableName(stack, 'T', 't'), { parameterName: '/a/' })).toThrow(/`parameterName`/);
  });

  test('rateLimitFailureMode still needs a shared store, and names both props that give one', () => {
    expect(() => build({ rateLimitFailureMode: RateLimitFailureMode.CLOSED })).toThrow(/`rateLimitFailureMode` applies to a shared limit store; set `sessions` or `gateway`/);
  });

  test('sessionTtl without sessions is still an error even with a gateway', () => {
    expect(() => build({ gateway: ProxyGateway.newTable(), sessionTtl: Duration.hours(1) })).toThrow(/`sessionTtl` and `sessionMaxSize` apply to shared sessions/);
  });
});

describe('cdk-nag', () => {
  test('a function-URL proxy with a created gateway table and an admin grant has no unacknowledged findings in the four packs', () => {
    const stack = newStack();
    const proxy = new StreamingLlmProxy(stack, 'Proxy', { gateway: ProxyGateway.newTable() });
    const admin = new iam.Role(stack, 'Admin', { assumedBy: new iam.AccountRootPrincipal() });
    proxy.grantManageKeys(admin);
    // The admin role is the app's: how it holds its policies is the app's choice (the grant adds to its default policy,
    // as every aws-cdk-lib grant does).
    for (const id of ['NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy']) {
      Validations.of(admin).acknowledge({ id, reason: 'The test app\'s administrator role; its inline policy comes from grantManageKeys().' });
    }
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('a proxy in a VPC with the proxy\'s key, limits and a gateway table has no unacknowledged findings in the four packs', () => {
    const app = new App();
    const fixtures = new Stack(app, 'Fixtures', { env: ENV });
    const vpc = new ec2.Vpc(fixtures, 'Vpc', { natGateways: 1 });
    const stack = new Stack(app, 'TestStack', { env: ENV });
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new StreamingLlmProxy(stack, 'Proxy', {
      vpc,
      encryptionKey: key,
      rateLimits: { requestsPerMinute: 60 },
      rateLimitFailureMode: RateLimitFailureMode.CLOSED,
      gateway: ProxyGateway.newTable({ budgetFailureMode: BudgetFailureMode.OPEN }),
      parameterPrefix: '/llm-proxy/prod',
    });
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('a proxy on an existing table has no unacknowledged findings in the four packs', () => {
    const stack = newStack();
    const table = dynamodb.Table.fromTableName(stack, 'Table', 'shared-gateway');
    new StreamingLlmProxy(stack, 'Proxy', { gateway: ProxyGateway.fromTable(table) });
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });
});

describe('spend per key', () => {
  test('metricKeyEstimatedCost() reads the runtime\'s KeyEstimatedCost by key, and by key and model', () => {
    const { proxy } = build({ gateway: ProxyGateway.newTable(), serviceName: 'llm-proxy' });
    const perKey = proxy.metricKeyEstimatedCost({ key: 'alice' });
    expect(perKey.metricName).toBe('KeyEstimatedCost');
    expect(perKey.dimensions).toEqual({ service: 'llm-proxy', key: 'alice' });
    expect(proxy.metricKeyEstimatedCost({ key: 'alice', model: 'claude-sonnet-4-6' }).dimensions)
      .toEqual({ service: 'llm-proxy', key: 'alice', model: 'claude-sonnet-4-6' });
    expect(proxy.metricKeyEstimatedCost().dimensions).toEqual({ service: 'llm-proxy', key: 'other' });
  });
});

describe('team budgets', () => {
  const teamBudgets = [{ team: 'platform', monthlyUsd: 600 }, { team: 'search.ml', monthlyUsd: 300, alarmAtPercent: 50 }];

  test('metricTeamEstimatedCost() reads the runtime\'s TeamEstimatedCost by team', () => {
    const { proxy } = build({ gateway: ProxyGateway.newTable(), serviceName: 'llm-proxy' });
    const metric = proxy.metricTeamEstimatedCost('platform');
    expect(metric.metricName).toBe('TeamEstimatedCost');
    expect(metric.dimensions).toEqual({ service: 'llm-proxy', team: 'platform' });
    expect(metric.statistic).toBe('Sum');
    expect(metric.period.toSeconds()).toBe(300);
  });

  test('each team gets a burn-rate alarm on its 24-hour spend at alarmAtPercent of the monthly budget over 30 days, notifying the alarm topic', () => {
    const { proxy, template } = build({ gateway: ProxyGateway.newTable({ teamBudgets }), serviceName: 'llm-proxy' });
    const topic = logicalId(template, 'AWS::SNS::Topic');
    // 600 USD * 80% (the default) / 30 days = 16 USD per 24 hours; 300 * 50% / 30 = 5.
    for (const [team, threshold] of [['platform', 16], ['search.ml', 5]] as const) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'TeamEstimatedCost',
        Namespace: 'ServerlessLlm',
        Dimensions: Match.arrayWith([{ Name: 'service', Value: 'llm-proxy' }, { Name: 'team', Value: team }]),
        Statistic: 'Sum',
        Period: 86400,
        EvaluationPeriods: 1,
        Threshold: threshold,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: topic }],
        OKActions: [{ Ref: topic }],
        AlarmDescription: Match.stringLikeRegexp(`^Team ${team.replace('.', '\\.')} spent \\$${threshold}\\.00 or more in 24 hours`),
      });
    }
    expect(proxy.alarms.filter((a) => (a.metric as { metricName?: string }).metricName === 'TeamEstimatedCost')).toHaveLength(2);
  });

  test('fromTable() takes team budgets too, and no teamBudgets means no team alarm', () => {
    const stack = newStack();
    const table = dynamodb.Table.fromTableName(stack, 'Table', 'shared-gateway');
    new StreamingLlmProxy(stack, 'Proxy', { gateway: ProxyGateway.fromTable(table, { teamBudgets: [{ team: 'platform', monthlyUsd: 30 }] }) });
    Template.fromStack(stack).resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'TeamEstimatedCost' }, 1);
    build().template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'TeamEstimatedCost' }, 0);
  });

  test.each([
    [[{ team: 'platform', monthlyUsd: -5 }], /`teamBudgets\[0\]\.monthlyUsd` must be a positive number of USD/],
    [[{ team: 'platform', monthlyUsd: 0 }], /`teamBudgets\[0\]\.monthlyUsd` must be a positive number/],
    [[{ team: 'platform', monthlyUsd: Number.NaN }], /`teamBudgets\[0\]\.monthlyUsd`/],
    [[{ team: 'a', monthlyUsd: 1 }, { team: 'a', monthlyUsd: 2 }], /`teamBudgets\[1\]\.team`: the team 'a' is listed twice/],
    [[{ team: 'platform', monthlyUsd: 10, alarmAtPercent: 0 }], /`teamBudgets\[0\]\.alarmAtPercent` must be a percentage over 0 and at most 100/],
    [[{ team: 'platform', monthlyUsd: 10, alarmAtPercent: 120 }], /`teamBudgets\[0\]\.alarmAtPercent` must be a percentage/],
    [[{ team: 'has space', monthlyUsd: 10 }], /`teamBudgets\[0\]\.team` must be a team name/],
    [[{ team: '', monthlyUsd: 10 }], /`teamBudgets\[0\]\.team` must be a team name/],
  ])('a bad team budget %j is a synth-time error naming the prop', (budgets, message) => {
    expect(() => ProxyGateway.newTable({ teamBudgets: budgets })).toThrow(message);
    const stack = newStack();
    expect(() => ProxyGateway.fromTable(dynamodb.Table.fromTableName(stack, 'T', 't'), { teamBudgets: budgets })).toThrow(message);
  });

  test('a proxy with team budget alarms has no unacknowledged findings in the four packs', () => {
    const stack = newStack();
    new StreamingLlmProxy(stack, 'Proxy', { gateway: ProxyGateway.newTable({ teamBudgets }) });
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });
});

describe('dashboard', () => {
  test('with the gateway, the dashboard shows the ten keys that spent most, from KeyEstimatedCost', () => {
    const { template } = build({ gateway: ProxyGateway.newTable(), serviceName: 'llm-proxy' });
    const body = JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(body).toContain('Spend per key, top 10 (USD)');
    expect(body).toContain('SORT(SEARCH(');
    expect(body).toContain('MetricName=\\\\\\"KeyEstimatedCost\\\\\\" service=\\\\\\"llm-proxy\\\\\\"');
  });

  test('without it, there is no per-key widget', () => {
    const { template } = build({ serviceName: 'llm-proxy' });
    expect(JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'))).not.toContain('Spend per key');
  });
});
