/**
 * POST /v1/responses through the real pipeline on the mock (test/support/proxy-harness.ts): Codex CLI's recorded first
 * request, the tool mapping (namespaces, custom tools, the built-in tools the proxy cannot run), stored responses and
 * their isolation per identity, and the log record. The SDK and Codex CLI themselves run in test/clients.
 */
import * as fs from 'fs';
import * as path from 'path';
import { harness, request, run, type Harness } from '../support/proxy-harness';
import { parseSse } from '../support/sse';

const CODEX_FIRST_REQUEST = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'fixtures', 'codex', 'first-request.json'), 'utf8')) as Record<string, unknown>;
const MODEL = 'claude-sonnet-4-6';

function events(body: string): Array<{ event?: string; data: Record<string, unknown> }> {
  return parseSse(body).filter((f) => f.data !== undefined).map((f) => ({ event: f.event, data: JSON.parse(f.data!) as Record<string, unknown> }));
}

async function respond(h: Harness, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return run(h, request('POST', '/v1/responses', { model: MODEL, ...body }, headers));
}

describe('Codex CLI\'s first request (test/fixtures/codex/first-request.json, Codex 0.171.0)', () => {
  test('is answered as a stream that ends in response.completed, and reaches the model as Claude accepts it', async () => {
    const h = harness();
    const sink = await run(h, request('POST', '/v1/responses', CODEX_FIRST_REQUEST, { 'authorization': 'Bearer sk-test-key-0123456789abcdef', 'x-api-key': '' }));
    expect(sink.status).toBe(200);
    const frames = events(sink.body);
    expect(frames.map((f) => f.event)[0]).toBe('response.created');
    expect(frames[frames.length - 1]).toMatchObject({ event: 'response.completed', data: { type: 'response.completed', response: { status: 'completed' } } });
    const call = h.upstream.calls[0].request;
    // Developer messages become the system prompt; the namespace's tools are flattened; the cached web_search is left out.
    expect(typeof call.system === 'string' ? call.system : call.system![0].text).toContain('You are a coding agent running in the Codex CLI');
    const names = call.tools!.map((t) => t.name);
    expect(names).toContain('exec_command');
    expect(names).toContain('multi_agent_v1__close_agent');
    expect(names).not.toContain('web_search');
    expect(call.messages).toHaveLength(1);
    expect(call.messages[0].role).toBe('user');
    expect(h.meter.records[0]).toMatchObject({ route: 'responses', protocol: 'openai', status: 200, stream: true, dropped: { fields: ['tools.web_search'] } });
  });
});

describe('tools', () => {
  test('a namespace tool Claude calls comes back as a function_call with its name and namespace', async () => {
    const h = harness();
    const sink = await respond(h, {
      input: 'Spawn one [[mock: tool=agents__spawn task=review]]',
      tools: [{ type: 'namespace', name: 'agents', description: 'Sub-agents.', tools: [{ type: 'function', name: 'spawn', parameters: { type: 'object', properties: { task: { type: 'string' } }, required: ['task'] } }] }],
    });
    const call = (sink.json().output as Array<Record<string, unknown>>).find((i) => i.type === 'function_call');
    expect(call).toMatchObject({ name: 'spawn', namespace: 'agents', arguments: '{"task":"review"}' });
    // Sent back, it is the same tool call for Claude.
    const next = await respond(h, {
      input: [
        { role: 'user', content: 'Spawn one' },
        call,
        { type: 'function_call_output', call_id: call!.call_id, output: 'spawned' },
      ],
      tools: [{ type: 'namespace', name: 'agents', description: 'Sub-agents.', tools: [{ type: 'function', name: 'spawn' }] }],
      store: false,
    });
    expect(next.status).toBe(200);
    const sent = h.upstream.calls[1].request.messages;
    expect(sent[1]).toEqual({ role: 'assistant', content: [{ type: 'tool_use', id: call!.call_id, name: 'agents__spawn', input: { task: 'review' } }] });
  });

  test('a custom (free-form) tool: Claude fills one string, the client gets custom_tool_call with that input, streamed or not', async () => {
    const tools = [{ type: 'custom', name: 'apply_patch', description: 'Apply a patch.', format: { type: 'grammar', syntax: 'lark', definition: 'start: "*** Begin Patch"' } }];
    const h = harness();
    const whole = await respond(h, { input: 'Patch it [[mock: tool=apply_patch input="*** Begin Patch"]]', tools, store: false });
    expect((whole.json().output as unknown[]).at(-1)).toMatchObject({ type: 'custom_tool_call', name: 'apply_patch', input: '*** Begin Patch' });
    expect(h.upstream.calls[0].request.tools![0]).toMatchObject({ name: 'apply_patch', input_schema: { required: ['input'] } });
    expect(JSON.stringify(h.upstream.calls[0].request.tools![0].input_schema)).toContain('*** Begin Patch');
    const streamed = await respond(h, { input: 'Patch it [[mock: tool=apply_patch input="*** Begin Patch"]]', tools, stream: true, store: false });
    const frames = events(streamed.body);
    expect(frames.find((f) => f.event === 'response.custom_tool_call_input.done')?.data.input).toBe('*** Begin Patch');
  });

  test.each(['web_search', 'file_search', 'code_interpreter', 'computer_use_preview', 'image_generation', 'mcp'])('the built-in %s tool is a 400 naming it', async (type) => {
    const h = harness();
    const sink = await respond(h, { input: 'hi', tools: [{ type }], store: false });
    expect(sink.status).toBe(400);
    expect(sink.json().error).toMatchObject({ type: 'invalid_request_error', param: 'tools[0].type', message: expect.stringContaining(`The ${type} tool is not supported`) });
    expect(h.upstream.calls).toHaveLength(0);
  });
});

