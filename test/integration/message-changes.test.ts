/**
 * Edits, deletes, reactions and replies (issue 6) over the real `/ws` protocol and the HTTP API: who may do
 * what, that each change reaches live subscribers at once as an `update` row of the room's `seq` stream, that
 * history shows the present state, that a client that was away gets the changes on resume, that changes are
 * never unread, and that the original endpoint skips them. The last test runs two instances on PostgreSQL and
 * Redis.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { ServerFrame } from '../helpers/frame-schemas.js';
import { freshDatabase } from '../helpers/postgres.js';
import { PrivateRedis } from '../helpers/redis.js';
import { apiError, expectFrame, TestServer, type Account, type ChatClient } from '../helpers/server.js';

type Frame<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;
type Message = Frame<'message'>;
type Update = Frame<'update'>;

let server: TestServer;
before(async () => {
  server = await TestServer.start({ MESSAGE_RATE_LIMIT: '1000000', FRAMES_PER_SECOND: '1000000' });
});
after(() => server.close());

/** The next `update` frame of the room (optionally of one kind). */
function nextUpdate(client: ChatClient, room: number, kind?: Update['kind']): Promise<Update> {
  return client.next((f) => f.type === 'update' && f.room === room && (kind === undefined || f.kind === kind)) as Promise<Update>;
}

/** Sends a change frame and returns the `done` (or fails with the error it got). */
async function change(client: ChatClient, frame: Record<string, unknown>): Promise<Frame<'done'>> {
  return expectFrame(await client.request(frame), 'done');
}

/** Sends a change frame that must be refused, and returns the error's code. */
async function refused(client: ChatClient, frame: Record<string, unknown>): Promise<string> {
  return expectFrame(await client.request(frame), 'error').code;
}

/** A fresh public room owned by `owner` with `others` joined, and a connected, subscribed client per person. */
async function setUp(owner: string, ...others: string[]) {
  const name = `r${randomUUID().slice(0, 8)}`;
  const room = await server.createRoom(name, { as: owner });
  const clients: ChatClient[] = [];
  for (const who of [owner, ...others]) {
    if (who !== owner) {
      const joined = await server.api('POST', `/api/rooms/${room.id}/join`, { as: await server.user(who) });
      assert.equal(joined.status, 200);
    }
    const c = await server.connect(who);
    await c.subscribe(room.id);
    clients.push(c);
  }
  return { room, clients };
}

/** The one message `seq` of the room as history (scrolling up) shows it now. */
async function inHistory(client: ChatClient, room: number, seq: number): Promise<Message> {
  const page = expectFrame(await client.request({ type: 'history', room, limit: 100 }), 'history');
  const found = page.messages.find((m) => m.type === 'message' && m.seq === seq);
  assert.ok(found, `seq ${seq} is in history`);
  return found as Message;
}

test('edit: only the author; everyone sees the new text live, marked edited; history shows it; mentions follow', async () => {
  const { room, clients } = await setUp('EdOwner', 'EdReader');
  const [author, reader] = clients as [ChatClient, ChatClient];
  const readerAccount = await server.user('EdReader');
  const ack = await author.post(room.id, 'frist draft');

  const seen = nextUpdate(reader, room.id, 'edit');
  const done = await change(author, { type: 'edit', room: room.id, messageId: ack.messageId, body: `first draft @${readerAccount.user.username}` });
  assert.equal(done.messageId, ack.messageId);
  assert.equal(done.seq, ack.seq + 1, 'the edit takes the next seq of the room');
  const update = await seen;
  assert.equal(update.seq, done.seq);
  assert.equal(update.actorId, author.hello.user.id);
  assert.equal(update.message?.id, ack.messageId);
  assert.equal(update.message?.seq, ack.seq, 'the message keeps its place');
  assert.equal(update.message?.body, `first draft @${readerAccount.user.username}`);
  assert.ok(update.message?.editedAt, 'marked edited, with the time');
  assert.deepEqual(update.message?.mentions, [readerAccount.user.id], 'the new mention is resolved');

  const shown = await inHistory(reader, room.id, ack.seq);
  assert.equal(shown.body, update.message?.body);
  assert.equal(shown.editedAt, update.message?.editedAt);
  assert.equal(
    (await reader.request({ type: 'history', room: room.id, limit: 100 }).then((f) => expectFrame(f, 'history'))).messages.length,
    1,
    'history scrolling up lists messages only, never the change rows',
  );

  assert.equal(await refused(reader, { type: 'edit', room: room.id, messageId: ack.messageId, body: 'mine now' }), 'forbidden');
  assert.equal(await refused(author, { type: 'edit', room: room.id, messageId: ack.messageId, body: '   ' }), 'empty_message');
  assert.equal(await refused(author, { type: 'edit', room: room.id, messageId: 987654, body: 'x' }), 'not_found');
  const same = await change(author, { type: 'edit', room: room.id, messageId: ack.messageId, body: update.message!.body });
  assert.equal(same.seq, null, 'the same text again changes nothing');
});

