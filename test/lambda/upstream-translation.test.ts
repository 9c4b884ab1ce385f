/**
 * The pure parts of the upstreams, without I/O: the SSE parser, the Converse and OpenAI chunk translators (property
 * tests: any well-formed upstream stream becomes a valid canonical sequence carrying the same content), the Anthropic
 * body for Bedrock, and error classification.
 */
import { crc32 } from 'zlib';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import fc from 'fast-check';
import { UpstreamError, type CanonicalEvent } from '../../lambda/shared/canonical';
import { Catalogue } from '../../lambda/streaming-proxy/catalogue';
import { anthropicBody, claudeEvent } from '../../lambda/streaming-proxy/upstream/anthropic-native';
import { ConverseTranslator, mapStopReason, toConverseInput } from '../../lambda/streaming-proxy/upstream/bedrock-converse';
import { chunkEvent } from '../../lambda/streaming-proxy/upstream/bedrock-invoke';
import { errorFromHttpResponse, exceptionMember, kindForException, toUpstreamError, UpstreamTimeout } from '../../lambda/streaming-proxy/upstream/errors';
import { EventStreamReader, header, MalformedEventStream } from '../../lambda/streaming-proxy/upstream/event-stream';
import { OpenAIChunkTranslator } from '../../lambda/streaming-proxy/upstream/openai-compatible';
import { SseParser } from '../../lambda/streaming-proxy/upstream/sse';
import { accumulate, assertValidSequence } from '../support/canonical-stream';
import { chunkFrame, converseEvents, eventFrame, exceptionFrame, type FakeBlock } from '../support/fake-bedrock';

describe('EventStreamReader', () => {
  const frames = [
    chunkFrame({ type: 'message_start', message: { id: 'm' } }),
    eventFrame('chunk', { bytes: Buffer.from('{"type":"ping"}').toString('base64') }),
    exceptionFrame('throttlingException', 'slow down'),
  ];
  const all = Buffer.concat(frames);

  test('decodes the same messages however the bytes are split, one message at a time', () => {
    fc.assert(fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
      const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
      const reader = new EventStreamReader();
      const out: string[] = [];
      let last = 0;
      for (const point of [...points, all.length]) {
        reader.write(all.subarray(last, point));
        last = point;
        for (let m = reader.read(); m; m = reader.read()) out.push(`${header(m, ':message-type')}/${header(m, ':event-type') ?? header(m, ':exception-type')}`);
      }
      reader.end();
      expect(out).toEqual(['event/chunk', 'event/chunk', 'exception/throttlingException']);
    }));
  });

  test('decodes header names and string values exactly as the SDK codec with @smithy/util-utf8 does', () => {
    const sdk = new EventStreamCodec(toUtf8, fromUtf8);
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), fc.uint8Array({ maxLength: 8 }), (value, name, junk) => {
      const frame = sdk.encode({ headers: { [name]: { type: 'string', value }, ':message-type': { type: 'string', value: 'event' } }, body: new Uint8Array(junk) });
      const reader = new EventStreamReader();
      reader.write(frame);
      expect(reader.read()).toEqual(sdk.decode(frame));
    }));
    // Bytes that are not UTF-8 in a header value: both decoders replace them with U+FFFD.
    const raw = Buffer.from(sdk.encode({ headers: { ':event-type': { type: 'string', value: 'ab' } }, body: new Uint8Array(0) }));
    const at = raw.indexOf('ab');
    raw[at] = 0xc3;
    raw[at + 1] = 0x28;
    // Fix the message CRC (the last 4 bytes) after editing the headers.
    raw.writeUInt32BE(crc32(raw.subarray(0, raw.length - 4)), raw.length - 4);
    const reader = new EventStreamReader();
    reader.write(raw);
    expect(header(reader.read()!, ':event-type')).toBe(header(sdk.decode(raw), ':event-type'));
    expect(header(sdk.decode(raw), ':event-type')).toBe('\ufffd(');
  });

  test('rejects a cut stream, a corrupt CRC and an impossible length', () => {
    const cut = new EventStreamReader();
    cut.write(all.subarray(0, all.length - 3));
    for (let m = cut.read(); m; m = cut.read()) void m;
    expect(() => cut.end()).toThrow(MalformedEventStream);
    const corrupt = Buffer.from(frames[0]);
    corrupt[corrupt.length - 6] = (corrupt[corrupt.length - 6] + 1) % 256;
    const bad = new EventStreamReader();
    bad.write(corrupt);
    expect(() => bad.read()).toThrow(MalformedEventStream);
    const huge = new EventStreamReader();
    huge.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
    expect(() => huge.read()).toThrow(/out of range/);
  });

  test('chunkEvent: chunk payloads, exception and error messages', () => {
    const reader = new EventStreamReader();
    reader.write(all);
    expect(chunkEvent(reader.read()!)).toEqual({ type: 'message_start', message: { id: 'm' } });
    expect(chunkEvent(reader.read()!)).toEqual({ type: 'ping' });
    expect(() => chunkEvent(reader.read()!)).toThrow(expect.objectContaining({ kind: 'throttling', message: 'Bedrock: slow down' }));
  });
});

