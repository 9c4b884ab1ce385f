import { Annotations, ArnFormat, Duration, Names, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { SESSIONS_USER_ACCESS_STRING } from './access-string';
import { CacheAuth, CacheAuthMode } from './auth';
import { CacheEngine } from './engine';
import { bundledCode } from '../core/assets';
import { deployTimeAvailabilityZones, isEnvSpecific, withStackAvailabilityZones } from '../core/availability-zones';
import { acknowledgeNag } from '../core/nag';
import { IProxySessionStore } from '../streaming-llm-proxy/session-store';

/** What the cache evicts when it is full (the `maxmemory-policy` parameter). */
export enum EvictionPolicy {
  /** Evict the least recently used keys that have a TTL (every session and counter has one). */
  VOLATILE_LRU = 'volatile-lru',
  /** Evict the keys with a TTL that expire soonest. */
  VOLATILE_TTL = 'volatile-ttl',
  /** Evict the least frequently used keys that have a TTL. */
  VOLATILE_LFU = 'volatile-lfu',
  /** Evict any key, least recently used first. */
  ALLKEYS_LRU = 'allkeys-lru',
  /** Evict nothing: writes fail when memory is full. */
  NOEVICTION = 'noeviction',
}

/** The interface endpoints a VPC without NAT needs for a VPC-attached proxy (and the rotation function). */
const PROXY_ENDPOINTS: ReadonlyArray<[string, ec2.InterfaceVpcEndpointAwsService]> = [
  ['BedrockRuntime', ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME],
  ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
  ['Sts', ec2.InterfaceVpcEndpointAwsService.STS],
  ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
  ['Monitoring', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING],
  ['XRay', ec2.InterfaceVpcEndpointAwsService.XRAY],
];

/** Props of `VpcRedisSessions`. */
export interface VpcRedisSessionsProps {
  /**
   * The VPC to put the cache in. With your own VPC, the subnets in `vpcSubnets` must be private, span two
   * Availability Zones when `replicas` > 0, and reach Bedrock Runtime, Secrets Manager, STS and CloudWatch (a NAT
   * gateway, existing interface endpoints, or `vpcEndpoints: true`).
   * @default a new VPC with private isolated subnets in two Availability Zones, no NAT gateway, flow logs, and interface endpoints
   */
  readonly vpc?: ec2.IVpc;

  /**
   * The Availability Zones of the VPC the construct creates (two or more when `replicas` > 0), e.g.
   * `['us-east-1a', 'us-east-1b']`. To use the CDK's context lookup instead (`cdk synth` then needs AWS credentials or a
   * cdk.context.json), pass `Stack.of(this).availabilityZones.slice(0, 2)`. Not allowed together with `vpc`.
   * @default the region's first two Availability Zones, resolved at deploy time (`Fn::GetAZs`), so synthesis never
   * looks them up, even in a stack with a concrete account and region
   */
  readonly availabilityZones?: string[];

  /**
   * The subnets for the cache and for the functions that connect to it.
   * @default the VPC's private subnets with egress when it has any, otherwise its private isolated subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Create interface endpoints for Bedrock Runtime, Secrets Manager, STS, CloudWatch Logs and monitoring, X-Ray (and
   * ElastiCache, for token rotation) in `vpcSubnets`, so VPC-attached functions reach AWS without a NAT gateway.
   * @default true when the construct creates the VPC, false with your own VPC
   */
  readonly vpcEndpoints?: boolean;

  /**
   * The engine and version.
   * @default CacheEngine.valkey('8.0')
   */
  readonly engine?: CacheEngine;

  /**
   * How functions authenticate.
   * @default CacheAuth.iam(): IAM authentication, no static secret
   */
  readonly auth?: CacheAuth;

  /**
   * The node type.
   * @default 'cache.t4g.small'
   */
  readonly nodeType?: string;

  /**
   * Read replicas next to the primary (0-5). With one or more, the group is Multi-AZ with automatic failover; 0 is a
   * single node for development (cdk-nag then reports AwsSolutions-AEC4 for you to acknowledge).
   * @default 1 (two nodes in two Availability Zones, automatic failover)
   */
  readonly replicas?: number;

  /**
   * The port the cache listens on (1150-65535).
   * @default 6380 (not the well-known 6379)
   */
  readonly port?: number;

  /**
   * The customer managed key for data at rest (cache and snapshots), the cache's log groups, the VPC flow logs and
   * the token secret. A key from another stack or imported by ARN must allow the CloudWatch Logs service principal.
   * @default a new key with automatic rotation
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Days of automatic snapshots to keep (0 turns snapshots off; cdk-nag's NIST and HIPAA packs ask for 15 or more).
   * @default 15
   */
  readonly snapshotRetentionDays?: number;

  /**
   * The daily snapshot window, UTC, `hh24:mi-hh24:mi`.
   * @default '03:00-04:00'
   */
  readonly snapshotWindow?: string;

  /**
   * The weekly maintenance window, UTC, `ddd:hh24:mi-ddd:hh24:mi`.
   * @default 'sun:05:00-sun:06:00'
   */
  readonly maintenanceWindow?: string;

  /**
   * What to evict when memory is full.
   * @default EvictionPolicy.VOLATILE_LRU (sessions and limit counters all carry a TTL)
   */
  readonly evictionPolicy?: EvictionPolicy;

  /**
   * How long the slow log and engine log (and the VPC flow logs) are kept.
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Create alarms on CPU, engine CPU, memory, evictions, connections and replication lag.
   * @default true
   */
  readonly alarms?: boolean;

  /**
   * The topic every alarm notifies (subscribe your on-call channel to it).
   * @default a new SNS topic encrypted with `encryptionKey`, HTTPS only
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * ElastiCache (Valkey or Redis OSS, cluster mode disabled) in private subnets for the proxy's conversation sessions,
 * rate limits and quotas: TLS, encryption at rest, IAM authentication (or a rotated AUTH token), Multi-AZ with
 * automatic failover, logs and alarms. `grantConnect(fn)` wires a VPC-attached function in; pass the construct as
 * `sessions` to `StreamingLlmProxy` to do that for the proxy.
 */
export class VpcRedisSessions extends Construct implements IProxySessionStore, ec2.IConnectable {
  /** The VPC of the cache. */
  public readonly vpc: ec2.IVpc;
  /** The subnets of the cache, for functions that connect to it (always set; optional only in IProxySessionStore). */
  public readonly vpcSubnets?: ec2.SubnetSelection;
  /** The cache's security group; it admits only what `grantConnect` (or you) allow on `port`. */
  public readonly securityGroup: ec2.ISecurityGroup;
  /** Network access to the cache (default port = `port`). */
  public readonly connections: ec2.Connections;
  /** The replication group. */
  public readonly replicationGroup: elasticache.CfnReplicationGroup;
  /** The replication group id (lower case). */
  public readonly replicationGroupId: string;
  /** The primary endpoint address. */
  public readonly endpoint: string;
  /** The reader endpoint address (replicas). */
  public readonly readerEndpoint: string;
  /** The port. */
  public readonly port: number;
  /** The engine and version. */
  public readonly engine: CacheEngine;
  /** The authentication. */
  public readonly auth: CacheAuth;
  /** The key for data at rest, logs and the token secret. */
  public readonly encryptionKey: kms.IKey;
  /** The slow log. */
  public readonly slowLogGroup: logs.ILogGroup;
  /** The engine log. */
  public readonly engineLogGroup: logs.ILogGroup;
  /** The ElastiCache user functions connect as (IAM auth). */
  public readonly userId?: string;
  /** The secret holding the AUTH token as `{ "password": "..." }` (token auth). */
  public readonly authTokenSecret?: secretsmanager.ISecret;
  /** The function that rotates the AUTH token (token auth). */
  public readonly rotationFunction?: lambda.IFunction;
  /** The security group of the interface endpoints (when the construct creates them). */
  public readonly endpointSecurityGroup?: ec2.ISecurityGroup;
  /** The topic the alarms notify (when `alarms` is true). */
  public readonly alarmTopic?: sns.ITopic;
  /** The alarms (empty when `alarms` is false). */
  public readonly alarms: cloudwatch.IAlarm[] = [];

  private readonly nodeCount: number;
  private readonly selection: ec2.SubnetSelection;
  private readonly granted = new Set<string>();

  constructor(scope: Construct, id: string, props: VpcRedisSessionsProps = {}) {
    super(scope, id);
    this.engine = props.engine ?? CacheEngine.valkey();
    this.auth = props.auth ?? CacheAuth.iam();
    this.port = props.port ?? 6380;
    const replicas = props.replicas ?? 1;
    validate(props, this.port, replicas);
    if (this.auth.mode === CacheAuthMode.IAM && !this.engine.supportsIamAuth) {
      throw new Error(
        `auth: IAM authentication needs Valkey 7.2+ or Redis OSS 7.0+, not ${this.engine.name} ${this.engine.version}; ` +
        'choose a newer `engine` or `auth: CacheAuth.token()`.',
      );
    }
    this.nodeCount = replicas + 1;
    const stack = Stack.of(this);

    // --- key ------------------------------------------------------------------------------------------------------
    this.encryptionKey = props.encryptionKey ?? new kms.Key(this, 'Key', {
      description: `Data at rest, logs and secrets of the ElastiCache sessions cache ${this.node.path}`,
      enableKeyRotation: true,
    });
    // CloudWatch Logs encrypts the cache's (and the flow logs') log groups with it.
    this.encryptionKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudWatchLogsEncryption',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
        },
      },
    }));
    // CloudWatch publishes alarm notifications to the topic encrypted with it.
    this.encryptionKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsToEncryptedTopic',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      // Only alarms of this account (confused-deputy protection).
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
      },
    }));
    const logRetention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;

    // --- network --------------------------------------------------------------------------------------------------
    const ownVpc = props.vpc === undefined;
    if (props.vpc && props.availabilityZones) {
      throw new Error('availabilityZones applies only to the VPC VpcRedisSessions creates; with your own `vpc`, choose zones through `vpcSubnets`.');
    }
    this.vpc = props.vpc ?? this.createVpc(logRetention, props.availabilityZones);
    this.selection = props.vpcSubnets ?? {
      subnetType: this.vpc.privateSubnets.length > 0 ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED,
    };
    this.vpcSubnets = this.selection;
    const subnets = this.selectSubnets(replicas);
    const endpoints = props.vpcEndpoints ?? ownVpc;
    if (endpoints) {
      // One security group for the endpoints; grantConnect() admits each function on 443 (nothing else can use them).
      this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
        vpc: this.vpc,
        description: `Interface endpoints of ${this.node.path}: HTTPS from functions wired in with grantConnect()`,
        allowAllOutbound: false,
      });
      const services = [...PROXY_ENDPOINTS];
      if (this.auth.mode === CacheAuthMode.TOKEN) services.push(['ElastiCache', ec2.InterfaceVpcEndpointAwsService.ELASTICACHE]);
      for (const [name, service] of services) {
        new ec2.InterfaceVpcEndpoint(this, `${name}Endpoint`, {
          vpc: this.vpc,
          service,
          subnets: this.selection,
          privateDnsEnabled: true,
          open: false,
          securityGroups: [this.endpointSecurityGroup],
        });
      }
    } else if (subnets.subnets.every((s) => this.vpc.isolatedSubnets.includes(s))) {
      Annotations.of(this).addWarningV2('cdk-serverless-llm:vpcRedisSessionsNoRoute',
        '`vpcSubnets` are isolated subnets and `vpcEndpoints` is false: functions attached to them reach Bedrock Runtime, ' +
        'Secrets Manager, STS and CloudWatch only if the VPC already has interface endpoints for them. Set `vpcEndpoints: true` ' +
        'to create them.');
    }
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: this.vpc,
      description: `ElastiCache sessions cache ${this.node.path}: only functions wired in with grantConnect()`,
      allowAllOutbound: false,
    });
    this.connections = new ec2.Connections({ securityGroups: [this.securityGroup], defaultPort: ec2.Port.tcp(this.port) });
    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'SubnetGroup', {
      description: `Subnets of the ElastiCache sessions cache ${this.node.path}`,
      subnetIds: subnets.subnetIds,
    });

    // --- engine settings ------------------------------------------------------------------------------------------
    const parameterGroup = new elasticache.CfnParameterGroup(this, 'Parameters', {
      cacheParameterGroupFamily: this.engine.parameterGroupFamily,
      description: `Sessions cache ${this.node.path}: eviction policy`,
      properties: { 'maxmemory-policy': props.evictionPolicy ?? EvictionPolicy.VOLATILE_LRU },
    });
    this.slowLogGroup = new logs.LogGroup(this, 'SlowLog', { retention: logRetention, encryptionKey: this.encryptionKey });
    this.engineLogGroup = new logs.LogGroup(this, 'EngineLog', { retention: logRetention, encryptionKey: this.encryptionKey });

    // --- auth -----------------------------------------------------------------------------------------------------
    const baseId = resourceIdBase(this);
    let userGroup: elasticache.CfnUserGroup | undefined;
    let secret: secretsmanager.Secret | undefined;
    if (this.auth.mode === CacheAuthMode.IAM) {
      this.userId = this.auth.userId ?? `${baseId}-app`;
      // A user group must contain a user named "default": this one is switched off.
      const defaultUser = new elasticache.CfnUser(this, 'DefaultUser', {
        engine: this.engine.name,
        userId: `${baseId}-default`,
        userName: 'default',
        accessString: 'off -@all',
        authenticationMode: { Type: 'no-password-required' },
      });
      // IAM users must have user name = user id.
      const appUser = new elasticache.CfnUser(this, 'AppUser', {
        engine: this.engine.name,
        userId: this.userId,
        userName: this.userId,
        accessString: SESSIONS_USER_ACCESS_STRING,
        authenticationMode: { Type: 'iam' },
      });
      userGroup = new elasticache.CfnUserGroup(this, 'UserGroup', {
        engine: this.engine.name,
        userGroupId: baseId,
        userIds: [defaultUser.ref, appUser.ref],
      });
    } else {
      secret = new secretsmanager.Secret(this, 'AuthToken', {
        description: `AUTH token of the ElastiCache sessions cache ${this.node.path} (rotated)`,
        encryptionKey: this.encryptionKey,
        generateSecretString: {
          secretStringTemplate: '{}',
          generateStringKey: 'password',
          // ElastiCache tokens are 16-128 printable characters without @ " / or spaces.
          excludePunctuation: true,
          includeSpace: false,
          passwordLength: 64,
        },
      });
      this.authTokenSecret = secret;
    }

    // --- the replication group ------------------------------------------------------------------------------------
    this.replicationGroup = new elasticache.CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupDescription: `Sessions and rate limits (${this.node.path})`,
      engine: this.engine.name,
      engineVersion: this.engine.version,
      cacheNodeType: props.nodeType ?? 'cache.t4g.small',
      numCacheClusters: this.nodeCount,
      multiAzEnabled: replicas > 0,
      automaticFailoverEnabled: replicas > 0,
      port: this.port,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [this.securityGroup.securityGroupId],
      cacheParameterGroupName: parameterGroup.ref,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      kmsKeyId: this.encryptionKey.keyArn,
      userGroupIds: userGroup ? [userGroup.ref] : undefined,
      authToken: secret ? secret.secretValueFromJson('password').unsafeUnwrap() : undefined,
      snapshotRetentionLimit: props.snapshotRetentionDays ?? 15,
      snapshotWindow: props.snapshotWindow ?? '03:00-04:00',
      preferredMaintenanceWindow: props.maintenanceWindow ?? 'sun:05:00-sun:06:00',
      autoMinorVersionUpgrade: true,
      logDeliveryConfigurations: [
        logDelivery('slow-log', this.slowLogGroup),
        logDelivery('engine-log', this.engineLogGroup),
      ],
    });
    this.replicationGroup.node.addDependency(this.slowLogGroup, this.engineLogGroup);
    this.replicationGroupId = this.replicationGroup.ref;
    this.endpoint = this.replicationGroup.attrPrimaryEndPointAddress;
    this.readerEndpoint = this.replicationGroup.attrReaderEndPointAddress;

    if (secret) this.rotationFunction = this.createRotation(secret, logRetention);
    if (props.alarms ?? true) {
      this.alarmTopic = props.alarmTopic ?? new sns.Topic(this, 'AlarmTopic', {
        displayName: 'ElastiCache sessions cache alarms',
        masterKey: this.encryptionKey,
        enforceSSL: true,
      });
      this.createAlarms([new cwActions.SnsAction(this.alarmTopic)]);
    } else if (props.alarmTopic) {
      throw new Error('alarmTopic needs `alarms` to be true (the default); remove `alarmTopic` or `alarms: false`.');
    }
    this.acknowledgeByDesign();
  }

  /**
   * Lets a VPC-attached function use the cache: admits its security groups on `port`, grants `elasticache:Connect`
   * (IAM auth) or reading the token secret (token auth), and sets the runtime's REDIS_* environment variables
   * (docs/runtime-contract.md). Never puts a secret value in the environment.
   */
  public grantConnect(fn: lambda.Function): void {
    if (!fn.isBoundToVpc) {
      throw new Error(
        `grantConnect(${fn.node.path}): the function is not attached to a VPC, so it cannot reach the cache. Create it with ` +
        '`vpc: sessions.vpc` and `vpcSubnets: sessions.vpcSubnets` (StreamingLlmProxy does this when given `sessions`).',
      );
    }
    if (this.granted.has(fn.node.addr)) return;
    this.granted.add(fn.node.addr);
    this.connections.allowDefaultPortFrom(fn, `${fn.node.path} to the sessions cache`);
    this.endpointSecurityGroup?.connections.allowFrom(fn, ec2.Port.HTTPS, `${fn.node.path} to AWS APIs`);
    fn.addEnvironment('REDIS_HOST', this.endpoint);
    fn.addEnvironment('REDIS_PORT', String(this.port));
    fn.addEnvironment('REDIS_TLS', 'true');
    fn.addEnvironment('REDIS_AUTH_MODE', this.auth.mode);
    if (this.auth.mode === CacheAuthMode.IAM) {
      fn.addEnvironment('REDIS_USER', this.userId!);
      fn.addEnvironment('REDIS_CACHE_NAME', this.replicationGroupId);
      fn.addToRolePolicy(new iam.PolicyStatement({
        sid: 'ConnectToSessionsCache',
        actions: ['elasticache:Connect'],
        resources: [this.arn('replicationgroup', this.replicationGroupId), this.arn('user', this.userId!)],
      }));
    } else {
      fn.addEnvironment('REDIS_TOKEN_SECRET_ARN', this.authTokenSecret!.secretArn);
      this.authTokenSecret!.grantRead(fn);
    }
  }

  /** A metric of every node, combined with MAX (or the single node's metric). */
  public metric(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.IMetric {
    const perNode = Array.from({ length: this.nodeCount }, (_, i) => new cloudwatch.Metric({
      namespace: 'AWS/ElastiCache',
      metricName,
      dimensionsMap: { CacheClusterId: `${this.replicationGroupId}-${String(i + 1).padStart(3, '0')}` },
      period: Duration.minutes(5),
      statistic: 'Average',
      ...props,
    }));
    if (perNode.length === 1) return perNode[0];
    return new cloudwatch.MathExpression({
      expression: `MAX([${perNode.map((_, i) => `n${i}`).join(', ')}])`,
      usingMetrics: Object.fromEntries(perNode.map((m, i) => [`n${i}`, m])),
      label: props.label ?? `${metricName} (highest node)`,
      period: props.period ?? Duration.minutes(5),
    });
  }

  /** Host CPU, percent (highest node). */
  public metricCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.metric('CPUUtilization', props);
  }

  /** CPU of the engine thread, percent (highest node). */
  public metricEngineCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.metric('EngineCPUUtilization', props);
  }

  /** Memory used of `maxmemory`, percent (highest node). */
  public metricMemoryUsagePercentage(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.metric('DatabaseMemoryUsagePercentage', props);
  }

  /** Keys evicted for lack of memory (sum per period, highest node). */
  public metricEvictions(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.metric('Evictions', { statistic: 'Sum', ...props });
  }

  /** Client connections (highest node). */
  public metricCurrentConnections(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.metric('CurrConnections', { statistic: 'Maximum', ...props });
  }

  /** How far the replicas are behind the primary, seconds (highest replica). */
  public metricReplicationLag(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.metric('ReplicationLag', { statistic: 'Maximum', ...props });
  }

  private arn(resource: string, name: string): string {
    return Stack.of(this).formatArn({ service: 'elasticache', resource, resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  }

  private createVpc(retention: logs.RetentionDays, zones: string[] | undefined): ec2.IVpc {
    const stack = Stack.of(this);
    if (zones !== undefined) {
      if (zones.length === 0) throw new Error('availabilityZones is empty; name at least one zone (two when `replicas` > 0), or leave it out.');
      // While a context lookup is pending the CDK answers placeholders (dummy1a, …) and synthesizes again afterwards.
      const wrong = zones.filter((az) => !Token.isUnresolved(az) && !Token.isUnresolved(stack.region) && !az.startsWith(stack.region) && !/^dummy1[a-z]$/.test(az));
      if (wrong.length > 0) {
        throw new Error(`availabilityZones ${wrong.join(', ')} are not in the stack's region ${stack.region}; name zones of ${stack.region} (e.g. ${stack.region}a).`);
      }
    }
    const vpcProps: ec2.VpcProps = {
      natGateways: 0,
      subnetConfiguration: [{ name: 'Cache', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      // Nothing uses the default security group: strip its rules.
      restrictDefaultSecurityGroup: true,
    };
    let vpc: ec2.Vpc;
    if (isEnvSpecific(stack)) {
      // ec2.Vpc would look the zones up (a context lookup that needs credentials): use the given ones or Fn::GetAZs.
      const azs = zones ?? deployTimeAvailabilityZones(stack, 2);
      vpc = withStackAvailabilityZones(stack, azs, () => new ec2.Vpc(this, 'Vpc', { ...vpcProps, availabilityZones: azs }));
    } else {
      // An environment-agnostic stack's zones are Fn::GetAZs already (no lookup).
      vpc = new ec2.Vpc(this, 'Vpc', zones ? { ...vpcProps, availabilityZones: zones } : { ...vpcProps, maxAzs: 2 });
    }
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention, encryptionKey: this.encryptionKey });
    // The flow-log role's permissions live in a managed policy scoped to its log group (no inline policy).
    const role = new iam.Role(this, 'FlowLogRole', {
      assumedBy: new iam.ServicePrincipal('vpc-flow-logs.amazonaws.com'),
      description: `Delivers the VPC flow logs of ${this.node.path}`,
    });
    role.addManagedPolicy(new iam.ManagedPolicy(this, 'FlowLogPolicy', {
      description: `Write the VPC flow logs of ${this.node.path} to their log group`,
      statements: [new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [flowLogs.logGroupArn],
      })],
    }));
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs, role.withoutPolicyUpdates()),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
    return vpc;
  }

  private selectSubnets(replicas: number): ec2.SelectedSubnets {
    let selected: ec2.SelectedSubnets;
    try {
      selected = this.vpc.selectSubnets(this.selection);
    } catch (error) {
      throw new Error(`vpcSubnets: ${(error as Error).message}. Choose private subnets of \`vpc\` for the cache.`);
    }
    if (selected.subnets.length === 0) throw new Error('vpcSubnets selects no subnets of `vpc`; choose its private subnets for the cache.');
    if (selected.subnets.some((s) => this.vpc.publicSubnets.includes(s))) {
      throw new Error('vpcSubnets selects public subnets; the cache and the functions that connect to it belong in private subnets.');
    }
    const azs = new Set(selected.subnets.map((s) => s.availabilityZone));
    const known = [...azs].every((az) => !Token.isUnresolved(az));
    if (replicas > 0 && known && azs.size < 2) {
      throw new Error(
        `vpcSubnets are all in ${[...azs][0]}; Multi-AZ (replicas: ${replicas}) needs subnets in two Availability Zones. ` +
        'Select subnets in two zones, or set `replicas: 0` for a single-node development cache.',
      );
    }
    return selected;
  }

  private createRotation(secret: secretsmanager.Secret, retention: logs.RetentionDays): lambda.Function {
    const logGroup = new logs.LogGroup(this, 'RotationLogs', { retention, encryptionKey: this.encryptionKey });
    const role = new iam.Role(this, 'RotationRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Rotates the AUTH token of ${this.node.path}`,
    });
    const fn = new lambda.Function(this, 'RotationFunction', {
      description: `Rotates the AUTH token of the ElastiCache sessions cache ${this.node.path} (ROTATE, then SET)`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: bundledCode('redis-rotation'),
      role,
      memorySize: 256,
      // Each step may wait for the replication group to finish a modification.
      timeout: Duration.minutes(15),
      logGroup,
      tracing: lambda.Tracing.ACTIVE,
      vpc: this.vpc,
      vpcSubnets: this.selection,
      environment: {
        REPLICATION_GROUP_ID: this.replicationGroupId,
        REDIS_HOST: this.endpoint,
        REDIS_PORT: String(this.port),
        REDIS_TLS: 'true',
      },
    });
    logGroup.grantWrite(role);
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'AttachToVpc',
      actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
      resources: ['*'],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'RotateAuthToken',
      actions: ['elasticache:ModifyReplicationGroup', 'elasticache:DescribeReplicationGroups'],
      resources: [this.arn('replicationgroup', this.replicationGroupId)],
    }));
    this.connections.allowDefaultPortFrom(fn, 'token rotation (testSecret)');
    this.endpointSecurityGroup?.connections.allowFrom(fn, ec2.Port.HTTPS, 'token rotation to Secrets Manager and ElastiCache');
    secret.addRotationSchedule('Rotation', { rotationLambda: fn, automaticallyAfter: this.auth.rotateEvery });
    // The schedule lets secretsmanager.amazonaws.com invoke the function without a condition; limit that to rotations
    // of this secret in this account (confused-deputy protection, checkov CKV_AWS_364). The L2 offers no other way.
    for (const permission of fn.node.children.filter((c): c is lambda.CfnPermission => c instanceof lambda.CfnPermission)) {
      if (permission.principal === 'secretsmanager.amazonaws.com') {
        permission.sourceArn = secret.secretArn;
        permission.sourceAccount = Stack.of(this).account;
      }
    }
    return fn;
  }

  private createAlarms(actions: cloudwatch.IAlarmAction[]): void {
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, evaluationPeriods: number, description: string) => {
      const created = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${description} (${this.node.path})`,
      });
      if (actions.length > 0) created.addAlarmAction(...actions);
      this.alarms.push(created);
    };
    alarm('CpuAlarm', this.metricCpuUtilization(), 90, 3, 'Host CPU of a cache node at or above 90% for 15 minutes');
    alarm('EngineCpuAlarm', this.metricEngineCpuUtilization(), 90, 3, 'Engine CPU of a cache node at or above 90% for 15 minutes');
    alarm('MemoryAlarm', this.metricMemoryUsagePercentage(), 80, 3, 'Cache memory at or above 80% of maxmemory for 15 minutes');
    alarm('EvictionsAlarm', this.metricEvictions(), 1, 1, 'The cache evicted sessions or limit counters for lack of memory');
    alarm('ConnectionsAlarm', this.metricCurrentConnections(), 10_000, 2, 'At least 10,000 client connections on a cache node');
    if (this.nodeCount > 1) {
      alarm('ReplicationLagAlarm', this.metricReplicationLag(), 5, 3, 'A replica at least 5 seconds behind the primary for 15 minutes');
    }
  }

  private acknowledgeByDesign(): void {
    if (this.auth.mode === CacheAuthMode.IAM) {
      acknowledgeNag(this.replicationGroup, {
        id: 'AwsSolutions-AEC6',
        reason: 'Connections authenticate as an ElastiCache RBAC user with IAM authentication (user group with a disabled default ' +
          'user, short-lived SigV4 tokens, elasticache:Connect); AEC6 only recognizes the static AUTH token that IAM auth replaces.',
      });
    }
    const rotation = this.node.tryFindChild('RotationFunction');
    if (rotation) {
      const dlq = 'Secrets Manager invokes the rotation function synchronously for each step and retries failed rotations ' +
        'itself, recording the failure on the secret; an asynchronous dead-letter queue would never receive an event.';
      acknowledgeNag(rotation,
        { id: 'Serverless-LambdaDLQ', reason: dlq },
        { id: 'NIST.800.53.R5-LambdaDLQ', reason: dlq },
        { id: 'HIPAA.Security-LambdaDLQ', reason: dlq },
      );
      const concurrency = 'Secrets Manager runs one rotation of this secret at a time; reserving concurrency would only take ' +
        'capacity from the account (and fails to deploy in accounts at the minimum unreserved concurrency).';
      acknowledgeNag(rotation,
        { id: 'NIST.800.53.R5-LambdaConcurrency', reason: concurrency },
        { id: 'HIPAA.Security-LambdaConcurrency', reason: concurrency },
      );
      const role = this.node.tryFindChild('RotationRole')!;
      const inline = 'The rotation role is dedicated to this one function; its inline statements are scoped to this cache, ' +
        'its token secret, its key and its log group, which a shared managed policy could not express.';
      acknowledgeNag(role,
        { id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: inline },
        { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: inline },
        {
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason: 'Two actions have no resource-level permissions: secretsmanager:GetRandomPassword (generates the new token) and ' +
            'the EC2 network-interface actions Lambda needs to attach the function to the VPC; every other statement names ' +
            'this cache, its secret, key or log group.',
        },
      );
    }
  }
}

function logDelivery(logType: 'slow-log' | 'engine-log', group: logs.ILogGroup): elasticache.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty {
  return {
    destinationType: 'cloudwatch-logs',
    destinationDetails: { cloudWatchLogsDetails: { logGroup: group.logGroupName } },
    logFormat: 'json',
    logType,
  };
}

/** A lower-case ElastiCache id (letters, digits, single hyphens) unique to this construct, for users and user groups. */
function resourceIdBase(scope: Construct): string {
  const unique = Names.uniqueResourceName(scope, { maxLength: 32, separator: '-' }).toLowerCase();
  const cleaned = unique.replace(/[^a-z0-9-]/g, '-').replace(/-+/g, '-').replace(/^[^a-z]+/, '').replace(/-$/, '');
  return cleaned.length > 0 ? cleaned : `sessions-${Names.uniqueId(scope).slice(-8).toLowerCase()}`;
}

function validate(props: VpcRedisSessionsProps, port: number, replicas: number): void {
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 5) {
    throw new Error(`replicas must be a whole number from 0 to 5, got ${replicas}.`);
  }
  if (!Number.isInteger(port) || port < 1150 || port > 65535) {
    throw new Error(`port must be a whole number from 1150 to 65535 (ElastiCache's range), got ${port}.`);
  }
  const retention = props.snapshotRetentionDays;
  if (retention !== undefined && (!Number.isInteger(retention) || retention < 0 || retention > 35)) {
    throw new Error(`snapshotRetentionDays must be a whole number from 0 to 35, got ${retention}.`);
  }
  if (props.snapshotWindow !== undefined && !/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/.test(props.snapshotWindow)) {
    throw new Error(`snapshotWindow must look like '03:00-04:00' (UTC, hh24:mi-hh24:mi), got '${props.snapshotWindow}'.`);
  }
  const day = '(mon|tue|wed|thu|fri|sat|sun):([01]\\d|2[0-3]):[0-5]\\d';
  if (props.maintenanceWindow !== undefined && !new RegExp(`^${day}-${day}$`).test(props.maintenanceWindow)) {
    throw new Error(`maintenanceWindow must look like 'sun:05:00-sun:06:00' (UTC, ddd:hh24:mi-ddd:hh24:mi), got '${props.maintenanceWindow}'.`);
  }
  if (props.nodeType !== undefined && !Token.isUnresolved(props.nodeType) && !/^cache\.[a-z0-9-]+\.[a-z0-9]+$/.test(props.nodeType)) {
    throw new Error(`nodeType must be an ElastiCache node type such as 'cache.t4g.small' or 'cache.r7g.large', got '${props.nodeType}'.`);
  }
  if (props.vpcSubnets && !props.vpc) {
    throw new Error('vpcSubnets needs `vpc`: the construct creates its own VPC when `vpc` is not set. Set `vpc` or remove `vpcSubnets`.');
  }
}
