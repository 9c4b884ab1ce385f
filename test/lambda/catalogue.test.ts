import * as fs from 'fs';
import * as path from 'path';
import { Catalogue, DEFAULT_MODELS, foundationModelId, parseModelsEnv } from '../../lambda/streaming-proxy/catalogue';

describe('default catalogue', () => {
  const catalogue = new Catalogue();

  test('resolves Claude Code default models and their dated ids to Bedrock inference profiles', () => {
    expect(catalogue.resolve('claude-sonnet-4-5')).toMatchObject({
      upstream: 'bedrock-invoke', target: 'global.anthropic.claude-sonnet-4-5-20250929-v1:0', longContext: false,
    });
    expect(catalogue.resolve('claude-sonnet-4-5-20250929')?.target).toBe('global.anthropic.claude-sonnet-4-5-20250929-v1:0');
    expect(catalogue.resolve('claude-haiku-4-5-20251001')?.target).toBe('global.anthropic.claude-haiku-4-5-20251001-v1:0');
    expect(catalogue.resolve('claude-opus-4-1-20250805')?.target).toBe('us.anthropic.claude-opus-4-1-20250805-v1:0');
    expect(catalogue.resolve('claude-opus-4-6')?.target).toBe('global.anthropic.claude-opus-4-6-v1');
    expect(catalogue.resolve('claude-sonnet-4-6')?.target).toBe('global.anthropic.claude-sonnet-4-6');
    expect(catalogue.resolve('claude-sonnet-5-5')).toMatchObject({ upstream: 'bedrock-messages', target: 'global.anthropic.claude-sonnet-5-5' });
  });

  test('every model id the installed Anthropic SDK knows resolves, in the catalogue or through the claude-* rule', () => {
    // The SDK's Model union is a type; its members are listed in the published .d.ts.
    const sdkDir = path.dirname(require.resolve('@anthropic-ai/sdk'));
    const dts = fs.readFileSync(path.join(sdkDir, 'resources', 'messages', 'messages.d.ts'), 'utf8');
    const line = dts.split('\n').find((l) => l.startsWith('export type Model = '))!;
    const ids = [...line.matchAll(/'(claude-[^']+)'/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(10);
    for (const id of ids) {
      const resolved = catalogue.resolve(id);
      expect(resolved).toBeDefined();
      expect(resolved!.target).toMatch(/^(global|us)\.anthropic\.claude-/);
      expect(resolved!.pricing).toBeDefined();
    }
  });

  test("strips Claude Code's [1m] suffix and marks the request as long-context", () => {
    const resolved = catalogue.resolve('claude-sonnet-4-6[1m]');
    expect(resolved).toMatchObject({ id: 'claude-sonnet-4-6', requested: 'claude-sonnet-4-6[1m]', longContext: true });
    expect(catalogue.resolve('claude-sonnet-4-5-20250929[1M]')?.longContext).toBe(true);
  });

  test('accepts a Bedrock id as the model name', () => {
    expect(catalogue.resolve('global.anthropic.claude-sonnet-4-6')?.id).toBe('claude-sonnet-4-6');
  });

  test('maps unknown claude-* ids by pattern: dated ids to -v1:0 InvokeModel ids, undated ids to the Messages endpoint', () => {
    expect(catalogue.resolve('claude-sonnet-7-20301231')).toMatchObject({
      upstream: 'bedrock-invoke', target: 'global.anthropic.claude-sonnet-7-20301231-v1:0', countTokens: true,
    });
    const undated = catalogue.resolve('claude-opus-9');
    expect(undated).toMatchObject({ upstream: 'bedrock-messages', target: 'global.anthropic.claude-opus-9' });
    // Priced like the newest catalogue model of the same family.
    expect(undated!.pricing).toEqual(DEFAULT_MODELS.find((m) => m.id === 'claude-opus-5-5')!.pricing);
  });

  test('the fallback prefix follows PROXY_CLAUDE_FALLBACK, and none turns it off', () => {
    expect(new Catalogue({ claudeFallback: 'eu' }).resolve('claude-x-1')?.target).toBe('eu.anthropic.claude-x-1');
    expect(new Catalogue({ claudeFallback: 'apac' }).resolve('claude-x-1-20300101')?.target).toBe('apac.anthropic.claude-x-1-20300101-v1:0');
    expect(new Catalogue({ claudeFallback: 'direct' }).resolve('claude-x-1')?.target).toBe('anthropic.claude-x-1');
    expect(new Catalogue({ claudeFallback: 'none' }).resolve('claude-x-1')).toBeUndefined();
    expect(new Catalogue({ claudeFallback: 'none' }).resolve('claude-sonnet-4-6')).toBeDefined();
  });

  test('does not resolve unknown non-Claude names or names that would inject into a Bedrock id', () => {
    expect(catalogue.resolve('gpt-4o')).toBeUndefined();
    expect(catalogue.resolve('claude-../../x')).toBeUndefined();
    expect(catalogue.resolve('claude-sonnet:1')).toBeUndefined();
    expect(catalogue.resolve('')).toBeUndefined();
    expect(catalogue.resolve('[1m]')).toBeUndefined();
  });

  test('resolves non-Anthropic models to ConverseStream', () => {
    expect(catalogue.resolve('nova-pro')).toMatchObject({ upstream: 'bedrock-converse', target: 'us.amazon.nova-pro-v1:0' });
    expect(catalogue.resolve('llama-3-3-70b')?.upstream).toBe('bedrock-converse');
  });

  test('lists the catalogue with unique names', () => {
    const names = catalogue.list().flatMap((m) => [m.id, ...(m.aliases ?? [])]);
    expect(new Set(names).size).toBe(names.length);
    expect(catalogue.list().length).toBe(DEFAULT_MODELS.length);
  });
});