describe('SseParser', () => {
  test('parses events, multi-line data, comments and every line ending', () => {
    const p = new SseParser();
    const out = [
      ...p.push(': keep-alive\n\nevent: message_start\ndata: {"a":1}\n\n'),
      ...p.push('event: x\r\ndata: line1\r\ndata: line2\r\n\r\n'),
      ...p.push('data:no-space\r\rdata: tail'),
      ...p.end(),
    ];
    expect(out).toEqual([
      { event: 'message_start', data: '{"a":1}' },
      { event: 'x', data: 'line1\nline2' },
      { event: 'message', data: 'no-space' },
      { event: 'message', data: 'tail' },
    ]);
  });

  test('gives the same messages however the bytes are split (including inside UTF-8 sequences and CRLF)', () => {
    const message = fc.record({
      event: fc.constantFrom('message_start', 'content_block_delta', 'ping', 'error'),
      data: fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ' ')),
    });
    fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), fc.constantFrom('\n', '\r\n', '\r'), fc.array(fc.nat(), { maxLength: 10 }), (messages, eol, cuts) => {
      const text = messages.map((m) => `event: ${m.event}${eol}data: ${m.data}${eol}${eol}`).join('');
      const bytes = Buffer.from(text, 'utf8');
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const p = new SseParser();
      const out = [];
      let last = 0;
      for (const point of [...points, bytes.length]) {
        out.push(...p.push(bytes.subarray(last, point)));
        last = point;
      }
      out.push(...p.end());
      expect(out).toEqual(messages.map((m) => ({ event: m.event, data: m.data })));
    }));
  });
});

const blockArb: fc.Arbitrary<FakeBlock> = fc.oneof(
  fc.record({ type: fc.constant('text' as const), text: fc.string({ minLength: 1, maxLength: 60 }) }),
  fc.record({ type: fc.constant('thinking' as const), thinking: fc.string({ minLength: 1, maxLength: 60 }), signature: fc.base64String({ minLength: 4, maxLength: 40 }) }),
  fc.record({ type: fc.constant('redacted_thinking' as const), data: fc.uint8Array({ minLength: 1, maxLength: 30 }).map((b) => Buffer.from(b).toString('base64')) }),
  fc.record({
    type: fc.constant('tool_use' as const),
    id: fc.stringMatching(/^toolu_[A-Za-z0-9]{4,12}$/),
    name: fc.stringMatching(/^[a-z_]{1,12}$/),
    input: fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean())),
  }),
);

