/**
 * Issue 5 on one instance: cursors and unread counts (monotonic, clamped, read <= delivered, members only),
 * private receipts, coalesced `receipts` frames, typing relayed but never stored and throttled, mentions,
 * notification levels and settings over HTTP, and presence online/away/offline with lastSeen.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expectFrame, TestServer, type ChatClient } from '../helpers/server.js';
import type { ServerFrame } from '../helpers/frame-schemas.js';
import { PRESENCE_MIN_INTERVAL_MS } from '../../src/chat/presence.js';

let server: TestServer;
before(async () => {
  server = await TestServer.start({ MESSAGE_RATE_LIMIT: '1000' });
});
after(() => server.close());

type Frame<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;
const isType =
  <T extends ServerFrame['type']>(type: T, pred: (f: Frame<T>) => boolean = () => true) =>
  (f: ServerFrame) =>
    f.type === type && pred(f as Frame<T>);

/** A private room of `owner` with the other test accounts invited. */
async function roomWith(name: string, owner: string, others: string[]) {
  const room = await server.createRoom(name, { private: true, as: owner });
  for (const o of others) {
    const u = await server.user(o);
    const r = await server.api('POST', `/api/rooms/${room.id}/members`, { as: await server.user(owner), body: { userId: u.user.id } });
    assert.equal(r.status, 204);
  }
  return room;
}

test('after hello: unread for every room and a presence snapshot', async () => {
  const room = await roomWith('hello-room', 'Hana', ['Hugo']);
  const hana = await server.connect('Hana');
  await hana.subscribe(room.id);
  await hana.post(room.id, 'one');
  await hana.post(room.id, 'two');
  const hugo = await server.connect('Hugo');
  const unread = expectFrame(await hugo.next(isType('unread')), 'unread');
  const entry = unread.rooms.find((r) => r.room === room.id);
  assert.deepEqual(entry, { room: room.id, lastSeq: 2, readSeq: 0, unread: 2, mentions: 0, notify: 'default' });
  const hanaId = hana.hello.user.id;
  const presence = expectFrame(await hugo.next(isType('presence', (f) => f.users.some((u) => u.id === hanaId)), 5000), 'presence');
  assert.equal(presence.users.find((u) => u.id === hanaId)?.state, 'online');
});

test('receipts: monotonic, clamped, read <= delivered; non-members get not_found; many in a window make one frame', async () => {
  const room = await roomWith('cursor-room', 'Cora', ['Carl']);
  const cora = await server.connect('Cora');
  const carl = await server.connect('Carl');
  await cora.subscribe(room.id);
  const snapshot = await cora.next(isType('receipts', (f) => f.room === room.id));
  assert.deepEqual(expectFrame(snapshot, 'receipts').cursors, [], 'members whose cursors never moved are left out');
  for (let i = 1; i <= 5; i++) await cora.post(room.id, `m${i}`);
  await carl.subscribe(room.id);
  await carl.next(isType('receipts', (f) => f.room === room.id));
  const carlId = carl.hello.user.id!;
  // Several receipts in quick succession: cora sees the final cursors, in one frame.
  carl.send({ type: 'receipt', room: room.id, delivered: 2 });
  carl.send({ type: 'receipt', room: room.id, delivered: 4, read: 1 });
  carl.send({ type: 'receipt', room: room.id, read: 3 });
  carl.send({ type: 'receipt', room: room.id, delivered: 1, read: 0 });
  carl.send({ type: 'receipt', room: room.id, delivered: 99, read: 99 });
  const pong = await carl.request({ type: 'ping' });
  assert.equal(pong.type, 'pong');
  const frame = expectFrame(
    await cora.next(isType('receipts', (f) => f.room === room.id && f.cursors.some((c) => c.user === carlId && c.read === 5))),
    'receipts',
  );
  assert.deepEqual(frame.cursors, [{ user: carlId, delivered: 5, read: 5 }], 'clamped to lastSeq');
  const changes = cora.frames.filter((f) => f.type === 'receipts' && f.room === room.id && f !== snapshot);
  assert.equal(changes.length, 1, `one coalesced frame, got ${JSON.stringify(changes)}`);
  // Carl's other tabs and this one get the unread state with 0.
  const unread = expectFrame(await carl.next(isType('unread', (f) => f.rooms.some((r) => r.room === room.id && r.readSeq === 5))), 'unread');
  assert.deepEqual(unread.rooms, [{ room: room.id, lastSeq: 5, readSeq: 5, unread: 0, mentions: 0, notify: 'default' }]);
  // Never moves back (a late, smaller receipt changes nothing).
  const rooms = await server.api('GET', '/api/rooms', { as: await server.user('Carl') });
  const listed = (rooms.json as { rooms: Array<{ id: number; readSeq?: number; unread?: number }> }).rooms.find((r) => r.id === room.id);
  assert.deepEqual([listed?.readSeq, listed?.unread], [5, 0]);
  // A later subscribe's snapshot has the members who moved, and only them.
  const coraAgain = await server.connect('Cora');
  await coraAgain.subscribe(room.id);
  const later = expectFrame(await coraAgain.next(isType('receipts', (f) => f.room === room.id)), 'receipts');
  assert.deepEqual(later.cursors, [{ user: carlId, delivered: 5, read: 5 }]);
  // Not a member: not_found.
  const outsider = await server.connect('Otto');
  const err = await outsider.request({ type: 'receipt', room: room.id, read: 1 });
  assert.equal(err.type === 'error' && err.code, 'not_found');
  const typingErr = await outsider.request({ type: 'typing', room: room.id });
  assert.equal(typingErr.type === 'error' && typingErr.code, 'not_found');
});

