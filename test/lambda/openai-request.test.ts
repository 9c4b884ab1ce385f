import { ProxyError } from '../../lambda/streaming-proxy/errors';
import { chatToCanonical } from '../../lambda/streaming-proxy/openai/request';
import { validateChatBody, type ChatCompletionBody } from '../../lambda/streaming-proxy/openai/validate';

function body(b: unknown): ChatCompletionBody {
  const result = validateChatBody(b);
  if (!result.ok) throw new Error(`${result.error.path}: ${result.error.message}`);
  return result.value;
}

function rejection(b: unknown): ProxyError {
  try {
    chatToCanonical(body(b), 4096);
  } catch (err) {
    if (err instanceof ProxyError) return err;
    throw err;
  }
  throw new Error('expected a ProxyError');
}

describe('chatToCanonical', () => {
  test('moves system and developer messages into system and keeps the turn order', () => {
    const { request } = chatToCanonical(body({
      model: 'gpt-ish',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'developer', content: [{ type: 'text', text: 'Use metric units.' }] },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
        { role: 'user', content: 'Weather?' },
      ],
    }), 4096);
    expect(request.system).toEqual([{ type: 'text', text: 'You are terse.' }, { type: 'text', text: 'Use metric units.' }]);
    expect(request.messages).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'user', content: 'Weather?' },
    ]);
    expect(request.max_tokens).toBe(4096);
  });

  test('translates tools, tool_calls and tool results, merging consecutive tool messages', () => {
    const { request } = chatToCanonical(body({
      model: 'm',
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'rain' }] },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      tool_choice: 'required',
      parallel_tool_calls: false,
    }), 4096);
    expect(request.tools).toEqual([{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }]);
    expect(request.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(request.messages[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'call_2', name: 'get_weather', input: { city: 'Rome' } },
      ],
    });
    expect(request.messages[2]).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'call_1', content: 'sunny' },
        { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: 'rain' }] },
      ],
    });
  });

  test('maps tool_choice forms', () => {
    const tools = [{ type: 'function', function: { name: 'f' } }];
    const m = [{ role: 'user', content: 'x' }];
    expect(chatToCanonical(body({ model: 'm', messages: m, tools, tool_choice: 'none' }), 10).request.tool_choice).toEqual({ type: 'none' });
    expect(chatToCanonical(body({ model: 'm', messages: m, tools, tool_choice: 'auto' }), 10).request.tool_choice).toEqual({ type: 'auto' });
    expect(chatToCanonical(body({ model: 'm', messages: m, tools, tool_choice: { type: 'function', function: { name: 'f' } } }), 10).request.tool_choice)
      .toEqual({ type: 'tool', name: 'f' });
    expect(chatToCanonical(body({ model: 'm', messages: m, tools }), 10).request.tools![0].input_schema).toEqual({ type: 'object', properties: {} });
  });

  test('turns data-URL images and files into image and document blocks', () => {
    const { request } = chatToCanonical(body({
      model: 'm',
      messages: [{
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
          { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } },
        ],
      }],
    }), 100);
    expect(request.messages[0].content).toEqual([
      { type: 'text', text: 'What is this?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' }, title: 'a.pdf' },
    ]);
  });

  test('prefers max_completion_tokens, maps stop and clamps temperature to the Anthropic range', () => {
    const { request } = chatToCanonical(body({
      model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 50, max_completion_tokens: 70, stop: 'END', temperature: 1.7, top_p: 0.9, user: 'u-1',
    }), 4096);
    expect(request).toMatchObject({ max_tokens: 70, stop_sequences: ['END'], temperature: 1, top_p: 0.9, metadata: { user_id: 'u-1' } });
  });

  test('accepts null for unset fields, as OpenAI clients send them', () => {
    const { request, includeUsage } = chatToCanonical(body({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: null,
      stop: null,
      temperature: null,
      tools: null,
      stream: true,
      stream_options: { include_usage: true },
      seed: 7,
      presence_penalty: 0.5,
    }), 321);
    expect(request.max_tokens).toBe(321);
    expect(request.stream).toBe(true);
    expect(includeUsage).toBe(true);
  });

  test('maps reasoning_effort to a thinking budget below max_tokens and drops sampling overrides', () => {
    const high = chatToCanonical(body({ model: 'm', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'high', max_tokens: 32000, temperature: 0.3 }), 10);
    expect(high.request.thinking).toEqual({ type: 'enabled', budget_tokens: 16384 });
    expect(high.request.temperature).toBeUndefined();
    const tight = chatToCanonical(body({ model: 'm', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'medium', max_tokens: 3000 }), 10);
    expect(tight.request.thinking).toEqual({ type: 'enabled', budget_tokens: 2999 });
    const tiny = chatToCanonical(body({ model: 'm', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'low', max_tokens: 500 }), 10);
    expect(tiny.request.thinking).toBeUndefined();
    const minimal = chatToCanonical(body({ model: 'm', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'minimal' }), 4096);
    expect(minimal.request.thinking).toBeUndefined();
  });

  test('reasoning_effort is not turned into thinking where Claude would reject it (forced tool choice, a tool-use turn to continue)', () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const ask = { role: 'user', content: 'Weather in Paris?' };
    const call = { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] };
    const result = { role: 'tool', tool_call_id: 'call_1', content: '18 C' };

    // The first turn, tools offered, the model free to choose: thinking on.
    const first = chatToCanonical(body({ model: 'm', max_tokens: 8000, reasoning_effort: 'low', tools, messages: [ask] }), 10);
    expect(first.request.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
    expect(first.dropped).toEqual([]);
    // Forced tool use (required or a named function): Claude allows thinking only with auto / none.
    for (const toolChoice of ['required', { type: 'function', function: { name: 'get_weather' } }]) {
      const forced = chatToCanonical(body({ model: 'm', max_tokens: 8000, reasoning_effort: 'low', temperature: 0.2, tools, tool_choice: toolChoice, messages: [ask] }), 10);
      expect(forced.request.thinking).toBeUndefined();
      expect(forced.request.tool_choice?.type).toMatch(/^(any|tool)$/);
      expect(forced.request.temperature).toBe(0.2);
      expect(forced.dropped).toEqual(['reasoning_effort']);
    }
    // Continuing after a tool call: the assistant turn would have to start with its signed thinking block.
    const loop = chatToCanonical(body({ model: 'm', max_tokens: 8000, reasoning_effort: 'low', tools, messages: [ask, call, result] }), 10);
    expect(loop.request.thinking).toBeUndefined();
    expect(loop.dropped).toEqual(['reasoning_effort']);
    // A later turn whose last assistant message is plain text: thinking on again.
    const conversation = [ask, call, result, { role: 'assistant', content: 'It is 18 C.' }, { role: 'user', content: 'And tomorrow?' }];
    const later = chatToCanonical(body({ model: 'm', max_tokens: 8000, reasoning_effort: 'low', tools, messages: conversation }), 10);
    expect(later.request.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
  });

  test('sends Claude temperature or top_p, never both (Claude 4.5 and later reject the pair)', () => {
    const both = chatToCanonical(body({ model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 0.7, top_p: 0.9 }), 10, { claude: true });
    expect(both.request.temperature).toBe(0.7);
    expect(both.request.top_p).toBeUndefined();
    expect(both.dropped).toEqual(['top_p']);
    // Other models (Converse, self-hosted) take both.
    const other = chatToCanonical(body({ model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 0.7, top_p: 0.9 }), 10);
    expect(other.request).toMatchObject({ temperature: 0.7, top_p: 0.9 });
    expect(other.dropped).toEqual([]);
    const topOnly = chatToCanonical(body({ model: 'm', messages: [{ role: 'user', content: 'x' }], top_p: 0.9, temperature: null }), 10);
    expect(topOnly.request.top_p).toBe(0.9);
    expect(topOnly.dropped).toEqual([]);
  });

  test('response_format json_schema becomes Claude\'s output_config.format where the upstream can honour it', () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const responseFormat = { type: 'json_schema', json_schema: { name: 'place', schema, strict: true } };
    const ok = chatToCanonical(body({ model: 'm', messages: [{ role: 'user', content: 'x' }], response_format: responseFormat }), 10, { structuredOutputs: true });
    expect(ok.request.extra).toEqual({ output_config: { format: { type: 'json_schema', schema } } });
    // Models that cannot constrain their output, a json_schema without a schema, and json_object: a 400 on the param.
    const refused = [
      () => chatToCanonical(body({ model: 'm', messages: [{ role: 'user', content: 'x' }], response_format: responseFormat }), 10),
      () => chatToCanonical(body({ model: 'm', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'p' } } }), 10, { structuredOutputs: true }),
      () => chatToCanonical(body({ model: 'm', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } }), 10, { structuredOutputs: true }),
    ];
    for (const call of refused) expect(call).toThrow(expect.objectContaining({ kind: 'invalid_request', options: expect.objectContaining({ param: 'response_format' }) }));
  });

  test('reads a data URL typed image/jpg as JPEG', () => {
    const { request } = chatToCanonical(body({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/jpg;base64,/9j/AA==' } }] }] }), 10);
    expect(request.messages[0].content).toEqual([{ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/AA==' } }]);
  });

  test('rejects what it cannot honour with the OpenAI param', () => {
    const m = [{ role: 'user', content: 'x' }];
    expect(rejection({ model: 'm', messages: m, n: 2 }).options.param).toBe('n');
    expect(rejection({ model: 'm', messages: m, response_format: { type: 'json_object' } }).options.param).toBe('response_format');
    expect(rejection({ model: 'm', messages: [{ role: 'system', content: 'only system' }] }).options.param).toBe('messages');
    expect(rejection({
      model: 'm',
      messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }] }],
    }).options.param).toBe('messages[0].tool_calls[0].function.arguments');
    expect(rejection({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,AA' } }] }] }).options.param)
      .toBe('messages[0].content[0].image_url.url');
    expect(rejection({ model: 'm', messages: [{ role: 'function', name: 'f', content: 'x' }] }).options.param).toBe('messages[0].role');
    expect(rejection({ model: 'm', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] }).status('openai')).toBe(400);
  });
});

describe('validateChatBody', () => {
  test('names the wrong field', () => {
    const result = validateChatBody({ model: 'm', messages: [{ role: 'tool', content: 'x' }] });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(`${result.error.path}: ${result.error.message}`).toBe('messages.0.tool_call_id: is required');
    const role = validateChatBody({ model: 'm', messages: [{ role: 'robot', content: 'x' }] });
    expect(role.ok).toBe(false);
    if (!role.ok) expect(role.error.message).toMatch(/^role must be one of "system", "developer", "user", "assistant", "tool"/);
  });
});
