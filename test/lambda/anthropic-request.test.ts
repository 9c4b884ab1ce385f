import { BETA_DECISIONS, claudeModelInfo, LONG_CONTEXT_BETA, meets, selectBetas } from '../../lambda/streaming-proxy/anthropic/betas';
import { countTokensToCanonical, messagesToCanonical } from '../../lambda/streaming-proxy/anthropic/request';
import type { MessagesBody } from '../../lambda/streaming-proxy/anthropic/validate';

const body: MessagesBody = { model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] };

const OPUS_5_5 = ['claude-opus-5-5', 'global.anthropic.claude-opus-5-5'];
const SONNET_4_6 = ['claude-sonnet-4-6', 'global.anthropic.claude-sonnet-4-6'];

describe('claudeModelInfo', () => {
  test('reads the family and version from catalogue ids, dated ids, Bedrock ids and old names', () => {
    expect(claudeModelInfo('claude-opus-5-5')).toEqual({ family: 'opus', version: 505 });
    expect(claudeModelInfo('claude-sonnet-5')).toEqual({ family: 'sonnet', version: 500 });
    expect(claudeModelInfo('claude-haiku-4-5-20251001')).toEqual({ family: 'haiku', version: 405 });
    expect(claudeModelInfo('claude-sonnet-4-20250514')).toEqual({ family: 'sonnet', version: 400 });
    expect(claudeModelInfo('global.anthropic.claude-opus-4-6-v1')).toEqual({ family: 'opus', version: 406 });
    expect(claudeModelInfo('us.anthropic.claude-3-7-sonnet-20250219-v1:0')).toEqual({ family: 'sonnet', version: 307 });
    expect(claudeModelInfo('claude-mythos-preview')).toEqual({ family: 'mythos' });
    expect(claudeModelInfo('house-model')).toBeUndefined();
  });

  test('a model without a version meets every "since"; an unrecognised one meets none', () => {
    expect(meets({ family: 'mythos' }, { since: '4.7' })).toBe(true);
    expect(meets(undefined, { since: '4.7' })).toBe(false);
    expect(meets(undefined, { except: ['haiku 4.5'] })).toBe(true);
    expect(meets({ family: 'haiku', version: 405 }, { except: ['haiku 4.5'] })).toBe(false);
    expect(meets({ family: 'haiku', version: 505 }, { except: ['haiku 4.5'] })).toBe(true);
  });
});

