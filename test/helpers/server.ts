/**
 * Test harness for integration tests: a Confab instance on a temporary SQLite file, and small WebSocket
 * clients (over the `ws` package) that collect frames, await the one a test expects, and check every frame
 * the server sends against the documented schema (test/helpers/frame-schemas.ts).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket, type RawData } from 'ws';
import { loadConfig } from '../../src/config.js';
import { startConfab, type RunningConfab } from '../../src/server.js';
import { z } from 'zod';
import {
  legacyFrameSchema,
  roomSchema,
  serverFrameSchema,
  userSchema,
  type LegacyFrame,
  type ServerFrame,
} from './frame-schemas.js';

/** Failure guard for awaits; tests never assert on time, this only stops a hung test. */
export const WAIT_MS = 10_000;

/** How a connection ended. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** A room as the HTTP API returns it. */
export type Room = z.infer<typeof roomSchema>;

interface Waiter<F> {
  predicate: (frame: F) => boolean;
  resolve: (frame: F) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A WebSocket that keeps every frame it receives, validated against `schema`. `next` hands each received frame
 * to at most one caller, so a test can await frames in any order without losing one that came early.
 */
export class FrameClient<F> {
  /** Every frame received, in order. */
  readonly frames: F[] = [];
  /** Resolves when the connection has closed, with the close code the server gave. */
  readonly closed: Promise<CloseInfo>;
  /** Schema violations and undecodable frames: any of them fails the test. */
  readonly violations: string[] = [];
  private readonly taken = new Set<number>();
  private waiters: Array<Waiter<F>> = [];
  private isClosed = false;

