/**
 * Instructions the dev server executes per proxied streamed request, counted by valgrind's callgrind: a figure that does
 * not move with the load on the machine (the timings in overhead.ts do), so two builds can be compared on a busy
 * 2-core host. For each checkout, each path and two request counts, a fresh dev server (`--upstream bedrock`, the fake
 * Bedrock as upstream, the burst workload of overhead.ts) runs under callgrind, serves N sequential requests and exits;
 * the per-request figure is the difference between the two runs divided by the difference in requests, so start-up and
 * shut-down cancel out.
 *
 *   node -r ts-node/register/transpile-only bench/instructions.ts [--baseline <other checkout with assets/>]
 *
 * bench/run.sh runs it (BENCH_BASELINE=<dir> passes --baseline).
 *
 * Needs valgrind (Debian package) and a bundled checkout (`npx projen bundle`; bench/run.sh does it).
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { API_KEY, ROOT, machine, median, startFakeBedrock, timedPost, writeResult } from './lib';

const OUT_BYTES = 4000;
const CHUNK = 16;
const COUNTS = [40, 160] as const;
const RUNS = 3;

interface Path {
  name: string;
  model: string;
}

const PATHS: Path[] = [
  { name: 'InvokeModelWithResponseStream (claude-sonnet-4-6)', model: 'claude-sonnet-4-6' },
  { name: 'Anthropic Messages endpoint (claude-sonnet-5-5)', model: 'claude-sonnet-5-5' },
];

function body(model: string): string {
  return JSON.stringify({
    model,
    max_tokens: 2048,
    stream: true,
    messages: [{ role: 'user', content: `Tell me a story. [[fake out=${OUT_BYTES} chunk=${CHUNK} delay=0]]` }],
  });
}

/** Runs the checkout's dev server under callgrind, sends `requests` streamed requests one after another, and returns
 * the instructions the whole process executed. */
async function countInstructions(checkout: string, fakeUrl: string, model: string, requests: number): Promise<number> {
  const outFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'callgrind-')), 'out');
  const child = spawn('valgrind', [
    '--tool=callgrind', `--callgrind-out-file=${outFile}`,
    process.execPath, path.join(checkout, 'assets', 'dev-server', 'cli.js'),
    'dev', '--upstream', 'bedrock', '--port', '0', '--api-key', API_KEY,
  ], {
    cwd: checkout,
    env: {
      ...process.env,
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fakeUrl,
      AWS_ACCESS_KEY_ID: 'AKIDBENCHMARK',
      AWS_SECRET_ACCESS_KEY: 'bench-secret',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      NODE_NO_WARNINGS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error('the dev server under valgrind did not start in 180 s')), 180_000);
    child.stdout!.on('data', (d: Buffer) => {
      seen += d.toString();
      const m = /dev server on (http:\/\/\S+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`the dev server exited (${code}) before it was ready`)));
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const payload = body(model);
  for (let i = 0; i < requests; i++) {
    const t = await timedPost(agent, `${url}/v1/messages`, payload, { 'x-api-key': API_KEY }, 'message_stop');
    if (!t.ok) throw new Error(`request ${i} failed with status ${t.status}`);
  }
  agent.destroy();
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
  const text = fs.readFileSync(outFile, 'utf8');
  const m = /^(?:summary|totals): (\d+)/m.exec(text);
  if (!m) throw new Error(`no instruction total in ${outFile}`);
  fs.rmSync(path.dirname(outFile), { recursive: true, force: true });
  return Number(m[1]);
}

/** What Lambda's init does with the bundle, as in coldstart.ts: install the runtime's global, require the handler. */
const INIT_PROBE = [
  'globalThis.awslambda = { streamifyResponse: (fn) => fn, HttpResponseStream: { from: (s) => s } };',
  'if (process.argv[1]) require(process.argv[1]);',
].join('\n');
const INIT_RUNS = 5;

