import { Token } from 'aws-cdk-lib';
import { ProxyModel, ProxyModelKind, ProxyModelUpstream } from './models';

/**
 * The Bedrock model and inference-profile ids of the runtime's default catalogue
 * (lambda/streaming-proxy/catalogue.ts), including failover targets. The function's IAM policy is scoped to these
 * (plus the claude-* fallback pattern). A test keeps this list equal to the runtime catalogue's targets.
 *
 * @internal
 */
export const DEFAULT_CATALOGUE_TARGETS: readonly string[] = [
  // Claude (InvokeModel or the Bedrock Anthropic Messages endpoint)
  'global.anthropic.claude-fable-5-1',
  'global.anthropic.claude-fable-5',
  'global.anthropic.claude-mythos-5-1',
  'global.anthropic.claude-mythos-5',
  'global.anthropic.claude-mythos-preview',
  'global.anthropic.claude-opus-5-5',
  'global.anthropic.claude-sonnet-5-5',
  'global.anthropic.claude-haiku-5-5',
  'global.anthropic.claude-opus-5',
  'global.anthropic.claude-sonnet-5',
  'global.anthropic.claude-opus-4-8',
  'global.anthropic.claude-opus-4-7',
  'global.anthropic.claude-opus-4-6-v1',
  'global.anthropic.claude-sonnet-4-6',
  'global.anthropic.claude-opus-4-5-20251101-v1:0',
  'global.anthropic.claude-sonnet-4-5-20250929-v1:0',
  'global.anthropic.claude-haiku-4-5-20251001-v1:0',
  'us.anthropic.claude-opus-4-1-20250805-v1:0',
  'global.anthropic.claude-sonnet-4-20250514-v1:0',
  'us.anthropic.claude-opus-4-20250514-v1:0',
  'us.anthropic.claude-3-7-sonnet-20250219-v1:0',
  'us.anthropic.claude-3-5-haiku-20241022-v1:0',
  // Other Bedrock models (Converse)
  'us.amazon.nova-pro-v1:0',
  'us.amazon.nova-lite-v1:0',
  'us.amazon.nova-micro-v1:0',
  'us.meta.llama3-3-70b-instruct-v1:0',
  'mistral.mistral-large-2407-v1:0',
  'us.deepseek.r1-v1:0',
  'openai.gpt-oss-120b-1:0',
];

/**
 * The Bedrock model ids of the runtime's default embedding models (kind `embedding`), granted `bedrock:InvokeModel`
 * only. A test keeps this list equal to the runtime catalogue's embedding targets.
 *
 * @internal
 */
export const DEFAULT_EMBEDDING_TARGETS: readonly string[] = [
  'amazon.titan-embed-text-v2:0',
  'cohere.embed-english-v3',
  'cohere.embed-multilingual-v3',
  'cohere.embed-v4:0',
];

/**
 * The names (ids and aliases) of the Claude models of the runtime's default catalogue (lambda/streaming-proxy/catalogue.ts),
 * all on an Anthropic-native Bedrock upstream: the models `batches.batchInference.models` may name without adding them to
 * `models`. A test keeps this list equal to the runtime catalogue's Claude models.
 *
 * @internal
 */
export const DEFAULT_CLAUDE_MODELS: readonly { readonly id: string; readonly aliases?: readonly string[] }[] = [
  { id: 'claude-fable-5-1' },
  { id: 'claude-fable-5' },
  { id: 'claude-mythos-5-1' },
  { id: 'claude-mythos-5' },
  { id: 'claude-mythos-preview' },
  { id: 'claude-opus-5-5' },
  { id: 'claude-sonnet-5-5' },
  { id: 'claude-haiku-5-5' },
  { id: 'claude-opus-5' },
  { id: 'claude-sonnet-5' },
  { id: 'claude-opus-4-8' },
  { id: 'claude-opus-4-7' },
  { id: 'claude-opus-4-6' },
  { id: 'claude-sonnet-4-6' },
  { id: 'claude-opus-4-5', aliases: ['claude-opus-4-5-20251101'] },
  { id: 'claude-sonnet-4-5', aliases: ['claude-sonnet-4-5-20250929'] },
  { id: 'claude-haiku-4-5', aliases: ['claude-haiku-4-5-20251001'] },
  { id: 'claude-opus-4-1', aliases: ['claude-opus-4-1-20250805'] },
  { id: 'claude-sonnet-4-0', aliases: ['claude-sonnet-4-20250514', 'claude-sonnet-4'] },
  { id: 'claude-opus-4-0', aliases: ['claude-opus-4-20250514', 'claude-opus-4'] },
  { id: 'claude-3-7-sonnet-latest', aliases: ['claude-3-7-sonnet-20250219'] },
  { id: 'claude-3-5-haiku-latest', aliases: ['claude-3-5-haiku-20241022'] },
];

