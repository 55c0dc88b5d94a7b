/**
 * Search (issue 6): the same corpus in a real SQLite store and a real PostgreSQL database must give the same
 * results for every query and filter, and both must agree with a plain TypeScript oracle of what matches.
 * Also: private rooms stay closed to non-members (and open once they join), edits are found by their new
 * words only, deleted messages never, hostile query strings neither fail nor match wrongly; and the HTTP
 * route's validation, filters and highlights.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfabError } from '../../src/errors.js';
import { parseSearch } from '../../src/chat/search-query.js';
import { SEARCHES_PER_USER_PER_MINUTE } from '../../src/chat/search.js';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { SearchHit, SearchQuery, SearchSort, Store } from '../../src/store/store.js';
import { freshDatabase } from '../helpers/postgres.js';
import { TestServer, apiError, type Account } from '../helpers/server.js';
import {
  bodyMatches,
  CORPUS_START,
  initiallyReadable,
  load,
  oracle,
  type CorpusMessage,
  type CorpusUser,
  type Loaded,
} from './search-corpus.js';

const DAY_MS = 86_400_000;
/** A page larger than any result set of the corpus, so relevance order cannot cut two sets differently. */
const ALL = 1000;

/** Search box texts: words, prefixes, phrases, case, accents, punctuation-joined words, numbers. */
const QUERIES = [
  'deploy', 'deploy*', 'DEPLOY', 'depl', 'deployment', 'deployed', 'release', 'release notes', '"release notes"',
  '"release train"', '"notes release"', 'rel', 're', 'r', 'noon', 'rocket', 'rocket launch', 'launch rocket',
  'café', 'cafe', 'CAFÉ', 'caf', 'naïve', 'naive', "don't", 'don', 't', 'it’s', 'example.com', 'example',
  'ci.example.com/build', '404', '3.14', '42', '1e5', '0x1f', 'v2', '2.3.1', 'e-mail', 'foo-bar', 'baz_qux',
  'ana@example.org', 'über', 'straße', 'école', 'ærø', '日本語のテキスト', 'english', 'quick', 'quick fox',
  '"quick brown fox"', '"brown quick"', 'lazy dog the', 'hello', 'hello world', '"hello world"', 'world',
  'meeting', 'meet', '10:30', 'slides', 'postgresql sqlite', 'tsquery', 'fts5', 'near', 'zebra', 'zebra crossing',
  'search edit reactions', 'nothingmatchesthis', 'the', 'a',
];

/** Strings that are operators or syntax somewhere (FTS5, tsquery, SQL, our own filters) or just noise. */
const HOSTILE = [
  '"', '""', '"""', "'", "''", '*', '**', 'deploy*', '*deploy', ':', '::', 'body:deploy', 'messages_fts:deploy',
  '&', '|', '!', '&|!', 'deploy & release', 'deploy | release', '!deploy', 'deploy <-> release', 'deploy:*',
  "'deploy':*", 'deploy:A', '(deploy', 'deploy)', '(((', ')))', 'NEAR(deploy release)', 'NEAR', 'deploy NEAR release',
  'deploy OR release', 'deploy AND release', 'NOT deploy', 'deploy NOT release', '^deploy', '-deploy', '+deploy',
  '{body}: deploy', '{ body messages_fts }', 'deploy^2', '\\', '\\\\deploy', '%', '_', '%deploy%', "'; DROP TABLE messages; --",
  '"); DELETE FROM messages; --', '\u0000', 'deploy\u0000release', '\u202edeploy', '🚀', '🚀 rocket', '...', '!!!???,,,;;;',
  '— – -', '@#$%^&*()', 'from:', 'in:', 'from:@', 'x'.repeat(256), `${'deploy '.repeat(12)}`.trim(),
];

interface Side {
  name: string;
  store: Store;
  loaded: Loaded;
  messages: CorpusMessage[];
}

const pgDatabase = await freshDatabase();
let sides: [Side, Side];
/** Rooms each corpus user may read beyond the initial memberships (the access test joins one). */
const extraReadable = new Map<CorpusUser, Set<string>>();
let agreed = 0;

