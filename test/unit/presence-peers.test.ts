/**
 * PresenceService reads each room's first members once per PEERS_CACHE_MS for all of that room's members (the
 * snapshot after `hello` and the announcements of their connects), and each user's rooms once per window too; it
 * never keeps a failed read, and the merge gives the lowest-id distinct peers, the user left out.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { MAX_PRESENCE_PEERS, mergePeers, PEERS_CACHE_MS, PresenceService } from '../../src/chat/presence.js';
import { MemoryLayer } from '../../src/layer/memory-layer.js';
import { MemoryPresence } from '../../src/presence/memory-presence.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';

async function setUp(t: TestContext) {
  const store = new SqliteStore(':memory:');
  const presence = new PresenceService(store, new MemoryPresence(), new MemoryLayer(), pino({ level: 'silent' }));
  t.after(async () => {
    await presence.close();
    await store.close();
  });
  const reads = { userRooms: 0, roomPages: 0, roomsRead: [] as number[] };
  let failNext = false;
  const memberRoomIds = store.memberRoomIds.bind(store);
  store.memberRoomIds = (userId) => {
    reads.userRooms++;
    return memberRoomIds(userId);
  };
  const roomMemberPages = store.roomMemberPages.bind(store);
  store.roomMemberPages = (roomIds, limit) => {
    reads.roomPages++;
    reads.roomsRead.push(...roomIds);
    if (failNext) {
      failNext = false;
      return Promise.reject(new Error('store down'));
    }
    return roomMemberPages(roomIds, limit);
  };
  const user = async (name: string) =>
    (await store.createUser({ username: name, usernameKey: name, displayName: name, passwordHash: 'x', createdAt: 1 })).id;
  const room = async (name: string, members: number[]) => {
    const r = await store.createRoom({ name, nameKey: name, kind: 'public', ownerId: null, createdAt: 1 });
    for (const m of members) await store.addMember(r.id, m, 1);
    return r.id;
  };
  const roomId = async (name: string) => (await store.findRoomByKey(name))!.id;
  return { store, presence, reads, user, room, roomId, failNext: () => (failNext = true) };
}

const ids = (peers: Array<{ id: number }>) => peers.map((p) => p.id);

test('one read of a room serves every member\'s snapshot and announcements in a window; again after it', async (t) => {
  const { presence, reads, user, room } = await setUp(t);
  const [ana, ben, cy] = [await user('ana'), await user('ben'), await user('cy')];
  await room('team', [ana, ben, cy]);

  const [a, b] = await Promise.all([presence.snapshot(ana), presence.snapshot(ben), presence.audience(ana)]);
  assert.deepEqual(ids(a), [ben, cy]);
  assert.deepEqual(ids(b), [ana, cy]);
  assert.deepEqual(await presence.audience(cy), [cy, ana, ben]);
  assert.equal(reads.roomPages, 1, 'the room read once for its three members');
  assert.equal(reads.userRooms, 3, 'each user\'s rooms once');

  await new Promise((r) => setTimeout(r, PEERS_CACHE_MS + 50));
  await presence.snapshot(ana);
  assert.equal(reads.roomPages, 2, 'read again after the window');
});

test('a user in several rooms: one store call for the rooms not cached; a failed read is not kept', async (t) => {
  const { presence, reads, user, room, roomId, failNext } = await setUp(t);
  const [me, p1, p2, p3] = [await user('me'), await user('p1'), await user('p2'), await user('p3')];
  await room('a', [me, p3]);
  await presence.snapshot(p3); // caches room a
  const b = await room('b', [me, p1, p2, p3]);
  reads.roomsRead = [];
  assert.deepEqual(ids(await presence.snapshot(me)), [p1, p2, p3], 'p3 in both rooms, once');
  assert.deepEqual(reads.roomsRead, [b], 'room a came from the cache');

  await room('c', [p1, p2]);
  failNext();
  await assert.rejects(presence.snapshot(p1), /store down/);
  reads.roomsRead = [];
  assert.deepEqual(ids(await presence.snapshot(p2)), [me, p1, p3], 'room c read again after its failure');
  assert.deepEqual(reads.roomsRead, [await roomId('c')]);
  assert.deepEqual(ids(await presence.snapshot(p1)), [me, p2, p3], 'p1 answered too, from the pages read since');
});

test('mergePeers: distinct, by id, the lowest `limit`, the reader left out; a room page of limit + 1 is enough', () => {
  const page = (...idList: number[]) => idList.map((userId) => ({ userId, lastSeenAt: null }));
  // Room A holds the high ids, room B the low ones and one of A's: each room alone would give other firsts.
  const pages = [page(1, 4, 6, 7), page(1, 2, 3, 7)];
  assert.deepEqual(mergePeers(1, pages, 10).map((p) => p.userId), [2, 3, 4, 6, 7]);
  assert.deepEqual(mergePeers(1, pages, 3).map((p) => p.userId), [2, 3, 4]);
  assert.deepEqual(mergePeers(7, [page(1, 2, 7)], 2).map((p) => p.userId), [1, 2]);
  assert.deepEqual(mergePeers(1, [], 10), []);
});

test('a room larger than MAX_PRESENCE_PEERS: each member gets the lowest MAX_PRESENCE_PEERS others', async (t) => {
  const { presence, reads, user, room } = await setUp(t);
  const members: number[] = [];
  for (let i = 0; i < MAX_PRESENCE_PEERS + 3; i++) members.push(await user(`u${i}`));
  await room('big', members);
  const first = await presence.snapshot(members[0]!);
  assert.deepEqual(ids(first), members.slice(1, MAX_PRESENCE_PEERS + 1), 'the reader is left out and the page still holds the limit');
  const later = await presence.snapshot(members.at(-1)!);
  assert.deepEqual(ids(later), members.slice(0, MAX_PRESENCE_PEERS));
  assert.equal(reads.roomPages, 1);
});
