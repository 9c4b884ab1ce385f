/**
 * The chat page of examples/chat-web in a real browser (Debian's chromium, driven by playwright-core), served the way
 * the SpaFrontend distribution would serve it (see ./edge.ts), talking to the proxy's local dev server on its mock
 * upstream. Screenshots go to test-output/.
 */
import { ChildProcess, spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { Browser, chromium, ConsoleMessage, Page } from 'playwright-core';
import { Edge, startEdge, synthesizeSite } from './edge';

const ROOT = path.join(__dirname, '..', '..');
const SITE_DIR = path.join(ROOT, 'examples', 'chat-web', 'web');
const DEV_SERVER = path.join(ROOT, 'assets', 'dev-server', 'cli.js');
const OUTPUT_DIR = path.join(ROOT, 'test-output');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const API_KEY = 'sk-chat-web-browser-test-0123456789';
/** The mock model's pause between deltas (its default reply is 40 words in deltas of 4). */
const MOCK_DELAY_MS = 60;

jest.setTimeout(120_000);

let devServer: ChildProcess | undefined;
let devServerOutput = '';
let edge: Edge;
let browser: Browser;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealth(base: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (devServer?.exitCode !== null && devServer?.exitCode !== undefined) {
      throw new Error(`The dev server exited with code ${devServer.exitCode}:\n${devServerOutput}`);
    }
    try {
      const response = await fetch(`${base}/health`);
      if (response.ok) return;
      lastError = `HTTP ${response.status}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`The dev server did not answer ${base}/health within ${timeoutMs} ms (${lastError}):\n${devServerOutput}`);
}

beforeAll(async () => {
  if (!fs.existsSync(DEV_SERVER)) {
    throw new Error(`${DEV_SERVER} is missing: run \`npx projen bundle\` first.`);
  }
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`No chromium at ${CHROMIUM}: install Debian's chromium package (.ci/run does) or set CHROMIUM_PATH.`);
  }
  const port = await freePort();
  devServer = spawn(process.execPath, [DEV_SERVER, 'dev', '--port', String(port), '--api-key', API_KEY, '--mock-delay', String(MOCK_DELAY_MS)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  devServer.stdout!.on('data', (d) => { devServerOutput += d; });
  devServer.stderr!.on('data', (d) => { devServerOutput += d; });
  const upstream = `http://127.0.0.1:${port}`;
  await waitForHealth(upstream, 20_000);

  // Synthesized the way an app would (files + API route); the stand-in serves what the template says.
  const { spec, runtimeConfig } = synthesizeSite(SITE_DIR);
  edge = await startEdge(spec, SITE_DIR, runtimeConfig, upstream);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await edge?.close();
  if (devServer && devServer.exitCode === null) {
    const exited = new Promise((r) => devServer!.once('exit', r));
    devServer.kill('SIGTERM');
    await exited;
  }
});

interface OpenedPage {
  readonly page: Page;
  /** Console errors and CSP violations seen by the page. */
  readonly problems: string[];
}

