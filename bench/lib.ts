/**
 * Shared helpers for the benchmarks: child processes for the fake Bedrock and the dev server, HTTP timing, RSS
 * sampling and statistics. Every server listens on 127.0.0.1 only.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..');
export const OUT = path.join(ROOT, 'bench', 'out');
export const API_KEY = 'bench-api-key-0123456789abcdef';

export interface Child {
  readonly process: ChildProcess;
  readonly url: string;
  /** The last lines the process printed that do not report a 200 (the dev server logs one line per request). */
  readonly problems: string[];
  stop(): Promise<void>;
}

/** Starts `node <args>` and waits for a line matching `ready` on stdout; its first capture group is the URL. */
export function startChild(args: string[], env: NodeJS.ProcessEnv, ready: RegExp, name: string): Promise<Child> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (d: Buffer) => {
      buffered += d.toString();
      const m = ready.exec(buffered);
      if (m) {
        // Keep draining stdout (the dev server logs one line per request), keeping only lines about failures.
        child.stdout!.off('data', onData);
        const problems: string[] = [];
        let partial = '';
        child.stdout!.on('data', (data: Buffer) => {
          const lines = (partial + data.toString()).split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines) {
            if (/ (4|5)\d\d /.test(line) || /handler failed/.test(line)) {
              problems.push(line);
              if (problems.length > 20) problems.shift();
            }
          }
        });
        resolve({
          process: child,
          url: m[1],
          problems,
          stop: () => new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
        });
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready: ${stderr}`)));
  });
}

/** The fake Bedrock (bundled by bench/build.ts) in its own process. */
export function startFakeBedrock(): Promise<Child> {
  return startChild([path.join(OUT, 'fake-bedrock.js'), '--port', '0'], { ...process.env }, /listening on (http:\/\/\S+)/, 'fake Bedrock');
}

/** The relay that parses nothing (bench/pipe-relay.ts, bundled by bench/build.ts) in front of `upstreamUrl`. */
export function startPipeRelay(upstreamUrl: string): Promise<Child> {
  return startChild([path.join(OUT, 'pipe-relay.js'), '--upstream', upstreamUrl, '--port', '0'], { ...process.env }, /listening on (http:\/\/\S+)/, 'pipe relay');
}

/** The shipped dev server (`assets/dev-server/cli.js dev --upstream bedrock`) pointed at the fake Bedrock through the
 * standard SDK setting AWS_ENDPOINT_URL_BEDROCK_RUNTIME. For profiling, BENCH_DEV_SERVER runs another build of the
 * CLI (e.g. an unminified one) and BENCH_DEV_NODE_ARGS adds node flags (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`). */
export function startDevServer(fakeUrl: string, extraEnv: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<Child> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fakeUrl,
    AWS_ACCESS_KEY_ID: 'AKIDBENCHMARK',
    AWS_SECRET_ACCESS_KEY: 'bench-secret',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    NODE_NO_WARNINGS: '1',
    ...extraEnv,
  };
  return startChild(
    [...nodeArgs, ...(process.env.BENCH_DEV_NODE_ARGS?.split(' ').filter(Boolean) ?? []), (process.env.BENCH_DEV_SERVER ?? path.join(ROOT, 'assets', 'dev-server', 'cli.js')), 'dev', '--upstream', 'bedrock', '--port', '0', '--api-key', API_KEY],
    env, /dev server on (http:\/\/\S+)/, 'dev server',
  );
}

export interface Timing {
  ttfbMs: number;
  totalMs: number;
  bytes: number;
  status: number;
  ok: boolean;
}

/** POSTs `body` and times the first body byte and the end. `ok` checks the status and that the body ends as expected. */
export function timedPost(agent: http.Agent, url: string, body: string, headers: Record<string, string>, expectEnd: string): Promise<Timing> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    let ttfb = -1;
    let bytes = 0;
    // Only the last bytes are kept (to check how the body ends): the client should cost as little CPU as possible.
    let tail: Buffer = Buffer.alloc(0);
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      res.on('data', (chunk: Buffer) => {
        if (ttfb < 0) ttfb = Number(process.hrtime.bigint() - started) / 1e6;
        bytes += chunk.length;
        tail = chunk.length >= 200 ? chunk.subarray(chunk.length - 200) : Buffer.concat([tail, chunk]).subarray(-200);
      });
      res.on('end', () => {
        const totalMs = Number(process.hrtime.bigint() - started) / 1e6;
        resolve({ ttfbMs: ttfb, totalMs, bytes, status: res.statusCode ?? 0, ok: res.statusCode === 200 && tail.includes(expectEnd, 0, 'latin1') });
      });
      res.on('error', () => resolve({ ttfbMs: ttfb, totalMs: -1, bytes, status: res.statusCode ?? 0, ok: false }));
    });
    req.on('error', () => resolve({ ttfbMs: -1, totalMs: -1, bytes, status: 0, ok: false }));
    req.end(body);
  });
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Resident set size of a process, in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/** CPU time (user + system) a process has used so far, in milliseconds (Linux /proc; clock ticks are 10 ms). */
export function cpuMsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command name start at state (3rd field): utime is the 14th field, stime the 15th.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The 1-minute load average: other work on the machine skews wall-clock figures, so results record it. */
export function loadAverage(): number {
  return os.loadavg()[0];
}

export const mb = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);
export const ms = (value: number) => value.toFixed(2);

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${mb(os.totalmem())} MB RAM, Node ${process.version}, `
    + `${os.platform()} ${os.release()}; 1-min load average at the end ${loadAverage().toFixed(2)}`;
}

/** Writes a benchmark's result (markdown for RESULTS.md and JSON for machines) under bench/out/. */
export function writeResult(name: string, markdown: string, data: unknown): void {
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, `${name}.md`), markdown);
  fs.writeFileSync(path.join(OUT, `${name}.json`), JSON.stringify(data, null, 2));
  process.stdout.write(`${markdown}\n`);
}

export const sleep = (msDelay: number) => new Promise<void>((resolve) => setTimeout(resolve, msDelay));
