/**
 * The embedded mock model: deterministic (the same request gives the same answer; only ids are unique), with realistic
 * canonical events — text, tool use with streamed `input_json_delta`, extended thinking with `signature_delta`,
 * prompt-cache usage, structured outputs, stop sequences and max_tokens — and configurable pacing. The dev server's
 * default upstream and the tests' upstream.
 *
 * It is a good partner for an agent loop (Claude Code, Codex CLI, SDK tool runners): it calls a tool only when a
 * directive asks for it (or `tool_choice` forces one), with an input generated from that tool's `input_schema`
 * (required properties, right types) and the values the directive gives; it answers a turn that ends in a tool result
 * with text and `end_turn`; and it answers `output_config.format` (and so OpenAI `response_format: json_schema`) with
 * JSON that satisfies the schema.
 *
 * The last user message steers it with a directive such as `[[mock: words=200 delay=20]]`:
 *   words=N       reply length in words            bytes=N     reply of about N bytes (large-response tests)
 *   delay=MS      pause between deltas             first_delay=MS  pause before message_start
 *   think=N       thinking length in words (when thinking is enabled)
 *   tool=NAME     call this tool; every other key=value is a value for the tool's input, e.g.
 *                 `[[mock: tool=Write file_path=/tmp/a.txt content="two words"]]` (quote values with spaces;
 *                 `input.words=3` names an input property that is also a directive)
 *   error=KIND    fail with an UpstreamError of this kind (throttling, overloaded, validation, access_denied,
 *                 not_found, timeout, internal); after=N lets N events through first (a mid-stream failure)
 * Text blocks that are entirely a `<system-reminder>` (Claude Code adds them) or an `<environment_context>` (Codex CLI's)
 * are not part of the prompt it quotes.
 *
 * Embedding models (catalogue kind `embedding`) get unit-length vectors derived from a SHA-256 of each text (the same
 * text always gives the same vector, different texts differ), of the requested length or the model's default
 * (embedding-models.ts), with a token estimate as usage. An `[[mock: error=KIND]]` directive in any input fails the call.
 */
import { createHash, randomBytes } from 'crypto';
import {
  type CanonicalEvent,
  type CanonicalRequest,
  type ContentBlock,
  type MessageResponse,
  type StopReason,
  type ToolDefinition,
  UpstreamError,
  type UpstreamErrorKind,
} from '../../shared/canonical';
import { MessageAccumulator } from '../accumulate';
import { embeddingSpec, estimateTextTokens } from '../embedding-models';
import { estimateInputTokens } from '../estimate';
import { exampleFor } from './schema-example';
import type { EmbedCall, EmbedResult, Upstream, UpstreamCall } from './types';

export interface MockUpstreamOptions {
  /** Pause before message_start, in ms. Default 0. */
  readonly firstEventDelayMs?: number;
  /** Pause between content deltas, in ms. Default 0. */
  readonly deltaDelayMs?: number;
  /** Words per text delta. Default 4. */
  readonly wordsPerDelta?: number;
  /** Reply length in words when the request does not ask for another. Default 40. */
  readonly replyWords?: number;
  /** Thinking length in words. Default 30. */
  readonly thinkingWords?: number;
}

const ERROR_KINDS: readonly UpstreamErrorKind[] = ['throttling', 'overloaded', 'validation', 'access_denied', 'not_found', 'timeout', 'internal'];
const ERROR_STATUS: Record<UpstreamErrorKind, number> = {
  throttling: 429, overloaded: 503, validation: 400, access_denied: 403, not_found: 404, timeout: 408, internal: 500,
};
const WORDS = (
  'the proxy streams every event to the client as soon as it arrives so that tokens appear without delay while '
  + 'the mock model keeps its answers short predictable and easy to check in tests of text tools thinking and usage'
).split(' ');
/** Prompt caching applies to prefixes of at least this many tokens. */
const MIN_CACHEABLE_TOKENS = 1024;
const CHARS_PER_TOKEN = 4;

