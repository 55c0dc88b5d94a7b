/**
 * RoomFeed over a real (in-memory SQLite) store: exactly once, in order, whether messages come live,
 * from replay, twice, out of order, or not at all through the layer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { AccessRechecks } from '../../src/chat/access-rechecks.js';
import { ChatService } from '../../src/chat/chat-service.js';
import { guestPrincipal } from '../../src/chat/principal.js';
import { RateLimits } from '../../src/chat/rate-limits.js';
import { MemoryLayer } from '../../src/layer/memory-layer.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { MessageRecord } from '../../src/store/store.js';
import { DeliveryFrames } from '../../src/ws/hub.js';
import { RoomFeed, REPLAY_PAGE_SIZE } from '../../src/ws/room-feed.js';

async function setup() {
  const store = new SqliteStore(':memory:');
  const layer = new MemoryLayer();
  const log = pino({ level: 'silent' });
  const chat = new ChatService(store, layer, { maxMessageChars: 100 }, new RateLimits(1_000_000, 10_000), log, new AccessRechecks(layer, log));
  const room = await chat.createRoom(guestPrincipal('test'), 'feed');
  const seen: number[] = [];
  const failures: unknown[] = [];
  const feed = new RoomFeed(room.id, chat, {
    write: (text) => {
      seen.push((JSON.parse(String(typeof text === 'string' ? text : text.payload)) as { seq: number }).seq);
      return true;
    },
    fail: (err) => failures.push(err),
  });
  // Stored without going through the layer, as if the publish was lost.
  const storeOnly = async (n: number) => {
    const out: MessageRecord[] = [];
    for (let i = 0; i < n; i++) {
      out.push((await store.insertMessage({ roomId: room.id, authorId: null, author: 'a', body: 'x', clientMsgId: null, createdAt: 1 })).message);
    }
    return out;
  };
  const settle = () => new Promise((r) => setTimeout(r, 20));
  return { store, chat, room, feed, seen, failures, storeOnly, settle };
}

test('replays from since, then continues live without duplicates', async () => {
  const { feed, seen, storeOnly, settle } = await setup();
  const stored = await storeOnly(5);
  await feed.replayFrom(2);
  assert.deepEqual(seen, [3, 4, 5]);
  // The live path delivers 4 and 5 again (overlap with the replay) and then 6.
  const [m6] = await storeOnly(1);
  for (const m of [stored[3]!, stored[4]!, m6!]) feed.deliver(new DeliveryFrames(m));
  await settle();
  assert.deepEqual(seen, [3, 4, 5, 6]);
});

test('a live message that skips ahead heals the gap from the store, in order', async () => {
  const { feed, seen, storeOnly, settle } = await setup();
  await feed.replayFrom(0);
  const ms = await storeOnly(4); // 1..4 stored, none published
  feed.deliver(new DeliveryFrames(ms[3]!)); // only 4 arrives live
  await settle();
  assert.deepEqual(seen, [1, 2, 3, 4]);
  feed.deliver(new DeliveryFrames(ms[1]!)); // a late duplicate
  await settle();
  assert.deepEqual(seen, [1, 2, 3, 4]);
});

test('live messages arriving while catching up wait and come out in order, once', async () => {
  const { feed, seen, storeOnly, settle } = await setup();
  const ms = await storeOnly(REPLAY_PAGE_SIZE * 2 + 7);
  const replay = feed.replayFrom(0);
  // While the replay reads its pages, the last three arrive live, out of order.
  for (const i of [ms.length - 1, ms.length - 3, ms.length - 2]) feed.deliver(new DeliveryFrames(ms[i]!));
  await replay;
  await settle();
  assert.deepEqual(
    seen,
    ms.map((m) => m.seq),
  );
});

test('a store failure while catching up is reported, not thrown', async () => {
  const { feed, store, failures } = await setup();
  await store.close();
  await feed.replayFrom(0);
  assert.equal(failures.length, 1);
});

test('a stopped feed delivers nothing more', async () => {
  const { feed, seen, storeOnly, settle } = await setup();
  await feed.replayFrom(0);
  feed.stop();
  const [m] = await storeOnly(1);
  feed.deliver(new DeliveryFrames(m!));
  await settle();
  assert.deepEqual(seen, []);
});

test('a feed starting where the store stood after its join reads nothing, and delivers what was parked meanwhile', async () => {
  const { feed, chat, seen, storeOnly, settle } = await setup();
  const before = await storeOnly(3); // the client has 1..3: subscribe with since = lastSeq = 3
  let reads = 0;
  const messagesAfter = chat.messagesAfter.bind(chat);
  chat.messagesAfter = (...args) => {
    reads++;
    return messagesAfter(...args);
  };
  feed.hold();
  const [m4] = await storeOnly(1); // committed after the room was read: its publish arrives while held
  feed.deliver(new DeliveryFrames(before[2]!)); // a late duplicate, dropped
  feed.deliver(new DeliveryFrames(m4!));
  await feed.replayFrom(3, 3);
  assert.equal(reads, 0, 'no store read for a subscribe with nothing to replay');
  assert.deepEqual(seen, [4]);
  const [m5] = await storeOnly(1);
  feed.deliver(new DeliveryFrames(m5!));
  await settle();
  assert.deepEqual(seen, [4, 5], 'live from there on');
});

test('after a skipped read, a parked message that skips ahead is healed from the store at once', async () => {
  const { feed, seen, storeOnly, settle } = await setup();
  await storeOnly(2);
  feed.hold();
  const [, m4] = await storeOnly(2); // 3 and 4 committed after the room was read (at 2); only 4's publish came
  feed.deliver(new DeliveryFrames(m4!));
  await feed.replayFrom(2, 2);
  await settle();
  assert.deepEqual(seen, [3, 4], 'without waiting for another live message');
});
