/**
 * The floor for any HTTP relay on this host: a Node HTTP server that forwards each request to the upstream (same
 * method, path, headers and body) and pipes the response back, parsing and changing nothing. bench/overhead.ts runs it
 * beside the proxy, on the same requests as the direct path, so its added time is what one extra process and one extra
 * loopback hop cost here, before any work a proxy does. Listens on 127.0.0.1 only.
 *
 *   node bench/out/pipe-relay.js --upstream http://127.0.0.1:PORT [--port 0]   (bundled by bench/build.ts)
 */
import * as http from 'http';
import type { AddressInfo } from 'net';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const upstream = new URL(arg('upstream') ?? '');
if (upstream.hostname !== '127.0.0.1' && upstream.hostname !== 'localhost') throw new Error('--upstream must be a loopback URL');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });

const server = http.createServer((req, res) => {
  const headers = { ...req.headers, host: upstream.host };
  const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (up) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
  });
  out.on('error', () => res.destroy());
  res.on('close', () => out.destroy());
  req.pipe(out);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(arg('port') ?? 0), '127.0.0.1', () => {
  console.log(`pipe relay listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => process.exit(0));