describe('the beta table', () => {
  test('records a decision and a reason for every flag, once', () => {
    const flags = BETA_DECISIONS.map((d) => d.flag);
    expect(new Set(flags).size).toBe(flags.length);
    for (const d of BETA_DECISIONS) expect(d.why.length).toBeGreaterThan(10);
    expect(flags).toEqual(expect.arrayContaining([
      // Everything current Claude Code sends (2.1.33x, see test/fixtures/claude-code).
      'claude-code-20250219', 'interleaved-thinking-2025-05-14', 'context-management-2025-06-27', 'per-turn-control-2026-07-01',
      'mid-conversation-tool-changes-2026-07-01', 'thinking-token-count-2026-05-13', 'advanced-tool-use-2025-11-20', 'effort-2025-11-24',
    ]));
  });

  test('sends Bedrock what Claude Code\'s Bedrock mode sends for the flags of its first request', () => {
    const header = 'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,per-turn-control-2026-07-01,'
      + 'mid-conversation-tool-changes-2026-07-01,thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,effort-2025-11-24';
    const opus = selectBetas(header, [], claudeModelInfo(OPUS_5_5[0]));
    expect(opus.allowed.sort()).toEqual(['interleaved-thinking-2025-05-14', 'thinking-token-count-2026-05-13', 'tool-search-tool-2025-10-19']);
    expect(opus.dropped).toEqual(['claude-code-20250219', 'context-management-2025-06-27', 'per-turn-control-2026-07-01',
      'mid-conversation-tool-changes-2026-07-01', 'effort-2025-11-24']);
    const sonnet = selectBetas(header, [], claudeModelInfo(SONNET_4_6[0]));
    expect(sonnet.allowed.sort()).toEqual(['interleaved-thinking-2025-05-14', 'tool-search-tool-2025-10-19']);
    expect(sonnet.dropped).toContain('thinking-token-count-2026-05-13');
    const haiku = selectBetas(header, [], claudeModelInfo('claude-haiku-4-5'));
    expect(haiku.allowed).toEqual(['tool-search-tool-2025-10-19']);
  });

  test('drops unknown flags, de-duplicates, and keeps the 1M-context flag when a client sends it', () => {
    const header = 'brand-new-beta-2027-01-01, interleaved-thinking-2025-05-14,oauth-2025-04-20,interleaved-thinking-2025-05-14';
    expect(selectBetas(header, [])).toEqual({
      allowed: ['interleaved-thinking-2025-05-14'],
      dropped: ['brand-new-beta-2027-01-01', 'oauth-2025-04-20'],
    });
    expect(selectBetas(LONG_CONTEXT_BETA, []).allowed).toEqual([LONG_CONTEXT_BETA]);
    expect(selectBetas('tool-search-tool-2025-10-19,advanced-tool-use-2025-11-20', []).allowed).toEqual(['tool-search-tool-2025-10-19']);
  });

  test('honours PROXY_EXTRA_BETAS for every model, over the table', () => {
    expect(selectBetas(undefined, ['fine-grained-tool-streaming-2025-05-14']).allowed).toEqual([]);
    expect(selectBetas('fine-grained-tool-streaming-2025-05-14', ['fine-grained-tool-streaming-2025-05-14']).allowed)
      .toEqual(['fine-grained-tool-streaming-2025-05-14']);
    expect(selectBetas('context-management-2025-06-27', ['context-management-2025-06-27'], undefined).allowed)
      .toEqual(['context-management-2025-06-27']);
  });
});

