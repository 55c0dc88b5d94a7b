/**
 * The search box's language, parsed into words and filters before anything reaches a store:
 *
 *   deploy "release notes" from:@ana in:#general after:2026-11-01 before:2026-12-01
 *
 * Bare words must all match (the last one also as the start of a longer word), a quoted phrase must match as
 * words in a row, and the Slack-like filters narrow by author, room and date. Everything else (operators of
 * FTS5 or tsquery, punctuation, `*`, `:`) is only a separator between words: the stores receive words made of
 * letters and digits, never the user's text, so no query can be malformed in a dialect's syntax.
 */
import { ConfabError } from '../errors.js';
import type { SearchClause } from '../store/store.js';
import { queryWords } from './search-words.js';

/**
 * Longest query string accepted, in UTF-16 units (a search box, not a document). Kept well below what makes a
 * single word longer than PostgreSQL's 2047-byte lexeme limit (about 680 characters of three UTF-8 bytes).
 */
export const MAX_SEARCH_QUERY_CHARS = 256;
/** Most words in one query (each is one more index lookup to intersect). */
export const MAX_SEARCH_WORDS = 12;
/**
 * A last word shorter than this matches whole words only: a one- or two-letter prefix ("th") matches most of
 * history, and the search box searches as one types.
 */
export const MIN_PREFIX_CHARS = 3;

/** The parsed search box: clauses for the store and the filters as typed (resolved by the search service). */
export interface ParsedSearch {
  clauses: SearchClause[];
  /** `from:@name`: a username. */
  from?: string;
  /** `in:#room`: a room name. */
  in?: string;
  /** `after:` as ms since the epoch (inclusive). */
  after?: number;
  /** `before:` as ms since the epoch (exclusive). */
  before?: number;
}

// `key:value` chunks that filter instead of searching; the value runs to the next space.
const FILTER = /^(from|in|after|before):(\S+)$/i;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A date given as `YYYY-MM-DD` (the start of that day, UTC) or an ISO 8601 instant with its offset; anything
 * else is `bad_request` naming the filter.
 */
export function parseSearchDate(raw: string, name: string): number {
  const text = raw.trim();
  const t = DATE_ONLY.test(text) ? Date.parse(`${text}T00:00:00Z`) : ISO_TIME.test(text) ? Date.parse(text) : Number.NaN;
  // Date.parse rolls 2026-02-31 over to March 3: a day that does not exist in its month is refused instead.
  const [y, m, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  if (!Number.isFinite(t) || new Date(Date.UTC(y, m - 1, d)).getUTCDate() !== d) {
    throw new ConfabError('bad_request', `"${name}" must be a date (YYYY-MM-DD) or an ISO 8601 time`);
  }
  return t;
}

/** Parses the search box. Throws `bad_request` for a query over the limits or a malformed date filter. */
export function parseSearch(raw: string): ParsedSearch {
  if (raw.length > MAX_SEARCH_QUERY_CHARS) {
    throw new ConfabError('bad_request', `A search is at most ${MAX_SEARCH_QUERY_CHARS} characters`);
  }
  const out: ParsedSearch = { clauses: [] };
  // Quoted phrases first; what lies between them is split into chunks at spaces.
  const parts = raw.split('"');
  let lastIsBare = false;
  parts.forEach((part, i) => {
    const quoted = i % 2 === 1;
    if (quoted) {
      const words = queryWords(part);
      if (words.length === 0) return;
      // An unterminated quote is a phrase still being typed: its last word may be a prefix (set below).
      const open = i === parts.length - 1;
      out.clauses.push({ words, prefix: false });
      lastIsBare = open;
      return;
    }
    for (const chunk of part.split(/\s+/)) {
      if (chunk.length === 0) continue;
      const filter = FILTER.exec(chunk);
      if (filter) {
        applyFilter(out, filter[1]!.toLowerCase(), filter[2]!);
        continue;
      }
      for (const word of queryWords(chunk)) {
        out.clauses.push({ words: [word], prefix: false });
        lastIsBare = true;
      }
    }
  });
  out.clauses = dedupe(out.clauses);
  const wordCount = out.clauses.reduce((n, c) => n + c.words.length, 0);
  if (wordCount > MAX_SEARCH_WORDS) {
    throw new ConfabError('bad_request', `A search has at most ${MAX_SEARCH_WORDS} words`);
  }
  const last = out.clauses.at(-1);
  if (last && lastIsBare && last.words.at(-1)!.length >= MIN_PREFIX_CHARS) last.prefix = true;
  return out;
}

function applyFilter(out: ParsedSearch, key: string, value: string): void {
  switch (key) {
    case 'from':
      out.from = value.replace(/^@/, '');
      break;
    case 'in':
      out.in = value.replace(/^#/, '');
      break;
    case 'after':
      out.after = parseSearchDate(value, 'after:');
      break;
    case 'before':
      out.before = parseSearchDate(value, 'before:');
      break;
  }
}

/** The same word or phrase twice adds nothing but work. */
function dedupe(clauses: SearchClause[]): SearchClause[] {
  const seen = new Set<string>();
  return clauses.filter((c) => {
    const key = c.words.join(' ');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
