/**
 * A small, allocation-light parser for server-sent events (the Bedrock Anthropic Messages endpoint and OpenAI-compatible
 * servers). Follows the WHATWG event-stream rules that matter here: `event:` and `data:` fields, multi-line data
 * joined with `\n`, comments (`:`), CRLF / LF / CR line ends, dispatch on a blank line, and a last event without a
 * trailing blank line at end of stream.
 */

export interface SseMessage {
  /** The `event:` field; `message` when absent. */
  readonly event: string;
  readonly data: string;
}

export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private readonly decoder = new TextDecoder();

  /** Feed bytes (or text); returns the messages completed by them. */
  push(chunk: Uint8Array | string): SseMessage[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    this.buffer = this.buffer.length === 0 ? text : this.buffer + text;
    const out: SseMessage[] = [];
    let start = 0;
    const buf = this.buffer;
    for (;;) {
      const nl = nextLineEnd(buf, start);
      if (nl < 0) break;
      // A CR at the very end may be the first half of CRLF: wait for more input.
      if (buf.charCodeAt(nl) === 13 && nl + 1 === buf.length) break;
      this.line(buf.slice(start, nl), out);
      start = nl + (buf.charCodeAt(nl) === 13 && buf.charCodeAt(nl + 1) === 10 ? 2 : 1);
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
    return out;
  }

  /** End of stream: a final event that was not followed by a blank line is still delivered. */
  end(): SseMessage[] {
    const out: SseMessage[] = [];
    const rest = this.buffer + this.decoder.decode();
    this.buffer = '';
    if (rest.length > 0) this.line(rest.replace(/\r$/, ''), out);
    if (this.data.length > 0) this.dispatch(out);
    return out;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line.length === 0) {
      this.dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
  }

  private dispatch(out: SseMessage[]): void {
    if (this.data.length > 0) {
      out.push({ event: this.event || 'message', data: this.data.length === 1 ? this.data[0] : this.data.join('\n') });
    }
    this.event = '';
    this.data = [];
  }
}

function nextLineEnd(s: string, from: number): number {
  const lf = s.indexOf('\n', from);
  const cr = s.indexOf('\r', from);
  if (cr < 0) return lf;
  if (lf < 0) return cr;
  return Math.min(lf, cr);
}

/** Reads a byte stream (Node Readable or any async iterable of chunks) as SSE messages. */
export async function* readSse(body: AsyncIterable<Uint8Array | string>, onChunk?: () => void): AsyncGenerator<SseMessage> {
  const parser = new SseParser();
  for await (const chunk of body) {
    onChunk?.();
    const messages = parser.push(chunk);
    for (const m of messages) yield m;
  }
  for (const m of parser.end()) yield m;
}
