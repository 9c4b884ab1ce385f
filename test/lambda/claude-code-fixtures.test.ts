/**
 * Claude Code's own Bedrock mode is the oracle for the body the proxy sends Bedrock. For every Claude Code version
 * recorded under test/fixtures/claude-code/ (test/clients/record-claude-code.ts), the first-party request of that version
 * goes through the shipped dev server (`--upstream bedrock`) into the fake Bedrock, and what the fake receives must be
 * the body Claude Code itself sends Bedrock for the same conversation: the same fields, betas, thinking and output
 * options, roles, blocks and tools — with the conversation's text exactly as the client sent it. (Claude Code words a
 * few sentences of its prompt differently per provider, e.g. it names its model's Bedrock id; text is therefore compared
 * with the client's request, and everything else with the Bedrock-mode body.)
 */
import * as fs from 'fs';
import * as path from 'path';
import type { RecordedClaudeRequest } from '../clients/record-claude-code';
import { startDevServerProcess, type DevServerProcess } from '../support/dev-server-process';
import { FakeBedrock } from '../support/fake-bedrock';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'claude-code');
const versions = fs.readdirSync(FIXTURES).filter((v) => /^\d+\.\d+\.\d+$/.test(v));
const cases = versions.flatMap((version) => fs.readdirSync(path.join(FIXTURES, version)).map((model) => ({ version, model })));

function read(version: string, model: string, which: 'first-party' | 'bedrock'): RecordedClaudeRequest {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, version, model, `${which}.json`), 'utf8')) as RecordedClaudeRequest;
}

/** The body with every text replaced by a marker and beta lists sorted: what must match the oracle. */
function shape(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) {
    const items = value.map((v) => shape(v));
    return key === 'anthropic_beta' ? [...(items as string[])].sort() : items;
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = shape(v, k);
    return out;
  }
  if (key === 'text' && typeof value === 'string') return '<text>';
  return value;
}

/** Every text of the conversation, in order. */
function texts(body: Record<string, unknown>): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key?: string): void => {
    if (Array.isArray(v)) v.forEach((x) => walk(x));
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, k);
    else if (key === 'text' && typeof v === 'string') out.push(v);
  };
  walk(body.system);
  walk(body.messages);
  return out;
}

/** `us.anthropic.claude-opus-5-5` and `global.anthropic.claude-opus-5-5` name the same model. */
function foundationModel(id: string): string {
  return id.replace(/^(global|us|eu|apac|jp|au)\./, '');
}

let fake: FakeBedrock;
let dev: DevServerProcess;

beforeAll(async () => {
  fake = new FakeBedrock();
  await fake.start();
  dev = await startDevServerProcess({
    args: ['--upstream', 'bedrock', '--region', 'us-east-1'],
    env: { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url, AWS_ACCESS_KEY_ID: 'AKIDFIXTURES', AWS_SECRET_ACCESS_KEY: 'fixtures-secret' },
  });
});

afterAll(async () => {
  await dev?.stop();
  await fake?.stop();
});

test('fixtures are recorded for the Claude Code version the suite runs', () => {
  const pinned = (JSON.parse(fs.readFileSync(require.resolve('@anthropic-ai/claude-code/package.json'), 'utf8')) as { version: string }).version;
  expect({ pinned, recorded: versions.includes(pinned) ? pinned : `none (run \`npx projen record:claude-code\`): ${versions.join(', ')}` })
    .toEqual({ pinned, recorded: pinned });
});

describe.each(cases)('Claude Code $version, $model', ({ version, model }) => {
  test('the proxy sends Bedrock the body Claude Code\'s Bedrock mode sends for the same first request', async () => {
    const client = read(version, model, 'first-party');
    const oracle = read(version, model, 'bedrock');
    fake.reset();
    const response = await fetch(new URL(client.path, dev.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': dev.key,
        'anthropic-version': '2023-06-01',
        ...(client.anthropicBeta ? { 'anthropic-beta': client.anthropicBeta } : {}),
      },
      body: JSON.stringify(client.body),
    });
    const answer = await response.text();
    expect({ status: response.status, answer: response.status === 200 ? 'ok' : answer }).toEqual({ status: 200, answer: 'ok' });

    const calls = fake.requests.filter((r) => r.operation === 'invoke-with-response-stream' || r.operation === 'messages');
    expect(calls).toHaveLength(1);
    const [sent] = calls;
    expect(sent.rejected).toBeUndefined();
    const { model: sentModel, stream: _stream, ...body } = sent.body as Record<string, unknown>;
    const oracleModel = decodeURIComponent(/^\/model\/([^/]+)\//.exec(oracle.path)![1]);
    expect(foundationModel(String(sentModel ?? sent.modelId))).toBe(foundationModel(oracleModel));

    expect(shape(body)).toEqual(shape(oracle.body));
    expect(texts(body)).toEqual(texts(client.body));
  });
});
