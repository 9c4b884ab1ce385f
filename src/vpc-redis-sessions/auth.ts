import { Duration } from 'aws-cdk-lib';

/** How functions authenticate to a `VpcRedisSessions` cache. */
export enum CacheAuthMode {
  /** ElastiCache IAM authentication through an RBAC user (short-lived SigV4 tokens, no static secret). */
  IAM = 'iam',
  /** An AUTH token in Secrets Manager, rotated by a bundled function. */
  TOKEN = 'token',
}

/** Options for `CacheAuth.iam()`. */
export interface IamCacheAuthOptions {
  /**
   * The ElastiCache user id (and user name: they must be equal for IAM users) the functions connect as. User ids are
   * unique per account and region; set one when two stacks would otherwise derive the same id.
   * @default derived from the construct path, e.g. `sessions-1a2b3c4d-app`
   */
  readonly userId?: string;
}

/** Options for `CacheAuth.token()`. */
export interface TokenCacheAuthOptions {
  /**
   * How often the AUTH token is rotated (ElastiCache ROTATE, then SET once the new token is current).
   * @default Duration.days(30)
   */
  readonly rotateEvery?: Duration;
}

/**
 * How functions authenticate to the cache.
 *
 * @example CacheAuth.iam(), CacheAuth.token({ rotateEvery: Duration.days(7) })
 */
export class CacheAuth {
  /** IAM authentication (the default): an RBAC user with IAM auth; `grantConnect` grants `elasticache:Connect`. */
  public static iam(options: IamCacheAuthOptions = {}): CacheAuth {
    if (options.userId !== undefined && !/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(options.userId)) {
      throw new Error(
        `CacheAuth.iam({ userId: '${options.userId}' }): a user id starts with a lower-case letter and has only lower-case ` +
        'letters, digits and single hyphens (not at the end).',
      );
    }
    if (options.userId !== undefined && options.userId.length > 40) {
      throw new Error(`CacheAuth.iam({ userId }): '${options.userId}' is longer than 40 characters.`);
    }
    return new CacheAuth(CacheAuthMode.IAM, options.userId, undefined);
  }

  /** A generated AUTH token in Secrets Manager with a bundled rotation function; `grantConnect` grants reading it. */
  public static token(options: TokenCacheAuthOptions = {}): CacheAuth {
    const rotateEvery = options.rotateEvery ?? Duration.days(30);
    const days = rotateEvery.toDays({ integral: false });
    if (days < 1 || days > 1000 || !Number.isInteger(days)) {
      throw new Error(`CacheAuth.token({ rotateEvery }): rotation must be a whole number of days between 1 and 1000, got ${rotateEvery.toHumanString()}.`);
    }
    return new CacheAuth(CacheAuthMode.TOKEN, undefined, rotateEvery);
  }

  private constructor(
    /** The authentication mode. */
    public readonly mode: CacheAuthMode,
    /** The IAM user id, when set explicitly. */
    public readonly userId: string | undefined,
    /** The token rotation period (token auth). */
    public readonly rotateEvery: Duration | undefined,
  ) {}
}