before(async () => {
  const sqlite = new SqliteStore(':memory:');
  const postgres = new PostgresStore(pgDatabase.url);
  await Promise.all([sqlite.migrate(), postgres.migrate()]);
  const [a, b] = await Promise.all([load(sqlite), load(postgres)]);
  sides = [
    { name: 'SQLite', store: sqlite, ...a },
    { name: 'PostgreSQL', store: postgres, ...b },
  ];
});

after(async () => {
  await Promise.all(sides.map((s) => s.store.close()));
  await pgDatabase.drop();
  console.log(`# search: ${agreed} queries gave the same results on SQLite, PostgreSQL and the oracle`);
});

/** A hit as comparable across stores: room name and seq. */
function keyOf(side: Side, h: SearchHit): string {
  const room = Object.entries(side.loaded.rooms).find(([, id]) => id === h.room.id)![0];
  return `${room}#${h.message.seq}`;
}
const corpusKey = (m: CorpusMessage) => `${m.room}#${m.seq}`;

/** Filters of a query, by names (each side turns them into its own ids). */
interface Filters {
  reader: CorpusUser | null;
  room?: string;
  author?: CorpusUser;
  after?: number;
  before?: number;
  sort?: SearchSort;
  limit?: number;
  offset?: number;
  /** The candidate cap (MAX_SEARCH_CANDIDATES, more than the corpus, unless given). */
  candidates?: number;
}

function queryFor(side: Side, text: string, f: Filters): SearchQuery {
  return {
    readerId: f.reader === null ? null : side.loaded.users[f.reader],
    clauses: parseSearch(text).clauses,
    roomId: f.room === undefined ? undefined : side.loaded.rooms[f.room],
    authorId: f.author === undefined ? undefined : side.loaded.users[f.author],
    after: f.after,
    before: f.before,
    sort: f.sort ?? 'newest',
    limit: f.limit ?? ALL,
    offset: f.offset ?? 0,
    candidates: f.candidates,
  };
}

const readableFor = (reader: CorpusUser | null) => (room: string) =>
  initiallyReadable(room, reader) || (reader !== null && (extraReadable.get(reader)?.has(room) ?? false));

/**
 * Runs one query on both stores and checks them against each other and the oracle: the same keys in the same
 * order for `newest`, the same set for `relevance`. Returns the keys (SQLite's order) for further checks.
 */
async function agree(text: string, f: Filters): Promise<string[]> {
  const [a, b] = (await Promise.all(
    sides.map(async (s) => (await s.store.searchMessages(queryFor(s, text, f))).map((h) => keyOf(s, h))),
  )) as [string[], string[]];
  const q = queryFor(sides[0], text, { ...f, limit: ALL, offset: 0 });
  const expected = oracle(sides[0].messages, sides[0].loaded, readableFor(f.reader), q).map(corpusKey);
  const label = `${JSON.stringify(text)} ${JSON.stringify(f)}`;
  if ((f.sort ?? 'newest') === 'newest') {
    assert.deepEqual(a, b, `${label}: SQLite and PostgreSQL differ`);
    const offset = f.offset ?? 0;
    assert.deepEqual(a, expected.slice(offset, offset + (f.limit ?? ALL)), `${label}: differs from the oracle`);
  } else {
    assert.deepEqual([...a].sort(), [...b].sort(), `${label}: SQLite and PostgreSQL find different messages`);
    if (f.limit === undefined) assert.deepEqual([...a].sort(), [...expected].sort(), `${label}: differs from the oracle`);
  }
  agreed++;
  return a;
}

