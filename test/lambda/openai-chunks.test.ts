import type { CanonicalEvent } from '../../lambda/shared/canonical';
import { MessageAccumulator } from '../../lambda/streaming-proxy/accumulate';
import { ProxyError } from '../../lambda/streaming-proxy/errors';
import { toChatCompletion } from '../../lambda/streaming-proxy/openai/aggregate';
import { OpenAiChunkEncoder } from '../../lambda/streaming-proxy/openai/chunks';
import { MockUpstream } from '../../lambda/streaming-proxy/upstream/mock';
import { call, collect } from '../support/canonical-helpers';
import { parseSse } from '../support/sse';

const tool = { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

function chunksOf(events: CanonicalEvent[], includeUsage: boolean) {
  const encoder = new OpenAiChunkEncoder('gpt-proxy', includeUsage, 1700000000);
  const body = events.map((e) => encoder.encode(e)).join('') + encoder.end();
  const frames = parseSse(body).filter((f) => f.data !== undefined);
  expect(frames[frames.length - 1].data).toBe('[DONE]');
  return frames.slice(0, -1).map((f) => JSON.parse(f.data!));
}

describe('OpenAiChunkEncoder', () => {
  test('streams role, content deltas and the finish reason, all with the same id and the client model', async () => {
    const events = await collect(new MockUpstream().stream(call({})));
    const chunks = chunksOf(events, false);
    expect(chunks[0]).toEqual({
      id: expect.stringMatching(/^chatcmpl-msg_mock_/),
      object: 'chat.completion.chunk',
      created: 1700000000,
      model: 'gpt-proxy',
      system_fingerprint: null,
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
    });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    const acc = new MessageAccumulator();
    events.forEach((e) => acc.add(e));
    expect(text).toBe((acc.result().content[0] as { text: string }).text);
    expect(chunks[chunks.length - 1].choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' });
  });

  test('streams tool calls with index, id and name first, then argument fragments', async () => {
    const events = await collect(new MockUpstream().stream(call({ tools: [tool], tool_choice: { type: 'any' } })));
    const chunks = chunksOf(events, false);
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toEqual({ index: 0, id: expect.stringMatching(/^toolu_mock_/), type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(JSON.parse(calls.slice(1).map((c: { function: { arguments: string } }) => c.function.arguments).join(''))).toEqual({ city: 'mock' });
    expect(calls.slice(1).every((c: { index: number; id?: string }) => c.index === 0 && c.id === undefined)).toBe(true);
    expect(chunks[chunks.length - 1].choices[0].finish_reason).toBe('tool_calls');
  });

  test('sends thinking as reasoning_content and usage in a final chunk when asked', async () => {
    const events = await collect(new MockUpstream().stream(call({ thinking: { type: 'enabled', budget_tokens: 1024 } })));
    const chunks = chunksOf(events, true);
    expect(chunks.some((c) => typeof c.choices[0]?.delta.reasoning_content === 'string')).toBe(true);
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    const acc = new MessageAccumulator();
    events.forEach((e) => acc.add(e));
    const usage = acc.result().usage;
    expect(last.usage).toEqual({
      prompt_tokens: usage.input_tokens,
      completion_tokens: usage.output_tokens,
      total_tokens: usage.input_tokens + usage.output_tokens,
      prompt_tokens_details: { cached_tokens: 0 },
    });
  });

  test('maps stop reasons to finish reasons', async () => {
    const long = await collect(new MockUpstream().stream(call({ max_tokens: 3 })));
    expect(chunksOf(long, false).pop().choices[0].finish_reason).toBe('length');
  });

  test('renders errors as an OpenAI error chunk and pings as comments', () => {
    const encoder = new OpenAiChunkEncoder('m', false);
    expect(JSON.parse(parseSse(encoder.error(new ProxyError('rate_limit', 'slow down')))[0].data!)).toEqual({
      error: { message: 'slow down', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' },
    });
    expect(encoder.ping()).toBe(': ping\n\n');
  });
});

describe('toChatCompletion', () => {
  test('turns a complete message into a chat.completion with tool calls and usage', async () => {
    const message = await new MockUpstream().complete(call({ tools: [tool], tool_choice: { type: 'any' } }));
    const completion = toChatCompletion(message, 'gpt-proxy', 1700000000);
    expect(completion).toEqual({
      id: `chatcmpl-${message.id}`,
      object: 'chat.completion',
      created: 1700000000,
      model: 'gpt-proxy',
      system_fingerprint: null,
      choices: [{
        index: 0,
        message: {
          role: 'assistant',
          content: 'I will call the get_weather tool.',
          refusal: null,
          tool_calls: [{ id: expect.stringMatching(/^toolu_mock_/), type: 'function', function: { name: 'get_weather', arguments: '{"city":"mock"}' } }],
        },
        logprobs: null,
        finish_reason: 'tool_calls',
      }],
      usage: expect.objectContaining({ prompt_tokens: message.usage.input_tokens, completion_tokens: message.usage.output_tokens }),
    });
  });

  test('counts cached input in prompt_tokens and reports it as cached_tokens', () => {
    const completion = toChatCompletion({
      id: 'm1',
      type: 'message',
      role: 'assistant',
      model: 'x',
      content: [],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 },
    }, 'c');
    expect(completion.usage).toEqual({ prompt_tokens: 130, completion_tokens: 5, total_tokens: 135, prompt_tokens_details: { cached_tokens: 100 } });
    expect(completion.choices[0].message.content).toBeNull();
  });
});
