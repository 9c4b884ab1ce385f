import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { IConstruct } from 'constructs';
import { CacheAuth, CacheEngine, EvictionPolicy, VpcRedisSessions, type VpcRedisSessionsProps } from '../../src';
import { SESSIONS_USER_ACCESS_STRING } from '../../src/vpc-redis-sessions/access-string';
import { formatFindings, nagFindings } from '../support/nag';

const ENV = { account: '123456789012', region: 'us-east-1' };

function newStack(): Stack {
  return new Stack(new App(), 'Stack', { env: ENV });
}

function build(props?: VpcRedisSessionsProps): { stack: Stack; sessions: VpcRedisSessions; template: Template } {
  const stack = newStack();
  const sessions = new VpcRedisSessions(stack, 'Sessions', props);
  return { stack, sessions, template: Template.fromStack(stack) };
}

/** A function attached to the sessions VPC, the way a consumer (or StreamingLlmProxy) creates one. */
function vpcFunction(scope: IConstruct, sessions: VpcRedisSessions, id = 'Fn'): lambda.Function {
  return new lambda.Function(scope as Stack, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
    vpc: sessions.vpc,
    vpcSubnets: sessions.vpcSubnets,
  });
}

function acknowledged(construct: IConstruct): string[] {
  return construct.node.metadata
    .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((m) => Object.keys(m.data as Record<string, string>));
}

function userVpc(stack: Stack, subnetConfiguration?: ec2.SubnetConfiguration[]): ec2.Vpc {
  return new ec2.Vpc(stack, 'UserVpc', {
    maxAzs: 2,
    natGateways: subnetConfiguration ? 0 : 1,
    subnetConfiguration: subnetConfiguration ?? [
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    ],
  });
}

