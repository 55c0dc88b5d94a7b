/**
 * Message search: validates a request (the search box's text with its inline filters, plus the same filters
 * as separate fields), resolves names to ids, asks the store for one page of messages the user may read, and
 * marks the words that matched. The store decides what matches; the highlights are computed here, from the
 * same definition of a word the stores index (search-words.ts), so they are the same whichever store answered.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ConfabError } from '../errors.js';
import { MAX_SEARCH_CANDIDATES } from '../store/search-sql.js';
import type { MessageRecord, RoomRecord, SearchQuery, SearchSort, Store } from '../store/store.js';
import { usernameKey } from './accounts.js';
import type { ChatService } from './chat-service.js';
import type { Principal } from './principal.js';
import { roomNameKey } from './rules.js';
import { parseSearch, parseSearchDate } from './search-query.js';
import { highlightRanges } from './search-words.js';

/** Results per page unless asked otherwise, and the most a page may hold. */
export const SEARCH_PAGE_DEFAULT = 20;
export const SEARCH_PAGE_MAX = 50;
/** Deepest offset served: ranking every match to page far down costs the database, and nobody reads page 50. */
export const MAX_SEARCH_OFFSET = 1000;
// `newest` pages through the candidates (see MAX_SEARCH_CANDIDATES): the deepest page must lie within them.
if (MAX_SEARCH_OFFSET + SEARCH_PAGE_MAX + 1 > MAX_SEARCH_CANDIDATES) throw new Error('MAX_SEARCH_CANDIDATES is too small');

/**
 * Searches one user may run per minute on one instance. Typing runs one per pause (and none for a lone word
 * of one or two letters), below this; a script searching in a loop is slowed down, since each search costs
 * the database more than a message does (and on SQLite runs on the event loop every connection shares).
 */
export const SEARCHES_PER_USER_PER_MINUTE = 60;

/**
 * Searches of one user running at once on one instance: 1. One more waits for it (a search box typed into
 * while the previous answer is on its way); beyond that the search is refused with `rate_limited`.
 */
export const SEARCHES_WAITING_PER_USER = 1;


export const SEARCH_SORTS: readonly SearchSort[] = ['relevance', 'newest'];

/** A search as a client asks for it; every field but `q` is optional. */
export interface SearchRequest {
  /** The search box: words, "phrases", and `from:@user in:#room after:DATE before:DATE`. */
  q: string;
  /** Only this room (an id). */
  roomId?: number | undefined;
  /** Only this author: a user id or a username (with or without `@`). */
  author?: string | undefined;
  /** `YYYY-MM-DD` (start of that day, UTC) or an ISO 8601 time; inclusive. */
  after?: string | undefined;
  /** Same forms; exclusive. */
  before?: string | undefined;
  sort?: string | undefined;
  limit?: number | undefined;
  offset?: number | undefined;
}

/** A found message with its room and the `[start, end]` UTF-16 ranges of its body that matched. */
export interface SearchResult {
  message: MessageRecord;
  room: RoomRecord;
  highlights: Array<[number, number]>;
}

export interface SearchPage {
  results: SearchResult[];
  /** Another page exists at `offset + limit`. */
  hasMore: boolean;
}

export class SearchService {
  private readonly limiter = new RateLimiterMemory({ points: SEARCHES_PER_USER_PER_MINUTE, duration: 60 });
  /** Per user: the end of their latest search (the next one starts after it), and how many hold a place. */
  private readonly slots = new Map<string, { tail: Promise<void>; count: number }>();

  constructor(
    private readonly store: Store,
    private readonly chat: ChatService,
  ) {}

  /**
   * One page of the messages `p` may read that match the request. A query with no words and no filter finds
   * nothing (a query of only punctuation is not an error); filters without words must name a room or an
   * author (`bad_request` for dates alone); unknown or unreadable rooms and unknown authors are `not_found`;
   * malformed fields are `bad_request`; past SEARCHES_PER_USER_PER_MINUTE, or with a search of the user
   * already running and another waiting, `rate_limited`. A user's searches run one at a time.
   */
  async search(p: Principal, req: SearchRequest): Promise<SearchPage> {
    const key = p.userId !== null ? `u${p.userId}` : `g${p.username}`;
    await this.limiter.consume(key).catch((err: unknown) => {
      if (!(err instanceof RateLimiterRes)) throw err;
      const retryAfterMs = Math.max(1, Math.ceil(err.msBeforeNext));
      throw new ConfabError('rate_limited', `Searching too fast; try again in ${Math.ceil(retryAfterMs / 1000)} s`, { retryAfterMs });
    });
    return this.oneAtATime(key, () => this.run(p, req));
  }

