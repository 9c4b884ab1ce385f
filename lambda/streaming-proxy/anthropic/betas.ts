/**
 * What of an Anthropic request's beta flags and Claude-specific options reaches Bedrock, kept as data: one decision per
 * beta flag, one rule per option that only some models take. docs/runtime-contract.md ("Pass-through") explains the rule;
 * the decisions follow Amazon Bedrock's documentation of `anthropic_beta` and, where the two APIs differ, what Claude
 * Code's own Bedrock mode sends Bedrock for the same conversation (recorded per Claude Code version under
 * test/fixtures/claude-code/).
 *
 * Beta flags are an allowlist: Bedrock answers 400 to a flag it does not know, so a flag not listed here is dropped
 * (and logged as dropped). PROXY_EXTRA_BETAS adds flags at deploy time, for every model. Everything else in a request —
 * unknown top-level fields, block types, roles — is not decided here: it passes through (see request.ts).
 */

/** Which Claude models a rule applies to. Absent: every model. */
export interface ModelCondition {
  /** The first Claude version (`4.7`) that takes it; models whose version cannot be read do not. */
  readonly since?: string;
  /** `family version` pairs (`haiku 4.5`) that do not take it. */
  readonly except?: readonly string[];
}

export interface BetaDecision {
  readonly flag: string;
  /** What Bedrock gets: the flag, nothing, or the flag Bedrock knows for the same feature. */
  readonly bedrock: 'pass' | 'drop' | { readonly as: string };
  /** The models the flag is sent for (for `pass` and `as`). */
  readonly models?: ModelCondition;
  readonly why: string;
}

const AWS_DOCUMENTED = 'listed by Amazon Bedrock for Claude in `anthropic_beta`';

export const BETA_DECISIONS: readonly BetaDecision[] = [
  { flag: 'computer-use-2024-10-22', bedrock: 'pass', why: AWS_DOCUMENTED },
  { flag: 'computer-use-2025-01-24', bedrock: 'pass', why: AWS_DOCUMENTED },
  { flag: 'computer-use-2025-11-24', bedrock: 'pass', why: AWS_DOCUMENTED },
  { flag: 'token-efficient-tools-2025-02-19', bedrock: 'pass', why: AWS_DOCUMENTED },
  { flag: 'output-128k-2025-02-19', bedrock: 'pass', why: AWS_DOCUMENTED },
  { flag: 'dev-full-thinking-2025-05-14', bedrock: 'pass', why: AWS_DOCUMENTED },
  { flag: 'context-1m-2025-08-07', bedrock: 'pass', why: `${AWS_DOCUMENTED}; also what Claude Code's \`[1m]\` suffix selects` },
  { flag: 'tool-search-tool-2025-10-19', bedrock: 'pass', why: AWS_DOCUMENTED },
  { flag: 'tool-examples-2025-10-29', bedrock: 'pass', why: AWS_DOCUMENTED },
  {
    flag: 'interleaved-thinking-2025-05-14',
    bedrock: 'pass',
    models: { except: ['haiku 4.5'] },
    why: `${AWS_DOCUMENTED}; Claude Code's Bedrock mode leaves it off for Claude Haiku 4.5`,
  },
  {
    flag: 'thinking-token-count-2026-05-13',
    bedrock: 'pass',
    models: { since: '4.7' },
    why: 'Claude Code\'s Bedrock mode sends it (with `thinking.display`) for Claude 4.7 and later only',
  },
  {
    flag: 'advanced-tool-use-2025-11-20',
    bedrock: { as: 'tool-search-tool-2025-10-19' },
    why: 'the first-party name of tool search (`defer_loading` tools); Bedrock knows it as tool-search-tool-2025-10-19, which Claude Code\'s Bedrock mode sends instead',
  },
  {
    flag: 'claude-code-20250219',
    bedrock: 'drop',
    why: 'identifies Claude Code to the first-party API; Claude Code\'s Bedrock mode sends it only as an HTTP header, never in the body',
  },
  {
    flag: 'context-management-2025-06-27',
    bedrock: 'drop',
    why: 'Claude Code\'s Bedrock mode sends neither the flag nor `context_management` (it does to the first-party API); add it with PROXY_EXTRA_BETAS to send both',
  },
  {
    flag: 'effort-2025-11-24',
    bedrock: 'drop',
    why: '`output_config.effort` is generally available; Claude Code\'s Bedrock mode sends the effort without the flag',
  },
  { flag: 'per-turn-control-2026-07-01', bedrock: 'drop', why: 'first-party only: Claude Code\'s Bedrock mode does not send it' },
  { flag: 'mid-conversation-tool-changes-2026-07-01', bedrock: 'drop', why: 'first-party only: Claude Code\'s Bedrock mode does not send it' },
  { flag: 'oauth-2025-04-20', bedrock: 'drop', why: 'first-party OAuth; Bedrock authenticates with SigV4' },
  { flag: 'prompt-caching-2024-07-31', bedrock: 'drop', why: 'prompt caching is generally available; the flag is obsolete' },
  { flag: 'fine-grained-tool-streaming-2025-05-14', bedrock: 'drop', why: 'not listed by Amazon Bedrock' },
  { flag: 'files-api-2025-04-14', bedrock: 'drop', why: 'Bedrock has no Files API' },
  { flag: 'mcp-client-2025-04-04', bedrock: 'drop', why: 'the MCP connector is first-party only' },
];

