/**
 * The awslambda shim's own behaviour where the real runtime cannot be driven from a test (the deadline is enforced by
 * Lambda, not by aws-lambda-ric) or where the dev server depends on its events. What it shares with the real runtime
 * is compared against aws-lambda-ric itself in test/lambda/real-runtime.test.ts.
 */
import { awslambdaShim, invokeStreaming, localContext, type StreamingHandler } from '../../lambda/shared/awslambda-shim';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the awslambda shim', () => {
  test('sends the prelude with the first write, before that write\'s bytes, not when HttpResponseStream.from is called', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handler: StreamingHandler = awslambdaShim.streamifyResponse(async (_event, responseStream) => {
      const out = awslambdaShim.HttpResponseStream.from(responseStream, { statusCode: 201, headers: { 'x-a': 'b' } });
      await gate;
      out.write('body');
      out.end();
    });
    const { stream, done } = invokeStreaming(handler, {}, localContext('r1'));
    stream.on('prelude', (p: { statusCode: number }) => order.push(`prelude ${p.statusCode}`));
    stream.on('data', (c: Buffer) => order.push(`data ${c.toString()}`));
    await nextTurn();
    expect(stream.prelude).toBeUndefined();
    expect(order).toEqual([]);
    release();
    await done;
    await nextTurn();
    expect(order).toEqual(['prelude 201', 'data body']);
    expect(stream.prelude).toEqual({ statusCode: 201, headers: { 'x-a': 'b' }, cookies: [] });
  });

  test('times an invocation out at the deadline when the handler never ends the stream, and cuts the stream', async () => {
    const handler: StreamingHandler = awslambdaShim.streamifyResponse(async (_event, responseStream) => {
      awslambdaShim.HttpResponseStream.from(responseStream, { statusCode: 200 }).write('started');
    });
    const { stream, done } = invokeStreaming(handler, {}, localContext('r2', 150));
    stream.resume();
    await expect(done).rejects.toThrow('Task timed out after 0.15 seconds');
    expect(stream.destroyed).toBe(true);
  });

  test('fails the invocation with the handler\'s error and destroys the stream with it', async () => {
    const handler: StreamingHandler = awslambdaShim.streamifyResponse(async () => {
      throw new RangeError('handler failed');
    });
    const { stream, done } = invokeStreaming(handler, {}, localContext('r3'));
    await expect(done).rejects.toThrow(RangeError);
    expect(stream.destroyed).toBe(true);
    expect(stream.errored).toBeInstanceOf(RangeError);
  });
});
