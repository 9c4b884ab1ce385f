/**
 * A real `redis-server` (the Debian package) for runtime tests: a random loopback port, TLS with a throwaway CA when
 * this build supports it, ACL users, and optional append-only persistence so a test can stop and restart the server.
 *
 * Nothing is skipped silently: `REDIS_TLS_SUPPORTED` says whether this build has TLS, and tests put the transport
 * they really used (`describeTransport()`) in their names.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/** An ACL user to create on the server. */
export interface AclUser {
  readonly name: string;
  readonly password: string;
  /** ACL rules after `on >password`, e.g. `~llm:* -@all +get +set`. */
  readonly rules: string;
}

export interface RedisServerOptions {
  /** Serve TLS only (no plaintext port). Default: true when this build supports TLS. */
  readonly tls?: boolean;
  /** ACL users besides `admin` (password `adminPassword`, all keys and commands, used by `cli()`). */
  readonly users?: readonly AclUser[];
  /**
   * The `default` user's password (full access): what ElastiCache token auth (AUTH <token>) is.
   * Default: a random password no client knows, as in an ElastiCache user group where only named users may connect.
   */
  readonly defaultUserToken?: string;
  /** Append-only file with fsync on every write, so committed writes survive a stop (even SIGKILL). Default false. */
  readonly persistent?: boolean;
}

function detectTlsSupport(): boolean {
  // A TLS build fails on the missing certificate; a build without TLS rejects the directive itself.
  const result = spawnSync(REDIS_SERVER, ['--port', '0', '--tls-port', '1', '--tls-cert-file', '/nonexistent/cert.pem', '--save', ''], {
    encoding: 'utf8',
    timeout: 5000,
  });
  if (result.error) throw new Error(`Cannot run ${REDIS_SERVER}: ${result.error.message}. Install the Debian redis-server package.`);
  const output = `${result.stdout}${result.stderr}`;
  if (/Bad directive|wrong number of arguments/i.test(output)) return false;
  if (/configure TLS|tls-key-file/i.test(output)) return true;
  throw new Error(`Cannot tell whether ${REDIS_SERVER} supports TLS from its output:\n${output}`);
}

/** Whether this redis-server build supports TLS (checked once). */
export const REDIS_TLS_SUPPORTED: boolean = detectTlsSupport();

