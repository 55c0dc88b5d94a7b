/**
 * The hub gathers presence changes for PRESENCE_COALESCE_MS and sends each local user one `presence` frame
 * listing every change meant for them (the newest state of each changed user), to every connection of theirs,
 * instead of one frame per change and per connection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { ChatService } from '../../src/chat/chat-service.js';
import type { PresenceChange, PresenceService } from '../../src/chat/presence.js';
import type { Principal } from '../../src/chat/principal.js';
import type { ReceiptService } from '../../src/chat/receipts.js';
import { Hub, PRESENCE_COALESCE_MS, type UserEventSink } from '../../src/ws/hub.js';

const who = (userId: number): Principal => ({
  userId, username: `u${userId}`, displayName: `U${userId}`, isAdmin: false, sessionId: null, tokenId: null,
});
const stop = async () => {};

test('presence changes within PRESENCE_COALESCE_MS reach each connection of each audience member as one frame', async (t) => {
  let relay: (change: PresenceChange) => void = () => {};
  // Users 1-4 share a room; 9 shares none with them. Everyone hears about themselves too.
  const audience = (id: number) => (id === 9 ? [9] : [1, 2, 3, 4].filter((u) => u !== id).concat(id));
  const presence = {
    watch: async (listener: (c: PresenceChange) => void) => {
      relay = listener;
      return stop;
    },
    audience: async (id: number) => audience(id),
  } as unknown as PresenceService;
  const chat = { watchRooms: async () => stop, watchUser: async () => stop } as unknown as ChatService;
  const hub = new Hub(chat, {} as ReceiptService, presence, pino({ level: 'silent' }));
  await hub.start();
  t.after(() => hub.close());

  const frames = new Map<string, string[]>();
  const sink = (userId: number, tab: string): UserEventSink => {
    frames.set(tab, []);
    return { principal: who(userId), onUserEvent: () => {}, presenceChanged: (f) => frames.get(tab)!.push(f) };
  };
  for (const s of [sink(1, 'u1-a'), sink(1, 'u1-b'), sink(4, 'u4'), sink(9, 'u9')]) hub.addUserSink(s);

  const change = (id: number, state: PresenceChange['state']): PresenceChange => ({ id, state, lastSeen: null });
  relay(change(2, 'online'));
  relay(change(3, 'online'));
  relay(change(2, 'away'));
  relay(change(9, 'online'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([...frames.values()].flat(), [], 'nothing is sent before the window ends');

  await new Promise((r) => setTimeout(r, PRESENCE_COALESCE_MS + 100));
  const users = (tab: string) => frames.get(tab)!.map((f) => (JSON.parse(f) as { users: Array<{ id: number; state: string }> }).users);
  const expected = [[{ id: 2, state: 'away' }, { id: 3, state: 'online' }]];
  const strip = (lists: Array<Array<{ id: number; state: string }>>) => lists.map((l) => l.map(({ id, state }) => ({ id, state })));
  assert.deepEqual(strip(users('u1-a')), expected, "one frame with user 2's newest state and user 3's");
  assert.deepEqual(strip(users('u1-b')), expected, 'the same frame on every tab');
  assert.deepEqual(strip(users('u4')), expected);
  assert.deepEqual(strip(users('u9')), [[{ id: 9, state: 'online' }]], 'user 9 hears only about itself');

  relay(change(3, 'offline'));
  await new Promise((r) => setTimeout(r, PRESENCE_COALESCE_MS + 100));
  assert.equal(frames.get('u1-a')!.length, 2, 'a later change comes in the next window');
  assert.equal(frames.get('u9')!.length, 1, 'and only to its audience');
});
