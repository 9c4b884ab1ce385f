/**
 * One Redis connection per function instance, reused across invocations, that never stalls a stream.
 *
 * - TLS in transit (the server name is checked against the certificate), AUTH with an ElastiCache IAM token or a
 *   Secrets Manager token fetched on every (re)connection, so rotated credentials are picked up.
 * - Reconnects in the background with capped exponential backoff and jitter; it never gives up, so a cache that comes
 *   back is used again without a cold start.
 * - Every operation has a short deadline. When the cache is known to be down, operations fail at once instead of
 *   waiting for a connection, and callers decide (fail open or closed); nothing is queued while disconnected.
 * - A reply that says the node can no longer take writes (a failover demoted it) drops the connection, so the next
 *   operation resolves the primary endpoint again.
 */
import { isIP } from 'net';
import { createClient, ErrorReply } from 'redis';
import type { RedisConnectionConfig } from './config';
import { IamTokenSigner } from './iam-token';
import { SecretTokenProvider } from './secret-token';

/** What the connection needs to authenticate: called on every (re)connection. */
export interface RedisCredentials {
  /** Returns the user name (omit for the default user) and password to send with AUTH. */
  readonly get: () => Promise<{ username?: string; password: string }>;
  /** Called when the server rejected the credentials, so a cached value is not offered again. */
  readonly rejected?: () => void;
}

export interface RedisConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** TLS in transit; pass `ca` to trust a private certificate authority (tests). Default: no TLS. */
  readonly tls?: boolean | { readonly ca?: string | Buffer; readonly servername?: string };
  /** How to authenticate; omit for no AUTH. */
  readonly credentials?: RedisCredentials;
  /** Deadline for establishing a connection when none is open (ms). Default 1000. */
  readonly connectTimeoutMs?: number;
  /** Deadline for one operation (a command or a script) once connected (ms). Default 500. */
  readonly commandTimeoutMs?: number;
  /** Longest wait between reconnection attempts (ms). Default 2000. */
  readonly maxReconnectDelayMs?: number;
  /** Consecutive timed-out operations after which the connection is dropped and re-established. Default 3. */
  readonly maxConsecutiveTimeouts?: number;
  /** Told about connection errors (for logging); never told secrets. */
  readonly onError?: (error: Error) => void;
}

/** The cache could not be used: no connection, a timeout, or a node that cannot serve the request. */
export class RedisUnavailableError extends Error {
  public readonly name = 'RedisUnavailableError';
  constructor(message: string, public readonly cause?: unknown) {
    super(message);
  }
}

type Client = ReturnType<typeof newClient>;

function newClient(options: RedisConnectionOptions, onReconnectDelay: (retries: number) => number) {
  const tls = options.tls;
  const tlsOptions = tls === true || typeof tls === 'object'
    ? {
      tls: true as const,
      // SNI carries host names only; for an IP address the certificate is checked against the address itself.
      servername: (typeof tls === 'object' ? tls.servername : undefined) ?? (isIP(options.host) ? undefined : options.host),
      ...(typeof tls === 'object' && tls.ca ? { ca: tls.ca } : {}),
    }
    : { tls: false as const };
  const credentials = options.credentials;
  return createClient({
    RESP: 2,
    socket: {
      host: options.host,
      port: options.port,
      connectTimeout: options.connectTimeoutMs ?? 1000,
      reconnectStrategy: (retries: number) => onReconnectDelay(retries),
      ...tlsOptions,
    },
    ...(credentials
      ? { credentialsProvider: { type: 'async-credentials-provider' as const, credentials: () => credentials.get() } }
      : {}),
    // Nothing waits for a connection: a command issued while disconnected fails at once.
    disableOfflineQueue: true,
    // No CLIENT SETINFO / maintenance handshakes: the ElastiCache user is granted only the commands this code uses.
    disableClientInfo: true,
    maintNotifications: 'disabled',
  });
}

/** Replies that mean "this node cannot serve you now", not "your command is wrong". */
const UNAVAILABLE_REPLY = /^(READONLY|LOADING|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOAUTH|WRONGPASS|BUSY)\b/;

export class RedisConnection {
  private client?: Client;
  /** When the last connection error happened while not connected (cleared on 'ready'). */
  private downSince?: number;
  private consecutiveTimeouts = 0;
  private waiting?: Promise<void>;
  private waitingFor?: Client;
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly maxReconnectDelayMs: number;
  private readonly maxConsecutiveTimeouts: number;

