/**
 * The search corpus both stores are loaded with: several hundred messages from a seeded generator in four
 * rooms (two public, a private one, a direct conversation), four authors, three weeks of dates, mixed case,
 * punctuation, URLs, accents, numbers, words that are prefixes of others; plus a few hand-written messages
 * with an obvious best match. `load` writes it through the Store interface, in the same order on every store,
 * so ids and seqs match; `oracle` says in plain TypeScript which messages a query must find.
 */
import type { NewRoom, SearchClause, SearchQuery, Store } from '../../src/store/store.js';
import { wordsOf } from '../../src/chat/search-words.js';
import { MAX_SEARCH_CANDIDATES } from '../../src/store/search-sql.js';

export const CORPUS_SIZE = 360;
/** 2026-11-01T00:00:00Z; message i is created i * 83 minutes later (about three weeks in all). */
export const CORPUS_START = Date.UTC(2026, 10, 1);
const STEP_MS = 83 * 60_000;

const USERS = ['alice', 'bob', 'carol', 'dave'] as const;
export type CorpusUser = (typeof USERS)[number];
const ROOMS: Array<{ name: string; kind: NewRoom['kind']; owner: CorpusUser | null; members: CorpusUser[] }> = [
  { name: 'general', kind: 'public', owner: null, members: ['alice', 'bob', 'carol', 'dave'] },
  { name: 'random', kind: 'public', owner: null, members: ['bob', 'carol'] },
  { name: 'secret', kind: 'private', owner: 'alice', members: ['alice', 'bob'] },
  { name: '@alice,carol', kind: 'direct', owner: null, members: ['alice', 'carol'] },
];

const PHRASES = [
  'Deploy the release tonight',
  'the deployment failed: see https://ci.example.com/build/404',
  'DEPLOYED v2.3.1 to production!',
  'café au lait, s’il vous plaît',
  'cafe or café? naïve question',
  "don't panic; it's only a test",
  'Error 404 (not found) on /api/search?q=x',
  'meeting at 10:30 — bring the slides',
  'Meet me in the lobby',
  'the quick brown fox jumps over the lazy dog',
  'Quick question: who owns the database?',
  'PostgreSQL & SQLite agree; tsquery | fts5 ! NEAR',
  'release notes: search, edit, reactions',
  'foo-bar baz_qux e-mail: ana@example.org',
  'Über straße ÉCOLE Ærø',
  '日本語のテキスト and English',
  'numbers 3.14 42 1e5 0x1F',
  'rocket launch at noon',
  'the release train leaves at noon',
  'hello hello HELLO world',
];

/** The users' ids and the rooms' ids in one store, by name. */
export interface Loaded {
  users: Record<CorpusUser, number>;
  rooms: Record<string, number>;
}

/** One corpus message as the oracle sees it. */
export interface CorpusMessage {
  id: number;
  room: string;
  seq: number;
  author: CorpusUser;
  body: string;
  createdAt: number;
  deleted: boolean;
}

/** A deterministic generator (mulberry32), so every run and both stores get the same corpus. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The messages to insert, in order: room, author, body, time. */
export function corpusPlan(): Array<Omit<CorpusMessage, 'id' | 'seq' | 'deleted'>> {
  const rnd = random(6);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const plan: Array<Omit<CorpusMessage, 'id' | 'seq' | 'deleted'>> = [];
  for (let i = 0; i < CORPUS_SIZE; i++) {
    const room = pick(ROOMS);
    const author = pick(room.members);
    // One to three phrases, sometimes with a random case change, so ranks and prefixes vary.
    const parts = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => {
      const p = pick(PHRASES);
      return rnd() < 0.2 ? p.toUpperCase() : p;
    });
    plan.push({ room: room.name, author, body: parts.join(' '), createdAt: CORPUS_START + i * STEP_MS });
  }
  // Clear winners for relevance: one short message saying only "rocket" three times, among longer ones.
  plan.push({ room: 'general', author: 'dave', body: 'rocket rocket rocket', createdAt: CORPUS_START + 5 * STEP_MS + 1 });
  plan.push({ room: 'random', author: 'bob', body: 'zebra crossing', createdAt: CORPUS_START + 7 * STEP_MS + 1 });
  plan.push({
    room: 'general',
    author: 'carol',
    body: 'a zebra was seen near the crossing of the old railway line, far from any zoo, said the news',
    createdAt: CORPUS_START + 9 * STEP_MS + 1,
  });
  return plan;
}

