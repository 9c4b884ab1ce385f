/**
 * Endpoint resolution for calls that do not go through a generated SDK command: it must give exactly what the SDK's own
 * endpoint resolution gives for an InvokeModel command with the same client and environment.
 */
import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { bedrockRuntimeBaseUrl, joinPath } from '../../lambda/streaming-proxy/upstream/endpoint';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

function environment(vars: Record<string, string>): void {
  for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDENDPOINT', AWS_SECRET_ACCESS_KEY: 'x', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', ...vars });
}

/** Where the SDK itself sends an InvokeModel command, observed from inside its middleware stack. */
async function sdkDestination(client: BedrockRuntimeClient): Promise<string> {
  let seen = '';
  client.middlewareStack.add((_next) => async (args) => {
    const req = args.request as { protocol: string; hostname: string; port?: number; path: string };
    seen = `${req.protocol}//${req.hostname}${req.port ? `:${req.port}` : ''}${req.path}`;
    throw new Error('stop here');
  }, { step: 'finalizeRequest', name: 'capture', priority: 'low' });
  await client.send(new InvokeModelCommand({ modelId: 'm', body: new Uint8Array() })).catch(() => undefined);
  return seen.replace(/\/model\/m\/invoke$/, '');
}

test.each([
  ['the region\'s standard endpoint', {}, {}, 'https://bedrock-runtime.eu-central-1.amazonaws.com'],
  ['FIPS endpoints (AWS_USE_FIPS_ENDPOINT)', { AWS_USE_FIPS_ENDPOINT: 'true' }, {}, 'https://bedrock-runtime-fips.eu-central-1.amazonaws.com'],
  ['AWS_ENDPOINT_URL_BEDROCK_RUNTIME', { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: 'http://127.0.0.1:4566' }, {}, 'http://127.0.0.1:4566'],
  ['AWS_ENDPOINT_URL', { AWS_ENDPOINT_URL: 'http://127.0.0.1:4567' }, {}, 'http://127.0.0.1:4567'],
  ['the service variable over the global one', { AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_ENDPOINT_URL_BEDROCK_RUNTIME: 'http://127.0.0.1:2' }, {}, 'http://127.0.0.1:2'],
  ['neither when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is set', { AWS_ENDPOINT_URL: 'http://127.0.0.1:3', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' }, {}, 'https://bedrock-runtime.eu-central-1.amazonaws.com'],
  ['an explicit endpoint with a path prefix (a VPC endpoint behind a gateway)', { AWS_ENDPOINT_URL: 'http://127.0.0.1:5' }, { endpoint: 'https://vpce.example.internal/bedrock' }, 'https://vpce.example.internal/bedrock'],
])('resolves %s like the SDK does', async (_name, vars, config, expected) => {
  environment(vars);
  const ours = await bedrockRuntimeBaseUrl(new BedrockRuntimeClient({ region: 'eu-central-1', ...config }));
  const sdk = await sdkDestination(new BedrockRuntimeClient({ region: 'eu-central-1', ...config }));
  expect(ours.href.replace(/\/$/, '')).toBe(expected);
  expect(sdk.replace(/\/$/, '')).toBe(expected);
});

test('joinPath keeps a base path prefix', () => {
  expect(joinPath(new URL('https://h/prefix/'), '/anthropic/v1/messages').href).toBe('https://h/prefix/anthropic/v1/messages');
  expect(joinPath(new URL('http://127.0.0.1:9'), '/anthropic/v1/messages').href).toBe('http://127.0.0.1:9/anthropic/v1/messages');
});
