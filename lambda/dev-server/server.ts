/**
 * The local dev server: the proxy's real handler code behind a Node HTTP server. Each request becomes a Function URL
 * event and runs through the same streaming handler as in Lambda, via the `awslambda` shim, so responses stream
 * incrementally (no buffering) and errors look exactly as they do when deployed.
 *
 * API keys given with --api-key live in memory (no Secrets Manager locally) but go through the same key parsing,
 * hashing and constant-time comparison as in Lambda.
 */
import { randomBytes, randomUUID } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { awslambdaShim, invokeStreaming, localContext, type HttpResponseMetadata } from '../shared/awslambda-shim';
import { createApp } from '../streaming-proxy/app';
import { ApiKeyAuthenticator, ApiKeyStore } from '../streaming-proxy/auth/api-keys';
import { loadConfig } from '../streaming-proxy/config';
import { createStreamingHandler } from '../streaming-proxy/lambda-handler';
import { createLineMeter } from '../streaming-proxy/metering';
import type { MockUpstreamOptions } from '../streaming-proxy/upstream/mock';

export interface DevServerOptions {
  /** 0 picks a free port. Default 8787. */
  readonly port?: number;
  /** Default 127.0.0.1 (loopback only). */
  readonly host?: string;
  /** The key clients must send; generated when omitted. */
  readonly apiKey?: string;
  /** Default mock. */
  readonly upstream?: 'mock' | 'bedrock';
  /** Bedrock region for --upstream bedrock (default: the AWS SDK's region chain). */
  readonly region?: string;
  /** PROXY_MODELS JSON (the contents of --models). */
  readonly modelsJson?: string;
  /** Other proxy settings (PROXY_RATE_LIMITS, PROXY_SESSIONS, PROXY_PING_INTERVAL_MS, ...), as environment variables. */
  readonly env?: Record<string, string | undefined>;
  readonly mock?: MockUpstreamOptions;
  /** Where the one-line request log goes. Default: stdout. */
  readonly log?: (line: string) => void;
}

export interface DevServer {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly apiKey: string;
  /** True when the key was generated (not given with --api-key). */
  readonly generatedKey: boolean;
  readonly upstream: 'mock' | 'bedrock';
  close(): Promise<void>;
}

export function generateApiKey(): string {
  return `sk-dev-${randomBytes(24).toString('base64url')}`;
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const upstream = options.upstream ?? 'mock';
  const apiKey = options.apiKey ?? generateApiKey();
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));

  // Proxy settings come from the environment as in Lambda; authentication, upstream and models come from the flags.
  const config = loadConfig({
    PROXY_SESSIONS: 'memory',
    ...(options.env ?? {}),
    PROXY_AUTH_MODE: 'none',
    PROXY_UPSTREAM: upstream,
    PROXY_MODELS: options.modelsJson,
    AWS_REGION: options.region ?? options.env?.AWS_REGION,
  });
  // Parsed (and checked) through the same code as the Lambda's Secrets Manager secret.
  const keys = new ApiKeyStore({ load: async () => JSON.stringify({ dev: apiKey }), ttlMs: Number.POSITIVE_INFINITY });
  await keys.verify(apiKey);
  const proxy = createApp(config, {
    authenticator: new ApiKeyAuthenticator(keys),
    meter: createLineMeter(log),
    mock: options.mock,
  });
  const handler = createStreamingHandler(proxy, awslambdaShim);
  const maxBody = config.maxBodyBytes;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      // Keep one byte more than the limit (enough for the handler to answer 413), drop the rest.
      if (size <= maxBody) chunks.push(chunk.subarray(0, maxBody + 1 - size));
      size += chunk.length;
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://localhost');
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      const requestId = `req_${randomUUID().replace(/-/g, '')}`;
      const event = {
        version: '2.0',
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers,
        body: body.length > 0 ? body.toString('base64') : undefined,
        isBase64Encoded: body.length > 0,
        requestContext: { requestId, http: { method: req.method ?? 'GET', path: url.pathname, sourceIp: req.socket.remoteAddress ?? '' } },
      };
      const { stream, done } = invokeStreaming(handler, event, localContext(requestId));
      let bodyStarted = false;
      stream.once('data', () => {
        bodyStarted = true;
      });
      const writeHead = (prelude: HttpResponseMetadata) => {
        res.writeHead(prelude.statusCode ?? 200, prelude.headers ?? {});
        // The handler writes its first body chunk right after the prelude (in the same turn of the event loop), and
        // Node sends the status line and headers with it: one write and one packet instead of two. Should no body
        // byte follow in this turn, the headers go out on their own so the client sees the status at once.
        setImmediate(() => {
          if (!bodyStarted && !res.writableEnded && !res.destroyed) res.flushHeaders();
        });
      };
      // A response decided before the handler's first await (unknown path, CORS preflight, /health) has set its
      // prelude already, inside invokeStreaming; the others set it when the first upstream event arrives.
      if (stream.prelude) writeHead(stream.prelude);
      else stream.once('prelude', writeHead);
      stream.pipe(res);
      res.on('close', () => {
        if (!res.writableFinished) stream.destroy();
      });
      done.catch((err: unknown) => {
        log(`handler failed: ${err instanceof Error ? err.message : String(err)}`);
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'The dev server failed to handle the request.' } }));
        } else {
          res.destroy();
        }
      });
    });
  });
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8787, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    host,
    apiKey,
    generatedKey: options.apiKey === undefined,
    upstream,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** How to point Claude Code and the SDKs at the server. */
export function connectionHelp(server: DevServer): string {
  const u = server.url;
  const k = server.apiKey;
  return [
    `cdk-serverless-llm dev server on ${u} (upstream: ${server.upstream})`,
    `API key: ${k}${server.generatedKey ? '   (generated for this run; choose one with --api-key)' : ''}`,
    '',
    'Claude Code:',
    `  ANTHROPIC_BASE_URL=${u} ANTHROPIC_AUTH_TOKEN=${k} claude`,
    'Anthropic SDK (TypeScript / Python):',
    `  new Anthropic({ baseURL: '${u}', apiKey: '${k}' })`,
    `  Anthropic(base_url="${u}", api_key="${k}")`,
    'OpenAI SDK (TypeScript / Python):',
    `  new OpenAI({ baseURL: '${u}/v1', apiKey: '${k}' })`,
    `  OpenAI(base_url="${u}/v1", api_key="${k}")`,
    'curl:',
    `  curl -N ${u}/v1/messages -H 'x-api-key: ${k}' -H 'content-type: application/json' \\`,
    '    -d \'{"model":"claude-sonnet-4-6","max_tokens":256,"stream":true,"messages":[{"role":"user","content":"Hello"}]}\'',
    '',
    'Requests are logged below, one line each. Ctrl-C stops the server.',
  ].join('\n');
}
