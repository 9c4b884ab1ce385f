/**
 * The real Claude Code CLI (pinned devDependency, print mode) against the shipped dev server: on the embedded mock, and
 * through the fake Bedrock (`--upstream bedrock`), with Claude Code's own default model and with ANTHROPIC_MODEL set to
 * a 4.x model. What a user sees (exit code, the reply, the file a directed Write creates) and what the servers received
 * (at most 5 requests per prompt; on the Bedrock path, only bodies Bedrock accepts).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runClaude, type ClaudeRun } from './claude-code-cli';
import { startDevServerProcess, type DevServerProcess } from '../support/dev-server-process';
import { FakeBedrock, type FakeRequest, type FakeResponse } from '../support/fake-bedrock';

jest.setTimeout(180_000);

const MODELS = [
  { label: 'Claude Code\'s default model', env: {} as Record<string, string> },
  { label: 'ANTHROPIC_MODEL=claude-sonnet-4-6', env: { ANTHROPIC_MODEL: 'claude-sonnet-4-6' } },
];
const MAX_REQUESTS_PER_PROMPT = 5;

function explain(run: ClaudeRun, server: DevServerProcess): string {
  return `exit ${run.code}${run.timedOut ? ' (timed out)' : ''}\nstdout: ${run.stdout}\nstderr: ${run.stderr}\nserver:\n${server.output().slice(-4000)}`;
}

/** Runs one prompt and returns the run with the request log lines the server printed for it. */
async function prompt(
  server: DevServerProcess, args: string[], env: Record<string, string>, cwd?: string,
): Promise<{ run: ClaudeRun; requests: string[] }> {
  const before = server.requestLines().length;
  const run = await runClaude(args, {
    env: { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: server.key, ...env },
    cwd,
    timeoutMs: 120_000,
  });
  // The log line of the last request is written as its response ends; give it a moment to arrive.
  await new Promise((r) => setTimeout(r, 100));
  return { run, requests: server.requestLines().slice(before) };
}

function writeTask(dir: string): { args: string[]; file: string; content: string } {
  const file = path.join(dir, 'hello.txt');
  const content = 'Hello from the proxy';
  return {
    args: ['-p', `Create the file [[mock: tool=Write file_path=${file} content="${content}"]]`, '--allowedTools', 'Write'],
    file,
    content,
  };
}

describe('Claude Code on the mock', () => {
  let server: DevServerProcess;
  beforeAll(async () => {
    server = await startDevServerProcess();
  });
  afterAll(async () => server?.stop());

  describe.each(MODELS)('with $label', ({ env }) => {
    test('answers a prompt: exit 0, the mock\'s reply, and at most 5 requests', async () => {
      const { run, requests } = await prompt(server, ['-p', 'Say hi'], env);
      expect({ code: run.code, reply: run.stdout.trim() }).toEqual({ code: 0, reply: expect.stringContaining('Mock reply to "Say hi".') });
      expect(requests.length).toBeGreaterThan(0);
      expect(requests.length).toBeLessThanOrEqual(MAX_REQUESTS_PER_PROMPT);
      expect(requests.every((line) => / 200 /.test(line))).toBe(true);
    });

    test('carries out a directed Write: the file exists with the content asked for', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'claude-write-'));
      const task = writeTask(dir);
      const { run, requests } = await prompt(server, task.args, env, dir);
      expect(run.code).toBe(0);
      expect(fs.existsSync(task.file) ? fs.readFileSync(task.file, 'utf8') : `no file; ${explain(run, server)}`).toBe(task.content);
      expect(fs.readdirSync(dir)).toEqual(['hello.txt']);
      expect(requests.length).toBeLessThanOrEqual(MAX_REQUESTS_PER_PROMPT);
    });
  });

  test('streams its events with --output-format stream-json --verbose', async () => {
    const { run } = await prompt(server, ['-p', 'Say hi', '--output-format', 'stream-json', '--verbose'], {});
    expect(run.code).toBe(0);
    const events = run.stdout.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const assistant = events.filter((e) => e.type === 'assistant');
    expect(assistant.length).toBeGreaterThan(0);
    expect(JSON.stringify(assistant)).toContain('Mock reply to \\"Say hi\\".');
    expect(events[events.length - 1]).toMatchObject({ type: 'result', subtype: 'success', is_error: false, result: expect.stringContaining('Mock reply') });
  });

  test('an unknown model is the same 404 locally as deployed', async () => {
    const { run } = await prompt(server, ['-p', 'Say hi'], { ANTHROPIC_MODEL: 'gpt-4o-not-served-here' });
    expect(run.code).not.toBe(0);
    expect(`${run.stdout}${run.stderr}`).toMatch(/404|not_found|model/i);
  });
});

