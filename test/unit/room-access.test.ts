/**
 * The per-message path reads nothing from the store once it has seen a room and a member (RoomAccess), yet a
 * member removed on either of two instances (two ChatServices on one store and one layer) can no longer send
 * on either; while the layer is away, or before this instance has heard its own probe, nothing is trusted;
 * what was cached is dropped when the layer returns or an unreadable payload arrives.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { ChatService } from '../../src/chat/chat-service.js';
import type { Principal } from '../../src/chat/principal.js';
import { AccessRechecks, RECHECK_GROUP } from '../../src/chat/access-rechecks.js';
import { RateLimits } from '../../src/chat/rate-limits.js';
import { MAX_CACHED_ROOMS, MEMBERSHIP_CACHE_MS, MEMBERSHIP_GROUP, RoomAccess } from '../../src/chat/room-access.js';
import { ConfabError } from '../../src/errors.js';
import type { ChannelLayer } from '../../src/layer/layer.js';
import { MemoryLayer } from '../../src/layer/memory-layer.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';

const silent = pino({ level: 'silent' });
const notFound = (e: unknown) => e instanceof ConfabError && e.code === 'not_found';

/** A layer that accepts subscriptions and publishes but never delivers (a SUBSCRIBE the backend never confirmed). */
class DeafLayer extends MemoryLayer {
  override async publish(): Promise<void> {}
}

/** A memory layer whose health the test sets, and which calls its recovery listeners when told. */
class FlakyLayer extends MemoryLayer {
  up = true;
  private readonly recovered: Array<() => void> = [];
  override healthy(): boolean {
    return this.up;
  }
  override onRecovered(listener: () => void): void {
    this.recovered.push(listener);
  }
  recover(): void {
    this.up = true;
    for (const l of this.recovered) l();
  }
}

async function setUp(t: TestContext, layer: ChannelLayer = new MemoryLayer()) {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  t.after(() => store.close());
  const reads = { getRoom: 0, isMember: 0 };
  const getRoom = store.getRoom.bind(store);
  const isMember = store.isMember.bind(store);
  store.getRoom = (id) => {
    reads.getRoom++;
    return getRoom(id);
  };
  store.isMember = (roomId, userId) => {
    reads.isMember++;
    return isMember(roomId, userId);
  };
  const instance = () => new ChatService(store, layer, { maxMessageChars: 4000 }, new RateLimits(1_000_000, 1000), silent, new AccessRechecks(layer, silent));
  const user = async (name: string): Promise<Principal> => {
    const u = await store.createUser({ username: name, usernameKey: name, displayName: name, passwordHash: 'x', createdAt: Date.now() });
    return { userId: u.id, username: name, displayName: name, isAdmin: false, sessionId: null, tokenId: null };
  };
  let n = 0;
  const send = (chat: ChatService, p: Principal, roomId: number) =>
    chat.send(p, { roomId, body: 'hello', clientMsgId: `c${++n}` });
  return { store, reads, instance, user, send };
}

test('after the first send, sends to a public room and to a private one read neither the room nor the membership', async (t) => {
  const { reads, instance, user, send } = await setUp(t);
  const chat = instance();
  const owner = await user('owner');
  const pub = await chat.createRoom(owner, 'lobby', 'public');
  const priv = await chat.createRoom(owner, 'secret', 'private');
  // The first membership read of an instance starts its listening for removals; the second is cached.
  for (let i = 0; i < 2; i++) {
    await send(chat, owner, pub.id);
    await send(chat, owner, priv.id);
  }
  const before = { ...reads };
  for (let i = 0; i < 5; i++) {
    await send(chat, owner, pub.id);
    await send(chat, owner, priv.id);
    await chat.typing(owner, priv.id);
  }
  assert.deepEqual(reads, before, 'no store read for access on the later sends and typing notices');
  // The checks still run: someone who is not a member is refused, and that answer is read every time.
  const stranger = await user('stranger');
  await assert.rejects(send(chat, stranger, priv.id), notFound);
  await assert.rejects(send(chat, stranger, priv.id), notFound);
  assert.equal(reads.isMember, before.isMember + 2, '"not a member" is never cached');
  await assert.rejects(send(chat, owner, 999_999), notFound, 'a room that does not exist');
  // Everything but the per-message paths reads the membership every time (history, downloads, search, ...).
  const fresh = reads.isMember;
  await chat.history(owner, priv.id, {});
  await chat.history(owner, priv.id, {});
  assert.equal(reads.isMember, fresh + 2, 'readableRoom reads the membership each time');
});