describe('VpcRedisSessions defaults', () => {
  test('synthesizes with no props: a Multi-AZ Valkey replication group with TLS, encryption at rest, IAM auth and logs', () => {
    const { template } = build();
    template.resourceCountIs('AWS::ElastiCache::ReplicationGroup', 1);
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      Engine: 'valkey',
      EngineVersion: '8.0',
      CacheNodeType: 'cache.t4g.small',
      NumCacheClusters: 2,
      MultiAZEnabled: true,
      AutomaticFailoverEnabled: true,
      Port: 6380,
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
      AtRestEncryptionEnabled: true,
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsKey'), 'Arn'] },
      SnapshotRetentionLimit: 15,
      SnapshotWindow: '03:00-04:00',
      PreferredMaintenanceWindow: 'sun:05:00-sun:06:00',
      UserGroupIds: [{ Ref: Match.stringLikeRegexp('^SessionsUserGroup') }],
      AuthToken: Match.absent(),
      NumNodeGroups: Match.absent(),
      LogDeliveryConfigurations: [
        Match.objectLike({ LogType: 'slow-log', LogFormat: 'json', DestinationType: 'cloudwatch-logs', DestinationDetails: { CloudWatchLogsDetails: { LogGroup: { Ref: Match.stringLikeRegexp('^SessionsSlowLog') } } } }),
        Match.objectLike({ LogType: 'engine-log', LogFormat: 'json', DestinationType: 'cloudwatch-logs', DestinationDetails: { CloudWatchLogsDetails: { LogGroup: { Ref: Match.stringLikeRegexp('^SessionsEngineLog') } } } }),
      ],
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90, KmsKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::ElastiCache::ParameterGroup', {
      CacheParameterGroupFamily: 'valkey8',
      Properties: { 'maxmemory-policy': 'volatile-lru' },
    });
  });

  test('lets CloudWatch Logs use the key for the log groups, scoped to log groups of this account and region', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Sid: 'CloudWatchLogsEncryption',
          Principal: { Service: 'logs.us-east-1.amazonaws.com' },
          Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:us-east-1:123456789012:log-group:*']] } } },
        })]),
      },
    });
  });

  test('lets CloudWatch alarms use the key only for alarms of this account (aws:SourceAccount and aws:SourceArn)', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Sid: 'CloudWatchAlarmsToEncryptedTopic',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Condition: {
            StringEquals: { 'aws:SourceAccount': '123456789012' },
            ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:us-east-1:123456789012:alarm:*']] } },
          },
        })]),
      },
    });
  });

  test('creates a VPC with only private isolated subnets in two zones, no NAT gateway or internet gateway, flow logs and a closed default security group', () => {
    const { template, sessions } = build();
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::Subnet', 2);
    template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false });
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::Route', 0);
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
    // The flow-log role has a managed policy scoped to its log group, and no inline policy.
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: { Statement: [Match.objectLike({ Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsFlowLogs'), 'Arn'] } })] },
    });
    template.resourceCountIs('AWS::IAM::Policy', 0);
    expect(sessions.vpcSubnets).toEqual({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED });
    template.hasResourceProperties('AWS::ElastiCache::SubnetGroup', {
      SubnetIds: [{ Ref: Match.stringLikeRegexp('^SessionsVpcCacheSubnet1') }, { Ref: Match.stringLikeRegexp('^SessionsVpcCacheSubnet2') }],
    });
  });

  test('creates interface endpoints for Bedrock Runtime, Secrets Manager, STS, CloudWatch Logs and monitoring and X-Ray in the cache subnets', () => {
    const { template } = build();
    const endpoints = template.findResources('AWS::EC2::VPCEndpoint');
    const services = Object.values(endpoints).map((e) => JSON.stringify(e.Properties.ServiceName));
    for (const service of ['bedrock-runtime', 'secretsmanager', 'sts', 'logs', 'monitoring', 'xray']) {
      expect(services.some((s) => s.includes(`.${service}`))).toBe(true);
    }
    expect(services).toHaveLength(6);
    expect(services.some((s) => s.includes('elasticache'))).toBe(false);
    template.allResourcesProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
      SubnetIds: [{ Ref: Match.stringLikeRegexp('^SessionsVpcCacheSubnet1') }, { Ref: Match.stringLikeRegexp('^SessionsVpcCacheSubnet2') }],
      SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsEndpointSecurityGroup'), 'GroupId'] }],
    });
  });

  test('opens nothing by itself: neither the cache nor the endpoint security group admits any traffic, and neither sends any', () => {
    const { template } = build();
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    const groups = template.findResources('AWS::EC2::SecurityGroup');
    expect(Object.keys(groups)).toHaveLength(2);
    for (const group of Object.values(groups)) {
      expect(group.Properties.SecurityGroupIngress).toBeUndefined();
      expect(group.Properties.SecurityGroupEgress).toEqual([Match.objectLike({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' })].map(() => expect.objectContaining({ CidrIp: '255.255.255.255/32' })));
    }
  });

  test('uses IAM auth: a disabled default user, an IAM user confined to llm: keys, and a user group, with no static secret', () => {
    const { template, sessions } = build();
    template.hasResourceProperties('AWS::ElastiCache::User', {
      UserName: 'default', AccessString: 'off -@all', Engine: 'valkey', AuthenticationMode: { Type: 'no-password-required' },
    });
    template.hasResourceProperties('AWS::ElastiCache::User', {
      UserId: sessions.userId,
      UserName: sessions.userId,
      AccessString: SESSIONS_USER_ACCESS_STRING,
      AuthenticationMode: { Type: 'iam' },
      Engine: 'valkey',
    });
    expect(sessions.userId).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
    expect(sessions.userId!.length).toBeLessThanOrEqual(40);
    template.hasResourceProperties('AWS::ElastiCache::UserGroup', {
      Engine: 'valkey',
      UserIds: [{ Ref: Match.stringLikeRegexp('^SessionsDefaultUser') }, { Ref: Match.stringLikeRegexp('^SessionsAppUser') }],
    });
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.resourceCountIs('AWS::Lambda::Function', 1); // only the VPC default-security-group custom resource
    expect(sessions.authTokenSecret).toBeUndefined();
  });

  test('derives different user ids for two caches in one account', () => {
    const stack = newStack();
    const a = new VpcRedisSessions(stack, 'A');
    const b = new VpcRedisSessions(stack, 'B');
    expect(a.userId).not.toEqual(b.userId);
  });

  test('alarms on CPU, engine CPU, memory, evictions, connections and replication lag, notifying an encrypted HTTPS-only topic', () => {
    const { template, sessions } = build();
    template.resourceCountIs('AWS::CloudWatch::Alarm', 6);
    expect(sessions.alarms).toHaveLength(6);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsKey'), 'Arn'] } });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: [Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })] },
    });
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: Match.stringLikeRegexp('^SessionsAlarmTopic') }] });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const byMetric = (name: string) => alarms.find((a) => JSON.stringify(a.Metrics).includes(`"MetricName":"${name}"`));
    expect(byMetric('CPUUtilization')).toMatchObject({ Threshold: 90, EvaluationPeriods: 3 });
    expect(byMetric('EngineCPUUtilization')).toMatchObject({ Threshold: 90, EvaluationPeriods: 3 });
    expect(byMetric('DatabaseMemoryUsagePercentage')).toMatchObject({ Threshold: 80 });
    expect(byMetric('Evictions')).toMatchObject({ Threshold: 1, EvaluationPeriods: 1 });
    expect(byMetric('CurrConnections')).toMatchObject({ Threshold: 10_000 });
    expect(byMetric('ReplicationLag')).toMatchObject({ Threshold: 5 });
    // Every node is watched: the alarm takes the highest of the two member clusters.
    expect(byMetric('CPUUtilization')!.Metrics[0]).toMatchObject({ Expression: 'MAX([n0, n1])' });
    expect(JSON.stringify(byMetric('CPUUtilization')!.Metrics)).toContain('-002');
  });
});

