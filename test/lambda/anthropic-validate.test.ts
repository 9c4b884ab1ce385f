import { validateCountTokensBody, validateMessagesBody } from '../../lambda/streaming-proxy/anthropic/validate';

const valid = {
  model: 'claude-sonnet-4-6',
  max_tokens: 1024,
  messages: [{ role: 'user', content: 'Hello' }],
};

function errorOf(body: unknown): string {
  const result = validateMessagesBody(body);
  if (result.ok) throw new Error('expected a validation error');
  return `${result.error.path}: ${result.error.message}`;
}

describe('validateMessagesBody', () => {
  test('accepts a full-fidelity Claude request and keeps its blocks', () => {
    const body = {
      ...valid,
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look', cache_control: { type: 'ephemeral' } },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' }, title: 'doc' },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'hmm', signature: 'sig' },
            { type: 'redacted_thinking', data: 'opaque' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'sunny' }], is_error: false }] },
      ],
      tools: [
        { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
        { type: 'bash_20250124', name: 'bash' },
      ],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      thinking: { type: 'enabled', budget_tokens: 2048 },
      stop_sequences: ['END'],
      temperature: 1,
      metadata: { user_id: 'u1' },
      stream: true,
      context_management: { edits: [] },
    };
    const result = validateMessagesBody(body);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.messages).toEqual(body.messages);
    expect(result.value.tools![1]).toEqual({ type: 'bash_20250124', name: 'bash' });
    expect(result.value.context_management).toEqual({ edits: [] });
  });

  test('names the missing or wrong field', () => {
    expect(errorOf({ ...valid, max_tokens: undefined })).toBe('max_tokens: is required');
    expect(errorOf({ ...valid, max_tokens: 'many' })).toBe('max_tokens: expected a number');
    expect(errorOf({ ...valid, max_tokens: 0 })).toBe('max_tokens: must be ≥ 1');
    expect(errorOf({ ...valid, model: '' })).toBe('model: must not be empty');
    expect(errorOf({ ...valid, messages: [] })).toBe('messages: must have at least 1 item');
    expect(errorOf({ ...valid, messages: [{ role: '', content: 'x' }] })).toBe('messages.0.role: must not be empty');
    expect(errorOf({ ...valid, messages: [{ role: 'user' }] })).toBe('messages.0.content: is required');
    expect(errorOf({ ...valid, messages: [{ role: 'user', content: [{ text: 'no type' }] }] })).toBe('messages.0.content.0.type: is required');
    expect(errorOf({ ...valid, temperature: 1.5 })).toBe('temperature: must be ≤ 1');
    expect(errorOf({ ...valid, thinking: { type: 'enabled', budget_tokens: 10 } })).toBe('thinking.budget_tokens: must be ≥ 1024');
  });

  test('accepts system-role turns and roles it does not know, and keeps them as sent', () => {
    const messages = [
      { role: 'user', content: [{ type: 'text', text: 'Say hi' }] },
      { role: 'system', content: [{ type: 'text', text: 'Answer in French from here on.' }] },
      { role: 'developer_2027', content: 'a role from the future' },
    ];
    const result = validateMessagesBody({ ...valid, messages });
    expect(result.ok && result.value.messages).toBe(messages);
  });

  test('accepts content blocks of types it does not know, with every field', () => {
    const block = { type: 'audio', source: { type: 'base64', media_type: 'audio/wav', data: 'UklGRg==' }, cache_control: { type: 'ephemeral' } };
    const result = validateMessagesBody({ ...valid, messages: [{ role: 'user', content: [{ type: 'text', text: 'listen' }, block] }] });
    expect(result.ok).toBe(true);
    expect(result.ok && result.value.messages[0].content).toEqual([{ type: 'text', text: 'listen' }, block]);
  });

  test('passes thinking options and tool options it does not know, and tools without a name', () => {
    const body = {
      ...valid,
      thinking: { type: 'adaptive', display: 'omitted' },
      tools: [
        { name: 'Read', description: 'Read a file', input_schema: { type: 'object' }, defer_loading: true, strict: true },
        { type: 'mcp_toolset', mcp_server_name: 'github' },
      ],
      tool_choice: { type: 'auto', future_flag: true },
      metadata: { user_id: '{"device_id":"x"}', trace: 'abc' },
    };
    const result = validateMessagesBody(body);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toBe(body);
    expect(result.value.thinking).toEqual({ type: 'adaptive', display: 'omitted' });
  });

  test('reports the deepest problem inside a block of a type the proxy reads', () => {
    expect(errorOf({ ...valid, messages: [{ role: 'user', content: [{ type: 'text' }] }] })).toBe('messages.0.content.0.text: is required');
    expect(errorOf({
      ...valid,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png' } }] }],
    })).toBe('messages.0.content.0.source.data: is required');
    expect(errorOf({
      ...valid,
      messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'x', input: 'not an object' }] }],
    })).toBe('messages.0.content.0.input: expected an object');
    expect(errorOf({
      ...valid,
      messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 1 }] }] }],
    })).toBe('messages.0.content.0.content.0.text: expected a string');
    expect(errorOf({ ...valid, system: [{ type: 'text' }] })).toBe('system.0.text: is required');
  });

  test('keeps unknown fields inside known blocks and new source types, as sent', () => {
    const content = [
      { type: 'text', text: 'hi', surprise: 1 },
      { type: 'image', source: { type: 'file', file_id: 'file_1' } },
      { type: 'image', source: { type: 'base64', media_type: 'image/heic', data: 'AAAA' } },
    ];
    const result = validateMessagesBody({ ...valid, messages: [{ role: 'user', content }] });
    expect(result.ok && result.value.messages[0].content).toBe(content);
  });

  test('rejects bodies that are not objects', () => {
    expect(errorOf([])).toBe(': the request body must be a JSON object');
    expect(errorOf('hello')).toBe(': the request body must be a JSON object');
    expect(errorOf(null)).toBe(': the request body must be a JSON object');
  });

  test('never quotes the offending value', () => {
    const secret = 'sk-ant-secret-value-1234567890';
    for (const body of [
      { ...valid, model: 42, max_tokens: secret },
      { ...valid, messages: [{ role: secret, content: 42 }] },
      { ...valid, messages: [{ role: 'user', content: [{ type: 42, text: secret }] }] },
      { ...valid, tool_choice: { type: secret } },
    ]) {
      expect(errorOf(body)).not.toContain(secret);
    }
  });
});

describe('validateCountTokensBody', () => {
  test('does not require max_tokens', () => {
    expect(validateCountTokensBody({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).ok).toBe(true);
    expect(validateCountTokensBody({ model: 'm' }).ok).toBe(false);
  });
});
