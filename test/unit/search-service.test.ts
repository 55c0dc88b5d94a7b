/** The search service's guards, with a stand-in store: one search per user at a time, dates alone refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatService } from '../../src/chat/chat-service.js';
import type { Principal } from '../../src/chat/principal.js';
import { SEARCHES_WAITING_PER_USER, SearchService } from '../../src/chat/search.js';
import { ConfabError } from '../../src/errors.js';
import type { SearchHit, SearchQuery, Store } from '../../src/store/store.js';

const who = (userId: number): Principal => ({
  userId, username: `u${userId}`, displayName: `U${userId}`, isAdmin: false, sessionId: null, tokenId: null,
});
const rateLimited = (e: unknown) => e instanceof ConfabError && e.code === 'rate_limited';
const badRequest = (e: unknown) => e instanceof ConfabError && e.code === 'bad_request';

/** A store whose searches end when the test says, recording which ran. */
function stallingStore() {
  const started: string[] = [];
  const finish: Array<() => void> = [];
  const store = {
    searchMessages(q: SearchQuery): Promise<SearchHit[]> {
      started.push(q.clauses.map((c) => c.words.join(' ')).join(' '));
      return new Promise((resolve) => finish.push(() => resolve([])));
    },
    getUser: (id: number) => Promise.resolve({ id }),
  };
  return { store: store as unknown as Store, started, finish };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("a user's searches run one at a time: one waits, the next is rate_limited; other users are not held up", async () => {
  assert.equal(SEARCHES_WAITING_PER_USER, 1);
  const { store, started, finish } = stallingStore();
  const search = new SearchService(store, {} as ChatService);
  const first = search.search(who(1), { q: 'first' });
  const second = search.search(who(1), { q: 'second' });
  await tick();
  await assert.rejects(search.search(who(1), { q: 'third' }), rateLimited);
  const other = search.search(who(2), { q: 'other' });
  await tick();
  assert.deepEqual(started, ['first', 'other'], 'the second waits for the first');
  finish.shift()!();
  assert.deepEqual(await first, { results: [], hasMore: false });
  await tick();
  assert.deepEqual(started, ['first', 'other', 'second']);
  finish.shift()!();
  finish.shift()!();
  await Promise.all([second, other]);
  // All done: the user may search again (nothing is left held).
  const again = search.search(who(1), { q: 'again' });
  await tick();
  finish.shift()!();
  await again;
  assert.deepEqual(started, ['first', 'other', 'second', 'again']);
});

test('a failing search frees its place', async () => {
  const store = { searchMessages: () => Promise.reject(new Error('store down')) } as unknown as Store;
  const search = new SearchService(store, {} as ChatService);
  for (let i = 0; i < 3; i++) await assert.rejects(search.search(who(1), { q: 'x' }), /store down/);
});

test('filters alone need a room or an author: dates alone are bad_request', async () => {
  const { store, started, finish } = stallingStore();
  const search = new SearchService(store, {} as ChatService);
  await assert.rejects(search.search(who(1), { q: 'after:2026-01-01' }), badRequest);
  await assert.rejects(search.search(who(1), { q: '', after: '2026-01-01', before: '2026-02-01' }), badRequest);
  const byAuthor = search.search(who(1), { q: 'after:2026-01-01', author: '7' });
  await tick();
  finish.shift()!();
  await byAuthor;
  assert.deepEqual(started, ['']);
  // Nothing at all is still an empty answer, not an error.
  assert.deepEqual(await search.search(who(1), { q: '!!!' }), { results: [], hasMore: false });
});
