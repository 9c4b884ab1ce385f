// A small chat page for the StreamingLlmProxy: reads /config.json (written by SpaFrontend at deploy time), sends the
// conversation to the proxy's Anthropic Messages or OpenAI Chat Completions endpoint and renders the streamed reply
// as it arrives. No framework, no build step, no inline script (it runs under SpaFrontend's default CSP).

const DEFAULTS = {
  title: 'LLM chat',
  apiBaseUrl: '/api',
  protocol: 'anthropic',
  model: 'claude-sonnet-4-6',
  maxTokens: '1024',
};
const KEY_STORAGE = 'chat-web.api-key';
const PROTOCOL_NAMES = { anthropic: 'Anthropic Messages', openai: 'OpenAI Chat Completions' };

const $ = (id) => document.getElementById(id);
const ui = {
  title: $('title'),
  apiKey: $('api-key'),
  protocol: $('protocol'),
  model: $('model'),
  messages: $('messages'),
  status: $('status'),
  form: $('composer'),
  prompt: $('prompt'),
  send: $('send'),
  stop: $('stop'),
};

/** The conversation so far, as { role: 'user' | 'assistant', content: string }. */
const history = [];
let config = { ...DEFAULTS };
let inFlight = null;

async function loadConfig() {
  try {
    const response = await fetch('/config.json', { cache: 'no-store' });
    if (response.ok) return { ...DEFAULTS, ...(await response.json()) };
    setStatus(`No /config.json (${response.status}); using defaults.`);
  } catch (err) {
    setStatus(`Could not read /config.json (${err.message}); using defaults.`);
  }
  return { ...DEFAULTS };
}

function setStatus(text) {
  ui.status.textContent = text;
}

function addMessage(role, text) {
  const item = document.createElement('li');
  item.className = `message ${role}`;
  const label = document.createElement('span');
  label.className = 'role';
  label.textContent = role === 'user' ? 'You' : 'Assistant';
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  item.append(label, body);
  ui.messages.append(item);
  item.scrollIntoView({ block: 'end' });
  return item;
}

/**
 * Server-sent events from a fetch response, one { event, data } per event, as they arrive.
 * Follows the SSE line rules: \n, \r\n or \r end a line, a blank line ends an event, `:` lines are comments.
 */
async function* serverSentEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = '';
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    for (;;) {
      const match = /\r\n|\r|\n/.exec(buffer);
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (!match || (match[0] === '\r' && match.index === buffer.length - 1)) break;
      const line = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      if (line === '') {
        if (data.length > 0) yield { event: event || 'message', data: data.join('\n') };
        event = '';
        data = [];
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const valueText = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = valueText;
        else if (field === 'data') data.push(valueText);
      }
    }
  }
}

/** The request for the chosen protocol, and a function that turns each event into text (or throws on an error event). */
function buildRequest(protocol, model, apiKey) {
  const messages = history.map(({ role, content }) => ({ role, content }));
  if (protocol === 'openai') {
    return {
      path: '/v1/chat/completions',
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      body: { model, stream: true, messages },
      textOf({ data }) {
        if (data === '[DONE]') return '';
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message || 'The API reported an error.');
        const choice = chunk.choices && chunk.choices[0];
        return (choice && choice.delta && choice.delta.content) || '';
      },
    };
  }
  return {
    path: '/v1/messages',
    headers: { 'anthropic-version': '2023-06-01', ...(apiKey ? { 'x-api-key': apiKey } : {}) },
    body: { model, max_tokens: Number(config.maxTokens) || 1024, stream: true, messages },
    textOf({ event, data }) {
      const payload = JSON.parse(data);
      if (event === 'error' || payload.type === 'error') throw new Error((payload.error && payload.error.message) || 'The API reported an error.');
      if (payload.type === 'content_block_delta' && payload.delta && payload.delta.type === 'text_delta') return payload.delta.text;
      return '';
    },
  };
}

/** The error message in an API error body of either protocol, or the status line. */
async function describeFailure(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body.error && body.error.message) return `${response.status}: ${body.error.message}`;
  } catch {
    // not JSON
  }
  return `${response.status} ${response.statusText}`.trim();
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function send(prompt) {
  const protocol = ui.protocol.value;
  const model = ui.model.value.trim() || config.model;
  const apiKey = ui.apiKey.value.trim();
  history.push({ role: 'user', content: prompt });
  addMessage('user', prompt);
  const reply = addMessage('assistant', '');
  const replyText = reply.querySelector('.text');
  reply.dataset.state = 'waiting';

  const request = buildRequest(protocol, model, apiKey);
  const body = JSON.stringify(request.body);
  const headers = { 'content-type': 'application/json', accept: 'text/event-stream', ...request.headers };
  // A function URL behind CloudFront Origin Access Control needs the body's SHA-256 from the viewer.
  if (config.apiPayloadSigning === 'sha256') headers['x-amz-content-sha256'] = await sha256Hex(body);

  inFlight = new AbortController();
  setBusy(true);
  setStatus('Waiting for the first token…');
  const started = performance.now();
  let text = '';
  try {
    const response = await fetch(`${config.apiBaseUrl.replace(/\/$/, '')}${request.path}`, {
      method: 'POST', headers, body, signal: inFlight.signal,
    });
    if (!response.ok) throw new Error(await describeFailure(response));
    reply.dataset.state = 'streaming';
    let deltas = 0;
    for await (const event of serverSentEvents(response)) {
      const piece = request.textOf(event);
      if (!piece) continue;
      if (deltas === 0) setStatus(`First token after ${Math.round(performance.now() - started)} ms`);
      deltas += 1;
      text += piece;
      replyText.append(document.createTextNode(piece));
      reply.scrollIntoView({ block: 'end' });
    }
    reply.dataset.state = 'done';
    reply.dataset.deltas = String(deltas);
    setStatus(`${deltas} deltas in ${Math.round(performance.now() - started)} ms from ${model} over the ${PROTOCOL_NAMES[protocol]} API`);
  } catch (err) {
    reply.dataset.state = 'error';
    reply.classList.add('error');
    const message = err.name === 'AbortError' ? 'Stopped.' : err.message;
    replyText.append(document.createTextNode(text ? `\n[${message}]` : message));
    setStatus(message);
  } finally {
    if (text) history.push({ role: 'assistant', content: text });
    else history.pop(); // an unanswered question is not sent again
    inFlight = null;
    setBusy(false);
  }
}

function setBusy(busy) {
  ui.send.disabled = busy;
  ui.stop.hidden = !busy;
}

ui.form.addEventListener('submit', (e) => {
  e.preventDefault();
  const prompt = ui.prompt.value.trim();
  if (!prompt || inFlight) return;
  ui.prompt.value = '';
  void send(prompt);
});
ui.prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    ui.form.requestSubmit();
  }
});
ui.stop.addEventListener('click', () => inFlight && inFlight.abort());
ui.apiKey.addEventListener('change', () => sessionStorage.setItem(KEY_STORAGE, ui.apiKey.value));

config = await loadConfig();
document.title = config.title;
ui.title.textContent = config.title;
ui.protocol.value = config.protocol === 'openai' ? 'openai' : 'anthropic';
ui.model.value = config.model;
ui.apiKey.value = sessionStorage.getItem(KEY_STORAGE) || '';
document.body.dataset.ready = 'true';
