import {
  Annotations,
  ArnFormat,
  CfnOutput,
  DefaultStackSynthesizer,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
} from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct, IConstruct } from 'constructs';
import { TrustFilter } from './trust-filter';
import { acknowledgeNag } from '../core/nag';

/** The issuer of GitHub Actions OIDC tokens, without the scheme (also the prefix of its IAM condition keys). */
const ISSUER_HOST = 'token.actions.githubusercontent.com';
const ISSUER_URL = `https://${ISSUER_HOST}`;
/** The audience `aws-actions/configure-aws-credentials` requests by default. */
const AUDIENCE = 'sts.amazonaws.com';
/** IAM's default limit on the length of a role trust policy, in characters. */
const TRUST_POLICY_LIMIT = 2048;
/** `arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com` */
const TYPICAL_PROVIDER_ARN_LENGTH = 74;

/** Every partition an IAM ARN can be in. */
const PARTITIONS = ['aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b', 'aws-iso-e', 'aws-iso-f', 'aws-eusc'];
const PROVIDER_ARN = /^arn:([a-z-]+):iam::(\d{12}):oidc-provider\/(.+)$/;

/** GitHub user and organization names: letters, digits and hyphens, not starting with a hyphen, at most 39. */
const OWNER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/;
/** GitHub repository names: letters, digits, `.`, `_` and `-`, at most 100. */
const REPOSITORY_NAME = /^[A-Za-z0-9._-]{1,100}$/;
/** IAM role names. */
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
/** CDK bootstrap qualifiers (`cdk bootstrap --qualifier`). */
const BOOTSTRAP_QUALIFIER = /^[A-Za-z0-9_-]{1,10}$/;
const BOOTSTRAP_QUALIFIER_CONTEXT = '@aws-cdk/core:bootstrapQualifier';

/**
 * One of the roles `cdk bootstrap` creates, named by the value of its `aws-cdk:bootstrap-role` tag.
 */
export enum CdkBootstrapRole {
  /** `cdk-<qualifier>-deploy-role-…`: runs the CloudFormation deployment. */
  DEPLOY = 'deploy',
  /** `cdk-<qualifier>-file-publishing-role-…`: uploads file assets (Lambda code, templates) to the staging bucket. */
  FILE_PUBLISHING = 'file-publishing',
  /** `cdk-<qualifier>-image-publishing-role-…`: pushes Docker image assets to the staging ECR repository. */
  IMAGE_PUBLISHING = 'image-publishing',
  /** `cdk-<qualifier>-lookup-role-…`: reads the account for context lookups (`Vpc.fromLookup`…) at synth time. */
  LOOKUP = 'lookup',
}

/**
 * Options for `GithubOidcDeployer.grantCdkDeploy()`.
 */
export interface CdkDeployGrantOptions {
  /**
   * The qualifier the target environment was bootstrapped with (`cdk bootstrap --qualifier`).
   *
   * @default - the `@aws-cdk/core:bootstrapQualifier` context value, or the CDK default `hnb659fds`
   */
  readonly qualifier?: string;

  /**
   * The account whose bootstrap roles may be assumed. Another account must have been bootstrapped with
   * `--trust <this account>`.
   *
   * @default - the account of the stack that holds the deployer
   */
  readonly account?: string;

  /**
   * The region whose bootstrap roles may be assumed (bootstrap role names contain the region). Call the method once per
   * region to deploy to several.
   *
   * @default - the region of the stack that holds the deployer
   */
  readonly region?: string;

  /**
   * Which bootstrap roles may be assumed.
   *
   * @default - all four: deploy, file-publishing, image-publishing and lookup
   */
  readonly roles?: CdkBootstrapRole[];
}

/**
 * Properties of a `GithubOidcDeployer`.
 */
export interface GithubOidcDeployerProps {
  /**
   * The GitHub repository whose workflows may assume the role, as `owner/repo`. Wildcards are not accepted: create one
   * deployer per repository.
   */
  readonly repository: string;

  /**
   * Which workflow runs of the repository may assume the role (branches, tags, environments, pull requests). At least
   * one is required; exact filters are matched with `StringEquals`, filters with `*` or `?` with `StringLike`.
   */
  readonly filters: TrustFilter[];

