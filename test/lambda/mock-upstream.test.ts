import { UpstreamError } from '../../lambda/shared/canonical';
import { MessageAccumulator } from '../../lambda/streaming-proxy/accumulate';
import { MockUpstream } from '../../lambda/streaming-proxy/upstream/mock';
import { call, collect, grammarViolation } from '../support/canonical-helpers';

const weatherTool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer', minimum: 1 } },
    required: ['city', 'unit', 'days'],
  },
};

function withoutIds(events: unknown[]): string {
  return JSON.stringify(events).replace(/"(msg|toolu)_mock_[0-9a-f]+"/g, '"id"');
}

function messageId(events: Array<{ type: string; message?: { id: string } }>): string | undefined {
  return events.find((e) => e.type === 'message_start')?.message?.id;
}

describe('MockUpstream', () => {
  test('streams a well-formed text answer that quotes the prompt', async () => {
    const events = await collect(new MockUpstream().stream(call({})));
    expect(grammarViolation(events)).toBeUndefined();
    const acc = new MessageAccumulator();
    events.forEach((e) => acc.add(e));
    const message = acc.result();
    expect(message.model).toBe('mock.model-v1');
    expect(message.stop_reason).toBe('end_turn');
    expect(message.content).toHaveLength(1);
    expect(message.content[0]).toMatchObject({ type: 'text', text: expect.stringMatching(/^Mock reply to "Hello there"\. /) });
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(10);
  });

  test('is deterministic, except for ids, which are unique', async () => {
    const a = await collect(new MockUpstream().stream(call({})));
    const b = await collect(new MockUpstream().stream(call({})));
    expect(withoutIds(a)).toEqual(withoutIds(b));
    expect(messageId(a)).not.toBe(messageId(b));
    const c = await collect(new MockUpstream().stream(call({ messages: [{ role: 'user', content: 'Something else' }] })));
    expect(withoutIds(c)).not.toEqual(withoutIds(a));
  });

  test('thinks first, with thinking deltas and a signature, when thinking is enabled', async () => {
    const events = await collect(new MockUpstream().stream(call({ thinking: { type: 'enabled', budget_tokens: 2048 } })));
    expect(grammarViolation(events)).toBeUndefined();
    const acc = new MessageAccumulator();
    events.forEach((e) => acc.add(e));
    const [thinking, text] = acc.result().content;
    expect(thinking).toMatchObject({ type: 'thinking', thinking: expect.stringMatching(/^Thinking about/), signature: expect.any(String) });
    expect((thinking as { signature: string }).signature.length).toBeGreaterThan(20);
    expect(text.type).toBe('text');
  });

  test('calls a tool when a directive asks, with input that fits its schema and the values given, streamed as input_json_delta', async () => {
    const events = await collect(new MockUpstream().stream(call({
      messages: [{ role: 'user', content: 'Weather please [[mock: tool=get_weather city="New York" days=3]]' }],
      tools: [weatherTool],
    })));
    expect(grammarViolation(events)).toBeUndefined();
    expect(events.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'input_json_delta').length).toBeGreaterThan(1);
    const acc = new MessageAccumulator();
    events.forEach((e) => acc.add(e));
    const message = acc.result();
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content[1]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'New York', unit: 'celsius', days: 3 } });
    expect((message.content[1] as { id: string }).id).toMatch(/^toolu_mock_[0-9a-f]{24}$/);
  });

  test('never calls a tool merely named in the prompt (an agent\'s prompt names all its tools)', async () => {
    const message = await new MockUpstream().complete(call({
      messages: [{ role: 'user', content: 'You can use get_weather, Bash and Agent. Say hi.' }],
      tools: [weatherTool, { name: 'Bash', input_schema: { type: 'object' } }, { name: 'Agent', input_schema: { type: 'object' } }],
    }));
    expect(message.stop_reason).toBe('end_turn');
    expect(message.content.map((b) => b.type)).toEqual(['text']);
  });

  test('gives every tool call its own id, also for the same request', async () => {
    const request = call({ messages: [{ role: 'user', content: '[[mock: tool=get_weather]]' }], tools: [weatherTool] });
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const message = await new MockUpstream().complete(request);
      ids.add((message.content.find((b) => b.type === 'tool_use') as { id: string }).id);
    }
    expect(ids.size).toBe(5);
  });

  test('answers the tool result instead of calling the tool again', async () => {
    const message = await new MockUpstream().complete(call({
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'Use get_weather' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'get_weather', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: '21 degrees' }] },
      ],
    }));
    expect(message.stop_reason).toBe('end_turn');
    expect(message.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('The tool returned "21 degrees"') });
  });

  test('does not call tools when tool_choice is none, and always calls one when it is any', async () => {
    const none = await new MockUpstream().complete(call({
      tools: [weatherTool], tool_choice: { type: 'none' }, messages: [{ role: 'user', content: '[[mock: tool=get_weather]]' }],
    }));
    expect(none.stop_reason).toBe('end_turn');
    const any = await new MockUpstream().complete(call({ tools: [weatherTool], tool_choice: { type: 'any' } }));
    expect(any.stop_reason).toBe('tool_use');
  });

  test('sends only the signature of its thinking when thinking.display is omitted', async () => {
    const events = await collect(new MockUpstream().stream(call({ thinking: { type: 'adaptive', display: 'omitted' } })));
    expect(grammarViolation(events)).toBeUndefined();
    expect(events.some((e) => e.type === 'content_block_delta' && e.delta.type === 'thinking_delta')).toBe(false);
    expect(events.some((e) => e.type === 'content_block_delta' && e.delta.type === 'signature_delta')).toBe(true);
  });

  test('answers output_config.format with JSON that satisfies the schema', async () => {
    const schema = {
      type: 'object',
      properties: { city: { type: 'string' }, temperature: { type: 'number', minimum: -50 }, tags: { type: 'array', items: { type: 'string' } } },
      required: ['city', 'temperature', 'tags'],
      additionalProperties: false,
    };
    const message = await new MockUpstream().complete(call({
      messages: [{ role: 'user', content: 'Weather in Paris as JSON' }],
      extra: { output_config: { format: { type: 'json_schema', schema } } },
    }));
    expect(message.stop_reason).toBe('end_turn');
    expect(JSON.parse((message.content[0] as { text: string }).text)).toEqual({ city: 'mock', temperature: 1, tags: ['mock'] });
  });

  test('quotes the prompt, not the system reminders Claude Code puts in the same message, and reads directives there', async () => {
    const message = await new MockUpstream().complete(call({
      tools: [{ name: 'Write', input_schema: { type: 'object', properties: { file_path: { type: 'string' }, content: { type: 'string' } }, required: ['file_path', 'content'] } }],
      messages: [{
        role: 'user',
        content: [
          { type: 'text', text: '<system-reminder>\nYou may use Write and Bash.\n</system-reminder>' },
          { type: 'text', text: 'Create the file [[mock: tool=Write file_path=/tmp/x/hello.txt content="Hello, \\"proxy\\"!\\n"]]' },
        ],
      }],
    }));
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'I will call the Write tool.' });
    expect(message.content[1]).toMatchObject({ type: 'tool_use', name: 'Write', input: { file_path: '/tmp/x/hello.txt', content: 'Hello, "proxy"!\n' } });
    const plain = await new MockUpstream().complete(call({
      messages: [{ role: 'user', content: [{ type: 'text', text: '<system-reminder>ignore me</system-reminder>' }, { type: 'text', text: 'Say hi' }] }],
    }));
    expect((plain.content[0] as { text: string }).text).toMatch(/^Mock reply to "Say hi"\./);
  });

  test('after a tool result it answers with text, even when the directive that called the tool is still in the conversation', async () => {
    const message = await new MockUpstream().complete(call({
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'Go [[mock: tool=get_weather]]' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'get_weather', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'sunny' }, { type: 'text', text: '<system-reminder>todo list empty</system-reminder>' }] },
      ],
    }));
    expect(message.stop_reason).toBe('end_turn');
    expect((message.content[0] as { text: string }).text).toContain('The tool returned "sunny"');
  });

  test('stops at a stop sequence and reports it', async () => {
    const message = await new MockUpstream().complete(call({ messages: [{ role: 'user', content: 'Hi' }], stop_sequences: ['streams'] }));
    expect(message.stop_reason).toBe('stop_sequence');
    expect(message.stop_sequence).toBe('streams');
    expect((message.content[0] as { text: string }).text).not.toContain('streams');
  });

  test('stops at max_tokens', async () => {
    const message = await new MockUpstream().complete(call({ max_tokens: 5, messages: [{ role: 'user', content: '[[mock: words=500]]' }] }));
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.usage.output_tokens).toBe(5);
  });

  test('reports prompt-cache writes, then reads, for a marked prefix', async () => {
    const upstream = new MockUpstream();
    const request = {
      system: [{ type: 'text' as const, text: 'policy '.repeat(1000), cache_control: { type: 'ephemeral' as const } }],
    };
    const first = await upstream.complete(call(request));
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(1024);
    expect(first.usage.cache_read_input_tokens).toBe(0);
    const second = await upstream.complete(call(request));
    expect(second.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    expect(second.usage.cache_creation_input_tokens).toBe(0);
  });

  test('fails before the first event, or mid-stream, on request', async () => {
    await expect(collect(new MockUpstream().stream(call({ messages: [{ role: 'user', content: '[[mock: error=throttling]]' }] }))))
      .rejects.toMatchObject({ name: 'UpstreamError', kind: 'throttling', upstreamStatus: 429 });
    const seen: string[] = [];
    let thrown: unknown;
    try {
      for await (const e of new MockUpstream().stream(call({ messages: [{ role: 'user', content: '[[mock: error=overloaded after=3]]' }] }))) seen.push(e.type);
    } catch (err) {
      thrown = err;
    }
    expect(seen).toEqual(['message_start', 'ping', 'content_block_start']);
    expect(thrown).toBeInstanceOf(UpstreamError);
    expect((thrown as UpstreamError).kind).toBe('overloaded');
  });

  test('paces deltas and stops early when aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const seen: string[] = [];
    for await (const e of new MockUpstream({ deltaDelayMs: 20 }).stream(call({ messages: [{ role: 'user', content: '[[mock: words=400]]' }] }, controller.signal))) {
      seen.push(e.type);
      if (seen.length === 5) controller.abort();
    }
    expect(Date.now() - started).toBeLessThan(1000);
    expect(seen).not.toContain('message_stop');
  });

  test('produces large replies in bounded deltas', async () => {
    let bytes = 0;
    let largest = 0;
    for await (const e of new MockUpstream().stream(call({ max_tokens: 1_000_000, messages: [{ role: 'user', content: '[[mock: bytes=200000]]' }] }))) {
      if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') {
        bytes += e.delta.text.length;
        largest = Math.max(largest, e.delta.text.length);
      }
    }
    expect(bytes).toBe(200_000);
    expect(largest).toBeLessThanOrEqual(1100);
  });

  test('counts tokens', async () => {
    await expect(new MockUpstream().countTokens(call({}))).resolves.toBeGreaterThan(0);
  });
});
