/**
 * Group commit in the SQLite store: the inserts of one event-loop turn share one transaction, and the Store
 * contract still holds message by message (gapless seq in call order, idempotency inside a batch, a conflict
 * failing only its own message, a database failure failing the whole batch, other writes never overtaking
 * queued inserts, close() committing what is queued). Counts transactions, never times.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type Database from 'better-sqlite3';
import { MAX_GROUP_COMMIT } from '../../src/store/group-commit.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import {
  StoreConflictError,
  StoreUnavailableError,
  type InsertResult,
  type NewMessage,
  type UserRecord,
} from '../../src/store/store.js';

const dir = await mkdtemp(path.join(tmpdir(), 'confab-group-'));
after(() => rm(dir, { recursive: true, force: true }));

let files = 0;
const open = (name = `g${++files}.db`) => {
  const file = path.join(dir, name);
  return { file, store: new SqliteStore(file) };
};
/** The store's connection, for the tests that break the database under it. */
const connection = (store: SqliteStore) => (store as unknown as { db: Database.Database }).db;

const msg = (roomId: number, body: string, clientMsgId: string | null = null, extra: Partial<NewMessage> = {}): NewMessage => ({
  roomId,
  authorId: null,
  author: 'a',
  body,
  clientMsgId,
  createdAt: 1,
  ...extra,
});
const room = (store: SqliteStore, name: string) =>
  store.createRoom({ name, nameKey: name, kind: 'public', ownerId: null, createdAt: 1 });
const user = (store: SqliteStore, name: string): Promise<UserRecord> =>
  store.createUser({ username: name, usernameKey: name, displayName: name, passwordHash: 'x', createdAt: 1 });
const upload = (store: SqliteStore, roomId: number, uploader: UserRecord) =>
  store.createAttachment({
    roomId,
    uploaderId: uploader.id,
    name: 'a.txt',
    contentType: 'text/plain',
    size: 3,
    storageKey: `key-${Math.random().toString(36).slice(2)}`,
    thumbnailKey: null,
    width: null,
    height: null,
    createdAt: 1,
  });
/** Settles every promise, keeping each outcome. */
const settle = <T>(ps: Array<Promise<T>>) => Promise.allSettled(ps);

test('1,000 concurrent inserts over 3 rooms: gapless seq in call order per room, duplicates answered from the same batch, 4 transactions', async () => {
  const { store } = open();
  const rooms = [await room(store, 'r0'), await room(store, 'r1'), await room(store, 'r2')];
  const commitsBefore = store.insertCommits;
  // Every tenth call repeats the clientMsgId of the call three before it (same room, same batch); call 257
  // repeats call 254, which is in the batch before.
  const dupOf = (i: number) => (i === 257 ? 254 : i % 10 === 9 ? i - 3 : null);
  const calls = Array.from({ length: 1000 }, (_, i) => {
    const key = `c${dupOf(i) ?? i}`;
    return store.insertMessage(msg(rooms[i % 3]!.id, `m${i}`, key));
  });
  const results = await Promise.all(calls);
  assert.equal(store.insertCommits - commitsBefore, Math.ceil(1000 / MAX_GROUP_COMMIT), 'one transaction per full batch');

  const next = [0, 0, 0];
  results.forEach((r, i) => {
    const d = dupOf(i);
    if (d !== null) {
      assert.equal(r.created, false, `call ${i} repeats call ${d}`);
      assert.deepEqual(r.message, results[d]!.message);
    } else {
      assert.equal(r.created, true);
      assert.equal(r.message.roomId, rooms[i % 3]!.id);
      assert.equal(r.message.seq, ++next[i % 3]!, `call ${i} takes the next seq of its room`);
      assert.equal(r.message.body, `m${i}`);
    }
  });
  for (const [k, r] of rooms.entries()) {
    assert.equal((await store.getRoom(r.id))?.lastSeq, next[k]);
    const stored = await store.messagesAfter(r.id, 0, 10_000);
    assert.deepEqual(
      stored.map((m) => m.seq),
      Array.from({ length: next[k]! }, (_, i) => i + 1),
    );
    assert.equal(new Set(stored.map((m) => m.clientMsgId)).size, stored.length, 'no clientMsgId stored twice');
  }
  await store.close();
});

