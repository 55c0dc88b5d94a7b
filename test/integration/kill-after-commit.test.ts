/**
 * Checklist #20, the narrowest window: an instance SIGKILLed after a message's commit and before its publish
 * to the channel layer. Instance A is a child process with test/helpers/kill-before-publish.ts preloaded,
 * which kills it the moment it publishes one chosen message; instance B runs in this process; both share a
 * fresh PostgreSQL database and a private Redis. The message was stored but never acknowledged nor fanned out;
 * the sender's resend on B must find it (same id and seq, one row), and every client must converge on it by seq.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { Instance } from '../helpers/cluster.js';
import { serverFrameSchema } from '../helpers/frame-schemas.js';
import { freshDatabase, rowsOfClientMsgId } from '../helpers/postgres.js';
import { PrivateRedis } from '../helpers/redis.js';
import { ChatClient, expectFrame, opened, TestServer, within, type Account } from '../helpers/server.js';

/** The clientMsgId whose publish kills instance A. */
const DOOMED = randomUUID();

let db: Awaited<ReturnType<typeof freshDatabase>>;
let redis: PrivateRedis;
let a: Instance;
let b: TestServer;
const onA: ChatClient[] = [];

before(async () => {
  db = await freshDatabase();
  redis = await PrivateRedis.create();
  const env = { DATABASE_URL: db.url, REDIS_URL: redis.url };
  b = await TestServer.start(env);
  a = await Instance.create(0, { ...env, CONFAB_KILL_BEFORE_PUBLISHING: DOOMED }, [
    new URL('../helpers/kill-before-publish.ts', import.meta.url).href,
  ]);
});

after(async () => {
  await a?.kill();
  await b?.close();
  await redis?.stop();
  await db?.drop();
  for (const c of onA) c.assertValid();
});

/** A `/ws` client of instance A (a child process, so not through TestServer). */
async function connectToA(account: Account, label: string): Promise<ChatClient> {
  const ws = new WebSocket(`${a.url.replace('http', 'ws')}/ws`, { headers: { cookie: account.cookie } });
  const client = new ChatClient(ws, serverFrameSchema, label);
  onA.push(client);
  await opened(ws);
  client.hello = expectFrame(await client.next((f) => f.type === 'hello'), 'hello');
  return client;
}

const rowsOf = (clientMsgId: string) => rowsOfClientMsgId(db.url, clientMsgId);

test('#20 SIGKILL between a message\'s commit and its publish: stored, never acked; resent on the other instance it is the same id and seq, and every client converges on it by seq', async () => {
  const room = await b.createRoom('kill-window');
  const senderAccount = await b.user('Sender');
  const readerAccount = await b.user('Reader');
  const sender = await connectToA(senderAccount, 'sender@A');
  const readerOnA = await connectToA(readerAccount, 'reader@A');
  const watcherOnB = await b.connect('Watcher');
  await readerOnA.subscribe(room.id, 0);
  await watcherOnB.subscribe(room.id, 0);

  // Through A's commit and publish to both instances, as usual.
  const first = await sender.post(room.id, 'before the kill');
  assert.equal(first.seq, 1);
  await readerOnA.waitForMessages(room.id, 1);
  await watcherOnB.waitForMessages(room.id, 1);

  // A commits the doomed message, then dies as it publishes it.
  const exited = a.exited();
  const send = { type: 'send', room: room.id, clientMsgId: DOOMED, body: 'committed, then the instance died' };
  sender.send(send);
  assert.deepEqual(await within(exited, 'the kill'), { code: null, signal: 'SIGKILL' }, 'instance A was killed by the preload, in publish');
  assert.equal((await within(sender.closed, 'the sender\'s close')).code, 1006, 'no goodbye');
  assert.equal((await within(readerOnA.closed, 'the reader\'s close')).code, 1006);
  assert.ok(!sender.frames.some((f) => f.type === 'ack' && f.clientMsgId === DOOMED), 'never acknowledged');
  const [stored, ...more] = await rowsOf(DOOMED);
  assert.ok(stored && more.length === 0, 'committed, once');
  assert.equal(stored.seq, 2);
  assert.deepEqual(watcherOnB.messagesIn(room.id).map((m) => m.seq), [1], 'and never published');
  assert.deepEqual(readerOnA.messagesIn(room.id).map((m) => m.seq), [1]);

  // The sender's outbox resends it with the same clientMsgId on B: the stored message comes back, no copy.
  const senderOnB = await b.connect(senderAccount);
  const ack = expectFrame(await senderOnB.request(send), 'ack');
  assert.deepEqual([ack.messageId, ack.seq], [stored.id, stored.seq]);
  assert.deepEqual(await rowsOf(DOOMED), [stored], 'still one row');

  // The reader cut off with A resumes on B from the last seq it holds and gets it, once.
  const readerOnB = await b.connect(readerAccount);
  expectFrame(await readerOnB.request({ type: 'resume', rooms: [{ room: room.id, since: 1 }] }, 'resumed'), 'resumed');
  const replayed = await readerOnB.waitForMessages(room.id, 1);
  assert.deepEqual(replayed.map((m) => [m.seq, m.id, m.clientMsgId]), [[2, stored.id, DOOMED]]);

  // The watcher that stayed on B sees the gap at the next message and fills it from the store: in order, once.
  const next = await senderOnB.post(room.id, 'after the kill');
  assert.equal(next.seq, 3);
  assert.deepEqual((await watcherOnB.waitForMessages(room.id, 3)).map((m) => m.seq), [1, 2, 3]);
  assert.deepEqual((await readerOnB.waitForMessages(room.id, 2)).map((m) => m.seq), [2, 3]);
});