/** The SDK hands ConverseStream events over as objects with one member set; blobs arrive as bytes. */
function sdkEvent([type, payload]: [string, Record<string, unknown>]): Record<string, unknown> {
  const delta = (payload.delta ?? {}) as { reasoningContent?: { redactedContent?: string } };
  if (delta.reasoningContent?.redactedContent !== undefined) {
    return { [type]: { ...payload, delta: { reasoningContent: { redactedContent: Buffer.from(delta.reasoningContent.redactedContent, 'base64') } } } };
  }
  return { [type]: payload };
}

describe('ConverseTranslator', () => {
  test('any ConverseStream becomes a valid canonical sequence with the same blocks, stop reason and usage', () => {
    fc.assert(fc.property(
      fc.array(blockArb, { minLength: 0, maxLength: 6 }),
      fc.constantFrom('end_turn', 'tool_use', 'max_tokens', 'stop_sequence') as fc.Arbitrary<'end_turn' | 'tool_use' | 'max_tokens' | 'stop_sequence'>,
      fc.integer({ min: 1, max: 9 }),
      fc.record({ input_tokens: fc.nat(), output_tokens: fc.nat(), cache_read_input_tokens: fc.nat(), cache_creation_input_tokens: fc.nat() }),
      (blocks, stopReason, chunkChars, usage) => {
        const t = new ConverseTranslator('client-model', 'msg_1');
        const events: CanonicalEvent[] = [];
        for (const e of converseEvents({ blocks, stopReason, chunkChars, usage })) events.push(...t.push(sdkEvent(e) as never));
        events.push(...t.end());
        assertValidSequence(events);
        const message = accumulate(events);
        expect(message.content).toEqual(blocks);
        expect(message.stopReason).toBe(stopReason);
        expect(message.usage).toEqual(usage);
        expect(message.model).toBe('client-model');
      },
    ));
  });

  test('closes a block left open when the next one starts, and drops deltas it cannot carry', () => {
    const t = new ConverseTranslator('m', 'msg_2');
    const events = [
      ...t.push({ messageStart: { role: 'assistant' } } as never),
      ...t.push({ contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'a' } } } as never),
      // No contentBlockStop for block 0.
      ...t.push({ contentBlockStart: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 't1', name: 'f' } } } } as never),
      ...t.push({ contentBlockDelta: { contentBlockIndex: 1, delta: { citation: { title: 'x' } } } } as never),
      ...t.push({ contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '{}' } } } } as never),
      ...t.push({ messageStop: { stopReason: 'guardrail_intervened' } } as never),
      ...t.end(),
    ];
    assertValidSequence(events);
    expect(accumulate(events)).toMatchObject({ content: [{ type: 'text', text: 'a' }, { type: 'tool_use', id: 't1', input: {} }], stopReason: 'refusal' });
  });

  test('a stream that ends before messageStop is an error, not a silent truncation', () => {
    const t = new ConverseTranslator('m', 'msg_3');
    t.push({ messageStart: { role: 'assistant' } } as never);
    expect(() => t.end()).toThrow(UpstreamError);
  });

  test('maps Converse stop reasons to Anthropic ones', () => {
    expect(['end_turn', 'tool_use', 'max_tokens', 'stop_sequence', 'guardrail_intervened', 'content_filtered', 'model_context_window_exceeded', 'malformed_model_output']
      .map(mapStopReason)).toEqual(['end_turn', 'tool_use', 'max_tokens', 'stop_sequence', 'refusal', 'refusal', 'max_tokens', 'end_turn']);
  });

  test('thinking and top_k go to additionalModelRequestFields for Claude targets only; cache_control becomes cachePoint', () => {
    const request = {
      model: 'x',
      max_tokens: 10,
      top_k: 4,
      thinking: { type: 'enabled' as const, budget_tokens: 2048 },
      system: [{ type: 'text' as const, text: 'sys', cache_control: { type: 'ephemeral' as const } }],
      messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'hi', cache_control: { type: 'ephemeral' as const } }] }],
    };
    const claude = toConverseInput(request, { ...new Catalogue().resolve('nova-pro')!, target: 'us.anthropic.claude-sonnet-4-6' });
    expect(claude.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 2048 }, top_k: 4 });
    expect(claude.system).toEqual([{ text: 'sys' }, { cachePoint: { type: 'default' } }]);
    expect(claude.messages[0].content).toEqual([{ text: 'hi' }, { cachePoint: { type: 'default' } }]);
    expect(toConverseInput(request, new Catalogue().resolve('nova-pro')!).additionalModelRequestFields).toBeUndefined();
    const structured = { ...request, thinking: undefined, top_k: undefined, extra: { output_config: { format: { type: 'json_schema', schema: { type: 'object' } } } } };
    expect(toConverseInput(structured, { ...new Catalogue().resolve('nova-pro')!, target: 'us.anthropic.claude-sonnet-4-6' }).additionalModelRequestFields)
      .toEqual({ output_config: { format: { type: 'json_schema', schema: { type: 'object' } } } });
  });

  test('rejects the blocks of Claude\'s tool search with a validation error naming them', () => {
    const nova = new Catalogue().resolve('nova-pro')!;
    const search = { type: 'server_tool_use' as const, id: 'srvtoolu_1', name: 'tool_search_tool_regex', input: { pattern: 'weather' } };
    const reference = { type: 'tool_result' as const, tool_use_id: 'toolu_1', content: [{ type: 'tool_reference' as const, tool_name: 'get_weather' }] };
    const ask = { role: 'user' as const, content: 'hi' };
    expect(() => toConverseInput({ model: 'x', max_tokens: 10, messages: [ask, { role: 'assistant', content: [search] }] }, nova))
      .toThrow(expect.objectContaining({ kind: 'validation', message: expect.stringContaining('server_tool_use blocks come from Claude\'s tool search') }));
    expect(() => toConverseInput({ model: 'x', max_tokens: 10, messages: [{ role: 'user', content: [reference] }] }, nova))
      .toThrow(expect.objectContaining({ kind: 'validation', message: expect.stringContaining('tool_reference') }));
  });
});