test('delete: the author, the room owner or an admin; a placeholder everywhere, live and in history', async () => {
  const { room, clients } = await setUp('DelOwner', 'DelAnn', 'DelBob');
  const [owner, ann, bob] = clients as [ChatClient, ChatClient, ChatClient];
  const annMsg = await ann.post(room.id, 'ann says something regrettable');
  const bobMsg = await bob.post(room.id, 'bob too');
  const third = await bob.post(room.id, 'and a third');
  const reacted = await change(owner, { type: 'react', room: room.id, messageId: annMsg.messageId, emoji: '👍', on: true });
  assert.ok(reacted.seq);

  assert.equal(await refused(bob, { type: 'delete', room: room.id, messageId: annMsg.messageId }), 'forbidden', 'not yours');

  const seenByBob = nextUpdate(bob, room.id, 'delete');
  const own = await change(ann, { type: 'delete', room: room.id, messageId: annMsg.messageId });
  const placeholder = await seenByBob;
  assert.equal(placeholder.seq, own.seq);
  assert.equal(placeholder.message?.deleted, true);
  assert.equal(placeholder.message?.body, '', 'the text is gone');
  assert.deepEqual(placeholder.message?.reactions, [], 'its reactions are gone');

  const byOwner = await change(owner, { type: 'delete', room: room.id, messageId: bobMsg.messageId });
  assert.ok(byOwner.seq, "the room's owner deletes anyone's message");

  const adminAccount = await server.user('DelAdmin');
  await server.confab.accounts.setAdmin(adminAccount.user.username, true);
  const admin = await server.connect('DelAdmin');
  assert.ok((await change(admin, { type: 'delete', room: room.id, messageId: third.messageId })).seq, 'an admin too');

  const again = await change(ann, { type: 'delete', room: room.id, messageId: annMsg.messageId });
  assert.equal(again.seq, null, 'deleting twice changes nothing');
  assert.equal(await refused(ann, { type: 'edit', room: room.id, messageId: annMsg.messageId, body: 'undo' }), 'not_found');
  assert.equal(await refused(owner, { type: 'react', room: room.id, messageId: annMsg.messageId, emoji: '👍', on: true }), 'not_found');

  for (const seq of [annMsg.seq, bobMsg.seq, third.seq]) {
    const m = await inHistory(bob, room.id, seq);
    assert.equal(m.deleted, true);
    assert.equal(m.body, '');
  }
  const http = await server.api('GET', `/api/rooms/${room.id}/messages/${annMsg.messageId}`, { as: await server.user('DelBob') });
  assert.equal(http.status, 200);
  assert.equal((http.json as { message: Message }).message.deleted, true);
});