async function openChat(urlPath = '/chat/42'): Promise<OpenedPage> {
  const page = await browser.newPage({ viewport: { width: 960, height: 720 } });
  const problems: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${edge.url}${urlPath}`);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, problems };
}

/** Enters the key (and protocol) in the settings panel and closes it again. */
async function configure(page: Page, apiKey: string, protocol?: string): Promise<void> {
  await page.click('#settings summary');
  await page.fill('#api-key', apiKey);
  if (protocol) await page.selectOption('#protocol', protocol);
  await page.click('#settings summary');
}

/**
 * Browser-side code (a string, so it needs no DOM types here): records the last assistant reply's text length every
 * time it changes, with the time.
 */
const WATCH_REPLY = `(() => {
  window.__reply = [];
  new MutationObserver(() => {
    const replies = document.querySelectorAll('.message.assistant .text');
    const last = replies[replies.length - 1];
    const len = last ? (last.textContent || '').length : 0;
    const seen = window.__reply;
    if (len > 0 && (seen.length === 0 || seen[seen.length - 1].len !== len)) seen.push({ t: performance.now(), len });
  }).observe(document.getElementById('messages'), { childList: true, subtree: true, characterData: true });
})()`;

/** Browser-side code: what was recorded, and the last reply's text and state. */
const READ_REPLY = `(() => {
  const replies = document.querySelectorAll('.message.assistant');
  const last = replies[replies.length - 1];
  return {
    lengths: window.__reply.map((r) => r.len),
    times: window.__reply.map((r) => r.t),
    text: last.querySelector('.text').textContent || '',
    state: last.dataset.state || '',
  };
})()`;

interface Reply {
  readonly lengths: number[];
  readonly times: number[];
  readonly text: string;
  readonly state: string;
}

/**
 * Sends a prompt and records the reply's text every time it changes, until it is done; `midStream` is a screenshot
 * path taken as soon as the first delta is on screen.
 */
async function sendAndWatch(page: Page, prompt: string, midStream?: string): Promise<Reply> {
  await page.evaluate(WATCH_REPLY);
  await page.fill('#prompt', prompt);
  await page.click('#send');
  if (midStream) {
    await page.waitForSelector('.message.assistant:last-child[data-state="streaming"] .text:not(:empty)');
    await page.screenshot({ path: midStream });
  }
  await page.waitForSelector('.message.assistant:last-child:is([data-state="done"], [data-state="error"])', { timeout: 60_000 });
  return page.evaluate(READ_REPLY) as Promise<Reply>;
}

describe('examples/chat-web in chromium', () => {
  test.each([
    ['anthropic', 'chat-web'],
    ['openai', 'chat-web-openai'],
  ])('renders the streamed %s reply token by token', async (protocol, screenshot) => {
    const { page, problems } = await openChat();
    await configure(page, API_KEY, protocol);

    const reply = await sendAndWatch(page, 'Why does streaming matter for a chat UI?', path.join(OUTPUT_DIR, `${screenshot}-streaming.png`));
    expect(reply.state).toBe('done');
    // Several increments, each longer than the last, spread over time — not one paint of the whole answer.
    expect(reply.lengths.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < reply.lengths.length; i++) expect(reply.lengths[i]).toBeGreaterThan(reply.lengths[i - 1]);
    expect(reply.times[reply.times.length - 1] - reply.times[0]).toBeGreaterThan(200);
    expect(reply.lengths[reply.lengths.length - 1]).toBe(reply.text.length);
    expect(reply.text.split(/\s+/).filter(Boolean).length).toBeGreaterThanOrEqual(24);

    await page.screenshot({ path: path.join(OUTPUT_DIR, `${screenshot}.png`), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  test('keeps the conversation: the second request carries the first answer', async () => {
    const { page, problems } = await openChat('/');
    await configure(page, API_KEY);
    const first = await sendAndWatch(page, 'First question');
    const second = await sendAndWatch(page, 'And a follow-up');
    expect([first.state, second.state]).toEqual(['done', 'done']);
    expect(await page.locator('.message').count()).toBe(4);
    const sent = JSON.parse(edge.apiRequests[edge.apiRequests.length - 1].body);
    expect(sent).toMatchObject({ stream: true, model: expect.any(String) });
    expect(sent.messages).toEqual([
      { role: 'user', content: 'First question' },
      { role: 'assistant', content: first.text },
      { role: 'user', content: 'And a follow-up' },
    ]);
    expect(problems).toEqual([]);
    await page.close();
  });

  test('shows the API\'s own error for a wrong key, unmasked by the SPA routing', async () => {
    const { page } = await openChat();
    await configure(page, 'sk-wrong');
    const reply = await sendAndWatch(page, 'Hello?');
    expect(reply.state).toBe('error');
    expect(reply.text).toMatch(/^401\b/);
    expect(edge.log).toContain('POST /api/v1/messages -> 401');
    await page.close();
  });

  test('sends the SHA-256 of every body when config.json asks for payload signing (a proxy behind OAC)', async () => {
    const { spec, runtimeConfig } = synthesizeSite(SITE_DIR, { runtimeConfig: { apiPayloadSigning: 'sha256' } });
    const signing = await startEdge(spec, SITE_DIR, runtimeConfig, edge.upstream);
    try {
      const page = await browser.newPage();
      await page.goto(`${signing.url}/`);
      await page.waitForSelector('body[data-ready="true"]');
      await configure(page, API_KEY);
      const reply = await sendAndWatch(page, 'Is the body hashed?');
      expect(reply.state).toBe('done');
      const [request] = signing.apiRequests;
      expect(request.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(request.body).digest('hex'));
      await page.close();
    } finally {
      await signing.close();
    }
    // Without the setting the header is not sent.
    expect(edge.apiRequests.every((r) => r.headers['x-amz-content-sha256'] === undefined)).toBe(true);
  });

  test('serves deep links from the app shell and real files as themselves, with the security headers and cache rules', async () => {
    const deep = await fetch(`${edge.url}/conversations/7/settings`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toContain('<ol id="messages"');
    expect(deep.headers.get('cache-control')).toBe('no-cache');
    expect(deep.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(deep.headers.get('strict-transport-security')).toBe('max-age=63072000; includeSubDomains');
    expect(deep.headers.get('x-frame-options')).toBe('DENY');

    const script = await fetch(`${edge.url}/app.js`);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect(script.headers.get('cache-control')).toBe('public, max-age=0, s-maxage=86400');

    const config = await fetch(`${edge.url}/config.json`);
    expect(await config.json()).toEqual({ apiBaseUrl: '/api' });
    expect(config.headers.get('cache-control')).toBe('no-cache');

    expect((await fetch(`${edge.url}/missing.js`)).status).toBe(404);
    // An unknown API path reaches the proxy, whose own error comes back instead of the app shell.
    const unknown = await fetch(`${edge.url}/api/v1/no-such-endpoint`, { method: 'POST', headers: { 'x-api-key': API_KEY } });
    expect(await unknown.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });
});
