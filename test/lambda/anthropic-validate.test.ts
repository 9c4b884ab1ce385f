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
    expect(errorOf({ ...valid, messages: [{ role: 'system', content: 'x' }] })).toBe('messages.0.role: must be one of "user", "assistant"');
    expect(errorOf({ ...valid, temperature: 1.5 })).toBe('temperature: must be ≤ 1');
    expect(errorOf({ ...valid, thinking: { type: 'enabled', budget_tokens: 10 } })).toBe('thinking.budget_tokens: must be ≥ 1024');
  });

  test('reports the unknown content block type with the accepted ones', () => {
    const message = errorOf({ ...valid, messages: [{ role: 'user', content: [{ type: 'audio', data: 'x' }] }] });
    expect(message).toMatch(/^messages\.0\.content\.0\.type: type must be one of "text", "image", "document", "tool_use"/);
  });

  test('reports the deepest problem inside a block', () => {
    expect(errorOf({ ...valid, messages: [{ role: 'user', content: [{ type: 'text' }] }] })).toBe('messages.0.content.0.text: is required');
    expect(errorOf({
      ...valid,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'x' } }] }],
    })).toMatch(/^messages\.0\.content\.0\.source\.media_type: must be one of "image\/jpeg"/);
  });

  test('drops unknown fields inside blocks', () => {
    const result = validateMessagesBody({ ...valid, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', surprise: 1 }] }] });
    expect(result.ok && result.value.messages[0].content).toEqual([{ type: 'text', text: 'hi' }]);
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
      { ...valid, messages: [{ role: secret, content: secret }] },
      { ...valid, messages: [{ role: 'user', content: [{ type: secret }] }] },
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
