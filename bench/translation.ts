/**
 * Translation throughput on one core (this process, no I/O): upstream events in, client frames out.
 *
 * - ConverseStream -> Anthropic SSE: ConverseTranslator + AnthropicSseEncoder, fed the ConverseStream events of a reply
 *   with text, a tool call and thinking, as the SDK hands them over;
 * - Anthropic (Claude) -> OpenAI chunks: OpenAiChunkEncoder over the canonical events of the same reply;
 * - Anthropic (Claude) -> Responses API events: ResponsesStreamEncoder over the same canonical events (reasoning summary
 *   and encrypted_content on, the request of a Codex CLI turn: one function tool);
 * - InvokeModel chunk -> Anthropic SSE (the Claude pass-through: UTF-8 decode, JSON.parse, model restored, re-encode).
 *
 *   node -r ts-node/register/transpile-only bench/translation.ts
 *
 * Target: ≥ 20,000 events/s on one core.
 */
import { machine, writeResult } from './lib';
import type { CanonicalEvent } from '../lambda/shared/canonical';
import { AnthropicSseEncoder } from '../lambda/streaming-proxy/anthropic/sse';
import { OpenAiChunkEncoder } from '../lambda/streaming-proxy/openai/chunks';
import type { ResponseContext } from '../lambda/streaming-proxy/responses/request';
import { ResponsesStreamEncoder } from '../lambda/streaming-proxy/responses/stream';
import { claudeEvent } from '../lambda/streaming-proxy/upstream/anthropic-native';
import { ConverseTranslator } from '../lambda/streaming-proxy/upstream/bedrock-converse';
import { claudeEvents, converseEvents, type FakeResponse } from '../test/support/fake-bedrock';

const REPLY: FakeResponse = {
  blocks: [
    { type: 'thinking', thinking: 'The user wants the weather in three cities. '.repeat(20), signature: 'EqQBCkYIBxgCKkD'.repeat(8) },
    { type: 'text', text: 'Here is what I found about the weather today, city by city, with sources. '.repeat(40) },
    { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_weather', input: { location: 'Paris, France', unit: 'celsius', days: 3 } },
  ],
  stopReason: 'tool_use',
  usage: { input_tokens: 1200, output_tokens: 900, cache_read_input_tokens: 800 },
  chunkChars: 12,
};

/** The ConverseStream events as the SDK delivers them: `{ <member>: payload }`. */
const CONVERSE = converseEvents(REPLY).map(([type, payload]) => ({ [type]: payload }));
const CANONICAL: CanonicalEvent[] = (() => {
  const t = new ConverseTranslator('claude-sonnet-4-6', 'msg_1');
  return [...CONVERSE.flatMap((e) => t.push(e as never)), ...t.end()];
})();
/** InvokeModelWithResponseStream chunk payloads (the bytes inside each `chunk` event). */
const encoder = new TextEncoder();
const CHUNKS = claudeEvents(REPLY, 'global.anthropic.claude-sonnet-4-6').map((e) => encoder.encode(JSON.stringify(e)));

const RESPONSE_CONTEXT: ResponseContext = {
  id: 'resp_0123456789abcdef0123456789abcdef',
  createdAt: 1,
  model: 'claude-sonnet-4-6',
  toolNames: new Map([['get_weather', { name: 'get_weather', custom: false }]]),
  encryptedReasoning: true,
  reasoningSummary: true,
  store: false,
  echo: { instructions: null, tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } }] },
};

interface Result { name: string; events: number; seconds: number; perSecond: number; bytesOut: number }

/** Runs `once()` (one whole reply) repeatedly for `seconds`; returns input events per second. */
function measure(name: string, eventsPerReply: number, once: () => number, seconds = 3): Result {
  const warmUntil = Date.now() + 500;
  while (Date.now() < warmUntil) once();
  let replies = 0;
  let bytes = 0;
  const started = process.hrtime.bigint();
  const until = started + BigInt(Math.round(seconds * 1e9));
  let now = started;
  while (now < until) {
    for (let i = 0; i < 20; i++) bytes += once();
    replies += 20;
    now = process.hrtime.bigint();
  }
  const elapsed = Number(now - started) / 1e9;
  const events = replies * eventsPerReply;
  return { name, events, seconds: elapsed, perSecond: events / elapsed, bytesOut: bytes / replies };
}

const decoder = new TextDecoder();

const results: Result[] = [
  measure('ConverseStream -> Anthropic SSE', CONVERSE.length, () => {
    const t = new ConverseTranslator('claude-sonnet-4-6', 'msg_1');
    const sse = new AnthropicSseEncoder('claude-sonnet-4-6');
    let n = 0;
    for (const e of CONVERSE) for (const c of t.push(e as never)) n += sse.encode(c).length;
    for (const c of t.end()) n += sse.encode(c).length;
    return n;
  }),
  measure('Anthropic events -> OpenAI chunks', CANONICAL.length, () => {
    const chunks = new OpenAiChunkEncoder('claude-sonnet-4-6', true, 1);
    let n = 0;
    for (const e of CANONICAL) n += chunks.encode(e).length;
    n += chunks.end()?.length ?? 0;
    return n;
  }),
  measure('Anthropic events -> Responses API events', CANONICAL.length, () => {
    const responses = new ResponsesStreamEncoder(RESPONSE_CONTEXT);
    let n = 0;
    for (const e of CANONICAL) n += responses.encode(e).length;
    return n;
  }),
  measure('InvokeModel chunks -> Anthropic SSE (Claude pass-through)', CHUNKS.length, () => {
    const sse = new AnthropicSseEncoder('claude-sonnet-4-6');
    let n = 0;
    for (const bytes of CHUNKS) {
      const event = claudeEvent(JSON.parse(decoder.decode(bytes)), 'claude-sonnet-4-6', 'Bedrock');
      if (event) n += sse.encode(event).length;
    }
    return n;
  }),
];

const lines = [
  '## Translation throughput',
  '',
  `One reply with thinking, text and a tool call (${CONVERSE.length} ConverseStream events, ${CANONICAL.length} canonical events, `
    + `${CHUNKS.length} InvokeModel chunks), translated repeatedly for 3 s in one process (one core). Events counted on the input side.`,
  '',
  '| translation | events/s (target ≥ 20,000) | output bytes per reply |',
  '|---|---|---|',
  ...results.map((r) => `| ${r.name} | **${Math.round(r.perSecond).toLocaleString('en-US')}** | ${Math.round(r.bytesOut).toLocaleString('en-US')} |`),
  '',
  `Machine: ${machine()}.`,
  '',
];
writeResult('translation', lines.join('\n'), results);