describe('messagesToCanonical', () => {
  test('maps the anthropic-beta header to anthropic_beta after the table', () => {
    const { request, dropped } = messagesToCanonical(body, {
      betaHeader: 'claude-code-20250219,interleaved-thinking-2025-05-14',
      extraBetas: [],
      modelNames: SONNET_4_6,
    });
    expect(request.anthropic_beta).toEqual(['interleaved-thinking-2025-05-14']);
    expect(dropped.betas).toEqual(['claude-code-20250219']);
  });

  test('passes unknown top-level fields through unchanged, and context_management only with its beta', () => {
    const withFields = { ...body, context_management: { edits: [] }, service_tier: 'auto', container: 'c', brand_new: { a: [1] } };
    const off = messagesToCanonical(withFields, { betaHeader: 'context-management-2025-06-27', extraBetas: [] });
    expect(off.request.extra).toEqual({ service_tier: 'auto', container: 'c', brand_new: { a: [1] } });
    expect(off.dropped.fields).toEqual(['context_management']);
    const on = messagesToCanonical(withFields, { betaHeader: 'context-management-2025-06-27', extraBetas: ['context-management-2025-06-27'] });
    expect(on.request.extra).toEqual({ context_management: { edits: [] }, service_tier: 'auto', container: 'c', brand_new: { a: [1] } });
    expect(on.dropped.fields).toEqual([]);
  });

  test('keeps thinking.display for Claude 4.7 and later and drops it for earlier models, as Claude Code\'s Bedrock mode does', () => {
    const adaptive = { ...body, thinking: { type: 'adaptive' as const, display: 'omitted', future_option: 1 } };
    const opus = messagesToCanonical(adaptive, { extraBetas: [], modelNames: OPUS_5_5 });
    expect(opus.request.thinking).toBe(adaptive.thinking);
    expect(opus.dropped.fields).toEqual([]);
    const sonnet = messagesToCanonical(adaptive, { extraBetas: [], modelNames: SONNET_4_6 });
    expect(sonnet.request.thinking).toEqual({ type: 'adaptive', future_option: 1 });
    expect(sonnet.dropped.fields).toEqual(['thinking.display']);
    expect(adaptive.thinking.display).toBe('omitted');
  });

  test('drops output_config.effort for Claude before 4.6 and the whole field when nothing else is in it', () => {
    const effort = { ...body, output_config: { effort: 'high' } };
    expect(messagesToCanonical(effort, { extraBetas: [], modelNames: ['claude-opus-4-5'] }).request.extra).toBeUndefined();
    expect(messagesToCanonical(effort, { extraBetas: [], modelNames: SONNET_4_6 }).request.extra).toEqual({ output_config: { effort: 'high' } });
    const both = { ...body, output_config: { effort: 'high', format: { type: 'json_schema', schema: {} } } };
    expect(messagesToCanonical(both, { extraBetas: [], modelNames: ['claude-opus-4-5'] }).request.extra)
      .toEqual({ output_config: { format: { type: 'json_schema', schema: {} } } });
  });

  test('holds back a turn\'s output_config (per-turn control) unless its beta is sent, leaving the rest of the turn as sent', () => {
    const turn = { role: 'system', content: [{ type: 'text', text: 'Be brief.' }], output_config: { effort: 'medium' } };
    const messages = [{ role: 'user', content: 'hi' }, turn] as unknown as MessagesBody['messages'];
    const off = messagesToCanonical({ ...body, messages }, { betaHeader: 'per-turn-control-2026-07-01', extraBetas: [], modelNames: OPUS_5_5 });
    expect(off.request.messages).toEqual([{ role: 'user', content: 'hi' }, { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] }]);
    expect(off.request.messages[0]).toBe(messages[0]);
    expect(off.dropped.fields).toEqual(['messages[].output_config']);
    const on = messagesToCanonical({ ...body, messages }, {
      betaHeader: 'per-turn-control-2026-07-01', extraBetas: ['per-turn-control-2026-07-01'], modelNames: OPUS_5_5,
    });
    expect(on.request.messages).toBe(messages);
  });

  test('keeps system-role turns and blocks of unknown types in the conversation, as sent', () => {
    const messages = [
      { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'brand_new_block', payload: { x: 1 } }] },
      { role: 'system', content: [{ type: 'text', text: 'Be terse from here on.' }] },
    ] as unknown as MessagesBody['messages'];
    const { request } = messagesToCanonical({ ...body, messages }, { extraBetas: [], modelNames: OPUS_5_5 });
    expect(request.messages).toBe(messages);
  });

  test('passes output_config (structured outputs, effort) without a beta flag, as the SDK sends it', () => {
    const outputConfig = { format: { type: 'json_schema', schema: { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] } } };
    const { request, dropped } = messagesToCanonical({ ...body, output_config: outputConfig }, { extraBetas: [] });
    expect(request.extra).toEqual({ output_config: outputConfig });
    expect(dropped.fields).toEqual([]);
  });

  test('copies the canonical fields and omits what was not sent', () => {
    const { request } = messagesToCanonical({
      ...body,
      system: 'sys',
      stop_sequences: ['x'],
      temperature: 0.2,
      top_k: 5,
      metadata: { user_id: 'u1' },
      stream: true,
    }, { extraBetas: [] });
    expect(request).toEqual({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
      system: 'sys',
      stop_sequences: ['x'],
      temperature: 0.2,
      top_k: 5,
      metadata: { user_id: 'u1' },
      stream: true,
    });
  });

  test('count_tokens requests are not streamed', () => {
    const { request } = countTokensToCanonical({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { extraBetas: [] });
    expect(request.stream).toBeUndefined();
    expect(request.anthropic_beta).toBeUndefined();
  });

  test('count_tokens with a thinking budget sends a max_tokens above it (Bedrock checks the body as InvokeModel does)', () => {
    const messages = [{ role: 'user' as const, content: 'hi' }];
    const thinking = countTokensToCanonical({ model: 'm', messages, thinking: { type: 'enabled', budget_tokens: 4000 } }, { extraBetas: [] });
    expect(thinking.request.thinking).toEqual({ type: 'enabled', budget_tokens: 4000 });
    expect(thinking.request.max_tokens).toBeGreaterThan(4000);
    expect(countTokensToCanonical({ model: 'm', messages }, { extraBetas: [] }).request.max_tokens).toBe(1);
  });
});
