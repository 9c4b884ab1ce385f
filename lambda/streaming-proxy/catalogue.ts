/**
 * The model catalogue: which names clients may send, and how each one is called.
 *
 * - `DEFAULT_MODELS` is the catalogue that ships (data only; Bedrock ids from the Anthropic and Amazon Bedrock model
 *   tables, prices are list prices in USD per million tokens).
 * - `parseModelsEnv()` validates the PROXY_MODELS JSON the construct writes (entries added to, or replacing, the
 *   default catalogue).
 * - `Catalogue.resolve()` turns the name a client sent into a ResolvedModel: it strips Claude Code's `[1m]` suffix,
 *   matches ids, aliases (dated ids) and Bedrock ids, and maps `claude-*` names that are not in the catalogue to Bedrock
 *   ids by pattern (PROXY_CLAUDE_FALLBACK), so a new Claude model works without a release of this library.
 *
 * See docs/runtime-contract.md and upstream/types.ts.
 */
import * as z from 'zod/mini';
import type { ModelEntry, ModelPricing, ResolvedModel, UpstreamKind } from './upstream/types';

/** How `claude-*` names that are not in the catalogue map to Bedrock ids (PROXY_CLAUDE_FALLBACK). */
export type ClaudeFallback = 'global' | 'us' | 'eu' | 'apac' | 'none' | 'direct';
export const CLAUDE_FALLBACKS: readonly ClaudeFallback[] = ['global', 'us', 'eu', 'apac', 'none', 'direct'];

/** PROXY_MODELS, parsed. */
export interface ModelsConfig {
  /** True: the entries replace the default catalogue. False: they are added to it (an entry with the id of a default
   * entry replaces that entry). */
  readonly replace: boolean;
  readonly models: ModelEntry[];
}

// ---------------------------------------------------------------------------------------------------------------------
// The default catalogue (data)
// ---------------------------------------------------------------------------------------------------------------------

function price(inputPerMTok: number, outputPerMTok: number, cacheWritePerMTok: number, cacheReadPerMTok: number): ModelPricing {
  return { inputPerMTok, outputPerMTok, cacheWritePerMTok, cacheReadPerMTok };
}

/**
 * Claude models. Models released with an ARN-versioned Bedrock id (`…-YYYYMMDD-v1:0`, up to the 4.6 generation) are
 * called through InvokeModel; later models have undated Bedrock ids and are called through the Bedrock Anthropic
 * Messages endpoint, which Anthropic documents as the full-parity path for them. All use the `global.` cross-region
 * inference profile where Bedrock offers one (`us.` otherwise).
 */