  /**
   * The immutable numeric id of the repository owner, for GitHub's immutable subject claims
   * (`repo:owner@ownerId/repo@repoId:…`), which cannot be matched by a renamed or re-registered owner. Give it together
   * with `repositoryId`; find both with `gh api repos/OWNER/REPO --jq '.owner.id, .id'`.
   *
   * @default - the name-based subject `repo:owner/repo:…` is trusted
   */
  readonly ownerId?: number;

  /**
   * The immutable numeric id of the repository, for GitHub's immutable subject claims. Give it together with `ownerId`.
   *
   * @default - the name-based subject `repo:owner/repo:…` is trusted
   */
  readonly repositoryId?: number;

  /**
   * With `ownerId` and `repositoryId`, also trust the name-based subject, for the switch-over of an existing repository
   * to immutable subject claims. Turn it off once the repository issues immutable subjects.
   *
   * @default false - with ids given, only the immutable subject is trusted
   */
  readonly allowNameBasedSubjects?: boolean;

  /**
   * Adopt the account's existing GitHub OIDC provider instead of creating one: its ARN,
   * `arn:<partition>:iam::<account>:oidc-provider/token.actions.githubusercontent.com`. An account can hold only one
   * provider for GitHub, so every deployer after the first in an account (in this app or any other) must adopt it;
   * `GithubOidcDeployer.accountProviderArn(this)` builds the ARN for the stack's own account and partition.
   *
   * @default - a provider is created with `OidcProviderNative`; deployment fails if the account already has one
   */
  readonly existingProviderArn?: string;

  /**
   * What happens to a provider this deployer creates when it is removed from the stack. It is shared by every GitHub
   * deploy role in the account, so by default it outlives the stack; adopt the retained provider with
   * `existingProviderArn` when you deploy again.
   *
   * @default RemovalPolicy.RETAIN - the provider is kept so other roles that trust it keep working
   */
  readonly providerRemovalPolicy?: RemovalPolicy;

  /**
   * A physical name for the role, for workflows that build the role ARN themselves.
   *
   * @default - CloudFormation generates a unique name
   */
  readonly roleName?: string;

  /**
   * The longest session a workflow can request (`role-duration-seconds`), between 1 and 12 hours.
   *
   * @default Duration.hours(1) - the default of aws-actions/configure-aws-credentials
   */
  readonly maxSessionDuration?: Duration;

  /**
   * A permissions boundary for the role: the most it can ever be granted, whatever policies are attached later.
   *
   * @default - no permissions boundary
   */
  readonly permissionsBoundary?: iam.IManagedPolicy;
}

/**
 * A least-privilege deploy identity for GitHub Actions: the account's GitHub OIDC provider (created natively, or
 * adopted when the account already has one) and an IAM role that only the chosen workflow runs of one repository can
 * assume, through `sts:AssumeRoleWithWebIdentity` with audience `sts.amazonaws.com`.
 *
 * The role starts with no permissions. Add exactly what the workflow deploys with `grantCdkDeploy()`,
 * `grantEcrPush()`, `grantLambdaDeploy()` and `grantAssetDeploy()`; they go into one customer managed policy.
 * Synthesis fails if the role is given AdministratorAccess or a `*` action, or if its trust is opened to `*`.
 *
 * The role ARN and a ready workflow (`workflowSnippet`) are stack outputs.
 */
export class GithubOidcDeployer extends Construct {
  /** The issuer host of GitHub Actions OIDC tokens. */
  public static readonly ISSUER = ISSUER_HOST;

  /** The token audience the role requires. */
  public static readonly AUDIENCE = AUDIENCE;

