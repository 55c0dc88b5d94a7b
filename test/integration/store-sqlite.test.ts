/** The Store contract against a real SQLite file, plus what only SQLite has: a file that outlives the process. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { StoreUnavailableError } from '../../src/store/store.js';
import { storeContract } from './store-contract.js';

const dir = await mkdtemp(path.join(tmpdir(), 'confab-store-'));
after(() => rm(dir, { recursive: true, force: true }));

storeContract('SQLite', async () => new SqliteStore(path.join(dir, `contract-${Date.now()}.db`)));

test('SQLite: data survives a reopen, and the folder is created', async () => {
  const file = path.join(dir, 'nested', 'deeper', 'confab.db');
  const first = new SqliteStore(file);
  const room = await first.createRoom('lobby', 'lobby', 1);
  await first.insertMessage({ roomId: room.id, author: 'a', body: 'kept', clientMsgId: 'x', createdAt: 2 });
  await first.close();
  const second = new SqliteStore(file);
  await second.migrate();
  const [m] = await second.messagesAfter(room.id, 0, 10);
  assert.equal(m?.body, 'kept');
  assert.equal((await second.getRoom(room.id))?.lastSeq, 1);
  await second.close();
});

test('SQLite: a closed database reports itself unavailable instead of crashing', async () => {
  const store = new SqliteStore(path.join(dir, 'closed.db'));
  await store.close();
  await assert.rejects(store.ping(), StoreUnavailableError);
  await assert.rejects(
    store.insertMessage({ roomId: 1, author: 'a', body: 'b', clientMsgId: null, createdAt: 1 }),
    StoreUnavailableError,
  );
});

test('SQLite: seq stays gapless with four connections writing the same room from four threads', async () => {
  const { Worker } = await import('node:worker_threads');
  const file = path.join(dir, 'threads.db');
  const setup = new SqliteStore(file);
  const room = await setup.createRoom('busy', 'busy', 1);
  const workers = ['w1', 'w2', 'w3', 'w4'].map(
    (tag) =>
      new Promise<number[]>((resolve, reject) => {
        const w = new Worker(new URL('../helpers/ts-worker.mjs', import.meta.url), {
          workerData: {
            entry: new URL('../helpers/sqlite-writer.worker.ts', import.meta.url).href,
            file,
            roomId: room.id,
            count: 250,
            tag,
          },
        });
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  const perWorker = await Promise.all(workers);
  for (const seqs of perWorker) {
    // Each writer's own messages got increasing seqs...
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  }
  // ...and together they are exactly 1..1000.
  const all = perWorker.flat().sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: 1000 }, (_, i) => i + 1));
  assert.equal((await setup.getRoom(room.id))?.lastSeq, 1000);
  await setup.close();
});
