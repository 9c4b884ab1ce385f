/**
 * The gateway table's cost per request: time to first byte and total time of a streamed reply through the shipped dev
 * server with the DynamoDB gateway table (on moto) — a key looked up in the table, its budgets checked (BatchGetItem)
 * and its requests-per-minute counted (conditional UpdateItem) before the upstream call, its tokens recorded and its
 * cost charged (TransactWriteItems) after it — against the same dev server with no store, in the same run, at 1 and
 * 16 concurrent streams, on the fake-Bedrock path (InvokeModelWithResponseStream). Also: each process's CPU per
 * request, and moto's own round trip per DynamoDB operation from this client, which real DynamoDB in a region would
 * replace with its own. Five processes: this client, the fake Bedrock, the two dev servers, moto.
 *
 *   node -r ts-node/register/transpile-only bench/gateway.ts   (after bench/build.ts and build-tools/bundle.ts; needs
 *   moto: bash scripts/install-test-prereqs.sh, or MOTO_SERVER=<moto_server binary>)
 *
 * Target: added TTFB ≤ 3 ms at p50 over the no-store row.
 */
import type { ChildProcess } from 'child_process';
import * as http from 'http';
import { BatchGetItemCommand, GetItemCommand, TransactWriteItemsCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { API_KEY, cpuMsOf, loadAverage, machine, ms, percentile, startDevServer, startFakeBedrock, timedPost, writeResult, type Timing } from './lib';
import { KEY_SK, keyPk } from '../lambda/shared/gateway/schema';
import { createGatewayTable, digestOf, dynamoClient, putKey } from '../test/support/gateway-table';
import { MotoServer } from '../test/support/moto-server';

const TABLE = 'bench-gateway';
const GATEWAY_KEY = 'sk-llm-bench-gateway-0123456789abcdef';
const OUT_BYTES = 4000;
const CHUNK = 16;
const DELAY_MS = 2;
const TARGET_MS = 3;
const PROMPT = `Tell me a story. [[fake out=${OUT_BYTES} chunk=${CHUNK} delay=${DELAY_MS}]]`;
const BODY = JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 2048, stream: true, messages: [{ role: 'user', content: PROMPT }] });

interface Stats { ttfbP50: number; ttfbP99: number; totalP50: number; n: number; errors: number }

function stats(timings: Timing[]): Stats {
  const ok = timings.filter((t) => t.ok);
  return {
    ttfbP50: percentile(ok.map((t) => t.ttfbMs), 50),
    ttfbP99: percentile(ok.map((t) => t.ttfbMs), 99),
    totalP50: percentile(ok.map((t) => t.totalMs), 50),
    n: ok.length,
    errors: timings.length - ok.length,
  };
}

async function batch(concurrency: number, perWorker: number, make: () => Promise<Timing>): Promise<Timing[]> {
  const out: Timing[] = [];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = 0; i < perWorker; i++) out.push(await make());
  }));
  return out;
}

/** Round trip of one DynamoDB operation from this process to moto: p50 and p99 of `n` calls in a row, milliseconds. */
async function roundTrip(n: number, call: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 10; i++) await call();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await call();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

interface Row {
  concurrency: number;
  noStore: Stats;
  gateway: Stats;
  noStoreCpuMsPerRequest: number;
  gatewayCpuMsPerRequest: number;
  motoCpuMsPerRequest: number;
}