test('inserts awaited one by one take one transaction each; inserts of one turn share one', async () => {
  const { store } = open();
  const r = await room(store, 'one');
  let before = store.insertCommits;
  for (let i = 0; i < 5; i++) await store.insertMessage(msg(r.id, `s${i}`));
  assert.equal(store.insertCommits - before, 5);
  before = store.insertCommits;
  await Promise.all(Array.from({ length: 50 }, (_, i) => store.insertMessage(msg(r.id, `b${i}`))));
  assert.equal(store.insertCommits - before, 1);
  assert.equal((await store.getRoom(r.id))?.lastSeq, 55);
  await store.close();
});

test('a bad message in a batch fails alone: a reply to another room, a foreign upload, a missing room', async () => {
  const { store } = open();
  const [ana, ben] = [await user(store, 'ana'), await user(store, 'ben')];
  const here = await room(store, 'here');
  const there = await room(store, 'there');
  const elsewhere = (await store.insertMessage(msg(there.id, 'over there'))).message;
  const anas = await upload(store, here.id, ana);
  const bens = await upload(store, here.id, ben);
  const as = (body: string, extra: Partial<NewMessage> = {}) => msg(here.id, body, null, { authorId: ana.id, ...extra });
  const before = store.insertCommits;
  const out = await settle([
    store.insertMessage(as('ok 1')),
    store.insertMessage(as('bad reply', { replyToId: elsewhere.id })),
    store.insertMessage(as('ok 2', { attachmentIds: [anas.id] })),
    store.insertMessage(as('bad upload', { attachmentIds: [bens.id] })),
    store.insertMessage(as('ok 3')),
    store.insertMessage(msg(987_654, 'bad room')),
    store.insertMessage(as('ok 4', { clientMsgId: 'k' })),
    store.insertMessage(as('ok 4 again', { clientMsgId: 'k' })),
  ]);
  assert.equal(store.insertCommits - before, 1, 'all in one transaction');
  const value = (i: number) => (out[i] as PromiseFulfilledResult<InsertResult>).value;
  for (const i of [1, 3, 5]) {
    assert.equal(out[i]!.status, 'rejected');
    assert.ok((out[i] as PromiseRejectedResult).reason instanceof StoreConflictError, `call ${i} is a conflict`);
  }
  assert.deepEqual(
    [0, 2, 4, 6].map((i) => [value(i).message.body, value(i).message.seq]),
    [
      ['ok 1', 1],
      ['ok 2', 2],
      ['ok 3', 3],
      ['ok 4', 4],
    ],
    'the others commit, with seqs that skip nothing',
  );
  assert.equal(value(7).created, false);
  assert.deepEqual(value(7).message, value(6).message);
  assert.equal(value(2).message.attachments[0]?.id, anas.id);
  assert.equal((await store.getAttachment(bens.id))?.messageId, null, "ben's upload stays unsent");
  assert.equal((await store.getRoom(here.id))?.lastSeq, 4);
  assert.deepEqual(
    (await store.messagesAfter(here.id, 0, 100)).map((m) => m.body),
    ['ok 1', 'ok 2', 'ok 3', 'ok 4'],
  );
  assert.equal((await store.getRoom(there.id))?.lastSeq, 1);
  await store.close();
});

