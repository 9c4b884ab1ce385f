/**
 * moto's standalone server (PyPI `moto[server]`, in the repository's `.venv`: scripts/install-test-prereqs.sh installs
 * it) on a free loopback port, for tests that need the real DynamoDB (and SQS, S3, SSM, Secrets Manager) wire protocol.
 * Its state lives in the process: stop() and start() again is an empty store.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
export const MOTO_SERVER = process.env.MOTO_SERVER ?? path.join(ROOT, '.venv', 'bin', 'moto_server');

/** Dummy credentials and the endpoint settings the AWS SDK v3 reads, for a child process or a client. */
export function motoEnv(url: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_DYNAMODB: url,
    AWS_ENDPOINT_URL_SSM: url,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export class MotoServer {
  private child?: ChildProcess;
  private output = '';
  public port = 0;

  public get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the server (on the same port as before after a stop(), so clients keep their endpoint). */
  public async start(): Promise<void> {
    if (!fs.existsSync(MOTO_SERVER)) {
      throw new Error(`${MOTO_SERVER} is missing: run \`bash scripts/install-test-prereqs.sh\` (it installs moto[server] into .venv)`);
    }
    if (this.port === 0) this.port = await freePort();
    this.output = '';
    const child = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(this.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (c: Buffer) => { this.output += c.toString(); });
    child.stderr!.on('data', (c: Buffer) => { this.output += c.toString(); });
    const started = Date.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`moto_server exited: ${this.output}`);
      try {
        const response = await fetch(`${this.url}/moto-api/`);
        if (response.status < 500) return;
      } catch {
        // not listening yet
      }
      if (Date.now() - started > 30_000) {
        child.kill('SIGKILL');
        throw new Error(`moto_server did not answer within 30 s: ${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  public async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}
