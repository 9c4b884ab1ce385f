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
import { InProcessBatchQueue, MemoryBatchObjects, MemoryBatchStore } from '../shared/batches/memory';
import { createAppWithWorker } from '../streaming-proxy/app';
import { ApiKeyStore } from '../streaming-proxy/auth/api-keys';
import { loadConfig } from '../streaming-proxy/config';
import { ProxyError, type Protocol } from '../streaming-proxy/errors';
import { createStreamingHandler } from '../streaming-proxy/lambda-handler';
import { createLineMeter } from '../streaming-proxy/metering';
import { detectProtocol } from '../streaming-proxy/router';
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
  const meter = createLineMeter(log);
  // Message batches in memory, worked on by an in-process queue — unless PROXY_BATCH_TABLE (with the queue and the
  // bucket) points at real stores, whose queue a worker elsewhere consumes.
  const queue = config.batches.aws ? undefined : new InProcessBatchQueue({
    concurrency: Number(options.env?.PROXY_BATCH_WORKER_CONCURRENCY ?? 4) || 4,
    onError: (error, job) => meter.warn('a batch job failed and will be delivered again', { batchId: job.batchId, index: job.index, error: (error as Error)?.message }),
  });
  const { proxy, worker } = createAppWithWorker(config, {
    // The dev key, and the gateway table's keys when PROXY_GATEWAY_TABLE is set (e.g. moto in tests).
    apiKeyStore: keys,
    meter,
    mock: options.mock,
    scheme: 'http',
    batches: queue ? { store: new MemoryBatchStore(), objects: new MemoryBatchObjects(), queue } : undefined,
  });
  if (queue && worker) queue.start(worker);
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
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      const url = requestUrl(req.url);
      if (!url) {
        // A target no URL parser accepts (`//[`, `http://%zz/`): Function URLs never pass one on; answer it here.
        const error = new ProxyError('invalid_request', 'The request target is not a valid URL path; send an origin-form target such as /v1/messages.');
        const protocol = detectProtocol(undefined, headers, new URLSearchParams());
        log(`${req.method ?? '?'} (invalid request target) ${error.status(protocol)}`);
        res.writeHead(error.status(protocol), { 'content-type': 'application/json' });
        res.end(error.body(protocol));
        return;
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
  // Requests Node's HTTP parser refuses (headers too large, bad framing, an unknown method) get a protocol-shaped
  // error body instead of Node's empty 400/431, then the connection closes.
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const error = new ProxyError('invalid_request', tooLarge
      ? 'The request headers are larger than this server accepts.'
      : `The request is not valid HTTP/1.1 (${err.code ?? 'parse error'}).`);
    const protocol = packetProtocol(err.rawPacket);
    const status = tooLarge ? 431 : error.status(protocol);
    const body = error.body(protocol);
    socket.end([
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`,
      'content-type: application/json',
      `content-length: ${Buffer.byteLength(body)}`,
      'connection: close',
      '',
      body,
    ].join('\r\n'));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new Error(`port ${options.port ?? 8787} on ${host} is already in use; choose another with --port <n> (--port 0 picks a free one)`));
      } else {
        reject(err);
      }
    });
    server.listen(options.port ?? 8787, host, () => {
      server.removeAllListeners('error');
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
      queue?.stop();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** The request target as a URL, or undefined when it is not one (origin-form `/path?query` or absolute-form). */
function requestUrl(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

/** The protocol of a request the HTTP parser refused, guessed from what arrived of it (Anthropic unless it looks OpenAI). */
function packetProtocol(packet: Buffer | undefined): Protocol {
  const text = packet?.subarray(0, 8192).toString('latin1').toLowerCase() ?? '';
  if (/\r\n(x-api-key|anthropic-version):/.test(text)) return 'anthropic';
  if (text.includes('/chat/completions') || /\r\nauthorization:\s*bearer\s/.test(text)) return 'openai';
  return 'anthropic';
}

/** How to point Claude Code, Codex CLI and the SDKs at the server. */
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
    'Codex CLI (or put the provider in ~/.codex/config.toml, see the README):',
    `  PROXY_KEY=${k} codex -c 'model_providers.proxy={name="proxy",base_url="${u}/v1",env_key="PROXY_KEY",wire_api="responses"}' \\`,
    '    -c model_provider=proxy -c model=claude-sonnet-4-6 -c web_search=disabled',
    'curl:',
    `  curl -N ${u}/v1/messages -H 'x-api-key: ${k}' -H 'content-type: application/json' \\`,
    '    -d \'{"model":"claude-sonnet-4-6","max_tokens":256,"stream":true,"messages":[{"role":"user","content":"Hello"}]}\'',
    '',
    'Requests are logged below, one line each. Ctrl-C stops the server.',
  ].join('\n');
}
