'use strict';
// The trip assistant's agent service (a container image), invoked by the API service through its `live` alias:
//   { "type": "message", "message": "...", "history": [...] } -> { "reply", "model", "usage" } or { "error": {...} }
//   { "type": "health" }                                        -> { "status": "ok", "version": "<this version>" }
// It talks to the LLM through the trip proxy's OpenAI-compatible endpoint (POST <base>/v1/chat/completions) with an
// OpenAI-style key: `Authorization: Bearer <key>`. The key is an SSM SecureString read at runtime with WithDecryption
// (never an environment variable value, never in the template), once per execution environment.
const { SSMClient, GetParameterCommand, GetParametersCommand } = require('@aws-sdk/client-ssm');

const SYSTEM_PROMPT = 'You are a trip-planning assistant. Suggest itineraries, transport and places to stay; ask for the ' +
  'dates and budget when they are missing. Answer in at most 200 words.';
const LLM_TIMEOUT_MS = 20_000;

/** Parameter names from the environment, checked once at init. */
function configFromEnvironment(env = process.env) {
  const names = {
    apiKey: env.OPENAI_API_KEY_PARAMETER,
    baseUrl: env.LLM_BASE_URL_PARAMETER,
    model: env.MODEL_PARAMETER,
  };
  const missing = Object.entries(names).filter(([, v]) => !v).map(([k]) => k);
  if (missing.length > 0) throw new Error(`No parameter name configured for: ${missing.join(', ')}`);
  return { names, version: env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST' };
}

/** Reads the key (SecureString, decrypted) and the plain parameters. */
async function loadSettings(ssm, names) {
  const key = await ssm.send(new GetParameterCommand({ Name: names.apiKey, WithDecryption: true }));
  const plain = await ssm.send(new GetParametersCommand({ Names: [names.baseUrl, names.model] }));
  if (plain.InvalidParameters && plain.InvalidParameters.length > 0) {
    throw new Error(`SSM parameters not found: ${plain.InvalidParameters.join(', ')}`);
  }
  const byName = new Map((plain.Parameters ?? []).map((p) => [p.Name, p.Value]));
  return { apiKey: key.Parameter.Value, baseUrl: byName.get(names.baseUrl), model: byName.get(names.model) };
}

/** A failure the API service maps to an HTTP status. */
function failure(status, code, message, retryAfter) {
  return { error: { status, code, message, ...(retryAfter ? { retryAfter } : {}) } };
}

/** Calls POST <base>/v1/chat/completions and returns the reply, or a failure for the API service. */
async function chat(fetchFn, settings, messages) {
  const url = new URL('v1/chat/completions', settings.baseUrl.endsWith('/') ? settings.baseUrl : `${settings.baseUrl}/`);
  let response;
  try {
    response = await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'authorization': `Bearer ${settings.apiKey}` },
      body: JSON.stringify({ model: settings.model, max_tokens: 800, messages }),
      signal: AbortSignal.timeout(LLM_TIMEOUT_MS),
    });
  } catch (err) {
    const timedOut = err && (err.name === 'TimeoutError' || err.name === 'AbortError');
    console.error(JSON.stringify({ message: 'the LLM call failed', error: err && err.name, detail: String(err && err.message) }));
    return timedOut ? failure(504, 'llm_timeout', 'The model took too long to answer.') : failure(502, 'llm_unreachable', 'The model could not be reached.');
  }
  const text = await response.text();
  if (!response.ok) {
    // Never log the key; the proxy's error body names the problem (e.g. an unknown key or a rate limit).
    console.error(JSON.stringify({ message: 'the LLM answered an error', status: response.status, detail: text.slice(0, 500) }));
    if (response.status === 429) {
      return failure(429, 'llm_rate_limited', 'Too many requests to the model; retry shortly.', Number(response.headers.get('retry-after')) || 10);
    }
    if (response.status === 401 || response.status === 403) return failure(502, 'llm_auth_failed', 'The assistant is misconfigured.');
    if (response.status >= 500) return failure(503, 'llm_unavailable', 'The model is unavailable; retry shortly.', 10);
    return failure(502, 'llm_rejected', 'The model refused the request.');
  }
  const completion = JSON.parse(text);
  const reply = completion.choices?.[0]?.message?.content;
  if (typeof reply !== 'string') return failure(502, 'llm_bad_reply', 'The model gave no answer.');
  return { reply, model: completion.model, usage: completion.usage };
}

/**
 * The handler, with its clients given (tests point them at moto and a loopback LLM).
 * @param {{ ssm?: SSMClient, fetch?: typeof fetch, config?: ReturnType<typeof configFromEnvironment> }} [options]
 */
function createHandler(options = {}) {
  const config = options.config ?? configFromEnvironment();
  const ssm = options.ssm ?? new SSMClient({});
  const fetchFn = options.fetch ?? fetch;
  let settings; // a promise, kept for the life of the execution environment once it succeeded
  const getSettings = () => {
    settings ??= loadSettings(ssm, config.names).catch((err) => {
      settings = undefined; // a missing parameter is fixed without a redeploy: the next call reads again
      throw err;
    });
    return settings;
  };
  return async (event) => {
    if (event && event.type === 'health') {
      await getSettings();
      return { status: 'ok', version: config.version };
    }
    if (!event || event.type !== 'message' || typeof event.message !== 'string') {
      throw new Error('Expected { "type": "message", "message": "...", "history": [...] } or { "type": "health" }.');
    }
    const current = await getSettings();
    const history = Array.isArray(event.history) ? event.history : [];
    return chat(fetchFn, current, [
      { role: 'system', content: SYSTEM_PROMPT },
      ...history.map(({ role, content }) => ({ role, content })),
      { role: 'user', content: event.message },
    ]);
  };
}

let handler;
exports.handler = (event) => {
  handler ??= createHandler();
  return handler(event);
};
exports.createHandler = createHandler;
exports.configFromEnvironment = configFromEnvironment;