test('a full disk in the middle of a batch fails every message of it and stores none; the next batch works', async () => {
  const { store } = open();
  const r = await room(store, 'full');
  await store.insertMessage(msg(r.id, 'before'));
  const db = connection(store);
  const pages = db.pragma('page_count', { simple: true }) as number;
  // Room for a few of the messages below, not all: the batch fails part-way through.
  db.pragma(`max_page_count = ${pages + 6}`);
  const out = await settle(Array.from({ length: 40 }, (_, i) => store.insertMessage(msg(r.id, `${i} ${'x'.repeat(3000)}`, `f${i}`))));
  for (const o of out) {
    assert.equal(o.status, 'rejected');
    assert.ok((o as PromiseRejectedResult).reason instanceof StoreUnavailableError);
  }
  assert.equal((await store.getRoom(r.id))?.lastSeq, 1, 'no seq taken');
  assert.equal((await store.messagesAfter(r.id, 0, 100)).length, 1, 'nothing of the batch stored');
  db.pragma('max_page_count = 1073741823');
  const retried = await Promise.all([store.insertMessage(msg(r.id, 'again', 'f0')), store.insertMessage(msg(r.id, 'more'))]);
  assert.deepEqual(
    retried.map((x) => [x.created, x.message.seq]),
    [
      [true, 2],
      [true, 3],
    ],
  );
  await store.close();
});

test('a database closed under a pending batch fails all of it as unavailable; after a reopen inserts work', async () => {
  const { file, store } = open();
  const r = await room(store, 'closing');
  await store.insertMessage(msg(r.id, 'kept'));
  const pending = Array.from({ length: 10 }, (_, i) => store.insertMessage(msg(r.id, `lost ${i}`, `p${i}`)));
  connection(store).close();
  for (const o of await settle(pending)) {
    assert.equal(o.status, 'rejected');
    assert.ok((o as PromiseRejectedResult).reason instanceof StoreUnavailableError);
  }
  await assert.rejects(store.insertMessage(msg(r.id, 'later')), StoreUnavailableError);
  await store.close();

  const reopened = new SqliteStore(file);
  const again = await reopened.insertMessage(msg(r.id, 'retry of lost 0', 'p0'));
  assert.equal(again.created, true);
  assert.equal(again.message.seq, 2);
  assert.deepEqual(
    (await reopened.messagesAfter(r.id, 0, 100)).map((m) => m.body),
    ['kept', 'retry of lost 0'],
  );
  await reopened.close();
});