describe('VpcRedisSessions.grantConnect', () => {
  test('admits the function on the cache port and to the endpoints on 443, sets REDIS_* and grants elasticache:Connect on the cache and user', () => {
    const stack = newStack();
    const sessions = new VpcRedisSessions(stack, 'Sessions');
    const fn = vpcFunction(stack, sessions);
    sessions.grantConnect(fn);
    const template = Template.fromStack(stack);
    const fnSg = { 'Fn::GetAtt': [Match.stringLikeRegexp('^FnSecurityGroup'), 'GroupId'] };
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: fnSg,
      IpProtocol: 'tcp',
      FromPort: 6380,
      ToPort: 6380,
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsEndpointSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: fnSg,
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
    });
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 2);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          REDIS_HOST: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsReplicationGroup'), 'PrimaryEndPoint.Address'] },
          REDIS_PORT: '6380',
          REDIS_TLS: 'true',
          REDIS_AUTH_MODE: 'iam',
          REDIS_USER: sessions.userId,
          REDIS_CACHE_NAME: { Ref: Match.stringLikeRegexp('^SessionsReplicationGroup') },
        },
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [{
          Sid: 'ConnectToSessionsCache',
          Effect: 'Allow',
          Action: 'elasticache:Connect',
          Resource: [
            { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':elasticache:us-east-1:123456789012:replicationgroup:', { Ref: Match.stringLikeRegexp('^SessionsReplicationGroup') }]] },
            { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:elasticache:us-east-1:123456789012:user:${sessions.userId}`]] },
          ],
        }],
      },
    });
  });

  test('with token auth, points the function at the secret (never its value) and grants reading it', () => {
    const stack = newStack();
    const sessions = new VpcRedisSessions(stack, 'Sessions', { auth: CacheAuth.token() });
    const fn = vpcFunction(stack, sessions);
    sessions.grantConnect(fn);
    const template = Template.fromStack(stack);
    const variables = template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler', Code: { ZipFile: Match.anyValue() } } });
    const env = Object.values(variables)[0].Properties.Environment.Variables;
    expect(env).toEqual({
      REDIS_HOST: expect.anything(),
      REDIS_PORT: '6380',
      REDIS_TLS: 'true',
      REDIS_AUTH_MODE: 'token',
      REDIS_TOKEN_SECRET_ARN: { Ref: expect.stringMatching(/^SessionsAuthToken/) },
    });
    expect(JSON.stringify(env)).not.toContain('resolve:secretsmanager');
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^FnServiceRole') }],
      PolicyDocument: {
        Statement: [{ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: { Ref: Match.stringLikeRegexp('^SessionsAuthToken') } }],
      },
    });
    // Decrypting the secret's key is allowed in the key policy, only through Secrets Manager.
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: 'kms:Decrypt',
          Principal: { AWS: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FnServiceRole'), 'Arn'] } },
          Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } },
        })]),
      },
    });
  });

  test('refuses a function that is not attached to a VPC, saying how to attach it', () => {
    const stack = newStack();
    const sessions = new VpcRedisSessions(stack, 'Sessions');
    const fn = new lambda.Function(stack, 'Outside', {
      runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {};'),
    });
    expect(() => sessions.grantConnect(fn)).toThrow(/not attached to a VPC.*vpc: sessions\.vpc/);
  });

  test('is idempotent per function', () => {
    const stack = newStack();
    const sessions = new VpcRedisSessions(stack, 'Sessions');
    const fn = vpcFunction(stack, sessions);
    sessions.grantConnect(fn);
    sessions.grantConnect(fn);
    Template.fromStack(stack).resourceCountIs('AWS::EC2::SecurityGroupIngress', 2);
  });
});

describe('VpcRedisSessions props', () => {
  test('engine: Redis OSS 7.1 sets the engine, version, parameter family and user engine', () => {
    const { template } = build({ engine: CacheEngine.redis('7.1') });
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', { Engine: 'redis', EngineVersion: '7.1' });
    template.hasResourceProperties('AWS::ElastiCache::ParameterGroup', { CacheParameterGroupFamily: 'redis7' });
    template.allResourcesProperties('AWS::ElastiCache::User', { Engine: 'redis' });
    template.hasResourceProperties('AWS::ElastiCache::UserGroup', { Engine: 'redis' });
    expect(CacheEngine.valkey('7.2').parameterGroupFamily).toBe('valkey7');
    expect(CacheEngine.redis('6.2').parameterGroupFamily).toBe('redis6.x');
  });

  test('engine: an unknown version, or IAM auth on an engine without it, is a synth error naming the prop', () => {
    expect(() => CacheEngine.valkey('9')).toThrow(/CacheEngine.valkey\('9'\).*major.minor/);
    expect(() => CacheEngine.redis('5.0')).toThrow(/major of 6, 7/);
    expect(() => build({ engine: CacheEngine.redis('6.2') })).toThrow(/auth: IAM authentication needs .* not redis 6.2/);
    expect(() => build({ engine: CacheEngine.valkey('7.1'), auth: CacheAuth.iam() })).toThrow(/auth: IAM/);
    expect(() => build({ engine: CacheEngine.redis('6.2'), auth: CacheAuth.token() })).not.toThrow();
  });

  test('auth: token creates a generated secret as the AUTH token, a rotation schedule and the bundled rotation function in the VPC', () => {
    const { template, sessions } = build({ auth: CacheAuth.token({ rotateEvery: Duration.days(7) }) });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsKey'), 'Arn'] },
      GenerateSecretString: { SecretStringTemplate: '{}', GenerateStringKey: 'password', ExcludePunctuation: true, IncludeSpace: false, PasswordLength: 64 },
    });
    const group = Object.values(template.findResources('AWS::ElastiCache::ReplicationGroup'))[0].Properties;
    expect(JSON.stringify(group.AuthToken)).toMatch(/resolve:secretsmanager:.*:SecretString:password::/);
    expect(group.UserGroupIds).toBeUndefined();
    template.resourceCountIs('AWS::ElastiCache::User', 0);
    template.resourceCountIs('AWS::ElastiCache::UserGroup', 0);
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationLambdaARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsRotationFunction'), 'Arn'] },
      RotationRules: { ScheduleExpression: 'rate(7 days)' },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Timeout: 900,
      TracingConfig: { Mode: 'Active' },
      VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue() }),
      Environment: {
        Variables: {
          REPLICATION_GROUP_ID: { Ref: Match.stringLikeRegexp('^SessionsReplicationGroup') },
          REDIS_HOST: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsReplicationGroup'), 'PrimaryEndPoint.Address'] },
          REDIS_PORT: '6380',
          REDIS_TLS: 'true',
        },
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Sid: 'RotateAuthToken',
          Action: ['elasticache:ModifyReplicationGroup', 'elasticache:DescribeReplicationGroups'],
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':elasticache:us-east-1:123456789012:replicationgroup:', { Ref: Match.stringLikeRegexp('^SessionsReplicationGroup') }]] },
        })]),
      },
    });
    // The rotation function reaches the cache, and Secrets Manager and ElastiCache through endpoints.
    const services = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) => JSON.stringify(e.Properties.ServiceName));
    expect(services.some((s) => s.includes('.elasticache'))).toBe(true);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsRotationFunctionSecurityGroup'), 'GroupId'] },
      FromPort: 6380,
    });
    expect(sessions.rotationFunction).toBeDefined();
    expect(sessions.userId).toBeUndefined();
  });

  test('auth: token lets only rotations of its own secret, in this account, invoke the rotation function (CKV_AWS_364)', () => {
    const { template } = build({ auth: CacheAuth.token() });
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'))
      .map((r) => r.Properties)
      .filter((p) => p.Principal === 'secretsmanager.amazonaws.com');
    expect(permissions).toHaveLength(1);
    expect(permissions[0]).toMatchObject({
      FunctionName: { 'Fn::GetAtt': [expect.stringMatching(/^SessionsRotationFunction/), 'Arn'] },
      SourceArn: { Ref: expect.stringMatching(/^SessionsAuthToken|^SessionsToken|^Sessions.*Secret/) },
      SourceAccount: '123456789012',
    });
  });

  test('auth: token rotation period and IAM user id are validated', () => {
    expect(CacheAuth.token().rotateEvery!.toDays()).toBe(30);
    expect(() => CacheAuth.token({ rotateEvery: Duration.hours(12) })).toThrow(/rotateEvery.*whole number of days/);
    expect(() => CacheAuth.iam({ userId: 'Bad_Id' })).toThrow(/userId: 'Bad_Id'/);
    expect(() => CacheAuth.iam({ userId: 'ends-' })).toThrow(/userId/);
    const { template } = build({ auth: CacheAuth.iam({ userId: 'chat-proxy' }) });
    template.hasResourceProperties('AWS::ElastiCache::User', { UserId: 'chat-proxy', UserName: 'chat-proxy', AuthenticationMode: { Type: 'iam' } });
  });

  test('nodeType and replicas: a single development node turns off Multi-AZ, failover and the replication-lag alarm', () => {
    const { template, sessions } = build({ nodeType: 'cache.r7g.large', replicas: 0 });
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      CacheNodeType: 'cache.r7g.large', NumCacheClusters: 1, MultiAZEnabled: false, AutomaticFailoverEnabled: false,
    });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 5);
    expect(JSON.stringify(template.findResources('AWS::CloudWatch::Alarm'))).not.toContain('ReplicationLag');
    expect(sessions.metricCpuUtilization()).toBeInstanceOf(cloudwatch.Metric);
    const three = build({ replicas: 2 });
    three.template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', { NumCacheClusters: 3, MultiAZEnabled: true });
    expect(() => build({ replicas: 6 })).toThrow(/replicas must be a whole number from 0 to 5/);
    expect(() => build({ replicas: 1.5 })).toThrow(/replicas/);
    expect(() => build({ nodeType: 'm5.large' })).toThrow(/nodeType must be an ElastiCache node type/);
  });

  test('port: sets the cache port and the security-group rule', () => {
    const stack = newStack();
    const sessions = new VpcRedisSessions(stack, 'Sessions', { port: 7000 });
    sessions.grantConnect(vpcFunction(stack, sessions));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', { Port: 7000 });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 7000, ToPort: 7000 });
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ REDIS_PORT: '7000' }) } });
    expect(sessions.port).toBe(7000);
    expect(sessions.connections.defaultPort?.toString()).toBe('7000');
    expect(() => build({ port: 80 })).toThrow(/port must be a whole number from 1150 to 65535/);
  });

  test('encryptionKey: your key encrypts the cache, the logs and the alarm topic, and no key is created', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'MyKey', { enableKeyRotation: true });
    new VpcRedisSessions(stack, 'Sessions', { encryptionKey: key });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 1);
    const myKey = { 'Fn::GetAtt': [Match.stringLikeRegexp('^MyKey'), 'Arn'] };
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', { KmsKeyId: myKey });
    template.allResourcesProperties('AWS::Logs::LogGroup', { KmsKeyId: myKey });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: myKey });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'CloudWatchLogsEncryption' })]) },
    });
  });

  test('snapshotRetentionDays, snapshotWindow and maintenanceWindow are set, and malformed values are synth errors', () => {
    const { template } = build({ snapshotRetentionDays: 30, snapshotWindow: '01:30-02:30', maintenanceWindow: 'sat:22:00-sat:23:00' });
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      SnapshotRetentionLimit: 30, SnapshotWindow: '01:30-02:30', PreferredMaintenanceWindow: 'sat:22:00-sat:23:00',
    });
    expect(() => build({ snapshotRetentionDays: 36 })).toThrow(/snapshotRetentionDays/);
    expect(() => build({ snapshotWindow: '3am' })).toThrow(/snapshotWindow must look like/);
    expect(() => build({ maintenanceWindow: 'sunday 5-6' })).toThrow(/maintenanceWindow must look like/);
  });

  test('evictionPolicy sets maxmemory-policy', () => {
    build({ evictionPolicy: EvictionPolicy.ALLKEYS_LRU }).template.hasResourceProperties('AWS::ElastiCache::ParameterGroup', {
      Properties: { 'maxmemory-policy': 'allkeys-lru' },
    });
  });

  test('logRetention applies to the slow log, engine log and flow logs', () => {
    const { template } = build({ logRetention: logs.RetentionDays.ONE_YEAR });
    template.resourceCountIs('AWS::Logs::LogGroup', 3);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  test('alarms: false creates no alarms and no topic; alarmTopic routes every alarm to your topic', () => {
    const off = build({ alarms: false });
    off.template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    off.template.resourceCountIs('AWS::SNS::Topic', 0);
    expect(off.sessions.alarmTopic).toBeUndefined();
    const stack = newStack();
    const topic = new sns.Topic(stack, 'OnCall');
    expect(() => new VpcRedisSessions(stack, 'Off', { alarms: false, alarmTopic: topic })).toThrow(/alarmTopic needs `alarms`/);
    new VpcRedisSessions(stack, 'Sessions', { alarmTopic: topic });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: Match.stringLikeRegexp('^OnCall') }] });
  });

  test('vpc: your VPC is used as it is (private subnets with egress, no endpoints) unless vpcEndpoints is true', () => {
    const stack = newStack();
    const vpc = userVpc(stack);
    const sessions = new VpcRedisSessions(stack, 'Sessions', { vpc });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    expect(sessions.vpc).toBe(vpc);
    expect(sessions.vpcSubnets).toEqual({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    template.hasResourceProperties('AWS::ElastiCache::SubnetGroup', {
      SubnetIds: [{ Ref: Match.stringLikeRegexp('^UserVpcPrivateSubnet1') }, { Ref: Match.stringLikeRegexp('^UserVpcPrivateSubnet2') }],
    });
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());

    const withEndpoints = newStack();
    new VpcRedisSessions(withEndpoints, 'Sessions', { vpc: userVpc(withEndpoints), vpcEndpoints: true });
    Template.fromStack(withEndpoints).resourceCountIs('AWS::EC2::VPCEndpoint', 6);
  });

  test('vpc: isolated subnets without endpoints get a warning that says what the VPC must provide', () => {
    const stack = newStack();
    const vpc = userVpc(stack, [{ name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }]);
    new VpcRedisSessions(stack, 'Sessions', { vpc });
    Annotations.fromStack(stack).hasWarning('/Stack/Sessions', Match.stringLikeRegexp('Bedrock Runtime, Secrets Manager, STS and CloudWatch.*vpcEndpoints: true'));
  });

  test('vpcSubnets: public subnets, a single zone for Multi-AZ, and vpcSubnets without vpc are synth errors', () => {
    const stack = newStack();
    const vpc = userVpc(stack);
    expect(() => new VpcRedisSessions(stack, 'Public', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } })).toThrow(/vpcSubnets selects public subnets/);
    expect(() => new VpcRedisSessions(stack, 'Missing', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } })).toThrow(/^vpcSubnets: /);
    const oneZone = { subnets: [vpc.privateSubnets[0]] };
    expect(() => new VpcRedisSessions(stack, 'OneZone', { vpc, vpcSubnets: oneZone })).toThrow(/needs subnets in two Availability Zones.*replicas: 0/);
    expect(() => new VpcRedisSessions(stack, 'Dev', { vpc, vpcSubnets: oneZone, replicas: 0 })).not.toThrow();
    expect(() => build({ vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } })).toThrow(/vpcSubnets needs `vpc`/);
  });

  test('metricX() read every node of the group', () => {
    const { sessions } = build();
    const stack = Stack.of(sessions);
    const names: Record<string, () => cloudwatch.IMetric> = {
      CPUUtilization: () => sessions.metricCpuUtilization(),
      EngineCPUUtilization: () => sessions.metricEngineCpuUtilization(),
      DatabaseMemoryUsagePercentage: () => sessions.metricMemoryUsagePercentage(),
      Evictions: () => sessions.metricEvictions(),
      CurrConnections: () => sessions.metricCurrentConnections(),
      ReplicationLag: () => sessions.metricReplicationLag(),
    };
    for (const [name, metric] of Object.entries(names)) {
      const expression = metric() as cloudwatch.MathExpression;
      expect(expression.expression).toBe('MAX([n0, n1])');
      const used = Object.values(expression.usingMetrics) as cloudwatch.Metric[];
      expect(used.map((m) => m.metricName)).toEqual([name, name]);
      expect(used.map((m) => m.namespace)).toEqual(['AWS/ElastiCache', 'AWS/ElastiCache']);
      expect(used.map((m) => stack.resolve(m.dimensions!.CacheClusterId))).toEqual([
        { 'Fn::Join': ['', [{ Ref: Match.anyValue() }, '-001']] },
        { 'Fn::Join': ['', [{ Ref: Match.anyValue() }, '-002']] },
      ].map((x) => expect.objectContaining({ 'Fn::Join': ['', [expect.objectContaining({ Ref: expect.stringMatching(/^SessionsReplicationGroup/) }), x['Fn::Join'][1][1]]] })));
    }
    expect((sessions.metricEvictions() as cloudwatch.MathExpression).usingMetrics.n0).toMatchObject({ statistic: 'Sum' });
  });
});

describe('VpcRedisSessions Availability Zones: no lookup unless you ask for one', () => {
  /** The context lookups `cdk synth` would have to make (with AWS credentials) for this app. */
  function lookups(app: App): string[] {
    return (app.synth().manifest.missing ?? []).map((m) => m.key);
  }
  function subnetZones(stack: Stack): unknown[] {
    return Object.values(Template.fromStack(stack).findResources('AWS::EC2::Subnet')).map((r) => r.Properties.AvailabilityZone);
  }

  test('in a stack with account and region, the default VPC takes the region\'s first two zones at deploy time (Fn::GetAZs), with no lookup', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: ENV });
    new VpcRedisSessions(stack, 'Sessions');
    expect(subnetZones(stack)).toEqual([0, 1].map((i) => ({ 'Fn::Select': [i, { 'Fn::GetAZs': 'us-east-1' }] })));
    expect(lookups(app)).toEqual([]);
    // The stack itself is left as it was: its own availabilityZones is still the CDK's (a lookup, when asked for).
    expect(Object.getOwnPropertyDescriptor(stack, 'availabilityZones')).toBeUndefined();
  });

  test('availabilityZones: named zones are used as they are, with no context and no lookup', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: ENV });
    new VpcRedisSessions(stack, 'Sessions', { availabilityZones: ['us-east-1b', 'us-east-1d'] });
    expect(subnetZones(stack)).toEqual(['us-east-1b', 'us-east-1d']);
    expect(lookups(app)).toEqual([]);
  });

  test('availabilityZones: passing the stack\'s own zones is the CDK context lookup, answered by cdk.context.json when present', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: ENV });
    new VpcRedisSessions(stack, 'Sessions', { availabilityZones: stack.availabilityZones.slice(0, 2) });
    expect(lookups(app)).toEqual(['availability-zones:account=123456789012:region=us-east-1']);

    const withContext = new App({ context: { 'availability-zones:account=123456789012:region=us-east-1': ['us-east-1a', 'us-east-1b', 'us-east-1c'] } });
    const known = new Stack(withContext, 'Stack', { env: ENV });
    new VpcRedisSessions(known, 'Sessions', { availabilityZones: known.availabilityZones.slice(0, 2) });
    expect(subnetZones(known)).toEqual(['us-east-1a', 'us-east-1b']);
    expect(lookups(withContext)).toEqual([]);
  });

  test('in an environment-agnostic stack, the zones are Fn::GetAZs as ec2.Vpc makes them, or the ones named', () => {
    const app = new App();
    const agnostic = new Stack(app, 'Agnostic');
    new VpcRedisSessions(agnostic, 'Sessions');
    const named = new Stack(app, 'Named');
    new VpcRedisSessions(named, 'Sessions', { availabilityZones: ['eu-west-1a', 'eu-west-1c'] });
    expect(subnetZones(agnostic)).toEqual([0, 1].map((i) => ({ 'Fn::Select': [i, { 'Fn::GetAZs': '' }] })));
    expect(subnetZones(named)).toEqual(['eu-west-1a', 'eu-west-1c']);
    expect(lookups(app)).toEqual([]);
  });

  test('availabilityZones: empty, of another region, one zone for Multi-AZ, or with your own vpc are synth errors naming the prop', () => {
    expect(() => build({ availabilityZones: [] })).toThrow(/availabilityZones is empty/);
    expect(() => build({ availabilityZones: ['us-east-1a', 'eu-west-1a'] })).toThrow(/availabilityZones eu-west-1a are not in the stack's region us-east-1/);
    expect(() => build({ availabilityZones: ['us-east-1a'] })).toThrow(/needs subnets in two Availability Zones/);
    expect(() => build({ availabilityZones: ['us-east-1a'], replicas: 0 })).not.toThrow();
    const stack = newStack();
    expect(() => new VpcRedisSessions(stack, 'Own', { vpc: userVpc(stack), availabilityZones: ['us-east-1a', 'us-east-1b'] })).toThrow(/availabilityZones applies only to the VPC VpcRedisSessions creates/);
  });
});

describe('VpcRedisSessions cdk-nag (AwsSolutions, Serverless, NIST 800-53 R5, HIPAA Security)', () => {
  test('has no unacknowledged findings in the default configuration', () => {
    const { stack } = build();
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('has no unacknowledged findings fully featured: token auth with rotation, your key and topic, Redis OSS, three nodes, a wired-in function', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'MyKey', { enableKeyRotation: true });
    const topic = new sns.Topic(stack, 'OnCall', { masterKey: key, enforceSSL: true });
    const sessions = new VpcRedisSessions(stack, 'Sessions', {
      engine: CacheEngine.redis('7.1'),
      auth: CacheAuth.token({ rotateEvery: Duration.days(14) }),
      encryptionKey: key,
      alarmTopic: topic,
      replicas: 2,
      nodeType: 'cache.r7g.large',
      port: 7000,
      snapshotRetentionDays: 20,
      evictionPolicy: EvictionPolicy.VOLATILE_TTL,
      logRetention: logs.RetentionDays.ONE_YEAR,
    });
    sessions.grantConnect(vpcFunction(stack, sessions));
    expect(formatFindings(nagFindings(sessions))).toEqual([]);
  });

  test('acknowledges AwsSolutions-AEC6 only for IAM auth, on the replication group, with the reason', () => {
    const iamAuth = build();
    expect(acknowledged(iamAuth.sessions.replicationGroup)).toEqual([expect.stringMatching(/(^|::)AwsSolutions-AEC6$/)]);
    const metadata = iamAuth.sessions.replicationGroup.node.metadata;
    const reason = metadata.find((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)!.data as Record<string, string>;
    expect(Object.values(reason)[0]).toMatch(/IAM authentication.*AEC6 only recognizes the static AUTH token/);
    const token = build({ auth: CacheAuth.token() });
    expect(acknowledged(token.sessions.replicationGroup)).toEqual([]);
  });

  test('leaves the Multi-AZ findings of a single development node for you to acknowledge', () => {
    const { stack, sessions } = build({ replicas: 0 });
    const rules = nagFindings(stack).map((f) => f.rule);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) expect(rule).toMatch(/AEC4|MultiAZ/);
    // Checking just the construct (as the fully featured test does) sees the same findings.
    expect(nagFindings(sessions).map((f) => f.rule).sort()).toEqual([...rules].sort());
  });
});