const CLAUDE_MODELS: ModelEntry[] = [
  // Newest first: the `claude-*` fallback borrows prices from the first entry of the same family.
  {
    id: 'claude-fable-5-1',
    upstream: 'bedrock-messages',
    target: 'global.anthropic.claude-fable-5-1',
    displayName: 'Claude Fable 5.1',
    pricing: price(10, 50, 12.5, 0.25),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
  },
  {
    id: 'claude-fable-5',
    upstream: 'bedrock-messages',
    target: 'global.anthropic.claude-fable-5',
    displayName: 'Claude Fable 5',
    pricing: price(10, 50, 12.5, 1),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
  },
  // Mythos models share the Fable models' specifications and prices; access is by invitation.
  {
    id: 'claude-mythos-5-1',
    upstream: 'bedrock-messages',
    target: 'global.anthropic.claude-mythos-5-1',
    displayName: 'Claude Mythos 5.1',
    pricing: price(10, 50, 12.5, 0.25),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
  },
  {
    id: 'claude-mythos-5',
    upstream: 'bedrock-messages',
    target: 'global.anthropic.claude-mythos-5',
    displayName: 'Claude Mythos 5',
    pricing: price(10, 50, 12.5, 1),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
  },
  {
    id: 'claude-mythos-preview',
    upstream: 'bedrock-messages',
    target: 'global.anthropic.claude-mythos-preview',
    displayName: 'Claude Mythos Preview',
    pricing: price(25, 125, 31.25, 2.5),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
  },
  {
    id: 'claude-opus-5-5',
    upstream: 'bedrock-messages',
    target: 'global.anthropic.claude-opus-5-5',
    displayName: 'Claude Opus 5.5',
    pricing: price(4, 20, 5, 0.2),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
  },
  {
    id: 'claude-sonnet-5-5',
    upstream: 'bedrock-messages',
    target: 'global.anthropic.claude-sonnet-5-5',
    displayName: 'Claude Sonnet 5.5',
    pricing: price(2, 10, 2.5, 0.1),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
  },
  {
    id: 'claude-haiku-5-5',
    upstream: 'bedrock-messages',
    target: 'global.anthropic.claude-haiku-5-5',
    displayName: 'Claude Haiku 5.5',
    pricing: price(0.1, 0.5, 0.125, 0.01),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
  },
  {
    id: 'claude-opus-5',
    upstream: 'bedrock-messages',
    target: 'global.anthropic.claude-opus-5',
    displayName: 'Claude Opus 5',
    pricing: price(5, 25, 6.25, 0.5),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
  },
  {
    id: 'claude-sonnet-5',
    upstream: 'bedrock-messages',
    target: 'global.anthropic.claude-sonnet-5',
    displayName: 'Claude Sonnet 5',
    pricing: price(2, 10, 2.5, 0.2),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
  },
  {
    id: 'claude-opus-4-8',
    upstream: 'bedrock-messages',
    target: 'global.anthropic.claude-opus-4-8',
    displayName: 'Claude Opus 4.8',
    pricing: price(5, 25, 6.25, 0.5),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
  },
  {
    id: 'claude-opus-4-7',
    upstream: 'bedrock-messages',
    target: 'global.anthropic.claude-opus-4-7',
    displayName: 'Claude Opus 4.7',
    pricing: price(5, 25, 6.25, 0.5),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
  },
  {
    id: 'claude-opus-4-6',
    upstream: 'bedrock-invoke',
    target: 'global.anthropic.claude-opus-4-6-v1',
    displayName: 'Claude Opus 4.6',
    pricing: price(5, 25, 6.25, 0.5),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 128_000,
  },
  {
    id: 'claude-sonnet-4-6',
    upstream: 'bedrock-invoke',
    target: 'global.anthropic.claude-sonnet-4-6',
    displayName: 'Claude Sonnet 4.6',
    pricing: price(3, 15, 3.75, 0.3),
    countTokens: true,
    contextWindow: 1_000_000,
    maxOutputTokens: 64_000,
  },
  {
    id: 'claude-opus-4-5',
    aliases: ['claude-opus-4-5-20251101'],
    upstream: 'bedrock-invoke',
    target: 'global.anthropic.claude-opus-4-5-20251101-v1:0',
    displayName: 'Claude Opus 4.5',
    pricing: price(5, 25, 6.25, 0.5),
    countTokens: true,
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
  },
  {
    id: 'claude-sonnet-4-5',
    aliases: ['claude-sonnet-4-5-20250929'],
    upstream: 'bedrock-invoke',
    target: 'global.anthropic.claude-sonnet-4-5-20250929-v1:0',
    displayName: 'Claude Sonnet 4.5',
    pricing: price(3, 15, 3.75, 0.3),
    countTokens: true,
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
  },
  {
    id: 'claude-haiku-4-5',
    aliases: ['claude-haiku-4-5-20251001'],
    upstream: 'bedrock-invoke',
    target: 'global.anthropic.claude-haiku-4-5-20251001-v1:0',
    displayName: 'Claude Haiku 4.5',
    pricing: price(1, 5, 1.25, 0.1),
    countTokens: true,
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
  },
  {
    id: 'claude-opus-4-1',
    aliases: ['claude-opus-4-1-20250805'],
    upstream: 'bedrock-invoke',
    target: 'us.anthropic.claude-opus-4-1-20250805-v1:0',
    displayName: 'Claude Opus 4.1',
    pricing: price(15, 75, 18.75, 1.5),
    countTokens: true,
    contextWindow: 200_000,
    maxOutputTokens: 32_000,
  },
  {
    id: 'claude-sonnet-4-0',
    aliases: ['claude-sonnet-4-20250514', 'claude-sonnet-4'],
    upstream: 'bedrock-invoke',
    target: 'global.anthropic.claude-sonnet-4-20250514-v1:0',
    displayName: 'Claude Sonnet 4',
    pricing: price(3, 15, 3.75, 0.3),
    countTokens: true,
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
  },
  {
    id: 'claude-opus-4-0',
    aliases: ['claude-opus-4-20250514', 'claude-opus-4'],
    upstream: 'bedrock-invoke',
    target: 'us.anthropic.claude-opus-4-20250514-v1:0',
    displayName: 'Claude Opus 4',
    pricing: price(15, 75, 18.75, 1.5),
    countTokens: true,
    contextWindow: 200_000,
    maxOutputTokens: 32_000,
  },
  {
    id: 'claude-3-7-sonnet-latest',
    aliases: ['claude-3-7-sonnet-20250219'],
    upstream: 'bedrock-invoke',
    target: 'us.anthropic.claude-3-7-sonnet-20250219-v1:0',
    displayName: 'Claude Sonnet 3.7',
    pricing: price(3, 15, 3.75, 0.3),
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
  },
  {
    id: 'claude-3-5-haiku-latest',
    aliases: ['claude-3-5-haiku-20241022'],
    upstream: 'bedrock-invoke',
    target: 'us.anthropic.claude-3-5-haiku-20241022-v1:0',
    displayName: 'Claude Haiku 3.5',
    pricing: price(0.8, 4, 1, 0.08),
    contextWindow: 200_000,
    maxOutputTokens: 8_192,
  },
];

