/**
 * `cdk-serverless-llm keys create|list|show|update|revoke|rotate` and `cdk-serverless-llm usage`: virtual keys and
 * spend in the gateway table, with the caller's AWS credentials (the SDK's default chain; IAM is the admin auth).
 *
 * The command line is parsed into a typed command first (`parseGatewayCommand`, pure: every mistake is a UsageError
 * naming the flag, exit 2), then run against the table (`runGatewayCommand`: AWS errors print their name and message,
 * exit 1). The table operations live in ./gateway-admin.ts.
 */
import { parseArgs } from 'util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GatewayAdmin, GatewayAdminError, type KeyChange, type ListedKey, type SpendRow } from './gateway-admin';
import {
  KEY_NAME,
  keyRefusal,
  policyProblem,
  SPEND_FIELDS,
  spendKeyPk,
  spendTeamPk,
  TEAM_NAME,
  utcDay,
  utcMonth,
  type KeyBudgets,
  type KeyLimits,
  type KeyRecord,
  type SpendFields,
} from '../shared/gateway/schema';

/**
 * How long the proxy caches a key lookup (PROXY_GATEWAY_CACHE_TTL_SECONDS in lambda/streaming-proxy/config.ts, this
 * default): a revoked or rotated key stops working within this many seconds.
 */
export const PROXY_KEY_CACHE_SECONDS = 30;

/** The environment variable that names the table when neither --table nor --table-parameter is given. */
export const TABLE_ENV = 'CDK_SERVERLESS_LLM_TABLE';

export class GatewayUsageError extends Error {
  public readonly name = 'GatewayUsageError';
  constructor(message: string, public readonly command: string) {
    super(message);
  }
}

// ---- help -------------------------------------------------------------------------------------------------------

const TABLE_OPTIONS = `Table:
  --table <name>             the gateway table
  --table-parameter <name>   an SSM String parameter holding the table name (the construct publishes one)
                             (default: the ${TABLE_ENV} environment variable)
  --region <region>          AWS region (default: AWS_REGION / your AWS config)

Runs with your AWS credentials (the AWS SDK's default chain: environment, SSO, profiles, instance roles).
AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SSM are honoured.`;

const POLICY_OPTIONS = `  --team <team>              the team the key's spend is also counted under
  --models <a,b|*>           model ids or aliases the key may call (* = any; default any)
  --rpm <n>                  requests per minute (replaces the proxy-wide PROXY_RATE_LIMITS for this key)
  --tpm <n>                  tokens per minute
  --tpd <n>                  tokens per UTC day
  --daily-usd <x>            budget in USD per UTC day (requests are refused once it is spent)
  --monthly-usd <y>          budget in USD per UTC calendar month
  --expires <when>           an ISO 8601 date or instant, or a duration from now such as 30d, 12h or 90m
  --description <text>       a note for people`;