async function main(): Promise<void> {
  const moto = await MotoServer.start();
  const motoPid = (moto as unknown as { child: ChildProcess }).child.pid!;
  const client = dynamoClient(moto.url);
  await createGatewayTable(client, TABLE);
  // A key with what a gateway key typically has: a team, budgets (checked before, charged after) and a request limit.
  await putKey(client, TABLE, 'bench', GATEWAY_KEY, {
    team: 'bench', budgets: { dailyUsd: 1e9, monthlyUsd: 1e9 }, limits: { requestsPerMinute: 1_000_000 },
  });
  const fake = await startFakeBedrock();
  const plain = await startDevServer(fake.url);
  const gateway = await startDevServer(fake.url, { ...moto.env(['DYNAMODB']), PROXY_GATEWAY_TABLE: TABLE });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const headers = { 'anthropic-version': '2023-06-01' };
  const viaPlain = () => timedPost(agent, `${plain.url}/v1/messages`, BODY, { ...headers, 'x-api-key': API_KEY }, 'message_stop');
  const viaGateway = () => timedPost(agent, `${gateway.url}/v1/messages`, BODY, { ...headers, 'x-api-key': GATEWAY_KEY }, 'message_stop');
  const rows: Row[] = [];
  const loads: number[] = [];
  let rtt: Record<string, { p50: number; p99: number }> = {};
  try {
    for (const concurrency of [1, 16]) {
      const perWorker = concurrency === 1 ? 25 : 3;
      const rounds = concurrency === 1 ? 6 : 6;
      await batch(concurrency, 3, viaPlain);
      await batch(concurrency, 3, viaGateway);
      const a: Timing[] = [];
      const b: Timing[] = [];
      let plainCpu = 0;
      let gatewayCpu = 0;
      let motoCpu = 0;
      for (let r = 0; r < rounds; r++) {
        const p0 = cpuMsOf(plain.process.pid!);
        a.push(...await batch(concurrency, perWorker, viaPlain));
        plainCpu += cpuMsOf(plain.process.pid!) - p0;
        const g0 = cpuMsOf(gateway.process.pid!);
        const m0 = cpuMsOf(motoPid);
        b.push(...await batch(concurrency, perWorker, viaGateway));
        gatewayCpu += cpuMsOf(gateway.process.pid!) - g0;
        motoCpu += cpuMsOf(motoPid) - m0;
      }
      loads.push(loadAverage());
      rows.push({
        concurrency,
        noStore: stats(a),
        gateway: stats(b),
        noStoreCpuMsPerRequest: plainCpu / a.length,
        gatewayCpuMsPerRequest: gatewayCpu / b.length,
        motoCpuMsPerRequest: motoCpu / b.length,
      });
    }
    // moto's own round trips, from this process, with the dev servers idle: the operations one gateway request makes.
    const key = { pk: { S: keyPk(digestOf(GATEWAY_KEY)) }, sk: { S: KEY_SK } };
    let n = 0;
    rtt = {
      'GetItem (the key, on a cache miss)': await roundTrip(200, () => client.send(new GetItemCommand({ TableName: TABLE, Key: key }))),
      'BatchGetItem (spend: day and month)': await roundTrip(200, () => client.send(new BatchGetItemCommand({
        RequestItems: { [TABLE]: { Keys: [{ pk: { S: 'spend#key#bench' }, sk: { S: 'day#2026-12-03' } }, { pk: { S: 'spend#key#bench' }, sk: { S: 'month#2026-12' } }], ConsistentRead: true } },
      }))),
      'UpdateItem (a counter)': await roundTrip(200, () => client.send(new UpdateItemCommand({
        TableName: TABLE, Key: { pk: { S: 'limit#rtt' }, sk: { S: 'rpm#1' } }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': { N: '1' } },
      }))),
      'TransactWriteItems (a charge: marker + 8 ADDs)': await roundTrip(100, () => {
        const id = `rtt-${n++}`;
        const add = (sk: string) => ({ Update: { TableName: TABLE, Key: { pk: { S: 'spend#key#rtt' }, sk: { S: sk } }, UpdateExpression: 'ADD usd :u', ExpressionAttributeValues: { ':u': { N: '0.001' } } } });
        return client.send(new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: TABLE, Item: { pk: { S: `charge#${id}` }, sk: { S: 'charge' } }, ConditionExpression: 'attribute_not_exists(pk)' } },
            ...['d1', 'd2', 'd3', 'd4', 'm1', 'm2', 'm3', 'm4'].map(add),
          ],
        }));
      }),
    };
  } finally {
    agent.destroy();
    await Promise.all([plain.stop(), gateway.stop()]);
    await fake.stop();
    client.destroy();
    await moto.stop();
  }

  const lines = [
    '## Gateway table: policy check and charge',
    '',
    `A streamed reply of ${OUT_BYTES} bytes in ${Math.ceil(OUT_BYTES / CHUNK)} deltas, a delta every ${DELAY_MS} ms, through the shipped dev server`,
    '(`--upstream bedrock`, the fake Bedrock, InvokeModelWithResponseStream): **no store** = the dev server with its own key and',
    'no gateway table (the overhead row\'s setup); **gateway** = a second dev server with `PROXY_GATEWAY_TABLE` on moto and a',
    'table key with a team, daily and monthly budgets and a requests-per-minute limit, so each request reads its spend',
    '(BatchGetItem) and adds to its minute counter (conditional UpdateItem) before the upstream call, and records its tokens',
    '(two UpdateItems) and charges its cost (TransactWriteItems) before the end (the key itself is cached after the first',
    'request). Same run, batches alternating. Milliseconds. CPU per request: user+system time of the process over the',
    'batches divided by the requests (10 ms clock ticks).',
    '',
    `| streams | no-store TTFB p50 / p99 | gateway TTFB p50 / p99 | added TTFB p50 (target ≤ ${TARGET_MS}) | no-store total p50 | gateway total p50 | added total p50 | dev server CPU ms/request: no store / gateway | moto CPU ms/request | 1-min load | requests (errors) |`,
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  rows.forEach((r, i) => {
    const added = r.gateway.ttfbP50 - r.noStore.ttfbP50;
    lines.push(`| ${r.concurrency} | ${ms(r.noStore.ttfbP50)} / ${ms(r.noStore.ttfbP99)} | ${ms(r.gateway.ttfbP50)} / ${ms(r.gateway.ttfbP99)} | `
      + `**${ms(added)}** (${added <= TARGET_MS ? 'met' : 'missed'}) | ${ms(r.noStore.totalP50)} | ${ms(r.gateway.totalP50)} | ${ms(r.gateway.totalP50 - r.noStore.totalP50)} | `
      + `${r.noStoreCpuMsPerRequest.toFixed(2)} / ${r.gatewayCpuMsPerRequest.toFixed(2)} | ${r.motoCpuMsPerRequest.toFixed(2)} | ${loads[i].toFixed(2)} | `
      + `${r.noStore.n + r.gateway.n} (${r.noStore.errors + r.gateway.errors}) |`);
  });
  lines.push('', 'moto\'s own round trip from the benchmark client (one call at a time, dev servers idle), milliseconds — the part of',
    'the added time that is moto, a Python server on loopback; DynamoDB in the function\'s region answers in a few',
    'milliseconds over the network instead:', '',
    '| operation | p50 | p99 |', '|---|---|---|',
    ...Object.entries(rtt).map(([op, t]) => `| ${op} | ${ms(t.p50)} | ${ms(t.p99)} |`),
    '', 'Before the first byte a gateway request makes two round trips in a row (BatchGetItem, then UpdateItem), so the added TTFB',
    'is about twice moto\'s round trip plus the proxy\'s own work.', '', `Machine: ${machine()}.`, '');
  writeResult('gateway', lines.join('\n'), { rows, rtt });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
