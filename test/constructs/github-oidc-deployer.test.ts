import { App, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { CdkBootstrapRole, GithubOidcDeployer, GithubOidcDeployerProps, TrustFilter } from '../../src';
import { formatFindings, nagFindings } from '../support/nag';

const REPO = 'octo-org/octo-repo';
const SUB = 'token.actions.githubusercontent.com:sub';
const AUD = 'token.actions.githubusercontent.com:aud';
const ACCOUNT = '111111111111';
const REGION = 'eu-west-1';

function newStack(env?: { account?: string; region?: string }): Stack {
  return new Stack(new App(), 'Stack', { env });
}

function deployer(props: Partial<GithubOidcDeployerProps> = {}, stack: Stack = newStack()): GithubOidcDeployer {
  return new GithubOidcDeployer(stack, 'Deployer', { repository: REPO, filters: [TrustFilter.branch('main')], ...props });
}

/** The statements of the deploy role's trust policy. */
function trustStatements(d: GithubOidcDeployer): Record<string, any>[] {
  const stack = Stack.of(d);
  const roles = Template.fromStack(stack).findResources('AWS::IAM::Role', {
    Properties: { Description: `GitHub Actions deploy role for ${REPO}` },
  });
  const [role] = Object.values(roles);
  return role.Properties.AssumeRolePolicyDocument.Statement;
}

/** The statements of the deployer's managed deploy policy. */
function deployStatements(d: GithubOidcDeployer): Record<string, any>[] {
  const policies = Template.fromStack(Stack.of(d)).findResources('AWS::IAM::ManagedPolicy');
  const ids = Object.keys(policies);
  expect(ids).toHaveLength(1);
  return policies[ids[0]].Properties.PolicyDocument.Statement;
}

function providerRef(d: GithubOidcDeployer): unknown {
  return Stack.of(d).resolve(d.provider.oidcProviderArn);
}

describe('trust policy per filter kind', () => {
  test.each([
    ['a branch', TrustFilter.branch('main'), 'repo:octo-org/octo-repo:ref:refs/heads/main'],
    ['a tag', TrustFilter.tag('v1.2.3'), 'repo:octo-org/octo-repo:ref:refs/tags/v1.2.3'],
    ['an environment', TrustFilter.environment('production'), 'repo:octo-org/octo-repo:environment:production'],
    ['pull requests', TrustFilter.pullRequest(), 'repo:octo-org/octo-repo:pull_request'],
    ['a custom subject', TrustFilter.custom('environment:prod:job_workflow_ref:octo-org/shared/.github/workflows/deploy.yml@refs/heads/main'),
      'repo:octo-org/octo-repo:environment:prod:job_workflow_ref:octo-org/shared/.github/workflows/deploy.yml@refs/heads/main'],
  ])('trusts exactly %s with StringEquals on sub and the sts.amazonaws.com audience', (_name, filter, subject) => {
    const d = deployer({ filters: [filter] });
    expect(trustStatements(d)).toEqual([{
      Action: 'sts:AssumeRoleWithWebIdentity',
      Effect: 'Allow',
      Principal: { Federated: providerRef(d) },
      Condition: { StringEquals: { [AUD]: 'sts.amazonaws.com', [SUB]: [subject] } },
    }]);
    expect(d.allowedSubjects).toEqual([subject]);
    expect(filter.usesWildcard).toBe(false);
  });

  test.each([
    ['a branch pattern', TrustFilter.branch('release/*'), 'repo:octo-org/octo-repo:ref:refs/heads/release/*'],
    ['a tag pattern with ?', TrustFilter.tag('v?.*'), 'repo:octo-org/octo-repo:ref:refs/tags/v?.*'],
    ['an environment pattern', TrustFilter.environment('prod-*'), 'repo:octo-org/octo-repo:environment:prod-*'],
    ['a custom pattern', TrustFilter.custom('environment:prod:job_workflow_ref:*'), 'repo:octo-org/octo-repo:environment:prod:job_workflow_ref:*'],
  ])('matches %s with StringLike and keeps the audience exact', (_name, filter, subject) => {
    const d = deployer({ filters: [filter] });
    expect(filter.usesWildcard).toBe(true);
    expect(trustStatements(d)).toEqual([{
      Action: 'sts:AssumeRoleWithWebIdentity',
      Effect: 'Allow',
      Principal: { Federated: providerRef(d) },
      Condition: { StringEquals: { [AUD]: 'sts.amazonaws.com' }, StringLike: { [SUB]: [subject] } },
    }]);
  });

  test('puts exact and wildcard subjects in separate statements, so neither has to match both operators', () => {
    const d = deployer({
      filters: [TrustFilter.branch('main'), TrustFilter.tag('v*'), TrustFilter.environment('production'), TrustFilter.branch('hotfix/*')],
    });
    const statements = trustStatements(d);
    expect(statements).toHaveLength(2);
    expect(statements[0].Condition).toEqual({
      StringEquals: {
        [AUD]: 'sts.amazonaws.com',
        [SUB]: ['repo:octo-org/octo-repo:ref:refs/heads/main', 'repo:octo-org/octo-repo:environment:production'],
      },
    });
    expect(statements[1].Condition).toEqual({
      StringEquals: { [AUD]: 'sts.amazonaws.com' },
      StringLike: { [SUB]: ['repo:octo-org/octo-repo:ref:refs/tags/v*', 'repo:octo-org/octo-repo:ref:refs/heads/hotfix/*'] },
    });
    for (const s of statements) {
      expect(s.Action).toBe('sts:AssumeRoleWithWebIdentity');
      expect(s.Principal).toEqual({ Federated: providerRef(d) });
    }
  });

  test('lists a subject once when filters repeat', () => {
    const d = deployer({ filters: [TrustFilter.branch('main'), TrustFilter.branch('main')] });
    expect(d.allowedSubjects).toEqual(['repo:octo-org/octo-repo:ref:refs/heads/main']);
  });

  test('warns when the trust policy would exceed the 2048 characters IAM accepts by default', () => {
    const small = deployer({ filters: [TrustFilter.branch('main'), TrustFilter.environment('production')] });
    expect(Annotations.fromStack(Stack.of(small)).findWarning('*', Match.stringLikeRegexp('trust policy'))).toEqual([]);
    const branches = Array.from({ length: 40 }, (_, i) => TrustFilter.branch(`release-${i}`));
    const large = deployer({ filters: branches });
    const warnings = Annotations.fromStack(Stack.of(large)).findWarning('*', Match.stringLikeRegexp('trust policy'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0].entry.data).toMatch(/The trust policy of Stack\/Deployer is about \d{4} characters, and IAM accepts 2048/);
  });

  test('never trusts a whole repository: at least one filter is required', () => {
    expect(() => deployer({ filters: [] })).toThrow(/at least one entry in `filters`/);
  });
});

describe('immutable subject claims', () => {
  test('trusts repo:owner@ownerId/repo@repoId when both ids are given', () => {
    const d = deployer({ ownerId: 1234, repositoryId: 56789, filters: [TrustFilter.branch('main'), TrustFilter.tag('v*')] });
    expect(d.allowedSubjects).toEqual([
      'repo:octo-org@1234/octo-repo@56789:ref:refs/heads/main',
      'repo:octo-org@1234/octo-repo@56789:ref:refs/tags/v*',
    ]);
    const statements = trustStatements(d);
    expect(statements[0].Condition.StringEquals[SUB]).toEqual(['repo:octo-org@1234/octo-repo@56789:ref:refs/heads/main']);
    expect(statements[1].Condition.StringLike[SUB]).toEqual(['repo:octo-org@1234/octo-repo@56789:ref:refs/tags/v*']);
  });

  test('also trusts the name-based subject while switching over, only when asked', () => {
    const d = deployer({ ownerId: 1234, repositoryId: 56789, allowNameBasedSubjects: true });
    expect(trustStatements(d)[0].Condition.StringEquals[SUB]).toEqual([
      'repo:octo-org@1234/octo-repo@56789:ref:refs/heads/main',
      'repo:octo-org/octo-repo:ref:refs/heads/main',
    ]);
  });

  test('rejects one id without the other, ids that are not positive integers, and a switch-over without ids', () => {
    expect(() => deployer({ ownerId: 1234 })).toThrow(/both `ownerId` and `repositoryId`/);
    expect(() => deployer({ repositoryId: 1 })).toThrow(/both `ownerId` and `repositoryId`/);
    expect(() => deployer({ ownerId: 1.5, repositoryId: 2 })).toThrow(/`ownerId` must be the positive integer id/);
    expect(() => deployer({ ownerId: 1, repositoryId: -2 })).toThrow(/`repositoryId` must be the positive integer id/);
    expect(() => deployer({ allowNameBasedSubjects: true })).toThrow(/`allowNameBasedSubjects` only applies with `ownerId` and `repositoryId`/);
  });
});

describe('validation of repository names and filters', () => {
  test.each([
    ['octo-repo', /is not 'owner\/repo'/],
    ['octo-org/octo-repo/extra', /is not 'owner\/repo'/],
    ['https://github.com/octo-org/octo-repo', /is not 'owner\/repo'/],
    ['octo-org/', /is not 'owner\/repo'/],
    ['octo-org/*', /contains a wildcard/],
    ['*/octo-repo', /contains a wildcard/],
    ['-octo/octo-repo', /owner '-octo' is not a GitHub user or organization name/],
    ['octo_org/octo-repo', /owner 'octo_org' is not a GitHub user or organization name/],
    ['octo-org/octo repo', /name 'octo repo' is not a GitHub repository name/],
    ['octo-org/..', /name '..' is not a GitHub repository name/],
    [`octo-org/${'r'.repeat(101)}`, /is not a GitHub repository name/],
  ])('rejects the repository %s', (repository, message) => {
    expect(() => deployer({ repository })).toThrow(message);
  });

  test('rejects a repository given as a token', () => {
    const stack = newStack();
    expect(() => deployer({ repository: Token.asString({ Ref: 'RepoParam' }) }, stack)).toThrow(/literal 'owner\/repo' string/);
  });

  test('accepts names with dots, underscores, digits and capitals', () => {
    const d = deployer({ repository: 'Octo-Org2/my.repo_v2' });
    expect(d.allowedSubjects).toEqual(['repo:Octo-Org2/my.repo_v2:ref:refs/heads/main']);
  });

  test.each([
    ['a full ref as a branch', () => TrustFilter.branch('refs/heads/main'), /got a full ref: pass the name without 'refs\/heads\/' \(e.g. 'main'\)/],
    ['a full ref as a tag', () => TrustFilter.tag('refs/tags/v1'), /without 'refs\/tags\/'/],
    ['an empty branch', () => TrustFilter.branch(''), /not a valid git ref name/],
    ['a branch with a space', () => TrustFilter.branch('my branch'), /not a valid git ref name/],
    ['a branch with a colon', () => TrustFilter.branch('a:b'), /not a valid git ref name/],
    ['a tag with ..', () => TrustFilter.tag('v1..2'), /not a valid git ref name/],
    ['an environment with surrounding spaces', () => TrustFilter.environment(' production'), /without surrounding spaces/],
    ['an environment that is only a wildcard', () => TrustFilter.environment('*'), /would trust a job in any environment/],
    ['a custom subject that is only a wildcard', () => TrustFilter.custom('*'), /would trust every workflow run/],
    ['a custom subject that repeats the repository', () => TrustFilter.custom('repo:octo-org/octo-repo:ref:refs/heads/main'), /must not repeat the repository/],
    ['an empty custom subject', () => TrustFilter.custom(''), /non-empty part of the subject/],
  ])('rejects %s', (_name, make, message) => {
    expect(make).toThrow(message);
  });
});

describe('OIDC provider', () => {
  test('creates the native provider for token.actions.githubusercontent.com with the STS audience, retained by default', () => {
    const d = deployer();
    const template = Template.fromStack(Stack.of(d));
    template.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    template.hasResource('AWS::IAM::OIDCProvider', {
      Properties: {
        Url: 'https://token.actions.githubusercontent.com',
        ClientIdList: ['sts.amazonaws.com'],
        ThumbprintList: Match.absent(),
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    expect(d.providerCreated).toBe(true);
    template.resourceCountIs('Custom::AWSCDKOpenIdConnectProvider', 0);
  });

  test('applies providerRemovalPolicy to the provider it creates', () => {
    const d = deployer({ providerRemovalPolicy: RemovalPolicy.DESTROY });
    Template.fromStack(Stack.of(d)).hasResource('AWS::IAM::OIDCProvider', { DeletionPolicy: 'Delete' });
  });

  test('adopts an existing provider by ARN instead of creating one', () => {
    const arn = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;
    const d = deployer({ existingProviderArn: arn }, newStack({ account: ACCOUNT, region: REGION }));
    const template = Template.fromStack(Stack.of(d));
    template.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(d.providerCreated).toBe(false);
    expect(trustStatements(d)[0].Principal).toEqual({ Federated: arn });
  });

  test('accountProviderArn adopts the provider of the stack account and partition, also when they are only known at deploy time', () => {
    const stack = newStack();
    const d = deployer({ existingProviderArn: GithubOidcDeployer.accountProviderArn(stack) }, stack);
    Template.fromStack(stack).resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(trustStatements(d)[0].Principal).toEqual({
      Federated: {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' },
          ':oidc-provider/token.actions.githubusercontent.com']],
      },
    });
  });

  test('accepts the provider ARN of another partition when the region is in it', () => {
    const arn = `arn:aws-cn:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;
    const d = deployer({ existingProviderArn: arn }, newStack({ account: ACCOUNT, region: 'cn-north-1' }));
    expect(trustStatements(d)[0].Principal).toEqual({ Federated: arn });
  });

  test.each([
    ['not an ARN', 'token.actions.githubusercontent.com', /is not an IAM OIDC provider ARN/],
    ['a SAML provider', `arn:aws:iam::${ACCOUNT}:saml-provider/github`, /is not an IAM OIDC provider ARN/],
    ['an unknown partition', `arn:aws-mars:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`, /is not an IAM OIDC provider ARN/],
    ['another issuer', `arn:aws:iam::${ACCOUNT}:oidc-provider/accounts.google.com`, /is the provider for 'accounts.google.com', not GitHub Actions/],
    ['another account', 'arn:aws:iam::222222222222:oidc-provider/token.actions.githubusercontent.com',
      /is in account 222222222222, but the stack deploys to account 111111111111/],
    ['another partition', `arn:aws-us-gov:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`,
      /is in partition 'aws-us-gov', but region eu-west-1 is in partition 'aws'/],
  ])('rejects existingProviderArn that is %s', (_name, arn, message) => {
    expect(() => deployer({ existingProviderArn: arn }, newStack({ account: ACCOUNT, region: REGION }))).toThrow(message);
  });

  test('rejects providerRemovalPolicy together with existingProviderArn', () => {
    expect(() => deployer({
      existingProviderArn: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`,
      providerRemovalPolicy: RemovalPolicy.DESTROY,
    })).toThrow(/`providerRemovalPolicy` only applies to a provider the deployer creates/);
  });

  test('explains that an account holds one GitHub provider when a second deployer would create another', () => {
    const stack = newStack();
    new GithubOidcDeployer(stack, 'First', { repository: REPO, filters: [TrustFilter.branch('main')] });
    expect(() => new GithubOidcDeployer(stack, 'Second', { repository: 'octo-org/other', filters: [TrustFilter.branch('main')] }))
      .toThrow(/Only one GitHub OIDC provider \(https:\/\/token.actions.githubusercontent.com\) can exist per AWS account, and Stack\/First\/Provider already creates it.*pass `existingProviderArn`/);
  });

  test('lets a second deployer adopt the provider of the first', () => {
    const stack = newStack();
    const first = new GithubOidcDeployer(stack, 'First', { repository: REPO, filters: [TrustFilter.branch('main')] });
    const second = new GithubOidcDeployer(stack, 'Second', {
      repository: 'octo-org/other',
      filters: [TrustFilter.branch('main')],
      existingProviderArn: first.provider.oidcProviderArn,
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    template.resourceCountIs('AWS::IAM::Role', 2);
    expect(stack.resolve(second.provider.oidcProviderArn)).toEqual(stack.resolve(first.provider.oidcProviderArn));
  });

  test('detects a second provider in another stack of the same account, not of another account', () => {
    const app = new App();
    const a = new Stack(app, 'A', { env: { account: ACCOUNT, region: REGION } });
    new GithubOidcDeployer(a, 'Deployer', { repository: REPO, filters: [TrustFilter.branch('main')] });
    const other = new Stack(app, 'B', { env: { account: '222222222222', region: REGION } });
    expect(() => new GithubOidcDeployer(other, 'Deployer', { repository: REPO, filters: [TrustFilter.branch('main')] })).not.toThrow();
    const same = new Stack(app, 'C', { env: { account: ACCOUNT, region: 'us-east-1' } });
    expect(() => new GithubOidcDeployer(same, 'Deployer', { repository: REPO, filters: [TrustFilter.branch('main')] }))
      .toThrow(/A\/Deployer\/Provider already creates it/);
  });
});

describe('role', () => {
  test('starts with no permissions, a one-hour session and no boundary', () => {
    const d = deployer();
    const template = Template.fromStack(Stack.of(d));
    template.hasResourceProperties('AWS::IAM::Role', {
      MaxSessionDuration: 3600,
      PermissionsBoundary: Match.absent(),
      ManagedPolicyArns: Match.absent(),
      Policies: Match.absent(),
      RoleName: Match.absent(),
    });
    template.resourceCountIs('AWS::IAM::Policy', 0);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
  });

  test('applies roleName, maxSessionDuration and permissionsBoundary', () => {
    const stack = newStack();
    const boundary = new iam.ManagedPolicy(stack, 'Boundary', {
      statements: [new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: ['arn:aws:iam::111111111111:role/cdk-*'] })],
    });
    deployer({ roleName: 'github-deploy', maxSessionDuration: Duration.hours(2), permissionsBoundary: boundary }, stack);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'github-deploy',
      MaxSessionDuration: 7200,
      PermissionsBoundary: { Ref: stack.getLogicalId(boundary.node.defaultChild as iam.CfnManagedPolicy) },
    });
  });

  test.each([
    [Duration.minutes(30), /`maxSessionDuration` is 30 minutes, but IAM accepts 1 to 12 hours/],
    [Duration.hours(13), /`maxSessionDuration` is 13 hours, but IAM accepts 1 to 12 hours/],
  ])('rejects a session of %s', (maxSessionDuration, message) => {
    expect(() => deployer({ maxSessionDuration })).toThrow(message);
  });

  test('rejects an invalid roleName', () => {
    expect(() => deployer({ roleName: 'github deploy' })).toThrow(/`roleName` 'github deploy' is not a valid IAM role name/);
  });
});