/** Other Bedrock models, called through ConverseStream / Converse. */
const CONVERSE_MODELS: ModelEntry[] = [
  {
    id: 'nova-pro',
    aliases: ['amazon-nova-pro'],
    upstream: 'bedrock-converse',
    target: 'us.amazon.nova-pro-v1:0',
    displayName: 'Amazon Nova Pro',
    pricing: price(0.8, 3.2, 0.8, 0.2),
    contextWindow: 300_000,
    maxOutputTokens: 10_000,
  },
  {
    id: 'nova-lite',
    aliases: ['amazon-nova-lite'],
    upstream: 'bedrock-converse',
    target: 'us.amazon.nova-lite-v1:0',
    displayName: 'Amazon Nova Lite',
    pricing: price(0.06, 0.24, 0.06, 0.015),
    contextWindow: 300_000,
    maxOutputTokens: 10_000,
  },
  {
    id: 'nova-micro',
    aliases: ['amazon-nova-micro'],
    upstream: 'bedrock-converse',
    target: 'us.amazon.nova-micro-v1:0',
    displayName: 'Amazon Nova Micro',
    pricing: price(0.035, 0.14, 0.035, 0.00875),
    contextWindow: 128_000,
    maxOutputTokens: 10_000,
  },
  {
    id: 'llama-3-3-70b',
    aliases: ['llama3.3-70b', 'meta-llama-3-3-70b-instruct'],
    upstream: 'bedrock-converse',
    target: 'us.meta.llama3-3-70b-instruct-v1:0',
    displayName: 'Meta Llama 3.3 70B Instruct',
    pricing: price(0.72, 0.72, 0, 0),
    contextWindow: 128_000,
    maxOutputTokens: 8_192,
  },
  {
    id: 'mistral-large',
    aliases: ['mistral-large-2407'],
    upstream: 'bedrock-converse',
    target: 'mistral.mistral-large-2407-v1:0',
    displayName: 'Mistral Large (24.07)',
    pricing: price(2, 6, 0, 0),
    contextWindow: 128_000,
    maxOutputTokens: 8_192,
  },
  {
    id: 'deepseek-r1',
    upstream: 'bedrock-converse',
    target: 'us.deepseek.r1-v1:0',
    displayName: 'DeepSeek-R1',
    pricing: price(1.35, 5.4, 0, 0),
    contextWindow: 128_000,
    maxOutputTokens: 32_768,
  },
  {
    id: 'gpt-oss-120b',
    upstream: 'bedrock-converse',
    target: 'openai.gpt-oss-120b-1:0',
    displayName: 'OpenAI gpt-oss-120b',
    pricing: price(0.15, 0.6, 0, 0),
    contextWindow: 128_000,
    maxOutputTokens: 32_768,
  },
];