  /** Runs `fn` after the user's running search ends; refuses when one is running and another waits already. */
  private async oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = { tail: Promise.resolve(), count: 0 }));
    if (slot.count > SEARCHES_WAITING_PER_USER) {
      throw new ConfabError('rate_limited', 'Your previous searches are still running; try again in a moment', { retryAfterMs: 1000 });
    }
    slot.count++;
    const previous = slot.tail;
    let release!: () => void;
    slot.tail = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous;
      return await fn();
    } finally {
      release();
      if (--slot.count === 0) this.slots.delete(key);
    }
  }

  private async run(p: Principal, req: SearchRequest): Promise<SearchPage> {
    const parsed = parseSearch(req.q);
    const sort = (req.sort ?? 'relevance') as SearchSort;
    if (!SEARCH_SORTS.includes(sort)) throw new ConfabError('bad_request', `"sort" must be one of ${SEARCH_SORTS.join(', ')}`);
    const limit = req.limit ?? SEARCH_PAGE_DEFAULT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > SEARCH_PAGE_MAX) {
      throw new ConfabError('bad_request', `"limit" must be 1 to ${SEARCH_PAGE_MAX}`);
    }
    const offset = req.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > MAX_SEARCH_OFFSET) {
      throw new ConfabError('bad_request', `"offset" must be 0 to ${MAX_SEARCH_OFFSET}`);
    }

    // A filter given both in the text and as a field must hold both ways: two different rooms find nothing.
    const roomIds = new Set<number>();
    if (req.roomId !== undefined) roomIds.add((await this.chat.readableRoom(p, req.roomId)).id);
    if (parsed.in !== undefined) roomIds.add((await this.roomNamed(p, parsed.in)).id);
    const authorIds = new Set<number>();
    if (req.author !== undefined) authorIds.add(await this.authorId(req.author));
    if (parsed.from !== undefined) authorIds.add(await this.authorId(`@${parsed.from}`));
    const after = Math.max(parsed.after ?? -Infinity, req.after !== undefined ? parseSearchDate(req.after, 'after') : -Infinity);
    const before = Math.min(parsed.before ?? Infinity, req.before !== undefined ? parseSearchDate(req.before, 'before') : Infinity);

    const filtered = roomIds.size > 0 || authorIds.size > 0 || Number.isFinite(after) || Number.isFinite(before);
    const nothing = roomIds.size > 1 || authorIds.size > 1 || after >= before;
    if (nothing || (parsed.clauses.length === 0 && !filtered)) return { results: [], hasMore: false };
    // Dates alone would list every room's history between them: a room or an author keeps it to one index.
    if (parsed.clauses.length === 0 && roomIds.size === 0 && authorIds.size === 0) {
      throw new ConfabError('bad_request', 'Add words to search for, or a room or an author: dates alone are too broad');
    }

    const query: SearchQuery = {
      readerId: p.userId,
      clauses: parsed.clauses,
      roomId: first(roomIds),
      authorId: first(authorIds),
      after: Number.isFinite(after) ? after : undefined,
      before: Number.isFinite(before) ? before : undefined,
      sort,
      // One row more than asked tells whether another page exists, without a COUNT.
      limit: limit + 1,
      offset,
    };
    const hits = await this.store.searchMessages(query);
    return {
      results: hits.slice(0, limit).map((h) => ({ ...h, highlights: highlightRanges(h.message.body, parsed.clauses) })),
      hasMore: hits.length > limit,
    };
  }

  /** The readable room of that name, or `not_found` (the same for a private room one is not in). */
  private async roomNamed(p: Principal, name: string): Promise<RoomRecord> {
    const room = await this.store.findRoomByKey(roomNameKey(name));
    if (!room) throw new ConfabError('not_found', `No room named #${name}`);
    return this.chat.readableRoom(p, room.id).catch(() => {
      throw new ConfabError('not_found', `No room named #${name}`);
    });
  }

  /** A user id from an id, or from a username (`@` optional; `@` first for a username made of digits). */
  private async authorId(raw: string): Promise<number> {
    const text = raw.trim();
    const id = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    const name = text.replace(/^@/, '');
    const user = Number.isSafeInteger(id) ? await this.store.getUser(id) : await this.store.findUserByKey(usernameKey(name));
    if (!user) throw new ConfabError('not_found', `No user "${name}"`);
    return user.id;
  }
}

const first = (s: Set<number>): number | undefined => s.values().next().value;