describe('PROXY_MODELS', () => {
  const selfHosted = {
    id: 'qwen-coder',
    upstream: 'openai-compatible',
    target: 'Qwen/Qwen2.5-Coder-32B-Instruct',
    baseUrl: 'http://10.0.1.5:8000/v1',
    apiKeySecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:vllm-key-AbCdEf',
    pricing: { inputPerMTok: 0, outputPerMTok: 0 },
  };

  test('adds entries to the default catalogue', () => {
    const catalogue = new Catalogue({ models: parseModelsEnv(JSON.stringify({ models: [selfHosted] })) });
    expect(catalogue.resolve('qwen-coder')).toMatchObject({ upstream: 'openai-compatible', baseUrl: 'http://10.0.1.5:8000/v1' });
    expect(catalogue.resolve('claude-sonnet-4-6')).toBeDefined();
  });

  test('an entry with a default id replaces that default, aliases included', () => {
    const config = parseModelsEnv(JSON.stringify({
      models: [{ id: 'claude-sonnet-4-5', aliases: ['claude-sonnet-4-5-20250929'], upstream: 'bedrock-invoke', target: 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0', region: 'eu-west-1' }],
    }));
    const catalogue = new Catalogue({ models: config });
    expect(catalogue.resolve('claude-sonnet-4-5-20250929')).toMatchObject({ target: 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0', region: 'eu-west-1' });
    expect(catalogue.list().filter((m) => m.id === 'claude-sonnet-4-5')).toHaveLength(1);
  });

  test('replace: true drops the defaults (the claude-* rule still applies unless turned off)', () => {
    const catalogue = new Catalogue({ models: parseModelsEnv(JSON.stringify({ replace: true, models: [selfHosted] })), claudeFallback: 'none' });
    expect(catalogue.list().map((m) => m.id)).toEqual(['qwen-coder']);
    expect(catalogue.resolve('nova-pro')).toBeUndefined();
    expect(catalogue.resolve('claude-sonnet-4-6')).toBeUndefined();
  });

  test.each([
    ['not JSON', '{models:', /PROXY_MODELS is not valid JSON/],
    ['no models array', '{}', /PROXY_MODELS: models/],
    ['unknown upstream', JSON.stringify({ models: [{ id: 'a', upstream: 'vertex', target: 'x' }] }), /models\.0\.upstream/],
    ['openai-compatible without baseUrl', JSON.stringify({ models: [{ id: 'a', upstream: 'openai-compatible', target: 'x' }] }), /baseUrl is required/],
    ['baseUrl on a Bedrock model', JSON.stringify({ models: [{ id: 'a', upstream: 'bedrock-converse', target: 'x', baseUrl: 'http://h/v1' }] }), /baseUrl is only used/],
    ['a secret value instead of an ARN', JSON.stringify({ models: [{ ...selfHosted, apiKeySecretArn: 'sk-live-123' }] }), /apiKeySecretArn must be a Secrets Manager secret ARN/],
    ['negative price', JSON.stringify({ models: [{ id: 'a', upstream: 'bedrock-converse', target: 'x', pricing: { inputPerMTok: -1, outputPerMTok: 1 } }] }), /pricing\.inputPerMTok/],
    ['bad region', JSON.stringify({ models: [{ id: 'a', upstream: 'bedrock-converse', target: 'x', region: 'mars' }] }), /region must be an AWS region/],
    ['unknown field', JSON.stringify({ models: [{ id: 'a', upstream: 'bedrock-converse', target: 'x', tarjet: 'y' }] }), /PROXY_MODELS: models\.0/],
    ['empty failover', JSON.stringify({ models: [{ id: 'a', upstream: 'bedrock-converse', target: 'x', failover: {} }] }), /failover needs a region or a target/],
    ['duplicate names', JSON.stringify({ models: [{ id: 'a', upstream: 'bedrock-converse', target: 'x' }, { id: 'b', aliases: ['A'], upstream: 'bedrock-converse', target: 'y' }] }), /"A" is used by both "a" and "b"/],
  ])('rejects %s with a message naming the variable', (_name, json, message) => {
    expect(() => parseModelsEnv(json)).toThrow(message);
  });
});

describe('PROXY_UPSTREAM=mock', () => {
  test('resolves names exactly as production does and answers each resolved model with the mock, keeping catalogue data', () => {
    const mock = new Catalogue({ upstream: 'mock' });
    const production = new Catalogue();
    expect(mock.resolve('claude-sonnet-4-6[1m]')).toMatchObject({ upstream: 'mock', id: 'claude-sonnet-4-6', longContext: true, pricing: { inputPerMTok: 3 } });
    // Claude Code's own names go through the claude-* rule, as they do in production.
    expect(mock.resolve('claude-opus-9-9')).toMatchObject({ upstream: 'mock', target: 'global.anthropic.claude-opus-9-9' });
    for (const name of ['anything-at-all', 'gpt-4o', 'claude_bad name']) {
      expect(production.resolve(name)).toBeUndefined();
      expect(mock.resolve(name)).toBeUndefined();
    }
    expect(new Catalogue({ upstream: 'mock', claudeFallback: 'none' }).resolve('claude-opus-9-9')).toBeUndefined();
  });
});

test('foundationModelId strips inference-profile prefixes only', () => {
  expect(foundationModelId('global.anthropic.claude-sonnet-4-6')).toBe('anthropic.claude-sonnet-4-6');
  expect(foundationModelId('us.amazon.nova-pro-v1:0')).toBe('amazon.nova-pro-v1:0');
  expect(foundationModelId('mistral.mistral-large-2407-v1:0')).toBe('mistral.mistral-large-2407-v1:0');
  expect(foundationModelId('arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.x')).toBe('arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.x');
});