  /**
   * The ARN the GitHub OIDC provider has in the account and partition of `scope`'s stack, for `existingProviderArn`
   * when the provider was created elsewhere (another stack or app, the console, Terraform). Works for
   * environment-agnostic stacks: the account and partition resolve at deploy time.
   */
  public static accountProviderArn(scope: IConstruct): string {
    return Stack.of(scope).formatArn({
      service: 'iam',
      region: '',
      resource: 'oidc-provider',
      resourceName: ISSUER_HOST,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  /** The GitHub OIDC provider the role trusts: the one created here, or the adopted one. */
  public readonly provider: iam.IOidcProvider;

  /** Whether this deployer created the provider (false when it adopted `existingProviderArn`). */
  public readonly providerCreated: boolean;

  /** The deploy role. */
  public readonly role: iam.Role;

  /** Every `sub` claim value the role accepts, in the order of `filters` (exact and wildcard values alike). */
  public readonly allowedSubjects: string[];

  /**
   * A GitHub Actions workflow that assumes the role: `permissions: id-token: write` and
   * `aws-actions/configure-aws-credentials` with the role ARN and region, triggered to match the trust filters.
   * The role ARN (and an environment-agnostic region) are tokens here; the `WorkflowSnippet` stack output holds the
   * resolved text.
   */
  public readonly workflowSnippet: string;

  private readonly repository: string;
  private deployPolicy?: iam.ManagedPolicy;
  private readonly deployPolicyPrincipal: iam.IPrincipal;

  constructor(scope: Construct, id: string, props: GithubOidcDeployerProps) {
    super(scope, id);
    const stack = Stack.of(this);

    const [owner, repo] = parseRepository(props.repository);
    this.repository = `${owner}/${repo}`;
    if (!props.filters || props.filters.length === 0) {
      throw new Error(
        'GithubOidcDeployer needs at least one entry in `filters` to say which workflow runs may deploy, e.g. ' +
        "[TrustFilter.branch('main')] or [TrustFilter.environment('production')]; it never trusts a whole repository.",
      );
    }

    // The subject prefixes: name-based, immutable (owner@id/repo@id), or both while switching over.
    const prefixes = subjectPrefixes(owner, repo, props);
    const subjects: string[] = [];
    for (const filter of props.filters) {
      for (const prefix of prefixes) {
        const subject = `${prefix}:${filter.subjectSuffix}`;
        if (!subjects.includes(subject)) subjects.push(subject);
      }
    }
    this.allowedSubjects = subjects;

    // The provider: adopt the given one, or create it (only one may exist per account).
    if (props.existingProviderArn !== undefined) {
      if (props.providerRemovalPolicy !== undefined) {
        throw new Error(
          '`providerRemovalPolicy` only applies to a provider the deployer creates; with `existingProviderArn` the ' +
          'adopted provider is not managed by this stack. Remove one of the two props.',
        );
      }
      checkProviderArn(stack, props.existingProviderArn);
      this.provider = iam.OidcProviderNative.fromOidcProviderArn(this, 'Provider', props.existingProviderArn);
      this.providerCreated = false;
    } else {
      const existing = findGithubProvider(this);
      if (existing) {
        const creator = existing.node.id === 'Resource' && existing.node.scope ? existing.node.scope : existing;
        throw new Error(
          `Only one GitHub OIDC provider (${ISSUER_URL}) can exist per AWS account, and ${creator.node.path} already ` +
          `creates it for the account of ${this.node.path}. Adopt it instead: pass \`existingProviderArn\` to this ` +
          'deployer (`firstDeployer.provider.oidcProviderArn` in the same stack, ' +
          '`GithubOidcDeployer.accountProviderArn(this)` from another stack).',
        );
      }
      const provider = new iam.OidcProviderNative(this, 'Provider', {
        url: ISSUER_URL,
        clientIds: [AUDIENCE],
        // No thumbprints: IAM validates GitHub's certificate against its own library of trusted root CAs.
        removalPolicy: props.providerRemovalPolicy ?? RemovalPolicy.RETAIN,
      });
      this.provider = provider;
      this.providerCreated = true;
    }

    // The role: exact subjects with StringEquals, wildcard subjects with StringLike, in separate statements (IAM ANDs
    // the operators of one statement, so mixing them in one would require a subject to match both).
    const exact = subjects.filter((s) => !/[*?]/.test(s));
    const wildcard = subjects.filter((s) => /[*?]/.test(s));
    const audience = { [`${ISSUER_HOST}:aud`]: AUDIENCE };
    const statements: Record<string, Record<string, unknown>>[] = [];
    if (exact.length > 0) statements.push({ StringEquals: { ...audience, [`${ISSUER_HOST}:sub`]: exact } });
    if (wildcard.length > 0) statements.push({ StringEquals: audience, StringLike: { [`${ISSUER_HOST}:sub`]: wildcard } });

    const maxSessionDuration = props.maxSessionDuration ?? Duration.hours(1);
    if (!Token.isUnresolved(maxSessionDuration.toSeconds()) &&
      (maxSessionDuration.toSeconds() < 3600 || maxSessionDuration.toSeconds() > 43200)) {
      throw new Error(
        `\`maxSessionDuration\` is ${maxSessionDuration.toHumanString()}, but IAM accepts 1 to 12 hours: ` +
        'choose a duration in that range (workflows ask for less with role-duration-seconds).',
      );
    }
    if (props.roleName !== undefined && !Token.isUnresolved(props.roleName) && !ROLE_NAME.test(props.roleName)) {
      throw new Error(
        `\`roleName\` '${props.roleName}' is not a valid IAM role name: use 1 to 64 letters, digits and +=,.@_- characters.`,
      );
    }

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.OpenIdConnectPrincipal(this.provider, statements[0]),
      roleName: props.roleName,
      description: `GitHub Actions deploy role for ${this.repository}`,
      maxSessionDuration,
      permissionsBoundary: props.permissionsBoundary,
    });
    for (const conditions of statements.slice(1)) {
      this.role.assumeRolePolicy!.addStatements(new iam.PolicyStatement({
        actions: ['sts:AssumeRoleWithWebIdentity'],
        principals: [new iam.OpenIdConnectPrincipal(this.provider)],
        conditions,
      }));
    }
    this.deployPolicyPrincipal = new DeployPolicyPrincipal(this.role, () => this.ensureDeployPolicy());

    // IAM limits a trust policy to 2048 characters (4096 after a quota increase); many filters times two subject
    // formats can exceed that, which would otherwise only show as a failed deployment.
    const trustSize = JSON.stringify({
      Version: '2012-10-17',
      // The provider ARN is usually a reference here: count it at its usual length.
      Statement: statementsOf(stack.resolve(this.role.assumeRolePolicy)).map((st) => ({
        ...st, Principal: { Federated: 'x'.repeat(TYPICAL_PROVIDER_ARN_LENGTH) },
      })),
    }).length;
    if (trustSize > TRUST_POLICY_LIMIT) {
      Annotations.of(this).addWarningV2(
        'cdk-serverless-llm:GithubOidcDeployer.trustPolicySize',
        `The trust policy of ${this.node.path} is about ${trustSize} characters, and IAM accepts ${TRUST_POLICY_LIMIT} ` +
        'unless the account\'s "Role trust policy length" quota was raised (up to 4096). Use fewer or wildcard filters ' +
        '(release/* instead of one filter per branch), or raise the quota before deploying.',
      );
    }

    this.workflowSnippet = workflowSnippet(this.repository, props.filters, this.role.roleArn, stack.region);
    new CfnOutput(this, 'RoleArn', {
      value: this.role.roleArn,
      description: `ARN of the GitHub Actions deploy role for ${this.repository} (role-to-assume)`,
    });
    new CfnOutput(this, 'WorkflowSnippet', {
      value: this.workflowSnippet,
      description: `A GitHub Actions workflow for ${this.repository} that assumes the deploy role`,
    });

    this.node.addValidation({ validate: () => this.checkLeastPrivilege() });
  }

  /**
   * Let the workflow run `cdk deploy`: assume the bootstrap roles of one environment (by name, and only if they carry
   * the matching `aws-cdk:bootstrap-role` tag). CloudFormation then deploys with the bootstrap roles' permissions; the
   * deploy role itself gets no other access.
   *
   * The bootstrap's CloudFormation execution role has AdministratorAccess unless the account was bootstrapped with
   * `--cloudformation-execution-policies`, so a role with this grant is administrator-equivalent in that account and
   * region: trust it from a protected GitHub environment (`TrustFilter.environment()`) rather than a branch or tag.
   */
  public grantCdkDeploy(options: CdkDeployGrantOptions = {}): iam.Grant {
    const stack = Stack.of(this);
    const qualifier: string = options.qualifier ?? this.node.tryGetContext(BOOTSTRAP_QUALIFIER_CONTEXT) ??
      DefaultStackSynthesizer.DEFAULT_QUALIFIER;
    if (!Token.isUnresolved(qualifier) && !BOOTSTRAP_QUALIFIER.test(qualifier)) {
      throw new Error(
        `grantCdkDeploy: \`qualifier\` '${qualifier}' is not a bootstrap qualifier: use the 1 to 10 letters, digits, ` +
        "'_' or '-' passed to `cdk bootstrap --qualifier`.",
      );
    }
    const account = options.account ?? stack.account;
    if (!Token.isUnresolved(account) && !/^\d{12}$/.test(account)) {
      throw new Error(`grantCdkDeploy: \`account\` '${account}' is not an AWS account id: pass the 12-digit id.`);
    }
    const region = options.region ?? stack.region;
    if (!Token.isUnresolved(region) && !/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(region)) {
      throw new Error(`grantCdkDeploy: \`region\` '${region}' is not an AWS region name: pass a name such as 'us-east-1'.`);
    }
    const roles = [...new Set(options.roles ?? [
      CdkBootstrapRole.DEPLOY, CdkBootstrapRole.FILE_PUBLISHING, CdkBootstrapRole.IMAGE_PUBLISHING, CdkBootstrapRole.LOOKUP,
    ])];
    if (roles.length === 0) {
      throw new Error('grantCdkDeploy: `roles` is empty: leave it out to allow all four bootstrap roles, or name the ones the workflow needs.');
    }
    return this.grantOnDeployPolicy(
      ['sts:AssumeRole'],
      roles.map((r) => `arn:${stack.partition}:iam::${account}:role/cdk-${qualifier}-${r}-role-${account}-${region}`),
      { StringEquals: { 'iam:ResourceTag/aws-cdk:bootstrap-role': roles } },
    );
  }

  /**
   * Let the workflow push images to one ECR repository (`docker push` after `aws ecr get-login-password`), including
   * the layer reads that pushes of multi-stage and multi-platform images need.
   */
  public grantEcrPush(repository: ecr.IRepository): iam.Grant {
    const login = this.grantOnDeployPolicy(['ecr:GetAuthorizationToken'], ['*']);
    acknowledgeNag(this.ensureDeployPolicy(), {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken supports no resource-level permissions; the token only lets the role use the ' +
        'repositories its other statements name.',
    });
    const push = this.grantOnDeployPolicy([
      'ecr:BatchCheckLayerAvailability',
      'ecr:BatchGetImage',
      'ecr:CompleteLayerUpload',
      'ecr:GetDownloadUrlForLayer',
      'ecr:InitiateLayerUpload',
      'ecr:PutImage',
      'ecr:UploadLayerPart',
    ], [repository.repositoryArn]);
    return login.combine(push);
  }

  /**
   * Let the workflow ship new code to one Lambda function: update its code, wait for the update, publish a version and
   * point an alias at it. The function must be given itself, not an alias or version.
   */
  public grantLambdaDeploy(fn: lambda.IFunction): iam.Grant {
    if ('aliasName' in fn || ('version' in fn && 'lambda' in fn)) {
      throw new Error(
        'grantLambdaDeploy takes the function, not an alias or version: pass `alias.version.lambda` (or the function ' +
        'itself); the grant covers all of its aliases.',
      );
    }
    const code = this.grantOnDeployPolicy(
      ['lambda:GetFunctionConfiguration', 'lambda:PublishVersion', 'lambda:UpdateFunctionCode'],
      [fn.functionArn],
    );
    const aliasArns = `${fn.functionArn}:*`;
    // GetAlias too: a rollback records the version an alias points at before moving it.
    const alias = this.grantOnDeployPolicy(['lambda:GetAlias', 'lambda:UpdateAlias'], [fn.functionArn, aliasArns]);
    acknowledgeNag(this.ensureDeployPolicy(), {
      id: `AwsSolutions-IAM5[Resource::${nagResourceString(this, aliasArns)}]`,
      reason: 'lambda:GetAlias and lambda:UpdateAlias are limited to the aliases and versions of this one function (its ARN followed by ' +
        ':qualifier); alias names are chosen by the workflow.',
    });
    return code.combine(alias);
  }

  /**
   * Let the workflow upload a static site: `aws s3 sync --delete` into the bucket (list, put, delete; with the bucket's
   * KMS key when it has one) and, when a distribution is given, create a CloudFront invalidation and wait for it.
   */
  public grantAssetDeploy(bucket: s3.IBucket, distribution?: cloudfront.IDistribution): iam.Grant {
    let grant = this.grantOnDeployPolicy(['s3:ListBucket'], [bucket.bucketArn]);
    const objects = bucket.arnForObjects('*');
    grant = grant.combine(this.grantOnDeployPolicy(['s3:DeleteObject', 's3:PutObject'], [objects]));
    acknowledgeNag(this.ensureDeployPolicy(), {
      id: `AwsSolutions-IAM5[Resource::${nagResourceString(this, objects)}]`,
      reason: 'aws s3 sync writes and deletes keys chosen by the build; the object actions are limited to the keys of ' +
        'this one site bucket.',
    });
    if (bucket.encryptionKey) {
      grant = grant.combine(this.grantOnDeployPolicy(['kms:Decrypt', 'kms:GenerateDataKey'], [bucket.encryptionKey.keyArn]));
    }
    if (distribution) {
      grant = grant.combine(this.grantOnDeployPolicy(
        ['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation'],
        [distribution.distributionArn],
      ));
    }
    return grant;
  }

  private grantOnDeployPolicy(actions: string[], resourceArns: string[], conditions?: Record<string, Record<string, unknown>>): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee: { grantPrincipal: this.deployPolicyPrincipal },
      actions,
      resourceArns,
      conditions,
    });
  }

  /**
   * Grants go into one customer managed policy (not the role's inline default policy), created on the first grant.
   */
  private ensureDeployPolicy(): iam.ManagedPolicy {
    if (!this.deployPolicy) {
      this.deployPolicy = new iam.ManagedPolicy(this, 'DeployPolicy', {
        description: `Deploy permissions of the GitHub Actions role for ${this.repository}`,
        roles: [this.role],
      });
    }
    return this.deployPolicy;
  }

  /** Synth-time guard: whatever is attached to the role later, never administrator access and never a `*` trust. */
  private checkLeastPrivilege(): string[] {
    const stack = Stack.of(this);
    const errors: string[] = [];
    const cfnRole = this.role.node.defaultChild as iam.CfnRole;
    const roleRef = JSON.stringify(stack.resolve(this.role.roleName));

    const managed = JSON.stringify(stack.resolve(cfnRole.managedPolicyArns) ?? []);
    if (/:iam::aws:policy\/AdministratorAccess"/.test(managed) || /arn:[a-z-]+:iam::aws:policy\/AdministratorAccess\b/.test(managed)) {
      errors.push(
        `The GitHub deploy role ${this.node.path} has the AdministratorAccess managed policy attached. ` +
        'Grant what the workflow deploys instead (grantCdkDeploy, grantEcrPush, grantLambdaDeploy, grantAssetDeploy).',
      );
    }

    const documents: unknown[] = [];
    for (const inline of (stack.resolve(cfnRole.policies) ?? []) as { policyDocument?: unknown; PolicyDocument?: unknown }[]) {
      documents.push(inline.policyDocument ?? inline.PolicyDocument);
    }
    for (const c of stack.node.findAll()) {
      if (c instanceof iam.CfnPolicy || c instanceof iam.CfnManagedPolicy) {
        // A policy that names the role, or a customer managed policy the role lists in its ManagedPolicyArns.
        const attached = JSON.stringify(stack.resolve(c.roles) ?? []).includes(roleRef) ||
          (c instanceof iam.CfnManagedPolicy && managed.includes(JSON.stringify(stack.resolve(c.ref))));
        if (attached) documents.push(stack.resolve(c.policyDocument));
      }
    }
    for (const doc of documents) {
      for (const statement of statementsOf(doc)) {
        const actions = ([] as unknown[]).concat(statement.Action ?? []);
        if (statement.Effect === 'Allow' && actions.some((a) => a === '*' || a === '*:*')) {
          errors.push(
            `A policy of the GitHub deploy role ${this.node.path} allows every action ('*'). ` +
            'Grant the specific actions the workflow needs instead.',
          );
        }
      }
    }

    for (const statement of statementsOf(stack.resolve(this.role.assumeRolePolicy))) {
      const principal = statement.Principal as unknown;
      const values = typeof principal === 'string' ? [principal] :
        Object.values((principal ?? {}) as Record<string, unknown>).flatMap((v) => ([] as unknown[]).concat(v));
      if (statement.Effect === 'Allow' && values.includes('*')) {
        errors.push(
          `The trust policy of the GitHub deploy role ${this.node.path} allows any principal ('*'). ` +
          'Only the GitHub OIDC provider with the subjects of `filters` may assume it.',
        );
      }
    }
    return errors;
  }
}

