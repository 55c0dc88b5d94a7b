import assert from 'node:assert/strict';
import { test } from 'node:test';
import { charCount, checkBody, checkEmoji, checkRoomName, parseDisplayName, roomNameKey } from '../../src/chat/rules.js';
import { ConfabError } from '../../src/errors.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof ConfabError ? err.code : 'other';
  }
  return 'ok';
};

test('room names: letters (any script), digits, - and _; 1 to 64 characters', () => {
  for (const ok of ['lobby', 'Team-42', 'café', 'チャット', 'a', 'x'.repeat(64), 'snake_case']) {
    assert.equal(code(() => checkRoomName(ok)), 'ok', ok);
  }
  for (const bad of ['', ' ', 'has space', 'x'.repeat(65), 'semi;colon', '../etc', 'a/b', 'emoji🎉', 'tab\t', 42, null]) {
    assert.equal(code(() => checkRoomName(bad)), 'bad_room_name', String(bad));
  }
});

test('room name uniqueness ignores case and Unicode normalisation', () => {
  assert.equal(roomNameKey('Lobby'), roomNameKey('lobby'));
  assert.equal(roomNameKey('Cafe\u0301'), roomNameKey('café'));
});

test('bodies: empty or blank refused, length counted in code points, stored verbatim', () => {
  assert.equal(code(() => checkBody('', 10)), 'empty_message');
  assert.equal(code(() => checkBody(' \n\t ', 10)), 'empty_message');
  assert.equal(checkBody('  padded  ', 10), '  padded  ');
  assert.equal(charCount('🎉🎉'), 2);
  assert.equal(code(() => checkBody('🎉'.repeat(10), 10)), 'ok');
  assert.equal(code(() => checkBody('🎉'.repeat(11), 10)), 'too_long');
});

test('display names: trimmed, limited, no control characters; invalid means none', () => {
  assert.equal(parseDisplayName(' Ana María '), 'Ana María');
  assert.equal(parseDisplayName('ben.k_2'), 'ben.k_2');
  for (const bad of [null, undefined, '', '   ', 'a'.repeat(33), 'a\u0000b', 'two  spaces', '<script>', 'x\u202ey']) {
    assert.equal(parseDisplayName(bad), null, String(bad));
  }
});

test('reactions: exactly one emoji of any kind; a bare symbol is stored fully qualified', () => {
  for (const ok of ['👍', '👋🏽', '👨‍👩‍👧', '🇵🇹', '1️⃣', '❤️', '🏴󠁧󠁢󠁳󠁣󠁴󠁿']) assert.equal(checkEmoji(ok), ok, ok);
  assert.equal(checkEmoji('❤'), '❤️', 'the same reaction however the keyboard spells it');
  for (const bad of ['', 'a', '1', '👍👍', '👍 ', ':+1:', '<b>', '\u202E👍', 42, null, '👍'.repeat(20)]) {
    assert.equal(code(() => checkEmoji(bad)), 'bad_request', JSON.stringify(bad));
  }
});

test('an empty body is allowed only where the caller says (a message with files)', () => {
  assert.equal(code(() => checkBody('', 10)), 'empty_message');
  assert.equal(checkBody('', 10, true), '');
  assert.equal(code(() => checkBody('x'.repeat(11), 10, true)), 'too_long');
});
