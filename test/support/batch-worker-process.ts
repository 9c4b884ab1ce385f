/**
 * Starts ./batch-worker-drain.ts as a child process: a worker draining the batch queue with a real SQS handler, which a
 * test can SIGKILL mid-batch and start again.
 *
 *   const env = { ...moto.env(['DYNAMODB', 'SQS', 'S3']), ...batchEnv(resources), PROXY_UPSTREAM: 'mock' };
 *   const worker = startBatchWorkerProcess({ env });
 *   await worker.waitFor((line) => line.event !== undefined);   // its first event
 *   await worker.kill('SIGKILL');
 *
 * `handlerModule` (relative to the repository root) replaces the real worker Lambda (lambda/batch-worker/index.ts).
 */
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

export type WorkerLine = Record<string, unknown>;

export interface BatchWorkerProcess {
  readonly child: ChildProcess;
  /** Every JSON line the process printed on stdout so far. */
  readonly lines: WorkerLine[];
  /** Resolves with the first line (already printed or to come) that matches; rejects on timeout or exit. */
  waitFor(predicate: (line: WorkerLine) => boolean, timeoutMs?: number): Promise<WorkerLine>;
  /** Sends the signal and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** stderr so far (for failure messages). */
  stderr(): string;
}

export interface BatchWorkerProcessOptions {
  /** The whole environment of the worker (besides PATH and HOME): moto's, PROXY_*, PROXY_BATCH_*. */
  readonly env: Record<string, string>;
  /** A module exporting `handler`, relative to the repository root. Default: lambda/batch-worker/index.ts. */
  readonly handlerModule?: string;
  /** Records per event (default 5). */
  readonly batchSize?: number;
}

export function startBatchWorkerProcess(options: BatchWorkerProcessOptions): BatchWorkerProcess {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    TS_NODE_PROJECT: path.join(ROOT, 'test', 'tsconfig.json'),
    ...options.env,
  };
  if (options.handlerModule) env.BATCH_WORKER_HANDLER = options.handlerModule;
  if (options.batchSize) env.BATCH_WORKER_BATCH_SIZE = String(options.batchSize);
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'test', 'support', 'batch-worker-drain.ts')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: WorkerLine[] = [];
  const listeners = new Set<() => void>();
  let buffered = '';
  let errors = '';
  let exited = false;
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (!text.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(text) as WorkerLine);
      } catch {
        continue;
      }
      for (const listener of listeners) listener();
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    errors = (errors + chunk.toString()).slice(-20_000);
  });
  const exit = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    for (const listener of listeners) listener();
    resolve();
  }));
  return {
    child,
    lines,
    stderr: () => errors,
    waitFor(predicate, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(predicate);
          if (found) done(() => resolve(found));
          else if (exited) done(() => reject(new Error(`the worker process exited before the line came; stderr:\n${errors}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no matching worker line within ${timeoutMs} ms; stderr:\n${errors}`))), timeoutMs);
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (!exited) child.kill(signal);
      await exit;
    },
  };
}