/** Adds statements to the deployer's managed policy while presenting the role as the principal. */
class DeployPolicyPrincipal extends iam.PrincipalBase {
  public readonly principalAccount: string | undefined;
  constructor(private readonly role: iam.Role, private readonly policy: () => iam.ManagedPolicy) {
    super();
    this.principalAccount = role.principalAccount;
  }

  public get policyFragment(): iam.PrincipalPolicyFragment {
    return this.role.policyFragment;
  }

  public addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    const policy = this.policy();
    policy.addStatements(statement);
    return { statementAdded: true, policyDependable: policy };
  }

  public dedupeString(): string | undefined {
    return undefined;
  }
}

interface ResolvedStatement {
  readonly Effect?: string;
  readonly Action?: unknown;
  readonly Principal?: unknown;
}

function statementsOf(document: unknown): ResolvedStatement[] {
  const statements = (document as { Statement?: unknown } | undefined)?.Statement;
  return Array.isArray(statements) ? statements as ResolvedStatement[] : [];
}

function parseRepository(repository: string): [string, string] {
  if (repository === undefined || Token.isUnresolved(repository)) {
    throw new Error(
      "GithubOidcDeployer needs `repository` as a literal 'owner/repo' string (not a token): the trusted subject is " +
      'built at synth time.',
    );
  }
  const parts = repository.split('/');
  if (parts.length !== 2 || parts.some((p) => p.length === 0)) {
    throw new Error(
      `\`repository\` '${repository}' is not 'owner/repo': pass the GitHub owner and repository name separated by one ` +
      "'/', e.g. 'octo-org/octo-repo' (not a URL, not 'owner/*').",
    );
  }
  const [owner, repo] = parts;
  if (/[*?]/.test(repository)) {
    throw new Error(
      `\`repository\` '${repository}' contains a wildcard: a deploy role trusts exactly one repository. Create one ` +
      'GithubOidcDeployer per repository.',
    );
  }
  if (!OWNER_NAME.test(owner)) {
    throw new Error(
      `\`repository\` owner '${owner}' is not a GitHub user or organization name: use 1 to 39 letters, digits and ` +
      'hyphens, not starting with a hyphen.',
    );
  }
  if (!REPOSITORY_NAME.test(repo) || repo === '.' || repo === '..') {
    throw new Error(
      `\`repository\` name '${repo}' is not a GitHub repository name: use 1 to 100 letters, digits, '.', '_' and '-'.`,
    );
  }
  return [owner, repo];
}