  constructor(
    readonly ws: WebSocket,
    private readonly schema: z.ZodType<F>,
    readonly label: string,
  ) {
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    // Errors (e.g. the server closing on a protocol violation we provoked) surface through `closed`.
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.isClosed = true;
        for (const w of this.waiters) {
          clearTimeout(w.timer);
          w.reject(new Error(`${this.label}: closed (${code} ${reason.toString()}) before the expected frame`));
        }
        this.waiters = [];
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  /**
   * The first frame not yet taken that matches `predicate` (already received or still to come).
   * Rejects after `timeoutMs`, when the connection closes first, or on any schema violation.
   */
  next(predicate: (frame: F) => boolean = () => true, timeoutMs = WAIT_MS): Promise<F> {
    if (this.violations.length > 0) return Promise.reject(new Error(this.violationReport()));
    for (const [i, f] of this.frames.entries()) {
      if (!this.taken.has(i) && predicate(f)) {
        this.taken.add(i);
        return Promise.resolve(f);
      }
    }
    if (this.isClosed) return Promise.reject(new Error(`${this.label}: closed before the expected frame`));
    return new Promise<F>((resolve, reject) => {
      const waiter: Waiter<F> = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`${this.label}: no matching frame within ${timeoutMs} ms; got ${this.describe()}`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Sends a JSON frame. */
  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Sends text or bytes as they are (binary when `data` is a Buffer and `binary` is not false). */
  sendRaw(data: string | Buffer, binary = typeof data !== 'string'): void {
    this.ws.send(data, { binary });
  }

  /** Closes the connection (normal closure) and waits until it is closed. */
  async close(): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    const guard = setTimeout(() => this.ws.terminate(), WAIT_MS);
    try {
      return await this.closed;
    } finally {
      clearTimeout(guard);
    }
  }

  /** Throws when any received frame broke the documented schema. */
  assertValid(): void {
    if (this.violations.length > 0) throw new assert.AssertionError({ message: this.violationReport() });
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    let raw: unknown;
    try {
      if (isBinary) throw new Error('the server sent a binary frame');
      raw = JSON.parse(text);
    } catch (err) {
      this.violate(`undecodable frame ${JSON.stringify(text.slice(0, 200))}: ${(err as Error).message}`);
      return;
    }
    const parsed = this.schema.safeParse(raw);
    if (!parsed.success) {
      this.violate(`frame ${text.slice(0, 300)} breaks docs/protocol.md: ${parsed.error.message}`);
      return;
    }
    const frame = parsed.data;
    const index = this.frames.push(frame) - 1;
    const waiter = this.waiters.find((w) => w.predicate(frame));
    if (waiter) {
      this.taken.add(index);
      this.waiters = this.waiters.filter((w) => w !== waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(frame);
    }
  }

  private violate(problem: string): void {
    this.violations.push(problem);
    const err = new Error(this.violationReport());
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters = [];
  }

  private violationReport(): string {
    return `${this.label}: server frames do not match the documented schema:\n  ${this.violations.join('\n  ')}`;
  }

  private describe(): string {
    const last = this.frames.slice(-5).map((f) => JSON.stringify(f));
    return `${this.frames.length} frames, last: ${last.join(' ')}`;
  }
}

/** A frame of `type`, narrowed; fails with the frame's text when the type differs. */
export function expectFrame<T extends ServerFrame['type']>(frame: ServerFrame, type: T): Extract<ServerFrame, { type: T }> {
  if (frame.type !== type) {
    throw new assert.AssertionError({ message: `expected a ${type} frame, got ${JSON.stringify(frame)}` });
  }
  return frame as Extract<ServerFrame, { type: T }>;
}

/** A client of the `/ws` protocol. */
export class ChatClient extends FrameClient<ServerFrame> {
  private requests = 0;
  /** The `hello` frame the server sent on connect. */
  hello!: Extract<ServerFrame, { type: 'hello' }>;

  /**
   * Sends `frame` with a generated `id` and resolves on the reply that echoes it (for `send`, the `ack` or
   * error that echoes its `clientMsgId`). `until` waits for that reply type only, when several echo the id (`resume`).
   */
  request(frame: Record<string, unknown>, until?: ServerFrame['type']): Promise<ServerFrame> {
    const id = `${this.label}-r${++this.requests}`;
    const reply = this.next((f) => {
      if (until !== undefined && f.type !== until) return false;
      if ('id' in f && f.id === id) return true;
      return (
        frame.type === 'send' &&
        (f.type === 'ack' || f.type === 'error') &&
        f.clientMsgId === frame.clientMsgId &&
        f.room === frame.room
      );
    });
    this.send({ ...frame, id });
    return reply;
  }

  /** Subscribes to a room (from `since` when given) and returns the `subscribed` frame. */
  async subscribe(room: number, since?: number): Promise<Extract<ServerFrame, { type: 'subscribed' }>> {
    const reply = await this.request({ type: 'subscribe', room, ...(since !== undefined ? { since } : {}) });
    return expectFrame(reply, 'subscribed');
  }

  /** Posts a message and returns the `ack`. */
  async post(room: number, body: string, clientMsgId: string = randomUUID()): Promise<Extract<ServerFrame, { type: 'ack' }>> {
    return expectFrame(await this.request({ type: 'send', room, clientMsgId, body }), 'ack');
  }

  /** Every stored message of a room, oldest first, read page by page with `history` `after`. */
  async allHistory(room: number): Promise<Array<Extract<ServerFrame, { type: 'message' }>>> {
    const all: Array<Extract<ServerFrame, { type: 'message' }>> = [];
    let after = 0;
    for (;;) {
      const page = expectFrame(await this.request({ type: 'history', room, after, limit: 100 }), 'history');
      // Pages after a seq carry the change rows (`update`) too; they advance the position but are not messages.
      for (const row of page.messages) if (row.type === 'message') all.push(row);
      after = page.messages.at(-1)?.seq ?? after;
      if (!page.hasMore) return all;
    }
  }

  /** The `message` frames received so far for `room`, in arrival order. */
  messagesIn(room: number): Array<Extract<ServerFrame, { type: 'message' }>> {
    return this.frames.filter((f): f is Extract<ServerFrame, { type: 'message' }> => f.type === 'message' && f.room === room);
  }

  /** Waits until `count` `message` frames of `room` have arrived, and returns them. */
  async waitForMessages(room: number, count: number, timeoutMs = WAIT_MS): Promise<Array<Extract<ServerFrame, { type: 'message' }>>> {
    const deadline = Date.now() + timeoutMs;
    while (this.messagesIn(room).length < count) {
      if (this.violations.length > 0) this.assertValid();
      if (Date.now() > deadline) {
        throw new Error(`${this.label}: ${this.messagesIn(room).length} of ${count} messages of room ${room} arrived`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.messagesIn(room);
  }
}

/** A client of the original endpoint `/ws/chat/<room>/`. */
export class LegacyClient extends FrameClient<LegacyFrame> {}

/** Options of a temporary Confab. */
export type TestEnv = Record<string, string>;

/** The password every test account gets unless a test chooses another. */
export const TEST_PASSWORD = 'Plenty-of-entropy-42';

/** A signed-up account: its session cookie (`confab_session=...`) and the user as `/api/me` shows it. */
export interface Account {
  cookie: string;
  user: z.infer<typeof meSchema>;
  password: string;
}

/** Credentials for an HTTP call or a handshake: a cookie, a bearer secret, or nothing. */
export type Credentials = { cookie: string } | { bearer: string } | null;

/** An HTTP answer: status, decoded JSON body (null when empty) and headers. */
export interface ApiReply {
  status: number;
  json: unknown;
  headers: Headers;
}

export const meSchema = userSchema.extend({ isAdmin: z.boolean(), privateReceipts: z.boolean() });

/** `confab_session=<value>` from a response's Set-Cookie, or null when it sets none (or clears it). */
export function sessionCookieOf(headers: Headers): string | null {
  for (const line of headers.getSetCookie()) {
    const m = /^confab_session=([^;]*)/.exec(line);
    if (m && m[1]) return `confab_session=${m[1]}`;
  }
  return null;
}

/** The `error` object of an API answer. */
export function apiError(reply: ApiReply): { code: string; message: string; retryAfterMs?: number } {
  const e = (reply.json as { error?: { code: string; message: string; retryAfterMs?: number } } | null)?.error;
  if (!e) throw new assert.AssertionError({ message: `expected an error body, got ${reply.status} ${JSON.stringify(reply.json)}` });
  return e;
}

/** A Confab on a temporary SQLite file, with its clients; `close()` stops everything and removes the file. */
export class TestServer {
  private readonly clients: Array<{ close(): Promise<CloseInfo>; assertValid(): void }> = [];
  private clientCount = 0;
  private readonly accounts = new Map<string, Promise<Account>>();
  private addressCount = 0;

  private constructor(
    readonly confab: RunningConfab,
    readonly dir: string,
    readonly env: TestEnv,
  ) {}

  /**
   * Starts Confab on port 0 with a fresh database; `env` overrides configuration variables. TRUST_PROXY is on
   * by default so that each test account can sign up from its own address (`X-Forwarded-For`), as users behind
   * a proxy do, instead of all of them hitting the per-address sign-up limit.
   */
  static async start(env: TestEnv = {}): Promise<TestServer> {
    const dir = await mkdtemp(path.join(tmpdir(), 'confab-it-'));
    const full = {
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${path.join(dir, 'confab.db')}`,
      UPLOAD_DIR: path.join(dir, 'uploads'),
      LOG_LEVEL: 'silent',
      TRUST_PROXY: 'true',
      ...env,
    };
    try {
      const confab = await startConfab(loadConfig(full));
      return new TestServer(confab, dir, full);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get url(): string {
    return this.confab.url;
  }

  get port(): number {
    return this.confab.port;
  }

  get wsUrl(): string {
    return this.confab.url.replace(/^http/, 'ws');
  }

  /** A fresh client address for X-Forwarded-For (only believed with TRUST_PROXY=true). */
  nextAddress(): string {
    const n = ++this.addressCount;
    return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  }

  /**
   * An HTTP call to the API. A state-changing call made with a cookie carries the server's own Origin unless
   * `origin` says otherwise (null: no Origin header).
   */
  async api(
    method: string,
    urlPath: string,
    opts: { as?: Credentials | Account; body?: unknown; rawBody?: string; contentType?: string; origin?: string | null; headers?: Record<string, string> } = {},
  ): Promise<ApiReply> {
    const headers: Record<string, string> = { ...opts.headers };
    const as = opts.as ?? null;
    if (as && 'cookie' in as) headers.cookie = as.cookie;
    if (as && 'bearer' in as) headers.authorization = `Bearer ${as.bearer}`;
    const origin = opts.origin === undefined ? (method === 'GET' ? null : this.url) : opts.origin;
    if (origin !== null) headers.origin = origin;
    let body: string | undefined;
    if (opts.rawBody !== undefined) {
      body = opts.rawBody;
      headers['content-type'] = opts.contentType ?? 'application/json';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(`${this.url}${urlPath}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    return { status: res.status, json: text.length > 0 ? (JSON.parse(text) as unknown) : null, headers: res.headers };
  }

  /**
   * POST /api/auth/signup from a fresh address; returns the account (fails unless 201 with a session cookie).
   * `displayName` defaults to none (the server then shows the username).
   */
  async signUp(username: string, opts: { password?: string; displayName?: string } = {}): Promise<Account> {
    const password = opts.password ?? TEST_PASSWORD;
    const reply = await this.api('POST', '/api/auth/signup', {
      body: { username, password, ...(opts.displayName !== undefined ? { displayName: opts.displayName } : {}) },
      headers: { 'x-forwarded-for': this.nextAddress() },
    });
    assert.equal(reply.status, 201, `sign-up ${username}: ${JSON.stringify(reply.json)}`);
    const cookie = sessionCookieOf(reply.headers);
    assert.ok(cookie, 'sign-up sets the session cookie');
    return { cookie, user: meSchema.parse((reply.json as { user: unknown }).user), password };
  }

  /** POST /api/auth/signin from a fresh address; returns the new session cookie (fails unless 200). */
  async signIn(username: string, password = TEST_PASSWORD): Promise<Account> {
    const reply = await this.api('POST', '/api/auth/signin', {
      body: { username, password },
      headers: { 'x-forwarded-for': this.nextAddress() },
    });
    assert.equal(reply.status, 200, `sign-in ${username}: ${JSON.stringify(reply.json)}`);
    const cookie = sessionCookieOf(reply.headers);
    assert.ok(cookie, 'sign-in sets the session cookie');
    return { cookie, user: meSchema.parse((reply.json as { user: unknown }).user), password };
  }

  /**
   * The account shown as `name` in this server's tests, signed up on first use: display name `name`, username
   * derived from it (usernames are stricter and at least 3 characters).
   */
  user(name: string): Promise<Account> {
    let account = this.accounts.get(name);
    if (!account) {
      const base = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 24);
      account = this.signUp(`u${this.accounts.size + 1}-${base}`.slice(0, 32), { displayName: name });
      this.accounts.set(name, account);
    }
    return account;
  }

  /**
   * Opens a `/ws` client and waits for its `hello`. `who`: an account, a display name (that test account, see
   * `user`), or nothing (a new account). Sends the server's own Origin, as a browser on the app's page does.
   */
  async connect(who?: string | Account, opts: { origin?: string | null; label?: string } = {}): Promise<ChatClient> {
    const n = ++this.clientCount;
    const account = typeof who === 'object' ? who : await this.user(who ?? `client${n}`);
    const label = opts.label ?? (typeof who === 'string' ? who : `${account.user.username}#${n}`);
    const client = new ChatClient(this.openSocket('/ws', { cookie: account.cookie }, opts.origin), serverFrameSchema, label);
    this.clients.push(client);
    await opened(client.ws);
    client.hello = expectFrame(await client.next((f) => f.type === 'hello'), 'hello');
    return client;
  }

  /** Opens a `/ws` client with any credentials (a bearer token, say) and waits for its `hello`. */
  async connectWith(credentials: Credentials, label = `client${++this.clientCount}`): Promise<ChatClient> {
    const client = new ChatClient(this.openSocket('/ws', credentials), serverFrameSchema, label);
    this.clients.push(client);
    await opened(client.ws);
    client.hello = expectFrame(await client.next((f) => f.type === 'hello'), 'hello');
    return client;
  }

  /**
   * Opens a client of the original endpoint for the room named `roomName`, signed in as `who` (an account or
   * a test account's name), or anonymous with `null` (a guest, when ALLOW_GUESTS=true).
   */
  async connectLegacy(roomName: string, who: string | Account | null = 'legacy'): Promise<LegacyClient> {
    const account = who === null ? null : typeof who === 'object' ? who : await this.user(who);
    const ws = this.openSocket(`/ws/chat/${encodeURIComponent(roomName)}/`, account ? { cookie: account.cookie } : null);
    const client = new LegacyClient(ws, legacyFrameSchema, `legacy${++this.clientCount}`);
    this.clients.push(client);
    await opened(ws);
    return client;
  }

  /**
   * Attempts a handshake; resolves with 101 when it opened (then closed again) or with the HTTP status of the
   * refusal.
   */
  handshakeStatus(urlPath: string, credentials: Credentials, origin?: string | null): Promise<number> {
    return new Promise((resolve, reject) => {
      const ws = this.openSocket(urlPath, credentials, origin);
      ws.on('error', () => {});
      ws.once('open', () => {
        ws.terminate();
        resolve(101);
      });
      ws.once('unexpected-response', (req, res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      setTimeout(() => reject(new Error(`no answer to the upgrade of ${urlPath}`)), WAIT_MS).unref();
    });
  }

  private openSocket(urlPath: string, credentials: Credentials, origin: string | null = this.url): WebSocket {
    const headers: Record<string, string> = {};
    if (credentials && 'cookie' in credentials) headers.cookie = credentials.cookie;
    if (credentials && 'bearer' in credentials) headers.authorization = `Bearer ${credentials.bearer}`;
    return new WebSocket(`${this.wsUrl}${urlPath}`, { headers, ...(origin !== null ? { origin } : {}) });
  }

  /** POST /api/rooms as `who` (default: the test account "owner"); returns the status and the decoded body. */
  async postRoom(body: string, contentType = 'application/json', who: string | Account = 'owner'): Promise<{ status: number; json: unknown }> {
    const account = typeof who === 'object' ? who : await this.user(who);
    const reply = await this.api('POST', '/api/rooms', { as: account, rawBody: body, contentType });
    return { status: reply.status, json: reply.json };
  }

  /** Creates a room through the HTTP API and returns it (fails unless the answer is 201). */
  async createRoom(name: string, opts: { private?: boolean; as?: string | Account } = {}): Promise<Room> {
    const body = JSON.stringify({ name, ...(opts.private !== undefined ? { private: opts.private } : {}) });
    const { status, json } = await this.postRoom(body, 'application/json', opts.as ?? 'owner');
    assert.equal(status, 201, `POST /api/rooms ${name}: ${JSON.stringify(json)}`);
    return roomSchema.parse((json as { room: unknown }).room);
  }

  /** GET /api/rooms/public: every public room. */
  async listPublicRooms(): Promise<Room[]> {
    return this.roomList('/api/rooms/public', await this.user('owner'));
  }

  /** GET /api/rooms as `who`: the rooms they are a member of. */
  async listRooms(who: string | Account = 'owner'): Promise<Room[]> {
    return this.roomList('/api/rooms', typeof who === 'object' ? who : await this.user(who));
  }

  private async roomList(urlPath: string, as: Account): Promise<Room[]> {
    const reply = await this.api('GET', urlPath, { as });
    assert.equal(reply.status, 200, `${urlPath}: ${JSON.stringify(reply.json)}`);
    return (reply.json as { rooms: unknown[] }).rooms.map((r) => roomSchema.parse(r));
  }

  /** Closes every client, stops the server, removes the database, then fails if any frame broke the schema. */
  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
    await this.confab.close();
    await rm(this.dir, { recursive: true, force: true });
    for (const c of this.clients) c.assertValid();
  }
}

/** Resolves when the WebSocket is open; rejects when the handshake is refused. */
export function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === WebSocket.OPEN) return resolve();
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
}

/**
 * Signs up `username` on a Confab started outside TestServer (a child process, say) and returns its session
 * cookie. Sends the server's own Origin, as the web client does.
 */
export async function signUpAt(baseUrl: string, username: string): Promise<string> {
  const res = await fetch(`${baseUrl}/api/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: baseUrl },
    body: JSON.stringify({ username, password: TEST_PASSWORD }),
  });
  assert.equal(res.status, 201, `sign-up ${username}: ${await res.clone().text()}`);
  const cookie = sessionCookieOf(res.headers);
  assert.ok(cookie, 'sign-up sets the session cookie');
  return cookie;
}

/** The value of an unlabelled counter or gauge in an instance's /metrics (fails if it is not exposed). */
export async function metricAt(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`${name} is not in ${baseUrl}/metrics`);
  return Number(m[1]);
}

/** `promise`, or a failure naming `what` after WAIT_MS: a guard against a hang, not a timing. */
export async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${WAIT_MS} ms`)), WAIT_MS);
  });
  try {
    return await Promise.race([promise, guard]);
  } finally {
    clearTimeout(timer);
  }
}
