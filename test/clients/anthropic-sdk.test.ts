/**
 * The newest `@anthropic-ai/sdk` and `openai` as clients of the shipped dev server, on the mock and through the fake
 * Bedrock. The request types are the SDK's own: `everyMessageParam` and `everyBlock` must name every `MessageParam`
 * variant and every content-block param type the SDK exports (the mapped types below do not compile otherwise), so an SDK
 * upgrade that adds a variant fails the type check here — then the proxy's handling of it is decided here, not by a user.
 */
import Anthropic from '@anthropic-ai/sdk';
import { zodOutputFormat } from '@anthropic-ai/sdk/helpers/zod';
import type {
  ContentBlockParam,
  MessageCreateParamsNonStreaming,
  MessageParam,
  ToolResultBlockParam,
} from '@anthropic-ai/sdk/resources/messages';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import * as z from 'zod';
import { startDevServerProcess, type DevServerProcess } from '../support/dev-server-process';
import { FakeBedrock } from '../support/fake-bedrock';

type ByType<U extends { type: string }> = { [K in U['type']]: Extract<U, { type: K }> };
type ByRole<U extends { role: string }> = { [K in U['role']]: Extract<U, { role: K }> };
type ToolResultPart = Exclude<ToolResultBlockParam['content'], string | undefined>[number];

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

/** One block of every content-block param type of the SDK. */
const everyBlock: ByType<ContentBlockParam> = {
  text: { type: 'text', text: 'Look at these.', cache_control: { type: 'ephemeral' } },
  image: { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
  document: { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'A short document.' }, title: 'notes' },
  search_result: { type: 'search_result', source: 'https://example.com/a', title: 'A', content: [{ type: 'text', text: 'result text' }] },
  thinking: { type: 'thinking', thinking: 'Let me think.', signature: 'c2lnbmF0dXJl' },
  redacted_thinking: { type: 'redacted_thinking', data: 'b3BhcXVl' },
  tool_use: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
  tool_result: { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
  server_tool_use: { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'weather' } },
  web_search_tool_result: { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: { type: 'web_search_tool_result_error', error_code: 'unavailable' } },
  web_fetch_tool_result: { type: 'web_fetch_tool_result', tool_use_id: 'srvtoolu_2', content: { type: 'web_fetch_tool_result_error', error_code: 'unavailable' } },
  code_execution_tool_result: { type: 'code_execution_tool_result', tool_use_id: 'srvtoolu_3', content: { type: 'code_execution_tool_result_error', error_code: 'unavailable' } },
  bash_code_execution_tool_result: {
    type: 'bash_code_execution_tool_result', tool_use_id: 'srvtoolu_4', content: { type: 'bash_code_execution_tool_result_error', error_code: 'unavailable' },
  },
  text_editor_code_execution_tool_result: {
    type: 'text_editor_code_execution_tool_result', tool_use_id: 'srvtoolu_5', content: { type: 'text_editor_code_execution_tool_result_error', error_code: 'unavailable' },
  },
  tool_search_tool_result: { type: 'tool_search_tool_result', tool_use_id: 'srvtoolu_6', content: { type: 'tool_search_tool_search_result', tool_references: [{ type: 'tool_reference', tool_name: 'get_weather' }] } },
  container_upload: { type: 'container_upload', file_id: 'file_1' },
};