interface Directives {
  words?: number;
  bytes?: number;
  delay?: number;
  firstDelay?: number;
  think?: number;
  tool?: string;
  error?: UpstreamErrorKind;
  after?: number;
  /** Values for the input of the tool the directive calls. */
  input: Record<string, unknown>;
}

const DIRECTIVE_KEYS = new Set(['words', 'bytes', 'delay', 'first_delay', 'think', 'tool', 'error', 'after']);

export class MockUpstream implements Upstream {
  public readonly kind = 'mock' as const;
  /** Prefix hashes seen before (prompt-cache simulation); bounded. */
  private readonly cachedPrefixes = new Set<string>();

  constructor(private readonly options: MockUpstreamOptions = {}) {}

  public stream(call: UpstreamCall): AsyncIterable<CanonicalEvent> {
    return this.generate(call);
  }

  public async complete(call: UpstreamCall): Promise<MessageResponse> {
    const acc = new MessageAccumulator();
    for await (const event of this.generate(call)) acc.add(event);
    return acc.result();
  }

  public async countTokens(call: UpstreamCall): Promise<number> {
    return estimateInputTokens(call.request);
  }

  public async embed(call: EmbedCall): Promise<EmbedResult> {
    const spec = embeddingSpec({ target: call.model.target, upstream: 'mock' })!;
    const dimensions = call.dimensions ?? spec.defaultDimensions;
    await sleep(this.options.firstEventDelayMs ?? 0, call.signal);
    for (const text of call.texts) {
      const error = parseDirectives(text).error;
      if (error) throw new UpstreamError(error, `mock upstream: simulated ${error} error`, undefined, ERROR_STATUS[error]);
    }
    let inputTokens = 0;
    for (const text of call.texts) inputTokens += estimateTextTokens(text);
    return { embeddings: call.texts.map((text) => mockVector(text, dimensions)), inputTokens, estimated: true };
  }