test('reactions: any single emoji, set and taken back, with who reacted; repeats change nothing', async () => {
  const { room, clients } = await setUp('ReOwner', 'ReAnn');
  const [owner, ann] = clients as [ChatClient, ChatClient];
  const msg = await owner.post(room.id, 'react to me');

  const seen = nextUpdate(owner, room.id, 'reaction');
  const first = await change(ann, { type: 'react', room: room.id, messageId: msg.messageId, emoji: '👍', on: true });
  const update = await seen;
  assert.equal(update.seq, first.seq);
  assert.deepEqual(update.message?.reactions, [{ emoji: '👍', users: [ann.hello.user.id!] }]);

  await change(owner, { type: 'react', room: room.id, messageId: msg.messageId, emoji: '👍', on: true });
  await change(owner, { type: 'react', room: room.id, messageId: msg.messageId, emoji: '👨‍👩‍👧', on: true });
  const heart = await change(ann, { type: 'react', room: room.id, messageId: msg.messageId, emoji: '❤', on: true });
  assert.ok(heart.seq, 'a bare heart is accepted');
  const twice = await change(ann, { type: 'react', room: room.id, messageId: msg.messageId, emoji: '👍', on: true });
  assert.equal(twice.seq, null, 'the same reaction twice changes nothing (a retry is harmless)');
  const off = await change(owner, { type: 'react', room: room.id, messageId: msg.messageId, emoji: '👍', on: false });
  assert.ok(off.seq);

  const now = await inHistory(ann, room.id, msg.seq);
  assert.deepEqual(now.reactions, [
    { emoji: '👍', users: [ann.hello.user.id!] },
    { emoji: '👨‍👩‍👧', users: [owner.hello.user.id!] },
    { emoji: '❤️', users: [ann.hello.user.id!] },
  ]);

  for (const emoji of ['', 'a', '👍👍', '<img src=x>', ':+1:', '1']) {
    assert.equal(await refused(ann, { type: 'react', room: room.id, messageId: msg.messageId, emoji, on: true }), 'bad_request', emoji);
  }
  const many = ['😀', '😃', '😄', '😁', '😆', '😅', '😂', '🤣', '😊', '😇', '🙂', '🙃', '😉', '😌', '😍', '🥰', '😘'];
  for (const emoji of many) await change(ann, { type: 'react', room: room.id, messageId: msg.messageId, emoji, on: true });
  assert.equal(
    await refused(ann, { type: 'react', room: room.id, messageId: msg.messageId, emoji: '🐢', on: true }),
    'bad_request',
    'a 21st kind of reaction is refused',
  );
  await change(owner, { type: 'react', room: room.id, messageId: msg.messageId, emoji: '😀', on: true });
});

test('replies quote the message as it stands; a quote of another room is refused', async () => {
  const { room, clients } = await setUp('RpOwner', 'RpAnn');
  const [owner, ann] = clients as [ChatClient, ChatClient];
  const other = await server.createRoom(`r${randomUUID().slice(0, 8)}`, { as: 'RpOwner' });
  const foreign = await owner.post(other.id, 'elsewhere');
  const quoted = await owner.post(room.id, `${'long '.repeat(100)}end`);

  const live = ann.next((f) => f.type === 'message' && f.room === room.id && f.replyTo !== null) as Promise<Message>;
  const reply = expectFrame(
    await ann.request({ type: 'send', room: room.id, clientMsgId: randomUUID(), body: 'agreed', replyTo: quoted.messageId }),
    'ack',
  );
  const seen = await live;
  assert.equal(seen.seq, reply.seq);
  assert.equal(seen.replyTo?.id, quoted.messageId);
  assert.equal(seen.replyTo?.seq, quoted.seq, 'the seq lets the client jump to it in history');
  assert.equal(seen.replyTo?.authorId, owner.hello.user.id);
  assert.equal(seen.replyTo?.excerpt.length, 200, 'the excerpt is the start of the quoted body');

  const wrong = await ann.request({ type: 'send', room: room.id, clientMsgId: randomUUID(), body: 'x', replyTo: foreign.messageId });
  assert.equal(expectFrame(wrong, 'error').code, 'not_found');

  await change(owner, { type: 'delete', room: room.id, messageId: quoted.messageId });
  const after = await inHistory(ann, room.id, reply.seq);
  assert.deepEqual(after.replyTo && { deleted: after.replyTo.deleted, excerpt: after.replyTo.excerpt }, { deleted: true, excerpt: '' });
});

