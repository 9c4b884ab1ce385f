import { BEDROCK_BETA_ALLOWLIST, LONG_CONTEXT_BETA, selectBetas } from '../../lambda/streaming-proxy/anthropic/betas';
import { countTokensToCanonical, messagesToCanonical } from '../../lambda/streaming-proxy/anthropic/request';
import type { MessagesBody } from '../../lambda/streaming-proxy/anthropic/validate';

const body: MessagesBody = { model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] };

describe('selectBetas', () => {
  test('keeps allowlisted flags, drops the rest, and de-duplicates', () => {
    const header = 'claude-code-20250219, interleaved-thinking-2025-05-14,oauth-2025-04-20,interleaved-thinking-2025-05-14';
    expect(selectBetas(header, [])).toEqual({
      allowed: ['interleaved-thinking-2025-05-14'],
      dropped: ['claude-code-20250219', 'oauth-2025-04-20'],
    });
  });

  test('honours PROXY_EXTRA_BETAS, and keeps the 1M-context flag when a client sends it', () => {
    expect(selectBetas(undefined, ['fine-grained-tool-streaming-2025-05-14']).allowed).toEqual([]);
    expect(selectBetas(LONG_CONTEXT_BETA, []).allowed).toEqual([LONG_CONTEXT_BETA]);
    expect(selectBetas('fine-grained-tool-streaming-2025-05-14', ['fine-grained-tool-streaming-2025-05-14']).allowed)
      .toEqual(['fine-grained-tool-streaming-2025-05-14']);
    expect(BEDROCK_BETA_ALLOWLIST).toContain(LONG_CONTEXT_BETA);
  });
});

describe('messagesToCanonical', () => {
  test('maps the anthropic-beta header to anthropic_beta after the allowlist', () => {
    const { request, dropped } = messagesToCanonical(body, {
      betaHeader: 'claude-code-20250219,context-management-2025-06-27',
      extraBetas: [],
    });
    expect(request.anthropic_beta).toEqual(['context-management-2025-06-27']);
    expect(dropped.betas).toEqual(['claude-code-20250219']);
  });

  test('passes an extra field only together with its beta flag, and drops unknown fields', () => {
    const withFields = { ...body, context_management: { edits: [] }, service_tier: 'auto', container: 'c' };
    const on = messagesToCanonical(withFields, { betaHeader: 'context-management-2025-06-27', extraBetas: [] });
    expect(on.request.extra).toEqual({ context_management: { edits: [] } });
    expect(on.dropped.fields).toEqual(['service_tier', 'container']);
    const off = messagesToCanonical(withFields, { extraBetas: [] });
    expect(off.request.extra).toBeUndefined();
    expect(off.dropped.fields).toEqual(['context_management', 'service_tier', 'container']);
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
      metadata: { user_id: null },
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
