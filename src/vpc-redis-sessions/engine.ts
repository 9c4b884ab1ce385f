/** The cache engines ElastiCache runs with cluster mode disabled. */
export enum CacheEngineName {
  /** Valkey, the open-source fork of Redis OSS (lower price on ElastiCache). */
  VALKEY = 'valkey',
  /** Redis OSS. */
  REDIS = 'redis',
}

/** The majors whose parameter-group families this library knows: engine -> major -> family. */
const FAMILIES: Record<CacheEngineName, Record<string, string>> = {
  [CacheEngineName.VALKEY]: { 7: 'valkey7', 8: 'valkey8' },
  [CacheEngineName.REDIS]: { 6: 'redis6.x', 7: 'redis7' },
};

/**
 * The engine and version of a `VpcRedisSessions` cache.
 *
 * @example CacheEngine.valkey('8.0'), CacheEngine.redis('7.1')
 */
export class CacheEngine {
  /**
   * Valkey (the default engine).
   * @param version major.minor version. @default '8.0'
   */
  public static valkey(version: string = '8.0'): CacheEngine {
    return new CacheEngine(CacheEngineName.VALKEY, version);
  }

  /**
   * Redis OSS.
   * @param version major.minor version. @default '7.1'
   */
  public static redis(version: string = '7.1'): CacheEngine {
    return new CacheEngine(CacheEngineName.REDIS, version);
  }

  /** The parameter-group family of this engine version (e.g. `valkey8`). */
  public readonly parameterGroupFamily: string;

  private constructor(
    /** The engine. */
    public readonly name: CacheEngineName,
    /** The engine version (major.minor). */
    public readonly version: string,
  ) {
    const match = /^(\d+)\.(\d+)$/.exec(version);
    const family = match ? FAMILIES[name][match[1]] : undefined;
    if (!family) {
      const majors = Object.keys(FAMILIES[name]).join(', ');
      throw new Error(
        `CacheEngine.${name}('${version}'): the version must be major.minor with a major of ${majors} (e.g. '${name === CacheEngineName.VALKEY ? '8.0' : '7.1'}').`,
      );
    }
    this.parameterGroupFamily = family;
  }

  /** Whether ElastiCache supports IAM authentication for this engine version (Valkey 7.2+, Redis OSS 7.0+). */
  public get supportsIamAuth(): boolean {
    const [major, minor] = this.version.split('.').map(Number);
    return this.name === CacheEngineName.VALKEY ? major > 7 || (major === 7 && minor >= 2) : major >= 7;
  }
}
