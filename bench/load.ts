/**
 * Load: 200 concurrent streams for 60 s against the shipped dev server on loopback (`--upstream bedrock`, fake Bedrock).
 * Each of 200 clients streams replies back to back; every reply is paced like a model (deltas 5 ms apart). Anthropic
 * and OpenAI requests alternate. Errors = any non-200 status or a stream that does not end with its final frame. RSS of
 * the proxy is sampled every second: memory is bounded when, after the first third of the run (start-up, connection
 * pools, heap growth), the peaks stop rising: the last third peaks within 10 % of the middle third.
 *
 *   node -r ts-node/register/transpile-only bench/load.ts   (after bench/build.ts and build-tools/bundle.ts)
 *   BENCH_LOAD_SECONDS / BENCH_LOAD_STREAMS change the duration and concurrency.
 *
 * Target: zero errors, bounded memory.
 */
import * as http from 'http';
import { API_KEY, cpuMsOf, machine, mb, ms, percentile, rssOf, startDevServer, startFakeBedrock, timedPost, writeResult, type Timing } from './lib';

const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 60);
const STREAMS = Number(process.env.BENCH_LOAD_STREAMS ?? 200);
const PROMPT = 'Explain streaming. [[fake out=2000 chunk=16 delay=5]]';

async function main(): Promise<void> {
  const fake = await startFakeBedrock();
  const proxy = await startDevServer(fake.url);
  const pid = proxy.process.pid!;
  const agent = new http.Agent({ keepAlive: true, maxSockets: STREAMS + 10 });
  const anthropic = JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 1024, stream: true, messages: [{ role: 'user', content: PROMPT }] });
  const openai = JSON.stringify({ model: 'claude-sonnet-4-6', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: PROMPT }] });
  const timings: Timing[] = [];
  const errors: string[] = [];
  const rss: number[] = [];
  let problems: string[] = [];
  let cpuStart = { proxy: 0, fake: 0, at: 0 };
  let cpuShare = { proxy: 0, fake: 0 };
  try {
    const sampler = setInterval(() => rss.push(rssOf(pid)), 1000);
    cpuStart = { proxy: cpuMsOf(pid), fake: cpuMsOf(fake.process.pid!), at: Date.now() };
    const until = Date.now() + SECONDS * 1000;
    await Promise.all(Array.from({ length: STREAMS }, async (_, worker) => {
      let i = worker;
      while (Date.now() < until) {
        const useOpenAI = i++ % 2 === 1;
        const t = useOpenAI
          ? await timedPost(agent, `${proxy.url}/v1/chat/completions`, openai, { authorization: `Bearer ${API_KEY}` }, 'data: [DONE]')
          : await timedPost(agent, `${proxy.url}/v1/messages`, anthropic, { 'x-api-key': API_KEY }, 'message_stop');
        timings.push(t);
        if (!t.ok && errors.length < 10) errors.push(`${useOpenAI ? 'openai' : 'anthropic'}: status ${t.status}, ${t.bytes} bytes`);
      }
    }));
    clearInterval(sampler);
    const wall = Date.now() - cpuStart.at;
    cpuShare = { proxy: (cpuMsOf(pid) - cpuStart.proxy) / wall, fake: (cpuMsOf(fake.process.pid!) - cpuStart.fake) / wall };
    problems = [...proxy.problems];
  } finally {
    agent.destroy();
    await proxy.stop();
    await fake.stop();
  }
  const failed = timings.filter((t) => !t.ok).length;
  const ok = timings.filter((t) => t.ok);
  // Memory is bounded when, after the first third (start-up and pool growth), the peaks stop rising: the peak of the
  // last third is within 10 % of the peak of the middle third (garbage collection makes RSS a sawtooth). The slope
  // over the last two thirds is reported too.
  const third = Math.floor(rss.length / 3);
  const middle = rss.slice(third, 2 * third);
  const last = rss.slice(2 * third);
  const bounded = Math.max(...last) <= Math.max(...middle) * 1.1;
  const tail = rss.slice(third);
  const meanX = (tail.length - 1) / 2;
  const meanY = tail.reduce((a, b) => a + b, 0) / tail.length;
  const slope = tail.reduce((acc, y, x) => acc + (x - meanX) * (y - meanY), 0) / tail.reduce((acc, _y, x) => acc + (x - meanX) ** 2, 0);
  const result = {
    seconds: SECONDS,
    streams: STREAMS,
    requests: timings.length,
    errors: failed,
    errorSamples: errors,
    ttfbP50: percentile(ok.map((t) => t.ttfbMs), 50),
    ttfbP99: percentile(ok.map((t) => t.ttfbMs), 99),
    totalP50: percentile(ok.map((t) => t.totalMs), 50),
    totalP99: percentile(ok.map((t) => t.totalMs), 99),
    rssSeriesMb: rss.map((b) => Math.round(b / 1024 / 1024)),
    proxyCpuCores: cpuShare.proxy,
    fakeCpuCores: cpuShare.fake,
    rssMin: Math.min(...rss),
    rssMax: Math.max(...rss),
    rssMiddleMax: Math.max(...middle),
    rssLastMax: Math.max(...last),
    rssSlopeMbPerMin: (slope * 60) / (1024 * 1024),
    bounded,
  };
  const lines = [
    '## Load',
    '',
    `${STREAMS} concurrent streams for ${SECONDS} s against the dev server on loopback (\`--upstream bedrock\`, fake Bedrock), Anthropic and`,
    'OpenAI requests alternating; each reply is 125 text deltas 5 ms apart (~0.65 s, like a fast model).',
    '',
    '| requests | errors (target 0) | TTFB p50 / p99 | total p50 / p99 | proxy RSS min / max | RSS peak, middle third → last third | RSS slope, last two thirds | memory bounded |',
    '|---|---|---|---|---|---|---|---|',
    `| ${result.requests.toLocaleString('en-US')} | **${failed}** | ${ms(result.ttfbP50)} / ${ms(result.ttfbP99)} ms | ${ms(result.totalP50)} / ${ms(result.totalP99)} ms | `
      + `${mb(result.rssMin)} / ${mb(result.rssMax)} MB | ${mb(result.rssMiddleMax)} → ${mb(result.rssLastMax)} MB | `
      + `${result.rssSlopeMbPerMin.toFixed(1)} MB/min | **${bounded ? 'yes' : 'NO'}** |`,
    '',
    `RSS of the proxy each second (MB): ${result.rssSeriesMb.join(' ')}.`,
    '',
    `CPU used over the run, in cores: dev server ${result.proxyCpuCores.toFixed(2)}, fake Bedrock ${result.fakeCpuCores.toFixed(2)} `
      + '(the client uses the rest of the machine; latencies above the reply\'s own 0.65 s are queueing for CPU).',
    ...(errors.length > 0 ? ['', `First errors: ${errors.join('; ')}`] : []),
    ...(problems.length > 0 ? ['', 'Dev server log lines for failed requests:', '', ...problems.map((l) => `    ${l}`)] : []),
    '',
    `Machine: ${machine()}.`,
    '',
  ];
  writeResult('load', lines.join('\n'), result);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
