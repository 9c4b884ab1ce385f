import type { CanonicalEvent } from '../../lambda/shared/canonical';
import { MessageAccumulator } from '../../lambda/streaming-proxy/accumulate';

describe('MessageAccumulator', () => {
  test('rebuilds the message from deltas, including tool input JSON, signatures and final usage', () => {
    const events: CanonicalEvent[] = [
      {
        type: 'message_start',
        message: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'm',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 12, output_tokens: 1, cache_read_input_tokens: 3 },
        },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'let me ' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'see' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'c2ln' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'redacted_thinking', data: 'opaque' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'content_block_start', index: 2, content_block: { type: 'text', text: '' } },
      { type: 'ping' },
      { type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: 'Hello' } },
      { type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: ' world' } },
      { type: 'content_block_stop', index: 2 },
      { type: 'content_block_start', index: 3, content_block: { type: 'tool_use', id: 't1', name: 'f', input: {} } },
      { type: 'content_block_delta', index: 3, delta: { type: 'input_json_delta', partial_json: '{"a":' } },
      { type: 'content_block_delta', index: 3, delta: { type: 'input_json_delta', partial_json: '[1,2]}' } },
      { type: 'content_block_stop', index: 3 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 42 } },
      { type: 'message_stop' },
    ];
    const acc = new MessageAccumulator();
    for (const e of events) {
      expect(acc.complete).toBe(false);
      acc.add(e);
    }
    expect(acc.complete).toBe(true);
    expect(acc.result()).toEqual({
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'm',
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 42, cache_read_input_tokens: 3 },
      content: [
        { type: 'thinking', thinking: 'let me see', signature: 'c2ln' },
        { type: 'redacted_thinking', data: 'opaque' },
        { type: 'text', text: 'Hello world' },
        { type: 'tool_use', id: 't1', name: 'f', input: { a: [1, 2] } },
      ],
    });
  });

  test('keeps the blocks of Claude\'s tool search, so a session\'s saved turn can be sent back', () => {
    const references = { type: 'tool_search_tool_search_result', tool_references: [{ type: 'tool_reference', tool_name: 'get_weather' }] };
    const events: CanonicalEvent[] = [
      {
        type: 'message_start',
        message: { id: 'msg_2', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'server_tool_use', id: 'srvtoolu_1', name: 'tool_search_tool_regex', input: {} } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"pattern":' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '"weather"}' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_search_tool_result', tool_use_id: 'srvtoolu_1', content: references } },
      { type: 'content_block_stop', index: 1 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 9 } },
      { type: 'message_stop' },
    ];
    const acc = new MessageAccumulator();
    for (const e of events) acc.add(e);
    expect(acc.result().content).toEqual([
      { type: 'server_tool_use', id: 'srvtoolu_1', name: 'tool_search_tool_regex', input: { pattern: 'weather' } },
      { type: 'tool_search_tool_result', tool_use_id: 'srvtoolu_1', content: references },
    ]);
  });

  test('refuses to build a message without message_start', () => {
    expect(() => new MessageAccumulator().result()).toThrow(/before message_start/);
  });
});
