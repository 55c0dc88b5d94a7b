/**
 * Checklist #21 across instances: two in-process instances sharing a fresh PostgreSQL database and a private
 * Redis. A revocation made over HTTP on instance A (sign-out, sign out everywhere, password change, an API token
 * revoked) travels over the channel layer (the user's group `user.<id>`) and closes the sockets it concerns on
 * instance B with 1008; the user's other sessions and other users stay connected. A member removed from a
 * private room on A can no longer post there on B, although B had the membership cached (RoomAccess). Events
 * lost while Redis was away, or lost on one instance alone, still reach B: through the recheck after the outage,
 * or through the recheck the instance that could not publish asks for (access-rechecks.ts).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisLayer } from '../../src/layer/redis-layer.js';
import { freshDatabase } from '../helpers/postgres.js';
import { CuttableProxy, PrivateRedis } from '../helpers/redis.js';
import { expectFrame, sessionCookieOf, TestServer, TEST_PASSWORD, WAIT_MS, within, type ChatClient, type CloseInfo } from '../helpers/server.js';

/** How long the last test holds up subscriptions to a user's events. */
const SUBSCRIBE_HOLD_MS = 1500;

let db: Awaited<ReturnType<typeof freshDatabase>>;
let redis: PrivateRedis;
/** Looks at the private Redis from outside: which instances listen to a user's events. */
let probe: Redis;
let a: TestServer;
let b: TestServer;

before(async () => {
  db = await freshDatabase();
  redis = await PrivateRedis.create();
  const env = { DATABASE_URL: db.url, REDIS_URL: redis.url };
  a = await TestServer.start(env);
  b = await TestServer.start(env);
  probe = new Redis(redis.url);
});

after(async () => {
  await a?.close();
  await b?.close();
  probe?.disconnect();
  await redis?.stop();
  await db?.drop();
});

/**
 * Waits until `instances` instances are subscribed to the user's events in Redis. An instance subscribes when
 * the user's first socket there opens, just after `hello`; a revocation published before that would not reach
 * it (the handshake would refuse the session anyway), so the test starts revoking only once it is live.
 */
async function listening(userId: number, instances: number, on: Redis = probe): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const [, count] = (await on.pubsub('NUMSUB', `confab:user.${userId}`)) as [string, number];
    if (Number(count) >= instances) return;
    if (Date.now() > deadline) assert.fail(`only ${count} of ${instances} instances listen to user ${userId}'s events`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** How the socket was closed; fails when it is still open WAIT_MS after the revocation (a guard, not a timing). */
const closedPromptly = (client: ChatClient): Promise<CloseInfo> => within(client.closed, `${client.label} still open after the revocation`);

const pong = async (client: ChatClient) => expectFrame(await client.request({ type: 'ping' }), 'pong');

/**
 * Sends as the member until the instance caches the membership: its first membership read starts its listening
 * for removals (trusted once its own probe comes back over Redis); sends read the store until then, and the
 * first send after is cached.
 */
async function sendUntilCached(server: TestServer, client: ChatClient, roomId: number, userId: number): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (let n = 0; !server.confab.chat.access.holds(roomId, userId); n++) {
    assert.ok(Date.now() < deadline, 'the instance never cached the membership');
    expectFrame(await client.request({ type: 'send', room: roomId, clientMsgId: `before-${n}`, body: `hi ${n}` }), 'ack');
  }
}

