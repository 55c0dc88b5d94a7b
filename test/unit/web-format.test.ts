/** Pure text helpers of the web client. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lastSeenText, typingText } from '../../src/web/format.js';

test('typing line: nobody, one, two, several', () => {
  assert.equal(typingText([]), '');
  assert.equal(typingText(['Ana']), 'Ana is typing…');
  assert.equal(typingText(['Ana', 'Ben']), 'Ana and Ben are typing…');
  assert.equal(typingText(['Ana', 'Ben', 'Cam']), 'Several people are typing…');
});

test('last seen is written relative to now', () => {
  const now = Date.parse('2026-11-25T12:00:00Z');
  assert.match(lastSeenText('2026-11-25T11:59:50Z', now), /just now/i);
  assert.match(lastSeenText('2026-11-25T11:55:00Z', now), /5 min/);
});
