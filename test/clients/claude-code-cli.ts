/**
 * Running the real Claude Code CLI (the pinned devDependency `@anthropic-ai/claude-code`, a native binary) in tests and
 * in the fixture recorder: print mode, an isolated HOME, no telemetry or other non-essential traffic, a hard timeout.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');

/** The CLI binary: CLAUDE_CODE_BIN (e.g. an @latest install, see README "Checking a new client release"), or the pinned one. */
export function claudeBinary(): string {
  return process.env.CLAUDE_CODE_BIN ?? path.join(ROOT, 'node_modules', '.bin', 'claude');
}

/** The version the binary reports (`2.1.332 (Claude Code)` -> `2.1.332`). */
export async function claudeVersion(): Promise<string> {
  const result = await runClaude(['--version'], { env: {}, timeoutMs: 30_000 });
  const version = /^(\d+\.\d+\.\d+)/.exec(result.stdout.trim())?.[1];
  if (!version) throw new Error(`cannot read the Claude Code version from: ${result.stdout}${result.stderr}`);
  return version;
}

export interface ClaudeRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly home: string;
  readonly cwd: string;
}

export interface ClaudeRunOptions {
  /** Extra environment (ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_MODEL, the Bedrock-mode variables …). */
  readonly env: Record<string, string>;
  /** Working directory; a new empty temporary directory by default. */
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

/**
 * Runs `claude <args>` with an isolated HOME and only the environment a user would set for the run (no AWS or
 * Anthropic settings of the machine leak in), and kills it after the timeout.
 */
export function runClaude(args: readonly string[], options: ClaudeRunOptions): Promise<ClaudeRun> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'claude-home-'));
  const cwd = options.cwd ?? fs.mkdtempSync(path.join(os.tmpdir(), 'claude-cwd-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    TMPDIR: os.tmpdir(),
    TERM: 'dumb',
    DISABLE_TELEMETRY: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...options.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(claudeBinary(), [...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 90_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${claudeBinary()}: ${err.message} (npm ci installs it; see README "Real clients")`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, home, cwd });
    });
  });
}
