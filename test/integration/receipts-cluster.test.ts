/**
 * Issue 5 across instances: two in-process instances sharing a fresh PostgreSQL database and a private Redis,
 * three users with one tab on each instance. Reading in one tab clears the unread count in the user's other
 * tab (on the other instance), authors see the readers' cursors, and presence holds across instances,
 * including an instance that is killed (its users stop counting within PRESENCE_TTL_S and a sweep).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { Instance } from '../helpers/cluster.js';
import type { ServerFrame } from '../helpers/frame-schemas.js';
import { freshDatabase } from '../helpers/postgres.js';
import { PrivateRedis } from '../helpers/redis.js';
import { expectFrame, signUpAt, TestServer, type Account, type ChatClient } from '../helpers/server.js';

/** Presence entries expire this fast here, so the dead-instance test waits seconds, not half a minute. */
const PRESENCE_TTL_S = '2';

let db: Awaited<ReturnType<typeof freshDatabase>>;
let redis: PrivateRedis;
let a: TestServer;
let b: TestServer;

before(async () => {
  db = await freshDatabase();
  redis = await PrivateRedis.create();
  const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, PRESENCE_TTL_S, MESSAGE_RATE_LIMIT: '1000' };
  a = await TestServer.start(env);
  b = await TestServer.start(env);
});

after(async () => {
  await a?.close();
  await b?.close();
  await redis?.stop();
  await db?.drop();
});

type Frame<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;
const isType =
  <T extends ServerFrame['type']>(type: T, pred: (f: Frame<T>) => boolean = () => true) =>
  (f: ServerFrame) =>
    f.type === type && pred(f as Frame<T>);

test('three users with a tab on each of two instances: reading in one tab clears the other; authors see it', async () => {
  const names = ['Ana', 'Ben', 'Cam'];
  const accounts: Account[] = [];
  for (const n of names) accounts.push(await a.user(n));
  const room = await a.createRoom('team', { private: true, as: 'Ana' });
  for (const acc of accounts.slice(1)) {
    const r = await a.api('POST', `/api/rooms/${room.id}/members`, { as: accounts[0]!, body: { userId: acc.user.id } });
    assert.equal(r.status, 204);
  }
  const tabs: Array<{ onA: ChatClient; onB: ChatClient }> = [];
  for (const acc of accounts) tabs.push({ onA: await a.connect(acc), onB: await b.connect(acc) });
  for (const t of tabs) {
    await t.onA.subscribe(room.id);
    await t.onB.subscribe(room.id);
  }
  for (const t of tabs) await t.onA.post(room.id, `hello from ${t.onA.hello.user.displayName}`);
  for (const t of tabs) {
    for (const c of [t.onA, t.onB]) await c.next(isType('message', (m) => m.room === room.id && m.seq === 3), 10_000);
  }

  for (const [i, t] of tabs.entries()) {
    const me = accounts[i]!.user.id;
    // Read everything in the tab on instance A...
    t.onA.send({ type: 'receipt', room: room.id, delivered: 3, read: 3 });
    // ...and the same user's tab on instance B is told its badge is clear.
    const unread = expectFrame(
      await t.onB.next(isType('unread', (f) => f.rooms.some((r) => r.room === room.id && r.readSeq === 3)), 10_000),
      'unread',
    );
    assert.equal(unread.rooms.find((r) => r.room === room.id)?.unread, 0);
    // Every other user's tabs, on both instances, see this reader's cursor.
    for (const [j, other] of tabs.entries()) {
      if (j === i) continue;
      for (const c of [other.onA, other.onB]) {
        await c.next(isType('receipts', (f) => f.room === room.id && f.cursors.some((k) => k.user === me && k.read === 3)), 10_000);
      }
    }
  }
});

test('presence across instances; a killed instance stops counting its users', async () => {
  // A third instance as a separate process, so it can be killed for real.
  const dying = await Instance.create(2, {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    PRESENCE_TTL_S,
    TRUST_PROXY: 'true',
    LOG_LEVEL: 'warn',
  });
  try {
    const cookie = await signUpAt(dying.url, 'dana');
    const ws = new WebSocket(`${dying.url.replace('http', 'ws')}/ws`, { headers: { cookie, origin: dying.url } });
    const hello = await new Promise<{ user: { id: number } }>((resolve, reject) => {
      ws.once('message', (d) => resolve(JSON.parse(d.toString()) as { user: { id: number } }));
      ws.once('error', reject);
    });
    const dana = hello.user.id;
    // Presence is told to the people one shares a room with: the watcher starts a conversation with Dana.
    const watcherAccount = await a.user('Watcher');
    const dm = await a.api('POST', '/api/direct', { as: watcherAccount, body: { usernames: ['dana'] } });
    assert.equal(dm.status, 200);
    const watcher = await a.connect(watcherAccount);
    const online = (f: Frame<'presence'>) => f.users.some((u) => u.id === dana && u.state === 'online');
    // Either the snapshot after hello or a later change says Dana is online (she is connected elsewhere).
    const seen = watcher.frames.some((f) => f.type === 'presence' && online(f as Frame<'presence'>));
    if (!seen) await watcher.next(isType('presence', online), 10_000);

    ws.on('error', () => {});
    await dying.kill();
    const offline = expectFrame(
      await watcher.next(isType('presence', (f) => f.users.some((u) => u.id === dana && u.state === 'offline')), 30_000),
      'presence',
    );
    assert.ok(offline.users.find((u) => u.id === dana)?.lastSeen, 'offline comes with a last-seen time');
  } finally {
    await dying.kill();
  }
});
