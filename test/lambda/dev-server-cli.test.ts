/**
 * The `cdk-serverless-llm dev` command line: argument parsing, and the CLI process end to end — bundled with esbuild
 * the way build-tools/bundle.ts ships it — on the mock, and with `--upstream bedrock` against the fake Bedrock
 * (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, the SDK's credential chain).
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Anthropic from '@anthropic-ai/sdk';
import * as esbuild from 'esbuild';
import OpenAI from 'openai';
import { parseCommandLine, UsageError } from '../../lambda/dev-server/cli';
import { FakeBedrock } from '../support/fake-bedrock';

const ROOT = path.resolve(__dirname, '..', '..');
const BUNDLE = path.join(ROOT, 'test-output', 'dev-server-cli', 'cli.js');

beforeAll(async () => {
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'lambda', 'dev-server', 'cli.ts')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    logLevel: 'error',
    external: ['aws-crt', '@aws-sdk/signature-v4-crt'],
    banner: { js: '#!/usr/bin/env node' },
  });
});

function usageError(argv: string[]): string {
  try {
    parseCommandLine(argv, {});
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error('expected a UsageError');
}

describe('parseCommandLine', () => {
  test('applies the defaults: port 8787, loopback, mock upstream, generated key', () => {
    expect(parseCommandLine(['dev'], { PROXY_SESSIONS: 'off' })).toEqual({
      port: 8787,
      host: '127.0.0.1',
      apiKey: undefined,
      upstream: 'mock',
      region: undefined,
      modelsJson: undefined,
      env: { PROXY_SESSIONS: 'off' },
      mock: undefined,
    });
    expect(parseCommandLine(['--help'], {})).toBe('help');
  });

  test('reads every flag', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'models-')), 'models.json');
    fs.writeFileSync(file, '{"models":[]}');
    expect(parseCommandLine(['dev', '--port', '0', '--host', '::1', '--api-key', 'k'.repeat(20), '--upstream', 'bedrock', '--region', 'eu-west-1', '--models', file, '--mock-delay', '15'], {}))
      .toMatchObject({ port: 0, host: '::1', apiKey: 'k'.repeat(20), upstream: 'bedrock', region: 'eu-west-1', modelsJson: '{"models":[]}', mock: { deltaDelayMs: 15 } });
  });

  test('explains bad usage', () => {
    expect(usageError([])).toBe('missing command: dev');
    expect(usageError(['serve'])).toBe('unknown command: serve');
    expect(usageError(['dev', '--port', 'http'])).toMatch(/--port/);
    expect(usageError(['dev', '--upstream', 'openai'])).toBe('--upstream must be mock or bedrock');
    expect(usageError(['dev', '--api-key', 'short'])).toMatch(/at least 16/);
    expect(usageError(['dev', '--models', '/nonexistent/models.json'])).toMatch(/^--models: cannot read/);
    expect(usageError(['dev', '--bogus'])).toMatch(/bogus/);
  });
});

interface Cli {
  child: ChildProcess;
  url: string;
  key: string;
  output: () => string;
}

/** Starts the bundled CLI and waits for its banner. */
async function startCli(args: string[], env: Record<string, string>): Promise<Cli> {
  const child = spawn(process.execPath, [BUNDLE, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  const started = Date.now();
  while (!/API key: \S+/.test(out)) {
    if (child.exitCode !== null) throw new Error(`the CLI exited: ${out}`);
    if (Date.now() - started > 30_000) throw new Error(`no banner: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /dev server on (http:\/\/\S+)/.exec(out)![1];
  const key = /API key: (\S+)/.exec(out)![1];
  return { child, url, key, output: () => out };
}

async function stopCli(cli: Cli): Promise<void> {
  if (cli.child.exitCode !== null) return;
  const exited = new Promise((r) => cli.child.once('exit', r));
  cli.child.kill('SIGTERM');
  await exited;
}

describe('the dev server process', () => {
  test('runs on the mock with a generated key, and logs one line per request', async () => {
    const cli = await startCli(['dev', '--port', '0'], {});
    try {
      expect(cli.key).toMatch(/^sk-dev-/);
      expect(cli.output()).toContain(`ANTHROPIC_BASE_URL=${cli.url}`);
      const client = new Anthropic({ baseURL: cli.url, apiKey: cli.key, maxRetries: 0 });
      const message = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'ping from the CLI test' }] });
      expect(message.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('ping from the CLI test') });
      const health = await fetch(`${cli.url}/health`);
      expect(health.status).toBe(200);
      for (let i = 0; i < 40 && !/POST \/v1\/messages 200/.test(cli.output()); i++) await new Promise((r) => setTimeout(r, 25));
      expect(cli.output()).toMatch(/POST \/v1\/messages 200 claude-haiku-4-5 json in=\d+ out=\d+/);
    } finally {
      await stopCli(cli);
    }
  });

  test('with --upstream bedrock, calls Bedrock through the SDK endpoint settings and credential chain', async () => {
    const accessKeyId = 'AKIDDEVSERVERTEST';
    const secretAccessKey = 'dev-server-test-secret';
    const fake = new FakeBedrock({ credentials: [{ accessKeyId, secretAccessKey }], enforceSignatures: true });
    await fake.start();
    const cli = await startCli(['dev', '--port', '0', '--api-key', 'sk-local-0123456789abcdef', '--upstream', 'bedrock', '--region', 'us-west-2'], {
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
    });
    try {
      expect(cli.output()).toContain('(upstream: bedrock)');
      const anthropic = new Anthropic({ baseURL: cli.url, apiKey: 'sk-local-0123456789abcdef', maxRetries: 0 });
      const stream = anthropic.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'hello bedrock' }] });
      const message = await stream.finalMessage();
      expect(message.model).toBe('claude-sonnet-4-6');
      expect((message.content[0] as Anthropic.TextBlock).text).toContain('hello bedrock');
      const call = fake.requests.find((r) => r.operation === 'invoke-with-response-stream');
      expect(call).toMatchObject({ modelId: 'global.anthropic.claude-sonnet-4-6', region: 'us-west-2', signatureValid: true });

      const openai = new OpenAI({ baseURL: `${cli.url}/v1`, apiKey: 'sk-local-0123456789abcdef', maxRetries: 0 });
      const completion = await openai.chat.completions.create({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'hello again' }] });
      expect(completion.choices[0].message.content).toContain('hello again');

      await expect(anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: '[[fake fault=access-denied]]' }] }))
        .rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);
    } finally {
      await stopCli(cli);
      await fake.stop();
    }
  });

  test('exits with a message naming the variable on a bad configuration', async () => {
    const child = spawn(process.execPath, [BUNDLE, 'dev', '--port', '0'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', PROXY_RATE_LIMITS: '{"rpm": 5}' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(1);
    expect(err).toContain('PROXY_RATE_LIMITS: unknown limit "rpm"');
  });
});