export const GATEWAY_HELP: Record<string, string> = {
  'keys': `Usage: cdk-serverless-llm keys <command> [options]

Virtual API keys in the gateway table.

Commands:
  create --name <name> [policy]   make a key; it is printed once and stored only as its SHA-256
  list [--team <team>]            all keys with their policy and status
  show <name>                     one key's policy and this day's and month's spend
  update <name> [policy]          change a key's policy
  revoke <name>                   disable a key
  rotate <name> [--grace <d>]     replace a key with a new one of the same policy (the old one is disabled, or
                                  keeps working for the --grace period)

Run cdk-serverless-llm keys <command> --help for a command's options.

${TABLE_OPTIONS}`,
  'keys create': `Usage: cdk-serverless-llm keys create --name <name> [options]

Makes a key (sk-llm- and 32 random bytes) and prints it once: only its SHA-256 is stored, so it cannot be shown again.

Options:
  --name <name>              the key's unique name (1-128 of A-Za-z0-9._@:-): limits, spend and logs are keyed by it
${POLICY_OPTIONS}
  --json                     print {name, key, hint, record} as JSON
  -h, --help                 show this help

${TABLE_OPTIONS}`,
  'keys list': `Usage: cdk-serverless-llm keys list [options]

Lists the keys: name, team, hint, models, limits, budgets, expiry, status (active, disabled, expired) and creation time.

Options:
  --team <team>              only the keys of this team
  --all                      also the keys that keys rotate replaced (status rotated)
  --json                     print the records as JSON
  -h, --help                 show this help

${TABLE_OPTIONS}`,
  'keys show': `Usage: cdk-serverless-llm keys show <name> [options]

Shows one key's record and its spend in this UTC day and month.

Options:
  --json                     print {record, spend: {day, month}} as JSON
  -h, --help                 show this help

${TABLE_OPTIONS}`,
  'keys update': `Usage: cdk-serverless-llm keys update <name> [options]

Changes a key's policy; what is not given is kept. Limits and budgets are changed one field at a time.

Options:
${POLICY_OPTIONS}
                             (--expires never removes the expiry)
  --clear-limits             remove the key's limits (the proxy-wide PROXY_RATE_LIMITS apply again), then apply
                             any of --rpm/--tpm/--tpd given
  --clear-budgets            remove the key's budgets, then apply --daily-usd/--monthly-usd if given
  --json                     print the new record as JSON
  -h, --help                 show this help

${TABLE_OPTIONS}`,
  'keys revoke': `Usage: cdk-serverless-llm keys revoke <name> [options]

Disables a key: the proxy refuses it (401) once its cached lookup expires (${PROXY_KEY_CACHE_SECONDS} s by default).
The name stays taken; keys rotate <name> issues a new key under it.

Options:
  --json                     print the record as JSON
  -h, --help                 show this help

${TABLE_OPTIONS}`,
  'keys rotate': `Usage: cdk-serverless-llm keys rotate <name> [options]

Replaces a key with a new one of the same policy, in one transaction: the name points at the new key and the old key is
disabled (refused within ${PROXY_KEY_CACHE_SECONDS} s by default). Spend and limits stay with the name. The new key is
printed once.

Options:
  --grace <duration>         keep the old key working for this long (e.g. 30m, 12h, 7d; at most 30d), so its users can
                             switch over; it expires then (or at its own expiry, if sooner)
  --json                     print {name, key, hint, record, previous} as JSON
  -h, --help                 show this help

${TABLE_OPTIONS}`,
  'usage': `Usage: cdk-serverless-llm usage [options]

Spend per UTC day (or month) and in total: requests, input, output and cache tokens, and USD.

Options:
  --key <name>               one key's spend
  --team <team>              one team's spend (default: every key, one by one)
  --since <YYYY-MM-DD>       first day (default: the first day of this UTC month)
  --until <YYYY-MM-DD>       last day (default: today, UTC)
  --by model                 one row per day and model
  --monthly                  one row per calendar month (the months of --since..--until)
  --json                     print {rows, total} as JSON
  -h, --help                 show this help

${TABLE_OPTIONS}`,
};

// ---- parsing ----------------------------------------------------------------------------------------------------

interface TableChoice {
  readonly table?: string;
  readonly tableParameter?: string;
  readonly region?: string;
}

interface PolicyInput {
  readonly team?: string;
  readonly models?: readonly string[];
  readonly limits?: KeyLimits;
  readonly budgets?: KeyBudgets;
  readonly expiresAt?: string | null;
  readonly description?: string;
}

export type GatewayCommand =
  | { readonly kind: 'help'; readonly text: string }
  | ({ readonly kind: 'create'; readonly name: string; readonly policy: PolicyInput; readonly json: boolean } & TableChoice)
  | ({ readonly kind: 'list'; readonly team?: string; readonly all: boolean; readonly json: boolean } & TableChoice)
  | ({ readonly kind: 'show' | 'revoke'; readonly name: string; readonly json: boolean } & TableChoice)
  | ({ readonly kind: 'rotate'; readonly name: string; readonly graceUntil?: string; readonly json: boolean } & TableChoice)
  | ({ readonly kind: 'update'; readonly name: string; readonly change: KeyChange; readonly json: boolean } & TableChoice)
  | ({
    readonly kind: 'usage';
    readonly key?: string;
    readonly team?: string;
    readonly since: string;
    readonly until: string;
    readonly byModel: boolean;
    readonly monthly: boolean;
    readonly json: boolean;
  } & TableChoice);

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

