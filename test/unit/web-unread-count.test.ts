/**
 * The web client's unread arithmetic: the server's count, plus what arrived since, minus what was read here;
 * own and deleted messages never count, mentions of me are counted apart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatMessage } from '../../src/web/protocol.js';
import { countUnread } from '../../src/web/unread-count.js';

const ME = 1;
const OTHER = 2;
const msg = (seq: number, authorId: number, extra: Partial<ChatMessage> = {}): ChatMessage => ({
  type: 'message',
  room: 9,
  seq,
  id: 100 + seq,
  authorId,
  author: authorId === ME ? 'Me' : 'Other',
  body: `m${seq}`,
  time: '2026-11-25T10:00:00.000Z',
  ...extra,
});

test('read up to the server count: only what arrived after my cursor, by others, not deleted', () => {
  const base = { lastSeq: 3, readSeq: 3, unread: 0, mentions: 0 };
  const held = [msg(4, OTHER), msg(5, ME), msg(6, OTHER, { mentions: [ME] }), msg(7, OTHER, { deleted: true, body: '' })];
  assert.deepEqual(countUnread(base, 3, held, ME), { unread: 2, mentions: 1 });
  assert.deepEqual(countUnread(base, 6, held, ME), { unread: 0, mentions: 0 });
});

test('behind the server count: its count plus news minus what was read here', () => {
  const base = { lastSeq: 10, readSeq: 4, unread: 5, mentions: 1 };
  const held = [msg(5, OTHER, { mentions: [ME] }), msg(6, OTHER), msg(11, OTHER), msg(12, OTHER, { deleted: true, body: '' })];
  assert.deepEqual(countUnread(base, 4, held, ME), { unread: 6, mentions: 1 }, 'seq 11 is news; the deleted 12 is not');
  assert.deepEqual(countUnread(base, 6, held, ME), { unread: 4, mentions: 0 }, 'two read here, one of them a mention');
  assert.deepEqual(countUnread({ ...base, unread: 0, mentions: 0 }, 6, held, ME), { unread: 0, mentions: 0 }, 'never below zero');
});
