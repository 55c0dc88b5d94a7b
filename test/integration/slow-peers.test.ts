/**
 * Peers that stop reading or vanish: a reader that falls behind is closed with 1013 (and loses nothing: it
 * resumes by seq), and a peer that answers no pings is cut after two heartbeat intervals (and goes offline).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { WebSocket } from 'ws';
import { loadConfig } from '../../src/config.js';
import { startConfab } from '../../src/server.js';
import { serverFrameSchema, type ServerFrame } from '../helpers/frame-schemas.js';
import { ChatClient, expectFrame, opened, signUpAt } from '../helpers/server.js';

const dir = await mkdtemp(path.join(tmpdir(), 'confab-slow-'));
// A small send buffer for the slow reader; the default (long) heartbeat so that test sees only the buffer bound.
const confab = await startConfab(
  loadConfig({
    PORT: '0',
    DATABASE_URL: `sqlite:${path.join(dir, 'c.db')}`,
    LOG_LEVEL: 'silent',
    MAX_BUFFERED_BYTES: String(64 * 1024),
    // The sender floods on purpose: no message rate limit here (accounts.test.ts tests it).
    MESSAGE_RATE_LIMIT: '1000000',
    FRAMES_PER_SECOND: '1000000',
  }),
);
const cookie = await signUpAt(confab.url, 'firehose');
// A fast heartbeat for the vanished peer.
const beating = await startConfab(
  loadConfig({
    PORT: '0',
    DATABASE_URL: `sqlite:${path.join(dir, 'h.db')}`,
    LOG_LEVEL: 'silent',
    HEARTBEAT_INTERVAL_MS: '1000',
  }),
);
after(async () => {
  await confab.close();
  await beating.close();
  await rm(dir, { recursive: true, force: true });
});

async function open(): Promise<{ ws: WebSocket; frames: Array<Record<string, unknown>> }> {
  const ws = new WebSocket(`${confab.url.replace('http', 'ws')}/ws`, { headers: { cookie } });
  const frames: Array<Record<string, unknown>> = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
  await new Promise((r) => ws.once('open', r));
  return { ws, frames };
}

test('#14 a client that stops reading is closed with 1013, then resumes and gets every message once', async () => {
  const res = await fetch(`${confab.url}/api/rooms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: confab.url, cookie },
    body: JSON.stringify({ name: 'firehose' }),
  });
  const { room } = (await res.json()) as { room: { id: number } };
  const slow = await open();
  slow.ws.send(JSON.stringify({ type: 'subscribe', room: room.id, since: 0 }));
  while (!slow.frames.some((f) => f.type === 'subscribed')) await new Promise((r) => setTimeout(r, 5));
  const closed = new Promise<number>((r) => slow.ws.once('close', (code) => r(code)));
  // Stop reading from the socket: the kernel buffers fill up, then the server's send buffer.
  (slow.ws as unknown as { _socket: net.Socket })._socket.pause();

  const sender = await open();
  const body = 'x'.repeat(3900);
  const acks = () => sender.frames.filter((f) => f.type === 'ack').length;
  // Send until the server gives up on the slow reader: how much that takes depends on the kernel's socket
  // buffers (tens of MB on loopback). In windows of 100, well under MAX_QUEUED_FRAMES, so the sender itself
  // is never refused; bounded so a server that never cuts the reader fails the test instead of hanging.
  const MAX_SENT = 30_000;
  let total = 0;
  while (confab.gateway.counters.slowConsumerCloses === 0 && total < MAX_SENT) {
    for (let k = 0; k < 100; k++, total++) {
      sender.ws.send(JSON.stringify({ type: 'send', room: room.id, clientMsgId: `s${total}`, body }));
    }
    while (acks() < total) await new Promise((r) => setTimeout(r, 2));
  }
  assert.equal(confab.gateway.counters.slowConsumerCloses, 1);
  assert.equal(acks(), total);
  assert.ok(!sender.frames.some((f) => f.type === 'error'));
  (slow.ws as unknown as { _socket: net.Socket })._socket.resume();
  assert.equal(await closed, 1013);

  // Resume from the last seq it holds: nothing missing, nothing twice.
  const got = slow.frames.filter((f) => f.type === 'message').map((f) => f.seq as number);
  const last = got.length ? got[got.length - 1]! : 0;
  const again = await open();
  again.ws.send(JSON.stringify({ type: 'resume', rooms: [{ room: room.id, since: last }] }));
  const want = total - last;
  while (again.frames.filter((f) => f.type === 'message').length < want) await new Promise((r) => setTimeout(r, 10));
  const seqs = [...got, ...again.frames.filter((f) => f.type === 'message').map((f) => f.seq as number)];
  assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => i + 1));
  sender.ws.close();
  again.ws.close();
});

test('#15 a peer that never answers pings is cut within two heartbeat intervals, and shown offline to a user watching', async () => {
  const { port } = new URL(beating.url);
  const beatingCookie = await signUpAt(beating.url, 'vanishing');
  const vanishing = ((await (await fetch(`${beating.url}/api/me`, { headers: { cookie: beatingCookie } })).json()) as { user: { id: number } }).user.id;
  // Presence is told to the people one shares a room with: the watcher opens a direct conversation with the peer.
  const watcherCookie = await signUpAt(beating.url, 'watching');
  const dm = await fetch(`${beating.url}/api/direct`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: beating.url, cookie: watcherCookie },
    body: JSON.stringify({ usernames: ['vanishing'] }),
  });
  assert.equal(dm.status, 200);
  const watcher = new ChatClient(
    new WebSocket(`${beating.url.replace('http', 'ws')}/ws`, { headers: { cookie: watcherCookie } }),
    serverFrameSchema,
    'watcher',
  );
  await opened(watcher.ws);
  const presenceOf = (state: string, pred: (u: { lastSeen: string | null }) => boolean = () => true) => (f: ServerFrame) =>
    f.type === 'presence' && f.users.some((u) => u.id === vanishing && u.state === state && pred(u));
  // The snapshot after hello: never seen yet.
  await watcher.next(presenceOf('offline', (u) => u.lastSeen === null));

  const socket = net.connect(Number(port), '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.write(
    'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: ${beatingCookie}\r\n\r\n`,
  );
  let head = '';
  await new Promise<void>((r) =>
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) r();
    }),
  );
  const upgradedAt = Date.now();
  assert.match(head, /^HTTP\/1\.1 101/);
  assert.equal(beating.gateway.connectionCount, 2);
  await watcher.next(presenceOf('online'));
  // Read everything (so the server is not blocked on writing) but never answer a ping: the server, not this
  // client, ends the connection.
  await new Promise<void>((r) => socket.once('close', () => r()));
  while (beating.gateway.connectionCount > 1) await new Promise((r) => setTimeout(r, 10));
  // That was the peer's last (only) connection: the watcher is told it is offline, last seen at that connection.
  const offline = expectFrame(await watcher.next(presenceOf('offline', (u) => u.lastSeen !== null)), 'presence');
  const lastSeen = Date.parse(offline.users.find((u) => u.id === vanishing)!.lastSeen!);
  assert.ok(lastSeen >= upgradedAt - 1000, `last seen ${new Date(lastSeen).toISOString()} is this connection's end`);
  assert.equal(watcher.ws.readyState, WebSocket.OPEN, 'the watcher, who answers pings, is kept');
  await watcher.close();
  watcher.assertValid();
});

test('heartbeat pings are spread over the interval (HEARTBEAT_SLOTS ticks), not sent to every connection at once', async () => {
  // Three users of 20 tabs each (MAX_CONNECTIONS_PER_USER is 30).
  const cookies = [await signUpAt(beating.url, 'tabs-a'), await signUpAt(beating.url, 'tabs-b'), await signUpAt(beating.url, 'tabs-c')];
  const sockets: WebSocket[] = [];
  const pings: number[] = [];
  try {
    for (let i = 0; i < 60; i++) {
      const ws = new WebSocket(`${beating.url.replace('http', 'ws')}/ws`, { headers: { cookie: cookies[i % 3]! } });
      ws.on('ping', () => pings.push(performance.now()));
      sockets.push(ws);
    }
    await Promise.all(sockets.map((ws) => opened(ws)));
    pings.length = 0;
    const cutBefore = beating.gateway.counters.heartbeatTimeouts;
    // Two whole intervals of 1 s: every connection pinged (and answering) about twice.
    await new Promise((r) => setTimeout(r, 2100));
    assert.ok(pings.length >= 60, `every connection pinged each interval (${pings.length} pings)`);
    // 60 connections over 30 slots: about 2 per tick, 33 ms apart; all at once would put 60 in one window.
    pings.sort((a, b) => a - b);
    let most = 0;
    for (let i = 0, j = 0; i < pings.length; i++) {
      while (pings[i]! - pings[j]! > 50) j++;
      most = Math.max(most, i - j + 1);
    }
    assert.ok(most <= 20, `at most a third of the connections pinged within 50 ms (${most})`);
    assert.equal(beating.gateway.counters.heartbeatTimeouts, cutBefore, 'answering peers are never cut');
  } finally {
    for (const ws of sockets) ws.terminate();
  }
});