const COMMON: OptionSpec = {
  'table': { type: 'string' },
  'table-parameter': { type: 'string' },
  'region': { type: 'string' },
  'json': { type: 'boolean' },
  'help': { type: 'boolean', short: 'h' },
};

const POLICY: OptionSpec = {
  'team': { type: 'string' },
  'models': { type: 'string' },
  'rpm': { type: 'string' },
  'tpm': { type: 'string' },
  'tpd': { type: 'string' },
  'daily-usd': { type: 'string' },
  'monthly-usd': { type: 'string' },
  'expires': { type: 'string' },
  'description': { type: 'string' },
};

const OPTIONS: Record<string, OptionSpec> = {
  'keys create': { ...COMMON, ...POLICY, name: { type: 'string' } },
  'keys list': { ...COMMON, team: { type: 'string' }, all: { type: 'boolean' } },
  'keys show': COMMON,
  'keys update': { ...COMMON, ...POLICY, 'clear-limits': { type: 'boolean' }, 'clear-budgets': { type: 'boolean' } },
  'keys revoke': COMMON,
  'keys rotate': { ...COMMON, grace: { type: 'string' } },
  'usage': { ...COMMON, key: { type: 'string' }, team: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, by: { type: 'string' }, monthly: { type: 'boolean' } },
};

/** Parses `keys …` / `usage …` (argv without `node` and the script). Throws GatewayUsageError. */
export function parseGatewayCommand(argv: readonly string[], env: Record<string, string | undefined>, nowMs: number = Date.now()): GatewayCommand {
  let command: string;
  let rest: string[];
  if (argv[0] === 'usage') {
    command = 'usage';
    rest = argv.slice(1);
  } else {
    const sub = argv[1];
    if (sub === undefined || sub === '--help' || sub === '-h') return { kind: 'help', text: GATEWAY_HELP.keys };
    command = `keys ${sub}`;
    if (!OPTIONS[command]) throw new GatewayUsageError(`unknown command keys ${sub}; the commands are create, list, show, update, revoke and rotate`, 'keys');
    rest = argv.slice(2);
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS[command], strict: true, allowPositionals: true }) as typeof parsed;
  } catch (err) {
    throw new GatewayUsageError(parseArgsProblem(err as Error & { code?: string }, command), command);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help', text: GATEWAY_HELP[command] };
  const fail = (message: string): never => {
    throw new GatewayUsageError(message, command);
  };
  const str = (flag: string) => values[flag] as string | undefined;
  const table = tableChoice(str('table'), str('table-parameter'), str('region'), env, fail);
  const json = values.json === true;
  const takesName = ['keys show', 'keys update', 'keys revoke', 'keys rotate'].includes(command);
  const maxPositionals = takesName ? 1 : 0;
  if (positionals.length > maxPositionals) fail(`unexpected argument ${positionals[maxPositionals]} for ${command}`);
  let name = '';
  if (takesName) {
    if (positionals.length === 0) fail(`${command} needs the key's name: cdk-serverless-llm ${command} <name>`);
    name = checkName(positionals[0], 'the key name', fail);
  }
  switch (command) {
    case 'keys create': {
      if (str('name') === undefined) fail('--name is required: the key\'s unique name');
      return { kind: 'create', name: checkName(str('name')!, '--name', fail), policy: policyInput(values, nowMs, false, fail), json, ...table };
    }
    case 'keys list': {
      const team = str('team');
      if (team !== undefined && !TEAM_NAME.test(team)) fail('--team must be 1-64 characters of [A-Za-z0-9._@:-]');
      return { kind: 'list', team, all: values.all === true, json, ...table };
    }
    case 'keys update': {
      const policy = policyInput(values, nowMs, true, fail);
      const change: KeyChange = { ...policy, clearLimits: values['clear-limits'] === true, clearBudgets: values['clear-budgets'] === true };
      const changes = Object.values(policy).some((v) => v !== undefined) || change.clearLimits || change.clearBudgets;
      if (!changes) fail('keys update needs something to change: a policy flag, --clear-limits or --clear-budgets');
      return { kind: 'update', name, change, json, ...table };
    }
    case 'keys show':
    case 'keys revoke':
      return { kind: command.slice(5) as 'show' | 'revoke', name, json, ...table };
    case 'keys rotate': {
      const grace = str('grace');
      if (grace === undefined) return { kind: 'rotate', name, json, ...table };
      const ms = durationMs(grace);
      if (ms === undefined || ms <= 0 || ms > 30 * DAY_MS) fail(`--grace must be a duration of at most 30 days such as 30m, 12h or 7d; got ${JSON.stringify(grace)}`);
      return { kind: 'rotate', name, graceUntil: new Date(nowMs + ms!).toISOString(), json, ...table };
    }
    default: {
      const key = str('key');
      const team = str('team');
      if (key !== undefined && team !== undefined) fail('--key and --team both choose whose spend to show; give one');
      if (key !== undefined) checkName(key, '--key', fail);
      if (team !== undefined && !TEAM_NAME.test(team)) fail('--team must be 1-64 characters of [A-Za-z0-9._@:-]');
      const by = str('by');
      if (by !== undefined && by !== 'model') fail(`--by must be model; got ${JSON.stringify(by)}`);
      const since = str('since') === undefined ? `${utcMonth(nowMs)}-01` : checkDay(str('since')!, '--since', fail);
      const until = str('until') === undefined ? utcDay(nowMs) : checkDay(str('until')!, '--until', fail);
      if (since > until) fail(`--since ${since} is after --until ${until}`);
      return { kind: 'usage', key, team, since, until, byModel: by === 'model', monthly: values.monthly === true, json, ...table };
    }
  }
}

