import {
  Annotations,
  Arn,
  ArnFormat,
  Aws,
  CfnResource,
  CfnRule,
  Duration,
  Fn,
  Names,
  RemovalPolicy,
  Stack,
  Token,
} from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { IStreamingLlmProxyEndpoint, ProxyAuthMode, ProxyEndpointType, ProxyWebAcl } from '../streaming-llm-proxy';
import { nagResourceText } from './nag-ids';
import { bundledSource } from '../core/assets';
import { forwardedHostFunction } from '../core/forwarded-host';
import { acknowledgeNag } from '../core/nag';

/** The region CloudFront reads viewer certificates (and CLOUDFRONT-scoped web ACLs) from. */
const CLOUDFRONT_REGION = 'us-east-1';

/** Cache-Control of files whose names change when their content does. */
const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** Cache-Control of the app shell and the runtime configuration: always revalidated. */
const NO_CACHE = 'no-cache';
/** Cache-Control of other files: browsers revalidate, CloudFront keeps them a day (every deployment invalidates). */
const REVALIDATE_CACHE_CONTROL = 'public, max-age=0, s-maxage=86400';

/** The content security policy used when none is given: same-origin everything, no inline script, no framing. */
const DEFAULT_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  'upgrade-insecure-requests',
].join('; ');

/**
 * A custom domain for the site.
 */
export interface SpaDomain {
  /**
   * The domain name viewers use, e.g. `chat.example.com`.
   */
  readonly domainName: string;

  /**
   * More names served by the same distribution (and certificate), e.g. `www.chat.example.com`.
   *
   * @default - no other names
   */
  readonly alternateNames?: string[];

  /**
   * The Route 53 hosted zone of the domain. When given, A and AAAA alias records are created for every name, and the
   * certificate (when not supplied) is validated through DNS in this zone.
   *
   * @default - no DNS records are created; `certificate` is then required
   */
  readonly hostedZone?: route53.IHostedZone;

  /**
   * A certificate in us-east-1 that covers every name. A certificate from another region is a synth-time error.
   *
   * @default - a DNS-validated certificate is created in `hostedZone` (the stack must then be in us-east-1)
   */
  readonly certificate?: acm.ICertificate;
}

/**
 * A path of the site routed to an API instead of the bucket.
 */
export interface SpaApiRoute {
  /**
   * The `StreamingLlmProxy` to route to (its function URL or REST API stage, not its own CloudFront distribution).
   * With API-key or JWT auth the function URL (auth type NONE) is called over HTTPS and the proxy authenticates every
   * request; with `ProxyAuth.iam()` CloudFront signs with Origin Access Control and viewers must send
   * `x-amz-content-sha256` with POST bodies (see the README).
   *
   * @default - `origin` must be given
   */
  readonly proxy?: IStreamingLlmProxyEndpoint;

  /**
   * Any CloudFront origin to route to instead of `proxy` (an HTTP API, a load balancer, another host).
   *
   * @default - `proxy` must be given
   */
  readonly origin?: cloudfront.IOrigin;

  /**
   * The CloudFront path pattern of the route, in the form `/<prefix>/*`. The full path (prefix included) is forwarded;
   * the proxy runtime matches on the path suffix.
   *
   * @default '/api/*'
   */
  readonly pathPattern?: string;

  /**
   * How long CloudFront waits for the first byte and between bytes of a streamed response.
   * Values above 60 seconds need a CloudFront origin response timeout quota increase.
   *
   * @default Duration.seconds(60)
   */
  readonly readTimeout?: Duration;
}

/**
 * Properties of a `SpaFrontend`.
 */
export interface SpaFrontendProps {
  /**
   * A folder of built files to deploy (e.g. `./web/dist`). Files that are not in the folder are deleted from the bucket
   * (`prune`), hashed assets are uploaded before the HTML that references them, and the distribution is invalidated.
   *
   * @default - nothing is deployed; upload files yourself (see `grantDeploy`)
   */
  readonly source?: string;

  /**
   * Delete files from the bucket that are not in `source`.
   *
   * @default true
   */
  readonly prune?: boolean;

  /**
   * Paths (S3 sync patterns, relative to `source`) of files whose names contain a content hash. They are served with
   * `Cache-Control: public, max-age=31536000, immutable`; HTML files and `config.json` get `no-cache`; every other file
   * gets `public, max-age=0, s-maxage=86400`.
   *
   * @default ['assets/*', 'static/*'] (the output folders of Vite and Create React App)
   */
  readonly hashedAssetPaths?: string[];

  /**
   * Memory of the function that copies `source` into the bucket, in MiB. Raise it for large sites.
   *
   * @default 512
   */
  readonly deploymentMemoryLimit?: number;

  /**
   * Settings the app reads at run time, written as `/config.json` at deploy time (values may be deploy-time tokens,
   * such as another construct's URL). When `api` is set, `apiBaseUrl` defaults to the route's prefix (e.g. `/api`).
   * A `config.json` in `source` is replaced.
   *
   * @default - `{ "apiBaseUrl": "<prefix>" }` when `api` is set, otherwise no `config.json` is written
   */
  readonly runtimeConfig?: Record<string, string>;

  /**
   * A custom domain with a certificate and DNS records.
   *
   * @default - the site is served from its `*.cloudfront.net` name
   */
  readonly domain?: SpaDomain;