function subjectPrefixes(owner: string, repo: string, props: GithubOidcDeployerProps): string[] {
  const { ownerId, repositoryId } = props;
  if ((ownerId === undefined) !== (repositoryId === undefined)) {
    throw new Error(
      'Immutable subject claims need both `ownerId` and `repositoryId` (`gh api repos/OWNER/REPO --jq ' +
      "'.owner.id, .id'`); give both, or neither for name-based subjects.",
    );
  }
  if (ownerId === undefined || repositoryId === undefined) {
    if (props.allowNameBasedSubjects !== undefined) {
      throw new Error(
        '`allowNameBasedSubjects` only applies with `ownerId` and `repositoryId` (immutable subject claims); without ' +
        'them name-based subjects are already trusted. Remove the prop or add the ids.',
      );
    }
    return [`repo:${owner}/${repo}`];
  }
  for (const [name, value] of [['ownerId', ownerId], ['repositoryId', repositoryId]] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new Error(`\`${name}\` must be the positive integer id GitHub assigned, got ${value}.`);
    }
  }
  const immutable = `repo:${owner}@${ownerId}/${repo}@${repositoryId}`;
  return props.allowNameBasedSubjects ? [immutable, `repo:${owner}/${repo}`] : [immutable];
}

/** Validates a literal `existingProviderArn` against the stack's partition and account. */
function checkProviderArn(stack: Stack, arn: string): void {
  if (Token.isUnresolved(arn)) return; // e.g. another deployer's provider.oidcProviderArn, or an import
  const match = PROVIDER_ARN.exec(arn);
  if (!match || !PARTITIONS.includes(match[1])) {
    throw new Error(
      `\`existingProviderArn\` '${arn}' is not an IAM OIDC provider ARN: expected ` +
      `'arn:<partition>:iam::<account>:oidc-provider/${ISSUER_HOST}' (see \`GithubOidcDeployer.accountProviderArn(this)\`).`,
    );
  }
  const [, partition, account, issuer] = match;
  if (issuer !== ISSUER_HOST) {
    throw new Error(
      `\`existingProviderArn\` '${arn}' is the provider for '${issuer}', not GitHub Actions: adopt the provider for ` +
      `'${ISSUER_HOST}', or leave \`existingProviderArn\` out to create it.`,
    );
  }
  if (!Token.isUnresolved(stack.account) && stack.account !== account) {
    throw new Error(
      `\`existingProviderArn\` is in account ${account}, but the stack deploys to account ${stack.account}: a role can ` +
      'only trust an OIDC provider of its own account. Adopt the provider of the stack\'s account ' +
      '(`GithubOidcDeployer.accountProviderArn(this)`).',
    );
  }
  const stackPartition = Token.isUnresolved(stack.region) ? undefined : RegionInfo.get(stack.region).partition;
  if (stackPartition && stackPartition !== partition) {
    throw new Error(
      `\`existingProviderArn\` is in partition '${partition}', but region ${stack.region} is in partition ` +
      `'${stackPartition}'. Adopt the provider of the stack's own account and partition ` +
      '(`GithubOidcDeployer.accountProviderArn(this)`).',
    );
  }
}

