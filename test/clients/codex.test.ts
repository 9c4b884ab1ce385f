/**
 * The real Codex CLI (pinned devDependency `@openai/codex`, a native binary; it speaks only the Responses API) against
 * the shipped dev server: on the embedded mock and through the fake Bedrock (`--upstream bedrock`) with a Claude model.
 * What a user sees (exit code, the reply, the file a directed tool call writes) and what the servers received (a bounded
 * number of requests; on the Bedrock path, only bodies Bedrock accepts).
 *
 * Codex runs with an isolated HOME holding the `~/.codex/config.toml` provider entry the README shows.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startDevServerProcess, type DevServerProcess } from '../support/dev-server-process';
import { FakeBedrock, type FakeRequest, type FakeResponse } from '../support/fake-bedrock';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..', '..');
const CODEX = process.env.CODEX_BIN ?? path.join(ROOT, 'node_modules', '.bin', 'codex');
const MAX_REQUESTS_PER_PROMPT = 3;

interface CodexRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/**
 * The README's `~/.codex/config.toml` (the TOML block in "Pointing clients at the proxy"), with the dev server's URL as
 * base_url. `webSearch: 'default'` drops the README's `web_search` line (Codex's own default then applies).
 */
function config(baseUrl: string, options: { webSearch?: 'readme' | 'default' } = {}): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /```toml\n([\s\S]*?wire_api = "responses"[\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no Codex CLI config.toml block');
  const lines = block.split('\n').map((line) => line.replace(/^\s{2}/, ''));
  expect(lines.filter((line) => line.startsWith('base_url = '))).toHaveLength(1);
  return [
    'check_for_update_on_startup = false',
    ...lines
      .filter((line) => options.webSearch !== 'default' || !line.startsWith('web_search'))
      .map((line) => (line.startsWith('base_url = ') ? `base_url = "${baseUrl}/v1"` : line)),
  ].join('\n');
}

function runCodex(server: DevServerProcess, args: string[], options: { cwd?: string; webSearch?: 'readme' | 'default' } = {}): Promise<CodexRun> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-home-'));
  fs.mkdirSync(path.join(home, '.codex'));
  fs.writeFileSync(path.join(home, '.codex', 'config.toml'), config(server.url, options));
  const cwd = options.cwd ?? fs.mkdtempSync(path.join(os.tmpdir(), 'codex-cwd-'));
  return new Promise((resolve, reject) => {
    const child = spawn(CODEX, ['exec', '--skip-git-repo-check', ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TERM: 'dumb', PROXY_KEY: server.key, RUST_LOG: 'error' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, 120_000);
    child.on('error', (err) => { clearTimeout(timer); reject(new Error(`cannot run ${CODEX}: ${err.message} (npm ci installs it)`)); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, timedOut }); });
  });
}

async function prompt(server: DevServerProcess, args: string[], options: { cwd?: string; webSearch?: 'readme' | 'default' } = {}) {
  const before = server.requestLines().length;
  const run = await runCodex(server, args, options);
  await new Promise((r) => setTimeout(r, 100));
  return { run, requests: server.requestLines().slice(before) };
}

function explain(run: CodexRun, server: DevServerProcess): string {
  return `exit ${run.code}${run.timedOut ? ' (timed out)' : ''}\nstdout: ${run.stdout}\nstderr: ${run.stderr.slice(-3000)}\nserver:\n${server.output().slice(-3000)}`;
}

/** A directed tool call: Codex runs the command (no sandbox: the test runs in its own temporary directory). */
function writeTask(dir: string): { args: string[]; file: string } {
  return {
    args: ['--dangerously-bypass-approvals-and-sandbox', 'Write the proof [[mock: tool=exec_command cmd="printf codex-tool-ok > proof.txt"]]'],
    file: path.join(dir, 'proof.txt'),
  };
}

describe('Codex CLI on the mock', () => {
  let server: DevServerProcess;
  beforeAll(async () => {
    server = await startDevServerProcess();
  });
  afterAll(async () => server?.stop());

  test('answers a prompt with the README\'s config.toml less its web_search line (Codex\'s default): exit 0, the mock\'s reply, one request', async () => {
    const { run, requests } = await prompt(server, ['Say hi'], { webSearch: 'default' });
    expect({ code: run.code, reply: run.stdout.trim() }).toEqual({ code: 0, reply: expect.stringContaining('Mock reply to "Say hi".') });
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.length).toBeLessThanOrEqual(MAX_REQUESTS_PER_PROMPT);
    expect(requests.every((line) => / POST \/v1\/responses 200 /.test(line))).toBe(true);
  });

  test('carries out a directed tool call: the command ran, and the turn ends in two requests', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-tool-'));
    const task = writeTask(dir);
    const { run, requests } = await prompt(server, task.args, { cwd: dir });
    expect(run.code).toBe(0);
    expect(fs.existsSync(task.file) ? fs.readFileSync(task.file, 'utf8') : `no file; ${explain(run, server)}`).toBe('codex-tool-ok');
    expect(run.stdout).toContain('The tool returned');
    expect(requests).toHaveLength(2);
  });

  test('the Codex command the dev server prints works as printed (with `exec` and a prompt added)', async () => {
    const banner = server.output().split('\n');
    const at = banner.findIndex((line) => line.startsWith('Codex CLI'));
    const command = `${banner[at + 1].trim().replace(/\\$/, '')} ${banner[at + 2].trim()}`;
    expect(command).toMatch(/^PROXY_KEY=\S+ codex -c /);
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-banner-home-'));
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-banner-cwd-'));
    const run = await new Promise<CodexRun>((resolve) => {
      const child = spawn('bash', ['-c', `${command.replace(' codex ', ' codex exec --skip-git-repo-check ')} 'Say hi'`], {
        cwd, env: { PATH: `${path.dirname(CODEX)}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: home, TERM: 'dumb' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      child.on('close', (code) => resolve({ code, stdout, stderr, timedOut: false }));
    });
    expect({ code: run.code, reply: run.stdout.trim() }).toEqual({ code: 0, reply: expect.stringContaining('Mock reply to "Say hi".') });
  });

  test('a live web_search tool is refused with a 400 that names it and the Codex setting', async () => {
    const { run, requests } = await prompt(server, ['--dangerously-bypass-approvals-and-sandbox', 'Say hi'], { webSearch: 'default' });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('The web_search tool is not supported');
    expect(run.stderr).toContain('web_search = \\"disabled\\"');
    expect(requests.every((line) => / 400 /.test(line))).toBe(true);
  });
});