/** parseArgs' errors as one sentence that names the flag. */
function parseArgsProblem(err: Error & { code?: string }, command: string): string {
  const flag = /'(-[^' ]+)/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) return `${flag} is not an option of ${command} (see ${command} --help)`;
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) {
    if (/does not take an argument/.test(err.message)) return `${flag} takes no value`;
    if (/ambiguous/.test(err.message)) return `${flag} needs a value (write ${flag}=<value> for a value that starts with a dash)`;
    return `${flag} needs a value`;
  }
  return err.message;
}

function tableChoice(table: string | undefined, tableParameter: string | undefined, region: string | undefined,
  env: Record<string, string | undefined>, fail: (m: string) => never): TableChoice {
  if (table !== undefined && tableParameter !== undefined) fail('--table and --table-parameter both name the table; give one');
  const chosen = table ?? (tableParameter === undefined ? env[TABLE_ENV] || undefined : undefined);
  if (chosen === undefined && tableParameter === undefined) {
    fail(`name the gateway table with --table, --table-parameter or the ${TABLE_ENV} environment variable`);
  }
  if (chosen !== undefined && !TABLE_NAME.test(chosen)) {
    fail(`${table !== undefined ? '--table' : TABLE_ENV} must be a DynamoDB table name (3-255 of A-Za-z0-9_.-); got ${JSON.stringify(chosen)}`);
  }
  if (tableParameter !== undefined && !/^[A-Za-z0-9_.\-/]{1,2048}$/.test(tableParameter)) {
    fail(`--table-parameter must be an SSM parameter name such as /my-app/gateway-table; got ${JSON.stringify(tableParameter)}`);
  }
  if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) fail(`--region must be an AWS region such as us-east-1; got ${JSON.stringify(region)}`);
  return { table: chosen, tableParameter, region };
}

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

function checkName(name: string, what: string, fail: (m: string) => never): string {
  if (!KEY_NAME.test(name)) fail(`${what} must be 1-128 characters of [A-Za-z0-9._@:-] starting with a letter or digit; got ${JSON.stringify(name)}`);
  return name;
}

