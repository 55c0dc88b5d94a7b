/**
 * PresenceService reads a user's peers (a join over all their rooms) once per PEERS_CACHE_MS, shared by the
 * snapshot after `hello` and the announcements of that user's connects, and never keeps a failed read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { PEERS_CACHE_MS, PresenceService } from '../../src/chat/presence.js';
import { MemoryLayer } from '../../src/layer/memory-layer.js';
import { MemoryPresence } from '../../src/presence/memory-presence.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';

test('a user\'s peers are read once for the snapshots and announcements of one window, again after it; failures are not kept', async (t) => {
  const store = new SqliteStore(':memory:');
  const presence = new PresenceService(store, new MemoryPresence(), new MemoryLayer(), pino({ level: 'silent' }));
  t.after(async () => {
    await presence.close();
    await store.close();
  });
  let reads = 0;
  let failNext = false;
  const listPeers = store.listPeers.bind(store);
  store.listPeers = (userId, limit) => {
    reads++;
    if (failNext) {
      failNext = false;
      return Promise.reject(new Error('store down'));
    }
    return listPeers(userId, limit);
  };

  await Promise.all([presence.snapshot(1), presence.audience(1), presence.snapshot(1)]);
  await presence.audience(1);
  assert.equal(reads, 1, 'one read serves the window');
  await presence.snapshot(2);
  assert.equal(reads, 2, 'per user');

  await new Promise((r) => setTimeout(r, PEERS_CACHE_MS + 50));
  failNext = true;
  await assert.rejects(presence.snapshot(1), /store down/);
  assert.deepEqual(await presence.audience(1), [1], 'read again after a failure (nobody shares a room with user 1)');
  assert.equal(reads, 4);
});
