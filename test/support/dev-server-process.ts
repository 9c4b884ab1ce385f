/**
 * The shipped dev server (`assets/dev-server/cli.js`, what `npx cdk-serverless-llm dev` runs) as a child process, for
 * tests that drive it with real clients: started on a free loopback port, its request log collected line by line.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
export const DEV_SERVER_BUNDLE = path.join(ROOT, 'assets', 'dev-server', 'cli.js');

export interface DevServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly key: string;
  /** Everything the process printed so far. */
  output(): string;
  /** The request log lines (`HH:MM:SS.mmm METHOD /path STATUS …`) printed so far. */
  requestLines(): string[];
  stop(): Promise<void>;
}

export interface DevServerProcessOptions {
  /** Extra CLI flags after `dev --port 0 --api-key …`. */
  readonly args?: readonly string[];
  /** Environment of the process (PATH and a temporary HOME are always set; nothing else leaks in). */
  readonly env?: Record<string, string>;
  readonly apiKey?: string;
}

export async function startDevServerProcess(options: DevServerProcessOptions = {}): Promise<DevServerProcess> {
  if (!fs.existsSync(DEV_SERVER_BUNDLE)) throw new Error(`${DEV_SERVER_BUNDLE} is missing: run \`npx projen bundle\` first`);
  const apiKey = options.apiKey ?? 'sk-client-test-0123456789abcdef';
  const child = spawn(process.execPath, [DEV_SERVER_BUNDLE, 'dev', '--port', '0', '--api-key', apiKey, ...(options.args ?? [])], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'dev-server-home-')),
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  const started = Date.now();
  while (!/API key: \S+/.test(out)) {
    if (child.exitCode !== null) throw new Error(`the dev server exited: ${out}`);
    if (Date.now() - started > 30_000) {
      child.kill('SIGKILL');
      throw new Error(`the dev server printed no banner in 30 s: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /dev server on (http:\/\/\S+)/.exec(out)![1];
  return {
    child,
    url,
    key: apiKey,
    output: () => out,
    requestLines: () => out.split('\n').filter((line) => /^\d\d:\d\d:\d\d\.\d{3} [A-Z]+ \//.test(line)),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