describe('search: SQLite and PostgreSQL agree on the same corpus', () => {
  test('the corpus loaded identically (same rooms, seqs and bodies)', () => {
    assert.deepEqual(
      sides[0].messages.map((m) => [m.room, m.seq, m.body]),
      sides[1].messages.map((m) => [m.room, m.seq, m.body]),
    );
    assert.ok(sides[0].messages.length >= 300);
  });

  test('every query, newest first and by relevance, for a member, a non-member and a guest', async () => {
    let nonEmpty = 0;
    for (const text of QUERIES) {
      for (const reader of ['alice', 'dave', null] as const) {
        const found = await agree(text, { reader });
        if (found.length > 0) nonEmpty++;
        await agree(text, { reader, sort: 'relevance' });
      }
    }
    assert.ok(nonEmpty > QUERIES.length, 'most queries find something (the corpus is not accidentally empty)');
  });

  test('filters: room, author, dates, and all of them together; filters alone', async () => {
    const week2 = CORPUS_START + 7 * DAY_MS;
    const week3 = CORPUS_START + 14 * DAY_MS;
    for (const text of ['deploy', 'release', 'café', 'hello world', 'quick', '']) {
      for (const f of [
        { room: 'general' },
        { room: 'secret' },
        { room: '@alice,carol' },
        { author: 'bob' as const },
        { author: 'carol' as const, room: 'random' },
        { after: week2 },
        { before: week2 },
        { after: week2, before: week3 },
        { after: week2, before: week3, room: 'general', author: 'alice' as const },
      ]) {
        await agree(text, { reader: 'alice', ...f });
        await agree(text, { reader: 'alice', sort: 'relevance', ...f });
      }
    }
    // A non-member naming the private room finds nothing in it.
    assert.deepEqual(await agree('deploy', { reader: 'dave', room: 'secret' }), []);
  });

  test('pages: limit and offset cut the same pages on both stores', async () => {
    const all = await agree('the', { reader: 'alice' });
    assert.ok(all.length > 30);
    const pages: string[] = [];
    for (let offset = 0; offset < all.length; offset += 7) pages.push(...(await agree('the', { reader: 'alice', limit: 7, offset })));
    assert.deepEqual(pages, all);
  });

  test('relevance: the clearly best message is first on both stores', async () => {
    for (const [text, best] of [
      ['rocket', 'rocket rocket rocket'],
      ['zebra crossing', 'zebra crossing'],
    ] as const) {
      for (const side of sides) {
        const hits = await side.store.searchMessages(queryFor(side, text, { reader: 'alice', sort: 'relevance' }));
        assert.equal(hits[0]?.message.body, best, `${side.name}: ${text}`);
      }
    }
  });

  test('the candidate cap: both stores rank and page only the newest N readable matches (by id)', async () => {
    // The hand-written messages are the last inserted (highest ids) but dated early in the corpus: the cap
    // goes by id, the order within it by time, the same on both stores.
    for (const candidates of [1, 3, 10, 50]) {
      for (const text of ['the', 'rocket', 'rel', 'deploy', 'release notes', 'zebra', 'hello world']) {
        for (const f of [{}, { room: 'secret' }, { author: 'bob' as const }, { before: CORPUS_START + 10 * DAY_MS }]) {
          for (const reader of ['alice', 'dave'] as const) {
            const found = await agree(text, { reader, candidates, ...f });
            assert.ok(found.length <= candidates);
            await agree(text, { reader, candidates, sort: 'relevance', ...f });
          }
        }
      }
    }
    // Other rooms' matches do not use up the cap of a room filter, nor rooms the reader cannot read.
    assert.equal((await agree('deploy', { reader: 'alice', room: 'secret', candidates: 5 })).length, 5);
    assert.equal((await agree('deploy', { reader: 'dave', candidates: 5 })).filter((k) => k.startsWith('secret#')).length, 0);
    assert.equal((await agree('deploy', { reader: 'dave', candidates: 5 })).length, 5);
    // Pages stop at the cap.
    const capped = await agree('the', { reader: 'alice', candidates: 12 });
    assert.equal(capped.length, 12);
    assert.deepEqual(await agree('the', { reader: 'alice', candidates: 12, limit: 5, offset: 10 }), capped.slice(10));
    assert.deepEqual(await agree('the', { reader: 'alice', candidates: 12, offset: 12 }), []);
  });

  test('hostile query strings never fail and never match wrongly', async () => {
    for (const text of HOSTILE) {
      let clauses;
      try {
        clauses = parseSearch(text).clauses;
      } catch (err) {
        assert.ok(err instanceof ConfabError && err.code === 'bad_request', `${JSON.stringify(text)}: ${String(err)}`);
        continue;
      }
      for (const sort of ['newest', 'relevance'] as const) {
        const found = await agree(text, { reader: 'alice', sort });
        for (const key of found) {
          const m = sides[0].messages.find((x) => corpusKey(x) === key)!;
          assert.ok(bodyMatches(m.body, clauses), `${JSON.stringify(text)} found ${JSON.stringify(m.body)}`);
        }
      }
    }
    // Only punctuation finds nothing (and is no error).
    assert.deepEqual(parseSearch('!!!???,,,;;;').clauses, []);
    assert.throws(() => parseSearch('x'.repeat(257)), (e: unknown) => e instanceof ConfabError && e.code === 'bad_request');
  });

  test('access: a private room is closed to a non-member and opens once they join', async () => {
    const inSecret = (keys: string[]) => keys.filter((k) => k.startsWith('secret#'));
    assert.deepEqual(inSecret(await agree('deploy', { reader: 'dave' })), []);
    assert.deepEqual(inSecret(await agree('deploy', { reader: null })), []);
    assert.ok(inSecret(await agree('deploy', { reader: 'alice' })).length > 0);
    await Promise.all(sides.map((s) => s.store.addMember(s.loaded.rooms.secret!, s.loaded.users.dave, 2)));
    extraReadable.set('dave', new Set(['secret']));
    assert.ok(inSecret(await agree('deploy', { reader: 'dave' })).length > 0, 'found after joining');
    await Promise.all(sides.map((s) => s.store.removeMember(s.loaded.rooms.secret!, s.loaded.users.dave)));
    extraReadable.delete('dave');
    assert.deepEqual(inSecret(await agree('deploy', { reader: 'dave' })), [], 'closed again after leaving');
  });

  test('an edited message is found by its new words only; a deleted one not at all', async () => {
    for (const side of sides) {
      const { rooms, users } = side.loaded;
      const send = async (body: string) => {
        const { message } = await side.store.insertMessage({
          roomId: rooms.general!, authorId: users.bob, author: 'bob', body, clientMsgId: null, createdAt: CORPUS_START + 30 * DAY_MS,
        });
        side.messages.push({ id: message.id, room: 'general', seq: message.seq, author: 'bob', body, createdAt: message.createdAt, deleted: false });
        return message;
      };
      const edited = await send('unicorn sprinkles');
      const gone = await send('walrus tusk');
      const at = CORPUS_START + 31 * DAY_MS;
      await side.store.editMessage({
        roomId: rooms.general!, messageId: edited.id, body: 'Flamingo umbrella', mentions: [], actorId: users.bob, actor: 'bob', at,
      });
      side.messages.find((m) => m.id === edited.id)!.body = 'Flamingo umbrella';
      await side.store.deleteMessage({ roomId: rooms.general!, messageId: gone.id, actorId: users.bob, actor: 'bob', at });
      side.messages.find((m) => m.id === gone.id)!.deleted = true;
    }
    assert.deepEqual(await agree('unicorn', { reader: 'alice' }), []);
    assert.deepEqual(await agree('sprinkles', { reader: 'alice' }), []);
    assert.equal((await agree('flamingo', { reader: 'alice' })).length, 1);
    assert.equal((await agree('flam', { reader: 'alice' })).length, 1);
    assert.equal((await agree('umbrella flamingo', { reader: 'alice', sort: 'relevance' })).length, 1);
    assert.deepEqual(await agree('walrus', { reader: 'alice' }), []);
    assert.deepEqual(await agree('tusk', { reader: 'alice', sort: 'relevance' }), []);
    // Nor through filters alone (no words): the deleted message and the change rows are not results.
    const listed = await agree('', { reader: 'alice', after: CORPUS_START + 29 * DAY_MS });
    assert.equal(listed.length, 1, 'only the edited message');
  });
});