/**
 * Embedding models (kind `embedding`, served by POST /v1/embeddings), called through InvokeModel (upstream/bedrock-embed.ts,
 * request formats in embedding-models.ts). Foundation-model ids: the proxy knows no cross-region inference profile for
 * them. Prices are on-demand list prices per million input tokens; embeddings have no output tokens.
 * `contextWindow` is the longest input in tokens the model takes.
 */
const EMBEDDING_MODELS: ModelEntry[] = [
  {
    id: 'titan-embed-text-v2',
    aliases: ['amazon-titan-embed-text-v2'],
    kind: 'embedding',
    upstream: 'bedrock-invoke',
    target: 'amazon.titan-embed-text-v2:0',
    displayName: 'Amazon Titan Text Embeddings V2',
    pricing: { inputPerMTok: 0.02, outputPerMTok: 0 },
    contextWindow: 8_192,
  },
  {
    id: 'cohere-embed-english-v3',
    aliases: ['embed-english-v3.0'],
    kind: 'embedding',
    upstream: 'bedrock-invoke',
    target: 'cohere.embed-english-v3',
    displayName: 'Cohere Embed English v3',
    pricing: { inputPerMTok: 0.1, outputPerMTok: 0 },
    contextWindow: 512,
  },
  {
    id: 'cohere-embed-multilingual-v3',
    aliases: ['embed-multilingual-v3.0'],
    kind: 'embedding',
    upstream: 'bedrock-invoke',
    target: 'cohere.embed-multilingual-v3',
    displayName: 'Cohere Embed Multilingual v3',
    pricing: { inputPerMTok: 0.1, outputPerMTok: 0 },
    contextWindow: 512,
  },
  {
    id: 'cohere-embed-v4',
    aliases: ['embed-v4.0'],
    kind: 'embedding',
    upstream: 'bedrock-invoke',
    target: 'cohere.embed-v4:0',
    displayName: 'Cohere Embed v4',
    pricing: { inputPerMTok: 0.12, outputPerMTok: 0 },
    contextWindow: 128_000,
  },
];

/** The catalogue that ships. Users extend or replace it with PROXY_MODELS. */
export const DEFAULT_MODELS: readonly ModelEntry[] = Object.freeze([...CLAUDE_MODELS, ...CONVERSE_MODELS, ...EMBEDDING_MODELS]);

// ---------------------------------------------------------------------------------------------------------------------
// PROXY_MODELS validation
// ---------------------------------------------------------------------------------------------------------------------

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;

/** Built on first use (zod/mini, small in the bundle; nothing is built at module load). */
let modelsEnvSchema: ReturnType<typeof buildSchema> | undefined;

function buildSchema() {
  const nonNegative = () => z.number().check(z.nonnegative());
  const name = () => z.string().check(z.maxLength(200), z.regex(NAME, 'must be a model name without spaces'));
  const region = (example: string) => z.string().check(z.regex(REGION, `must be an AWS region such as ${example}`));
  const target = () => z.string().check(z.minLength(1), z.maxLength(2048));
  const httpUrl = z.string().check(z.refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL'));

  const pricing = z.strictObject({
    inputPerMTok: nonNegative(),
    outputPerMTok: nonNegative(),
    cacheWritePerMTok: z.optional(nonNegative()),
    cacheReadPerMTok: z.optional(nonNegative()),
  });

  const failover = z.strictObject({ region: z.optional(region('us-west-2')), target: z.optional(target()) })
    .check(z.refine((f) => f.region !== undefined || f.target !== undefined, 'needs a region or a target'));

  const entry = z.strictObject({
    id: name(),
    aliases: z.optional(z.array(name())),
    upstream: z.enum(['bedrock-invoke', 'bedrock-messages', 'bedrock-converse', 'openai-compatible', 'mock']),
    kind: z.optional(z.enum(['chat', 'embedding'])),
    target: target(),
    displayName: z.optional(z.string().check(z.maxLength(200))),
    pricing: z.optional(pricing),
    region: z.optional(region('us-east-1')),
    failover: z.optional(failover),
    countTokens: z.optional(z.boolean()),
    baseUrl: z.optional(httpUrl),
    apiKeySecretArn: z.optional(z.string().check(z.regex(SECRET_ARN, 'must be a Secrets Manager secret ARN'))),
    maxOutputTokens: z.optional(z.number().check(z.int(), z.positive())),
    contextWindow: z.optional(z.number().check(z.int(), z.positive())),
  }).check(z.superRefine((e, ctx) => {
    const openai = e.upstream === 'openai-compatible';
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message, input: e });
    if (openai && !e.baseUrl) issue('baseUrl', 'is required for the openai-compatible upstream');
    if (!openai && e.baseUrl) issue('baseUrl', 'is only used by the openai-compatible upstream');
    if (!openai && e.apiKeySecretArn) issue('apiKeySecretArn', 'is only used by the openai-compatible upstream');
    if (openai && (e.region || e.failover?.region)) issue('region', 'regions apply to Bedrock upstreams only');
    if (e.kind === 'embedding' && e.upstream !== 'bedrock-invoke' && e.upstream !== 'mock') {
      issue('upstream', 'embedding models are called through bedrock-invoke (InvokeModel) or mock');
    }
  }));

  return z.strictObject({ replace: z.optional(z.boolean()), models: z.array(entry) });
}

