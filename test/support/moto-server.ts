/**
 * moto's standalone server (PyPI `moto[server]`) on a random loopback port: the real wire protocols of DynamoDB, SSM and
 * the other AWS services the tests need, without an AWS account. Installed into .venv by
 * scripts/install-test-prereqs.sh; `MOTO_SERVER` names another moto_server binary.
 *
 * Point an SDK client (or a child process) at it with `env()`: AWS_ENDPOINT_URL_<SERVICE>, dummy credentials and a region.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const INSTALL = 'bash scripts/install-test-prereqs.sh   (or: python3 -m venv .venv && .venv/bin/pip install "moto[server]==5.2.5")';

/** The moto_server binary: MOTO_SERVER, or .venv/bin/moto_server in the repository root. */
export function motoServerBinary(): string {
  const bin = process.env.MOTO_SERVER ?? path.join(ROOT, '.venv', 'bin', 'moto_server');
  if (!fs.existsSync(bin)) {
    throw new Error(`moto's server is not installed (${bin} is missing). Install it with:  ${INSTALL}`);
  }
  return bin;
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

function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/moto-api/`, (res) => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode < 500);
    });
    req.setTimeout(1000, () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export interface MotoServerOptions {
  /**
   * Serve one request at a time (moto_server itself is threaded). DynamoDB isolates transactions and conditional writes;
   * moto's threaded server does not: a TransactWriteItems applies its items one by one and, when a condition fails,
   * restores a copy of the whole table taken when it started, so concurrent transactions on the same items lose each
   * other's writes or apply a refused one. Serially, each call is atomic and isolated, as in DynamoDB. Do not long-poll
   * SQS (WaitTimeSeconds) against a serial server: the poll holds up every other request.
   */
  readonly serial?: boolean;
}

/** moto's server with werkzeug's threaded mode off (moto.server.main passes threaded=True). */
const SERIAL_MOTO = [
  'import sys, moto.server as s',
  'run = s.run_simple',
  's.run_simple = lambda *a, **k: run(*a, **{**k, "threaded": False})',
  's.main(sys.argv[1:])',
].join('\n');

/** The Python of moto's venv (beside its moto_server). */
function motoPython(bin: string): string {
  const python = path.join(path.dirname(bin), 'python');
  if (!fs.existsSync(python)) throw new Error(`a serial moto server needs the Python beside ${bin} (${python} is missing). Install moto with:  ${INSTALL}`);
  return python;
}

export class MotoServer {
  /**
   * Starts moto_server on a free loopback port (or `port`: a restart where clients already point, with an empty store)
   * and waits until it answers HTTP (up to 20 s). `options.serial`: one request at a time (see MotoServerOptions).
   */
  static async start(port?: number, options: MotoServerOptions = {}): Promise<MotoServer> {
    const bin = motoServerBinary();
    port ??= await freePort();
    const args = ['-H', '127.0.0.1', '-p', String(port)];
    const child = options.serial
      ? spawn(motoPython(bin), ['-c', SERIAL_MOTO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new MotoServer(child, port);
    await server.waitUntilReady();
    return server;
  }

  /** `http://127.0.0.1:<port>`: the endpoint of every service moto serves. */
  public readonly url: string;
  private log = '';
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess, public readonly port: number) {
    this.url = `http://127.0.0.1:${port}`;
    const collect = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-20_000);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', (code) => {
      this.exitCode = code;
      resolve();
    }));
  }

  /**
   * Environment for an SDK client or a child process: the per-service endpoints (AWS_ENDPOINT_URL_DYNAMODB, …) set to
   * this server, dummy credentials, us-east-1, and no shared config or credentials files (so nothing real is read).
   */
  env(services: readonly string[] = ['DYNAMODB', 'SSM']): Record<string, string> {
    const env: Record<string, string> = {
      AWS_ACCESS_KEY_ID: 'AKIDTESTMOTO',
      AWS_SECRET_ACCESS_KEY: 'test-secret-for-moto',
      AWS_REGION: 'us-east-1',
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    for (const service of services) env[`AWS_ENDPOINT_URL_${service}`] = this.url;
    return env;
  }

  /** Forgets every resource (moto's reset API), so tests can start from nothing. */
  async reset(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const req = http.request(`${this.url}/moto-api/reset`, { method: 'POST' }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`moto reset answered ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
  }

  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }

  private async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) throw new Error(`moto_server exited with code ${this.exitCode} while starting:\n${this.log}`);
      if (await answers(this.url)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await this.stop();
    throw new Error(`moto_server did not answer on ${this.url} within 20 s:\n${this.log}`);
  }
}
