/**
 * A read receipt tells the reader's other tabs their new unread state (a `unread` user event). Read up to the
 * room's last message, the state is known from the move itself (nothing unread, nothing mentioning them after
 * it); otherwise it is read from the store. Either way it equals what the store says right after.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { ReceiptService } from '../../src/chat/receipts.js';
import { userGroup, type UserEvent } from '../../src/chat/user-events.js';
import { MemoryLayer } from '../../src/layer/memory-layer.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';

test('the unread event of a receipt equals the store\'s summary; caught up, no summary is read', async (t) => {
  const store = new SqliteStore(':memory:');
  t.after(() => store.close());
  const layer = new MemoryLayer();
  const receipts = new ReceiptService(store, layer, pino({ level: 'silent' }));
  const [ana, ben] = [
    await store.createUser({ username: 'ana', usernameKey: 'ana', displayName: 'Ana', passwordHash: 'x', createdAt: 1 }),
    await store.createUser({ username: 'ben', usernameKey: 'ben', displayName: 'Ben', passwordHash: 'x', createdAt: 1 }),
  ];
  const room = await store.createRoom({ name: 'r', nameKey: 'r', kind: 'public', ownerId: ana.id, createdAt: 1 });
  await store.addMember(room.id, ben.id, 1);
  await store.setNotifyLevel(room.id, ben.id, 'mentions');
  for (let i = 1; i <= 6; i++) {
    await store.insertMessage({
      roomId: room.id, authorId: ana.id, author: 'Ana', body: `m${i}`, clientMsgId: null, createdAt: i, mentions: i % 2 === 0 ? [ben.id] : [],
    });
  }
  const events: UserEvent[] = [];
  await layer.subscribe(userGroup(ben.id), (payload) => events.push(JSON.parse(payload) as UserEvent));
  let summaries = 0;
  const unreadSummaries = store.unreadSummaries.bind(store);
  store.unreadSummaries = (...args) => {
    summaries++;
    return unreadSummaries(...args);
  };
  const reader = { userId: ben.id, username: 'ben', displayName: 'Ben', isAdmin: false, sessionId: null, tokenId: null };
  const settle = () => new Promise((r) => setTimeout(r, 10));

  await receipts.receipt(reader, { roomId: room.id, delivered: 6, read: 3 });
  await settle();
  assert.equal(summaries, 1, 'part-way: read from the store');
  summaries = 0;
  assert.deepEqual(events.at(-1), { t: 'unread', rooms: await unreadSummaries(ben.id, room.id) });
  assert.equal((events.at(-1) as { rooms: Array<{ unread: number; mentions: number }> }).rooms[0]!.unread, 3);

  await receipts.receipt(reader, { roomId: room.id, read: 6 });
  await settle();
  assert.equal(summaries, 0, 'caught up: no store read');
  assert.deepEqual(events.at(-1), { t: 'unread', rooms: await unreadSummaries(ben.id, room.id) });
  assert.deepEqual(events.at(-1), {
    t: 'unread',
    rooms: [{ roomId: room.id, lastSeq: 6, readSeq: 6, unread: 0, mentions: 0, notify: 'mentions' }],
  });
});
