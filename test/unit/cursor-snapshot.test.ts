/**
 * The receipts snapshot after a subscribe comes from the hub's per-room copy (CURSOR_SNAPSHOT_MS): one store read
 * serves a burst of subscribes, every cursor change heard since is merged in (also one heard while the read was on
 * its way), and the copy is read again once it is older than CURSOR_SNAPSHOT_MS, after a lost layer, after a
 * failed read, and when the room is joined afresh. Real SQLite, layer and ReceiptService; the hub's chat and
 * presence sides are not used here and are left empty.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { ChatService } from '../../src/chat/chat-service.js';
import type { PresenceService } from '../../src/chat/presence.js';
import type { Principal } from '../../src/chat/principal.js';
import { ReceiptService } from '../../src/chat/receipts.js';
import { MemoryLayer } from '../../src/layer/memory-layer.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { CursorRecord } from '../../src/store/store.js';
import { CURSOR_SNAPSHOT_MS, Hub, type RoomSubscriber } from '../../src/ws/hub.js';

const stop = async () => {};
const subscriber = (): RoomSubscriber => ({ deliver: () => {}, resync: () => {}, deliverEvent: () => {} });

test('one read serves a burst of subscribes; changes heard since are merged; read again when old, after a loss or a failure', async (t) => {
  const store = new SqliteStore(':memory:');
  t.after(() => store.close());
  const layer = new MemoryLayer();
  const log = pino({ level: 'silent' });
  const receipts = new ReceiptService(store, layer, log);
  const chat = {
    watchRooms: async () => stop,
    watchRoom: async () => stop,
    watchTyping: async () => stop,
    lastSeq: async () => 0,
    messagesAfter: async () => [],
  } as unknown as ChatService;
  const presence = { watch: async () => stop } as unknown as PresenceService;
  const hub = new Hub(chat, receipts, presence, log);
  await hub.start();
  t.after(() => hub.close());

  const user = (name: string) =>
    store.createUser({ username: name, usernameKey: name, displayName: name, passwordHash: 'x', createdAt: 1 });
  const [ana, ben, cy] = [await user('ana'), await user('ben'), await user('cy')];
  const room = await store.createRoom({ name: 'r', nameKey: 'r', kind: 'public', ownerId: ana.id, createdAt: 1 });
  for (const u of [ben, cy]) await store.addMember(room.id, u.id, 1);
  for (let i = 1; i <= 4; i++) {
    await store.insertMessage({ roomId: room.id, authorId: ana.id, author: 'ana', body: `m${i}`, clientMsgId: null, createdAt: i, mentions: [] });
  }
  const as = (u: { id: number; username: string }): Principal => ({
    userId: u.id, username: u.username, displayName: u.username, isAdmin: false, sessionId: null, tokenId: null,
  });
  await receipts.receipt(as(ben), { roomId: room.id, delivered: 2, read: 1 });

  let reads = 0;
  let hold: Promise<void> | null = null;
  let failNext = false;
  const listCursors = store.listCursors.bind(store);
  store.listCursors = async (roomId) => {
    reads++;
    if (failNext) {
      failNext = false;
      throw new Error('store away');
    }
    const rows = await listCursors(roomId);
    if (hold) await hold;
    return rows;
  };
  const byUser = (cursors: CursorRecord[]) => Object.fromEntries(cursors.map((c) => [c.userId, [c.deliveredSeq, c.readSeq]]));

  const joined: RoomSubscriber[] = [subscriber()];
  await hub.join(room.id, joined[0]!);
  const burst = await Promise.all([1, 2, 3, 4, 5].map(async () => {
    const s = subscriber();
    joined.push(s);
    await hub.join(room.id, s);
    return hub.cursors(room.id);
  }));
  assert.equal(reads, 1, 'five subscribes, one read');
  for (const cursors of burst) assert.deepEqual(byUser(cursors), { [ben.id]: [2, 1] });

  // Heard after the read: in the next snapshot without reading again.
  await receipts.receipt(as(cy), { roomId: room.id, delivered: 3 });
  await receipts.receipt(as(ben), { roomId: room.id, delivered: 4, read: 4 });
  assert.deepEqual(byUser(await hub.cursors(room.id)), { [ben.id]: [4, 4], [cy.id]: [3, 0] });
  assert.equal(reads, 1);

  // Older than CURSOR_SNAPSHOT_MS: read again, which shows what no change announced (private receipts on).
  await store.setPrivateReceipts(ben.id, true);
  assert.equal((await hub.cursors(room.id)).find((c) => c.userId === ben.id)?.privateReceipts, false, 'within the window');
  await new Promise((r) => setTimeout(r, CURSOR_SNAPSHOT_MS + 20));
  assert.equal((await hub.cursors(room.id)).find((c) => c.userId === ben.id)?.privateReceipts, true);
  assert.equal(reads, 2);

  // A change heard while a read is on its way (the read saw the store before it) is in its result.
  hub.resync();
  let release = () => {};
  hold = new Promise<void>((r) => (release = r));
  const during = hub.cursors(room.id);
  await new Promise((r) => setImmediate(r));
  await receipts.receipt(as(ana), { roomId: room.id, delivered: 4, read: 2 });
  hold = null;
  release();
  assert.deepEqual(byUser(await during), { [ben.id]: [4, 4], [cy.id]: [3, 0], [ana.id]: [4, 2] });
  assert.equal(reads, 3, 'read again after the layer was lost (resync)');

  // The same when the read on its way is dropped (a resync) before the change: its callers still get the change.
  hub.resync();
  hold = new Promise<void>((r) => (release = r));
  const dropped = hub.cursors(room.id);
  await new Promise((r) => setImmediate(r));
  hub.resync();
  await receipts.receipt(as(cy), { roomId: room.id, read: 3 });
  hold = null;
  release();
  assert.deepEqual(byUser(await dropped), { [ben.id]: [4, 4], [cy.id]: [3, 3], [ana.id]: [4, 2] });
  assert.equal(reads, 4);

  // A failed read is not kept.
  hub.resync();
  failNext = true;
  await assert.rejects(hub.cursors(room.id), /store away/);
  assert.deepEqual(byUser(await hub.cursors(room.id)), { [ben.id]: [4, 4], [cy.id]: [3, 3], [ana.id]: [4, 2] });
  assert.equal(reads, 6);

  // The last subscriber gone, the copy goes with the room's entry: a fresh join reads again.
  for (const s of joined) hub.leave(room.id, s);
  await hub.join(room.id, subscriber());
  await hub.cursors(room.id);
  assert.equal(reads, 7);
});