  constructor(private readonly options: RedisConnectionOptions) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 1000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 500;
    this.maxReconnectDelayMs = options.maxReconnectDelayMs ?? 2000;
    this.maxConsecutiveTimeouts = options.maxConsecutiveTimeouts ?? 3;
  }

  /** True while a connection is established and authenticated. */
  get isReady(): boolean {
    return this.client?.isReady ?? false;
  }

  /**
   * Runs `operation` on a ready client within the command deadline. Throws RedisUnavailableError when there is no
   * connection (without waiting when the cache is known to be down), on timeout, and on replies that mean the node
   * cannot serve requests; other error replies are rethrown as they are.
   */
  async run<T>(operation: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.ready();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RedisUnavailableError(`Redis did not answer within ${this.commandTimeoutMs} ms.`)),
        this.commandTimeoutMs,
      );
    });
    try {
      const result = await Promise.race([operation(client), deadline]);
      this.consecutiveTimeouts = 0;
      return result;
    } catch (error) {
      if (error instanceof RedisUnavailableError) {
        this.consecutiveTimeouts += 1;
        if (this.consecutiveTimeouts >= this.maxConsecutiveTimeouts) {
          // A connection that stopped answering (a black-holed node) is not coming back: start over.
          this.consecutiveTimeouts = 0;
          this.drop(client);
        }
        throw error;
      }
      if (error instanceof ErrorReply) {
        if (UNAVAILABLE_REPLY.test(error.message)) {
          if (/^(NOAUTH|WRONGPASS)/.test(error.message)) this.options.credentials?.rejected?.();
          // A demoted or loading node: reconnect, which resolves the primary endpoint again.
          this.drop(client);
          throw new RedisUnavailableError(`Redis cannot serve the request now: ${error.message.split(' ')[0]}.`, error);
        }
        throw error;
      }
      throw new RedisUnavailableError(`Redis is unavailable: ${(error as Error).message}`, error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection (tests and shutdown hooks); a later `run` connects again. */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.downSince = undefined;
    if (!client) return;
    try {
      if (client.isReady) await client.close();
      else client.destroy();
    } catch {
      client.destroy();
    }
  }

  private reconnectDelay(retries: number): number {
    const backoff = Math.min(50 * 2 ** Math.min(retries, 16), this.maxReconnectDelayMs);
    return backoff + Math.floor(Math.random() * Math.min(100, backoff));
  }

  private drop(client: Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.downSince = Date.now();
    try {
      client.destroy();
    } catch {
      // already closed
    }
  }

  private start(): Client {
    const client = newClient(this.options, (retries) => this.reconnectDelay(retries));
    client.on('error', (error: Error) => {
      // Without a listener an 'error' event would crash the function.
      if (this.client === client && !client.isReady) this.downSince = Date.now();
      if (error instanceof ErrorReply && /^(WRONGPASS|NOAUTH)/.test(error.message)) this.options.credentials?.rejected?.();
      this.options.onError?.(error);
    });
    client.on('ready', () => {
      if (this.client === client) this.downSince = undefined;
    });
    this.client = client;
    client.connect().catch((error: unknown) => {
      // Only reached when the client is closed while connecting; the next run() starts a new client.
      if (this.client === client) {
        this.client = undefined;
        this.downSince = Date.now();
      }
      this.options.onError?.(error as Error);
    });
    return client;
  }

  private async ready(): Promise<Client> {
    let client = this.client;
    if (client?.isReady) return client;
    // No client yet, or one that closed itself: start (again).
    if (!client || !client.isOpen) client = this.start();
    // Known to be down recently: do not make the caller wait; the background reconnection keeps trying.
    // (After a long freeze of the function the record is stale, and a fresh attempt is worth waiting for.)
    if (this.downSince !== undefined && Date.now() - this.downSince < 2 * this.maxReconnectDelayMs) {
      throw new RedisUnavailableError('Redis is unreachable (reconnecting in the background).');
    }
    const pending = client;
    // Every caller waiting for this connection shares one wait (one pair of listeners). (Not ready here, see above.)
    if (this.waitingFor !== pending) this.waiting = undefined;
    this.waitingFor = pending;
    this.waiting ??= new Promise<void>((resolve, reject) => {
      const onReady = () => {
        cleanup();
        resolve();
      };
      const onError = (error: Error) => {
        cleanup();
        reject(new RedisUnavailableError(`Could not connect to Redis: ${error.message}`, error));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new RedisUnavailableError(`Could not connect to Redis within ${this.connectTimeoutMs} ms.`));
      }, this.connectTimeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        pending.off('ready', onReady);
        pending.off('error', onError);
        this.waiting = undefined;
      };
      pending.on('ready', onReady);
      // The first failed attempt answers the callers; reconnection goes on in the background.
      pending.on('error', onError);
    });
    await this.waiting;
    return pending;
  }
}

/** The credentials for a connection configured by REDIS_* variables. */
export function credentialsFor(config: RedisConnectionConfig): RedisCredentials | undefined {
  const auth = config.auth;
  switch (auth.mode) {
    case 'iam': {
      const signer = new IamTokenSigner({ userId: auth.userId, cacheName: auth.cacheName, region: auth.region });
      return { get: async () => ({ username: auth.userId, password: await signer.token() }), rejected: () => signer.invalidate() };
    }
    case 'token': {
      const secret = new SecretTokenProvider(auth.secretArn);
      // Token auth on ElastiCache authenticates the default user: AUTH <token>.
      return { get: async () => ({ password: await secret.token() }), rejected: () => secret.invalidate() };
    }
    case 'none':
      return undefined;
  }
}

/** A connection for a REDIS_* configuration (see config.ts). */
export function connectionFromConfig(
  config: RedisConnectionConfig,
  options: Omit<RedisConnectionOptions, 'host' | 'port' | 'tls' | 'credentials'> = {},
): RedisConnection {
  return new RedisConnection({
    ...options,
    host: config.host,
    port: config.port,
    tls: config.tls,
    credentials: credentialsFor(config),
  });
}