/** The redis-server version string, e.g. `7.0.15`. */
export const REDIS_SERVER_VERSION: string = /v=([\d.]+)/.exec(execFileSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';

/** Words for test names: which transport and auth the tests really use. */
export function describeTransport(tls: boolean = REDIS_TLS_SUPPORTED): string {
  return tls
    ? `over TLS with an ACL user (redis-server ${REDIS_SERVER_VERSION})`
    : `WITHOUT TLS because this redis-server ${REDIS_SERVER_VERSION} build lacks it, with an ACL user`;
}

interface Certificates {
  readonly dir: string;
  readonly ca: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

let certificates: Certificates | undefined;

/** A throwaway CA and a server certificate for `localhost` / 127.0.0.1, made with openssl once per test process. */
function testCertificates(): Certificates {
  if (certificates) return certificates;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-tls-'));
  const f = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=cdk-serverless-llm test CA',
    '-keyout', f('ca.key'), '-out', f('ca.crt'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key'), '-out', f('server.csr'));
  fs.writeFileSync(f('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1',
    '-extfile', f('server.ext'), '-out', f('server.crt'));
  certificates = { dir, ca: fs.readFileSync(f('ca.crt'), 'utf8'), caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
  return certificates;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export class RedisTestServer {
  /** Starts a server; see RedisServerOptions. */
  static async start(options: RedisServerOptions = {}): Promise<RedisTestServer> {
    const tls = options.tls ?? REDIS_TLS_SUPPORTED;
    if (tls && !REDIS_TLS_SUPPORTED) throw new Error('This redis-server build does not support TLS.');
    const server = new RedisTestServer(tls, options, await freePort());
    await server.launch();
    return server;
  }

  /** Always loopback. */
  public readonly host = '127.0.0.1';
  /** The name on the server certificate (connect with `servername: 'localhost'`). */
  public readonly servername = 'localhost';
  /** The `default` user's password when `defaultUserToken` is not set: random, never given to a client. */
  private readonly unusablePassword = crypto.randomBytes(24).toString('hex');
  /** The password of the `admin` user. */
  public readonly adminPassword = 'admin-password-for-tests-only';
  private readonly dir: string;
  private process?: ChildProcess;
  private exited?: Promise<void>;
  private log = '';

  private constructor(
    public readonly tls: boolean,
    private readonly options: RedisServerOptions,
    public readonly port: number,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-data-'));
  }

  /** The CA certificate to trust (TLS only). */
  get ca(): string | undefined {
    return this.tls ? testCertificates().ca : undefined;
  }

  /** Whether the server process is running. */
  get running(): boolean {
    return this.process !== undefined;
  }

  /** Stops the server: SIGTERM (clean shutdown) or SIGKILL (a crash). */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = undefined;
    child.kill(signal);
    await this.exited;
  }

  /** Starts the server again on the same port with the same data directory. */
  async restart(): Promise<void> {
    if (this.process) throw new Error('The server is running; stop it first.');
    await this.launch();
  }

  /** Runs a command as the admin through redis-cli (over TLS when the server uses it). */
  cli(...args: string[]): string {
    const tlsArgs = this.tls ? ['--tls', '--cacert', testCertificates().caFile, '--sni', this.servername] : [];
    return execFileSync('redis-cli', ['-h', this.host, '-p', String(this.port), ...tlsArgs, '--user', 'admin', '--pass', this.adminPassword,
      '--no-auth-warning', ...args], { encoding: 'utf8' }).trim();
  }

  /** Removes the data directory (after stop()). */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private config(): string {
    const lines = [
      'bind 127.0.0.1',
      `dir ${this.dir}`,
      'save ""',
      'loglevel notice',
      'logfile ""',
      'daemonize no',
      'protected-mode yes',
      // Without a token the default user needs a password nobody has (like a disabled ElastiCache default user). It is
      // not switched off: redis-server 7.0 replays MULTI/EXEC blocks from the append-only file as the default user, and
      // a disabled one makes it drop them on restart.
      `user default on >${this.options.defaultUserToken ?? this.unusablePassword} ~* &* +@all`,
      `user admin on >${this.adminPassword} ~* &* +@all`,
    ];
    for (const user of this.options.users ?? []) lines.push(`user ${user.name} on >${user.password} ${user.rules}`);
    if (this.options.persistent) lines.push('appendonly yes', 'appendfsync always');
    else lines.push('appendonly no');
    if (this.tls) {
      const c = testCertificates();
      lines.push('port 0', `tls-port ${this.port}`, `tls-cert-file ${c.certFile}`, `tls-key-file ${c.keyFile}`,
        `tls-ca-cert-file ${c.caFile}`, 'tls-auth-clients no');
    } else {
      lines.push(`port ${this.port}`);
    }
    return lines.join('\n') + '\n';
  }

  private async launch(): Promise<void> {
    const configFile = path.join(this.dir, 'redis.conf');
    fs.writeFileSync(configFile, this.config());
    this.log = '';
    const child = spawn(REDIS_SERVER, [configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`redis-server did not start within 10 s:\n${this.log}`));
      }, 10_000);
      const onData = (chunk: Buffer) => {
        this.log += chunk.toString();
        if (/Ready to accept connections/.test(this.log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (this.process === child) this.process = undefined;
        reject(new Error(`redis-server exited with code ${code} while starting:\n${this.log}`));
      });
    });
  }
}

/** The `tls` option for lambda/shared/redis connections to this server (false without TLS). */
export function clientTls(server: RedisTestServer): false | { ca: string; servername: string } {
  return server.tls ? { ca: server.ca!, servername: server.servername } : false;
}

// --- Loopback doubles of the two AWS APIs the Redis pieces call, served over HTTP for the real SDK clients ----------

/** A started loopback HTTP server; `url` is what an SDK client takes as `endpoint`. */
abstract class LoopbackApi {
  public url = '';
  /** Every call, as `<Action>` (plus a detail the test cares about). */
  public readonly calls: string[] = [];
  private server?: http.Server;

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.handle(req, Buffer.concat(chunks).toString('utf8'))
          .then(({ status, headers, body }) => {
            res.writeHead(status, headers);
            res.end(body);
          })
          .catch((error: Error) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(error.message);
          });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as net.AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  protected abstract handle(req: http.IncomingMessage, body: string): Promise<{ status: number; headers: Record<string, string>; body: string }>;
}

interface SecretVersion {
  secretString?: string;
  stages: string[];
}

/**
 * Secrets Manager (awsJson1_1): GetSecretValue, DescribeSecret, GetRandomPassword, PutSecretValue and
 * UpdateSecretVersionStage over one secret, with the staging-label moves the service makes.
 */
export class FakeSecretsManager extends LoopbackApi {
  public readonly arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:redis-token-AbCdEf';
  public readonly versions = new Map<string, SecretVersion>();

  constructor(initialSecretString: string) {
    super();
    this.versions.set('v-initial', { secretString: initialSecretString, stages: ['AWSCURRENT'] });
  }

  /** What RotateSecret does before invoking the rotation function: a new version id labelled AWSPENDING. */
  beginRotation(versionId: string): void {
    for (const v of this.versions.values()) v.stages = v.stages.filter((s) => s !== 'AWSPENDING');
    this.versions.set(versionId, { stages: ['AWSPENDING'] });
  }

  /** The version labelled `stage`. */
  versionWith(stage: string): [string, SecretVersion] | undefined {
    return [...this.versions.entries()].find(([, v]) => v.stages.includes(stage));
  }

  protected async handle(req: http.IncomingMessage, body: string) {
    const action = String(req.headers['x-amz-target'] ?? '').replace('secretsmanager.', '');
    const input = JSON.parse(body || '{}') as Record<string, unknown>;
    const ok = (output: unknown) => ({ status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(output) });
    const notFound = (message: string) => ({
      status: 400,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'ResourceNotFoundException' },
      body: JSON.stringify({ __type: 'ResourceNotFoundException', message }),
    });
    if (input.SecretId !== undefined && input.SecretId !== this.arn) return notFound(`Secrets Manager can't find ${String(input.SecretId)}.`);
    this.calls.push(action);
    switch (action) {
      case 'GetSecretValue': {
        const versionId = input.VersionId as string | undefined;
        const stage = (input.VersionStage as string | undefined) ?? (versionId ? undefined : 'AWSCURRENT');
        const entry = versionId ? [versionId, this.versions.get(versionId)] as const : this.versionWith(stage!);
        const version = entry?.[1];
        if (!version || version.secretString === undefined || (stage && !version.stages.includes(stage))) {
          return notFound("Secrets Manager can't find the specified secret value.");
        }
        return ok({ ARN: this.arn, Name: 'redis-token', VersionId: entry![0], SecretString: version.secretString, VersionStages: version.stages });
      }
      case 'DescribeSecret':
        return ok({
          ARN: this.arn,
          Name: 'redis-token',
          RotationEnabled: true,
          VersionIdsToStages: Object.fromEntries([...this.versions.entries()].map(([id, v]) => [id, v.stages])),
        });
      case 'GetRandomPassword': {
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
        const length = Number(input.PasswordLength ?? 32);
        let password = '';
        for (const byte of crypto.randomBytes(length)) password += alphabet[byte % alphabet.length];
        return ok({ RandomPassword: password });
      }
      case 'PutSecretValue': {
        const versionId = input.ClientRequestToken as string;
        const stages = (input.VersionStages as string[] | undefined) ?? ['AWSCURRENT'];
        for (const v of this.versions.values()) v.stages = v.stages.filter((s) => !stages.includes(s));
        this.versions.set(versionId, { secretString: input.SecretString as string, stages });
        return ok({ ARN: this.arn, Name: 'redis-token', VersionId: versionId, VersionStages: stages });
      }
      case 'UpdateSecretVersionStage': {
        const stage = input.VersionStage as string;
        const from = input.RemoveFromVersionId as string | undefined;
        const to = input.MoveToVersionId as string;
        if (from) {
          const old = this.versions.get(from)!;
          old.stages = old.stages.filter((s) => s !== stage);
          if (stage === 'AWSCURRENT') {
            for (const v of this.versions.values()) v.stages = v.stages.filter((s) => s !== 'AWSPREVIOUS');
            old.stages.push('AWSPREVIOUS');
          }
        }
        const target = this.versions.get(to)!;
        if (!target.stages.includes(stage)) target.stages.push(stage);
        if (stage === 'AWSCURRENT') target.stages = target.stages.filter((s) => s !== 'AWSPENDING');
        return ok({ ARN: this.arn, Name: 'redis-token' });
      }
      default:
        return { status: 400, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify({ __type: 'UnknownOperationException', message: action }) };
    }
  }
}

