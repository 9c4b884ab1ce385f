/**
 * The ResponseSink over a Lambda response stream (lambda-handler.ts's responseSink): writes in one event-loop turn are
 * joined into one chunk after the first, which goes out at once; separate turns stay separate chunks (streaming is
 * not delayed); end() flushes what is held back; backpressure is reported and nothing is reordered while waiting.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as esbuild from 'esbuild';
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

describe('responseSink and the runtime\'s rejections of a broken response connection', () => {
  const ROOT = path.resolve(__dirname, '..', '..');
  const BUNDLE = path.join(ROOT, 'test-output', 'response-sink', 'lambda-handler.js');

  beforeAll(async () => {
    await esbuild.build({
      entryPoints: [path.join(ROOT, 'lambda', 'streaming-proxy', 'lambda-handler.ts')],
      outfile: BUNDLE,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      logLevel: 'error',
    });
  });

  test('keeps the process alive for those rejections, and lets any other unhandled rejection end it', () => {
    // In a process of its own, as aws-lambda-ric does it: the response stream emits the connection's error (to its own
    // listener and the sink's), and a promise the runtime keeps rejects with the same error, unhandled.
    const script = `
      const { PassThrough } = require('stream');
      const { responseSink } = require(${JSON.stringify(BUNDLE)});
      const stream = new PassThrough();
      stream.on('error', () => undefined);
      const runtime = { HttpResponseStream: { from: (s) => s }, streamifyResponse: (h) => h };
      const sink = responseSink(stream, runtime);
      sink.start(200, {});
      const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      stream.destroy(reset);
      Promise.reject(reset);
      setTimeout(() => {
        console.log('alive, client gone: ' + sink.signal.aborted);
        Promise.reject(new Error('an unrelated failure'));
      }, 50);
      setTimeout(() => console.log('still running'), 500);
    `;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(child.stdout).toContain('alive, client gone: true');
    expect(child.stdout).not.toContain('still running');
    expect(child.status).toBe(1);
    expect(child.stderr).toContain('an unrelated failure');
    expect(child.stderr).not.toContain('socket hang up');
  });
});