  /**
   * A path routed to an API (the `StreamingLlmProxy`), uncached and unrewritten, with streaming preserved.
   *
   * @default - every path is served from the bucket
   */
  readonly api?: SpaApiRoute;

  /**
   * A bucket to serve instead of creating one. Its settings are left as they are; for an imported bucket the Origin
   * Access Control bucket policy must be added by its owner.
   *
   * @default - a private, encrypted, versioned bucket with access logs is created
   */
  readonly existingBucket?: s3.IBucket;

  /**
   * Settings merged over the created bucket's defaults (e.g. `encryption: BucketEncryption.KMS` with an
   * `encryptionKey`). Public access, ACLs and S3 website hosting cannot be turned on.
   *
   * @default - the defaults listed in the README
   */
  readonly bucketProps?: s3.BucketProps;

  /**
   * What happens to the created buckets when they leave the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * How long replaced or deleted versions of site files are kept.
   *
   * @default Duration.days(30)
   */
  readonly noncurrentVersionExpiration?: Duration;

  /**
   * Bucket that receives the CloudFront and S3 access logs. It must allow ACL-based log delivery
   * (object ownership `BucketOwnerPreferred` or `ObjectWriter`).
   *
   * @default - a private, encrypted, versioned log bucket is created
   */
  readonly logBucket?: s3.IBucket;

  /**
   * How long access logs are kept in the created log bucket.
   *
   * @default Duration.days(365)
   */
  readonly logRetention?: Duration;

  /**
   * The CloudFront price class (the edge locations used).
   *
   * @default PriceClass.PRICE_CLASS_100 (North America and Europe)
   */
  readonly priceClass?: cloudfront.PriceClass;

  /**
   * The minimum TLS version viewers may use with the custom domain (the `*.cloudfront.net` name always allows TLSv1,
   * so without `domain` there is nothing to set: leave this unset, or CloudFront's construct warns that it is ignored).
   *
   * @default SecurityPolicyProtocol.TLS_V1_2_2021 when `domain` is set
   */
  readonly minimumProtocolVersion?: cloudfront.SecurityPolicyProtocol;

  /**
   * The ARN of an AWS WAFv2 web ACL with scope CLOUDFRONT (created in us-east-1) to protect the distribution.
   * If the ACL uses the AWS managed core rule set, set its `SizeRestrictions_BODY` rule to count: chat requests
   * routed through `api` are often larger than its 8 KB limit.
   *
   * @default - see `webAcl`
   */
  readonly webAclArn?: string;

  /**
   * The CLOUDFRONT-scope web ACL of the distribution: `ProxyWebAcl.managed()` (created in this stack, which must then be
   * in us-east-1), `ProxyWebAcl.fromArn()` or `ProxyWebAcl.none()`. It sees the viewers' own IP addresses, so its
   * per-IP rate rule and IP reputation work per user (a regional ACL behind CloudFront sees CloudFront's addresses).
   * Not together with `webAclArn`.
   *
   * @default - ProxyWebAcl.managed() when `api` is set, otherwise no web ACL
   */
  readonly webAcl?: ProxyWebAcl;

  /**
   * Countries the site is served to or withheld from.
   *
   * @default - served worldwide
   */
  readonly geoRestriction?: cloudfront.GeoRestriction;

  /**
   * The Content-Security-Policy header of every response.
   *
   * @default "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; upgrade-insecure-requests"
   */
  readonly contentSecurityPolicy?: string;

  /**
   * A response headers policy to use instead of the one created (then `contentSecurityPolicy` must not be set).
   *
   * @default - a policy with HSTS (2 years, subdomains), the content security policy, nosniff, `X-Frame-Options: DENY`,
   * `Referrer-Policy: strict-origin-when-cross-origin` and `Cross-Origin-Opener-Policy: same-origin`
   */
  readonly responseHeadersPolicy?: cloudfront.IResponseHeadersPolicy;

  /**
   * The app shell served for client-side routes.
   *
   * @default 'index.html'
   */
  readonly indexDocument?: string;

  /**
   * Path prefixes (each `/<prefix>/`) under which paths without a file extension are served as they are instead of the
   * app shell. The `api` prefix is always included.
   *
   * @default ['/.well-known/']
   */
  readonly passthroughPrefixes?: string[];

  /**
   * A comment on the distribution.
   *
   * @default - the construct path
   */
  readonly comment?: string;
}

/**
 * A single-page app on a private S3 bucket behind CloudFront (Origin Access Control), with SPA routing in a CloudFront
 * Function, security headers, access logs, an optional custom domain, optional deployment of built files and a runtime
 * `config.json`, and an optional streaming API route (e.g. to a `StreamingLlmProxy`).
 */
export class SpaFrontend extends Construct {
  /** The URL of the site (`https://` plus the custom domain, or the distribution's domain name). */
  public readonly url: string;
  /** The CloudFront distribution. */
  public readonly distribution: cloudfront.Distribution;
  /** The bucket the site is served from. */
  public readonly bucket: s3.IBucket;
  /** The bucket that receives the access logs. */
  public readonly logBucket: s3.IBucket;
  /** The viewer-request CloudFront Function that does the SPA routing. */
  public readonly routerFunction: cloudfront.Function;
  /** The response headers policy of every behaviour. */
  public readonly responseHeadersPolicy: cloudfront.IResponseHeadersPolicy;
  /** The certificate of the custom domain, when one is set. */
  public readonly certificate?: acm.ICertificate;
  /** The deployment that finishes last (HTML or `config.json`), when files are deployed; depend on it to wait for the site. */
  public readonly deployment?: s3deploy.BucketDeployment;
  /** The path pattern routed to the API, when one is set. */
  public readonly apiPathPattern?: string;
  /**
   * The API route's viewer-request CloudFront Function, when `api` is set: it sets `x-forwarded-host` to the viewer's
   * Host, so URLs the API returns (a batch's `results_url`) point at the site, not at the origin.
   */
  public readonly apiForwardedHostFunction?: cloudfront.Function;