/**
 * Parses and validates PROXY_MODELS. Throws an Error whose message names the variable and the offending entry.
 */
export function parseModelsEnv(json: string): ModelsConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`PROXY_MODELS is not valid JSON: ${(err as Error).message}`);
  }
  modelsEnvSchema ??= buildSchema();
  const parsed = modelsEnvSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw new Error(`PROXY_MODELS: ${where} ${issue.message}`);
  }
  const models = parsed.data.models as ModelEntry[];
  const seen = new Map<string, string>();
  for (const entry of models) {
    for (const name of [entry.id, ...(entry.aliases ?? [])]) {
      const key = name.toLowerCase();
      const owner = seen.get(key);
      if (owner !== undefined) {
        throw new Error(`PROXY_MODELS: the name "${name}" is used by both "${owner}" and "${entry.id}"`);
      }
      seen.set(key, entry.id);
    }
  }
  return { replace: parsed.data.replace ?? false, models };
}

// ---------------------------------------------------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------------------------------------------------

/** Claude Code appends `[1m]` to a model name to ask for the 1M-token context window. */
const LONG_CONTEXT_SUFFIX = /\[1m\]$/i;
/** A dated Claude id (`claude-sonnet-4-5-20250929`): Bedrock publishes these as ARN-versioned ids with `-v1:0`. */
const DATED_CLAUDE = /^claude-[a-z0-9-]+-\d{8}$/;
/** What the `claude-*` fallback accepts: lower-case words, digits and dashes (no dots, slashes or colons). */
const CLAUDE_NAME = /^claude-[a-z0-9]+(-[a-z0-9]+)*$/;
/** Bedrock geography prefixes of cross-region inference profiles. */
const PROFILE_PREFIX = /^(global|us|eu|apac|jp|au|ca|us-gov)\./;

export interface CatalogueOptions {
  /** PROXY_MODELS, parsed with parseModelsEnv. Default: the default catalogue alone. */
  readonly models?: ModelsConfig;
  /** PROXY_CLAUDE_FALLBACK. Default `global`. */
  readonly claudeFallback?: ClaudeFallback;
  /** PROXY_UPSTREAM. `mock` answers every model the catalogue resolves with the mock upstream. Default `bedrock`. */
  readonly upstream?: 'bedrock' | 'mock';
}

export class Catalogue {
  private readonly entries: readonly ModelEntry[];
  private readonly byName = new Map<string, ModelEntry>();
  private readonly claudeFallback: ClaudeFallback;
  private readonly mock: boolean;

  constructor(options: CatalogueOptions = {}) {
    const extra = options.models?.models ?? [];
    const replacedIds = new Set(extra.map((e) => e.id.toLowerCase()));
    const base = options.models?.replace ? [] : DEFAULT_MODELS.filter((e) => !replacedIds.has(e.id.toLowerCase()));
    // User entries come first, so their aliases win over the defaults' aliases.
    this.entries = [...extra, ...base];
    for (const entry of this.entries) {
      for (const name of [entry.id, ...(entry.aliases ?? [])]) {
        const key = name.toLowerCase();
        if (!this.byName.has(key)) this.byName.set(key, entry);
      }
    }
    // Clients (and ANTHROPIC_MODEL settings) sometimes send the Bedrock id itself; ids and aliases win over targets.
    for (const entry of this.entries) {
      if (entry.upstream === 'openai-compatible' || entry.upstream === 'mock') continue;
      const key = entry.target.toLowerCase();
      if (!this.byName.has(key)) this.byName.set(key, entry);
    }
    this.claudeFallback = options.claudeFallback ?? 'global';
    this.mock = options.upstream === 'mock';
  }