describe('toConverseInput: parts the Converse API has no place for', () => {
  const nova = new Catalogue().resolve('nova-pro')!;

  test('a system-role turn becomes system content after the system prompt, and the turns around it are merged', () => {
    const input = toConverseInput({
      model: 'x',
      max_tokens: 10,
      system: 'You are terse.',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Say hi' }] },
        { role: 'system', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Now.' },
      ],
    }, nova);
    expect(input.system).toEqual([{ text: 'You are terse.' }, { text: 'Answer in French.' }]);
    expect(input.messages).toEqual([{ role: 'user', content: [{ text: 'Say hi' }, { text: 'Now.' }] }]);
  });

  test('a block type or role the proxy does not know is a validation error that names it and where it is', () => {
    const audio = { type: 'audio', source: { type: 'base64', media_type: 'audio/wav', data: 'UklGRg==' } } as never;
    expect(() => toConverseInput({ model: 'x', max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }, audio] }] }, nova))
      .toThrow(expect.objectContaining({ kind: 'validation', message: expect.stringMatching(/^messages\.0\.content\.1: audio blocks cannot be translated for the Converse API/) }));
    expect(() => toConverseInput({ model: 'x', max_tokens: 10, messages: [{ role: 'critic' as never, content: 'hi' }] }, nova))
      .toThrow(expect.objectContaining({ kind: 'validation', message: expect.stringContaining('messages.0.role: the critic role cannot be translated') }));
  });
});

