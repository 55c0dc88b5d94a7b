/**
 * The web client's RoomLog with update rows (issue 6): an update replaces the held message, moves the gapless
 * run and the newest seq like a message does but is not a message, replaying it changes nothing, and replies
 * quoting a changed message follow it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatMessage, MessageUpdate } from '../../src/web/protocol.js';
import { excerptOf, EXCERPT_CHARS, RoomLog } from '../../src/web/room-log.js';

const ROOM = 7;

function msg(seq: number, body: string, extra: Partial<ChatMessage> = {}): ChatMessage {
  return { type: 'message', room: ROOM, seq, id: 100 + seq, authorId: 1, author: 'Ana', body, time: '2026-11-25T10:00:00.000Z', ...extra };
}

function update(seq: number, kind: MessageUpdate['kind'], message: ChatMessage): MessageUpdate {
  return { type: 'update', room: ROOM, seq, kind, actorId: 1, actor: 'Ana', time: '2026-11-25T10:01:00.000Z', message };
}

test('an update replaces the held message and advances the gapless run without being a message', () => {
  const log = new RoomLog(ROOM);
  log.add([msg(1, 'one'), msg(2, 'two')]);
  log.markLoaded(false);
  assert.equal(log.contiguousTop, 2);

  const edited = msg(1, 'one, edited', { editedAt: '2026-11-25T10:01:00.000Z' });
  assert.deepEqual(log.applyUpdates([update(3, 'edit', edited)]), { changed: true, newSeqs: 1 });
  assert.equal(log.contiguousTop, 3);
  assert.equal(log.maxSeq, 3);
  assert.equal(log.hasGap, false);
  assert.deepEqual(
    log.sorted().map((m) => m.body),
    ['one, edited', 'two'],
  );

  // Replaying the same update is harmless: nothing changes, nothing is redrawn.
  assert.deepEqual(log.applyUpdates([update(3, 'edit', edited)]), { changed: false, newSeqs: 0 });
  assert.equal(log.sorted().length, 2);

  // A message after a missing update row is a gap; the update filling it closes the gap.
  log.add([msg(5, 'five')]);
  assert.equal(log.hasGap, true);
  log.applyUpdates([update(4, 'reaction', { ...msg(2, 'two'), reactions: [{ emoji: '👍', users: [2] }] })]);
  assert.equal(log.hasGap, false);
  assert.equal(log.contiguousTop, 5);
  assert.deepEqual(log.sorted()[1]!.reactions, [{ emoji: '👍', users: [2] }]);
});

test('an update of a message not held only records its seq', () => {
  const log = new RoomLog(ROOM);
  log.add([msg(10, 'ten')]);
  log.markLoaded(true);
  assert.deepEqual(log.applyUpdates([update(11, 'delete', msg(3, '', { deleted: true }))]), { changed: false, newSeqs: 1 });
  assert.equal(log.contiguousTop, 11);
  assert.equal(log.messages.has(3), false);
});

test('replies quoting a changed message follow its edit and its deletion', () => {
  const log = new RoomLog(ROOM);
  const quoted = msg(1, 'the question');
  const ref = { id: quoted.id, seq: 1, authorId: 1, author: 'Ana', excerpt: 'the question', deleted: false };
  log.add([quoted, msg(2, 'the answer', { replyTo: ref })]);
  log.markLoaded(false);

  log.applyUpdates([update(3, 'edit', msg(1, 'the better question'))]);
  assert.equal(log.byId(102)!.replyTo!.excerpt, 'the better question');
  log.applyUpdates([update(4, 'delete', msg(1, '', { deleted: true }))]);
  assert.deepEqual(log.byId(102)!.replyTo, { ...ref, excerpt: '', deleted: true });
});

test('excerpts are cut like the server cuts them', () => {
  assert.equal(excerptOf('short'), 'short');
  assert.equal(excerptOf('x'.repeat(EXCERPT_CHARS + 50)).length, EXCERPT_CHARS);
});

test('a history page read before a change never brings back the older state, and an older update never wins', () => {
  const log = new RoomLog(ROOM);
  log.add([msg(1, 'one')]);
  log.markLoaded(true);
  // A live delete of message 2 arrives before the page (read earlier from the store) that still holds its text.
  const deleted = msg(2, '', { deleted: true });
  log.applyUpdates([update(5, 'delete', deleted)]);
  const [fromPage] = log.add([msg(2, 'secret that was deleted')]);
  assert.equal(fromPage?.body, '', 'the page is overruled by the newer update');
  assert.equal(log.messages.get(2)?.deleted, true);
  // A replayed older update (an edit before the delete) changes nothing.
  assert.deepEqual(log.applyUpdates([update(4, 'edit', msg(2, 'edited before the delete'))]).changed, false);
  assert.equal(log.messages.get(2)?.body, '');
});