describe('Claude Code through the fake Bedrock (--upstream bedrock)', () => {
  let fake: FakeBedrock;
  let server: DevServerProcess;

  /** The fake model: calls Write when asked to create a file, answers a tool result with text. */
  function respond(r: FakeRequest): FakeResponse {
    const messages = (r.body.messages ?? []) as Array<{ role: string; content: unknown }>;
    const last = messages[messages.length - 1];
    const afterResult = Array.isArray(last?.content) && (last.content as Array<{ type: string }>).some((b) => b.type === 'tool_result');
    const ask = /file_path=(\S+) content="([^"]*)"/.exec(r.lastUserText);
    if (ask && !afterResult) {
      return {
        blocks: [{ type: 'text', text: 'Writing it.' }, { type: 'tool_use', id: `toolu_bdrk_${Date.now()}`, name: 'Write', input: { file_path: ask[1], content: ask[2] } }],
        stopReason: 'tool_use',
      };
    }
    return { blocks: [{ type: 'text', text: afterResult ? 'Done: the file is written.' : `Hello from the fake Bedrock (${r.modelId})` }], stopReason: 'end_turn' };
  }

  beforeAll(async () => {
    fake = new FakeBedrock({ respond });
    await fake.start();
    server = await startDevServerProcess({
      args: ['--upstream', 'bedrock', '--region', 'us-east-1'],
      env: { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url, AWS_ACCESS_KEY_ID: 'AKIDCLAUDECODE', AWS_SECRET_ACCESS_KEY: 'claude-code-secret' },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await fake?.stop();
  });

  function modelCalls() {
    return fake.requests.filter((r) => r.operation !== undefined && r.operation !== 'count-tokens');
  }

  describe.each(MODELS)('with $label', ({ env }) => {
    test('answers a prompt, and every body Bedrock received is one Bedrock accepts', async () => {
      fake.reset();
      const { run, requests } = await prompt(server, ['-p', 'Say hi'], env);
      expect({ code: run.code, reply: run.stdout.trim() }).toEqual({ code: 0, reply: expect.stringContaining('Hello from the fake Bedrock') });
      expect(requests.length).toBeLessThanOrEqual(MAX_REQUESTS_PER_PROMPT);
      expect(modelCalls().length).toBeGreaterThan(0);
      expect(modelCalls().map((r) => r.rejected)).toEqual(modelCalls().map(() => undefined));
    });

    test('carries out a directed Write through Bedrock', async () => {
      fake.reset();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'claude-write-bedrock-'));
      const task = writeTask(dir);
      const { run, requests } = await prompt(server, task.args, env, dir);
      expect(run.code).toBe(0);
      expect(fs.existsSync(task.file) ? fs.readFileSync(task.file, 'utf8') : `no file; ${explain(run, server)}`).toBe(task.content);
      expect(requests.length).toBeLessThanOrEqual(MAX_REQUESTS_PER_PROMPT);
      expect(modelCalls().map((r) => r.rejected)).toEqual(modelCalls().map(() => undefined));
    });
  });
});