/** A GitHub provider created in the same account by another construct of the app (same stack, or same concrete account). */
function findGithubProvider(scope: Construct): iam.CfnOIDCProvider | undefined {
  const stack = Stack.of(scope);
  for (const c of scope.node.root.node.findAll()) {
    if (c instanceof iam.CfnOIDCProvider && c.url === ISSUER_URL) {
      const other = Stack.of(c);
      if (other === stack || (!Token.isUnresolved(other.account) && other.account === stack.account)) {
        return c;
      }
    }
  }
  return undefined;
}

/** The resource string cdk-nag prints in an IAM5 finding id: CloudFormation references flattened to `<Logical.Attr>`. */
function nagResourceString(scope: IConstruct, arn: string): string {
  const visit = (node: unknown): string => {
    if (node === undefined) return '';
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
    const o = node as Record<string, unknown>;
    if (o['Fn::Join']) {
      const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
      return items.map(visit).join(delimiter);
    }
    if (o['Fn::Sub']) return visit(o['Fn::Sub']);
    if (o['Fn::GetAtt']) {
      const [resource, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
      return `<${visit(resource)}.${visit(attribute)}>`;
    }
    if (o['Fn::ImportValue']) return visit(o['Fn::ImportValue']);
    if (o.Ref) return `<${visit(o.Ref)}>`;
    return JSON.stringify(node);
  };
  return visit(Stack.of(scope).resolve(arn));
}

/** YAML single-quoted scalar. */
function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** GitHub's branch/tag filter globs: `*` stops at `/` (so IAM's `*` becomes `**`), `?` means "optional". */
function githubGlob(pattern: string): string {
  return pattern.replace(/\*/g, '**').replace(/\?/g, '*');
}

