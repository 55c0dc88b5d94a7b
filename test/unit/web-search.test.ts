/** How the web client shows a search result's body: plain pieces and marked ones, cut around the first match. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bodyPieces, RESULT_EXCERPT_CHARS } from '../../src/web/search-results.js';

const shown = (pieces: Array<{ text: string; mark: boolean }>) => pieces.map((p) => (p.mark ? `[${p.text}]` : p.text)).join('');

test('the ranges are marked, the rest is plain text', () => {
  assert.deepEqual(bodyPieces('deploy the DEPLOY', [[0, 6], [11, 17]]), [
    { text: 'deploy', mark: true },
    { text: ' the ', mark: false },
    { text: 'DEPLOY', mark: true },
  ]);
  assert.equal(shown(bodyPieces('no match here', [])), 'no match here');
  // HTML in a body is text like any other: the pieces are handed to text nodes, never parsed.
  assert.equal(shown(bodyPieces('<b>deploy</b>', [[3, 9]])), '<b>[deploy]</b>');
});

test('ranges out of order, overlapping or past the end (a body edited since) are clamped', () => {
  assert.equal(shown(bodyPieces('abc def', [[4, 7], [0, 3], [1, 2], [5, 99], [-3, 0]])), '[abc] [def]');
});

test('a long body shows a window around the first match, with ellipses, never splitting an emoji', () => {
  const body = `${'🚀'.repeat(200)} needle ${'x'.repeat(400)}`;
  const start = body.indexOf('needle');
  const pieces = bodyPieces(body, [[start, start + 6]]);
  const text = shown(pieces);
  assert.ok(text.startsWith('…') && text.endsWith('…'));
  assert.ok(text.includes('[needle]'));
  const kept = pieces.filter((p) => p.text !== '…').map((p) => p.text).join('');
  assert.ok(kept.length <= RESULT_EXCERPT_CHARS);
  assert.equal(kept.codePointAt(0), 0x1f680, 'starts on a whole emoji');
  assert.doesNotMatch(kept, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/, 'no lone surrogate');
});
