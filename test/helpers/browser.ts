/**
 * Harness of the end-to-end tests: a Confab on a temporary SQLite file (restartable on the same port), real
 * headless Chromium through playwright-core, pages that record every console error, accounts made through the
 * UI or (fast) through the API, a small raw client of the `/ws` protocol for the "other side" of a
 * conversation, and screenshots in test-results/screenshots/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { loadConfig } from '../../src/config.js';
import { startConfab } from '../../src/server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Failure guard for waits (not a measurement: tests never assert on time). */
export const WAIT_MS = 15_000;

/** Where screenshots go (ignored by git). */
export const SCREENSHOT_DIR = path.join(root, 'test-results', 'screenshots');

/** The password of every test account (long enough, and on no common-password list). */
export const PASSWORD = 'plum-Orbit-4417';

/** An account made for a test: who it is and its session cookie's value. */
export interface Account {
  user: { id: number; username: string; displayName: string };
  /** Value of the `confab_session` cookie. */
  session: string;
}

/** Name of the session cookie (src/access/credentials.ts). */
export const SESSION_COOKIE = 'confab_session';

let addressCount = 0;
/**
 * A distinct client address per sign-up. The server allows 10 sign-ups per address and hour (not
 * configurable yet); the test server trusts X-Forwarded-For (TRUST_PROXY) so each test account can come
 * from its own address.
 */
export function nextAddress(): string {
  addressCount++;
  return `10.${(addressCount >> 16) & 255}.${(addressCount >> 8) & 255}.${addressCount & 255}`;
}

/** Viewports of the screenshots: a laptop and a phone. */
export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 375, height: 740 } as const;

/** Builds dist/web once when it is missing (`npm test` builds before running the tests). */
export function ensureBuilt(): void {
  if (existsSync(path.join(root, 'dist', 'web', 'app.js'))) return;
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
}

/** A Confab on a temporary database, restartable on the same port with the same data. */
export class E2EServer {
  private constructor(
    private running: { url: string; port: number; close(): Promise<void> } | null,
    private readonly env: Record<string, string>,
    readonly dir: string,
    readonly port: number,
  ) {}

  /** Starts a fresh server on a free port; `env` overrides configuration variables. */
  static async start(extra: Record<string, string> = {}): Promise<E2EServer> {
    ensureBuilt();
    const dir = await mkdtemp(path.join(tmpdir(), 'confab-e2e-'));
    const env = {
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${path.join(dir, 'confab.db')}`,
      UPLOAD_DIR: path.join(dir, 'uploads'),
      LOG_LEVEL: 'silent',
      // Bulk history seeding must not hit the per-user message limit.
      MESSAGE_RATE_LIMIT: '100000',
      FRAMES_PER_SECOND: '1000000',
      // Lets each test account sign up from its own X-Forwarded-For address (see nextAddress).
      TRUST_PROXY: 'true',
      ...extra,
    };
    const running = await startConfab(loadConfig(env));
    return new E2EServer(running, env, dir, running.port);
  }

  /** http://127.0.0.1:PORT */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** ws://127.0.0.1:PORT */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Stops the server (graceful: sockets close with 1001); the database stays for `restart`. */
  async stop(): Promise<void> {
    const running = this.running;
    this.running = null;
    await running?.close();
  }

  /** Starts it again on the same port and database. */
  async restart(): Promise<void> {
    assert.equal(this.running, null, 'stop() before restart()');
    this.running = await startConfab(loadConfig({ ...this.env, PORT: String(this.port) }));
  }

  /** Stops the server and removes its database. */
  async close(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** A JSON API call as `account` (cookie and same-origin Origin, as the browser sends them). */
  async api(account: Account | null, method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const headers: Record<string, string> = { origin: this.url, 'x-forwarded-for': nextAddress() };
    if (account !== null) headers.cookie = `${SESSION_COOKIE}=${account.session}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.url}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text === '' ? null : (JSON.parse(text) as unknown) };
  }

  /** Signs up through the API (fast; for tests not about sign-up) and returns the account with its cookie. */
  async signUp(username: string, displayName?: string, password = PASSWORD): Promise<Account> {
    const res = await fetch(`${this.url}/api/auth/signup`, {
      method: 'POST',
      headers: { origin: this.url, 'content-type': 'application/json', 'x-forwarded-for': nextAddress() },
      body: JSON.stringify({ username, password, ...(displayName !== undefined ? { displayName } : {}) }),
    });
    const json = (await res.json()) as { user: Account['user'] };
    assert.equal(res.status, 201, `sign-up of ${username}: ${JSON.stringify(json)}`);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    assert.ok(cookie, 'sign-up sets the session cookie');
    return { user: json.user, session: cookie.slice(SESSION_COOKIE.length + 1).split(';')[0]! };
  }

  /** Creates a room as `owner` through the HTTP API. */
  async createRoom(owner: Account, name: string, isPrivate = false): Promise<{ id: number; name: string }> {
    const { status, json } = await this.api(owner, 'POST', '/api/rooms', { name, private: isPrivate });
    assert.equal(status, 201, `POST /api/rooms ${name}: ${JSON.stringify(json)}`);
    return (json as { room: { id: number; name: string } }).room;
  }

  /** Adds `account` to a public room (its sidebar shows it). */
  async join(account: Account, roomId: number): Promise<void> {
    const { status, json } = await this.api(account, 'POST', `/api/rooms/${roomId}/join`, {});
    assert.equal(status, 200, `join ${roomId}: ${JSON.stringify(json)}`);
  }

  /** Opens a raw `/ws` client signed in as `account`. */
  connect(account: Account): Promise<RawClient> {
    return RawClient.connect(`${this.wsUrl}/ws`, { cookie: `${SESSION_COOKIE}=${account.session}`, origin: this.url });
  }
}

