/**
 * Proxy overhead: time to first byte and total time of a streamed Claude reply through the proxy (the shipped dev
 * server, `--upstream bedrock`, pointed at the fake Bedrock by AWS_ENDPOINT_URL_BEDROCK_RUNTIME) against the same
 * request sent straight to the fake Bedrock, in the same run, at 1 and 64 concurrent streams. The same direct request
 * also goes through a relay that parses nothing (bench/pipe-relay.ts): what one more process and loopback hop cost on
 * this host before a proxy does any work, the floor for any proxy. Direct, proxied and relayed batches alternate so
 * drift affects them alike. Four processes: this client, the fake Bedrock, the dev server, the pipe relay.
 *
 *   node -r ts-node/register/transpile-only bench/overhead.ts   (after bench/build.ts and build-tools/bundle.ts)
 *   BENCH_WORKLOADS=model-paced node -r ts-node/register/transpile-only bench/overhead.ts   (some workloads only)
 *   BENCH_PATHS=messages BENCH_STREAMS=64 ...   (scenarios whose name contains a word; some concurrencies only)
 *
 * Targets: added TTFB ≤ 2 ms at p50 and ≤ 10 ms at p99; total-time ratio ≤ 1.10.
 */
import * as http from 'http';
import { API_KEY, cpuMsOf, machine, ms, percentile, startDevServer, startFakeBedrock, startPipeRelay, timedPost, writeResult, type Timing } from './lib';

/** A medium reply: ~4 KB of text in 250 deltas (about 1,000 tokens). */
const OUT_BYTES = Number(process.env.BENCH_OUT_BYTES ?? 4000);
const CHUNK = Number(process.env.BENCH_CHUNK ?? 16);
const DELTAS = Math.ceil(OUT_BYTES / CHUNK);
/** Events per reply: message_start, block start, the deltas, block stop, message_delta, message_stop. */
const EVENTS = DELTAS + 5;

interface Workload {
  name: string;
  /** Milliseconds between the fake model's deltas. */
  delayMs: number;
  /** Concurrent streams to measure at. */
  concurrencies: number[];
  /** Spread the streams' start times evenly over one reply's duration (steady-state concurrency) instead of starting
   * them all at once (a thundering herd of simultaneous requests). */
  staggered: boolean;
}

/** burst: every event at once (the worst case for relative overhead: the proxy's CPU per event is all that shows).
 * paced: a delta every 2 ms, i.e. 500 deltas/s per stream, faster than any hosted model streams; at 64 streams
 * (32,000 events/s) the three processes saturate this machine's two cores.
 * model-paced: a delta every 20 ms (50 deltas/s, about 200 tokens/s with these 16-byte deltas: still faster than
 * Claude on Bedrock) with 64 streams in flight at every moment, their starts spread over one reply's duration. */
const WORKLOADS: Workload[] = [
  { name: 'burst', delayMs: 0, concurrencies: [1, 64], staggered: false },
  { name: 'paced', delayMs: 2, concurrencies: [1, 64], staggered: false },
  { name: 'model-paced', delayMs: 20, concurrencies: [64], staggered: true },
];

function prompt(w: Workload): string {
  return `Tell me a story. [[fake out=${OUT_BYTES} chunk=${CHUNK} delay=${w.delayMs}]]`;
}

interface Scenario {
  name: string;
  /** The model name the client sends to the proxy. */
  model: string;
  /** The same call made directly: path and body on the fake Bedrock, and how its stream ends ('' = binary frames). */
  directPath: string;
  directBody: (w: Workload) => string;
  directEnd: string;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'InvokeModelWithResponseStream (claude-sonnet-4-6)',
    model: 'claude-sonnet-4-6',
    directPath: `/model/${encodeURIComponent('global.anthropic.claude-sonnet-4-6')}/invoke-with-response-stream`,
    directBody: (w) => JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 2048, messages: [{ role: 'user', content: prompt(w) }] }),
    directEnd: '',
  },
  {
    name: 'Anthropic Messages endpoint (claude-sonnet-5-5)',
    model: 'claude-sonnet-5-5',
    directPath: '/anthropic/v1/messages',
    directBody: (w) => JSON.stringify({
      model: 'global.anthropic.claude-sonnet-5-5',
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 2048,
      stream: true,
      messages: [{ role: 'user', content: prompt(w) }],
    }),
    directEnd: 'message_stop',
  },
];

interface Stats {
  ttfbP50: number; ttfbP99: number; totalP50: number; totalP99: number; totalMean: number; n: number; errors: number;
}

function stats(timings: Timing[]): Stats {
  const ok = timings.filter((t) => t.ok);
  const ttfb = ok.map((t) => t.ttfbMs);
  const total = ok.map((t) => t.totalMs);
  return {
    ttfbP50: percentile(ttfb, 50),
    ttfbP99: percentile(ttfb, 99),
    totalP50: percentile(total, 50),
    totalP99: percentile(total, 99),
    totalMean: total.reduce((a, b) => a + b, 0) / Math.max(1, total.length),
    n: ok.length,
    errors: timings.length - ok.length,
  };
}