describe('Codex CLI through the fake Bedrock (--upstream bedrock)', () => {
  let fake: FakeBedrock;
  let server: DevServerProcess;

  /** The fake Claude: calls exec_command when asked to run something, answers a tool result with text. */
  function respond(r: FakeRequest): FakeResponse {
    const messages = (r.body.messages ?? []) as Array<{ role: string; content: unknown }>;
    const last = messages[messages.length - 1];
    const afterResult = Array.isArray(last?.content) && (last.content as Array<{ type: string }>).some((b) => b.type === 'tool_result');
    const ask = /run: (.+)$/m.exec(r.lastUserText);
    if (ask && !afterResult) {
      return {
        blocks: [{ type: 'text', text: 'Running it.' }, { type: 'tool_use', id: `toolu_bdrk_${Date.now()}`, name: 'exec_command', input: { cmd: ask[1] } }],
        stopReason: 'tool_use',
      };
    }
    return { blocks: [{ type: 'text', text: afterResult ? 'Done: the command ran.' : `Hello from the fake Bedrock (${r.modelId})` }], stopReason: 'end_turn' };
  }

  beforeAll(async () => {
    fake = new FakeBedrock({ respond });
    await fake.start();
    server = await startDevServerProcess({
      args: ['--upstream', 'bedrock', '--region', 'us-east-1'],
      env: { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url, AWS_ACCESS_KEY_ID: 'AKIDCODEXCLI', AWS_SECRET_ACCESS_KEY: 'codex-cli-secret' },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await fake?.stop();
  });

  const modelCalls = () => fake.requests.filter((r) => r.operation !== undefined && r.operation !== 'count-tokens');

  test('answers a prompt with a Claude model, and every body Bedrock received is one Bedrock accepts', async () => {
    fake.reset();
    const { run, requests } = await prompt(server, ['Say hi']);
    expect({ code: run.code, reply: run.stdout.trim() }).toEqual({ code: 0, reply: expect.stringContaining('Hello from the fake Bedrock') });
    expect(requests.length).toBeLessThanOrEqual(MAX_REQUESTS_PER_PROMPT);
    expect(modelCalls().length).toBeGreaterThan(0);
    expect(modelCalls().map((r) => r.rejected)).toEqual(modelCalls().map(() => undefined));
  });

  test('carries out a tool call through Bedrock: the tool result goes back as a tool_result Bedrock accepts', async () => {
    fake.reset();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-tool-bedrock-'));
    const { run, requests } = await prompt(server, ['--dangerously-bypass-approvals-and-sandbox', 'run: printf codex-bedrock-ok > proof.txt'], {
      cwd: dir,
    });
    expect(run.code).toBe(0);
    const proof = path.join(dir, 'proof.txt');
    expect(fs.existsSync(proof) ? fs.readFileSync(proof, 'utf8') : `no file; ${explain(run, server)}`).toBe('codex-bedrock-ok');
    expect(run.stdout).toContain('Done: the command ran.');
    expect(requests).toHaveLength(2);
    expect(modelCalls().map((r) => r.rejected)).toEqual(modelCalls().map(() => undefined));
  });
});