  constructor(scope: Construct, id: string, props: SpaFrontendProps = {}) {
    super(scope, id);
    validateProps(props);

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.logBucket = props.logBucket ?? this.createLogBucket(props, removalPolicy);
    this.bucket = props.existingBucket ?? this.createBucket(props, removalPolicy);

    const apiPrefix = props.api ? apiPrefixOf(props.api.pathPattern ?? '/api/*') : undefined;
    this.apiPathPattern = apiPrefix ? `${apiPrefix}/*` : undefined;

    this.routerFunction = new cloudfront.Function(this, 'Router', {
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      comment: 'SPA routing: paths without a file extension are served the app shell',
      code: cloudfront.FunctionCode.fromInline(routerCode({
        indexDocument: `/${props.indexDocument ?? 'index.html'}`,
        passthroughPrefixes: [
          ...(props.passthroughPrefixes ?? ['/.well-known/']),
          ...(apiPrefix ? [`${apiPrefix}/`] : []),
        ],
      })),
    });

    this.responseHeadersPolicy = props.responseHeadersPolicy ?? new cloudfront.ResponseHeadersPolicy(this, 'Headers', {
      // CloudFront names are account-wide; the region keeps two deployments of one stack apart.
      responseHeadersPolicyName: `${Names.uniqueResourceName(this, { maxLength: 100 })}-${Aws.REGION}`,
      comment: 'Security headers of the SPA and its API route',
      securityHeadersBehavior: {
        strictTransportSecurity: { accessControlMaxAge: Duration.days(730), includeSubdomains: true, override: true },
        contentSecurityPolicy: { contentSecurityPolicy: props.contentSecurityPolicy ?? DEFAULT_CONTENT_SECURITY_POLICY, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: true },
      },
      customHeadersBehavior: {
        customHeaders: [{ header: 'Cross-Origin-Opener-Policy', value: 'same-origin', override: true }],
      },
    });

    const domainNames = props.domain ? [props.domain.domainName, ...(props.domain.alternateNames ?? [])] : undefined;
    this.certificate = props.domain ? this.resolveCertificate(props.domain) : undefined;

    const additionalBehaviors: Record<string, cloudfront.BehaviorOptions> = {};
    let apiSigned = false;
    if (props.api && this.apiPathPattern) {
      const api = apiOrigin(props.api);
      apiSigned = api.signed;
      this.apiForwardedHostFunction = forwardedHostFunction(this, 'ApiForwardedHost');
      if (api.signed) {
        Annotations.of(this).addWarningV2('cdk-serverless-llm:spaFrontendSignedApi',
          'api.proxy uses a function URL with AWS_IAM auth, so CloudFront signs requests to it with Origin Access Control: the API ' +
          'then sees only CloudFront\'s identity and anyone who can load the site can call it (attach a web ACL or your own auth), ' +
          'and clients must send x-amz-content-sha256 with every POST body. Use API-key or JWT auth on the proxy for per-user access.');
      }
      additionalBehaviors[this.apiPathPattern] = {
        origin: api.origin,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        responseHeadersPolicy: this.responseHeadersPolicy,
        // The origin gets its own Host; the viewer's goes as x-forwarded-host, for the URLs the API returns. A behaviour
        // has one viewer-request function, so this route has its own (the router stays on the default behaviour).
        functionAssociations: [{ function: this.apiForwardedHostFunction, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
        // Compression would buffer the event stream; the API compresses nothing either.
        compress: false,
      };
    }

    const webAclArn = this.resolveWebAcl(props);
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: props.comment ?? `SPA ${this.node.path}`.slice(0, 128),
      defaultRootObject: props.indexDocument ?? 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket, {
          // LIST lets S3 answer 404 (instead of 403) for a missing file; the router never sends an empty key.
          originAccessLevels: [cloudfront.AccessLevel.READ, cloudfront.AccessLevel.LIST],
        }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
        cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.responseHeadersPolicy,
        compress: true,
        functionAssociations: [{ function: this.routerFunction, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors,
      domainNames,
      certificate: this.certificate,
      // The viewer TLS policy applies to a custom domain's certificate only (the *.cloudfront.net one has its own), so
      // it is set only with `domain`; an explicit `minimumProtocolVersion` without one gets CloudFront's own warning.
      minimumProtocolVersion: this.certificate
        ? props.minimumProtocolVersion ?? cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021
        : props.minimumProtocolVersion,
      sslSupportMethod: this.certificate ? cloudfront.SSLMethod.SNI : undefined,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableIpv6: true,
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
      webAclId: webAclArn,
      geoRestriction: props.geoRestriction,
    });
    this.acknowledgeDistributionFindings(props, webAclArn);
    // LIST (404 instead of 403 for a missing file) with a default root object and a router that never asks for the
    // bucket root: the listing risk the warning describes cannot arise.
    Annotations.of(this.distribution).acknowledgeWarning('@aws-cdk/aws-cloudfront-origins:listBucketSecurityRisk',
      'defaultRootObject is set and the viewer-request router never forwards an empty key, so the bucket listing is unreachable');
    if (apiSigned) this.allowCloudFrontToInvoke(props.api!.proxy!.functionUrl!);

    if (props.domain?.hostedZone) {
      const target = route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(this.distribution));
      domainNames!.forEach((name, i) => {
        const suffix = i === 0 ? '' : `${i}`;
        new route53.ARecord(this, `AliasRecord${suffix}`, { zone: props.domain!.hostedZone!, recordName: name, target });
        new route53.AaaaRecord(this, `AliasRecordIpv6${suffix}`, { zone: props.domain!.hostedZone!, recordName: name, target });
      });
    }

    this.url = `https://${props.domain ? props.domain.domainName : this.distribution.distributionDomainName}`;

    const runtimeConfig = apiPrefix || props.runtimeConfig
      ? {
        ...(apiPrefix ? { apiBaseUrl: apiPrefix } : {}),
        ...(apiSigned ? { apiPayloadSigning: 'sha256' } : {}),
        ...(props.runtimeConfig ?? {}),
      }
      : undefined;
    this.deployment = this.deploy(props, runtimeConfig);
  }

  /**
   * Grants what a CI job needs to publish the site by hand (`aws s3 sync --delete`, then
   * `aws cloudfront create-invalidation` and `wait invalidation-completed`): read, write and delete files in the bucket
   * (and use its KMS key), and create and read invalidations of this distribution only.
   */
  public grantDeploy(grantee: iam.IGrantable): iam.Grant {
    this.bucket.grantReadWrite(grantee);
    this.bucket.grantDelete(grantee);
    return this.distribution.grant(grantee, 'cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation');
  }

  /**
   * Besides the `lambda:InvokeFunctionUrl` permission that the OAC origin adds, Lambda requires `lambda:InvokeFunction`
   * for CloudFront (OAC) to call an AWS_IAM function URL: both on the alias the URL belongs to, only from this distribution.
   */
  private allowCloudFrontToInvoke(functionUrl: lambda.FunctionUrl): void {
    new lambda.CfnPermission(this, 'ApiInvokeFunctionPermission', {
      principal: 'cloudfront.amazonaws.com',
      action: 'lambda:InvokeFunction',
      functionName: functionUrl.functionArn,
      sourceArn: this.distribution.distributionArn,
    });
  }

  private createLogBucket(props: SpaFrontendProps, removalPolicy: RemovalPolicy): s3.Bucket {
    const bucket = new s3.Bucket(this, 'LogBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // CloudFront standard logging writes through an ACL grant to the awslogsdelivery account.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      // CloudFront cannot deliver logs to a bucket encrypted with SSE-KMS.
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      removalPolicy,
      lifecycleRules: [{
        id: 'expire-logs',
        expiration: props.logRetention ?? Duration.days(365),
        noncurrentVersionExpiration: Duration.days(1),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      }],
    });
    acknowledgeNag(bucket,
      {
        id: 'AwsSolutions-S1',
        reason: 'This bucket is the destination of the site\'s CloudFront and S3 access logs; logging it into itself would log every log delivery.',
      },
      {
        id: 'NIST.800.53.R5-S3BucketLoggingEnabled',
        reason: 'This bucket is the destination of the site\'s CloudFront and S3 access logs; logging it into itself would log every log delivery.',
      },
      {
        id: 'HIPAA.Security-S3BucketLoggingEnabled',
        reason: 'This bucket is the destination of the site\'s CloudFront and S3 access logs; logging it into itself would log every log delivery.',
      },
      {
        id: 'NIST.800.53.R5-S3DefaultEncryptionKMS',
        reason: 'CloudFront standard logging cannot deliver to a bucket encrypted with SSE-KMS; the logs are encrypted with SSE-S3.',
      },
      {
        id: 'HIPAA.Security-S3DefaultEncryptionKMS',
        reason: 'CloudFront standard logging cannot deliver to a bucket encrypted with SSE-KMS; the logs are encrypted with SSE-S3.',
      },
      {
        id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
        reason: 'Access logs are kept for the configured retention in one region; replicating them is left to an organisation-wide log archive.',
      },
      {
        id: 'HIPAA.Security-S3BucketReplicationEnabled',
        reason: 'Access logs are kept for the configured retention in one region; replicating them is left to an organisation-wide log archive.',
      },
    );
    return bucket;
  }

