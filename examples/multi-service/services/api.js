'use strict';
// The trip assistant's API service, behind the HTTP API (payload format 2.0):
//   POST /api/messages  { "message": "...", "history"?: [{ "role": "user" | "assistant", "content": "..." }] }
//                       -> 200 { "reply": "...", "model": "...", "usage": {...} }
//   GET  /api/health    -> 200 { "status": "ok", "agentVersion": "<version behind live>" } or 503
// It validates the request and invokes the agent service synchronously through the agent's `live` alias (the only
// thing its role may invoke); the agent holds the LLM key and talks to the LLM.
const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');

const MAX_BODY_BYTES = 16 * 1024;
const MAX_MESSAGE_CHARS = 4000;
const MAX_HISTORY = 20;

/** Configuration, read and checked once at init. */
function configFromEnvironment(env = process.env) {
  const agentFunctionArn = env.AGENT_FUNCTION_ARN;
  if (!agentFunctionArn || !/^arn:[^:]+:lambda:[^:]+:\d{12}:function:[^:]+:live$/.test(agentFunctionArn)) {
    throw new Error(`AGENT_FUNCTION_ARN must be the ARN of the agent's live alias, got ${JSON.stringify(agentFunctionArn)}`);
  }
  return { agentFunctionArn };
}

function json(statusCode, body, headers = {}) {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

function error(statusCode, code, message, headers) {
  return json(statusCode, { error: { code, message } }, headers);
}

/** The request body as a validated `{ message, history }`, or an HTTP 400/413/415 response. */
function parseMessageRequest(event) {
  const headers = event.headers ?? {};
  const contentType = String(headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(contentType)) {
    return { response: error(415, 'unsupported_media_type', 'Send the body as application/json.') };
  }
  const raw = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
  if (Buffer.byteLength(raw, 'utf8') > MAX_BODY_BYTES) {
    return { response: error(413, 'body_too_large', `The body may be at most ${MAX_BODY_BYTES} bytes.`) };
  }
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    return { response: error(400, 'invalid_json', 'The body is not valid JSON.') };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { response: error(400, 'invalid_request', 'The body must be a JSON object { "message": "..." }.') };
  }
  if (typeof body.message !== 'string' || body.message.trim() === '') {
    return { response: error(400, 'invalid_request', '`message` is required: a non-empty string.') };
  }
  if (body.message.length > MAX_MESSAGE_CHARS) {
    return { response: error(400, 'invalid_request', `\`message\` may be at most ${MAX_MESSAGE_CHARS} characters.`) };
  }
  const history = body.history ?? [];
  if (!Array.isArray(history) || history.length > MAX_HISTORY) {
    return { response: error(400, 'invalid_request', `\`history\` must be an array of at most ${MAX_HISTORY} turns.`) };
  }
  for (const [i, turn] of history.entries()) {
    if (!turn || (turn.role !== 'user' && turn.role !== 'assistant') || typeof turn.content !== 'string') {
      return { response: error(400, 'invalid_request', `\`history[${i}]\` must be { "role": "user" | "assistant", "content": "<text>" }.`) };
    }
    if (turn.content.length > MAX_MESSAGE_CHARS) {
      return { response: error(400, 'invalid_request', `\`history[${i}].content\` may be at most ${MAX_MESSAGE_CHARS} characters.`) };
    }
  }
  return { request: { message: body.message, history: history.map(({ role, content }) => ({ role, content })) } };
}

/**
 * Invokes the agent's live alias with `payload` and returns what it answered, or `{ failure }` with the reason.
 * The agent answers `{ error: { status, code, message } }` for failures it understands; anything it throws arrives
 * as a function error.
 */
async function invokeAgent(client, config, payload) {
  let result;
  try {
    result = await client.send(new InvokeCommand({
      FunctionName: config.agentFunctionArn,
      InvocationType: 'RequestResponse',
      Payload: Buffer.from(JSON.stringify(payload)),
    }));
  } catch (err) {
    const name = err && err.name;
    console.error(JSON.stringify({ message: 'invoking the agent failed', error: name, detail: String(err && err.message) }));
    if (name === 'TooManyRequestsException' || name === 'ThrottlingException') return { failure: 'throttled' };
    return { failure: 'invoke_failed' };
  }
  const text = result.Payload ? Buffer.from(result.Payload).toString('utf8') : '';
  if (result.FunctionError) {
    console.error(JSON.stringify({ message: 'the agent failed', functionError: result.FunctionError, detail: text.slice(0, 1000) }));
    return { failure: 'agent_error' };
  }
  try {
    return { answer: JSON.parse(text) };
  } catch {
    console.error(JSON.stringify({ message: 'the agent answered something that is not JSON', detail: text.slice(0, 1000) }));
    return { failure: 'agent_error' };
  }
}

/** How a failure to reach the agent is shown to the caller (details stay in the log). */
function failureResponse(failure) {
  if (failure === 'throttled') return error(503, 'busy', 'The assistant is busy; retry in a few seconds.', { 'retry-after': '5' });
  return error(502, 'agent_unavailable', 'The assistant could not answer; try again later.');
}

async function postMessage(client, config, event) {
  const parsed = parseMessageRequest(event);
  if (parsed.response) return parsed.response;
  const { answer, failure } = await invokeAgent(client, config, {
    type: 'message',
    message: parsed.request.message,
    history: parsed.request.history,
    requestId: event.requestContext?.requestId,
  });
  if (failure) return failureResponse(failure);
  if (answer.error) {
    const status = [429, 502, 503, 504].includes(answer.error.status) ? answer.error.status : 502;
    return error(status, answer.error.code ?? 'agent_error', answer.error.message ?? 'The assistant could not answer.',
      status === 429 || status === 503 ? { 'retry-after': String(answer.error.retryAfter ?? 5) } : {});
  }
  if (typeof answer.reply !== 'string') return failureResponse('agent_error');
  return json(200, { reply: answer.reply, model: answer.model, usage: answer.usage });
}

async function health(client, config) {
  const { answer, failure } = await invokeAgent(client, config, { type: 'health' });
  if (failure || !answer || answer.status !== 'ok') return json(503, { status: 'unavailable' });
  return json(200, { status: 'ok', agentVersion: answer.version });
}

/**
 * The handler, with its client and configuration given (tests pass a client pointed at a loopback Lambda API).
 * @param {{ client?: LambdaClient, config?: { agentFunctionArn: string } }} [options]
 */
function createHandler(options = {}) {
  const config = options.config ?? configFromEnvironment();
  const client = options.client ?? new LambdaClient({});
  return async (event) => {
    const method = event.requestContext?.http?.method;
    const path = event.rawPath;
    if (path === '/api/messages') {
      return method === 'POST' ? postMessage(client, config, event) : error(405, 'method_not_allowed', 'Use POST /api/messages.', { allow: 'POST' });
    }
    if (path === '/api/health') {
      return method === 'GET' ? health(client, config) : error(405, 'method_not_allowed', 'Use GET /api/health.', { allow: 'GET' });
    }
    return error(404, 'not_found', 'Routes: POST /api/messages, GET /api/health.');
  };
}

let handler;
exports.handler = (event) => {
  handler ??= createHandler();
  return handler(event);
};
exports.createHandler = createHandler;
exports.configFromEnvironment = configFromEnvironment;
exports.parseMessageRequest = parseMessageRequest;