test('a member removed or leaving on one instance cannot send on the other, which had them cached', async (t) => {
  const { instance, user, send } = await setUp(t);
  const a = instance();
  const b = instance();
  const owner = await user('owner');
  const guest = await user('guest');
  const quitter = await user('quitter');
  const room = await a.createRoom(owner, 'team', 'private');
  await a.invite(owner, room.id, guest.userId!);
  await a.invite(owner, room.id, quitter.userId!);
  for (let i = 0; i < 2; i++) {
    await send(b, guest, room.id);
    await send(b, quitter, room.id);
  }
  assert.ok(b.access.holds(room.id, guest.userId!) && b.access.holds(room.id, quitter.userId!), 'instance B holds both memberships');

  await a.removeMember(owner, room.id, guest.userId!);
  await a.leaveRoom(quitter, room.id);
  await new Promise((r) => setImmediate(r));
  await assert.rejects(send(b, guest, room.id), notFound, 'removed on A, refused on B');
  await assert.rejects(send(b, quitter, room.id), notFound, 'left on A, refused on B');
  await assert.rejects(send(a, guest, room.id), notFound, 'and on A');
  assert.ok(!b.access.holds(room.id, guest.userId!) && !b.access.holds(room.id, quitter.userId!), 'both dropped on B');
  // Invited again: allowed at once ("not a member" was never cached).
  await a.invite(owner, room.id, guest.userId!);
  await send(b, guest, room.id);
});

test('while the layer is away memberships are read every time; when it returns the cache starts empty', async (t) => {
  const layer = new FlakyLayer();
  const { reads, instance, user, send } = await setUp(t, layer);
  const chat = instance();
  const owner = await user('owner');
  const room = await chat.createRoom(owner, 'team', 'private');
  await send(chat, owner, room.id);
  await send(chat, owner, room.id);
  const cached = reads.isMember;
  assert.ok(chat.access.holds(room.id, owner.userId!));

  layer.up = false;
  await send(chat, owner, room.id);
  await send(chat, owner, room.id);
  assert.equal(reads.isMember, cached + 2, 'a removal published now might never arrive: read each time');

  layer.recover();
  assert.ok(!chat.access.holds(room.id, owner.userId!), 'dropped on recovery');
  await send(chat, owner, room.id);
  await send(chat, owner, room.id);
  assert.equal(reads.isMember, cached + 3, 'cached again once live');
});

test('a cached membership is read again after MEMBERSHIP_CACHE_MS, and a read that overlapped a removal is not cached', async (t) => {
  const { store, reads, instance, user } = await setUp(t);
  let now = 1_000_000;
  const layer = new MemoryLayer();
  const access = new RoomAccess(store, layer, silent, new AccessRechecks(layer, silent), () => now);
  const owner = await user('owner');
  const room = await instance().createRoom(owner, 'team', 'private');
  const base = reads.isMember;
  const readsSince = () => reads.isMember - base;

  await access.isMember(room.id, owner.userId!); // starts listening: not trusted yet
  await new Promise((r) => setImmediate(r)); // its own probe heard
  await access.isMember(room.id, owner.userId!);
  await access.isMember(room.id, owner.userId!);
  assert.equal(readsSince(), 2, 'read until listening, then cached');
  now += MEMBERSHIP_CACHE_MS - 1;
  await access.isMember(room.id, owner.userId!);
  assert.equal(readsSince(), 2);
  now += 2;
  await access.isMember(room.id, owner.userId!);
  assert.equal(readsSince(), 3, 'read again once the entry is older than MEMBERSHIP_CACHE_MS');

  // A removal heard while a read is on its way: that read's answer may predate it, so it is not kept.
  now += MEMBERSHIP_CACHE_MS + 1;
  const counted = store.isMember;
  store.isMember = async (r, u) => {
    const answer = await counted(r, u);
    access.removed(999, 999);
    return answer;
  };
  assert.equal(await access.isMember(room.id, owner.userId!), true);
  store.isMember = counted;
  await access.isMember(room.id, owner.userId!);
  assert.equal(readsSince(), 5, 'the overlapping read was not cached');
});

