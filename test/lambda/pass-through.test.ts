/**
 * The pass-through rule end to end (docs/runtime-contract.md, "Pass-through"), through the shipped dev server and the
 * fake Bedrock: what the proxy does not know reaches Claude unchanged and Bedrock judges it; a translator to another
 * upstream maps what it can and names what it cannot.
 */
import { startDevServerProcess, type DevServerProcess } from '../support/dev-server-process';
import { FakeBedrock } from '../support/fake-bedrock';

let fake: FakeBedrock;
let dev: DevServerProcess;

beforeAll(async () => {
  fake = new FakeBedrock();
  await fake.start();
  dev = await startDevServerProcess({
    args: ['--upstream', 'bedrock', '--region', 'us-east-1'],
    env: { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url, AWS_ACCESS_KEY_ID: 'AKIDPASSTHROUGH', AWS_SECRET_ACCESS_KEY: 'pass-through-secret' },
  });
});
afterAll(async () => {
  await dev?.stop();
  await fake?.stop();
});
beforeEach(() => fake.reset());

async function post(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${dev.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': dev.key, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const systemTurn = { role: 'system', content: [{ type: 'text', text: 'From here on, answer in French.' }] };
const unknownBlock = { type: 'hologram_2027', source: { type: 'base64', media_type: 'model/gltf', data: 'Z2xURg==' }, cache_control: { type: 'ephemeral' } };

describe('a Claude model (InvokeModel or the Messages endpoint)', () => {
  test('gets a system-role turn, thinking.display and metadata exactly as sent, and Bedrock accepts them', async () => {
    const body = {
      model: 'claude-opus-5-5',
      max_tokens: 2048,
      thinking: { type: 'adaptive', display: 'omitted' },
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hi' }] }, systemTurn],
      metadata: { user_id: 'user-1' },
    };
    const { status } = await post(body);
    expect(status).toBe(200);
    const [sent] = fake.requests;
    expect(sent.rejected).toBeUndefined();
    expect(sent.body).toMatchObject({ messages: body.messages, thinking: body.thinking, metadata: body.metadata });
  });

  test('gets a block type the proxy does not know unchanged, and Bedrock\'s 400 comes back in the client\'s protocol', async () => {
    const body = {
      model: 'claude-opus-5-5',
      max_tokens: 256,
      thinking: { type: 'adaptive', display: 'omitted' },
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, unknownBlock] }, systemTurn],
      brand_new_option: { level: 3 },
    };
    const { status, json } = await post(body);
    const [sent] = fake.requests;
    expect((sent.body as Record<string, unknown>).messages).toEqual(body.messages);
    expect((sent.body as Record<string, unknown>).brand_new_option).toEqual({ level: 3 });
    expect(sent.rejected).toBeDefined();
    expect(status).toBe(400);
    expect(json).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining(sent.rejected!) } });
  });
});

describe('a Converse model', () => {
  test('gets a system-role turn as system content', async () => {
    const { status } = await post({ model: 'nova-pro', max_tokens: 256, system: 'Be brief.', messages: [{ role: 'user', content: 'Say hi' }, systemTurn, { role: 'user', content: 'Now.' }] });
    expect(status).toBe(200);
    const [sent] = fake.requests;
    expect(sent.operation).toBe('converse');
    expect((sent.body as { system: unknown }).system).toEqual([{ text: 'Be brief.' }, { text: 'From here on, answer in French.' }]);
  });

  test('gets a 400 that names a block it cannot translate, and Bedrock is not called', async () => {
    const { status, json } = await post({ model: 'nova-pro', max_tokens: 256, messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, unknownBlock] }] });
    expect(status).toBe(400);
    expect(json).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('messages.0.content.1: hologram_2027 blocks cannot be translated for the Converse API') },
    });
    expect(fake.requests).toHaveLength(0);
  });
});