describe('grants', () => {
  test('grantCdkDeploy allows assuming only the four bootstrap roles of the stack environment, by name and tag', () => {
    const d = deployer({}, newStack({ account: ACCOUNT, region: REGION }));
    const grant = d.grantCdkDeploy();
    expect(grant.success).toBe(true);
    const arn = (kind: string) => ({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${ACCOUNT}:role/cdk-hnb659fds-${kind}-role-${ACCOUNT}-${REGION}`]],
    });
    expect(deployStatements(d)).toEqual([{
      Action: 'sts:AssumeRole',
      Effect: 'Allow',
      Resource: [arn('deploy'), arn('file-publishing'), arn('image-publishing'), arn('lookup')],
      Condition: { StringEquals: { 'iam:ResourceTag/aws-cdk:bootstrap-role': ['deploy', 'file-publishing', 'image-publishing', 'lookup'] } },
    }]);
  });

  test('grantCdkDeploy takes a qualifier, account, region and a subset of roles', () => {
    const d = deployer({}, newStack({ account: ACCOUNT, region: REGION }));
    d.grantCdkDeploy({ qualifier: 'myapp', account: '222222222222', region: 'us-east-1', roles: [CdkBootstrapRole.DEPLOY, CdkBootstrapRole.FILE_PUBLISHING] });
    expect(deployStatements(d)).toEqual([{
      Action: 'sts:AssumeRole',
      Effect: 'Allow',
      Resource: ['deploy', 'file-publishing'].map((kind) => ({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::222222222222:role/cdk-myapp-${kind}-role-222222222222-us-east-1`]],
      })),
      Condition: { StringEquals: { 'iam:ResourceTag/aws-cdk:bootstrap-role': ['deploy', 'file-publishing'] } },
    }]);
  });

  test('grantCdkDeploy uses the bootstrap qualifier from context, and the environment of an env-agnostic stack', () => {
    const app = new App({ context: { '@aws-cdk/core:bootstrapQualifier': 'ctxq' } });
    const stack = new Stack(app, 'Stack');
    const d = new GithubOidcDeployer(stack, 'Deployer', { repository: REPO, filters: [TrustFilter.branch('main')] });
    d.grantCdkDeploy({ roles: [CdkBootstrapRole.LOOKUP] });
    expect(deployStatements(d)[0].Resource).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':role/cdk-ctxq-lookup-role-',
        { Ref: 'AWS::AccountId' }, '-', { Ref: 'AWS::Region' }]],
    });
  });

  test.each([
    [{ qualifier: 'much-too-long-qualifier' }, /`qualifier` 'much-too-long-qualifier' is not a bootstrap qualifier/],
    [{ account: '1234' }, /`account` '1234' is not an AWS account id/],
    [{ region: 'Europe' }, /`region` 'Europe' is not an AWS region name/],
    [{ roles: [] }, /`roles` is empty/],
  ])('grantCdkDeploy rejects %o', (options, message) => {
    expect(() => deployer().grantCdkDeploy(options)).toThrow(message);
  });

  test('grantEcrPush allows the push and layer actions on the one repository, and the login token', () => {
    const stack = newStack();
    const repository = new ecr.Repository(stack, 'Images');
    const d = deployer({}, stack);
    const grant = d.grantEcrPush(repository);
    expect(grant.success).toBe(true);
    expect(grant.principalStatements).toHaveLength(2);
    expect(deployStatements(d)).toEqual([
      { Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Resource: '*' },
      {
        Action: [
          'ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:CompleteLayerUpload', 'ecr:GetDownloadUrlForLayer',
          'ecr:InitiateLayerUpload', 'ecr:PutImage', 'ecr:UploadLayerPart',
        ],
        Effect: 'Allow',
        Resource: stack.resolve(repository.repositoryArn),
      },
    ]);
  });

  test('grantLambdaDeploy allows updating code, publishing versions and reading and updating aliases of the one function', () => {
    const stack = newStack();
    const fn = new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => 1;'),
    });
    const d = deployer({}, stack);
    const grant = d.grantLambdaDeploy(fn);
    expect(grant.success).toBe(true);
    const arn = stack.resolve(fn.functionArn);
    expect(deployStatements(d)).toEqual([
      {
        Action: ['lambda:GetFunctionConfiguration', 'lambda:PublishVersion', 'lambda:UpdateFunctionCode'],
        Effect: 'Allow',
        Resource: arn,
      },
      {
        Action: ['lambda:GetAlias', 'lambda:UpdateAlias'],
        Effect: 'Allow',
        Resource: [arn, { 'Fn::Join': ['', [arn, ':*']] }],
      },
    ]);
  });

  test('grantLambdaDeploy rejects an alias or a version and says to pass the function', () => {
    const stack = newStack();
    const fn = new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => 1;'),
    });
    const alias = new lambda.Alias(stack, 'Live', { aliasName: 'live', version: fn.currentVersion });
    const d = deployer({}, stack);
    expect(() => d.grantLambdaDeploy(alias)).toThrow(/takes the function, not an alias or version: pass `alias.version.lambda`/);
    expect(() => d.grantLambdaDeploy(fn.currentVersion)).toThrow(/takes the function, not an alias or version/);
  });

  test('grantAssetDeploy allows syncing into the one bucket and invalidating the one distribution', () => {
    const stack = newStack({ account: ACCOUNT, region: REGION });
    const bucket = new s3.Bucket(stack, 'Site');
    const distribution = cloudfront.Distribution.fromDistributionAttributes(stack, 'Cdn', {
      distributionId: 'E2EXAMPLE', domainName: 'd111111abcdef8.cloudfront.net',
    });
    const d = deployer({}, stack);
    const grant = d.grantAssetDeploy(bucket, distribution);
    expect(grant.success).toBe(true);
    const bucketArn = stack.resolve(bucket.bucketArn);
    expect(deployStatements(d)).toEqual([
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: bucketArn },
      { Action: ['s3:DeleteObject', 's3:PutObject'], Effect: 'Allow', Resource: { 'Fn::Join': ['', [bucketArn, '/*']] } },
      {
        Action: ['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation'],
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:cloudfront::${ACCOUNT}:distribution/E2EXAMPLE`]] },
      },
    ]);
  });

  test('grantAssetDeploy adds the bucket key for a KMS-encrypted bucket and nothing for CloudFront without a distribution', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Site', { encryption: s3.BucketEncryption.KMS });
    const d = deployer({}, stack);
    d.grantAssetDeploy(bucket);
    const statements = deployStatements(d);
    expect(statements).toHaveLength(3);
    expect(statements[2]).toEqual({
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Effect: 'Allow',
      Resource: stack.resolve(bucket.encryptionKey!.keyArn),
    });
    expect(JSON.stringify(statements)).not.toContain('cloudfront:');
  });

  test('all grants go into one customer managed policy attached to the role, never an inline policy', () => {
    const stack = newStack();
    const d = deployer({}, stack);
    d.grantCdkDeploy();
    d.grantEcrPush(new ecr.Repository(stack, 'Images'));
    d.grantAssetDeploy(new s3.Bucket(stack, 'Site'));
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::IAM::Policy', 0);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 1);
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Roles: [{ Ref: stack.getLogicalId(d.role.node.defaultChild as iam.CfnRole) }],
    });
  });
});

describe('least-privilege guard', () => {
  test('fails synthesis when AdministratorAccess is attached to the role', () => {
    const d = deployer();
    d.role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AdministratorAccess'));
    expect(() => App.of(d)!.synth()).toThrow(/has the AdministratorAccess managed policy attached/);
  });

  test('fails synthesis when a policy of the role allows every action', () => {
    const d = deployer();
    d.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['*'], resources: ['*'] }));
    expect(() => App.of(d)!.synth()).toThrow(/allows every action \('\*'\)/);
  });

  test('also checks a named role and customer managed policies attached to it', () => {
    const stack = newStack();
    const d = deployer({ roleName: 'github-deploy' }, stack);
    d.role.addManagedPolicy(new iam.ManagedPolicy(stack, 'Everything', {
      statements: [new iam.PolicyStatement({ actions: ['*'], resources: ['*'] })],
    }));
    expect(() => App.of(d)!.synth()).toThrow(/allows every action \('\*'\)/);
  });

  test('fails synthesis when the trust policy is opened to any principal', () => {
    const d = deployer();
    d.role.assumeRolePolicy!.addStatements(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], principals: [new iam.AnyPrincipal()] }));
    expect(() => App.of(d)!.synth()).toThrow(/allows any principal \('\*'\)/);
  });

  test('synthesizes with ordinary grants added from outside', () => {
    const stack = newStack();
    const d = deployer({}, stack);
    new s3.Bucket(stack, 'Reports').grantRead(d.role);
    expect(() => App.of(d)!.synth()).not.toThrow();
  });
});

describe('outputs', () => {
  test('outputs the role ARN and a workflow that requests the OIDC token and assumes the role', () => {
    const d = deployer({ filters: [TrustFilter.branch('main'), TrustFilter.tag('v*'), TrustFilter.pullRequest()] });
    const stack = Stack.of(d);
    const template = Template.fromStack(stack);
    const roleArn = stack.resolve(d.role.roleArn);
    const outputs = template.findOutputs('*');
    const roleOutput = Object.entries(outputs).find(([id]) => id.startsWith('DeployerRoleArn'))!;
    expect(roleOutput[1].Value).toEqual(roleArn);
    const snippetOutput = Object.entries(outputs).find(([id]) => id.startsWith('DeployerWorkflowSnippet'))!;
    expect(snippetOutput[1].Value).toEqual(stack.resolve(d.workflowSnippet));
    const [, parts] = snippetOutput[1].Value['Fn::Join'];
    expect(parts).toContainEqual(roleArn);
    expect(parts).toContainEqual({ Ref: 'AWS::Region' });
  });

  test('the workflow snippet triggers on the trusted branches and tags and runs in the trusted environment', () => {
    const stack = newStack({ account: ACCOUNT, region: REGION });
    const d = deployer({
      filters: [TrustFilter.branch('main'), TrustFilter.branch('release/*'), TrustFilter.tag('v*'), TrustFilter.pullRequest(),
        TrustFilter.environment('production'), TrustFilter.environment('staging')],
    }, stack);
    const text = d.workflowSnippet;
    const lines = text.split('\n');
    expect(lines).toContain('  id-token: write # lets the job request the GitHub OIDC token the role trusts');
    expect(lines).toContain("    branches: ['main', 'release/**']");
    expect(lines).toContain("    tags: ['v**']");
    expect(lines).toContain('  pull_request: {}');
    expect(lines).toContain("    environment: 'production' # also trusted: staging");
    expect(lines).toContain('      - uses: aws-actions/configure-aws-credentials@v5');
    expect(lines).toContain(`          aws-region: ${REGION}`);
    expect(lines.some((l) => l.startsWith('          role-to-assume: ') && Token.isUnresolved(l))).toBe(true);
  });
});

describe('cdk-nag (AwsSolutions, Serverless, NIST 800-53 R5, HIPAA Security)', () => {
  test('the default configuration has no unacknowledged findings', () => {
    expect(formatFindings(nagFindings(deployer()))).toEqual([]);
  });

  test('a fully featured configuration has no unacknowledged findings', () => {
    const stack = newStack({ account: ACCOUNT, region: REGION });
    const boundary = new iam.ManagedPolicy(stack, 'Boundary', {
      statements: [new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [`arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-deploy-role-${ACCOUNT}-${REGION}`] })],
    });
    const d = deployer({
      filters: [TrustFilter.branch('main'), TrustFilter.tag('v*'), TrustFilter.environment('production'), TrustFilter.pullRequest(),
        TrustFilter.custom('environment:production:job_workflow_ref:octo-org/shared/.github/workflows/deploy.yml@refs/heads/main')],
      ownerId: 1234,
      repositoryId: 56789,
      allowNameBasedSubjects: true,
      roleName: 'github-deploy',
      maxSessionDuration: Duration.hours(2),
      permissionsBoundary: boundary,
      providerRemovalPolicy: RemovalPolicy.DESTROY,
    }, stack);
    d.grantCdkDeploy();
    d.grantCdkDeploy({ region: 'us-east-1', roles: [CdkBootstrapRole.DEPLOY] });
    d.grantEcrPush(new ecr.Repository(stack, 'Images'));
    d.grantEcrPush(new ecr.Repository(stack, 'MoreImages'));
    d.grantLambdaDeploy(new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => 1;'),
    }));
    d.grantAssetDeploy(new s3.Bucket(stack, 'Site', { encryption: s3.BucketEncryption.KMS }),
      cloudfront.Distribution.fromDistributionAttributes(stack, 'Cdn', { distributionId: 'E2EXAMPLE', domainName: 'd111111abcdef8.cloudfront.net' }));
    expect(formatFindings(nagFindings(d))).toEqual([]);
  });

  test('an adopted provider has no unacknowledged findings', () => {
    const stack = newStack();
    expect(formatFindings(nagFindings(deployer({ existingProviderArn: GithubOidcDeployer.accountProviderArn(stack) }, stack)))).toEqual([]);
  });

  test('the check does report a wildcard permission that no grant method acknowledged', () => {
    const d = deployer();
    d.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }));
    const rules = nagFindings(d).map((f) => f.rule);
    expect(rules).toContain('AwsSolutions-IAM5[Resource::*]');
    expect(rules).toContain('NIST.800.53.R5-IAMNoInlinePolicy');
  });
});
