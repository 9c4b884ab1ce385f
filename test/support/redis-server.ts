/**
 * A real `redis-server` (the Debian package) for runtime tests: a random loopback port, TLS with a throwaway CA when
 * this build supports it, ACL users, and optional append-only persistence so a test can stop and restart the server.
 *
 * Nothing is skipped silently: `REDIS_TLS_SUPPORTED` says whether this build has TLS, and tests put the transport
 * they really used (`describeTransport()`) in their names.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
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
  /** Extra ACL users. The `default` user always has the admin password (see `adminPassword`). */
  readonly users?: readonly AclUser[];
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
  /** The password of the `default` user (admin). */
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
    return execFileSync('redis-cli', ['-h', this.host, '-p', String(this.port), ...tlsArgs, '--user', 'default', '--pass', this.adminPassword,
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
      `user default on >${this.adminPassword} ~* &* +@all`,
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
