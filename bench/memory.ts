/**
 * Memory while streaming a 20 MB reply through the proxy (the shipped dev server, `--upstream bedrock`, fake Bedrock):
 * RSS of the proxy process sampled every 20 ms, growth = peak during the stream - RSS after warm-up. Two clients: one
 * that reads as fast as it can, and a slow one (2 MB/s) that makes the proxy hold data back (backpressure must reach
 * the upstream instead of piling up in memory).
 *
 *   node -r ts-node/register/transpile-only bench/memory.ts   (after bench/build.ts and build-tools/bundle.ts)
 *
 * Target: RSS grows by ≤ 10 MB.
 */
import * as http from 'http';
import { API_KEY, machine, mb, rssOf, sleep, startDevServer, startFakeBedrock, writeResult } from './lib';

const BYTES = 20 * 1024 * 1024;
const CHUNK = 400;

function stream(url: string, bytes: number, readBytesPerSecond?: number): Promise<{ received: number; ms: number; ok: boolean }> {
  const body = JSON.stringify({
    model: 'claude-sonnet-4-6',
    max_tokens: 64000,
    stream: true,
    messages: [{ role: 'user', content: `Write a lot. [[fake out=${bytes} chunk=${CHUNK}]]` }],
  });
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const req = http.request(`${url}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let received = 0;
      let tail = '';
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        tail = (tail + chunk.toString('latin1')).slice(-100);
        if (readBytesPerSecond) {
          // Read no faster than the given rate: pause until the bytes so far are "due".
          const due = started + (received / readBytesPerSecond) * 1000;
          const wait = due - Date.now();
          if (wait > 5) {
            res.pause();
            setTimeout(() => res.resume(), wait);
          }
        }
      });
      res.on('end', () => resolve({ received, ms: Date.now() - started, ok: res.statusCode === 200 && tail.includes('message_stop') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function measure(proxyUrl: string, pid: number, readBytesPerSecond?: number) {
  // Warm-up: code paths, connections, allocator.
  for (let i = 0; i < 3; i++) await stream(proxyUrl, 1024 * 1024);
  await sleep(500);
  const samples: number[] = [];
  const baseline = rssOf(pid);
  const timer = setInterval(() => samples.push(rssOf(pid)), 20);
  const result = await stream(proxyUrl, BYTES, readBytesPerSecond);
  clearInterval(timer);
  const peak = Math.max(baseline, ...samples);
  return { ...result, baseline, peak, growth: peak - baseline, samples: samples.length };
}

async function main(): Promise<void> {
  const fake = await startFakeBedrock();
  const proxy = await startDevServer(fake.url);
  const pid = proxy.process.pid!;
  let fast;
  let slow;
  try {
    fast = await measure(proxy.url, pid);
    slow = await measure(proxy.url, pid, 2 * 1024 * 1024);
  } finally {
    await proxy.stop();
    await fake.stop();
  }
  const row = (name: string, r: typeof fast) =>
    `| ${name} | ${mb(r.received)} MB in ${(r.ms / 1000).toFixed(1)} s | ${mb(r.baseline)} MB | ${mb(r.peak)} MB | **${mb(r.growth)} MB** | ${r.ok ? 'yes' : 'NO'} |`;
  const lines = [
    '## Memory',
    '',
    `A ${BYTES / 1024 / 1024} MB streamed reply (${Math.round(BYTES / CHUNK).toLocaleString('en-US')} text deltas of ${CHUNK} bytes) through the dev server`,
    '(`--upstream bedrock`, fake Bedrock). RSS of the proxy process sampled every 20 ms.',
    '',
    '| client | streamed | RSS before | RSS peak | growth (target ≤ 10 MB) | complete |',
    '|---|---|---|---|---|---|',
    row('reads as fast as it can', fast),
    row('reads at 2 MB/s (backpressure)', slow),
    '',
    `Machine: ${machine()}.`,
    '',
  ];
  writeResult('memory', lines.join('\n'), { fast, slow });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
