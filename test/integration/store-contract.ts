/**
 * The Store contract: one suite every implementation must pass (SQLite now, PostgreSQL later).
 * `open` returns a fresh, migrated, empty store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Store } from '../../src/store/store.js';
import { StoreConflictError } from '../../src/store/store.js';

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await store.close();
    });

    let roomCounter = 0;
    const newRoom = async () => {
      const n = `room-${++roomCounter}-${Math.random().toString(36).slice(2, 8)}`;
      return store.createRoom(n, n.toLowerCase(), Date.now());
    };
    const send = (roomId: number, i: number, clientMsgId: string | null = null) =>
      store.insertMessage({ roomId, author: 'ana', body: `m${i}`, clientMsgId, createdAt: Date.now() });

    test('rooms: create, get, find by key, list; duplicate key is a conflict', async () => {
      const room = await store.createRoom('General', 'general', 1000);
      assert.equal(room.name, 'General');
      assert.equal(room.lastSeq, 0);
      assert.equal(room.createdAt, 1000);
      assert.deepEqual(await store.getRoom(room.id), room);
      assert.deepEqual(await store.findRoomByKey('general'), room);
      assert.equal(await store.findRoomByKey('nope'), null);
      assert.equal(await store.getRoom(999_999), null);
      await assert.rejects(store.createRoom('GENERAL', 'general', 2000), StoreConflictError);
      assert.ok((await store.listRooms()).some((r) => r.id === room.id));
    });

    test('migrate is idempotent', async () => {
      await store.migrate();
      await store.migrate();
    });

    test('seq is gapless and unique under many concurrent sends', async () => {
      const room = await newRoom();
      const results = await Promise.all(Array.from({ length: 500 }, (_, i) => send(room.id, i, `c${i}`)));
      const seqs = results.map((r) => r.message.seq).sort((a, b) => a - b);
      assert.deepEqual(seqs, Array.from({ length: 500 }, (_, i) => i + 1));
      assert.ok(results.every((r) => r.created));
      assert.equal((await store.getRoom(room.id))!.lastSeq, 500);
      const all = await store.messagesAfter(room.id, 0, 1000);
      assert.deepEqual(
        all.map((m) => m.seq),
        seqs,
      );
    });

    test('seq counts per room: two rooms interleaved each count from 1', async () => {
      const a = await newRoom();
      const b = await newRoom();
      const out = await Promise.all([send(a.id, 1), send(b.id, 1), send(a.id, 2), send(b.id, 2), send(a.id, 3)]);
      assert.deepEqual(
        out.map((r) => [r.message.roomId === a.id ? 'a' : 'b', r.message.seq]).sort(),
        [['a', 1], ['a', 2], ['a', 3], ['b', 1], ['b', 2]],
      );
    });

    test('clientMsgId makes inserts idempotent, even when the retries race', async () => {
      const room = await newRoom();
      const first = await send(room.id, 1, 'same-id');
      assert.equal(first.created, true);
      const retries = await Promise.all([send(room.id, 2, 'same-id'), send(room.id, 3, 'same-id')]);
      for (const r of retries) {
        assert.equal(r.created, false);
        assert.deepEqual(r.message, first.message);
      }
      // The same id in another room is another message; no id at all never deduplicates.
      const other = await newRoom();
      assert.equal((await send(other.id, 1, 'same-id')).created, true);
      assert.equal((await send(room.id, 4, null)).message.seq, 2);
      assert.equal((await send(room.id, 5, null)).message.seq, 3);
      assert.equal((await store.messagesAfter(room.id, 0, 100)).length, 3);
    });

    test('a message for a missing room is refused and takes no seq', async () => {
      await assert.rejects(send(987_654, 1), StoreConflictError);
    });

    test('stored fields come back as written', async () => {
      const room = await newRoom();
      const body = 'multi\nline <b>not html</b> 🎉 \u202e';
      const { message } = await store.insertMessage({
        roomId: room.id,
        author: 'Ana María',
        body,
        clientMsgId: 'k1',
        createdAt: 1_700_000_000_123,
      });
      const [read] = await store.messagesAfter(room.id, 0, 10);
      assert.deepEqual(read, message);
      assert.equal(read!.body, body);
      assert.equal(read!.author, 'Ana María');
      assert.equal(read!.createdAt, 1_700_000_000_123);
      assert.equal(read!.clientMsgId, 'k1');
    });

    test('pagination: empty room', async () => {
      const room = await newRoom();
      assert.deepEqual(await store.messagesBefore(room.id, null, 50), []);
      assert.deepEqual(await store.messagesBefore(room.id, 10, 50), []);
      assert.deepEqual(await store.messagesAfter(room.id, 0, 50), []);
    });

    test('pagination: exactly one page, first and last pages, oldest first', async () => {
      const room = await newRoom();
      for (let i = 1; i <= 50; i++) await send(room.id, i);
      const newest = await store.messagesBefore(room.id, null, 50);
      assert.deepEqual(
        newest.map((m) => m.seq),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      assert.deepEqual(await store.messagesBefore(room.id, 1, 50), []);

      for (let i = 51; i <= 120; i++) await send(room.id, i);
      const last = await store.messagesBefore(room.id, null, 50);
      assert.deepEqual(
        last.map((m) => m.seq),
        Array.from({ length: 50 }, (_, i) => i + 71),
      );
      const middle = await store.messagesBefore(room.id, 71, 50);
      assert.deepEqual(
        middle.map((m) => m.seq),
        Array.from({ length: 50 }, (_, i) => i + 21),
      );
      const first = await store.messagesBefore(room.id, 21, 50);
      assert.deepEqual(
        first.map((m) => m.seq),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      const after = await store.messagesAfter(room.id, 100, 50);
      assert.deepEqual(
        after.map((m) => m.seq),
        Array.from({ length: 20 }, (_, i) => i + 101),
      );
      assert.deepEqual(await store.messagesAfter(room.id, 120, 50), []);
    });

    test('ping answers', async () => {
      await store.ping();
    });
  });
}