/** Waits (WAIT_MS at most) until the instance's /readyz answers `status` (503: its channel layer is away). */
async function readyz(server: TestServer, status: number): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const got = (await server.api('GET', '/readyz')).status;
    if (got === status) return;
    if (Date.now() > deadline) assert.fail(`/readyz answered ${got}, not ${status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('#21 sign-out on instance A closes that session\'s socket on instance B with 1008; the user\'s other session stays', async () => {
  const first = await a.signUp('leaver');
  const second = await a.signIn('leaver');
  const onB = await b.connect(first);
  const otherOnB = await b.connect(second);
  await listening(first.user.id, 1);
  await pong(onB);

  assert.equal((await a.api('POST', '/api/auth/signout', { as: first })).status, 204);
  assert.deepEqual(await closedPromptly(onB), { code: 1008, reason: 'signed out' });
  await pong(otherOnB);
});

test('#21 sign out everywhere on instance A closes every socket of the user on both instances with 1008, and only theirs', async () => {
  const here = await a.signUp('everywhere');
  const there = await b.signIn('everywhere');
  const bystander = await b.connect(await a.signUp('bystander'));
  const sockets = [await a.connect(here), await b.connect(here), await b.connect(there)];
  await listening(here.user.id, 2);

  assert.equal((await a.api('POST', '/api/auth/signout-all', { as: here })).status, 204);
  for (const s of sockets) assert.deepEqual(await closedPromptly(s), { code: 1008, reason: 'signed out' }, s.label);
  await pong(bystander);
  assert.equal((await b.api('GET', '/api/me', { as: there })).status, 401, 'the session made on B is gone too');
});

test('#21 a password change on instance A closes the user\'s sockets on instance B with 1008; the new session connects', async () => {
  const changer = await a.signUp('changer');
  const other = await b.signIn('changer');
  const sockets = [await b.connect(changer), await b.connect(other)];
  await listening(changer.user.id, 1);

  const changed = await a.api('POST', '/api/auth/password', {
    as: changer,
    body: { currentPassword: TEST_PASSWORD, newPassword: 'Brand-new-secret-9' },
  });
  assert.equal(changed.status, 204);
  for (const s of sockets) assert.deepEqual(await closedPromptly(s), { code: 1008, reason: 'signed out' }, s.label);
  const renewed = sessionCookieOf(changed.headers);
  assert.ok(renewed);
  await pong(await b.connectWith({ cookie: renewed }, 'renewed'));
});

test('#21 an API token revoked on instance A closes the sockets opened with it on instance B with 1008; cookie sockets stay', async () => {
  const owner = await a.signUp('tokenowner');
  const created = await a.api('POST', '/api/tokens', { as: owner, body: { name: 'bot' } });
  assert.equal(created.status, 201);
  const { token, secret } = created.json as { token: { id: number }; secret: string };
  const bot = await b.connectWith({ bearer: secret }, 'bot');
  const browser = await b.connect(owner);
  await listening(owner.user.id, 1);

  assert.equal((await a.api('DELETE', `/api/tokens/${token.id}`, { as: owner })).status, 204);
  assert.deepEqual(await closedPromptly(bot), { code: 1008, reason: 'token revoked' });
  await pong(browser);
});

test('#21 a sign-out that lands while instance B is still subscribing to the user\'s events closes the new socket there all the same', async (t) => {
  // Hold up B's (and A's: one process) subscriptions to user groups, so the revocation is published while the
  // new socket's instance does not listen yet: only the credential check after subscribing can catch it.
  const subscribe = RedisLayer.prototype.subscribe;
  let held = 0;
  RedisLayer.prototype.subscribe = async function (this: RedisLayer, group, handler) {
    if (group.startsWith('user.')) {
      held++;
      await new Promise((r) => setTimeout(r, SUBSCRIBE_HOLD_MS));
    }
    return subscribe.call(this, group, handler);
  };
  t.after(() => (RedisLayer.prototype.subscribe = subscribe));
  const account = await a.signUp('early-leaver');
  const onB = await b.connect(account);
  assert.equal(held, 1, 'the subscription for the user is being held');
  const [, listeners] = (await probe.pubsub('NUMSUB', `confab:user.${account.user.id}`)) as [string, number];
  assert.equal(Number(listeners), 0, 'nobody listens to the user yet when the sign-out is published');
  assert.equal((await a.api('POST', '/api/auth/signout', { as: account })).status, 204);
  assert.deepEqual(await closedPromptly(onB), { code: 1008, reason: 'signed out' });
});

test('a member removed from a private room on instance A cannot post there on instance B, where the membership was cached', async () => {
  const owner = await a.signUp('room-owner');
  const member = await a.signUp('room-member');
  const room = await a.createRoom('cluster-private', { private: true, as: owner });
  const invited = await a.api('POST', `/api/rooms/${room.id}/members`, { as: owner, body: { username: member.user.username } });
  assert.equal(invited.status, 204, JSON.stringify(invited.json));
  const onB = await b.connect(member);
  const cachedOnB = () => b.confab.chat.access.holds(room.id, member.user.id);
  await sendUntilCached(b, onB, room.id, member.user.id);

  assert.equal((await a.api('DELETE', `/api/rooms/${room.id}/members/${member.user.id}`, { as: owner })).status, 204);
  // The removal reaches B over Redis and drops B's entry (not its expiry: that would take MEMBERSHIP_CACHE_MS).
  const deadline = Date.now() + WAIT_MS;
  while (cachedOnB()) {
    assert.ok(Date.now() < deadline, 'instance B never heard of the removal');
    await new Promise((r) => setTimeout(r, 5));
  }
  const refused = expectFrame(await onB.request({ type: 'send', room: room.id, clientMsgId: 'after', body: 'still here?' }), 'error');
  assert.equal(refused.code, 'not_found');
});

test('#18 #21 a sign-out and a removal from a room made on A while Redis is down reach B once Redis is back', async () => {
  const owner = await a.signUp('outage-owner');
  const member = await a.signUp('outage-member');
  const other = await a.signIn('outage-member');
  const room = await a.createRoom('outage-private', { private: true, as: owner });
  const invited = await a.api('POST', `/api/rooms/${room.id}/members`, { as: owner, body: { username: member.user.username } });
  assert.equal(invited.status, 204);
  const following = await b.connect(member);
  await following.subscribe(room.id);
  const signedOut = await b.connect(other);
  await listening(member.user.id, 1);
  await b.confab.gateway.checked();

  await redis.stop();
  try {
    // Both are committed on A; their events are published into the void.
    assert.equal((await a.api('DELETE', `/api/rooms/${room.id}/members/${member.user.id}`, { as: owner })).status, 204);
    assert.equal((await a.api('POST', '/api/auth/signout', { as: other })).status, 204);
    await pong(following);
    await pong(signedOut);
  } finally {
    await redis.start();
  }
  assert.deepEqual(await closedPromptly(signedOut), { code: 1008, reason: 'signed out' });
  const removed = expectFrame(await following.next((f) => f.type === 'room_removed'), 'room_removed');
  assert.equal(removed.room, room.id);
  const refused = expectFrame(await following.request({ type: 'send', room: room.id, clientMsgId: 'after-outage', body: 'x' }), 'error');
  assert.equal(refused.code, 'not_found');
});

/**
 * Two instances of their own on a Redis of their own (an outage of another test must not make B check by itself):
 * A's connections to Redis go through a proxy the test can cut or silence, B's go straight; `look` watches
 * Redis from outside. All are stopped after `body`, the proxy healed first (so that A's stop finds Redis).
 */
async function withProxiedPair(
  body: (p: { a2: TestServer; b2: TestServer; proxy: CuttableProxy; look: Redis }) => Promise<void>,
): Promise<void> {
  const ownRedis = await PrivateRedis.create();
  const proxy = await CuttableProxy.create(ownRedis.port);
  const look = new Redis(ownRedis.url);
  const servers: TestServer[] = [];
  try {
    const a2 = await TestServer.start({ DATABASE_URL: db.url, REDIS_URL: proxy.url });
    servers.push(a2);
    const b2 = await TestServer.start({ DATABASE_URL: db.url, REDIS_URL: ownRedis.url });
    servers.push(b2);
    await body({ a2, b2, proxy, look });
  } finally {
    proxy.heal();
    for (const server of servers) await server.close();
    look.disconnect();
    await proxy.close();
    await ownRedis.stop();
  }
}

test('#21 a sign-out and a removal whose announcement fails on A alone (its path to Redis cut, B\'s fine) still reach B', async () => {
  await withProxiedPair(async ({ a2, b2, proxy, look }) => {
    const owner = await a2.signUp('cut-owner');
    const member = await a2.signUp('cut-member');
    const other = await a2.signIn('cut-member');
    const room = await a2.createRoom('cut-private', { private: true, as: owner });
    assert.equal((await a2.api('POST', `/api/rooms/${room.id}/members`, { as: owner, body: { username: member.user.username } })).status, 204);
    const following = await b2.connect(member);
    await following.subscribe(room.id);
    await sendUntilCached(b2, following, room.id, member.user.id);
    // The original endpoint's client in the same private room: removed, it is closed (that protocol has no other signal).
    const legacy = await b2.connectLegacy('cut-private', member);
    legacy.send({ message: 'in the room' });
    await legacy.next((f) => 'message' in f && f.message === 'in the room');
    const signedOut = await b2.connect(other);
    await listening(member.user.id, 1, look);
    await b2.confab.gateway.checked();

    proxy.cut();
    await readyz(a2, 503);
    // Committed on a2; their events cannot leave it. b2 sees no outage, so only a2 can tell it to check.
    assert.equal((await a2.api('DELETE', `/api/rooms/${room.id}/members/${member.user.id}`, { as: owner })).status, 204);
    assert.equal((await a2.api('POST', '/api/auth/signout', { as: other })).status, 204);
    await pong(following);
    await pong(signedOut);
    assert.ok(a2.confab.rechecks.pending, 'a2 owes the instances a recheck');
    proxy.heal();

    assert.deepEqual(await closedPromptly(signedOut), { code: 1008, reason: 'signed out' });
    const removed = expectFrame(await following.next((f) => f.type === 'room_removed'), 'room_removed');
    assert.equal(removed.room, room.id);
    assert.ok(!b2.confab.chat.access.holds(room.id, member.user.id), 'b2 dropped its cached memberships on the recheck');
    assert.deepEqual(await within(legacy.closed, 'the legacy client still open'), { code: 1008, reason: 'removed from room' });
    const refused = expectFrame(await following.request({ type: 'send', room: room.id, clientMsgId: 'after-cut', body: 'x' }), 'error');
    assert.equal(refused.code, 'not_found');
    assert.equal(a2.confab.rechecks.pending, false);
  });
});

test('#21 a sign-out whose publish hangs on A (its path to Redis silent, not closed) still reaches B', async () => {
  // The half-open path: nothing answers and nothing closes, so only REDIS_PUBLISH_TIMEOUT_MS ends the publish.
  await withProxiedPair(async ({ a2, b2, proxy, look }) => {
    await a2.signUp('silent-user');
    const session = await a2.signIn('silent-user');
    const onB = await b2.connect(session);
    await listening(session.user.id, 1, look);
    await b2.confab.gateway.checked(); // its check after subscribing read the session before the sign-out

    proxy.blackhole();
    // The sign-out is committed; its announcement's publish times out instead of hanging the request.
    assert.equal((await a2.api('POST', '/api/auth/signout', { as: session })).status, 204);
    assert.ok(a2.confab.rechecks.pending, 'a2 owes the instances a recheck');
    await pong(onB);
    proxy.heal();
    assert.deepEqual(await closedPromptly(onB), { code: 1008, reason: 'signed out' });
  });
});
