/**
 * Serves the chat page on loopback the way its SpaFrontend distribution would (SPA routing by the synthesized
 * CloudFront Function, the security headers, Cache-Control and config.json from the template) and sends `/api/*` to a
 * local dev server, so the page can be tried without an AWS account:
 *
 *   node assets/dev-server/cli.js dev --port 8787 --api-key sk-local-chat-key-0001 --mock-delay 40
 *   npx ts-node --transpile-only --project test/tsconfig.json examples/chat-web/serve.ts --port 8080 --upstream http://127.0.0.1:8787
 *
 * then open http://127.0.0.1:8080 and paste the key under Settings.
 */
import * as path from 'path';
import { parseArgs } from 'util';
import { startEdge, synthesizeSite } from '../../test/browser/edge';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8080' },
      upstream: { type: 'string', default: 'http://127.0.0.1:8787' },
    },
  });
  const upstream = new URL(values.upstream!);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(upstream.hostname)) {
    throw new Error(`--upstream must be a loopback address (the local dev server), got ${upstream.hostname}`);
  }
  const siteDir = path.join(__dirname, 'web');
  const { spec, runtimeConfig } = synthesizeSite(siteDir);
  const edge = await startEdge(spec, siteDir, runtimeConfig, upstream.origin, Number(values.port));
  console.log(`chat page on ${edge.url} (API route ${spec.apiPathPattern} -> ${upstream.origin}); Ctrl-C stops it`);
  process.on('SIGINT', () => void edge.close().then(() => process.exit(0)));
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