/** Writes users, rooms and the corpus into a fresh store. */
export async function load(store: Store): Promise<{ loaded: Loaded; messages: CorpusMessage[] }> {
  const users = {} as Record<CorpusUser, number>;
  for (const [i, name] of USERS.entries()) {
    const u = await store.createUser({
      username: name,
      usernameKey: name,
      displayName: name[0]!.toUpperCase() + name.slice(1),
      passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g',
      createdAt: i,
    });
    users[name] = u.id;
  }
  const rooms: Record<string, number> = {};
  for (const r of ROOMS) {
    if (r.kind === 'direct') {
      rooms[r.name] = (await store.findOrCreateDirect(r.members.map((m) => users[m]), 1)).id;
      continue;
    }
    const room = await store.createRoom({
      name: r.name,
      nameKey: r.name,
      kind: r.kind,
      ownerId: r.owner ? users[r.owner] : null,
      createdAt: 1,
    });
    rooms[r.name] = room.id;
    for (const m of r.members) await store.addMember(room.id, users[m], 1);
  }
  const messages: CorpusMessage[] = [];
  for (const m of corpusPlan()) {
    const { message } = await store.insertMessage({
      roomId: rooms[m.room]!,
      authorId: users[m.author],
      author: m.author,
      body: m.body,
      clientMsgId: null,
      createdAt: m.createdAt,
    });
    messages.push({ ...m, id: message.id, seq: message.seq, deleted: false });
  }
  return { loaded: { users, rooms }, messages };
}

/** Whether a body matches every clause, by the definition of a word both stores index. */
export function bodyMatches(body: string, clauses: readonly SearchClause[]): boolean {
  const words = wordsOf(body).map((w) => w.word);
  return clauses.every((c) =>
    words.some((_, start) =>
      c.words.every((w, k) => {
        const at = words[start + k];
        return at !== undefined && (c.prefix && k === c.words.length - 1 ? at.startsWith(w) : at === w);
      }),
    ),
  );
}

/**
 * The messages a query must find, in `newest` order, by plain TypeScript over the corpus: readable by the
 * reader (public room or member), not deleted, inside the filters, matching every clause; with words, only
 * the `candidates` highest ids of those (MAX_SEARCH_CANDIDATES, more than the corpus, unless the query says).
 */
export function oracle(
  messages: readonly CorpusMessage[],
  loaded: Loaded,
  readable: (room: string) => boolean,
  q: SearchQuery,
): CorpusMessage[] {
  const roomName = new Map(Object.entries(loaded.rooms).map(([name, id]) => [id, name]));
  return messages
    .filter((m) => !m.deleted && readable(m.room))
    .filter((m) => q.roomId === undefined || roomName.get(q.roomId) === m.room)
    .filter((m) => q.authorId === undefined || loaded.users[m.author] === q.authorId)
    .filter((m) => (q.after === undefined || m.createdAt >= q.after) && (q.before === undefined || m.createdAt < q.before))
    .filter((m) => q.clauses.length === 0 || bodyMatches(m.body, q.clauses))
    .sort((a, b) => b.id - a.id)
    .slice(0, q.clauses.length === 0 ? undefined : (q.candidates ?? MAX_SEARCH_CANDIDATES))
    .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
}

/** Who may read a room of the corpus as loaded (before any test changes membership). */
export function initiallyReadable(room: string, user: CorpusUser | null): boolean {
  const r = ROOMS.find((x) => x.name === room)!;
  return r.kind === 'public' || (user !== null && r.members.includes(user));
}
