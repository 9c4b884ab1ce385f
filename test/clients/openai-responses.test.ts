/**
 * The newest `openai` SDK's Responses API (`client.responses.*`) against the shipped dev server: on the mock (sessions
 * in memory, so `store` and `previous_response_id` work) and through the fake Bedrock with a Claude model. What an
 * application sees: `create`, `stream()` (its accumulated final response equals the non-streamed one), a function-calling
 * round trip, `previous_response_id`, `parse` with a zod schema, reasoning items that carry Claude's thinking into the
 * next turn, mid-stream failures, and 400s in OpenAI's error shape that name the param.
 */
import OpenAI from 'openai';
import { zodTextFormat } from 'openai/helpers/zod';
import type { Response, ResponseInputItem, ResponseStreamEvent } from 'openai/resources/responses/responses';
import * as z from 'zod';
import { startDevServerProcess, type DevServerProcess } from '../support/dev-server-process';
import { FakeBedrock, type FakeRequest, type FakeResponse } from '../support/fake-bedrock';

jest.setTimeout(60_000);

const MODEL = 'claude-sonnet-4-6';
const WEATHER_TOOL = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'The weather in a city.',
  strict: false,
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
};

/** The fields the SDK's stream() helper adds to what the server sent (its parse() conveniences, null without a format). */
const SDK_PARSE_FIELDS = new Set(['parsed', 'output_parsed', 'parsed_arguments']);

/** A response as the server sent it, with the parts that differ between two runs (ids, timestamps) blanked. */
function comparable(response: Response): unknown {
  return JSON.parse(JSON.stringify(response, (key, value: unknown) => (SDK_PARSE_FIELDS.has(key) && value === null ? undefined : value))
    .replace(/resp_[0-9a-f]{32}/g, 'resp_X')
    .replace(/"(msg|fc|rs|ctc)_[0-9a-f]{32}_(\d+)"/g, '"$1_X_$2"')
    .replace(/"call_id":"[^"]+"/g, '"call_id":"X"')
    .replace(/"created_at":\d+/g, '"created_at":0'));
}

async function expectBadRequest(promise: Promise<unknown>, param: string, message: RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.BadRequestError);
  const e = error as InstanceType<typeof OpenAI.BadRequestError>;
  expect({ status: e.status, param: e.param, type: e.type }).toEqual({ status: 400, param, type: 'invalid_request_error' });
  expect(e.message).toMatch(message);
}