test('close() commits the queued inserts and answers their callers', async () => {
  const { file, store } = open();
  const r = await room(store, 'drain');
  const pending = Array.from({ length: 20 }, (_, i) => store.insertMessage(msg(r.id, `d${i}`)));
  await store.close();
  const done = await Promise.all(pending);
  assert.deepEqual(
    done.map((d) => d.message.seq),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  const reopened = new SqliteStore(file);
  assert.equal((await reopened.getRoom(r.id))?.lastSeq, 20);
  await reopened.close();
});

test('edits, deletes and reactions never overtake queued inserts: seq follows the order of the calls', async () => {
  const { store } = open();
  const ana = await user(store, 'ana');
  const r = await room(store, 'order');
  const first = (await store.insertMessage(msg(r.id, 'first', null, { authorId: ana.id }))).message;
  const second = (await store.insertMessage(msg(r.id, 'second', null, { authorId: ana.id }))).message;
  const a = store.insertMessage(msg(r.id, 'queued a'));
  const edit = store.editMessage({ roomId: r.id, messageId: first.id, body: 'edited', mentions: [], actorId: ana.id, actor: 'ana', at: 2 });
  const b = store.insertMessage(msg(r.id, 'queued b'));
  const react = store.setReaction({ roomId: r.id, messageId: first.id, userId: ana.id, actor: 'ana', emoji: '👍', on: true, at: 3 });
  const c = store.insertMessage(msg(r.id, 'queued c'));
  const del = store.deleteMessage({ roomId: r.id, messageId: second.id, actorId: ana.id, actor: 'ana', at: 4 });
  const d = store.insertMessage(msg(r.id, 'queued d'));
  const seqs = [
    (await a).message.seq,
    (await edit)!.event!.seq,
    (await b).message.seq,
    (await react)!.event!.seq,
    (await c).message.seq,
    (await del)!.event!.seq,
    (await d).message.seq,
  ];
  assert.deepEqual(seqs, [3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(
    (await store.messagesAfter(r.id, 0, 100)).map((m) => m.seq),
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  await store.close();
});

test('an upload sent by a queued insert is linked before the clean-up of unsent uploads looks at it', async () => {
  const { store } = open();
  const ana = await user(store, 'ana');
  const r = await room(store, 'files');
  const file = await upload(store, r.id, ana);
  const sent = store.insertMessage(msg(r.id, 'with file', null, { authorId: ana.id, attachmentIds: [file.id] }));
  const removed = await store.deleteUnsentAttachments(Date.now() + 60_000, 100);
  assert.deepEqual(removed, [], 'the queued message took it first');
  assert.equal((await sent).message.attachments[0]?.id, file.id);
  await store.close();
});

test('receipts of one turn share one transaction; each is applied in call order, monotonic and clamped', async () => {
  const { store } = open();
  try {
    const users: UserRecord[] = [];
    for (let i = 0; i < 50; i++) {
      users.push(await store.createUser({ username: `r${i}`, usernameKey: `r${i}`, displayName: `R${i}`, passwordHash: 'x', createdAt: 1 }));
    }
    const room = await store.createRoom({ name: 'acks', nameKey: 'acks', kind: 'public', ownerId: null, createdAt: 1 });
    for (const u of users) await store.addMember(room.id, u.id, 1);
    for (let i = 0; i < 10; i++) await store.insertMessage(msg(room.id, `m${i}`));
    const before = store.cursorCommits;
    const moves = await Promise.all([
      ...users.map((u, i) => store.moveCursors(room.id, u.id, (i % 10) + 1, null)),
      // The same member twice in one batch: the second sees the first (monotonic), read is clamped to lastSeq.
      store.moveCursors(room.id, users[0]!.id, 5, 3),
      store.moveCursors(room.id, users[0]!.id, 2, 99),
    ]);
    assert.equal(store.cursorCommits - before, 1, '52 receipts of one turn, one transaction');
    assert.deepEqual(moves[50]?.after, { ...moves[50]!.after, deliveredSeq: 5, readSeq: 3 });
    assert.deepEqual([moves[51]?.before.readSeq, moves[51]?.after.readSeq, moves[51]?.after.deliveredSeq], [3, 10, 10]);
    const cursors = await store.listCursors(room.id);
    assert.equal(cursors.find((c) => c.userId === users[9]!.id)?.deliveredSeq, 10);
    assert.equal(await store.moveCursors(room.id, 999_999, 1, 1), null, 'not a member: null, as before');
  } finally {
    await store.close();
  }
});

test('last-seen times of one turn (users leaving together) share one transaction; the later of one user\'s wins', async () => {
  const { store } = open();
  try {
    const users: UserRecord[] = [];
    for (let i = 0; i < 40; i++) users.push(await user(store, `ls${i}`));
    const before = store.lastSeenCommits;
    await Promise.all([...users.map((u, i) => store.setLastSeen(u.id, 1000 + i)), store.setLastSeen(users[0]!.id, 5000)]);
    assert.equal(store.lastSeenCommits - before, 1, '41 writes of one turn, one transaction');
    assert.equal((await store.getUser(users[0]!.id))?.lastSeenAt, 5000);
    assert.equal((await store.getUser(users[39]!.id))?.lastSeenAt, 1039);
    await store.setLastSeen(users[1]!.id, 7);
    await store.setLastSeen(users[2]!.id, 8);
    assert.equal(store.lastSeenCommits - before, 3, 'awaited one by one: one each');
  } finally {
    await store.close();
  }
});