/**
 * ElastiCache (awsQuery): DescribeReplicationGroups and ModifyReplicationGroup with AuthToken/AuthTokenUpdateStrategy,
 * applied to a real redis-server's `default` user the way ElastiCache applies them (ROTATE: the new token is accepted
 * alongside the old one; SET: only the new one). After each change the group reports `modifying` for
 * `modifyingPolls` describes, and a change while it is not `available` fails like the service does.
 */
export class FakeElastiCache extends LoopbackApi {
  public modifyingPolls = 2;
  private remainingModifying = 0;

  constructor(private readonly redis: RedisTestServer, public readonly replicationGroupId: string) {
    super();
  }

  /** Makes the group report `modifying` for the next `polls` describes (another change in progress). */
  busyFor(polls: number): void {
    this.remainingModifying = polls;
  }

  protected async handle(_req: http.IncomingMessage, body: string) {
    const input = new URLSearchParams(body);
    const action = input.get('Action');
    const xml = (inner: string) => ({
      status: 200,
      headers: { 'content-type': 'text/xml' },
      body: `<${action}Response xmlns="http://elasticache.amazonaws.com/doc/2015-02-02/"><${action}Result>${inner}</${action}Result>` +
        `<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></${action}Response>`,
    });
    const error = (code: string, message: string) => ({
      status: 400,
      headers: { 'content-type': 'text/xml' },
      body: `<ErrorResponse xmlns="http://elasticache.amazonaws.com/doc/2015-02-02/"><Error><Type>Sender</Type><Code>${code}</Code>` +
        `<Message>${message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`,
    });
    if (input.get('ReplicationGroupId') !== this.replicationGroupId) {
      return error('ReplicationGroupNotFoundFault', `ReplicationGroup ${input.get('ReplicationGroupId')} not found.`);
    }
    const group = (status: string) => `<ReplicationGroup><ReplicationGroupId>${this.replicationGroupId}</ReplicationGroupId><Status>${status}</Status>` +
      '<TransitEncryptionEnabled>true</TransitEncryptionEnabled><AuthTokenEnabled>true</AuthTokenEnabled></ReplicationGroup>';
    switch (action) {
      case 'DescribeReplicationGroups': {
        const status = this.remainingModifying > 0 ? 'modifying' : 'available';
        if (this.remainingModifying > 0) this.remainingModifying -= 1;
        this.calls.push(`DescribeReplicationGroups:${status}`);
        return xml(`<ReplicationGroups>${group(status)}</ReplicationGroups>`);
      }
      case 'ModifyReplicationGroup': {
        const strategy = input.get('AuthTokenUpdateStrategy');
        const token = input.get('AuthToken') ?? '';
        if (this.remainingModifying > 0) {
          this.calls.push(`ModifyReplicationGroup:${strategy}:refused`);
          return error('InvalidReplicationGroupState', 'Replication group must be in available state to modify.');
        }
        this.calls.push(`ModifyReplicationGroup:${strategy}`);
        if (input.get('ApplyImmediately') !== 'true') return error('InvalidParameterCombination', 'AuthToken changes must be applied immediately.');
        if (strategy === 'ROTATE') this.redis.cli('ACL', 'SETUSER', 'default', `>${token}`);
        else if (strategy === 'SET') this.redis.cli('ACL', 'SETUSER', 'default', 'resetpass', `>${token}`);
        else return error('InvalidParameterValue', `Unsupported AuthTokenUpdateStrategy ${strategy}.`);
        this.remainingModifying = this.modifyingPolls;
        return xml(group('modifying'));
      }
      default:
        return error('InvalidAction', `Unknown action ${action}.`);
    }
  }
}
