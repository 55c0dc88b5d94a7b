/** The Store contract against a real SQLite file, plus what only SQLite has: a file that outlives the process. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
  const room = await first.createRoom({ name: 'lobby', nameKey: 'lobby', kind: 'public', ownerId: null, createdAt: 1 });
  await first.insertMessage({ roomId: room.id, authorId: null, author: 'a', body: 'kept', clientMsgId: 'x', createdAt: 2 });
  await first.close();
  const second = new SqliteStore(file);
  await second.migrate();
  const [m] = await second.messagesAfter(room.id, 0, 10);
  assert.equal(m?.body, 'kept');
  assert.equal((await second.getRoom(room.id))?.lastSeq, 1);
  await second.close();
});

test('SQLite: the old text of an edited or deleted message is gone from the database file, search index included', async () => {
  const file = path.join(dir, `erase-${Date.now()}.db`);
  const store = new SqliteStore(file);
  const user = await store.createUser({ username: 'era', usernameKey: 'era', displayName: 'Era', passwordHash: 'x', createdAt: 1 });
  const room = await store.createRoom({ name: 'erase', nameKey: 'erase', kind: 'public', ownerId: user.id, createdAt: 1 });
  const post = (body: string) =>
    store.insertMessage({ roomId: room.id, authorId: user.id, author: 'Era', body, clientMsgId: null, createdAt: 2 }).then((r) => r.message);
  // Words no other text starts like, so the index stores each whole (it shares prefixes between neighbours).
  await post('kqkeptword stays');
  const edited = await post('qxoldsecret before the edit');
  const deleted = await post('zvdeletedsecret never again');
  await store.editMessage({ roomId: room.id, messageId: edited.id, body: 'after the edit', mentions: [], actorId: user.id, actor: 'Era', at: 3 });
  await store.deleteMessage({ roomId: room.id, messageId: deleted.id, actorId: user.id, actor: 'Era', at: 4 });
  await store.close(); // the last connection checkpoints the WAL into the file
  const bytes = await readFile(file);
  assert.ok(bytes.includes('kqkeptword'), 'a kept word is in the file (the check can see words)');
  assert.equal(bytes.includes('qxoldsecret'), false, 'the text before an edit is gone');
  assert.equal(bytes.includes('zvdeletedsecret'), false, 'a deleted text is gone');
});

test('SQLite: a closed database reports itself unavailable instead of crashing', async () => {
  const store = new SqliteStore(path.join(dir, 'closed.db'));
  await store.close();
  await assert.rejects(store.ping(), StoreUnavailableError);
  await assert.rejects(
    store.insertMessage({ roomId: 1, authorId: null, author: 'a', body: 'b', clientMsgId: null, createdAt: 1 }),
    StoreUnavailableError,
  );
});

test('SQLite: seq stays gapless with four connections writing the same room from four threads', async () => {
  const { Worker } = await import('node:worker_threads');
  const file = path.join(dir, 'threads.db');
  const setup = new SqliteStore(file);
  const room = await setup.createRoom({ name: 'busy', nameKey: 'busy', kind: 'public', ownerId: null, createdAt: 1 });
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

/** Runs a TypeScript worker of test/helpers and resolves with the one message it posts. */
function runWorker<T>(entry: string, data: Record<string, unknown>): Promise<T> {
  return import('node:worker_threads').then(
    ({ Worker }) =>
      new Promise<T>((resolve, reject) => {
        const w = new Worker(new URL('../helpers/ts-worker.mjs', import.meta.url), {
          workerData: { entry: new URL(`../helpers/${entry}`, import.meta.url).href, ...data },
        });
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
}

test('SQLite: findOrCreateDirect from four threads at once gives one room per set of people, whatever the order', async () => {
  const file = path.join(dir, 'direct-threads.db');
  const setup = new SqliteStore(file);
  const users = [];
  for (let i = 0; i < 5; i++) {
    users.push(
      await setup.createUser({ username: `u${i}`, usernameKey: `u${i}`, displayName: `u${i}`, passwordHash: 'p', createdAt: 1 }),
    );
  }
  const [a, b, c, d, e] = users.map((u) => u.id) as [number, number, number, number, number];
  // Each thread asks for the same four conversations many times, in its own orders of the members.
  const pairs = [
    [a, b],
    [b, a],
    [c, a, b],
    [b, c, a],
    [d, e],
    [e, d],
    [a, b, c, d, e],
    [e, d, c, b, a],
  ];
  const perThread = await Promise.all(
    [0, 1, 2, 3].map((t) => {
      const sets = Array.from({ length: 40 }, (_, i) => pairs[(i + t) % pairs.length]!);
      return runWorker<number[]>('sqlite-direct.worker.ts', { file, sets }).then((ids) => ({ sets, ids }));
    }),
  );
  const roomOf = new Map<string, Set<number>>();
  for (const { sets, ids } of perThread) {
    sets.forEach((set, i) => {
      const key = [...set].sort((x, y) => x - y).join(',');
      if (!roomOf.has(key)) roomOf.set(key, new Set());
      roomOf.get(key)!.add(ids[i]!);
    });
  }
  assert.equal(roomOf.size, 4);
  for (const [key, ids] of roomOf) assert.equal(ids.size, 1, `one room for {${key}}, got ${[...ids].join(' ')}`);
  const distinct = new Set([...roomOf.values()].map((s) => [...s][0]));
  assert.equal(distinct.size, 4, 'different sets are different rooms');
  for (const [key, ids] of roomOf) {
    const roomId = [...ids][0]!;
    const members = (await setup.listMembers(roomId)).map((m) => m.userId).sort((x, y) => x - y);
    assert.deepEqual(members.join(','), key, 'members are exactly the set, added once');
  }
  await setup.close();
});