describe('stored responses (store, previous_response_id)', () => {
  test('a stored response is kept under its id for the identity that made it only', async () => {
    const h = harness();
    const first = (await respond(h, { input: 'My name is Ada.' })).json();
    expect(first.store).toBe(true);
    expect(await h.sessions.load('alice', first.id)).toHaveLength(2);
    expect(await h.sessions.load('mallory', first.id)).toBeUndefined();
    // Another identity's stored response is not found for this one.
    await h.sessions.save('mallory', 'resp_mallory', [{ role: 'user', content: 'secret' }, { role: 'assistant', content: 'ok' }]);
    const other = await respond(h, { previous_response_id: 'resp_mallory', input: 'What did I say?' });
    expect(other.status).toBe(404);
    expect(other.json().error).toMatchObject({ param: 'previous_response_id', code: 'previous_response_not_found' });
    const next = await respond(h, { previous_response_id: first.id, input: 'What is my name?' });
    expect(next.status).toBe(200);
    expect(h.upstream.calls.at(-1)!.request.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(h.meter.records.at(-1)).toMatchObject({ route: 'responses', sessionId: next.json().id });
  });

  test('store: false keeps nothing', async () => {
    const h = harness();
    const response = (await respond(h, { input: 'Forget this.', store: false, stream: true })).body;
    const completed = events(response).at(-1)!.data.response as { id: string; store: boolean };
    expect(completed.store).toBe(false);
    expect(await h.sessions.load('alice', completed.id)).toBeUndefined();
  });

  test('without a session store, responses are not stored and previous_response_id is a 400 that says why', async () => {
    const h = harness({ PROXY_SESSIONS: 'off' });
    expect((await respond(h, { input: 'hi' })).json().store).toBe(false);
    const sink = await respond(h, { previous_response_id: 'resp_abc', input: 'hi' });
    expect(sink.status).toBe(400);
    expect(sink.json().error).toMatchObject({ param: 'previous_response_id', message: expect.stringContaining('sessions are off') });
  });
});

describe('request checks', () => {
  test.each([
    [{ input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0].type'],
    [{ input: [{ role: 'tool', content: 'x' }] }, 'input[0].role'],
    [{ input: [{ type: 'function_call', name: 'f', arguments: '{}' }] }, 'input[0].call_id'],
    [{ input: [{ type: 'function_call', call_id: 'c', name: 'f', arguments: 'not json' }] }, 'input[0].arguments'],
    [{ input: 'hi', background: true }, 'background'],
    [{ input: 'hi', text: { format: { type: 'json_object' } }, model: 'mock-no-count' }, 'text.format'],
    [{ input: 'hi', tools: [{ type: 'function', name: 'has space' }] }, 'tools[0].name'],
    [{ input: 'hi', max_output_tokens: 0 }, 'max_output_tokens'],
    [{ input: [] }, 'input'],
  ])('%j is a 400 naming %s', async (body, param) => {
    const h = harness();
    const sink = await respond(h, { store: false, ...body });
    expect(sink.status).toBe(400);
    expect(sink.json().error).toMatchObject({ type: 'invalid_request_error', param });
    expect(h.upstream.calls).toHaveLength(0);
  });

  test('an embedding model is a 400 that names the endpoint serving it', async () => {
    const h = harness();
    const sink = await run(h, request('POST', '/v1/responses', { model: 'titan-embed-text-v2', input: 'hi' }));
    expect(sink.status).toBe(400);
    expect(sink.json().error).toMatchObject({ param: 'model', message: expect.stringContaining('/v1/embeddings') });
  });

  test('an unknown model is a 404 in OpenAI\'s shape', async () => {
    const h = harness();
    const sink = await run(h, request('POST', '/v1/responses', { model: 'gpt-9-not-here', input: 'hi' }));
    expect(sink.status).toBe(404);
    expect(sink.json().error).toMatchObject({ code: 'model_not_found', param: 'model' });
  });
});
