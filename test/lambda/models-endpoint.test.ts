import { ProxyError } from '../../lambda/streaming-proxy/errors';
import { listModels } from '../../lambda/streaming-proxy/models-endpoint';
import type { ModelEntry } from '../../lambda/streaming-proxy/upstream/types';

const entries: ModelEntry[] = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, upstream: 'bedrock-invoke', target: `global.anthropic.${id}`, displayName: id.toUpperCase() }));

describe('listModels', () => {
  const q = (s: string) => new URLSearchParams(s);
  test('pages forward with limit and after_id', () => {
    expect(listModels(entries, 'anthropic', q('limit=2'))).toEqual({
      data: [
        { type: 'model', id: 'a', display_name: 'A', created_at: '1970-01-01T00:00:00Z' },
        { type: 'model', id: 'b', display_name: 'B', created_at: '1970-01-01T00:00:00Z' },
      ],
      has_more: true,
      first_id: 'a',
      last_id: 'b',
    });
    expect(listModels(entries, 'anthropic', q('limit=2&after_id=d'))).toMatchObject({ has_more: false, first_id: 'e', last_id: 'e' });
  });

  test('pages backward with before_id', () => {
    expect(listModels(entries, 'anthropic', q('limit=2&before_id=d'))).toMatchObject({ first_id: 'b', last_id: 'c', has_more: true });
    expect(listModels(entries, 'anthropic', q('limit=5&before_id=c'))).toMatchObject({ first_id: 'a', last_id: 'b', has_more: false });
  });

  test('rejects bad paging parameters', () => {
    expect(() => listModels(entries, 'anthropic', q('limit=0'))).toThrow(ProxyError);
    expect(() => listModels(entries, 'anthropic', q('after_id=zzz'))).toThrow(/after_id/);
  });

  test('lists everything in the OpenAI shape, owned by the model provider', () => {
    expect(listModels(entries, 'openai', q('limit=1'))).toEqual({
      object: 'list',
      data: entries.map((e) => ({ id: e.id, object: 'model', created: 0, owned_by: 'anthropic' })),
    });
  });
});
