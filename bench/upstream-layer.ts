/**
 * The upstream layer on its own (no dev server, no front end), to split the proxy overhead into its parts:
 *
 * 1. time to first event through `createUpstreams()(model).stream()` against the fake Bedrock (a separate process),
 *    beside a raw HTTP request for the same Bedrock call from the same process: what the upstream layer adds (SDK
 *    middleware or our signing, endpoint resolution, decoding) per request;
 * 2. CPU per event of decoding an InvokeModelWithResponseStream body: through the SDK's
 *    InvokeModelWithResponseStreamCommand, and through what the bedrock-invoke upstream uses instead (EventStreamReader
 *    with @smithy/eventstream-codec, then chunkEvent) on the same bytes.
 *
 *   node -r ts-node/register/transpile-only bench/upstream-layer.ts   (after bench/build.ts)
 */
import * as http from 'http';
import { BedrockRuntimeClient, InvokeModelWithResponseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { machine, median, ms, percentile, startFakeBedrock, timedPost, writeResult } from './lib';
import { Catalogue } from '../lambda/streaming-proxy/catalogue';
import { createUpstreams } from '../lambda/streaming-proxy/upstream';
import { chunkEvent } from '../lambda/streaming-proxy/upstream/bedrock-invoke';
import { EventStreamReader } from '../lambda/streaming-proxy/upstream/event-stream';

const CREDS = { accessKeyId: 'AKIDBENCHMARK', secretAccessKey: 'bench-secret' };

async function main(): Promise<void> {
  const fake = await startFakeBedrock();
  const catalogue = new Catalogue();
  const factory = createUpstreams({ region: 'us-east-1', bedrockClientConfig: { credentials: CREDS, endpoint: fake.url } });
  const agent = new http.Agent({ keepAlive: true });
  const ttfb: { name: string; direct: number[]; upstream: number[] }[] = [];
  const decode: { sdk: number[]; codec: number[]; events: number } = { sdk: [], codec: [], events: 0 };
  try {
    const prompt = 'Hello. [[fake out=4000 chunk=16]]';
    for (const name of ['claude-sonnet-4-6', 'claude-sonnet-5-5']) {
      const m = catalogue.resolve(name)!;
      const messages = m.upstream === 'bedrock-messages';
      const path = messages ? '/anthropic/v1/messages' : `/model/${encodeURIComponent(m.target)}/invoke-with-response-stream`;
      const body = JSON.stringify(messages
        ? { model: m.target, anthropic_version: 'bedrock-2023-05-31', max_tokens: 2048, stream: true, messages: [{ role: 'user', content: prompt }] }
        : { anthropic_version: 'bedrock-2023-05-31', max_tokens: 2048, messages: [{ role: 'user', content: prompt }] });
      const row = { name: `${m.upstream} (${name})`, direct: [] as number[], upstream: [] as number[] };
      for (let i = 0; i < 330; i++) {
        const d = await timedPost(agent, fake.url + path, body, {}, '');
        const started = process.hrtime.bigint();
        let first = -1;
        const call = {
          request: { model: name, max_tokens: 2048, stream: true, messages: [{ role: 'user' as const, content: prompt }] },
          model: m,
          signal: new AbortController().signal,
          requestId: `req${i}`,
        };
        for await (const event of factory(m).stream(call)) {
          if (first < 0) first = Number(process.hrtime.bigint() - started) / 1e6;
          void event;
        }
        if (i >= 30) {
          row.direct.push(d.ttfbMs);
          row.upstream.push(first);
        }
      }
      ttfb.push(row);
    }

    // Decoding cost of one long InvokeModelWithResponseStream body (10,005 events).
    const long = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 64000, messages: [{ role: 'user', content: 'x [[fake out=160000 chunk=16]]' }] });
    const client = new BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: fake.url,
      credentials: CREDS,
      requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true }) }),
    });
    const raw: Buffer[] = [];
    await new Promise<void>((resolve) => {
      const req = http.request(`${fake.url}/model/m/invoke-with-response-stream`, { method: 'POST', agent }, (res) => {
        res.on('data', (d: Buffer) => raw.push(d));
        res.on('end', () => resolve());
      });
      req.end(long);
    });
    const bytes = Buffer.concat(raw);
    for (let round = 0; round < 5; round++) {
      const c0 = process.cpuUsage();
      let n = 0;
      const response = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: 'm', body: long }));
      for await (const part of response.body!) if (part.chunk?.bytes) n++;
      const c1 = process.cpuUsage(c0);
      decode.sdk.push((c1.user + c1.system) / n);
      decode.events = n;
      const k0 = process.cpuUsage();
      let k = 0;
      const reader = new EventStreamReader();
      reader.write(bytes);
      for (let m = reader.read(); m; m = reader.read()) if (chunkEvent(m)) k++;
      const k1 = process.cpuUsage(k0);
      decode.codec.push((k1.user + k1.system) / k);
    }
  } finally {
    agent.destroy();
    await fake.stop();
  }

  const lines = [
    '## The upstream layer alone',
    '',
    'Time to first event through `createUpstreams()(model).stream()` in one process against the fake Bedrock, beside a raw',
    'HTTP request for the same Bedrock call from the same process (300 each, alternating, 255-event reply). Milliseconds.',
    '',
    '| upstream | raw request TTFB p50 / p99 | upstream first event p50 / p99 | added by the upstream layer p50 |',
    '|---|---|---|---|',
    ...ttfb.map((r) => `| ${r.name} | ${ms(percentile(r.direct, 50))} / ${ms(percentile(r.direct, 99))} | `
      + `${ms(percentile(r.upstream, 50))} / ${ms(percentile(r.upstream, 99))} | **${ms(percentile(r.upstream, 50) - percentile(r.direct, 50))}** |`),
    '',
    `Decoding an InvokeModelWithResponseStream body of ${decode.events.toLocaleString('en-US')} events, CPU per event (median of 5): `
      + `through the SDK's InvokeModelWithResponseStreamCommand **${median(decode.sdk).toFixed(1)} µs**; through the bedrock-invoke `
      + `upstream's decoder (@smithy/eventstream-codec frame by frame, then the chunk's JSON and base64) **${median(decode.codec).toFixed(1)} µs**.`,
    '',
    `Machine: ${machine()}.`,
    '',
  ];
  writeResult('upstream-layer', lines.join('\n'), { ttfb, decode });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
