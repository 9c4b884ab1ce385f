import { AnthropicSseEncoder } from '../../lambda/streaming-proxy/anthropic/sse';
import { ProxyError } from '../../lambda/streaming-proxy/errors';
import { MockUpstream } from '../../lambda/streaming-proxy/upstream/mock';
import { call, collect } from '../support/canonical-helpers';
import { parseSse } from '../support/sse';

describe('AnthropicSseEncoder', () => {
  test('writes one event/data frame per canonical event, with the client model restored on message_start', async () => {
    const events = await collect(new MockUpstream().stream(call({ thinking: { type: 'enabled', budget_tokens: 1024 } })));
    const encoder = new AnthropicSseEncoder('claude-sonnet-4-6[1m]');
    const body = events.map((e) => encoder.encode(e)).join('');
    const frames = parseSse(body);
    expect(frames).toHaveLength(events.length);
    frames.forEach((f, i) => {
      expect(f.event).toBe(events[i].type);
      const data = JSON.parse(f.data!);
      if (events[i].type === 'message_start') {
        expect(data.message.model).toBe('claude-sonnet-4-6[1m]');
        expect({ ...data.message, model: 'mock.model-v1' }).toEqual((events[i] as { message: unknown }).message);
      } else {
        expect(data).toEqual(events[i]);
      }
    });
    expect(events[0]).toMatchObject({ message: { model: 'mock.model-v1' } });
  });

  test('writes ping and error frames in the Anthropic format', () => {
    const encoder = new AnthropicSseEncoder('m');
    expect(encoder.ping()).toBe('event: ping\ndata: {"type":"ping"}\n\n');
    const frame = parseSse(encoder.error(new ProxyError('overloaded', 'Bedrock is overloaded')))[0];
    expect(frame.event).toBe('error');
    expect(JSON.parse(frame.data!)).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Bedrock is overloaded' } });
    expect(encoder.end()).toBeUndefined();
  });
});