describe('the Responses API on the mock', () => {
  let server: DevServerProcess;
  let openai: OpenAI;
  beforeAll(async () => {
    server = await startDevServerProcess();
    openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: server.key, maxRetries: 0 });
  });
  afterAll(async () => server?.stop());

  test('responses.create answers with a message item, output_text and usage', async () => {
    const response = await openai.responses.create({ model: MODEL, input: 'Say hi', instructions: 'Be brief.', store: false });
    expect(response).toMatchObject({
      object: 'response',
      status: 'completed',
      model: MODEL,
      instructions: 'Be brief.',
      store: false,
      error: null,
      output: [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: expect.stringContaining('Mock reply to "Say hi".') }] }],
      usage: {
        input_tokens: expect.any(Number),
        output_tokens: expect.any(Number),
        input_tokens_details: { cached_tokens: 0 },
        output_tokens_details: { reasoning_tokens: 0 },
      },
    });
    expect(response.output_text).toContain('Mock reply to "Say hi".');
    expect(response.usage!.total_tokens).toBe(response.usage!.input_tokens + response.usage!.output_tokens);
  });

  test('responses.stream() accumulates the same final response as the non-streamed call (text, reasoning, tool call)', async () => {
    const request = {
      model: MODEL,
      input: 'Check the weather [[mock: tool=get_weather city=Paris think=12]]',
      tools: [WEATHER_TOOL],
      reasoning: { effort: 'low' as const, summary: 'auto' as const },
      include: ['reasoning.encrypted_content' as const],
      max_output_tokens: 4000,
      store: false,
    };
    const whole = await openai.responses.create(request);
    const events: ResponseStreamEvent[] = [];
    const stream = openai.responses.stream(request);
    for await (const event of stream) events.push(event);
    const streamed = await stream.finalResponse();
    expect(comparable(streamed)).toEqual(comparable(whole));
    expect(whole.output.map((item) => item.type)).toEqual(['reasoning', 'message', 'function_call']);
    expect(whole.output[0]).toMatchObject({ summary: [{ type: 'summary_text', text: expect.any(String) }], encrypted_content: expect.stringMatching(/^csl1\./) });
    expect(whole.output[2]).toMatchObject({ name: 'get_weather', arguments: JSON.stringify({ city: 'Paris' }), status: 'completed' });
    // The event sequence: lifecycle first and last, sequence numbers 0, 1, 2, …
    expect(events[0].type).toBe('response.created');
    expect(events[1].type).toBe('response.in_progress');
    expect(events[events.length - 1].type).toBe('response.completed');
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    for (const type of ['response.reasoning_summary_text.delta', 'response.output_text.delta', 'response.function_call_arguments.delta', 'response.output_item.done']) {
      expect(events.map((e) => e.type)).toContain(type);
    }
  });

  test('a function-calling round trip: the call, then its output, then the answer', async () => {
    const first = await openai.responses.create({ model: MODEL, input: 'Weather? [[mock: tool=get_weather city=Oslo]]', tools: [WEATHER_TOOL], store: false });
    const call = first.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{"city":"Oslo"}' });
    const input: ResponseInputItem[] = [
      { role: 'user', content: 'Weather? [[mock: tool=get_weather city=Oslo]]' },
      ...(first.output as ResponseInputItem[]),
      { type: 'function_call_output', call_id: (call as { call_id: string }).call_id, output: 'sunny, 21 C' },
    ];
    const second = await openai.responses.create({ model: MODEL, input, tools: [WEATHER_TOOL], store: false });
    expect(second.output.map((item) => item.type)).toEqual(['message']);
    expect(second.output_text).toContain('The tool returned "sunny, 21 C"');
  });

  test('previous_response_id continues a stored response with only the new items', async () => {
    const first = await openai.responses.create({ model: MODEL, input: 'Weather? [[mock: tool=get_weather city=Rome]]', tools: [WEATHER_TOOL] });
    expect((first as unknown as { store: boolean }).store).toBe(true);
    const call = first.output.find((item) => item.type === 'function_call') as { call_id: string };
    const second = await openai.responses.create({
      model: MODEL,
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'cloudy' }],
      tools: [WEATHER_TOOL],
    });
    expect(second).toMatchObject({ status: 'completed', previous_response_id: first.id });
    expect(second.output_text).toContain('The tool returned "cloudy"');
    const third = await openai.responses.create({ model: MODEL, previous_response_id: second.id, input: 'And tomorrow?' });
    expect(third.output_text).toContain('Mock reply to "And tomorrow?"');
  });

  test('previous_response_id of a response that was not stored is a 404 naming the param', async () => {
    const unstored = await openai.responses.create({ model: MODEL, input: 'Say hi', store: false });
    const error = await openai.responses.create({ model: MODEL, previous_response_id: unstored.id, input: 'Again' }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).param).toBe('previous_response_id');
  });

  test('responses.parse() with a zod text format gets schema-valid JSON', async () => {
    const Answer = z.object({ answer: z.string(), confidence: z.number().min(0).max(1), sources: z.array(z.string()) });
    const response = await openai.responses.parse({ model: MODEL, input: 'Is the sky blue?', text: { format: zodTextFormat(Answer, 'answer') }, store: false });
    expect(Answer.parse(response.output_parsed)).toEqual(response.output_parsed);
  });

  test('a failure mid-stream ends the stream with response.failed and an error the SDK throws', async () => {
    const stream = openai.responses.stream({ model: MODEL, input: 'Say hi [[mock: error=overloaded after=4]]', store: false });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const event of stream) seen.push(event.type);
    })().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(seen).toContain('response.output_text.delta');
    expect(seen[seen.length - 1]).toBe('response.failed');
  });

  test('a cut-short answer is status incomplete with the reason', async () => {
    const response = await openai.responses.create({ model: MODEL, input: 'Tell me more [[mock: words=400]]', max_output_tokens: 20, store: false });
    expect(response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
  });

  test('bad input is a 400 in OpenAI\'s error shape that names the param', async () => {
    await expectBadRequest(
      openai.responses.create({ model: MODEL, input: [{ type: 'no_such_item' } as unknown as ResponseInputItem], store: false }),
      'input[0].type', /no_such_item/,
    );
    await expectBadRequest(
      openai.responses.create({ model: MODEL, input: [{ role: 'user', content: 'hi' }, { type: 'function_call_output', call_id: 'call_unknown', output: 'x' }], store: false }),
      'input[1].call_id', /call_unknown/,
    );
    await expectBadRequest(
      openai.responses.create({ model: MODEL, input: 'hi', tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }], store: false }),
      'tools[0].type', /file_search tool is not supported/,
    );
    await expectBadRequest(
      openai.responses.create({ model: MODEL, input: 'hi', tool_choice: { type: 'function', name: 'missing' }, tools: [WEATHER_TOOL], store: false }),
      'tool_choice.name', /missing/,
    );
    await expectBadRequest(
      openai.responses.create({ model: MODEL, input: [{ role: 'user', content: [{ type: 'input_audio' } as never] }], store: false }),
      'input[0].content[0].type', /input_audio/,
    );
  });
});