test('resume carries the edits, deletes and reactions made while a client was away, in seq order', async () => {
  const { room, clients } = await setUp('RsOwner', 'RsAway');
  const [owner, away] = clients as [ChatClient, ChatClient];
  const keep = await owner.post(room.id, 'keep me');
  const gone = await owner.post(room.id, 'delete me');
  await away.waitForMessages(room.id, 2);
  const since = gone.seq;
  await away.close();

  await change(owner, { type: 'edit', room: room.id, messageId: keep.messageId, body: 'kept, edited' });
  await change(owner, { type: 'delete', room: room.id, messageId: gone.messageId });
  await change(owner, { type: 'react', room: room.id, messageId: keep.messageId, emoji: '🎉', on: true });
  const newer = await owner.post(room.id, 'said while you were away');

  const back = await server.connect('RsAway');
  const resumed = back.next((f) => f.type === 'resumed');
  back.send({ type: 'resume', id: 'again', rooms: [{ room: room.id, since }] });
  await resumed;
  const rows: Array<Message | Update> = [];
  while (rows.length < 4) {
    rows.push((await back.next((f) => (f.type === 'update' || f.type === 'message') && f.room === room.id)) as Message | Update);
  }
  assert.deepEqual(
    rows.map((r) => r.seq),
    [since + 1, since + 2, since + 3, since + 4],
    'every row after `since`, gapless, in order',
  );
  assert.deepEqual(
    rows.map((r) => (r.type === 'update' ? r.kind : 'message')),
    ['edit', 'delete', 'reaction', 'message'],
  );
  const [edit, del, reaction] = rows as [Update, Update, Update];
  // Each replayed change shows the message as it stands now, so applying them in any order converges.
  assert.equal(edit.message?.body, 'kept, edited');
  assert.deepEqual(edit.message?.reactions, [{ emoji: '🎉', users: [owner.hello.user.id!] }]);
  assert.equal(del.message?.deleted, true);
  assert.equal(reaction.message?.id, keep.messageId);
  assert.equal((rows[3] as Message).seq, newer.seq);
});

test('changes are never unread and never reach the original endpoint', async () => {
  const owner = await server.user('UnOwner');
  const readerAccount = await server.user('UnReader');
  const { room, clients } = await setUp('UnOwner', 'UnReader');
  const [ownerClient] = clients as [ChatClient];
  const legacy = await server.connectLegacy(room.name, 'UnLegacy');
  const m = await ownerClient.post(room.id, 'one');
  await ownerClient.post(room.id, 'two');
  await change(ownerClient, { type: 'edit', room: room.id, messageId: m.messageId, body: 'one!' });
  await change(ownerClient, { type: 'react', room: room.id, messageId: m.messageId, emoji: '👀', on: true });
  await change(ownerClient, { type: 'delete', room: room.id, messageId: m.messageId });
  const last = await ownerClient.post(room.id, 'three');

  const rooms = await server.listRooms(readerAccount);
  const mine = rooms.find((r) => r.id === room.id);
  assert.equal(mine?.lastSeq, last.seq);
  assert.equal(mine?.unread, 2, 'two live messages by others; the deleted one and the changes do not count');
  assert.ok(owner);

  const texts: string[] = [];
  while (texts.length < 3) {
    const f = await legacy.next();
    if ('message' in f) texts.push(f.message);
  }
  assert.deepEqual(texts, ['one', 'two', 'three'], 'the original protocol sees messages only');
});