test('private receipts hide read from others but not from the reader\'s own tabs', async () => {
  const room = await roomWith('private-rcpt', 'Pia', ['Paul']);
  const paulAccount = await server.user('Paul');
  const set = await server.api('PUT', '/api/me/settings', { as: paulAccount, body: { privateReceipts: true } });
  assert.equal(set.status, 200);
  assert.equal((set.json as { user: { privateReceipts: boolean } }).user.privateReceipts, true);
  const me = await server.api('GET', '/api/me', { as: paulAccount });
  assert.equal((me.json as { user: { privateReceipts: boolean } }).user.privateReceipts, true);
  const pia = await server.connect('Pia');
  const paul1 = await server.connect('Paul');
  const paul2 = await server.connect('Paul');
  for (const c of [pia, paul1, paul2]) await c.subscribe(room.id);
  await pia.post(room.id, 'secret?');
  paul1.send({ type: 'receipt', room: room.id, delivered: 1, read: 1 });
  const paulId = paul1.hello.user.id!;
  const seenByPia = expectFrame(await pia.next(isType('receipts', (f) => f.cursors.some((c) => c.user === paulId && c.delivered === 1))), 'receipts');
  assert.deepEqual(seenByPia.cursors.find((c) => c.user === paulId), { user: paulId, delivered: 1 });
  const seenByTab = expectFrame(await paul2.next(isType('receipts', (f) => f.cursors.some((c) => c.user === paulId && c.delivered === 1))), 'receipts');
  assert.deepEqual(seenByTab.cursors.find((c) => c.user === paulId), { user: paulId, delivered: 1, read: 1 });
  await paul2.next(isType('unread', (f) => f.rooms.some((r) => r.room === room.id && r.readSeq === 1)));
});

test('#23 typing reaches the others, not the typist\'s own connections; never stored; more than one per second dropped', async () => {
  const room = await roomWith('typing-room', 'Tina', ['Tom']);
  const tina1 = await server.connect('Tina');
  const tina2 = await server.connect('Tina');
  const tom = await server.connect('Tom');
  for (const c of [tina1, tina2, tom]) await c.subscribe(room.id);
  for (let i = 0; i < 5; i++) tina1.send({ type: 'typing', room: room.id });
  const typing = expectFrame(await tom.next(isType('typing', (f) => f.room === room.id)), 'typing');
  assert.deepEqual(typing.user, { id: tina1.hello.user.id, displayName: 'Tina' });
  // A ping round trip on each side orders everything before it; one marker message flushes the room.
  await tina1.request({ type: 'ping' });
  await tina1.post(room.id, 'marker');
  await tom.waitForMessages(room.id, 1);
  assert.equal(tom.frames.filter((f) => f.type === 'typing').length, 1, 'the burst is throttled to one');
  await tina2.waitForMessages(room.id, 1);
  assert.equal(tina1.frames.filter((f) => f.type === 'typing').length + tina2.frames.filter((f) => f.type === 'typing').length, 0);
  assert.deepEqual((await tom.allHistory(room.id)).map((m) => m.body), ['marker'], 'typing is never stored');
});

