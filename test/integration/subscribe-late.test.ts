/**
 * Redis slow to take a SUBSCRIBE: instance A reaches its own private Redis through a proxy that holds what A
 * sends for longer than REDIS_SUBSCRIBE_WAIT_MS, instance B goes straight. A stops waiting for the SUBSCRIBE and
 * takes the group for live, so an event B publishes before Redis takes it never reaches A over the channel
 * layer. The layer counts the late confirmation as a loss: once Redis confirms, A's feeds re-read the store
 * and its connections are checked again. Without that, the message below would wait for the room's next one,
 * and the signed-out socket would stay open.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { REDIS_SUBSCRIBE_WAIT_MS } from '../../src/layer/redis-layer.js';
import { freshDatabase } from '../helpers/postgres.js';
import { CuttableProxy, PrivateRedis } from '../helpers/redis.js';
import { expectFrame, TestServer, within } from '../helpers/server.js';

/** How long the proxy holds A's commands: Redis takes the SUBSCRIBE this long after `subscribe` gave up waiting. */
const LAG_MS = REDIS_SUBSCRIBE_WAIT_MS + 1500;

let db: Awaited<ReturnType<typeof freshDatabase>>;
let redis: PrivateRedis;
let proxy: CuttableProxy;
let a: TestServer;
let b: TestServer;
/** Watches the private Redis from outside: how many instances listen to a group. */
let look: Redis;
const listeners = async (group: string) => Number(((await look.pubsub('NUMSUB', `confab:${group}`)) as [string, number])[1]);

before(async () => {
  db = await freshDatabase();
  redis = await PrivateRedis.create();
  proxy = await CuttableProxy.create(redis.port);
  a = await TestServer.start({ DATABASE_URL: db.url, REDIS_URL: proxy.url });
  b = await TestServer.start({ DATABASE_URL: db.url, REDIS_URL: redis.url });
  look = new Redis(redis.url);
});

after(async () => {
  proxy?.lag(0);
  look?.disconnect();
  await a?.close();
  await b?.close();
  await proxy?.close();
  await redis?.stop();
  await db?.drop();
});

test('a message sent on B before Redis took A\'s SUBSCRIBE for the room reaches A\'s subscriber with no later message', async () => {
  const owner = await b.signUp('late-owner');
  const reader = await a.signUp('late-reader');
  const room = await b.createRoom('late-room', { as: owner });
  const onA = await a.connect(reader);
  await a.confab.gateway.checked();
  const onB = await b.connect(owner);
  await onB.subscribe(room.id);

  proxy.lag(LAG_MS);
  // Answered once A gave up waiting for Redis: A takes the room for live from here on.
  await onA.subscribe(room.id);
  const ack = expectFrame(await onB.request({ type: 'send', room: room.id, clientMsgId: 'in-the-gap', body: 'sent in the gap' }), 'ack');
  // Published while only B listened: the test is about this gap, so it fails rather than pass without it.
  assert.equal(await listeners(`room.${room.id}`), 1, 'A had not subscribed yet when the message was published');
  const got = expectFrame(await onA.next((f) => f.type === 'message'), 'message');
  assert.equal(got.seq, ack.seq);
  assert.equal(got.body, 'sent in the gap');
  proxy.lag(0);
});

test('a sign-out on B before Redis took A\'s SUBSCRIBE for the user\'s events closes the socket on A with 1008', async () => {
  const account = await a.signUp('late-leaver');
  proxy.lag(LAG_MS);
  const onA = await a.connect(account);
  // A's check after subscribing ran once it gave up waiting, so it found the session still valid.
  await a.confab.gateway.checked();
  assert.equal((await b.api('POST', '/api/auth/signout', { as: account })).status, 204);
  assert.equal(await listeners(`user.${account.user.id}`), 0, 'A did not listen to the user\'s events yet at the sign-out');
  assert.deepEqual(await within(onA.closed, 'the socket on A still open after the sign-out'), { code: 1008, reason: 'signed out' });
  proxy.lag(0);
});