describe('the Responses API through the fake Bedrock', () => {
  let fake: FakeBedrock;
  let server: DevServerProcess;
  let openai: OpenAI;

  /** The fake Claude: thinks, then calls get_weather; after the tool result it answers with text. */
  function respond(r: FakeRequest): FakeResponse {
    const messages = (r.body.messages ?? []) as Array<{ role: string; content: unknown }>;
    const last = messages[messages.length - 1];
    const afterResult = Array.isArray(last?.content) && (last.content as Array<{ type: string }>).some((b) => b.type === 'tool_result');
    if (/weather/i.test(r.lastUserText) && !afterResult) {
      return {
        blocks: [
          { type: 'thinking', thinking: 'The user wants the weather; call the tool.', signature: 'c2lnLWZha2UtYmVkcm9jaw==' },
          { type: 'tool_use', id: 'toolu_bdrk_weather', name: 'get_weather', input: { city: 'Lima' } },
        ],
        stopReason: 'tool_use',
      };
    }
    return { blocks: [{ type: 'text', text: afterResult ? 'It is sunny in Lima.' : `Hello from the fake Bedrock (${r.modelId})` }], stopReason: 'end_turn' };
  }

  beforeAll(async () => {
    fake = new FakeBedrock({ respond });
    await fake.start();
    server = await startDevServerProcess({
      args: ['--upstream', 'bedrock', '--region', 'us-east-1'],
      env: { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url, AWS_ACCESS_KEY_ID: 'AKIDRESPONSES', AWS_SECRET_ACCESS_KEY: 'responses-secret' },
    });
    openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: server.key, maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.stop();
    await fake?.stop();
  });

  test('create and stream() answer with the model\'s text', async () => {
    const whole = await openai.responses.create({ model: MODEL, input: 'Say hi', store: false });
    expect(whole.output_text).toContain('Hello from the fake Bedrock');
    const streamed = await openai.responses.stream({ model: MODEL, input: 'Say hi', store: false }).finalResponse();
    expect(comparable(streamed)).toEqual(comparable(whole));
  });

  test('with thinking on, the reasoning item passed back restores the thinking block Claude requires after a tool call', async () => {
    fake.reset();
    const request = {
      model: MODEL,
      tools: [WEATHER_TOOL],
      reasoning: { effort: 'medium' as const },
      include: ['reasoning.encrypted_content' as const],
      max_output_tokens: 16000,
      store: false,
    };
    const first = await openai.responses.create({ ...request, input: 'What is the weather in Lima?' });
    expect(first.output.map((item) => item.type)).toEqual(['reasoning', 'function_call']);
    const call = first.output[1] as { call_id: string };
    const second = await openai.responses.create({
      ...request,
      input: [
        { role: 'user', content: 'What is the weather in Lima?' },
        ...(first.output as ResponseInputItem[]),
        { type: 'function_call_output', call_id: call.call_id, output: 'sunny' },
      ],
    });
    expect(second.output_text).toBe('It is sunny in Lima.');
    const calls = fake.requests.filter((r) => r.operation !== undefined && r.operation !== 'count-tokens');
    expect(calls.map((r) => r.rejected)).toEqual(calls.map(() => undefined));
    type Body = { thinking?: unknown; messages: Array<{ role: string; content: Array<{ type: string; signature?: string }> }> };
    const lastBody = calls[calls.length - 1].body as Body;
    expect(lastBody.thinking).toMatchObject({ type: 'enabled' });
    const assistant = lastBody.messages.find((m) => m.role === 'assistant')!;
    expect(assistant.content.map((b) => b.type)).toEqual(['thinking', 'tool_use']);
    expect(assistant.content[0].signature).toBe('c2lnLWZha2UtYmVkcm9jaw==');
  });
});