test('mentions: stored, sent in message frames and counted apart; notify level over HTTP', async () => {
  const room = await roomWith('mention-room', 'Mia', ['Max']);
  const maxAccount = await server.user('Max');
  const mia = await server.connect('Mia');
  await mia.subscribe(room.id);
  await mia.post(room.id, `hi @${maxAccount.user.username.toUpperCase()} and @nobody-here`);
  const [m] = await mia.waitForMessages(room.id, 1);
  assert.deepEqual(m?.mentions, [maxAccount.user.id]);
  const bad = await server.api('PUT', `/api/rooms/${room.id}/notify`, { as: maxAccount, body: { level: 'loud' } });
  assert.equal(bad.status, 400);
  const ok = await server.api('PUT', `/api/rooms/${room.id}/notify`, { as: maxAccount, body: { level: 'mentions' } });
  assert.equal(ok.status, 204);
  const outsider = await server.api('PUT', `/api/rooms/${room.id}/notify`, { as: await server.user('Nina'), body: { level: 'all' } });
  assert.equal(outsider.status, 404);
  const max = await server.connect('Max');
  const unread = expectFrame(await max.next(isType('unread')), 'unread');
  assert.deepEqual(unread.rooms.find((r) => r.room === room.id), {
    room: room.id, lastSeq: 1, readSeq: 0, unread: 1, mentions: 1, notify: 'mentions',
  });
});

test('presence: online, away when every tab is away, offline with lastSeen when the last closes', async () => {
  await roomWith('presence-room', 'Olga', ['Omar']);
  const olga = await server.connect('Olga');
  const omar1 = await server.connect('Omar');
  const omar2 = await server.connect('Omar');
  const omarId = omar1.hello.user.id!;
  const stateOf = (c: ChatClient, state: string) =>
    c.next(isType('presence', (f) => f.users.some((u) => u.id === omarId && u.state === state)));
  omar1.send({ type: 'presence', state: 'away' });
  omar2.send({ type: 'presence', state: 'away' });
  await stateOf(olga, 'away');
  omar2.send({ type: 'presence', state: 'active' });
  await stateOf(olga, 'online');
  await omar1.close();
  await omar2.close();
  // Olga's snapshot showed Omar offline before he connected (never seen): wait for the change.
  const offline = expectFrame(
    await olga.next(isType('presence', (f) => f.users.some((u) => u.id === omarId && u.state === 'offline' && u.lastSeen !== null))),
    'presence',
  );
  assert.ok(offline.users.find((u) => u.id === omarId)?.lastSeen, 'lastSeen set');
});

test('#23 a presence flood is coalesced: at most one change a window reaches the others, the last state wins', async () => {
  await roomWith('presence-flood', 'Flo', ['Fred']);
  const flo = await server.connect('Flo');
  const fred = await server.connect('Fred');
  const fredId = fred.hello.user.id!;
  const aboutFred = (f: ServerFrame) => f.type === 'presence' && f.users.some((u) => u.id === fredId);
  await flo.next((f) => aboutFred(f) && f.type === 'presence' && f.users.some((u) => u.state === 'online'));
  const before = flo.frames.filter(aboutFred).length;
  // 40 changes within a few milliseconds, ending on away.
  for (let i = 0; i < 40; i++) fred.send({ type: 'presence', state: i % 2 === 0 ? 'away' : 'active' });
  fred.send({ type: 'presence', state: 'away' });
  await flo.next((f) => aboutFred(f) && f.type === 'presence' && f.users.some((u) => u.id === fredId && u.state === 'away'));
  // Past the window and one more: whatever the flood caused has arrived by then.
  await new Promise((r) => setTimeout(r, 2 * PRESENCE_MIN_INTERVAL_MS + 200));
  const relayed = flo.frames.filter(aboutFred).slice(before);
  assert.ok(relayed.length <= 3, `${relayed.length} presence frames about Fred for 41 changes`);
  const last = relayed.at(-1)!;
  assert.equal(last.type === 'presence' && last.users.find((u) => u.id === fredId)?.state, 'away', 'the last state wins');
});

test('presence reaches only people who share a room with the user (and their own tabs), not everyone connected', async () => {
  await roomWith('presence-pair', 'Pia', ['Pam']);
  const pia = await server.connect('Pia');
  const stranger = await server.connect('Stranger');
  const pam = await server.connect('Pam');
  const pamId = pam.hello.user.id!;
  const aboutPam = (f: ServerFrame) => f.type === 'presence' && f.users.some((u) => u.id === pamId);
  pam.send({ type: 'presence', state: 'away' });
  await pia.next((f) => aboutPam(f) && f.type === 'presence' && f.users.some((u) => u.state === 'away'));
  // The stranger shares no room with Pam. A ping sent after Pam's change comes back after anything about her.
  expectFrame(await stranger.request({ type: 'ping' }), 'pong');
  await pia.request({ type: 'ping' });
  assert.equal(stranger.frames.filter(aboutPam).length, 0, 'a stranger never hears about Pam');
});
