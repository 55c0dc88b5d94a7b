/**
 * A search's cost does not grow with history (issue 6 review): on SQLite (better-sqlite3 runs on the event
 * loop) with 20k messages that all match a three-letter prefix, only the newest MAX_SEARCH_CANDIDATES
 * readable matches are ranked and paged, and the query plan walks the FTS5 match by rowid downwards (the
 * order is not sorted, so the walk stops at the cap). Not a timing test: it checks the plan and which
 * messages can come back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { parseSearch } from '../../src/chat/search-query.js';
import { MAX_SEARCH_CANDIDATES } from '../../src/store/search-sql.js';
import { sqliteSearchStatement } from '../../src/store/sqlite-search.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { SearchQuery } from '../../src/store/store.js';

const HISTORY = 20_000;
/** The newest messages are in a private room the reader is not in: they must not use up the cap. */
const PRIVATE_TAIL = 3_000;
const T0 = Date.UTC(2026, 0, 1);

const dir = mkdtempSync(path.join(tmpdir(), 'confab-search-bounds-'));
const file = path.join(dir, 'confab.db');
let store: SqliteStore;
let raw: Database.Database;
let reader: number;
let publicRoom: number;
/** Ids of the public room's messages, oldest first. */
const publicIds: number[] = [];

before(async () => {
  store = new SqliteStore(file);
  await store.migrate();
  const user = (name: string) =>
    store.createUser({ username: name, usernameKey: name, displayName: name, passwordHash: 'x', createdAt: 0 });
  reader = (await user('reader')).id;
  const owner = (await user('owner')).id;
  publicRoom = (await store.createRoom({ name: 'big', nameKey: 'big', kind: 'public', ownerId: owner, createdAt: 0 })).id;
  const hidden = (await store.createRoom({ name: 'hidden', nameKey: 'hidden', kind: 'private', ownerId: owner, createdAt: 0 })).id;
  // Written on a second connection in one transaction (20k store inserts would commit 20k times); the
  // triggers of migration 4 index them as the store's own inserts are.
  raw = new Database(file);
  const insert = raw.prepare(
    'INSERT INTO messages (room_id, seq, author, author_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id',
  );
  raw.transaction(() => {
    for (let i = 0; i < HISTORY + PRIVATE_TAIL; i++) {
      const inPublic = i < HISTORY;
      // The oldest message is the best match by far (the word three times, nothing else); the others say it
      // once among more words.
      const body = i === 0 ? 'abc abc abc' : `abcdef and then some more words, number ${i}`;
      const room = inPublic ? publicRoom : hidden;
      const { id } = insert.get(room, inPublic ? i + 1 : i - HISTORY + 1, 'owner', owner, body, T0 + i * 1000) as { id: number };
      if (inPublic) publicIds.push(id);
    }
  })();
});

after(async () => {
  raw?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const query = (text: string, over: Partial<SearchQuery> = {}): SearchQuery => ({
  readerId: reader,
  clauses: parseSearch(text).clauses,
  sort: 'relevance',
  limit: 51,
  offset: 0,
  ...over,
});

test('a three-letter prefix matching all history ranks only the newest MAX_SEARCH_CANDIDATES readable matches', async () => {
  const newest = new Set(publicIds.slice(-MAX_SEARCH_CANDIDATES));
  assert.ok(HISTORY > 5 * MAX_SEARCH_CANDIDATES);
  const seen = new Set<number>();
  for (let offset = 0; offset <= 1000; offset += 50) {
    const hits = await store.searchMessages(query('abc', { offset }));
    assert.equal(hits.length, 51, `offset ${offset}: a full page`);
    for (const h of hits) {
      assert.equal(h.room.id, publicRoom, 'never the private room');
      assert.ok(newest.has(h.message.id), `offset ${offset}: ${h.message.id} is older than the newest ${MAX_SEARCH_CANDIDATES}`);
      seen.add(h.message.id);
    }
  }
  assert.ok(seen.size > 1000);
  // The best match of all history is outside the cap, so relevance does not find it ...
  assert.ok(!seen.has(publicIds[0]!));
  // ... though it is found by words that match fewer messages, and by a cap that reaches it.
  assert.deepEqual((await store.searchMessages(query('"abc abc"'))).map((h) => h.message.id), [publicIds[0]]);
  const all = await store.searchMessages(query('abc', { candidates: HISTORY + PRIVATE_TAIL }));
  assert.equal(all[0]?.message.id, publicIds[0]);
});

test('newest first pages through the same capped set, newest first', async () => {
  const expected = publicIds.slice(-MAX_SEARCH_CANDIDATES).reverse();
  const page = await store.searchMessages(query('abc', { sort: 'newest', offset: 1000, limit: 50 }));
  assert.deepEqual(page.map((h) => h.message.id), expected.slice(1000, 1050));
});

test('the query plan walks the FTS5 match by rowid, newest first, and sorts only the capped candidates', () => {
  for (const sort of ['relevance', 'newest'] as const) {
    for (const over of [{}, { roomId: publicRoom }, { authorId: reader, before: T0 + 5_000_000 }]) {
      const { sql, params } = sqliteSearchStatement(query('abc', { sort, ...over }));
      const plan = raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as Array<{ id: number; parent: number; detail: string }>;
      const label = `${sort} ${JSON.stringify(over)}:\n${plan.map((r) => r.detail).join('\n')}`;
      const inner = plan.find((r) => /CO-ROUTINE|MATERIALIZE/.test(r.detail));
      assert.ok(inner, `${label}: the candidates are a subquery`);
      const innerRows = plan.filter((r) => r.parent === inner.id);
      // The FTS5 table is scanned first (the outer loop), with ORDER BY rowid DESC consumed (idxNum bits 0x40
      // rowid order and 0x80 descending), so no sort is needed before LIMIT.
      assert.match(innerRows[0]?.detail ?? '', /^SCAN messages_fts VIRTUAL TABLE INDEX (\d+):/, label);
      const idxNum = Number(/INDEX (\d+):/.exec(innerRows[0]!.detail)![1]);
      assert.equal(idxNum & 0xc0, 0xc0, `${label}: rowid DESC order consumed by FTS5`);
      assert.ok(!innerRows.some((r) => /TEMP B-TREE/.test(r.detail)), `${label}: no sort before the cap`);
      assert.ok(plan.some((r) => /SEARCH m USING INTEGER PRIMARY KEY/.test(r.detail)), `${label}: messages by id`);
    }
  }
  // Filters alone (a room or an author) read an index newest first: no sort, the scan stops at the page.
  for (const over of [{ roomId: publicRoom }, { authorId: reader }, { roomId: publicRoom, after: T0, before: T0 + 5_000_000 }]) {
    const { sql, params } = sqliteSearchStatement(query('', { sort: 'newest', ...over }));
    const plan = (raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as Array<{ detail: string }>).map((r) => r.detail);
    assert.ok(plan.some((d) => /USING INDEX messages_(room|author)_created/.test(d)), plan.join('\n'));
    assert.ok(!plan.some((d) => /TEMP B-TREE/.test(d)), plan.join('\n'));
  }
});