  private async *generate(call: UpstreamCall): AsyncGenerator<CanonicalEvent> {
    const { request, signal } = call;
    const turn = promptTurn(request);
    const d = parseDirectives(turn.text);
    const prompt = turn.prompt;
    const delay = d.delay ?? this.options.deltaDelayMs ?? 0;
    const wordsPerDelta = Math.max(1, this.options.wordsPerDelta ?? 4);
    const seed = createHash('sha256').update(request.model).update(JSON.stringify(request.messages)).digest('hex');

    await sleep(d.firstDelay ?? this.options.firstEventDelayMs ?? 0, signal);
    let emitted = 0;
    const failAfter = d.error ? d.after ?? 0 : Infinity;
    const fail = (): UpstreamError => new UpstreamError(d.error!, `mock upstream: simulated ${d.error} error`, undefined, ERROR_STATUS[d.error!]);
    if (failAfter === 0) throw fail();
    // Yields through this helper count towards `after`.
    const gate = (e: CanonicalEvent): CanonicalEvent => {
      if (emitted >= failAfter) throw fail();
      emitted++;
      return e;
    };

    const usage = this.inputUsage(request);
    let outputTokens = 0;
    const budget = request.max_tokens;
    let stopReason: StopReason = 'end_turn';
    let stopSequence: string | null = null;
    let index = 0;

    yield gate({
      type: 'message_start',
      message: {
        id: `msg_mock_${uniqueId()}`,
        type: 'message',
        role: 'assistant',
        model: call.model.target,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    });
    yield gate({ type: 'ping' });

    // Extended thinking first, as Claude does.
    if (request.thinking && request.thinking.type !== 'disabled') {
      yield gate({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      const thoughtWords = words(`Thinking about "${snippet(prompt)}".`, d.think ?? this.options.thinkingWords ?? 30, seed);
      // `display: "omitted"`: Claude thinks (and bills the tokens) but sends only the signature.
      const shown = request.thinking.display !== 'omitted';
      let thought = '';
      for (const piece of pieces(thoughtWords, wordsPerDelta)) {
        if (signal.aborted) return;
        await sleep(delay, signal);
        thought += piece;
        outputTokens += tokens(piece);
        if (shown) yield gate({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: piece } });
      }
      const signature = createHash('sha256').update(thought).digest('base64');
      yield gate({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature } });
      yield gate({ type: 'content_block_stop', index });
      index++;
    }

    const tool = chooseTool(request, turn.afterToolResult ? undefined : d.tool);
    const format = structuredFormat(request);
    const intro = tool ? `I will call the ${tool.name} tool.` : replyIntro(request, prompt);
    const textPieces = format && !tool
      ? jsonPieces(JSON.stringify(exampleFor(format.schema)))
      : d.bytes !== undefined && !tool
        ? byteChunks(intro, d.bytes, seed)
        : pieces(words(intro, tool ? 0 : d.words ?? this.options.replyWords ?? 40, seed), wordsPerDelta);

    yield gate({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
    const stops = (request.stop_sequences ?? []).filter((s) => s.length > 0);
    const keep = Math.max(0, ...stops.map((s) => s.length - 1));
    let tail = '';
    for (const piece of textPieces) {
      if (signal.aborted) return;
      await sleep(delay, signal);
      let text = piece;
      let stopped = false;
      if (stops.length > 0) {
        const hit = firstStop(tail + piece, stops, tail.length);
        if (hit) {
          text = piece.slice(0, Math.max(0, hit.at - tail.length));
          stopReason = 'stop_sequence';
          stopSequence = hit.sequence;
          stopped = true;
        }
        tail = (tail + text).slice(-keep);
      }
      const cost = tokens(text);
      if (outputTokens + cost > budget) {
        text = text.slice(0, Math.max(0, (budget - outputTokens) * CHARS_PER_TOKEN));
        outputTokens = budget;
        stopReason = 'max_tokens';
        stopSequence = null;
        stopped = true;
      } else {
        outputTokens += cost;
      }
      if (text) yield gate({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
      if (stopped) break;
    }
    yield gate({ type: 'content_block_stop', index });
    index++;

    if (tool && stopReason === 'end_turn') {
      const id = `toolu_mock_${uniqueId()}`;
      const json = JSON.stringify(exampleFor(tool.input_schema ?? { type: 'object' }, { given: d.input }));
      yield gate({ type: 'content_block_start', index, content_block: { type: 'tool_use', id, name: tool.name, input: {} } });
      const step = Math.max(1, Math.ceil(json.length / 3));
      for (let at = 0; at < json.length; at += step) {
        if (signal.aborted) return;
        await sleep(delay, signal);
        yield gate({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(at, at + step) } });
      }
      yield gate({ type: 'content_block_stop', index });
      outputTokens += tokens(json);
      stopReason = 'tool_use';
    }

    yield gate({
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: stopSequence },
      usage: { output_tokens: Math.max(1, outputTokens) },
    });
    yield gate({ type: 'message_stop' });
  }

  /** Input usage, with the prompt-cache split when the request marks a cacheable prefix. */
  private inputUsage(request: CanonicalRequest): { input_tokens: number; cache_creation_input_tokens: number; cache_read_input_tokens: number } {
    const total = estimateInputTokens(request);
    const prefix = cachedPrefix(request);
    if (!prefix) return { input_tokens: total, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    const prefixTokens = estimateInputTokens(prefix);
    if (prefixTokens < MIN_CACHEABLE_TOKENS) return { input_tokens: total, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    const key = createHash('sha256').update(JSON.stringify(prefix)).digest('hex');
    const rest = Math.max(0, total - prefixTokens);
    if (this.cachedPrefixes.has(key)) return { input_tokens: rest, cache_creation_input_tokens: 0, cache_read_input_tokens: prefixTokens };
    if (this.cachedPrefixes.size >= 1000) this.cachedPrefixes.clear();
    this.cachedPrefixes.add(key);
    return { input_tokens: rest, cache_creation_input_tokens: prefixTokens, cache_read_input_tokens: 0 };
  }
}

/**
 * A deterministic unit-length vector for a text: SHA-256 in counter mode gives 8 uint32 values per block, each mapped to
 * [-1, 1); the vector is then scaled to length 1.
 */
export function mockVector(text: string, dimensions: number): number[] {
  const out = new Array<number>(dimensions);
  for (let block = 0; block * 8 < dimensions; block++) {
    const digest = createHash('sha256').update(`${block}:`).update(text).digest();
    for (let j = 0; j < 8 && block * 8 + j < dimensions; j++) out[block * 8 + j] = digest.readUInt32LE(j * 4) / 2 ** 31 - 1;
  }
  const norm = Math.sqrt(out.reduce((sum, v) => sum + v * v, 0)) || 1;
  return out.map((v) => v / norm);
}

/** Ids are unique (clients key tool results and messages by them); everything else is deterministic. */
function uniqueId(): string {
  return randomBytes(12).toString('hex');
}

const REMINDER = /^\s*(<system-reminder>[\s\S]*<\/system-reminder>|<environment_context>[\s\S]*<\/environment_context>)\s*$/;

/**
 * The user turn that steers the reply: the last user message with prompt text (directives are read from all of its
 * text), and whether the conversation has moved on to a tool result since.
 */
function promptTurn(request: CanonicalRequest): { text: string; prompt: string; afterToolResult: boolean } {
  let afterToolResult = false;
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i];
    if (m.role !== 'user') continue;
    const texts = typeof m.content === 'string'
      ? [m.content]
      : m.content.filter((b): b is Extract<ContentBlock, { type: 'text' }> => b.type === 'text').map((b) => b.text);
    const prompt = texts.filter((t) => !REMINDER.test(t)).join('\n').replace(/\[\[mock:[^\]]*\]\]/g, '').trim();
    const asked = texts.some((t) => t.includes('[[mock:'));
    if (prompt.length > 0 || asked) return { text: texts.join('\n'), prompt, afterToolResult };
    if (typeof m.content !== 'string' && m.content.some((b) => b.type === 'tool_result')) afterToolResult = true;
  }
  return { text: '', prompt: '', afterToolResult };
}

/** The JSON schema of `output_config.format` (structured outputs), when the request asks for one. */
function structuredFormat(request: CanonicalRequest): { schema: unknown } | undefined {
  const config = request.extra?.output_config as { format?: { type?: unknown; schema?: unknown } } | undefined;
  if (config?.format?.type !== 'json_schema') return undefined;
  return { schema: config.format.schema ?? {} };
}

/** A JSON document in deltas of about 16 characters. */
function jsonPieces(json: string): string[] {
  const out: string[] = [];
  for (let at = 0; at < json.length; at += 16) out.push(json.slice(at, at + 16));
  return out;
}

function lastToolResult(request: CanonicalRequest): string | undefined {
  const last = request.messages[request.messages.length - 1];
  if (!last || last.role !== 'user' || typeof last.content === 'string') return undefined;
  const result = last.content.find((b): b is Extract<ContentBlock, { type: 'tool_result' }> => b.type === 'tool_result');
  if (!result) return undefined;
  if (typeof result.content === 'string') return result.content;
  return (result.content ?? []).map((b) => (b.type === 'text' ? b.text : `[${b.type}]`)).join(' ');
}

/** `key=value` pairs of every `[[mock: …]]` directive; values may be "quoted" (JSON string escapes) or JSON. */
export function parseDirectives(text: string): Directives {
  const out: Directives = { input: {} };
  for (const match of text.matchAll(/\[\[mock:((?:[^\]"]|"(?:[^"\\]|\\.)*")*)\]\]/g)) {
    for (const pair of match[1].matchAll(/([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|[^\s;,"]+)/g)) {
      const key = pair[1];
      const raw = pair[2];
      const value = raw.startsWith('"') ? parseJson(raw) ?? raw.slice(1, -1) : raw;
      if (key.startsWith('input.')) {
        out.input[key.slice('input.'.length)] = raw.startsWith('"') ? value : parseJson(raw) ?? raw;
        continue;
      }
      if (!DIRECTIVE_KEYS.has(key)) {
        out.input[key] = raw.startsWith('"') ? value : parseJson(raw) ?? raw;
        continue;
      }
      const n = Number(value);
      const num = Number.isFinite(n) && n >= 0 ? Math.floor(n) : undefined;
      switch (key) {
        case 'words': out.words = num; break;
        case 'bytes': out.bytes = num; break;
        case 'delay': out.delay = num; break;
        case 'first_delay': out.firstDelay = num; break;
        case 'think': out.think = num; break;
        case 'after': out.after = num; break;
        case 'tool': out.tool = String(value); break;
        default:
          if ((ERROR_KINDS as readonly string[]).includes(String(value))) out.error = value as UpstreamErrorKind;
          break;
      }
    }
  }
  return out;
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function replyIntro(request: CanonicalRequest, prompt: string): string {
  const toolResult = lastToolResult(request);
  if (toolResult !== undefined) return `The tool returned "${snippet(toolResult)}".`;
  return prompt ? `Mock reply to "${snippet(prompt)}".` : 'Mock reply.';
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}

/** The intro's words followed by `count` filler words, chosen from the seed. */
function words(intro: string, count: number, seed: string): string[] {
  const out = intro.split(' ');
  let at = parseInt(seed.slice(0, 6), 16) % WORDS.length;
  for (let i = 0; i < count; i++) {
    out.push(WORDS[at]);
    at = (at + 1) % WORDS.length;
  }
  return out;
}

/** Groups words into deltas; every delta after the first starts with the space that separates it. */
function pieces(all: string[], perDelta: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < all.length; i += perDelta) {
    const chunk = all.slice(i, i + perDelta).join(' ');
    out.push(i === 0 ? chunk : ` ${chunk}`);
  }
  return out;
}

/** About `bytes` bytes of text in ~1 KiB deltas, generated lazily (flat memory for very large replies). */
function* byteChunks(intro: string, bytes: number, seed: string): Generator<string> {
  let sent = 0;
  let at = parseInt(seed.slice(0, 6), 16) % WORDS.length;
  let chunk = intro;
  while (sent < bytes) {
    while (chunk.length < 1024) {
      chunk += ` ${WORDS[at]}`;
      at = (at + 1) % WORDS.length;
    }
    const piece = chunk.slice(0, Math.min(chunk.length, bytes - sent));
    sent += piece.length;
    yield piece;
    chunk = '';
  }
}

function tokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

function firstStop(text: string, stops: readonly string[], newFrom: number): { at: number; sequence: string } | undefined {
  let best: { at: number; sequence: string } | undefined;
  for (const sequence of stops) {
    const at = text.indexOf(sequence, Math.max(0, newFrom - sequence.length + 1));
    if (at >= 0 && (!best || at < best.at)) best = { at, sequence };
  }
  return best;
}

/**
 * The tool to call: the one a directive names, or the one `tool_choice` forces (`tool`, or the first for `any`, since
 * the API requires a call then). Never a tool merely mentioned in the prompt: an agent's prompt names its tools.
 */
function chooseTool(request: CanonicalRequest, directed: string | undefined): ToolDefinition | undefined {
  const tools = (request.tools ?? []).filter((t) => (t.type === undefined || t.type === 'custom') && typeof t.name === 'string');
  const choice = request.tool_choice;
  if (tools.length === 0 || choice?.type === 'none') return undefined;
  if (choice?.type === 'tool') return tools.find((t) => t.name === choice.name);
  const named = directed === undefined ? undefined : tools.find((t) => t.name === directed);
  if (named) return named;
  return choice?.type === 'any' ? tools[0] : undefined;
}

/** The request up to and including the last block marked with cache_control, or undefined when none is marked. */
function cachedPrefix(request: CanonicalRequest): Pick<CanonicalRequest, 'messages' | 'system' | 'tools'> | undefined {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i];
    if (typeof m.content !== 'string' && m.content.some((b) => 'cache_control' in b && b.cache_control)) {
      return { tools: request.tools, system: request.system, messages: request.messages.slice(0, i + 1) };
    }
  }
  if (Array.isArray(request.system) && request.system.some((b) => b.cache_control)) {
    return { tools: request.tools, system: request.system, messages: [] };
  }
  if (request.tools?.some((t) => t.cache_control)) return { tools: request.tools, messages: [] };
  return undefined;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
