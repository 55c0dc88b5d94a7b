/** The search box's parser and the highlighter: pure functions, no store. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfabError } from '../../src/errors.js';
import {
  MAX_SEARCH_QUERY_CHARS,
  MAX_SEARCH_WORDS,
  MIN_PREFIX_CHARS,
  parseSearch,
  parseSearchDate,
} from '../../src/chat/search-query.js';
import { highlightRanges, queryWords, wordsOf } from '../../src/chat/search-words.js';
import { fts5Match } from '../../src/store/sqlite-search.js';
import { tsqueryText } from '../../src/store/postgres-search.js';

const badRequest = (e: unknown) => e instanceof ConfabError && e.code === 'bad_request';

test('words are lower-cased runs of letters and digits; everything else separates', () => {
  assert.deepEqual(queryWords("Don't DEPLOY café-au-lait v2.3 ana@example.org 日本語 🚀x"), [
    'don', 't', 'deploy', 'café', 'au', 'lait', 'v2', '3', 'ana', 'example', 'org', '日本語', 'x',
  ]);
  assert.deepEqual(wordsOf('Hi, 🚀 Ana!'), [
    { word: 'hi', start: 0, end: 2 },
    { word: 'ana', start: 7, end: 10 },
  ]);
});

test('bare words are ANDed clauses; the last one matches as a prefix; quotes make phrases', () => {
  assert.deepEqual(parseSearch('Deploy release').clauses, [
    { words: ['deploy'], prefix: false },
    { words: ['release'], prefix: true },
  ]);
  assert.deepEqual(parseSearch('"release notes" deploy').clauses, [
    { words: ['release', 'notes'], prefix: false },
    { words: ['deploy'], prefix: true },
  ]);
  assert.deepEqual(parseSearch('deploy "release notes"').clauses[1], { words: ['release', 'notes'], prefix: false });
  assert.deepEqual(parseSearch('deploy "release not').clauses[1], { words: ['release', 'not'], prefix: true }, 'still typing');
  assert.deepEqual(parseSearch('deploy a').clauses[1], { words: ['a'], prefix: false }, 'one letter: whole word only');
  assert.equal(MIN_PREFIX_CHARS, 3);
  assert.deepEqual(parseSearch('th').clauses, [{ words: ['th'], prefix: false }], 'two letters: whole word only');
  assert.deepEqual(parseSearch('the').clauses, [{ words: ['the'], prefix: true }]);
  assert.deepEqual(parseSearch('"release no').clauses, [{ words: ['release', 'no'], prefix: false }]);
  assert.deepEqual(parseSearch('"release not').clauses, [{ words: ['release', 'not'], prefix: true }]);
  assert.deepEqual(parseSearch('deploy deploy DEPLOY').clauses, [{ words: ['deploy'], prefix: true }]);
});

test('Slack-like filters come out of the text; unknown keys are words', () => {
  const p = parseSearch('from:@Ana in:#General deploy after:2026-11-01 before:2026-11-20T10:00:00+01:00 is:open');
  assert.equal(p.from, 'Ana');
  assert.equal(p.in, 'General');
  assert.equal(p.after, Date.UTC(2026, 10, 1));
  assert.equal(p.before, Date.UTC(2026, 10, 20, 9));
  assert.deepEqual(p.clauses.map((c) => c.words), [['deploy'], ['is'], ['open']]);
  assert.equal(parseSearch('FROM:bo').from, 'bo');
  assert.deepEqual(parseSearch('from: x').clauses.map((c) => c.words), [['from'], ['x']], 'no value: words');
});

test('limits and malformed dates are bad_request', () => {
  assert.doesNotThrow(() => parseSearch('x'.repeat(MAX_SEARCH_QUERY_CHARS)));
  assert.throws(() => parseSearch('x'.repeat(MAX_SEARCH_QUERY_CHARS + 1)), badRequest);
  const words = Array.from({ length: MAX_SEARCH_WORDS + 1 }, (_, i) => `w${i}`);
  assert.doesNotThrow(() => parseSearch(words.slice(1).join(' ')));
  assert.throws(() => parseSearch(words.join(' ')), badRequest);
  for (const d of ['2026-02-31', '2026-13-01', 'yesterday', '1700000000', '2026-11-01T25:00Z', '2026-11-01T10:00']) {
    assert.throws(() => parseSearchDate(d, 'after'), badRequest, d);
  }
  assert.equal(parseSearchDate('2028-02-29', 'after'), Date.UTC(2028, 1, 29));
});

test('operators of either dialect never reach the stores: only quoted words do', () => {
  const { clauses } = parseSearch('NEAR(a b) "x" OR y* !z & (w:*) \'q\' -n ^m {b}:k');
  for (const c of clauses) for (const w of c.words) assert.match(w, /^[\p{L}\p{Nd}]+$/u);
  assert.equal(fts5Match([{ words: ['near'], prefix: false }, { words: ['a', 'b'], prefix: true }]), '"near" AND "a b"*');
  assert.equal(tsqueryText([{ words: ['near'], prefix: false }, { words: ['a', 'b'], prefix: true }]), "'near' & ('a' <-> 'b':*)");
  // Defence in depth, should a word ever hold a quote: it stays inside its literal.
  assert.equal(fts5Match([{ words: ['a"b'], prefix: false }]), '"a""b"');
  assert.equal(tsqueryText([{ words: ["a'b\\"], prefix: false }]), "'a''b\\\\'");
  assert.deepEqual(parseSearch('"" * : & | ! ( ) <-> ...').clauses, []);
});

test('highlights: the matched words as UTF-16 ranges, prefixes included, case and emoji respected', () => {
  const body = 'Deploying 🚀 the DEPLOY; re-deploy and deployment';
  const ranges = highlightRanges(body, parseSearch('deploy').clauses);
  assert.deepEqual(ranges.map(([s, e]) => body.slice(s, e)), ['Deploying', 'DEPLOY', 'deploy', 'deployment']);
  const exact = highlightRanges(body, [{ words: ['deploy'], prefix: false }]);
  assert.deepEqual(exact.map(([s, e]) => body.slice(s, e)), ['DEPLOY', 'deploy']);
  assert.deepEqual(highlightRanges(body, []), []);
  const phrase = 'release notes, then more notes';
  assert.deepEqual(
    highlightRanges(phrase, parseSearch('"release notes"').clauses).map(([s, e]) => phrase.slice(s, e)),
    ['release', 'notes', 'notes'],
  );
});