function checkDay(value: string, flag: string, fail: (m: string) => never): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)) || utcDay(Date.parse(`${value}T00:00:00Z`)) !== value) {
    fail(`${flag} must be a date as YYYY-MM-DD; got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The policy flags, validated with the schema's policyProblem; its field names are put back as the flags. */
function policyInput(values: Record<string, string | boolean | undefined>, nowMs: number, update: boolean, fail: (m: string) => never): PolicyInput {
  const str = (flag: string) => values[flag] as string | undefined;
  const number = (flag: string) => (str(flag) === undefined ? undefined : str(flag)!.trim() === '' ? NaN : Number(str(flag)));
  const limits = withoutUndefined({ requestsPerMinute: number('rpm'), tokensPerMinute: number('tpm'), tokensPerDay: number('tpd') }) as KeyLimits;
  const budgets = withoutUndefined({ dailyUsd: number('daily-usd'), monthlyUsd: number('monthly-usd') }) as KeyBudgets;
  const models = str('models')?.split(',').map((m) => m.trim());
  let expiresAt: string | null | undefined;
  const expires = str('expires');
  if (expires !== undefined) {
    if (update && expires === 'never') {
      expiresAt = null;
    } else {
      const duration = durationMs(expires);
      const ms = duration !== undefined ? nowMs + duration : Date.parse(expires);
      if (Number.isNaN(ms)) {
        fail(`--expires must be an ISO 8601 date or instant, or a duration such as 30d or 12h${update ? ' (or never)' : ''}; got ${JSON.stringify(expires)}`);
      }
      if (ms <= nowMs) fail(`--expires ${expires} is not in the future`);
      expiresAt = new Date(ms).toISOString();
    }
  }
  const description = str('description');
  if (description !== undefined && (description.length === 0 || description.length > 1024)) fail('--description must be 1-1024 characters');
  const policy = {
    team: str('team'),
    models,
    limits: Object.keys(limits).length ? limits : undefined,
    budgets: Object.keys(budgets).length ? budgets : undefined,
    expiresAt,
    description,
  };
  const problem = policyProblem(withoutUndefined({ ...policy, expiresAt: expiresAt ?? undefined }));
  if (problem) fail(problemWithFlag(problem));
  return policy;
}

const DAY_MS = 86_400_000;

/** `30m`, `12h`, `7d` in milliseconds, or undefined. */
function durationMs(text: string): number | undefined {
  const match = /^(\d+)([mhd])$/.exec(text);
  return match ? Number(match[1]) * { m: 60_000, h: 3_600_000, d: DAY_MS }[match[2] as 'm' | 'h' | 'd'] : undefined;
}

const FIELD_FLAGS: [RegExp, string][] = [
  [/^limits\.requestsPerMinute/, '--rpm'],
  [/^limits\.tokensPerMinute/, '--tpm'],
  [/^limits\.tokensPerDay/, '--tpd'],
  [/^budgets\.dailyUsd/, '--daily-usd'],
  [/^budgets\.monthlyUsd/, '--monthly-usd'],
  [/^team/, '--team'],
  [/^models/, '--models'],
  [/^expiresAt/, '--expires'],
];

function problemWithFlag(problem: string): string {
  for (const [field, flag] of FIELD_FLAGS) if (field.test(problem)) return problem.replace(field, flag);
  return problem;
}

function withoutUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

// ---- running ----------------------------------------------------------------------------------------------------

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** Runs a gateway command line; returns the exit code (0 ok, 1 AWS or table error, 2 usage error). */
export async function runGatewayCommand(
  argv: readonly string[], env: Record<string, string | undefined>, io: Output, nowMs: number = Date.now(),
): Promise<number> {
  let command: GatewayCommand;
  try {
    command = parseGatewayCommand(argv, env, nowMs);
  } catch (err) {
    if (!(err instanceof GatewayUsageError)) throw err;
    io.err(`cdk-serverless-llm: ${err.message}\nRun cdk-serverless-llm ${err.command} --help for the options.\n`);
    return 2;
  }
  if (command.kind === 'help') {
    io.out(`${command.text}\n`);
    return 0;
  }
  try {
    const tableName = command.table ?? await tableFromParameter(command.tableParameter!, command.region);
    const admin = new GatewayAdmin(new DynamoDBClient({ region: command.region }), tableName);
    await execute(command, admin, io, nowMs);
    return 0;
  } catch (err) {
    const e = err as Error;
    // AWS and table errors: their name and message, never a stack (nothing in them is secret).
    io.err(e instanceof GatewayAdminError ? `cdk-serverless-llm: ${e.message}\n` : `cdk-serverless-llm: ${e.name}: ${e.message}\n`);
    return 1;
  }
}

async function tableFromParameter(name: string, region: string | undefined): Promise<string> {
  const out = await new SSMClient({ region }).send(new GetParameterCommand({ Name: name }));
  const value = out.Parameter?.Value ?? '';
  if (!TABLE_NAME.test(value)) throw new GatewayAdminError(`the SSM parameter ${name} does not hold a DynamoDB table name`);
  return value;
}

async function execute(command: Exclude<GatewayCommand, { kind: 'help' }>, admin: GatewayAdmin, io: Output, nowMs: number): Promise<void> {
  const json = (value: unknown) => io.out(`${JSON.stringify(value, null, 2)}\n`);
  switch (command.kind) {
    case 'create': {
      const { key, record } = await admin.create({ name: command.name, ...command.policy, expiresAt: command.policy.expiresAt ?? undefined }, nowMs);
      if (command.json) return json({ name: record.name, key, hint: record.hint, record });
      io.out(`Created key ${record.name}${record.team ? ` (team ${record.team})` : ''}:\n\n  ${key}\n\n`
        + 'This is the only time the key is shown: it is stored only as its SHA-256, so it cannot be shown again. Store it now.\n');
      return;
    }
    case 'rotate': {
      const { key, record, previous } = await admin.rotate(command.name, nowMs, command.graceUntil);
      if (command.json) return json({ name: record.name, key, hint: record.hint, record, previous });
      const old = previous.disabled
        ? `The old key (${previous.hint}…) is disabled; the proxy refuses it within ${PROXY_KEY_CACHE_SECONDS} seconds (its key cache, PROXY_GATEWAY_CACHE_TTL_SECONDS).`
        : `The old key (${previous.hint}…) keeps working until ${previous.expiresAt}, then expires.`;
      io.out(`Rotated key ${record.name}: the new key is\n\n  ${key}\n\n`
        + 'This is the only time the key is shown: it is stored only as its SHA-256, so it cannot be shown again. Store it now.\n'
        + `${old}\n`);
      return;
    }
    case 'revoke': {
      const record = await admin.revoke(command.name, nowMs);
      if (command.json) return json(record);
      io.out(`Revoked key ${record.name} (${record.hint}…): this takes effect within ${PROXY_KEY_CACHE_SECONDS} seconds `
        + '(the proxy caches key lookups for PROXY_GATEWAY_CACHE_TTL_SECONDS). keys rotate issues a new key under this name.\n');
      return;
    }
    case 'update': {
      const record = await admin.update(command.name, command.change, nowMs);
      if (command.json) return json(record);
      io.out(`Updated key ${record.name} (effective within ${PROXY_KEY_CACHE_SECONDS} seconds):\n${describe(record, nowMs)}\n`);
      return;
    }
    case 'show': {
      const record = await admin.find(command.name);
      if (!record) throw new GatewayAdminError(`there is no key named ${command.name} (keys list shows the names)`);
      const day = utcDay(nowMs);
      const month = utcMonth(nowMs);
      const pk = spendKeyPk(record.name);
      const [dayRow] = await admin.spend(pk, 'day', day, day, false);
      const [monthRow] = await admin.spend(pk, 'month', month, month, false);
      const spend = { day: { period: day, ...amounts(dayRow) }, month: { period: month, ...amounts(monthRow) } };
      if (command.json) return json({ record, status: status(record, true, nowMs), spend });
      io.out(`${describe(record, nowMs)}\n`
        + `${pad('spend today', 14)}${day}: ${spendLine(spend.day, record.budgets?.dailyUsd)}\n`
        + `${pad('spend month', 14)}${month}: ${spendLine(spend.month, record.budgets?.monthlyUsd)}\n`);
      return;
    }
    case 'list': {
      const listed = (await admin.list())
        .filter((k) => (command.all || k.current) && (command.team === undefined || k.record.team === command.team))
        .sort((a, b) => a.record.name.localeCompare(b.record.name) || a.record.createdAt.localeCompare(b.record.createdAt));
      if (command.json) return json(listed.map((k) => ({ ...k.record, status: status(k.record, k.current, nowMs) })));
      if (listed.length === 0) {
        io.out(command.team === undefined ? 'No keys in this table yet (keys create makes one).\n' : `No keys of team ${command.team}.\n`);
        return;
      }
      io.out(columns(['NAME', 'TEAM', 'HINT', 'MODELS', 'LIMITS', 'BUDGETS', 'EXPIRES', 'STATUS', 'CREATED'], listed.map((k) => listRow(k, nowMs))));
      return;
    }
    case 'usage':
      return usage(command, admin, io);
  }
}

async function usage(command: Extract<GatewayCommand, { kind: 'usage' }>, admin: GatewayAdmin, io: Output): Promise<void> {
  const kind = command.monthly ? 'month' : 'day';
  const from = command.monthly ? command.since.slice(0, 7) : command.since;
  const to = command.monthly ? command.until.slice(0, 7) : command.until;
  const sources: { pk: string; key?: string }[] = command.team !== undefined
    ? [{ pk: spendTeamPk(command.team) }]
    : command.key !== undefined
      ? [{ pk: spendKeyPk(command.key) }]
      : (await admin.names()).map((name) => ({ pk: spendKeyPk(name), key: name }));
  const rows: (SpendRow & { key?: string })[] = [];
  for (const source of sources) {
    for (const row of await admin.spend(source.pk, kind, from, to, command.byModel)) {
      rows.push(source.key === undefined ? row : { key: source.key, ...row });
    }
  }
  rows.sort((a, b) => a.period.localeCompare(b.period) || (a.key ?? '').localeCompare(b.key ?? '') || (a.model ?? '').localeCompare(b.model ?? ''));
  const total = amounts(undefined);
  for (const row of rows) for (const f of SPEND_FIELDS) (total as Record<keyof SpendFields, number>)[f] += row[f];
  total.usd = Math.round(total.usd * 1e10) / 1e10;
  const periodName = command.monthly ? 'month' : 'day';
  if (command.json) {
    io.out(`${JSON.stringify({ since: command.since, until: command.until, rows: rows.map((r) => ({ [periodName]: r.period, ...withoutPeriod(r) })), total }, null, 2)}\n`);
    return;
  }
  const whose = command.team !== undefined ? `team ${command.team}` : command.key !== undefined ? `key ${command.key}` : 'all keys';
  const header = [periodName.toUpperCase(), ...(command.key === undefined && command.team === undefined ? ['KEY'] : []), ...(command.byModel ? ['MODEL'] : []),
    'REQUESTS', 'INPUT', 'OUTPUT', 'CACHE READ', 'CACHE WRITE', 'USD'];
  const line = (first: string[], a: SpendFields) => [...first, String(a.requests), String(a.inputTokens), String(a.outputTokens),
    String(a.cacheReadTokens), String(a.cacheWriteTokens), a.usd.toFixed(4)];
  const body = rows.map((r) => line([r.period, ...(header.includes('KEY') ? [r.key ?? ''] : []), ...(command.byModel ? [r.model ?? ''] : [])], r));
  const blanks = header.length - 7;
  body.push(line(['total', ...Array<string>(blanks).fill('')], total));
  io.out(`Spend of ${whose}, ${command.since} to ${command.until} (UTC)${rows.length === 0 ? ': none recorded' : ''}\n\n${columns(header, body)}`);
}

function withoutPeriod(row: SpendRow & { key?: string }): Omit<SpendRow, 'period'> & { key?: string } {
  const { period: _period, ...rest } = row;
  return rest;
}

function amounts(row: SpendFields | undefined): { -readonly [K in keyof SpendFields]: number } {
  return Object.fromEntries(SPEND_FIELDS.map((f) => [f, row?.[f] ?? 0])) as { -readonly [K in keyof SpendFields]: number };
}

// ---- formatting -------------------------------------------------------------------------------------------------

function status(record: KeyRecord, current: boolean, nowMs: number): 'active' | 'disabled' | 'expired' | 'rotated' {
  if (!current || record.rotatedAt !== undefined) return 'rotated';
  return keyRefusal(record, nowMs) ?? 'active';
}

function modelsText(record: KeyRecord): string {
  return record.models === undefined ? '*' : record.models.join(',');
}

function limitsText(limits: KeyLimits | undefined): string {
  if (!limits) return '-';
  const parts = [];
  if (limits.requestsPerMinute !== undefined) parts.push(`${limits.requestsPerMinute} rpm`);
  if (limits.tokensPerMinute !== undefined) parts.push(`${limits.tokensPerMinute} tpm`);
  if (limits.tokensPerDay !== undefined) parts.push(`${limits.tokensPerDay} tpd`);
  return parts.join(', ') || '-';
}

function budgetsText(budgets: KeyBudgets | undefined): string {
  if (!budgets) return '-';
  const parts = [];
  if (budgets.dailyUsd !== undefined) parts.push(`$${budgets.dailyUsd}/day`);
  if (budgets.monthlyUsd !== undefined) parts.push(`$${budgets.monthlyUsd}/month`);
  return parts.join(', ') || '-';
}

function instant(iso: string | undefined): string {
  return iso === undefined ? '-' : `${iso.slice(0, 16).replace('T', ' ')}Z`;
}

function listRow(k: ListedKey, nowMs: number): string[] {
  const r = k.record;
  return [r.name, r.team ?? '-', r.hint, modelsText(r), limitsText(r.limits), budgetsText(r.budgets), r.expiresAt === undefined ? 'never' : instant(r.expiresAt),
    status(r, k.current, nowMs), instant(r.createdAt)];
}

function describe(r: KeyRecord, nowMs: number): string {
  const lines: [string, string][] = [
    ['name', r.name],
    ['team', r.team ?? '-'],
    ['hint', r.hint],
    ['status', status(r, true, nowMs)],
    ['models', r.models === undefined ? '* (any)' : r.models.join(', ')],
    ['limits', r.limits ? limitsText(r.limits) : '- (the proxy-wide PROXY_RATE_LIMITS)'],
    ['budgets', budgetsText(r.budgets)],
    ['expires', r.expiresAt ?? 'never'],
    ['description', r.description ?? '-'],
    ['created', r.createdAt],
    ['updated', r.updatedAt ?? '-'],
  ];
  return lines.map(([label, value]) => `${pad(label, 14)}${value}`).join('\n');
}

function spendLine(a: SpendFields, budget: number | undefined): string {
  return `$${a.usd.toFixed(4)}${budget !== undefined ? ` of $${budget.toFixed(4)}` : ''}, ${a.requests} requests, ${a.inputTokens} input, `
    + `${a.outputTokens} output, ${a.cacheReadTokens} cache read, ${a.cacheWriteTokens} cache write tokens`;
}

function pad(text: string, width: number): string {
  return text.padEnd(width);
}

/** Left-aligned columns, two spaces apart; numeric columns are right-aligned. */
function columns(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^-?[\d.]*$/.test(r[i])) && rows.some((r) => r[i] !== ''));
  const format = (r: string[]) => r.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd();
  return `${[format(header), ...rows.map(format)].join('\n')}\n`;
}
