/**
 * Which `anthropic-beta` flags and which extra top-level request fields reach Bedrock. Kept as data: anything not listed
 * is dropped (never sent upstream, where an unknown flag or field is a 400). PROXY_EXTRA_BETAS adds flags at deploy time.
 *
 * Flags clients send that Bedrock does not know (Claude Code's `claude-code-20250219`, `oauth-2025-04-20`, GA features
 * such as `prompt-caching-2024-07-31`) are simply dropped.
 */

/** Beta flags Bedrock's Anthropic models accept in `anthropic_beta`. */
export const BEDROCK_BETA_ALLOWLIST: readonly string[] = [
  'computer-use-2024-10-22',
  'computer-use-2025-01-24',
  'computer-use-2025-11-24',
  'token-efficient-tools-2025-02-19',
  'interleaved-thinking-2025-05-14',
  'output-128k-2025-02-19',
  'dev-full-thinking-2025-05-14',
  'context-1m-2025-08-07',
  'context-management-2025-06-27',
  'effort-2025-11-24',
  'tool-search-tool-2025-10-19',
  'tool-examples-2025-10-29',
];

/**
 * The flag that Claude Code's `[1m]` model suffix stands for. The front end does not add it: the resolved model carries
 * `longContext`, and the upstream adds the flag only for models whose standard window is smaller than 1M tokens.
 */
export const LONG_CONTEXT_BETA = 'context-1m-2025-08-07';

/**
 * Top-level request fields beyond the canonical ones that are passed to Anthropic-native upstreams: a beta field only
 * when the beta flag that defines it survived the allowlist, a generally available one always.
 */
export const EXTRA_FIELD_ALLOWLIST: Readonly<Record<string, { readonly requiresBeta?: string }>> = {
  context_management: { requiresBeta: 'context-management-2025-06-27' },
  // Structured outputs (`format`) and `effort`: generally available, and the field Bedrock's InvokeModel takes for
  // Claude; the Anthropic SDK sends it (messages.parse) without a beta flag.
  output_config: {},
};

export interface BetaSelection {
  readonly allowed: string[];
  readonly dropped: string[];
}

/** Splits the `anthropic-beta` header (comma-separated, possibly repeated) into allowed and dropped flags. */
export function selectBetas(header: string | undefined, extra: readonly string[]): BetaSelection {
  const allowed: string[] = [];
  const dropped: string[] = [];
  const seen = new Set<string>();
  const flags = (header ?? '').split(',').map((f) => f.trim()).filter((f) => f.length > 0);
  for (const flag of flags) {
    if (seen.has(flag)) continue;
    seen.add(flag);
    if (BEDROCK_BETA_ALLOWLIST.includes(flag) || extra.includes(flag)) allowed.push(flag);
    else dropped.push(flag);
  }
  return { allowed, dropped };
}
