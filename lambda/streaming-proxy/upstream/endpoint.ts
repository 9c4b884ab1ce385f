/**
 * Endpoint resolution for Bedrock calls that do not go through a generated SDK command (the Bedrock Anthropic Messages
 * endpoint). It asks the BedrockRuntimeClient's own resolved configuration, in the order the SDK's endpoint middleware
 * uses, so these calls honour exactly what SDK commands honour:
 *
 * 1. an explicit `endpoint` given to the client;
 * 2. the standard configured-endpoint settings: `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`, `AWS_ENDPOINT_URL`, the shared
 *    config file's `endpoint_url` / `services` section (all switched off by `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`);
 * 3. the service's endpoint rules for the client's region, FIPS and dual-stack settings.
 */
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';

interface EndpointV1Like {
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
}

interface ResolvedEndpointConfig {
  endpoint?: () => Promise<EndpointV1Like>;
  isCustomEndpoint?: boolean;
  ignoreConfiguredEndpointUrls?: boolean;
  serviceConfiguredEndpoint?: () => Promise<string | undefined>;
  endpointProvider: (params: Record<string, unknown>, context?: unknown) => { url: URL };
  region: () => Promise<string>;
  useFipsEndpoint: () => Promise<boolean>;
  useDualstackEndpoint: () => Promise<boolean>;
}

const cache = new WeakMap<BedrockRuntimeClient, Promise<URL>>();

/**
 * The base URL (scheme, host, port and any path prefix) the client sends its commands to. Cached per client: the
 * settings it reads are fixed for the life of the process.
 */
export function bedrockRuntimeBaseUrl(client: BedrockRuntimeClient): Promise<URL> {
  let url = cache.get(client);
  if (!url) {
    url = resolve(client.config as unknown as ResolvedEndpointConfig);
    url.catch(() => cache.delete(client));
    cache.set(client, url);
  }
  return url;
}

async function resolve(config: ResolvedEndpointConfig): Promise<URL> {
  if (config.isCustomEndpoint && config.endpoint) {
    const ep = await config.endpoint();
    const port = ep.port ? `:${ep.port}` : '';
    return new URL(`${ep.protocol}//${ep.hostname}${port}${ep.path}`);
  }
  if (!config.ignoreConfiguredEndpointUrls && config.serviceConfiguredEndpoint) {
    const configured = await config.serviceConfiguredEndpoint();
    if (configured) return new URL(configured);
  }
  const params = {
    Region: await config.region(),
    UseFIPS: await config.useFipsEndpoint(),
    UseDualStack: await config.useDualstackEndpoint(),
  };
  return new URL(config.endpointProvider(params).url.href);
}

/** `base` + `path`, keeping any path prefix of the base URL (`http://host/prefix` + `/anthropic/v1/messages`). */
export function joinPath(base: URL, path: string): URL {
  const url = new URL(base.href);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  return url;
}