describe('OpenAIChunkTranslator', () => {
  type Piece = { kind: 'text' | 'reasoning'; text: string } | { kind: 'tool'; id: string; name: string; args: string };
  const pieceArb: fc.Arbitrary<Piece> = fc.oneof(
    fc.record({ kind: fc.constantFrom('text' as const, 'reasoning' as const), text: fc.string({ minLength: 1, maxLength: 30 }) }),
    fc.record({
      kind: fc.constant('tool' as const),
      id: fc.stringMatching(/^call_[a-z0-9]{3,8}$/),
      name: fc.stringMatching(/^[a-z]{1,8}$/),
      args: fc.dictionary(fc.stringMatching(/^[a-z]{1,5}$/), fc.integer()).map((o) => JSON.stringify(o)),
    }),
  );

  test('any chunk stream becomes a valid canonical sequence', () => {
    fc.assert(fc.property(fc.array(pieceArb, { maxLength: 6 }), fc.integer({ min: 1, max: 7 }), fc.constantFrom('stop', 'length', 'tool_calls', 'content_filter'), (pieces, size, finish) => {
      const t = new OpenAIChunkTranslator('m', 'msg_x', 'server');
      const events: CanonicalEvent[] = [];
      let toolIndex = 0;
      for (const piece of pieces) {
        if (piece.kind === 'tool') {
          const index = toolIndex++;
          events.push(...t.push({ choices: [{ delta: { tool_calls: [{ index, id: piece.id, function: { name: piece.name, arguments: '' } }] } }] }));
          for (let i = 0; i < piece.args.length; i += size) {
            events.push(...t.push({ choices: [{ delta: { tool_calls: [{ index, function: { arguments: piece.args.slice(i, i + size) } }] } }] }));
          }
        } else {
          for (let i = 0; i < piece.text.length; i += size) {
            const delta = piece.kind === 'text' ? { content: piece.text.slice(i, i + size) } : { reasoning_content: piece.text.slice(i, i + size) };
            events.push(...t.push({ choices: [{ delta }] }));
          }
        }
      }
      events.push(...t.push({ choices: [{ delta: {}, finish_reason: finish }] }));
      events.push(...t.push({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 6 } }));
      events.push(...t.end());
      assertValidSequence(events);
      const message = accumulate(events);
      // Consecutive pieces of the same kind merge into one block, as a client would see them.
      const expected: unknown[] = [];
      for (const piece of pieces) {
        const prev = expected[expected.length - 1] as { type: string; text?: string; thinking?: string } | undefined;
        if (piece.kind === 'text') {
          if (prev?.type === 'text') prev.text += piece.text;
          else expected.push({ type: 'text', text: piece.text });
        } else if (piece.kind === 'reasoning') {
          if (prev?.type === 'thinking') prev.thinking += piece.text;
          else expected.push({ type: 'thinking', thinking: piece.text, signature: '' });
        } else if (piece.kind === 'tool') {
          expected.push({ type: 'tool_use', id: piece.id, name: piece.name, input: JSON.parse(piece.args) });
        }
      }
      expect(message.content).toEqual(expected);
      expect(message.usage).toEqual({ input_tokens: 5, output_tokens: 6 });
    }));
  });
});