/** One part of every type a tool result may carry. */
const everyToolResultPart: ByType<ToolResultPart> = {
  text: { type: 'text', text: 'sunny' },
  image: { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
  search_result: { type: 'search_result', source: 'https://example.com/b', title: 'B', content: [{ type: 'text', text: 'b' }] },
  document: { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc' } },
  tool_reference: { type: 'tool_reference', tool_name: 'get_weather' },
  browser_state: { type: 'browser_state', tabs: [] },
};

/** One turn of every MessageParam variant: every block, a tool result with every part, and a system turn. */
const everyMessageParam: ByRole<MessageParam> = {
  user: { role: 'user', content: [...Object.values(everyBlock), { type: 'tool_result', tool_use_id: 'toolu_1', content: Object.values(everyToolResultPart) }] },
  assistant: { role: 'assistant', content: [{ type: 'text', text: 'Noted.' }] },
  system: { role: 'system', content: [{ type: 'text', text: 'From here on, answer in one line.' }] },
};

function everything(model: string): MessageCreateParamsNonStreaming {
  return {
    model,
    max_tokens: 256,
    messages: [everyMessageParam.user, everyMessageParam.assistant, everyMessageParam.system, { role: 'user', content: 'Say hi' }],
  };
}

describe('the SDKs against the dev server on the mock', () => {
  let server: DevServerProcess;
  let anthropic: Anthropic;
  let openai: OpenAI;
  beforeAll(async () => {
    server = await startDevServerProcess();
    anthropic = new Anthropic({ baseURL: server.url, apiKey: server.key, maxRetries: 0 });
    openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: server.key, maxRetries: 0 });
  });
  afterAll(async () => server?.stop());

  test('a request with every MessageParam variant and every content-block type the SDK exports is accepted', async () => {
    const message = await anthropic.messages.create(everything('claude-opus-5-5'));
    expect(message).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'end_turn' });
    expect(message.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('Mock reply to "Say hi"') });
  });

  test('messages.parse() with a zod schema gets schema-valid JSON', async () => {
    const Weather = z.object({ city: z.string(), temperature_c: z.number(), conditions: z.enum(['sunny', 'rain']), alerts: z.array(z.string()) });
    const message = await anthropic.messages.parse({
      model: 'claude-sonnet-4-6',
      max_tokens: 512,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      output_config: { format: zodOutputFormat(Weather) },
    });
    expect(Weather.parse(message.parsed_output)).toEqual(message.parsed_output);
  });

  test('chat.completions.parse() with a zod response_format gets schema-valid JSON', async () => {
    const Answer = z.object({ answer: z.string(), confidence: z.number().min(0).max(1) });
    const completion = await openai.chat.completions.parse({
      model: 'claude-sonnet-4-6',
      messages: [{ role: 'user', content: 'Is the sky blue?' }],
      response_format: zodResponseFormat(Answer, 'answer'),
    });
    expect(Answer.parse(completion.choices[0].message.parsed)).toEqual(completion.choices[0].message.parsed);
  });
});

describe('the SDK through the fake Bedrock', () => {
  let fake: FakeBedrock;
  let server: DevServerProcess;
  let anthropic: Anthropic;
  beforeAll(async () => {
    fake = new FakeBedrock();
    await fake.start();
    server = await startDevServerProcess({
      args: ['--upstream', 'bedrock', '--region', 'us-east-1'],
      env: { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url, AWS_ACCESS_KEY_ID: 'AKIDSDKTYPES', AWS_SECRET_ACCESS_KEY: 'sdk-types-secret' },
    });
    anthropic = new Anthropic({ baseURL: server.url, apiKey: server.key, maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.stop();
    await fake?.stop();
  });

  test('every MessageParam variant and content-block type reaches Claude unchanged, and Bedrock\'s verdict comes back', async () => {
    const request = everything('claude-opus-5-5');
    let outcome: string;
    try {
      await anthropic.messages.create(request);
      outcome = 'accepted';
    } catch (err) {
      // Bedrock judges what it does not take (server-tool results, container uploads …): its 400, in Anthropic's shape.
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      outcome = 'refused by Bedrock';
    }
    const calls = fake.requests.filter((r) => r.operation === 'messages' || r.operation === 'invoke-with-response-stream' || r.operation === 'invoke');
    expect(calls).toHaveLength(1);
    expect((calls[0].body as { messages: unknown }).messages).toEqual(request.messages);
    expect(['accepted', 'refused by Bedrock']).toContain(outcome);
    expect(outcome === 'accepted').toBe(calls[0].rejected === undefined);
  });
});