  private createBucket(props: SpaFrontendProps, removalPolicy: RemovalPolicy): s3.Bucket {
    const bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 's3-access/',
      removalPolicy,
      lifecycleRules: [{
        id: 'expire-noncurrent-versions',
        noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(30),
        abortIncompleteMultipartUploadAfter: Duration.days(7),
      }],
      ...props.bucketProps,
    });
    if (!bucket.encryptionKey) {
      const reason = 'The bucket holds the public files of a website that CloudFront serves to anyone; SSE-S3 encrypts them at rest ' +
        'and a KMS key would add a decrypt call to every cache miss without protecting anything. Pass bucketProps with a KMS key to use one.';
      acknowledgeNag(bucket,
        { id: 'NIST.800.53.R5-S3DefaultEncryptionKMS', reason },
        { id: 'HIPAA.Security-S3DefaultEncryptionKMS', reason },
      );
    }
    if (!props.bucketProps?.replicationRules) {
      const reason = 'The bucket holds build output that is redeployed from source by the pipeline; versioning covers accidental ' +
        'overwrites and cross-region replication would add a second copy with nothing to restore that the build cannot.';
      acknowledgeNag(bucket,
        { id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason },
        { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason },
      );
    }
    return bucket;
  }

  private resolveCertificate(domain: SpaDomain): acm.ICertificate {
    if (domain.certificate) {
      const region = certificateRegion(domain.certificate);
      if (region !== undefined && region !== CLOUDFRONT_REGION) {
        throw new Error(
          `SpaFrontend ${this.node.path}: domain.certificate is in ${region}, but CloudFront only accepts certificates from ` +
          `${CLOUDFRONT_REGION}. Create the certificate in a ${CLOUDFRONT_REGION} stack (with crossRegionReferences: true) and pass it as domain.certificate.`,
        );
      }
      return domain.certificate;
    }
    if (!domain.hostedZone) {
      throw new Error(
        `SpaFrontend ${this.node.path}: domain needs a hostedZone (to create and validate a certificate) or a certificate.`,
      );
    }
    const stackRegion = Stack.of(this).region;
    if (!Token.isUnresolved(stackRegion) && stackRegion !== CLOUDFRONT_REGION) {
      throw new Error(
        `SpaFrontend ${this.node.path}: the stack is in ${stackRegion}, so a certificate created here could not be used by CloudFront, ` +
        `which only accepts certificates from ${CLOUDFRONT_REGION}. Create the certificate in a ${CLOUDFRONT_REGION} stack ` +
        '(with crossRegionReferences: true) and pass it as domain.certificate, or deploy this stack to us-east-1.',
      );
    }
    if (Token.isUnresolved(stackRegion)) {
      // An environment-agnostic stack: fail the deployment before anything is created if it lands outside us-east-1.
      new CfnRule(this, 'CertificateRegionRule', {
        assertions: [{
          assert: Fn.conditionEquals(Aws.REGION, CLOUDFRONT_REGION),
          assertDescription: `The SpaFrontend certificate for ${domain.domainName} is created in this stack, so it must be deployed to ${CLOUDFRONT_REGION} (CloudFront only accepts certificates from there).`,
        }],
      });
    }
    return new acm.Certificate(this, 'Certificate', {
      domainName: domain.domainName,
      subjectAlternativeNames: domain.alternateNames,
      validation: acm.CertificateValidation.fromDns(domain.hostedZone),
    });
  }

  private deploy(props: SpaFrontendProps, runtimeConfig: Record<string, string> | undefined): s3deploy.BucketDeployment | undefined {
    const common = {
      destinationBucket: this.bucket,
      memoryLimit: props.deploymentMemoryLimit ?? 512,
    };
    const deployments: s3deploy.BucketDeployment[] = [];
    let last: s3deploy.BucketDeployment | undefined;
    if (props.source) {
      const source = s3deploy.Source.asset(props.source);
      const prune = props.prune ?? true;
      const hashed = props.hashedAssetPaths ?? ['assets/*', 'static/*'];
      const shell = runtimeConfig ? ['*.html'] : ['*.html', 'config.json'];
      // Each deployment owns the files its filters select, so pruning in one never deletes another's files.
      const assets = new s3deploy.BucketDeployment(this, 'DeployHashedAssets', {
        ...common,
        sources: [source],
        exclude: ['*'],
        include: hashed,
        prune,
        cacheControl: [s3deploy.CacheControl.fromString(IMMUTABLE_CACHE_CONTROL)],
      });
      const others = new s3deploy.BucketDeployment(this, 'DeployFiles', {
        ...common,
        sources: [source],
        exclude: [...hashed, '*.html', 'config.json'],
        prune,
        cacheControl: [s3deploy.CacheControl.fromString(REVALIDATE_CACHE_CONTROL)],
      });
      // The app shell goes last, so it never references an asset that is not uploaded yet.
      last = new s3deploy.BucketDeployment(this, 'DeployAppShell', {
        ...common,
        sources: [source],
        exclude: ['*'],
        include: shell,
        prune,
        cacheControl: [s3deploy.CacheControl.fromString(NO_CACHE)],
        distribution: this.distribution,
        distributionPaths: ['/*'],
      });
      last.node.addDependency(assets, others);
      deployments.push(assets, others, last);
    }
    if (runtimeConfig) {
      const config = new s3deploy.BucketDeployment(this, 'DeployRuntimeConfig', {
        ...common,
        sources: [s3deploy.Source.jsonData('config.json', runtimeConfig)],
        prune: false,
        cacheControl: [s3deploy.CacheControl.fromString(NO_CACHE)],
        contentType: 'application/json',
        distribution: this.distribution,
        distributionPaths: ['/config.json'],
      });
      if (last) config.node.addDependency(last);
      deployments.push(config);
      last = config;
    }
    if (deployments.length > 0) this.acknowledgeDeploymentFindings(deployments);
    return last;
  }

  /** The ARN of the distribution's web ACL: `webAclArn`, `webAcl`, or a managed one created here when `api` is set. */
  private resolveWebAcl(props: SpaFrontendProps): string | undefined {
    if (props.webAclArn && props.webAcl) {
      throw new Error('SpaFrontend takes webAclArn or webAcl, not both: pass an existing ACL as webAcl: ProxyWebAcl.fromArn(arn), or use webAclArn alone.');
    }
    if (props.webAclArn) return props.webAclArn;
    const webAcl = props.webAcl ?? (props.api ? ProxyWebAcl.managed() : undefined);
    if (!webAcl) return undefined;
    if (webAcl._creates) {
      const stackRegion = Stack.of(this).region;
      if (!Token.isUnresolved(stackRegion) && stackRegion !== CLOUDFRONT_REGION) {
        throw new Error(
          `SpaFrontend webAcl: a CLOUDFRONT-scope web ACL must be created in ${CLOUDFRONT_REGION}, but this stack is in ${stackRegion}` +
          (props.webAcl ? '' : ' (with `api` set the site gets one by default)') + '. Create it in a us-east-1 stack and pass ' +
          'webAcl: ProxyWebAcl.fromArn(arn) (or webAclArn), opt out with webAcl: ProxyWebAcl.none(), or deploy this stack to us-east-1.',
        );
      }
      if (Token.isUnresolved(stackRegion)) {
        // An environment-agnostic stack: fail the deployment before anything is created if it lands outside us-east-1.
        new CfnRule(this, 'WebAclRegionRule', {
          assertions: [{
            assert: Fn.conditionEquals(Aws.REGION, CLOUDFRONT_REGION),
            assertDescription: `The SpaFrontend web ACL (webAcl) is created in this stack, so it must be deployed to ${CLOUDFRONT_REGION} (CLOUDFRONT-scope web ACLs live there); or pass webAcl: ProxyWebAcl.fromArn(arn).`,
          }],
        });
      }
    }
    const arn = webAcl._bind(this, 'WebAcl', { wafScope: 'CLOUDFRONT', logRetention: logs.RetentionDays.ONE_YEAR, propName: 'SpaFrontend webAcl' });
    const wafLogs = this.node.tryFindChild('WebAcl')?.node.tryFindChild('Logs');
    if (wafLogs) {
      const reason = 'WAF logs of the site are encrypted with CloudWatch Logs\' service-managed key; they hold request metadata with the ' +
        'authorization, x-api-key and x-origin-verify headers redacted. Pass webAcl: ProxyWebAcl.fromArn() for an ACL whose logs use your key.';
      acknowledgeNag(wafLogs,
        { id: 'NIST.800.53.R5-CloudWatchLogGroupEncrypted', reason },
        { id: 'HIPAA.Security-CloudWatchLogGroupEncrypted', reason },
      );
    }
    return arn;
  }

  private acknowledgeDistributionFindings(props: SpaFrontendProps, webAclArn: string | undefined): void {
    if (!props.domain) {
      acknowledgeNag(this.distribution, {
        id: 'AwsSolutions-CFR4',
        reason: 'Without a custom domain the distribution is reached through its *.cloudfront.net name, whose certificate and TLS policy ' +
          'CloudFront fixes; the minimum protocol TLSv1.2_2021 applies as soon as a domain is set.',
      });
    }
    if (!props.geoRestriction) {
      acknowledgeNag(this.distribution, {
        id: 'AwsSolutions-CFR1',
        reason: 'The site is a public web app meant to be reachable worldwide; geoRestriction limits it when a deployment needs that.',
      });
    }
    if (!webAclArn && !props.api) {
      acknowledgeNag(this.distribution, {
        id: 'AwsSolutions-CFR2',
        reason: 'The site serves only static files (no `api` route); a CLOUDFRONT-scoped web ACL lives in us-east-1 and is usually ' +
          'shared across an organisation, and is attached with webAcl or webAclArn.',
      });
    }
  }

  /**
   * The copy function is the stack-wide singleton of aws-s3-deployment (its role is its child); its findings are
   * acknowledged on it, naming the exact buckets this site's deployments read and write.
   */
  private acknowledgeDeploymentFindings(deployments: s3deploy.BucketDeployment[]): void {
    const handler = deployments[0].handlerRole.node.scope;
    if (!(handler instanceof lambda.Function)) return;
    const what = 'The BucketDeployment copy function of aws-cdk-lib (a custom resource CloudFormation runs while deploying the site)';
    const dlq = `${what} is invoked synchronously by CloudFormation, which reports its failures; a dead-letter queue would never receive anything.`;
    const concurrency = `${what} runs only during stack updates; reserving concurrency for it would take capacity from the account for nothing.`;
    const vpc = `${what} talks only to S3 and CloudFront on their public AWS endpoints; a VPC would need NAT or endpoints and protect no data.`;
    const runtime = `${what} runs on the runtime aws-cdk-lib pins for its bundled AWS CLI; the library cannot choose it.`;
    const inline = `${what} carries the least-privilege default policy that aws-cdk-lib generates from its bucket and distribution grants.`;
    const acks = [
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: `${what} writes its logs with the AWS managed basic execution policy, which grants CloudWatch Logs writes only.`,
      },
      { id: 'AwsSolutions-IAM5[Action::s3:GetObject*]', reason: `${what} reads the uploaded build files with the object read actions of the bucket grant.` },
      { id: 'AwsSolutions-IAM5[Action::s3:GetBucket*]', reason: `${what} reads bucket metadata of the asset and site buckets with the bucket read grant.` },
      { id: 'AwsSolutions-IAM5[Action::s3:List*]', reason: `${what} lists the site bucket to find files that are no longer in the source (prune).` },
      { id: 'AwsSolutions-IAM5[Action::s3:DeleteObject*]', reason: `${what} deletes files of the site bucket that are no longer in the source (prune).` },
      { id: 'AwsSolutions-IAM5[Action::s3:Abort*]', reason: `${what} aborts its own failed multipart uploads to the site bucket.` },
      {
        id: `AwsSolutions-IAM5[Resource::${nagResourceText(this, this.bucket.arnForObjects('*'))}]`,
        reason: `${what} writes every file of the site, so it needs all object keys of the site bucket.`,
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: `${what} creates the CloudFront invalidation after each deployment; cloudfront:CreateInvalidation is granted on * by aws-cdk-lib.`,
      },
      { id: 'AwsSolutions-L1', reason: runtime },
      { id: 'Serverless-LambdaLatestVersion', reason: runtime },
      { id: 'Serverless-LambdaTracing', reason: `${what} runs a few times per deployment and aws-cdk-lib offers no way to turn on X-Ray tracing for it.` },
      { id: 'Serverless-LambdaDLQ', reason: dlq },
      { id: 'NIST.800.53.R5-LambdaDLQ', reason: dlq },
      { id: 'HIPAA.Security-LambdaDLQ', reason: dlq },
      { id: 'NIST.800.53.R5-LambdaConcurrency', reason: concurrency },
      { id: 'HIPAA.Security-LambdaConcurrency', reason: concurrency },
      { id: 'NIST.800.53.R5-LambdaInsideVPC', reason: vpc },
      { id: 'HIPAA.Security-LambdaInsideVPC', reason: vpc },
      { id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: inline },
      { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: inline },
    ];
    if (this.bucket.encryptionKey) {
      const kms = `${what} encrypts the files it writes with the site bucket's KMS key; the key grant of aws-cdk-lib names only that key.`;
      acks.push(
        { id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', reason: kms },
        { id: 'AwsSolutions-IAM5[Action::kms:ReEncrypt*]', reason: kms },
      );
    }
    // The uploaded build files and config.json sit in the CDK asset bucket under content-hash keys.
    const assetBuckets = new Set<string>();
    for (const deployment of deployments) {
      for (const child of deployment.node.children) {
        if (child instanceof s3assets.Asset) assetBuckets.add(nagResourceText(this, child.bucket.arnForObjects('*')));
      }
    }
    for (const text of assetBuckets) {
      acks.push({
        id: `AwsSolutions-IAM5[Resource::${text}]`,
        reason: `${what} reads the zipped build files from the CDK asset bucket, whose object keys are content hashes.`,
      });
    }
    acknowledgeNag(handler, ...acks);
  }
}