describe('anthropicBody', () => {
  const catalogue = new Catalogue();

  test('adds the 1M-context beta for [1m] only where the model needs it', () => {
    const base = { model: 'x', max_tokens: 1, messages: [] };
    expect(anthropicBody(base, catalogue.resolve('claude-sonnet-4-5[1m]')!).anthropic_beta).toEqual(['context-1m-2025-08-07']);
    expect(anthropicBody(base, catalogue.resolve('claude-sonnet-5-5[1m]')!).anthropic_beta).toBeUndefined();
    expect(anthropicBody(base, catalogue.resolve('claude-sonnet-4-5')!).anthropic_beta).toBeUndefined();
    expect(anthropicBody({ ...base, anthropic_beta: ['context-1m-2025-08-07'] }, catalogue.resolve('claude-sonnet-4-5[1m]')!).anthropic_beta)
      .toEqual(['context-1m-2025-08-07']);
  });

  test('claudeEvent turns an in-stream error event into an UpstreamError of the right kind and drops unknown types', () => {
    expect(() => claudeEvent({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 'm', 'Bedrock'))
      .toThrow(expect.objectContaining({ kind: 'overloaded', message: 'Bedrock: Overloaded' }));
    expect(claudeEvent({ type: 'some_future_event' }, 'm', 'Bedrock')).toBeUndefined();
    expect(() => claudeEvent('nope', 'm', 'Bedrock')).toThrow(UpstreamError);
  });
});

describe('error classification', () => {
  test.each([
    ['ThrottlingException', '', 'throttling'],
    ['ServiceQuotaExceededException', '', 'throttling'],
    ['ServiceUnavailableException', '', 'overloaded'],
    ['ModelNotReadyException', '', 'overloaded'],
    ['InternalServerException', '', 'internal'],
    ['ModelStreamErrorException', '', 'internal'],
    ['ModelTimeoutException', '', 'timeout'],
    ['ValidationException', 'Malformed input request', 'validation'],
    ['ValidationException', 'The provided model identifier is invalid.', 'not_found'],
    ['AccessDeniedException', '', 'access_denied'],
    ['ResourceNotFoundException', '', 'not_found'],
    ['ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/', '', 'throttling'],
  ])('%s %s -> %s', (name, message, kind) => {
    expect(kindForException(name, message)).toBe(kind);
  });

  test('Node network errors, our timeouts and aborts', () => {
    expect(toUpstreamError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'X')).toMatchObject({ kind: 'internal', retryable: true });
    expect(toUpstreamError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'X').kind).toBe('internal');
    // The SDK's HTTP handler relabels dropped connections as TimeoutError; they are still not timeouts.
    expect(toUpstreamError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', name: 'TimeoutError' }), 'X').kind).toBe('internal');
    expect(toUpstreamError(Object.assign(new Error('write EPIPE'), { code: 'EPIPE', name: 'TimeoutError' }), 'X').kind).toBe('internal');
    expect(toUpstreamError(Object.assign(new Error('t'), { name: 'TimeoutError' }), 'X').kind).toBe('timeout');
    const timeout = new AbortController();
    timeout.abort(new UpstreamTimeout('no response within 10 ms'));
    expect(toUpstreamError(new Error('aborted'), 'X', timeout.signal)).toMatchObject({ kind: 'timeout', retryable: true, message: 'X: no response within 10 ms' });
    const gone = new AbortController();
    gone.abort();
    expect(toUpstreamError(new Error('aborted'), 'X', gone.signal)).toMatchObject({ kind: 'timeout', retryable: false });
    expect(toUpstreamError({ name: 'Weird', $metadata: { httpStatusCode: 503 }, message: 'x' }, 'X').kind).toBe('overloaded');
    expect(toUpstreamError(new Error('Message checksum mismatch'), 'X').message).toContain('malformed');
  });

  test('exception members of an event-stream union are classified by their name', () => {
    expect(exceptionMember({ throttlingException: { message: 'slow down' } }, 'X')).toMatchObject({ kind: 'throttling', message: 'X: slow down' });
    expect(() => new ConverseTranslator('m', 'id').push({ serviceUnavailableException: { message: 'busy' } } as never))
      .toThrow(expect.objectContaining({ kind: 'overloaded' }));
  });

  test('HTTP error bodies: Bedrock, Anthropic and OpenAI shapes', () => {
    expect(errorFromHttpResponse('X', 400, { 'x-amzn-errortype': 'ValidationException:http://x' }, '{"message":"The provided model identifier is invalid."}'))
      .toMatchObject({ kind: 'not_found', upstreamStatus: 400 });
    expect(errorFromHttpResponse('X', 529, {}, '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'))
      .toMatchObject({ kind: 'overloaded', message: 'X: Overloaded' });
    expect(errorFromHttpResponse('X', 400, {}, '{"error":{"message":"bad","type":"invalid_request_error"}}')).toMatchObject({ kind: 'validation', message: 'X: bad' });
    expect(errorFromHttpResponse('X', 502, {}, '<html>Bad Gateway</html>')).toMatchObject({ kind: 'internal', message: 'X: <html>Bad Gateway</html>' });
    expect(errorFromHttpResponse('X', 500, {}, '')).toMatchObject({ kind: 'internal', message: 'X: HTTP 500' });
  });
});
