/**
 * Cold start: size and module-init time of assets/streaming-proxy/index.js beside the floor, a bundle with only the
 * Bedrock Runtime client (bench/floor-entry.ts, same esbuild settings). Init = `require()` of the bundle in a fresh
 * Node process (what Lambda's init phase does with a handler module), measured inside that process; the two bundles
 * alternate, and the median of the runs is reported. The proxy is configured the way the construct deploys it
 * (Bedrock upstream, API keys); the `awslambda` global the Lambda runtime provides is stubbed.
 *
 *   node -r ts-node/register/transpile-only bench/coldstart.ts   (after bench/build.ts and build-tools/bundle.ts)
 *
 * Targets: init ≤ 1.25 × the floor; bundle ≤ 800 KB minified.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { machine, median, OUT, ROOT, writeResult } from './lib';

const RUNS = Number(process.env.BENCH_COLDSTART_RUNS ?? 25);
const PROXY = path.join(ROOT, 'assets', 'streaming-proxy', 'index.js');
const FLOOR = path.join(OUT, 'floor', 'index.js');

const PROBE = `
globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } };
const t0 = process.hrtime.bigint();
const mod = require(process.argv[1]);
const t1 = process.hrtime.bigint();
if (typeof mod.handler !== 'function') throw new Error('no handler export');
process.stdout.write(String(Number(t1 - t0) / 1e6));
`;

const ENV = {
  PATH: process.env.PATH ?? '',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDCOLDSTART',
  AWS_SECRET_ACCESS_KEY: 'coldstart',
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  PROXY_AUTH_MODE: 'api-keys',
  PROXY_API_KEYS_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:proxy-keys-AbCdEf',
  PROXY_UPSTREAM: 'bedrock',
  NODE_NO_WARNINGS: '1',
};

function initMs(bundle: string): number {
  return Number(execFileSync(process.execPath, ['-e', PROBE, bundle], { env: ENV, encoding: 'utf8' }));
}

const proxy: number[] = [];
const floor: number[] = [];
initMs(PROXY); // file cache
initMs(FLOOR);
for (let i = 0; i < RUNS; i++) {
  proxy.push(initMs(PROXY));
  floor.push(initMs(FLOOR));
}
const size = (f: string) => fs.statSync(f).size;
const result = {
  proxy: { bytes: size(PROXY), initMedianMs: median(proxy), initMinMs: Math.min(...proxy) },
  floor: { bytes: size(FLOOR), initMedianMs: median(floor), initMinMs: Math.min(...floor) },
  runs: RUNS,
};
const kb = (b: number) => `${(b / 1000).toFixed(0)} KB (${(b / 1024).toFixed(0)} KiB)`;
const lines = [
  '## Cold start',
  '',
  `Module init = \`require()\` of the bundle in a fresh Node process, median of ${RUNS} runs, bundles alternating.`,
  '',
  '| bundle | size (target ≤ 800 KB) | init median (min) |',
  '|---|---|---|',
  `| assets/streaming-proxy/index.js | **${kb(result.proxy.bytes)}** | ${result.proxy.initMedianMs.toFixed(1)} ms (${result.proxy.initMinMs.toFixed(1)}) |`,
  `| floor: Bedrock Runtime client only | ${kb(result.floor.bytes)} | ${result.floor.initMedianMs.toFixed(1)} ms (${result.floor.initMinMs.toFixed(1)}) |`,
  '',
  `Init ratio proxy / floor: **${(result.proxy.initMedianMs / result.floor.initMedianMs).toFixed(2)}** (target ≤ 1.25).`,
  '',
  `Machine: ${machine()}. (Lambda runs Node 24; these figures are from the Node version shown.)`,
  '',
];
writeResult('coldstart', lines.join('\n'), result);