/** Instructions of a node process that loads `bundle` (or nothing: the floor) and exits. */
function countInit(bundle: string | undefined): number {
  const outFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'callgrind-')), 'out');
  const result = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${outFile}`, process.execPath, '-e', INIT_PROBE, ...(bundle ? [bundle] : [])], {
    env: { ...process.env, AWS_REGION: 'us-east-1', PROXY_AUTH_MODE: 'none', POWERTOOLS_LOG_LEVEL: 'SILENT' },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`loading ${bundle} under valgrind failed: ${result.stderr.slice(-2000)}`);
  const m = /^(?:summary|totals): (\d+)/m.exec(fs.readFileSync(outFile, 'utf8'));
  fs.rmSync(path.dirname(outFile), { recursive: true, force: true });
  if (!m) throw new Error(`no instruction total for ${bundle}`);
  return Number(m[1]);
}

async function main(): Promise<void> {
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    writeResult('instructions', '## Instructions per request\n\n(not run: valgrind is not installed; `apt-get install valgrind`)', []);
    return;
  }
  const at = process.argv.indexOf('--baseline');
  const checkouts: { label: string; dir: string }[] = [{ label: 'this checkout', dir: ROOT }];
  if (at > 0) checkouts.push({ label: `baseline (${process.argv[at + 1]})`, dir: path.resolve(process.argv[at + 1]) });
  const commit = (dir: string) => spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).stdout.trim();
  // Init: the checkouts alternate, so drift affects them alike.
  const init = new Map<string, number[]>([['floor', []], ...checkouts.map((c) => [c.label, []] as [string, number[]])]);
  for (let run = 0; run < INIT_RUNS; run++) {
    init.get('floor')!.push(countInit(undefined));
    for (const c of checkouts) init.get(c.label)!.push(countInit(path.join(c.dir, 'assets', 'streaming-proxy', 'index.js')));
  }
  const fake = await startFakeBedrock();
  const rows: { checkout: string; commit: string; path: string; perRequest: number[] }[] = [];
  try {
    for (const p of PATHS) {
      for (const c of checkouts) {
        const perRequest: number[] = [];
        for (let run = 0; run < RUNS; run++) {
          const low = await countInstructions(c.dir, fake.url, p.model, COUNTS[0]);
          const high = await countInstructions(c.dir, fake.url, p.model, COUNTS[1]);
          perRequest.push((high - low) / (COUNTS[1] - COUNTS[0]));
        }
        rows.push({ checkout: c.label, commit: commit(c.dir), path: p.name, perRequest });
        process.stderr.write(`${p.name} ${c.label}: ${perRequest.map((n) => Math.round(n)).join(', ')}\n`);
      }
    }
  } finally {
    await fake.stop();
  }
  const fmt = (n: number) => Math.round(n / 1000).toLocaleString('en-US');
  const lines = [
    '## Instructions per request',
    '',
    `Instructions the dev server executes per streamed \`POST /v1/messages\` (${OUT_BYTES} bytes of text in ${OUT_BYTES / CHUNK} deltas, burst), `
      + `counted by valgrind's callgrind: (run with ${COUNTS[1]} requests − run with ${COUNTS[0]}) / ${COUNTS[1] - COUNTS[0]}, so start-up cancels out; `
      + `${RUNS} runs each, the median in bold. Unlike the timings above this does not move with the machine's load, so it compares builds on a busy host. `
      + 'Thousands of instructions.',
    '',
    '| path | checkout | commit | k instructions per request (runs) |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.path} | ${r.checkout} | ${r.commit} | **${fmt(median(r.perRequest))}** (${r.perRequest.map(fmt).join(', ')}) |`),
    '',
    'Loading assets/streaming-proxy/index.js as Lambda\'s init does (the runtime global, then `require`), in a node process '
      + `that then exits; floor = the same process loading nothing. Median of ${INIT_RUNS} (alternating). Millions of instructions.`,
    '',
    '| bundle | checkout | size | M instructions (floor) | above the floor |',
    '|---|---|---|---|---|',
    ...checkouts.map((c) => {
      const floor = median(init.get('floor')!);
      const own = median(init.get(c.label)!);
      const size = fs.statSync(path.join(c.dir, 'assets', 'streaming-proxy', 'index.js')).size;
      return `| assets/streaming-proxy/index.js | ${c.label} (${commit(c.dir)}) | ${(size / 1000).toFixed(1)} KB | ${(own / 1e6).toFixed(1)} (${(floor / 1e6).toFixed(1)}) | **${((own - floor) / 1e6).toFixed(1)}** |`;
    }),
    '',
    `Machine: ${machine()}.`,
  ];
  writeResult('instructions', lines.join('\n'), rows);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