/** The inference-profile prefixes Bedrock uses for system-defined cross-region profiles. */
const PROFILE_PREFIXES = ['global', 'us', 'eu', 'apac', 'us-gov', 'jp', 'au', 'ca'];

/**
 * A target split into its parts: an ARN used as is, or an inference profile and the foundation model it routes to,
 * or a foundation model alone.
 *
 * @internal
 */
export interface ParsedTarget {
  readonly arn?: string;
  readonly profileId?: string;
  readonly foundationModelId?: string;
}

/** @internal */
export function parseBedrockTarget(target: string): ParsedTarget {
  if (target.startsWith('arn:')) {
    return { arn: target };
  }
  const dot = target.indexOf('.');
  if (dot > 0) {
    const prefix = target.slice(0, dot);
    const rest = target.slice(dot + 1);
    if (PROFILE_PREFIXES.includes(prefix) && rest.includes('.')) {
      return { profileId: target, foundationModelId: rest };
    }
  }
  return { foundationModelId: target };
}

/** @internal */
export function isBedrockUpstream(upstream: ProxyModelUpstream): boolean {
  return upstream === ProxyModelUpstream.BEDROCK_INVOKE
    || upstream === ProxyModelUpstream.BEDROCK_MESSAGES
    || upstream === ProxyModelUpstream.BEDROCK_CONVERSE;
}

/** @internal */
export function isEmbedding(model: ProxyModel): boolean {
  return model.kind === ProxyModelKind.EMBEDDING;
}

/** @internal */
export function upstreamOf(model: ProxyModel): ProxyModelUpstream {
  if (model.upstream) return model.upstream;
  if (model.baseUrl) return ProxyModelUpstream.OPENAI_COMPATIBLE;
  if (model.kind === ProxyModelKind.EMBEDDING) return ProxyModelUpstream.BEDROCK_INVOKE;
  // An ARN names its model after the last '/', e.g. .../foundation-model/anthropic.claude-... or .../inference-profile/us.anthropic...
  const name = model.target.startsWith('arn:') ? model.target.slice(model.target.lastIndexOf('/') + 1) : model.target;
  const fm = parseBedrockTarget(name).foundationModelId ?? name;
  return fm.startsWith('anthropic.') ? ProxyModelUpstream.BEDROCK_INVOKE : ProxyModelUpstream.BEDROCK_CONVERSE;
}

/** Model names clients send (the runtime's rule): no spaces, at most 200 characters. */
const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/;
/** A region name such as us-west-2. */
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d$/;

/**
 * Checks the catalogue entries and throws a sentence naming `models` and what to do instead.
 *
 * @internal
 */
export function validateModels(models: readonly ProxyModel[]): void {
  const seen = new Map<string, string>();
  for (const [i, model] of models.entries()) {
    const where = `models[${i}] ('${model.id}')`;
    for (const name of [model.id, ...(model.aliases ?? [])]) {
      if (!MODEL_ID_PATTERN.test(name)) {
        throw new Error(`${where}: '${name}' is not a valid model name; use up to 200 letters, digits and . _ : / @ + - (no spaces).`);
      }
      const other = seen.get(name.toLowerCase());
      if (other !== undefined) {
        throw new Error(`${where}: the name '${name}' is already used by ${other}; give every model and alias a unique name in \`models\`.`);
      }
      seen.set(name.toLowerCase(), where);
    }
    if (!model.target) {
      throw new Error(`${where}: \`target\` is empty; set it to a Bedrock model id, inference-profile id or ARN.`);
    }
    const upstream = upstreamOf(model);
    if (upstream === ProxyModelUpstream.OPENAI_COMPATIBLE) {
      if (!model.baseUrl) {
        throw new Error(`${where}: an OPENAI_COMPATIBLE model needs \`baseUrl\` (e.g. http://10.0.1.5:8000/v1).`);
      }
      if (!/^https?:\/\//.test(model.baseUrl)) {
        throw new Error(`${where}: \`baseUrl\` must start with http:// or https://, got '${model.baseUrl}'.`);
      }
      if (model.region !== undefined || model.failover?.region !== undefined) {
        throw new Error(`${where}: \`region\` and \`failover.region\` apply to Bedrock models only; remove them.`);
      }
    } else if (model.baseUrl || model.apiKeySecret) {
      throw new Error(`${where}: \`baseUrl\` and \`apiKeySecret\` apply only to OPENAI_COMPATIBLE models; remove them or set \`upstream\`.`);
    }
    for (const [k, v] of [['region', model.region], ['failover.region', model.failover?.region]] as const) {
      if (v !== undefined && !Token.isUnresolved(v) && !REGION_PATTERN.test(v)) {
        throw new Error(`${where}: \`${k}\` must be a region name such as 'us-west-2', got '${v}'.`);
      }
    }
    if (model.kind === ProxyModelKind.EMBEDDING && upstream !== ProxyModelUpstream.BEDROCK_INVOKE && upstream !== ProxyModelUpstream.MOCK) {
      throw new Error(`${where}: embedding models are called through Bedrock InvokeModel; set \`upstream\` to BEDROCK_INVOKE (or MOCK), or leave it unset.`);
    }
    if (model.failover && model.failover.region === undefined && model.failover.target === undefined) {
      throw new Error(`${where}: \`failover\` needs a \`region\` or a \`target\`.`);
    }
    if (model.pricing) {
      const p = model.pricing;
      for (const [k, v] of Object.entries(p)) {
        if (v !== undefined && (typeof v !== 'number' || !(v >= 0))) {
          throw new Error(`${where}: \`pricing.${k}\` must be a non-negative number of USD per million tokens.`);
        }
      }
    }
    for (const [k, v] of [['maxOutputTokens', model.maxOutputTokens], ['contextWindow', model.contextWindow]] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
        throw new Error(`${where}: \`${k}\` must be a positive integer, got ${v}.`);
      }
    }
  }
}

