/**
 * The ResponseSink over a Lambda response stream (lambda-handler.ts's responseSink): writes in one event-loop turn are
 * joined into one chunk after the first, which goes out at once; separate turns stay separate chunks (streaming is
 * not delayed); end() flushes what is held back; backpressure is reported and nothing is reordered while waiting.
 */
import { awslambdaShim, ShimResponseStream } from '../../lambda/shared/awslambda-shim';
import { responseSink } from '../../lambda/streaming-proxy/lambda-handler';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function collect(stream: ShimResponseStream): string[] {
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  return chunks;
}

describe('responseSink', () => {
  test('sends the first write of a turn at once and joins the rest of that turn into one chunk', async () => {
    const stream = new ShimResponseStream();
    const chunks = collect(stream);
    const sink = responseSink(stream, awslambdaShim);
    sink.start(200, { 'content-type': 'text/event-stream' });
    const frames = Array.from({ length: 100 }, (_, i) => `event: e\ndata: ${i}\n\n`);
    for (const f of frames) expect(sink.write(f)).toBeUndefined();
    // Before the turn ends only the first frame has been handed to the response stream.
    expect(stream.writableLength + chunks.join('').length).toBe(frames[0].length);
    await nextTurn();
    await nextTurn();
    expect(chunks).toEqual([frames[0], frames.slice(1).join('')]);
    await sink.end();
    expect(stream.writableEnded).toBe(true);
  });

  test('keeps writes of different turns as separate chunks', async () => {
    const stream = new ShimResponseStream();
    const chunks = collect(stream);
    const sink = responseSink(stream, awslambdaShim);
    sink.start(200, {});
    for (const f of ['a', 'b', 'c']) {
      void sink.write(f);
      await nextTurn();
      await nextTurn();
    }
    await sink.end();
    expect(chunks).toEqual(['a', 'b', 'c']);
  });

  test('end() writes what the turn held back, bytes and strings alike, in order', async () => {
    const stream = new ShimResponseStream();
    const chunks = collect(stream);
    const sink = responseSink(stream, awslambdaShim);
    sink.start(200, {});
    void sink.write('one,');
    void sink.write(Buffer.from('two,'));
    void sink.write('three');
    await sink.end();
    await nextTurn();
    expect(chunks.join('')).toBe('one,two,three');
    expect(chunks).toHaveLength(2);
  });

  test('reports backpressure and keeps order while the client is slow', async () => {
    const stream = new ShimResponseStream({ highWaterMark: 1024 });
    const sink = responseSink(stream, awslambdaShim);
    sink.start(200, {});
    const big = 'x'.repeat(4096);
    const wait = sink.write(big);
    expect(wait).toBeInstanceOf(Promise);
    // A keep-alive ping written while the writer waits is held, not written past the limit, and comes next.
    expect(sink.write('ping')).toBe(wait);
    let resolved = false;
    void wait!.then(() => {
      resolved = true;
    });
    await nextTurn();
    expect(resolved).toBe(false);
    const chunks = collect(stream);
    await wait;
    expect(resolved).toBe(true);
    void sink.write('after');
    await sink.end();
    await nextTurn();
    expect(chunks.join('')).toBe(`${big}pingafter`);
  });

  test('drops writes once the client has gone, and a waiting writer is released', async () => {
    const stream = new ShimResponseStream({ highWaterMark: 16 });
    const sink = responseSink(stream, awslambdaShim);
    sink.start(200, {});
    const wait = sink.write('x'.repeat(64));
    expect(wait).toBeInstanceOf(Promise);
    stream.destroy();
    await wait;
    expect(sink.signal.aborted).toBe(true);
    expect(sink.write('more')).toBeUndefined();
    await sink.end();
  });
});