/** The configuration the router function reads (see lambda/spa-router/router.ts). */
interface RouterConfig {
  readonly indexDocument: string;
  readonly passthroughPrefixes: string[];
}

/** The CloudFront Function code: the site's settings followed by the bundled router. */
function routerCode(config: RouterConfig): string {
  return `var SPA_ROUTER_CONFIG = ${JSON.stringify(config)};\n${bundledSource('spa-router')}`;
}

/** `/api/*` -> `/api`; anything else is a synth-time error. */
function apiPrefixOf(pathPattern: string): string {
  const match = /^(\/[A-Za-z0-9._~\-/]*[A-Za-z0-9._~-])\/\*$/.exec(pathPattern);
  if (!match) {
    throw new Error(
      `SpaFrontend api.pathPattern '${pathPattern}' must have the form '/<prefix>/*' (e.g. '/api/*'), so that the route ` +
      'covers one path prefix and the SPA router can leave that prefix alone.',
    );
  }
  return match[1];
}

function validateProps(props: SpaFrontendProps): void {
  if (props.existingBucket && props.bucketProps) {
    throw new Error('SpaFrontend takes existingBucket or bucketProps, not both: bucketProps only apply to a bucket the construct creates.');
  }
  if (props.existingBucket && (props.noncurrentVersionExpiration || props.removalPolicy)) {
    throw new Error('SpaFrontend noncurrentVersionExpiration and removalPolicy apply to the bucket the construct creates; they cannot be used with existingBucket.');
  }
  if (props.logBucket && props.logRetention) {
    throw new Error('SpaFrontend logRetention applies to the log bucket the construct creates; set the lifecycle of your logBucket yourself instead.');
  }
  const bp = props.bucketProps;
  if (bp) {
    if (bp.websiteIndexDocument || bp.websiteErrorDocument || bp.websiteRedirect || bp.websiteRoutingRules) {
      throw new Error(
        'SpaFrontend bucketProps must not turn on S3 website hosting (websiteIndexDocument, websiteErrorDocument, websiteRedirect, websiteRoutingRules): ' +
        'the bucket is private behind Origin Access Control, and SPA routing is done by the CloudFront Function.',
      );
    }
    if (bp.publicReadAccess || bp.blockPublicAccess || bp.accessControl) {
      throw new Error('SpaFrontend bucketProps must not set publicReadAccess, blockPublicAccess or accessControl: the bucket stays private and is read only through CloudFront.');
    }
    if (bp.objectOwnership && bp.objectOwnership !== s3.ObjectOwnership.BUCKET_OWNER_ENFORCED) {
      throw new Error('SpaFrontend bucketProps.objectOwnership must stay BUCKET_OWNER_ENFORCED: ACLs are not used on the site bucket.');
    }
    if (bp.enforceSSL === false) {
      throw new Error('SpaFrontend bucketProps.enforceSSL cannot be false: the bucket policy denies every request that does not use TLS.');
    }
    if (bp.encryption === s3.BucketEncryption.UNENCRYPTED) {
      throw new Error('SpaFrontend bucketProps.encryption cannot be UNENCRYPTED: S3 encrypts every object; use S3_MANAGED or KMS.');
    }
    if (bp.encryption === s3.BucketEncryption.KMS_MANAGED) {
      throw new Error('SpaFrontend bucketProps.encryption cannot be KMS_MANAGED: CloudFront cannot be granted the AWS managed aws/s3 key. Use KMS with an encryptionKey, or S3_MANAGED.');
    }
  }
  if (props.responseHeadersPolicy && props.contentSecurityPolicy) {
    throw new Error('SpaFrontend takes responseHeadersPolicy or contentSecurityPolicy, not both: put the policy into your response headers policy.');
  }
  if (props.api) {
    if (!!props.api.proxy === !!props.api.origin) {
      throw new Error('SpaFrontend api needs exactly one of api.proxy (a StreamingLlmProxy) and api.origin (any other CloudFront origin).');
    }
    const proxy = props.api.proxy;
    if (proxy && proxy.endpointType === ProxyEndpointType.REST_API && proxy.authMode === ProxyAuthMode.IAM) {
      throw new Error(
        'SpaFrontend api.proxy uses ProxyAuth.iam() on a REST API: API Gateway checks SigV4 signatures made for its own host, ' +
        'which browsers behind CloudFront cannot produce. Use ProxyAuth.apiKeys() or ProxyAuth.jwt() for a proxy behind the site.',
      );
    }
    if (props.api.origin && props.api.readTimeout) {
      throw new Error('SpaFrontend api.readTimeout applies to api.proxy; set the read timeout on your api.origin instead.');
    }
  }
  if (props.webAclArn && !Token.isUnresolved(props.webAclArn) && !/^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global\/webacl\/.+/.test(props.webAclArn)) {
    throw new Error(
      `SpaFrontend webAclArn '${props.webAclArn}' is not the ARN of a WAFv2 web ACL with scope CLOUDFRONT ` +
      '(arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>); create the web ACL in us-east-1 with scope CLOUDFRONT.',
    );
  }
  for (const prefix of props.passthroughPrefixes ?? []) {
    if (!/^\/.*\/$/.test(prefix)) {
      throw new Error(`SpaFrontend passthroughPrefixes entry '${prefix}' must start and end with '/', e.g. '/.well-known/'.`);
    }
  }
  if (props.indexDocument !== undefined && (props.indexDocument.startsWith('/') || !/\.[A-Za-z0-9]+$/.test(props.indexDocument))) {
    throw new Error(`SpaFrontend indexDocument '${props.indexDocument}' must be a file name relative to the bucket root, e.g. 'index.html'.`);
  }
  const memory = props.deploymentMemoryLimit;
  if (memory !== undefined && (!Number.isInteger(memory) || memory < 128 || memory > 10240)) {
    throw new Error(`SpaFrontend deploymentMemoryLimit ${memory} must be a whole number of MiB between 128 and 10240.`);
  }
  if (props.deploymentMemoryLimit !== undefined && !props.source && !props.runtimeConfig && !props.api) {
    throw new Error('SpaFrontend deploymentMemoryLimit has no effect without source or runtimeConfig: nothing is deployed.');
  }
}