/**
 * The runtime's ModelEntry JSON for one model (lambda/streaming-proxy/upstream/types.ts).
 *
 * @internal
 */
export function toModelEntry(model: ProxyModel): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    id: model.id,
    upstream: upstreamOf(model),
    target: model.target,
  };
  if (model.kind !== undefined) entry.kind = model.kind;
  if (model.aliases && model.aliases.length > 0) entry.aliases = [...model.aliases];
  if (model.displayName !== undefined) entry.displayName = model.displayName;
  if (model.pricing) {
    entry.pricing = Object.fromEntries(Object.entries(model.pricing).filter(([, v]) => v !== undefined));
  }
  if (model.region !== undefined) entry.region = model.region;
  if (model.failover && (model.failover.region !== undefined || model.failover.target !== undefined)) {
    entry.failover = Object.fromEntries(Object.entries(model.failover).filter(([, v]) => v !== undefined));
  }
  if (model.countTokens !== undefined) entry.countTokens = model.countTokens;
  if (model.baseUrl !== undefined) entry.baseUrl = model.baseUrl;
  if (model.apiKeySecret) entry.apiKeySecretArn = model.apiKeySecret.secretArn;
  if (model.maxOutputTokens !== undefined) entry.maxOutputTokens = model.maxOutputTokens;
  if (model.contextWindow !== undefined) entry.contextWindow = model.contextWindow;
  return entry;
}

/**
 * The names of the catalogue in effect (ids and aliases, lower case, as the runtime matches them): the default Claude
 * models unless `replaceDefaultModels` (an entry of `models` with the id of a default entry replaces it), then `models`.
 * Each maps to its upstream; the default catalogue's non-Claude models are left out (no catalogue data names them here).
 *
 * @internal
 */
export function claudeCatalogueNames(models: readonly ProxyModel[], replaceDefaultModels: boolean): Map<string, ProxyModelUpstream> {
  const names = new Map<string, ProxyModelUpstream>();
  const own = new Set(models.map((m) => m.id.toLowerCase()));
  if (!replaceDefaultModels) {
    for (const model of DEFAULT_CLAUDE_MODELS) {
      if (own.has(model.id.toLowerCase())) continue;
      // The default Claude models are on BEDROCK_INVOKE or BEDROCK_MESSAGES; which one does not matter here.
      for (const name of [model.id, ...(model.aliases ?? [])]) names.set(name.toLowerCase(), ProxyModelUpstream.BEDROCK_INVOKE);
    }
  }
  for (const model of models) {
    if (isEmbedding(model)) continue;
    for (const name of [model.id, ...(model.aliases ?? [])]) names.set(name.toLowerCase(), upstreamOf(model));
  }
  return names;
}

/**
 * Whether a catalogue model runs on an Anthropic-native Bedrock upstream (the Anthropic request body Bedrock batch
 * inference takes).
 *
 * @internal
 */
export function isAnthropicNative(upstream: ProxyModelUpstream): boolean {
  return upstream === ProxyModelUpstream.BEDROCK_INVOKE || upstream === ProxyModelUpstream.BEDROCK_MESSAGES;
}
