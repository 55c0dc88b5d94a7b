/**
 * What a word is for search, in one place: a run of letters and decimal digits (Unicode categories L and Nd),
 * compared lower-cased. Both stores index exactly these runs (SQLite FTS5 `categories 'L* Nd'`, PostgreSQL's
 * search column under the ICU root collation), so a query built from these words means the same on both, and
 * the highlighter below finds the same words the store matched without asking either dialect.
 */
import type { SearchClause } from '../store/store.js';

/** A word of a text with its place: UTF-16 offsets, `end` exclusive, as JavaScript strings count. */
export interface WordAt {
  /** The word lower-cased, as it is matched. */
  word: string;
  start: number;
  end: number;
}

const WORD = /[\p{L}\p{Nd}]+/gu;

/** The words of `text` in order, with their offsets. */
export function wordsOf(text: string): WordAt[] {
  return [...text.matchAll(WORD)].map((m) => ({ word: m[0].toLowerCase(), start: m.index, end: m.index + m[0].length }));
}

/**
 * The lower-cased words of a query fragment, in NFC (what keyboards and browsers produce; bodies are stored
 * verbatim, so one written in another normal form is found by its words as written).
 */
export function queryWords(text: string): string[] {
  return [...text.normalize('NFC').matchAll(WORD)].map((m) => m[0].toLowerCase());
}

/**
 * The `[start, end]` ranges (UTF-16, end exclusive) of `body`'s words that a search matched: every word equal
 * to a word of a clause, or starting with a clause's last word when that clause matches by prefix. Phrases
 * highlight each of their words wherever it stands; that over-marks a little and never misses the match.
 */
export function highlightRanges(body: string, clauses: readonly SearchClause[]): Array<[number, number]> {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const c of clauses) {
    c.words.forEach((w, i) => {
      if (c.prefix && i === c.words.length - 1) prefixes.push(w);
      else exact.add(w);
    });
  }
  if (exact.size === 0 && prefixes.length === 0) return [];
  return wordsOf(body)
    .filter((w) => exact.has(w.word) || prefixes.some((p) => w.word.startsWith(p)))
    .map((w): [number, number] => [w.start, w.end]);
}