/** The region of a certificate when it can be known at synth time. */
function certificateRegion(certificate: acm.ICertificate): string | undefined {
  if (!Token.isUnresolved(certificate.certificateArn)) {
    return Arn.split(certificate.certificateArn, ArnFormat.SLASH_RESOURCE_NAME).region;
  }
  // A certificate created by a stack (possibly another one, through a cross-region reference) lives in that stack's region.
  const created = certificate.node.defaultChild instanceof CfnResource;
  const region = Stack.of(certificate).region;
  return created && !Token.isUnresolved(region) ? region : undefined;
}

/** The CloudFront origin of the API route and whether CloudFront signs requests to it. */
function apiOrigin(api: SpaApiRoute): { origin: cloudfront.IOrigin; signed: boolean } {
  if (api.origin) return { origin: api.origin, signed: false };
  const readTimeout = api.readTimeout ?? Duration.seconds(60);
  const backend = api.proxy!;
  if (backend.endpointType === ProxyEndpointType.FUNCTION_URL && backend.functionUrl
    && backend.functionUrl.authType === lambda.FunctionUrlAuthType.AWS_IAM) {
    // CloudFront signs with SigV4; Lambda needs the payload hash, which CloudFront takes from the viewer's
    // x-amz-content-sha256 header. config.json tells the app to send it.
    const options = { readTimeout, keepaliveTimeout: Duration.seconds(60) };
    return { origin: origins.FunctionUrlOrigin.withOriginAccessControl(backend.functionUrl, options), signed: true };
  }
  // The proxy's own origin adds its secret origin header, and the proxy then refuses direct calls to the endpoint.
  return { origin: backend.createCloudFrontOrigin({ readTimeout }), signed: false };
}