  /**
   * The catalogue entry for a model name a client sent, or undefined (the front end answers 404 not_found_error).
   * `requested` carries the name exactly as sent; `longContext` is true when it ended in `[1m]`.
   */
  resolve(name: string): ResolvedModel | undefined {
    const requested = name;
    const trimmed = name.trim();
    const longContext = LONG_CONTEXT_SUFFIX.test(trimmed);
    const bare = longContext ? trimmed.replace(LONG_CONTEXT_SUFFIX, '') : trimmed;
    if (bare.length === 0) return undefined;

    const entry = this.byName.get(bare.toLowerCase()) ?? this.claudeByPattern(bare.toLowerCase());
    if (!entry) return undefined;
    // PROXY_UPSTREAM=mock resolves names exactly as production does (a name production does not serve is the same 404
    // locally) and answers every model it resolves with the mock; catalogue data (prices, limits, names) still applies.
    if (this.mock) return { ...entry, upstream: 'mock', requested, longContext };
    return { ...entry, requested, longContext };
  }

  /** Every catalogue entry, in catalogue order (for GET /v1/models). Pattern-mapped Claude ids are not listed. */
  list(): readonly ModelEntry[] {
    return this.entries;
  }

  /** The `claude-*` fallback: a Claude name that is not in the catalogue, mapped to a Bedrock id by pattern. */
  private claudeByPattern(name: string): ModelEntry | undefined {
    if (this.claudeFallback === 'none' || !CLAUDE_NAME.test(name)) return undefined;
    const prefix = this.claudeFallback === 'direct' ? '' : `${this.claudeFallback}.`;
    const dated = DATED_CLAUDE.test(name);
    // Up to the 4.6 generation Bedrock published dated, ARN-versioned ids (`anthropic.<id>-v1:0`, InvokeModel); newer
    // models have undated ids (`anthropic.<id>`) and are served through the Bedrock Anthropic Messages endpoint.
    const upstream: UpstreamKind = dated ? 'bedrock-invoke' : 'bedrock-messages';
    const target = `${prefix}anthropic.${name}${dated ? '-v1:0' : ''}`;
    const sibling = this.familySibling(name);
    return {
      id: name,
      upstream,
      target,
      displayName: name,
      ...(sibling?.pricing ? { pricing: sibling.pricing } : {}),
      countTokens: true,
    };
  }

  /** The first (newest) catalogue entry of the same family (`opus`, `sonnet`, `haiku`, …), used to price a new id. */
  private familySibling(name: string): ModelEntry | undefined {
    const family = /^claude-(?:\d+-)*([a-z]+)/.exec(name)?.[1];
    if (!family) return undefined;
    return this.entries.find((e) => e.id.startsWith('claude-') && e.id.split('-').includes(family) && e.pricing);
  }
}

/**
 * Whether a model is Claude: an Anthropic-native upstream (whose target may also be an application inference profile
 * ARN), or a Bedrock id of Anthropic's (`anthropic.…`, `us.anthropic.…`) reached through Converse.
 */
export function isClaude(model: Pick<ModelEntry, 'upstream' | 'target' | 'kind'>): boolean {
  if (model.kind === 'embedding') return false;
  return model.upstream === 'bedrock-invoke' || model.upstream === 'bedrock-messages' || /(^|\.)anthropic\./.test(model.target);
}

/** The foundation-model id behind an inference-profile id (`global.anthropic.x` -> `anthropic.x`); CountTokens takes
 * foundation-model ids only. ARNs and plain ids are returned unchanged. */
export function foundationModelId(target: string): string {
  return target.startsWith('arn:') ? target : target.replace(PROFILE_PREFIX, '');
}
