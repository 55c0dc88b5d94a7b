/**
 * RoomOrder alone (rows pushed by hand, a store read that can be watched or broken), then the Hub with it: a
 * reordered pair reaches 100 local feeds in order without a single store read, and a lost publish costs one
 * store read for the room, not one per feed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { AccessRechecks } from '../../src/chat/access-rechecks.js';
import { ChatService } from '../../src/chat/chat-service.js';
import { guestPrincipal } from '../../src/chat/principal.js';
import { PresenceService } from '../../src/chat/presence.js';
import { RateLimits } from '../../src/chat/rate-limits.js';
import { ReceiptService } from '../../src/chat/receipts.js';
import { MemoryLayer } from '../../src/layer/memory-layer.js';
import { MemoryPresence } from '../../src/presence/memory-presence.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { MessageRecord } from '../../src/store/store.js';
import { Hub } from '../../src/ws/hub.js';
import { RoomFeed } from '../../src/ws/room-feed.js';
import { REORDER_WAIT_MS, RoomOrder } from '../../src/ws/room-order.js';

const row = (seq: number): MessageRecord => ({ seq }) as MessageRecord;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Longer than the reorder wait plus a store read. */
const settle = () => sleep(REORDER_WAIT_MS * 3);

function order(stored: number[] = [], failRead = false) {
  const out: number[] = [];
  const reads: Array<[number, number]> = [];
  const errors: unknown[] = [];
  const o = new RoomOrder({
    emit: (m) => out.push(m.seq),
    readAfter: async (after, limit) => {
      reads.push([after, limit]);
      if (failRead) throw new Error('store down');
      return stored.filter((s) => s > after).slice(0, limit).map(row);
    },
    onReadError: (err) => errors.push(err),
  });
  o.start(null);
  return { o, out, reads, errors };
}

test('rows that arrive before the start wait for it, then go on in order from where the store stood', () => {
  const out: number[] = [];
  const o = new RoomOrder({ emit: (m) => out.push(m.seq), readAfter: async () => [], onReadError: () => {} });
  o.push(row(6));
  o.push(row(4));
  assert.deepEqual(out, []);
  o.start(3);
  assert.deepEqual(out, [4]);
  o.push(row(5));
  assert.deepEqual(out, [4, 5, 6]);
  assert.equal(o.waiting, 0);
});

test('rows in order pass at once; without a start position the first row sets it', () => {
  const { o, out, reads } = order();
  for (const s of [7, 8, 9]) o.push(row(s));
  assert.deepEqual(out, [7, 8, 9]);
  assert.equal(o.waiting, 0);
  assert.deepEqual(reads, []);
});

test('a row that skips ahead waits for the late one and both go on in order, without a store read', async () => {
  const { o, out, reads } = order();
  o.push(row(1));
  o.push(row(3));
  o.push(row(4));
  assert.deepEqual(out, [1], 'held behind the gap');
  o.push(row(2));
  assert.deepEqual(out, [1, 2, 3, 4]);
  await settle();
  assert.deepEqual(reads, []);
  assert.equal(o.storeReads, 0);
});

test('a row that never comes is read from the store once, only the gap, after the wait', async () => {
  const { o, out, reads } = order([1, 2, 3, 4, 5]);
  o.push(row(1));
  o.push(row(5));
  await sleep(REORDER_WAIT_MS / 5);
  assert.deepEqual(out, [1]);
  await settle();
  assert.deepEqual(out, [1, 2, 3, 4, 5]);
  assert.deepEqual(reads, [[1, 3]]);
  // The late duplicates arriving after the read go on (feeds drop them), and the stream carries on.
  o.push(row(3));
  o.push(row(6));
  assert.deepEqual(out, [1, 2, 3, 4, 5, 3, 6]);
});

test('a failed store read passes the parked rows on in order (each feed heals) and is reported', async () => {
  const { o, out, errors } = order([], true);
  o.push(row(1));
  o.push(row(4));
  o.push(row(3));
  await settle();
  assert.deepEqual(out, [1, 3, 4]);
  assert.equal(errors.length, 1);
  o.push(row(5));
  assert.deepEqual(out, [1, 3, 4, 5], 'in order again after the skipped gap');
});

test('a gap the store cannot fill is passed over instead of asked about forever', async () => {
  const { o, out, reads } = order([1]);
  o.push(row(1));
  o.push(row(3));
  await settle();
  assert.deepEqual(out, [1, 3]);
  assert.equal(reads.length, 1);
});

test('stop drops what is parked and cancels the wait', async () => {
  const { o, out, reads } = order([1, 2, 3]);
  o.push(row(1));
  o.push(row(3));
  o.stop();
  await settle();
  o.push(row(2));
  assert.deepEqual(out, [1]);
  assert.deepEqual(reads, []);
});

test('the hub reorders once for all its feeds: 100 feeds, a reordered pair and a lost publish', async () => {
  const log = pino({ level: 'silent' });
  const store = new SqliteStore(':memory:');
  const layer = new MemoryLayer();
  const chat = new ChatService(store, layer, { maxMessageChars: 100 }, new RateLimits(1_000_000, 10_000), log, new AccessRechecks(layer, log));
  const hub = new Hub(chat, new ReceiptService(store, layer, log), new PresenceService(store, new MemoryPresence(), layer, log), log);
  await hub.start();
  let reads = 0;
  const messagesAfter = chat.messagesAfter.bind(chat);
  chat.messagesAfter = (roomId, after, limit) => {
    reads++;
    return messagesAfter(roomId, after, limit);
  };
  try {
    const room = await chat.createRoom(guestPrincipal('test'), 'order');
    const seen: number[][] = [];
    for (let i = 0; i < 100; i++) {
      const got: number[] = [];
      seen.push(got);
      const feed = new RoomFeed(room.id, chat, {
        write: (text) => got.push((JSON.parse(String(typeof text === 'string' ? text : text.payload)) as { seq: number }).seq) > 0,
        fail: (err) => assert.fail(String(err)),
      });
      feed.hold();
      await hub.join(room.id, feed);
      await feed.replayFrom(0);
    }
    reads = 0;
    // Stored without the layer; then published by hand, as another instance's late publish would arrive.
    const store1 = async () =>
      (await store.insertMessage({ roomId: room.id, authorId: null, author: 'a', body: 'x', clientMsgId: null, createdAt: 1 })).message;
    const publish = (m: MessageRecord) => layer.publish(`room.${room.id}`, JSON.stringify(m));
    const [m1, m2] = [await store1(), await store1()];
    await publish(m2);
    await publish(m1);
    await settle();
    assert.ok(seen.every((s) => s.join() === '1,2'), `every feed got 1, 2: ${seen[0]!.join()}`);
    assert.equal(reads, 0, 'a reordered pair costs no store read');

    const [, m4] = [await store1(), await store1()];
    await publish(m4); // the publish of 3 was lost
    await settle();
    assert.ok(seen.every((s) => s.join() === '1,2,3,4'), `every feed got 1..4: ${seen[0]!.join()}`);
    assert.equal(reads, 1, 'a lost publish costs one store read for the room, not one per feed');
  } finally {
    await hub.close();
    await store.close();
  }
});
