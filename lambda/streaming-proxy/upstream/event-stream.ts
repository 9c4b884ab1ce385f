/**
 * Reads an `application/vnd.amazon.eventstream` body one message at a time: frames are cut by their length prelude and
 * decoded (headers, both CRC checks) by @smithy/eventstream-codec. Nothing ahead of the message being read is decoded,
 * so the first event of a large network read is available at once.
 */
import { EventStreamCodec, type Message } from '@smithy/eventstream-codec';
import { fromUtf8 } from '@smithy/util-utf8';

/** Prelude (total length, headers length, prelude CRC) + message CRC. */
const MIN_FRAME = 16;
/** Bedrock frames are small; anything this large is a corrupt length prelude. */
const MAX_FRAME = 16 * 1024 * 1024;

export class MalformedEventStream extends Error {
  public readonly name = 'MalformedEventStream';
}

/** Header names and string values (`:event-type`, `chunk`, …) are decoded with one shared TextDecoder: the same
 * UTF-8 decoding (invalid sequences become U+FFFD) as @smithy/util-utf8's toUtf8, without a Buffer per string, which
 * is a third of the cost for the six short strings of every frame. */
const utf8 = new TextDecoder();
const headerText = (bytes: Uint8Array): string => utf8.decode(bytes);

export class EventStreamReader {
  private readonly codec = new EventStreamCodec(headerText, fromUtf8);
  private buffer: Buffer = Buffer.alloc(0);
  private pos = 0;

  write(chunk: Uint8Array): void {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.buffer = this.pos >= this.buffer.length ? bytes : Buffer.concat([this.buffer.subarray(this.pos), bytes]);
    this.pos = 0;
  }

  /** The next complete message, or undefined until more bytes arrive. Throws MalformedEventStream for a bad frame. */
  read(): Message | undefined {
    const available = this.buffer.length - this.pos;
    if (available < 4) return undefined;
    const length = this.buffer.readUInt32BE(this.pos);
    if (length < MIN_FRAME || length > MAX_FRAME) throw new MalformedEventStream(`event-stream frame length ${length} is out of range`);
    if (available < length) return undefined;
    const frame = this.buffer.subarray(this.pos, this.pos + length);
    this.pos += length;
    try {
      return this.codec.decode(frame);
    } catch (err) {
      throw new MalformedEventStream(`event-stream frame does not decode: ${(err as Error).message}`);
    }
  }

  /** End of the body: a partial frame left over means the stream was cut. */
  end(): void {
    if (this.buffer.length - this.pos > 0) throw new MalformedEventStream('the event stream ended inside a frame');
  }
}

/** Reads a body (Node Readable or any async iterable of byte chunks) as event-stream messages. */
export async function* readEventStream(body: AsyncIterable<Uint8Array>, onChunk?: () => void): AsyncGenerator<Message> {
  const reader = new EventStreamReader();
  for await (const chunk of body) {
    onChunk?.();
    reader.write(chunk);
    for (let m = reader.read(); m; m = reader.read()) yield m;
  }
  reader.end();
}

/** A string header of a message (`:message-type`, `:event-type`, `:exception-type`, …). */
export function header(message: Message, name: string): string | undefined {
  const h = message.headers[name];
  return h && h.type === 'string' ? h.value : undefined;
}