/** Launches headless Chromium (Debian's package). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * The set-up every browser test file shares: a Confab (with `env` on top of the defaults) and a Chromium, started
 * before the file's tests and stopped after them. `use` gets both once they run.
 */
export function e2eSuite(use: (server: E2EServer, browser: Browser) => void, env: Record<string, string> = {}): void {
  let server: E2EServer | undefined;
  let browser: Browser | undefined;
  before(async () => {
    server = await E2EServer.start(env);
    browser = await launchBrowser();
    use(server, browser);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });
}

/** A page in its own browser context (own cookies and localStorage), with everything it logged. */
export interface TestPage {
  context: BrowserContext;
  page: Page;
  /** Console errors and warnings (with the URL they concern), and uncaught exceptions. */
  problems: string[];
}

/**
 * Opens `url` in a fresh context of `browser`, signed in as `account` when given (its session cookie is set
 * in the context before the page loads), else signed out.
 */
export async function openPage(
  browser: Browser,
  url: string,
  viewport: { width: number; height: number } = DESKTOP,
  account?: Account,
  /** Runs on the new context before the page loads (init scripts, permissions). */
  setup?: (context: BrowserContext) => Promise<void>,
): Promise<TestPage> {
  const context = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'UTC' });
  context.setDefaultTimeout(WAIT_MS);
  // Its own client address, so that sign-ups made in this page do not share the per-address limit.
  await context.setExtraHTTPHeaders({ 'x-forwarded-for': nextAddress() });
  if (account !== undefined) await setSession(context, new URL(url).origin, account);
  await setup?.(context);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') {
      const where = msg.location().url;
      problems.push(`console.${msg.type()}: ${msg.text()}${where ? ` [${where}]` : ''}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  await page.goto(url);
  return { context, page, problems };
}

/**
 * Fails when the page logged anything. `expected` lists patterns of messages a test provokes on purpose
 * (Chromium itself logs refused WebSocket connections while a server is down; no page code can avoid that).
 */
export function assertNoConsoleProblems(tp: TestPage, expected: RegExp[] = []): void {
  const unexpected = tp.problems.filter((p) => !expected.some((re) => re.test(p)));
  assert.deepEqual(unexpected, [], `the page logged:\n${unexpected.join('\n')}`);
}

/** What Chromium logs by itself when a WebSocket cannot connect (the server is down). */
export const WS_REFUSED = /WebSocket connection to '.*' failed/;

/**
 * Chromium's log line for a `GET /api/me` that met the server mid-restart (503 while it stops or starts): the
 * client checks its session after repeated reconnect failures, and a restart may answer that check so.
 */
export const ME_UNAVAILABLE = /status of 503 .*\[http:\/\/[^\]]*\/api\/me\]$/;

/** Chromium's log line for the 401 of `GET /api/me` while signed out (how the client learns to show sign-in). */
export const ME_401 = /status of 401 .*\[http:\/\/[^\]]*\/api\/me\]$/;

/** Chromium's log line for a refused sign-in (401 of `POST /api/auth/signin`). */
export const SIGNIN_401 = /status of 401 .*\[http:\/\/[^\]]*\/api\/auth\/signin\]$/;

/** Puts `account`'s session cookie into `context` (as if it had signed in there). */
export async function setSession(context: BrowserContext, origin: string, account: Account): Promise<void> {
  await context.addCookies([{ name: SESSION_COOKIE, value: account.session, url: origin, httpOnly: true, sameSite: 'Lax' }]);
}

/** Signs up through the UI of a page showing the sign-in screen, and waits for the app. */
export async function signUp(page: Page, username: string, password = PASSWORD, displayName?: string): Promise<void> {
  await page.getByTestId('signup-tab').click();
  const form = page.getByTestId('signup-form');
  await form.getByLabel('Username').fill(username);
  if (displayName !== undefined) await form.getByLabel('Display name').fill(displayName);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Create account' }).click();
  await page.getByTestId('me-display').filter({ hasText: displayName ?? username }).waitFor({ state: 'attached' });
}

/** Signs in through the UI of a page showing the sign-in screen (does not wait: the caller checks the outcome). */
export async function submitSignIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByTestId('signin-tab').click();
  const form = page.getByTestId('signin-form');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

/** Saves a PNG to test-results/screenshots/`name`.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** The connection pill, and waiting for a state of it. */
export async function waitForConnection(page: Page, text = 'Connected'): Promise<void> {
  await page.getByTestId('connection-state').filter({ hasText: text }).waitFor();
}

/** Sends `text` from the page's composer (typed, then Enter). */
export async function sendFromPage(page: Page, text: string): Promise<void> {
  const input = page.getByTestId('composer-input');
  await input.fill(text);
  await input.press('Enter');
}

/** Bodies of the stored messages on screen, in display order. */
export function shownBodies(page: Page): Promise<string[]> {
  return page.getByTestId('message').getByTestId('message-body').allTextContents();
}

/** seq attributes of the stored messages on screen, in display order. */
export function shownSeqs(page: Page): Promise<number[]> {
  return page.getByTestId('message').evaluateAll((nodes) => nodes.map((n) => Number((n as HTMLElement).dataset.seq)));
}

/** Waits until a stored message with exactly this body is on screen. */
export async function waitForMessage(page: Page, body: string): Promise<void> {
  await page.getByTestId('message').filter({ has: page.getByTestId('message-body').getByText(body, { exact: true }) }).first().waitFor();
}

/** A frame received by RawClient (loosely typed: tests check the fields they use). */
export type Frame = Record<string, unknown> & { type?: string };

/** A minimal client of `/ws` or of the original endpoint, keeping every frame it receives. */
export class RawClient {
  readonly frames: Frame[] = [];
  private listeners: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as Frame);
      for (const l of this.listeners) l();
    });
    ws.on('error', () => {});
  }

  /** Connects to `url` (with a session cookie and Origin when given) and waits until open (and for `hello` on `/ws`). */
  static async connect(url: string, headers: { cookie?: string; origin?: string } = {}): Promise<RawClient> {
    const ws = new WebSocket(url, { headers: { ...(headers.cookie ? { cookie: headers.cookie } : {}), ...(headers.origin ? { origin: headers.origin } : {}) } });
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    if (new URL(url).pathname === '/ws') await client.waitFor((f) => f.type === 'hello');
    return client;
  }

  /** Sends a JSON frame. */
  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** The first received frame matching `predicate`, waiting for it if needed. */
  waitFor(predicate: (f: Frame) => boolean, timeoutMs = WAIT_MS): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.frames.find(predicate);
        if (found === undefined) return false;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
        resolve(found);
        return true;
      };
      const listener = () => void check();
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== listener);
        reject(new Error(`no matching frame; last: ${JSON.stringify(this.frames.slice(-3))}`));
      }, timeoutMs);
      if (!check()) this.listeners.push(listener);
    });
  }

  /** Posts a message on `/ws` and waits for its ack. */
  async post(room: number, body: string): Promise<Frame> {
    const clientMsgId = randomUUID();
    this.send({ type: 'send', room, clientMsgId, body });
    const reply = await this.waitFor((f) => (f.type === 'ack' || f.type === 'error') && f.clientMsgId === clientMsgId);
    assert.equal(reply.type, 'ack', `send failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  /** Every stored message of `room` as the server holds it, oldest first. */
  async history(room: number): Promise<Array<{ seq: number; body: string; author: string; authorId: number | null }>> {
    const all: Array<{ seq: number; body: string; author: string; authorId: number | null }> = [];
    for (let page = 0; ; page++) {
      const id = `hist-${page}-${randomUUID()}`;
      this.send({ type: 'history', id, room, after: all.at(-1)?.seq ?? 0, limit: 100 });
      const reply = (await this.waitFor((f) => f.id === id)) as { messages: typeof all; hasMore: boolean };
      all.push(...reply.messages.map(({ seq, body, author, authorId }) => ({ seq, body, author, authorId })));
      if (!reply.hasMore) return all;
    }
  }

  /** Closes the socket and waits until it is closed. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise((resolve) => this.ws.once('close', resolve));
    this.ws.close();
    await closed;
  }
}

/**
 * An init script that lets a test decide whether the page is visible and focused (headless Chromium
 * reports every page as both) and records every `Notification` the page creates instead of showing it.
 * `window.__setLooking(visible, focused)` changes the state and fires the events a browser would.
 */
function attentionScript(looking: boolean): string {
  return `(() => {
    let visible = ${looking}, focused = ${looking};
    Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (visible ? 'visible' : 'hidden') });
    Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => !visible });
    Document.prototype.hasFocus = function () { return focused; };
    window.__setLooking = (v, f) => {
      visible = v;
      focused = f;
      document.dispatchEvent(new Event('visibilitychange'));
      window.dispatchEvent(new Event(f ? 'focus' : 'blur'));
    };
    const Real = window.Notification;
    const records = [];
    window.__notifications = records;
    class RecordedNotification extends EventTarget {
      constructor(title, options = {}) {
        super();
        this.title = title;
        this.body = options.body ?? '';
        this.tag = options.tag ?? '';
        this.onclick = null;
        this.closed = false;
        records.push(this);
      }
      close() { this.closed = true; }
      static get permission() { return Real ? Real.permission : 'denied'; }
      static requestPermission(cb) { return Real.requestPermission(cb); }
    }
    window.Notification = RecordedNotification;
  })();`;
}

/** Setup for openPage: controllable visibility and focus (starting as `looking`), recorded notifications, and optionally the permission. */
export function attention(origin: string, options: { looking?: boolean; notifications?: boolean } = {}) {
  return async (context: BrowserContext): Promise<void> => {
    if (options.notifications === true) await context.grantPermissions(['notifications'], { origin });
    await context.addInitScript({ content: attentionScript(options.looking ?? true) });
  };
}

/** Makes the page visible and focused (true), or hidden and unfocused (false), or visible but unfocused. */
export async function setLooking(page: Page, visible: boolean, focused = visible): Promise<void> {
  await page.evaluate(([v, f]) => (window as unknown as { __setLooking(v: boolean, f: boolean): void }).__setLooking(v!, f!), [visible, focused]);
}

/** The notifications the page created so far. */
export function recordedNotifications(page: Page): Promise<Array<{ title: string; body: string; tag: string }>> {
  return page.evaluate(() =>
    (window as unknown as { __notifications: Array<{ title: string; body: string; tag: string }> }).__notifications.map((n) => ({
      title: n.title,
      body: n.body,
      tag: n.tag,
    })),
  );
}

/** Clicks the `index`-th recorded notification (as the user would in the system tray). */
export async function clickNotification(page: Page, index: number): Promise<void> {
  await page.evaluate((i) => {
    const n = (window as unknown as { __notifications: Array<{ onclick: ((e: Event) => void) | null }> }).__notifications[i]!;
    n.onclick?.(new Event('click'));
  }, index);
}

/** Screenshots at the laptop and the phone size: `name`-desktop.png and `name`-phone.png. */
export async function screenshotBoth(page: Page, name: string): Promise<void> {
  const size = page.viewportSize() ?? DESKTOP;
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  // animations: 'disabled' finishes the drawer's slide that a resize across the breakpoint starts.
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}-desktop.png`), animations: 'disabled' });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}-phone.png`), animations: 'disabled' });
  await page.setViewportSize(size);
}
