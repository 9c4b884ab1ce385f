/**
 * The package's bin, `cdk-serverless-llm`: `dev` runs the StreamingLlmProxy runtime locally (also `npx projen dev`);
 * `keys …` and `usage` manage virtual keys and read spend in the gateway table (./keys-cli.ts).
 */
import * as fs from 'fs';
import { parseArgs } from 'util';
import { connectionHelp, startDevServer, type DevServerOptions } from './server';

const COMMANDS_HELP = `Usage: cdk-serverless-llm <command> [options]

Commands:
  dev                     run the proxy on this machine (the mock model or Amazon Bedrock)
  keys create|list|show|update|revoke|rotate
                          virtual API keys in the gateway table (with your AWS credentials)
  usage                   spend per day, key, team and model from the gateway table

Run cdk-serverless-llm <command> --help for a command's options.`;

const HELP = `Usage: cdk-serverless-llm dev [options]

Runs the StreamingLlmProxy runtime on this machine: the Anthropic Messages API (/v1/messages) and the OpenAI
Chat Completions and Responses APIs (/v1/chat/completions, /v1/responses) over the embedded mock model or real
Amazon Bedrock.

Options:
  --port <n>              port to listen on (default 8787; 0 picks a free port)
  --host <addr>           address to listen on (default 127.0.0.1)
  --api-key <key>         the key clients must send (x-api-key or Authorization: Bearer); generated when omitted
  --upstream mock|bedrock the embedded mock model (default) or Amazon Bedrock with your AWS credentials
  --region <region>       Bedrock region for --upstream bedrock (default: AWS_REGION / your AWS config)
  --models <file>         a PROXY_MODELS JSON file: {"replace": false, "models": [...]}
  --mock-delay <ms>       pause between the mock model's deltas (default 0)
  -h, --help              show this help

Other proxy settings are read from the environment as in Lambda, e.g. PROXY_RATE_LIMITS, PROXY_SESSIONS (default
memory here), PROXY_PING_INTERVAL_MS, PROXY_EXTRA_BETAS. Bedrock calls honour AWS_ENDPOINT_URL_BEDROCK_RUNTIME.`;

export class UsageError extends Error {
  public readonly name = 'UsageError';
}

/** Parses the command line (without `node` and the script). Throws UsageError on bad input. */
export function parseCommandLine(argv: readonly string[], env: Record<string, string | undefined>): DevServerOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'port': { type: 'string' },
        'host': { type: 'string' },
        'api-key': { type: 'string' },
        'upstream': { type: 'string' },
        'region': { type: 'string' },
        'models': { type: 'string' },
        'mock-delay': { type: 'string' },
        'help': { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 1 || positionals[0] !== 'dev') {
    throw new UsageError(positionals.length === 0 ? 'missing command: dev' : `unknown command: ${positionals.join(' ')}`);
  }
  const port = values.port === undefined ? 8787 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be a port number (0-65535)');
  const upstream = values.upstream ?? 'mock';
  if (upstream !== 'mock' && upstream !== 'bedrock') throw new UsageError('--upstream must be mock or bedrock');
  if (values['api-key'] !== undefined && values['api-key'].length < 16) throw new UsageError('--api-key must be at least 16 characters');
  const delay = values['mock-delay'] === undefined ? undefined : Number(values['mock-delay']);
  if (delay !== undefined && (!Number.isInteger(delay) || delay < 0)) throw new UsageError('--mock-delay must be a whole number of milliseconds');
  let modelsJson: string | undefined;
  if (values.models !== undefined) {
    try {
      modelsJson = fs.readFileSync(values.models, 'utf8');
    } catch (err) {
      throw new UsageError(`--models: cannot read ${values.models} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return {
    port,
    host: values.host ?? '127.0.0.1',
    apiKey: values['api-key'],
    upstream,
    region: values.region,
    modelsJson,
    env,
    mock: delay === undefined ? undefined : { deltaDelayMs: delay },
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'keys' || argv[0] === 'usage') {
    // Loaded only for these commands: the DynamoDB and SSM clients cost the dev server nothing.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runGatewayCommand } = require('./keys-cli') as typeof import('./keys-cli');
    const code = await runGatewayCommand(argv, process.env, {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
    });
    process.exitCode = code;
    return;
  }
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) {
    process.stdout.write(`${COMMANDS_HELP}\n`);
    return;
  }
  let options;
  try {
    options = parseCommandLine(argv, process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`cdk-serverless-llm: ${err.message}\n\n${argv.length === 0 || !argv.includes('dev') ? COMMANDS_HELP : HELP}\n`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  let server;
  try {
    server = await startDevServer(options);
  } catch (err) {
    // Configuration errors name the variable or flag; nothing here is secret.
    process.stderr.write(`cdk-serverless-llm: ${(err as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${connectionHelp(server)}\n\n`);
  const stop = () => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`cdk-serverless-llm: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