test('HTTP: post, read, edit, react and delete with the same rules as the frames', async () => {
  const owner = await server.user('HtOwner');
  const ann = await server.user('HtAnn');
  const outsider = await server.user('HtOutsider');
  const room = await server.createRoom(`p${randomUUID().slice(0, 8)}`, { private: true, as: owner });
  const invited = await server.api('POST', `/api/rooms/${room.id}/members`, { as: owner, body: { username: ann.user.username } });
  assert.equal(invited.status, 204);

  const posted = await server.api('POST', `/api/rooms/${room.id}/messages`, { as: ann, body: { body: 'from a script', clientMsgId: 'bot-1' } });
  assert.equal(posted.status, 201, JSON.stringify(posted.json));
  const message = (posted.json as { message: Message }).message;
  const retry = await server.api('POST', `/api/rooms/${room.id}/messages`, { as: ann, body: { body: 'from a script', clientMsgId: 'bot-1' } });
  assert.equal((retry.json as { message: Message }).message.id, message.id, 'idempotent on clientMsgId');
  const url = `/api/rooms/${room.id}/messages/${message.id}`;

  const edited = await server.api('PATCH', url, { as: ann, body: { body: 'from a script (fixed)' } });
  assert.equal(edited.status, 200);
  assert.ok((edited.json as { message: Message }).message.editedAt);
  assert.equal(apiError(await server.api('PATCH', url, { as: owner, body: { body: 'hijack' } })).code, 'forbidden');

  const put = await server.api('PUT', `${url}/reactions/${encodeURIComponent('🚀')}`, { as: owner });
  assert.deepEqual((put.json as { message: Message }).message.reactions, [{ emoji: '🚀', users: [owner.user.id] }]);
  const bad = await server.api('PUT', `${url}/reactions/${encodeURIComponent('nope')}`, { as: owner });
  assert.equal(bad.status, 400);
  const removed = await server.api('DELETE', `${url}/reactions/${encodeURIComponent('🚀')}`, { as: owner });
  assert.deepEqual((removed.json as { message: Message }).message.reactions, []);

  // A room one may not read answers exactly like a message that does not exist.
  for (const [method, body] of [['GET', undefined], ['PATCH', { body: 'x' }], ['DELETE', undefined]] as const) {
    const foreign = await server.api(method, url, { as: outsider, ...(body ? { body } : {}) });
    const missing = await server.api(method, `/api/rooms/${room.id}/messages/99999999`, { as: ann, ...(body ? { body } : {}) });
    assert.equal(foreign.status, 404, `${method} by an outsider`);
    assert.equal(missing.status, 404, `${method} of a missing message`);
    assert.equal(apiError(foreign).code, 'not_found');
  }
  const csrf = await server.api('DELETE', url, { as: ann, origin: 'http://evil.example' });
  assert.equal(csrf.status, 403, 'a cross-site delete is refused');

  assert.equal((await server.api('DELETE', url, { as: owner })).status, 204, 'the owner of the private room deletes');
  const after = await server.api('GET', url, { as: ann });
  assert.equal((after.json as { message: Message }).message.deleted, true);
});

test('two instances on PostgreSQL and Redis: a change made on one reaches subscribers of the other, and history agrees', async () => {
  const db = await freshDatabase();
  const redis = await PrivateRedis.create();
  const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, MESSAGE_RATE_LIMIT: '1000' };
  const a = await TestServer.start(env);
  const b = await TestServer.start(env);
  try {
    const ana: Account = await a.user('Ana');
    const room = await a.createRoom('shared', { as: ana });
    const onA = await a.connect(ana);
    const onB = await b.connect(ana);
    await onA.subscribe(room.id);
    await onB.subscribe(room.id);
    const m = await onA.post(room.id, 'typo hree');
    await onB.waitForMessages(room.id, 1);
    const edited = nextUpdate(onB, room.id, 'edit');
    await change(onA, { type: 'edit', room: room.id, messageId: m.messageId, body: 'typo here' });
    assert.equal((await edited).message?.body, 'typo here');
    const reacted = nextUpdate(onB, room.id, 'reaction');
    await change(onB, { type: 'react', room: room.id, messageId: m.messageId, emoji: '✅', on: true });
    assert.deepEqual((await nextUpdate(onA, room.id, 'reaction')).message?.reactions, [{ emoji: '✅', users: [ana.user.id] }]);
    await reacted;
    const deleted = nextUpdate(onA, room.id, 'delete');
    await change(onB, { type: 'delete', room: room.id, messageId: m.messageId });
    assert.equal((await deleted).message?.deleted, true);
    const history = expectFrame(await onA.request({ type: 'history', room: room.id, after: 0 }), 'history');
    assert.deepEqual(
      history.messages.map((r) => (r.type === 'update' ? r.kind : 'message')),
      ['message', 'edit', 'reaction', 'delete'],
      'history after a seq lists the changes too, in order',
    );
  } finally {
    await a.close();
    await b.close();
    await redis.stop();
    await db.drop();
  }
});