/** The flag that Claude Code's `[1m]` model suffix stands for (added by the upstream for models that need it). */
export const LONG_CONTEXT_BETA = 'context-1m-2025-08-07';

/** Claude options that only some models (or only some betas) take on Bedrock. */
export interface FieldRule {
  /** A top-level field, `field.option` for one option inside an object field, or `messages[].field` for a field of a turn. */
  readonly field: string;
  /** Sent only when this beta flag is sent. */
  readonly requiresBeta?: string;
  /** Sent only to these models. */
  readonly models?: ModelCondition;
  readonly why: string;
}

export const FIELD_RULES: readonly FieldRule[] = [
  {
    field: 'messages[].output_config',
    requiresBeta: 'per-turn-control-2026-07-01',
    why: 'per-turn output settings (Claude Code puts one on its system-role turn) belong to the per-turn-control beta, which Bedrock does not take; Claude Code\'s Bedrock mode leaves them out',
  },
  {
    field: 'context_management',
    requiresBeta: 'context-management-2025-06-27',
    why: 'defined by the context-management beta, which is not sent to Bedrock by default',
  },
  {
    field: 'thinking.display',
    models: { since: '4.7' },
    why: 'Claude Code\'s Bedrock mode sends `display` for Claude 4.7 and later only',
  },
  {
    field: 'output_config.effort',
    models: { since: '4.6' },
    why: 'Claude Code\'s Bedrock mode sends the effort for Claude 4.6 and later only (on Opus 4.5 it was a beta)',
  },
];

/** A Claude model's family and version, read from its name (`claude-opus-4-6`, `claude-3-7-sonnet`, Bedrock ids). */
export interface ClaudeModelInfo {
  readonly family: string;
  /** major * 100 + minor: 4.6 -> 406. Undefined for a name without a version (`claude-mythos-preview`). */
  readonly version?: number;
}

const NEW_STYLE = /claude-([a-z]+)(?:-(\d{1,2}))?(?:-(\d{1,2}))?(?=$|[-.:@])/;
const OLD_STYLE = /claude-(\d)(?:-(\d))?-([a-z]+)/;

export function claudeModelInfo(name: string): ClaudeModelInfo | undefined {
  const lower = name.toLowerCase();
  const old = OLD_STYLE.exec(lower);
  if (old) return { family: old[3], version: Number(old[1]) * 100 + Number(old[2] ?? 0) };
  const m = NEW_STYLE.exec(lower);
  if (!m) return undefined;
  if (m[2] === undefined) return { family: m[1] };
  return { family: m[1], version: Number(m[2]) * 100 + Number(m[3] ?? 0) };
}

function parseVersion(v: string): number {
  const [major, minor] = v.split('.');
  return Number(major) * 100 + Number(minor ?? 0);
}

/**
 * Whether a model meets a condition. A model whose name has no version (`claude-mythos-preview`) is a preview of the
 * newest generation and meets every `since`; a model that is not recognisably Claude (an application inference profile
 * ARN behind a custom id) meets only conditions without `since`.
 */
export function meets(info: ClaudeModelInfo | undefined, condition: ModelCondition | undefined): boolean {
  if (!condition) return true;
  if (condition.except && info) {
    for (const entry of condition.except) {
      const [family, version] = entry.split(' ');
      if (info.family === family && info.version === parseVersion(version)) return false;
    }
  }
  if (condition.since !== undefined) {
    if (!info) return false;
    if (info.version !== undefined && info.version < parseVersion(condition.since)) return false;
  }
  return true;
}

export interface BetaSelection {
  /** The flags Bedrock gets, in the client's order, renamed where Bedrock has another name, de-duplicated. */
  readonly allowed: string[];
  /** The flags that were not sent (for debug logs). */
  readonly dropped: string[];
}

const DECISIONS = new Map(BETA_DECISIONS.map((d) => [d.flag, d]));

/**
 * Splits the `anthropic-beta` header (comma-separated, possibly repeated) into the flags Bedrock gets for this model and
 * the ones it does not.
 */
export function selectBetas(header: string | undefined, extra: readonly string[], model?: ClaudeModelInfo): BetaSelection {
  const allowed: string[] = [];
  const dropped: string[] = [];
  const seen = new Set<string>();
  const flags = (header ?? '').split(',').map((f) => f.trim()).filter((f) => f.length > 0);
  for (const flag of flags) {
    if (seen.has(flag)) continue;
    seen.add(flag);
    let sent: string | undefined;
    if (extra.includes(flag)) {
      sent = flag;
    } else {
      const decision = DECISIONS.get(flag);
      if (decision && decision.bedrock !== 'drop' && meets(model, decision.models)) {
        sent = decision.bedrock === 'pass' ? flag : decision.bedrock.as;
      }
    }
    if (sent === undefined) dropped.push(flag);
    else if (!allowed.includes(sent)) allowed.push(sent);
  }
  return { allowed, dropped };
}
