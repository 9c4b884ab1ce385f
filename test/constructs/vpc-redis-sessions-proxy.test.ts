import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { CacheAuth, ProxyEndpoint, RateLimitFailureMode, StreamingLlmProxy, VpcRedisSessions } from '../../src';
import { formatFindings, nagFindings } from '../support/nag';

const ENV = { account: '123456789012', region: 'us-east-1' };

function proxyFunction(template: Template): { id: string; properties: any } {
  const functions = template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { PROXY_AUTH_MODE: Match.anyValue() } } } });
  const entries = Object.entries(functions);
  expect(entries).toHaveLength(1);
  return { id: entries[0][0], properties: entries[0][1].Properties };
}

describe('StreamingLlmProxy with VpcRedisSessions as `sessions`', () => {
  test('places the proxy in the cache subnets behind a REST API streaming endpoint, with no function URL', () => {
    const stack = new Stack(new App(), 'Stack', { env: ENV });
    const sessions = new VpcRedisSessions(stack, 'Sessions');
    new StreamingLlmProxy(stack, 'Proxy', { sessions });
    const template = Template.fromStack(stack);
    const fn = proxyFunction(template);
    expect(fn.properties.VpcConfig.SubnetIds).toEqual([
      { Ref: expect.stringMatching(/^SessionsVpcCacheSubnet1/) },
      { Ref: expect.stringMatching(/^SessionsVpcCacheSubnet2/) },
    ]);
    template.resourceCountIs('AWS::Lambda::Url', 0);
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    // API Gateway REST response streaming: the integration streams the Lambda response.
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).map((m) => m.Properties.Integration).filter(Boolean);
    expect(methods.length).toBeGreaterThan(0);
    expect(JSON.stringify(methods)).toContain('STREAM');
  });

  test('wires the proxy to the cache: REDIS_* and PROXY_* environment, the security-group rules and elasticache:Connect', () => {
    const stack = new Stack(new App(), 'Stack', { env: ENV });
    const sessions = new VpcRedisSessions(stack, 'Sessions');
    new StreamingLlmProxy(stack, 'Proxy', { sessions, rateLimits: { requestsPerMinute: 60 }, rateLimitFailureMode: RateLimitFailureMode.CLOSED });
    const template = Template.fromStack(stack);
    const fn = proxyFunction(template);
    expect(fn.properties.Environment.Variables).toMatchObject({
      PROXY_SESSIONS: 'redis',
      PROXY_LIMIT_STORE: 'redis',
      PROXY_LIMIT_FAILURE_MODE: 'closed',
      REDIS_HOST: { 'Fn::GetAtt': [expect.stringMatching(/^SessionsReplicationGroup/), 'PrimaryEndPoint.Address'] },
      REDIS_PORT: '6380',
      REDIS_TLS: 'true',
      REDIS_AUTH_MODE: 'iam',
      REDIS_USER: sessions.userId,
      REDIS_CACHE_NAME: { Ref: expect.stringMatching(/^SessionsReplicationGroup/) },
    });
    const proxySg = fn.properties.VpcConfig.SecurityGroupIds[0];
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: proxySg,
      FromPort: 6380,
      ToPort: 6380,
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SessionsEndpointSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: proxySg,
      FromPort: 443,
      ToPort: 443,
    });
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('elasticache:Connect');
  });

  test('rejects a function URL when the proxy is placed in the cache VPC', () => {
    const stack = new Stack(new App(), 'Stack', { env: ENV });
    const sessions = new VpcRedisSessions(stack, 'Sessions');
    expect(() => new StreamingLlmProxy(stack, 'Proxy', { sessions, endpoint: ProxyEndpoint.functionUrl() }))
      .toThrow(/`endpoint`: Lambda function URLs cannot stream responses from a VPC-attached function/);
  });

  test('passes token auth through: the proxy reads the token secret and never gets its value', () => {
    const stack = new Stack(new App(), 'Stack', { env: ENV });
    const sessions = new VpcRedisSessions(stack, 'Sessions', { auth: CacheAuth.token() });
    new StreamingLlmProxy(stack, 'Proxy', { sessions });
    const template = Template.fromStack(stack);
    const env = proxyFunction(template).properties.Environment.Variables;
    expect(env).toMatchObject({ REDIS_AUTH_MODE: 'token', REDIS_TOKEN_SECRET_ARN: { Ref: expect.stringMatching(/^SessionsAuthToken/) } });
    expect(env.REDIS_USER).toBeUndefined();
    expect(JSON.stringify(env)).not.toContain('resolve:secretsmanager');
  });

  test('the stack has no unacknowledged cdk-nag findings (default configuration)', () => {
    const stack = new Stack(new App(), 'Stack', { env: ENV });
    const sessions = new VpcRedisSessions(stack, 'Sessions');
    new StreamingLlmProxy(stack, 'Proxy', { sessions });
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });

  test('the stack has no unacknowledged cdk-nag findings (token auth, one key for both, limits and session settings)', () => {
    const stack = new Stack(new App(), 'Stack', { env: ENV });
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const sessions = new VpcRedisSessions(stack, 'Sessions', { auth: CacheAuth.token(), encryptionKey: key, replicas: 2 });
    new StreamingLlmProxy(stack, 'Proxy', {
      sessions,
      encryptionKey: key,
      rateLimits: { requestsPerMinute: 60, tokensPerMinute: 100_000, tokensPerDay: 2_000_000 },
      rateLimitFailureMode: RateLimitFailureMode.CLOSED,
      sessionTtl: Duration.hours(12),
    });
    expect(formatFindings(nagFindings(stack))).toEqual([]);
  });
});