test('room facts are kept for at most MAX_CACHED_ROOMS rooms, the oldest dropped first', async (t) => {
  const { store, reads, instance, user } = await setUp(t);
  const layer = new MemoryLayer();
  const access = new RoomAccess(store, layer, silent, new AccessRechecks(layer, silent));
  const owner = await user('owner');
  const chat = instance();
  const first = await chat.createRoom(owner, 'first', 'public');
  const second = await chat.createRoom(owner, 'second', 'public');
  const base = reads.getRoom;
  const rooms = (access as unknown as { rooms: Map<number, unknown> }).rooms;
  for (let id = 1_000_000; rooms.size < MAX_CACHED_ROOMS - 1; id++) rooms.set(id, {});
  await access.room(first.id);
  await access.room(second.id); // full: the oldest stand-in goes
  assert.equal(rooms.size, MAX_CACHED_ROOMS);
  assert.equal(rooms.has(1_000_000), false);
  assert.deepEqual(await access.room(first.id), { id: first.id, name: 'first', kind: 'public', createdAt: first.createdAt });
  assert.equal(reads.getRoom - base, 2, 'both still cached');
});

test('a subscription that never delivers its own probe is never trusted: memberships are read every time', async (t) => {
  const { reads, instance, user, send } = await setUp(t, new DeafLayer());
  const chat = instance();
  const owner = await user('owner');
  const room = await chat.createRoom(owner, 'team', 'private');
  for (let i = 0; i < 4; i++) await send(chat, owner, room.id);
  assert.equal(reads.isMember, 4);
  assert.ok(!chat.access.holds(room.id, owner.userId!));
});

test('an unreadable payload on the membership group drops every cached membership', async (t) => {
  const layer = new MemoryLayer();
  const { instance, user, send } = await setUp(t, layer);
  const chat = instance();
  const owner = await user('owner');
  const room = await chat.createRoom(owner, 'team', 'private');
  for (let i = 0; i < 2; i++) await send(chat, owner, room.id);
  assert.ok(chat.access.holds(room.id, owner.userId!));
  await layer.publish(MEMBERSHIP_GROUP, '{"roomId":"x"}');
  assert.ok(!chat.access.holds(room.id, owner.userId!), 'a removal might have been in it');
  for (let i = 0; i < 2; i++) await send(chat, owner, room.id);
  assert.ok(chat.access.holds(room.id, owner.userId!), 'cached again after');
  await layer.publish(MEMBERSHIP_GROUP, 'not json');
  assert.ok(!chat.access.holds(room.id, owner.userId!));
});

test('a recheck asked for by any instance empties the membership cache', async (t) => {
  const layer = new MemoryLayer();
  const { instance, user, send } = await setUp(t, layer);
  const chat = instance();
  const owner = await user('owner');
  const room = await chat.createRoom(owner, 'team', 'private');
  await send(chat, owner, room.id); // starts listening
  await new Promise((r) => setImmediate(r));
  await send(chat, owner, room.id);
  assert.ok(chat.access.holds(room.id, owner.userId!), 'cached');
  await layer.publish(RECHECK_GROUP, '{}');
  assert.ok(!chat.access.holds(room.id, owner.userId!), 'dropped on the recheck');
});
