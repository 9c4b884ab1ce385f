/**
 * Records, for the installed Claude Code CLI, the first request it sends in each of its two modes for the same prompt:
 *
 * - first-party: `POST /v1/messages` to ANTHROPIC_BASE_URL (what the proxy receives);
 * - Bedrock mode (`CLAUDE_CODE_USE_BEDROCK=1`, ANTHROPIC_BEDROCK_BASE_URL at the fake Bedrock): the InvokeModel body
 *   Claude Code itself believes Bedrock accepts for that conversation (the oracle for what the proxy must send Bedrock).
 *
 * for Claude Code's default model and for a 4.x model, into test/fixtures/claude-code/<version>/<model>/. Local details
 * (the working directory, HOME, the OS version, device and session ids) are replaced with placeholders.
 * test/lambda/claude-code-fixtures.test.ts checks the proxy's translation against every recorded version.
 *
 *   npx projen record:claude-code          (after an upgrade of @anthropic-ai/claude-code)
 */
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { claudeVersion, ROOT, runClaude } from './claude-code-cli';
import { FakeBedrock } from '../support/fake-bedrock';

export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'claude-code');
/** The models recorded: Claude Code's own default, and a 4.x model set with ANTHROPIC_MODEL. */
export const RECORDED_MODELS: readonly { readonly label: string; readonly anthropicModel?: string }[] = [
  { label: 'default' },
  { label: 'claude-sonnet-4-6', anthropicModel: 'claude-sonnet-4-6' },
];
const PROMPT = 'Say hi';

export interface RecordedClaudeRequest {
  readonly method: string;
  readonly path: string;
  /** The `anthropic-beta` header, when there was one. */
  readonly anthropicBeta?: string;
  readonly body: Record<string, unknown>;
}

/** A minimal first-party Messages API: answers every request with a short streamed reply, and records it. */
async function firstPartyCapture(): Promise<{ url: string; requests: RecordedClaudeRequest[]; close: () => Promise<void> }> {
  const requests: RecordedClaudeRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        body = {};
      }
      requests.push({ method: req.method ?? '', path: req.url ?? '', anthropicBeta: req.headers['anthropic-beta'] as string | undefined, body });
      if (req.method !== 'POST' || !(req.url ?? '').startsWith('/v1/messages')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"type":"error","error":{"type":"not_found_error","message":"not found"}}');
        return;
      }
      const model = typeof body.model === 'string' ? body.model : 'claude';
      const events: unknown[] = [
        { type: 'message_start', message: { id: 'msg_rec', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } },
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } },
        { type: 'content_block_stop', index: 0 },
        { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } },
        { type: 'message_stop' },
      ];
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const e of events) res.write(`event: ${(e as { type: string }).type}\ndata: ${JSON.stringify(e)}\n\n`);
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          id: 'msg_rec', type: 'message', role: 'assistant', model, content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 10, output_tokens: 2 },
        }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The conversation request: the first POST that carries tools (background calls carry none). */
function mainRequest(requests: readonly RecordedClaudeRequest[]): RecordedClaudeRequest {
  const found = requests.find((r) => r.method === 'POST' && Array.isArray(r.body.tools) && (r.body.tools as unknown[]).length > 0);
  if (!found) throw new Error(`no conversation request among ${requests.length}: ${requests.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  return found;
}

/** Replaces what is local to this machine and run with placeholders, everywhere in the request. */
export function scrub(request: RecordedClaudeRequest, local: { cwd: string; home: string }): RecordedClaudeRequest {
  let text = JSON.stringify(request);
  // Claude Code also names the working directory as a project slug (`-tmp-claude-cwd-x1y2`).
  const slug = local.cwd.replace(/[^A-Za-z0-9]/g, '-');
  for (const [value, placeholder] of [[local.cwd, '<cwd>'], [local.home, '<home>'], [slug, '<cwd-slug>']] as const) {
    text = text.split(value).join(placeholder);
  }
  text = text.replace(/OS Version: [^\\"]*/g, 'OS Version: <os-version>');
  text = text.replace(/\\"(device_id|session_id|account_uuid)\\":\\"[^\\"]*\\"/g, '\\"$1\\":\\"<$1>\\"');
  return JSON.parse(text) as RecordedClaudeRequest;
}

export async function record(): Promise<string> {
  const version = await claudeVersion();
  const dir = path.join(FIXTURES, version);
  for (const model of RECORDED_MODELS) {
    const modelEnv: Record<string, string> = model.anthropicModel ? { ANTHROPIC_MODEL: model.anthropicModel } : {};
    const capture = await firstPartyCapture();
    const fake = new FakeBedrock({ acceptAnyClaudeBody: true });
    await fake.start();
    try {
      const firstParty = await runClaude(['-p', PROMPT], {
        env: { ANTHROPIC_BASE_URL: capture.url, ANTHROPIC_API_KEY: 'sk-record-0123456789', ...modelEnv },
      });
      const bedrock = await runClaude(['-p', PROMPT], {
        env: {
          CLAUDE_CODE_USE_BEDROCK: '1',
          ANTHROPIC_BEDROCK_BASE_URL: fake.url,
          CLAUDE_CODE_SKIP_BEDROCK_AUTH: '1',
          AWS_REGION: 'us-east-1',
          ...modelEnv,
        },
      });
      const fp = scrub(mainRequest(capture.requests), firstParty);
      const br = scrub(mainRequest(fake.requests.map((r) => ({ method: r.method, path: r.path, anthropicBeta: r.headers['anthropic-beta'], body: r.body as Record<string, unknown> }))), bedrock);
      const out = path.join(dir, model.label);
      fs.mkdirSync(out, { recursive: true });
      fs.writeFileSync(path.join(out, 'first-party.json'), `${JSON.stringify(fp, null, 2)}\n`);
      fs.writeFileSync(path.join(out, 'bedrock.json'), `${JSON.stringify(br, null, 2)}\n`);
      process.stdout.write(`recorded Claude Code ${version}, ${model.label}: ${fp.path} (${String(fp.body.model)}) and ${br.path}\n`);
    } finally {
      await capture.close();
      await fake.stop();
    }
  }
  return dir;
}

if (require.main === module) {
  record().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