describe('search over HTTP: GET /api/search', () => {
  let server: TestServer;
  let ana: Account;
  let bo: Account;
  before(async () => {
    server = await TestServer.start({ MESSAGE_RATE_LIMIT: '1000000', FRAMES_PER_SECOND: '1000000' });
    ana = await server.signUp('ana_search', { displayName: 'Ana' });
    bo = await server.signUp('bo_search', { displayName: 'Bo' });
  });
  after(() => server.close());

  const search = (as: Account | null, params: Record<string, string>) =>
    server.api('GET', `/api/search?${new URLSearchParams(params).toString()}`, as ? { as } : {});

  interface Result {
    message: { id: number; seq: number; room: number; body: string; author: string };
    room: { id: number; name: string; kind: string };
    highlights: Array<[number, number]>;
  }
  const resultsOf = (r: { json: unknown }) => (r.json as { results: Result[]; hasMore: boolean });

  test('results carry the message, its room and the ranges of the words that matched', async () => {
    const room = await server.createRoom('searchlab', { as: ana });
    const client = await server.connect(ana);
    await client.subscribe(room.id);
    await client.post(room.id, 'Deploying café-builds: the DEPLOY went fine 🚀, deployment #2 next');
    await client.post(room.id, 'nothing to see');
    const r = await search(bo, { q: 'deploy' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const { results, hasMore } = resultsOf(r);
    assert.equal(hasMore, false);
    assert.equal(results.length, 1);
    const [hit] = results;
    assert.deepEqual(hit!.room, { id: room.id, name: 'searchlab', kind: 'public' });
    assert.equal(hit!.message.seq, 1);
    const body = hit!.message.body;
    assert.deepEqual(hit!.highlights.map(([s, e]) => body.slice(s, e)), ['Deploying', 'DEPLOY', 'deployment']);
    const cafe = resultsOf(await search(bo, { q: 'CAFÉ builds' })).results[0]!;
    assert.deepEqual(cafe.highlights.map(([s, e]) => cafe.message.body.slice(s, e)), ['café', 'builds']);
    // Highlights count UTF-16 units: a word after an emoji (two units) still lands exactly.
    const next = resultsOf(await search(bo, { q: 'next' })).results[0]!;
    assert.deepEqual(next.highlights.map(([s, e]) => next.message.body.slice(s, e)), ['next']);
    await client.close();
  });

  test('filters in the text and as fields; private rooms only for members', async () => {
    const priv = await server.createRoom('hideout', { private: true, as: ana });
    const pub = await server.createRoom('plaza', { as: bo });
    const a = await server.connect(ana);
    const b = await server.connect(bo);
    await a.subscribe(priv.id);
    await b.subscribe(pub.id);
    await a.post(priv.id, 'treasure map under the oak');
    await b.post(pub.id, 'treasure hunt on saturday');
    const names = (r: { json: unknown }) => resultsOf(r).results.map((x) => x.room.name).sort();
    assert.deepEqual(names(await search(ana, { q: 'treasure' })), ['hideout', 'plaza']);
    assert.deepEqual(names(await search(bo, { q: 'treasure' })), ['plaza'], 'not a member of hideout');
    assert.deepEqual(names(await search(ana, { q: 'treasure in:#plaza' })), ['plaza']);
    assert.deepEqual(names(await search(ana, { q: 'treasure', room: String(pub.id) })), ['plaza']);
    assert.deepEqual(names(await search(ana, { q: 'treasure from:@bo_search' })), ['plaza']);
    assert.deepEqual(names(await search(ana, { q: 'treasure', author: 'ana_search' })), ['hideout']);
    assert.deepEqual(names(await search(ana, { q: 'treasure', author: String(ana.user.id) })), ['hideout']);
    assert.deepEqual(names(await search(ana, { q: 'from:@ana_search in:#hideout' })), ['hideout'], 'filters alone');
    assert.deepEqual(names(await search(ana, { q: 'treasure before:2000-01-01' })), []);
    assert.deepEqual(names(await search(ana, { q: 'treasure', after: '2000-01-01', before: '2999-01-01T00:00:00Z' })), ['hideout', 'plaza']);
    assert.deepEqual(names(await search(ana, { q: 'treasure in:#plaza', room: String(priv.id) })), [], 'two rooms: nothing');
    // The private room answers exactly like a room that does not exist.
    const hidden = await search(bo, { q: 'treasure', room: String(priv.id) });
    const missing = await search(bo, { q: 'treasure', room: '7777777' });
    assert.equal(hidden.status, 404);
    assert.deepEqual(apiError(hidden).code, apiError(missing).code);
    assert.equal((await search(bo, { q: 'treasure in:#hideout' })).status, 404);
    await a.close();
    await b.close();
  });

  test('validation: clear bad_request errors, not_found for unknown names, 401 without a session', async () => {
    const bad = async (params: Record<string, string>, pattern: RegExp) => {
      const r = await search(ana, params);
      assert.equal(r.status, 400, `${JSON.stringify(params)}: ${JSON.stringify(r.json)}`);
      assert.equal(apiError(r).code, 'bad_request');
      assert.match(apiError(r).message, pattern);
    };
    await bad({ q: 'x'.repeat(257) }, /at most 256 characters/);
    await bad({ q: Array.from({ length: 13 }, (_, i) => `w${i}`).join(' ') }, /at most 12 words/);
    await bad({ q: 'a', sort: 'best' }, /"sort"/);
    await bad({ q: 'a', limit: '0' }, /"limit"/);
    await bad({ q: 'a', limit: '51' }, /"limit"/);
    await bad({ q: 'a', limit: 'ten' }, /"limit"/);
    await bad({ q: 'a', offset: '-1' }, /"offset"/);
    await bad({ q: 'a', offset: '1001' }, /"offset"/);
    await bad({ q: 'a', after: 'yesterday' }, /"after"/);
    await bad({ q: 'a before:2026-02-31' }, /"before:"/);
    await bad({ q: 'after:2026-01-01' }, /a room or an author/);
    await bad({ q: '', after: '2026-01-01', before: '2026-02-01' }, /a room or an author/);
    await bad({ q: 'a', room: 'general' }, /"room"/);
    const twice = await server.api('GET', '/api/search?q=a&q=b', { as: ana });
    assert.equal(twice.status, 400);
    assert.equal((await search(ana, { q: 'a from:@nobody_here' })).status, 404);
    assert.equal((await search(ana, { q: 'a', author: 'nobody_here' })).status, 404);
    assert.equal((await search(ana, { q: 'a in:#no-such-room' })).status, 404);
    assert.equal((await search(null, { q: 'a' })).status, 401);
    // Nothing to search for: an empty result, not an error.
    for (const q of ['', '!!!', '"" * : & | !', 'NEAR(']) {
      const r = await search(ana, { q });
      assert.equal(r.status, 200, `${JSON.stringify(q)}: ${JSON.stringify(r.json)}`);
      assert.deepEqual(resultsOf(r), { results: [], hasMore: false });
    }
  });

  test('a user searching in a loop is slowed down with rate_limited and Retry-After', async () => {
    const looper = await server.signUp('looper_search');
    for (let i = 0; i < SEARCHES_PER_USER_PER_MINUTE; i++) assert.equal((await search(looper, { q: `loop${i}` })).status, 200);
    const refused = await search(looper, { q: 'one more' });
    assert.equal(refused.status, 429);
    assert.equal(apiError(refused).code, 'rate_limited');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal((await search(ana, { q: 'others are not slowed' })).status, 200);
  });

  test('pages: limit, offset and hasMore', async () => {
    const room = await server.createRoom('pager', { as: ana });
    const client = await server.connect(ana);
    await client.subscribe(room.id);
    for (let i = 0; i < 5; i++) await client.post(room.id, `paging item ${i}`);
    const page = async (offset: number) => resultsOf(await search(ana, { q: 'paging', sort: 'newest', limit: '2', offset: String(offset) }));
    const seen: string[] = [];
    const more: boolean[] = [];
    for (let offset = 0; offset < 6; offset += 2) {
      const p = await page(offset);
      seen.push(...p.results.map((r) => r.message.body));
      more.push(p.hasMore);
    }
    assert.deepEqual(seen, [4, 3, 2, 1, 0].map((i) => `paging item ${i}`));
    assert.deepEqual(more, [true, true, false]);
    await client.close();
  });
});