/** `concurrency` workers each run `perWorker` requests of `make()` back to back; with `spreadMs`, worker i starts
 * i × spreadMs / concurrency ms after the first. */
async function batch(concurrency: number, perWorker: number, make: () => Promise<Timing>, spreadMs = 0): Promise<Timing[]> {
  const out: Timing[] = [];
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    if (spreadMs > 0) await new Promise((resolve) => setTimeout(resolve, (w * spreadMs) / concurrency));
    for (let i = 0; i < perWorker; i++) out.push(await make());
  }));
  return out;
}

interface Row {
  scenario: string;
  workload: string;
  concurrency: number;
  direct: Stats;
  proxy: Stats;
  /** The direct request through the pipe relay. */
  relay: Stats;
  proxyCpuUsPerEvent: number;
  fakeCpuUsPerEvent: number;
}

async function main(): Promise<void> {
  const fake = await startFakeBedrock();
  const proxy = await startDevServer(fake.url);
  const pipe = await startPipeRelay(fake.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const fakePid = fake.process.pid!;
  const proxyPid = proxy.process.pid!;
  const rows: Row[] = [];
  let problems: string[] = [];
  try {
    const only = process.env.BENCH_WORKLOADS?.split(',');
    const onlyPaths = process.env.BENCH_PATHS?.split(',');
    const onlyStreams = process.env.BENCH_STREAMS?.split(',').map(Number);
    for (const workload of WORKLOADS.filter((w) => !only || only.includes(w.name))) {
      for (const scenario of SCENARIOS.filter((s) => !onlyPaths || onlyPaths.some((p) => s.name.toLowerCase().includes(p.toLowerCase())))) {
        const proxyBody = JSON.stringify({ model: scenario.model, max_tokens: 2048, stream: true, messages: [{ role: 'user', content: prompt(workload) }] });
        const directBody = scenario.directBody(workload);
        const direct = () => timedPost(agent, fake.url + scenario.directPath, directBody, {}, scenario.directEnd);
        const proxied = () => timedPost(agent, `${proxy.url}/v1/messages`, proxyBody, { 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' }, 'message_stop');
        // Event-stream bodies end in binary frames: a 200 with the full body (every frame arrived) is the success check.
        const directSize = (await direct()).bytes;
        const directOk = async () => {
          const t = await direct();
          return { ...t, ok: t.status === 200 && (scenario.directEnd ? t.ok : t.bytes === directSize) };
        };
        const relayedOk = async () => {
          const t = await timedPost(agent, pipe.url + scenario.directPath, directBody, {}, scenario.directEnd);
          return { ...t, ok: t.status === 200 && (scenario.directEnd ? t.ok : t.bytes === directSize) };
        };
        for (const concurrency of workload.concurrencies.filter((c) => !onlyStreams || onlyStreams.includes(c))) {
          const paced = workload.delayMs > 0;
          const slow = workload.delayMs >= 20;
          const perWorker = slow ? 2 : concurrency === 1 ? (paced ? 20 : 50) : (paced ? 2 : 4);
          const rounds = slow ? 3 : concurrency === 1 ? (paced ? 4 : 8) : 6;
          const spreadMs = workload.staggered ? DELTAS * workload.delayMs : 0;
          // Warm-up: connections, JIT, credential caches.
          await batch(concurrency, 2, directOk);
          await batch(concurrency, 2, proxied);
          await batch(concurrency, 2, relayedOk);
          const d: Timing[] = [];
          const p: Timing[] = [];
          const q: Timing[] = [];
          let proxyCpu = 0;
          let fakeCpu = 0;
          for (let r = 0; r < rounds; r++) {
            const f0 = cpuMsOf(fakePid);
            d.push(...await batch(concurrency, perWorker, directOk, spreadMs));
            fakeCpu += cpuMsOf(fakePid) - f0;
            const p0 = cpuMsOf(proxyPid);
            p.push(...await batch(concurrency, perWorker, proxied, spreadMs));
            proxyCpu += cpuMsOf(proxyPid) - p0;
            q.push(...await batch(concurrency, perWorker, relayedOk, spreadMs));
          }
          rows.push({
            scenario: scenario.name,
            workload: workload.name,
            concurrency,
            direct: stats(d),
            proxy: stats(p),
            relay: stats(q),
            proxyCpuUsPerEvent: (proxyCpu * 1000) / (p.length * EVENTS),
            fakeCpuUsPerEvent: (fakeCpu * 1000) / (d.length * EVENTS),
          });
        }
      }
    }
    problems = [...proxy.problems];
  } finally {
    agent.destroy();
    await pipe.stop();
    await proxy.stop();
    await fake.stop();
  }

  const lines: string[] = [
    '## Proxy overhead',
    '',
    `A streamed reply of ${OUT_BYTES} bytes of text in ${DELTAS} deltas (${EVENTS} events). Direct = the same Bedrock request sent`,
    'straight to the fake Bedrock; proxy = `POST /v1/messages` to the shipped dev server (`--upstream bedrock`,',
    '`AWS_ENDPOINT_URL_BEDROCK_RUNTIME` = the fake). Same run, direct and proxied batches alternating. Three processes (client, fake',
    'Bedrock, dev server) share the machine. Milliseconds; "added" = proxy percentile − direct percentile. CPU per event is the',
    'process\'s user+system time over the batches divided by the events it handled (10 ms clock ticks).',
    '',
    '**Pipe relay** = the direct request sent through `bench/pipe-relay.ts`, a Node HTTP relay that parses and changes nothing',
    '(it pipes the request to the fake Bedrock and the response back), measured in the same run: what one more process and one',
    'more loopback hop cost on this host before a proxy does any work. Where the pipe relay alone misses a target, no proxy',
    'can meet it on this host.',
    '',
    'Workloads: **burst** = the fake sends every event at once; **paced** = a delta every 2 ms (500/s per stream; at 64',
    'streams, 32,000 events/s, which saturates this machine\'s 2 cores with the three processes on it); **model-paced** = a delta',
    'every 20 ms (50/s, ~200 tokens/s, still faster than Claude on Bedrock) with 64 streams in flight at all times (starts',
    'spread over one reply). In Lambda each concurrent stream has its own execution environment; here one dev-server',
    'process serves all 64, on the cores the client and the fake also use.',
    '',
    '| workload | path | streams | direct TTFB p50 / p99 | proxy TTFB p50 / p99 | added TTFB p50 / p99 (target ≤ 2 / ≤ 10) | pipe relay added TTFB p50 / p99 | direct total p50 | proxy total p50 | total ratio p50 / mean (target ≤ 1.10) | pipe relay total ratio p50 / mean | targets (proxy; pipe relay) | proxy CPU µs/event (fake) | requests (errors) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const { direct, proxy: px, relay: rl } = r;
    lines.push(`| ${r.workload} | ${r.scenario} | ${r.concurrency} | ${ms(direct.ttfbP50)} / ${ms(direct.ttfbP99)} | ${ms(px.ttfbP50)} / ${ms(px.ttfbP99)} | `
      + `**${ms(px.ttfbP50 - direct.ttfbP50)} / ${ms(px.ttfbP99 - direct.ttfbP99)}** | ${ms(rl.ttfbP50 - direct.ttfbP50)} / ${ms(rl.ttfbP99 - direct.ttfbP99)} | `
      + `${ms(direct.totalP50)} | ${ms(px.totalP50)} | `
      + `**${(px.totalP50 / direct.totalP50).toFixed(3)} / ${(px.totalMean / direct.totalMean).toFixed(3)}** | `
      + `${(rl.totalP50 / direct.totalP50).toFixed(3)} / ${(rl.totalMean / direct.totalMean).toFixed(3)} | `
      + `${verdict(direct, px)}; ${verdict(direct, rl)} | `
      + `${r.proxyCpuUsPerEvent.toFixed(1)} (${r.fakeCpuUsPerEvent.toFixed(1)}) | ${direct.n + px.n + rl.n} (${direct.errors + px.errors + rl.errors}) |`);
  }
  const proxyMet = rows.filter((r) => verdict(r.direct, r.proxy) === 'met');
  const missed = rows.filter((r) => verdict(r.direct, r.proxy) !== 'met');
  const floorMissed = missed.filter((r) => verdict(r.direct, r.relay) !== 'met');
  lines.push('', `The proxy meets all three targets in ${proxyMet.length} of ${rows.length} rows`
    + (missed.length === 0 ? '.' : `; of the ${missed.length} it misses, the pipe relay alone misses a target in ${floorMissed.length}`
      + (floorMissed.length > 0 ? ` (${floorMissed.map((r) => `${r.workload} ${r.scenario.split(' (')[0]} ×${r.concurrency}`).join('; ')})` : '') + '.'));
  if (problems.length > 0) lines.push('', 'Failed proxied requests (dev server log):', '', ...problems.map((l) => `    ${l}`));
  lines.push('', `Machine: ${machine()}.`, '');
  writeResult('overhead', lines.join('\n'), rows);
}

/** Which of the three targets a measured path meets against the direct path: "met", or the ones it misses. */
function verdict(direct: Stats, measured: Stats): string {
  const missed: string[] = [];
  if (measured.ttfbP50 - direct.ttfbP50 > 2) missed.push('TTFB p50');
  if (measured.ttfbP99 - direct.ttfbP99 > 10) missed.push('TTFB p99');
  if (measured.totalP50 / direct.totalP50 > 1.1 || measured.totalMean / direct.totalMean > 1.1) missed.push('ratio');
  return missed.length === 0 ? 'met' : `missed ${missed.join(', ')}`;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