function workflowSnippet(repository: string, filters: TrustFilter[], roleArn: string, region: string): string {
  const names = (kind: string) => filters.filter((f) => f._kind === kind).map((f) => f._name!);
  const branches = names('branch');
  const tags = names('tag');
  const environments = names('environment');
  const lines: string[] = [
    `# GitHub Actions workflow for ${repository}, made by cdk-serverless-llm's GithubOidcDeployer.`,
    '# Save it as .github/workflows/deploy.yml and replace the last step with your deploy commands.',
    'name: deploy',
    'on:',
  ];
  if (branches.length > 0 || tags.length > 0) {
    lines.push('  push:');
    if (branches.length > 0) lines.push(`    branches: [${branches.map((b) => quote(githubGlob(b))).join(', ')}]`);
    if (tags.length > 0) lines.push(`    tags: [${tags.map((t) => quote(githubGlob(t))).join(', ')}]`);
  }
  if (filters.some((f) => f._kind === 'pullRequest')) lines.push('  pull_request: {}');
  lines.push('  workflow_dispatch: {}');
  lines.push(
    'permissions:',
    '  id-token: write # lets the job request the GitHub OIDC token the role trusts',
    '  contents: read',
    'jobs:',
    '  deploy:',
    '    runs-on: ubuntu-latest',
  );
  const exactEnvironment = environments.find((e) => !/[*?]/.test(e));
  if (exactEnvironment !== undefined) {
    const others = environments.filter((e) => e !== exactEnvironment);
    lines.push(`    environment: ${quote(exactEnvironment)}${others.length ? ` # also trusted: ${others.join(', ')}` : ''}`);
  }
  lines.push(
    '    steps:',
    '      - uses: actions/checkout@v5',
    '      - uses: aws-actions/configure-aws-credentials@v5',
    '        with:',
    `          role-to-assume: ${roleArn}`,
    `          aws-region: ${region}`,
    '      - run: aws sts get-caller-identity',
    '',
  );
  return lines.join('\n');
}
