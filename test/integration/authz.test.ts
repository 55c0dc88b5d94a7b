/**
 * Who may connect and who may read or post where (issue 3; SECURITY-CHECKLIST items 1, 2, 11, 25): the
 * handshake's Origin and credentials, CSRF on cookie-authenticated changes, private rooms and direct
 * conversations closed to outsiders over HTTP and forged frames alike (answering exactly as for a room that
 * does not exist), stale permissions, DM uniqueness under a race, and the original endpoint under auth.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { roomSchema } from '../helpers/frame-schemas.js';
import { apiError, expectFrame, sessionCookieOf, TestServer, type Account, type ApiReply, type ChatClient, type Room } from '../helpers/server.js';

let server: TestServer;
before(async () => {
  server = await TestServer.start({ MESSAGE_RATE_LIMIT: '1000000', FRAMES_PER_SECOND: '1000000' });
});
after(() => server.close());

/** A room id that was never created. */
const MISSING = 7_777_777;

/** An error answer with the room id taken out, so answers about two different ids can be compared. */
function normalized(reply: ApiReply | { code: string; message: string }, roomId: number): unknown {
  const e = 'status' in reply ? { status: reply.status, ...apiError(reply) } : { ...reply };
  return { ...e, message: e.message.replace(new RegExp(`\\b${roomId}\\b`, 'g'), 'ROOM') };
}

async function createPrivate(owner: Account, name: string): Promise<Room> {
  return server.createRoom(name, { private: true, as: owner });
}

async function invite(owner: Account, roomId: number, who: Account): Promise<ApiReply> {
  return server.api('POST', `/api/rooms/${roomId}/members`, { as: owner, body: { username: who.user.username } });
}

async function openDirect(from: Account, to: Account): Promise<Room> {
  const r = await server.api('POST', '/api/direct', { as: from, body: { usernames: [to.user.username] } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return roomSchema.parse((r.json as { room: unknown }).room);
}

test('#1 #2 #24 handshake: foreign Origin -> 403, no credentials or bogus ones -> 401, all before any upgrade', async () => {
  const { cookie } = await server.user('shaker');
  assert.equal(await server.handshakeStatus('/ws', { cookie }), 101, 'own origin');
  assert.equal(await server.handshakeStatus('/ws', { cookie }, null), 101, 'no Origin: a non-browser client');
  for (const origin of [
    'http://evil.example',
    'null',
    `http://127.0.0.1:${server.port}.evil.com`,
    `http://evil.com#127.0.0.1:${server.port}`,
    `https://127.0.0.1:${server.port}`,
    `http://127.0.0.1:${server.port + 1}`,
    `http://localhost:${server.port}`,
  ]) {
    assert.equal(await server.handshakeStatus('/ws', { cookie }, origin), 403, origin);
    assert.equal(await server.handshakeStatus('/ws/chat/lobby/', { cookie }, origin), 403, `${origin} (original endpoint)`);
  }
  assert.equal(await server.handshakeStatus('/ws', null), 401, 'no credentials');
  assert.equal(await server.handshakeStatus('/ws', { cookie: 'confab_session=bogus' }), 401, 'bogus cookie');
  assert.equal(await server.handshakeStatus('/ws', { cookie: `confab_session=${'A'.repeat(43)}` }), 401);
  assert.equal(await server.handshakeStatus('/ws', { bearer: 'bogus' }), 401, 'bogus bearer');
  assert.equal(await server.handshakeStatus('/ws', { bearer: `cfb_${'B'.repeat(43)}` }), 401, 'bogus API token');
  assert.equal(await server.handshakeStatus('/ws/chat/lobby/', null), 401, 'original endpoint without a session');
  assert.equal(await server.handshakeStatus('/ws?session=' + cookie.split('=')[1], null), 401, 'never from the URL');
  assert.ok(!(await server.listPublicRooms()).some((r) => r.name === 'lobby'), 'refused handshakes created nothing');
});

test('#1 ALLOWED_ORIGINS is an exact-match list: no substrings, suffixes, other schemes; the own origin is then not implied', async () => {
  const s = await TestServer.start({ ALLOWED_ORIGINS: 'http://app.example:8080,https://chat.example' });
  try {
    const up = await s.api('POST', '/api/auth/signup', {
      body: { username: 'origins', password: 'Plenty-of-entropy-42' },
      origin: 'https://chat.example',
    });
    assert.equal(up.status, 201, JSON.stringify(up.json));
    const account = { cookie: sessionCookieOf(up.headers)! };
    const status = (origin: string | null) => s.handshakeStatus('/ws', { cookie: account.cookie }, origin);
    assert.equal(await status('http://app.example:8080'), 101);
    assert.equal(await status('https://chat.example'), 101);
    for (const bad of [
      'http://app.example:8080.evil.com',
      'http://app.example',
      'http://evil.app.example:8080',
      'https://app.example:8080',
      'http://chat.example',
      'https://chat.example.evil.com',
      'https://evilchat.example',
      s.url,
    ]) {
      assert.equal(await status(bad), 403, bad);
    }
    // The same list guards cookie-authenticated changes.
    const post = (origin: string) => s.api('POST', '/api/rooms', { as: account, body: { name: `r${origin.length}` }, origin });
    assert.equal((await post('https://chat.example')).status, 201);
    assert.equal(apiError(await post('https://chat.example.evil.com')).code, 'bad_origin');
  } finally {
    await s.close();
  }
});

test('#25 CSRF: a cookie-authenticated change without Origin or from a foreign one is 403 bad_origin; bearer calls are not', async () => {
  const victim = await server.user('csrf-victim');
  const before = await server.listRooms(victim);
  for (const origin of [null, 'http://evil.example', `http://127.0.0.1:${server.port}.evil.com`]) {
    const r = await server.api('POST', '/api/rooms', { as: victim, body: { name: 'csrf-room' }, origin });
    assert.equal(r.status, 403, String(origin));
    assert.equal(apiError(r).code, 'bad_origin');
    const out = await server.api('POST', '/api/auth/signout', { as: victim, origin });
    assert.equal(out.status, 403, `sign-out from ${origin}`);
    const token = await server.api('POST', '/api/tokens', { as: victim, body: { name: 'stolen' }, origin });
    assert.equal(token.status, 403);
  }
  // Login CSRF: signing a victim's browser into the attacker's account.
  const login = await server.api('POST', '/api/auth/signin', {
    body: { username: victim.user.username, password: victim.password },
    origin: 'http://evil.example',
  });
  assert.equal(apiError(login).code, 'bad_origin');
  const foreignReferer = await server.api('POST', '/api/rooms', {
    as: victim,
    body: { name: 'csrf-room' },
    origin: null,
    headers: { referer: 'http://evil.example/page' },
  });
  assert.equal(apiError(foreignReferer).code, 'bad_origin');
  assert.deepEqual(await server.listRooms(victim), before, 'nothing changed');
  assert.equal((await server.api('GET', '/api/me', { as: victim })).status, 200, 'still signed in');

  // Reads need no Origin; a bearer is not ambient, so no Origin check.
  assert.equal((await server.api('GET', '/api/rooms', { as: victim, origin: null })).status, 200);
  const bearer = { bearer: victim.cookie.split('=')[1]! };
  const viaBearer = await server.api('POST', '/api/rooms', { as: bearer, body: { name: 'bearer-room' }, origin: null });
  assert.equal(viaBearer.status, 201, JSON.stringify(viaBearer.json));
  const foreignBearer = await server.api('POST', '/api/rooms', { as: bearer, body: { name: 'bearer-room2' }, origin: 'http://x.example' });
  assert.equal(foreignBearer.status, 201);
});

test('#11 an outsider cannot read or post in a private room or in two others\' direct conversation, over HTTP: same answer as a missing room', async () => {
  const [a, b, c] = [await server.user('outsider-a'), await server.user('dm-b'), await server.user('dm-c')];
  const dm = await openDirect(b, c);
  const priv = await createPrivate(b, 'secret-plans');
  assert.equal((await invite(b, priv.id, c)).status, 204);
  const bc = await server.connect(b);
  await bc.post(dm.id, 'psst');
  await bc.post(priv.id, 'the plan');

  const probes: Array<[string, string, unknown?]> = [
    ['GET', '/api/rooms/ID'],
    ['GET', '/api/rooms/ID/messages'],
    ['GET', '/api/rooms/ID/messages?after=0'],
    ['GET', '/api/rooms/ID/members'],
    ['POST', '/api/rooms/ID/join', {}],
    ['POST', '/api/rooms/ID/leave', {}],
    ['POST', '/api/rooms/ID/members', { username: a.user.username }],
    ['DELETE', `/api/rooms/ID/members/${c.user.id}`],
    ['POST', '/api/rooms/ID/owner', { username: a.user.username }],
  ];
  for (const [method, path, body] of probes) {
    const missing = await server.api(method, path.replace('ID', String(MISSING)), { as: a, ...(body ? { body } : {}) });
    assert.equal(missing.status, 404, `${method} ${path} on a missing room`);
    for (const room of [dm, priv]) {
      const r = await server.api(method, path.replace('ID', String(room.id)), { as: a, ...(body ? { body } : {}) });
      assert.deepEqual(normalized(r, room.id), normalized(missing, MISSING), `${method} ${path} on ${room.kind}`);
    }
  }
  for (const room of [dm, priv]) {
    assert.ok(!(await server.listRooms(a)).some((r) => r.id === room.id), 'not in the outsider\'s sidebar');
    assert.equal((await server.api('GET', `/api/rooms/${room.id}/members`, { as: c })).status, 200, 'members can');
  }
  assert.ok(!(await server.listPublicRooms()).some((r) => r.id === priv.id || r.id === dm.id), 'neither is public');
  assert.deepEqual(
    ((await server.api('GET', `/api/rooms/${priv.id}/members`, { as: b })).json as { members: Array<{ id: number }> }).members
      .map((m) => m.id)
      .sort(),
    [b.user.id, c.user.id].sort(),
    'the outsider did not get in',
  );
});

test('#11 an outsider cannot subscribe, read history, resume or send with forged frames: same not_found as a missing room, nothing stored', async () => {
  const [a, b, c] = [await server.user('forger-a'), await server.user('forged-b'), await server.user('forged-c')];
  const dm = await openDirect(b, c);
  const priv = await createPrivate(c, 'forged-private');
  const bClient = await server.connect(b);
  await bClient.post(dm.id, 'private words');
  const forger = await server.connect(a);

  const frames = (room: number) => [
    { type: 'subscribe', room, since: 0 },
    { type: 'history', room },
    { type: 'history', room, after: 0 },
    { type: 'send', room, clientMsgId: `forged-${room}`, body: 'injected' },
  ];
  const answer = async (frame: Record<string, unknown>, room: number) => {
    const f = expectFrame(await forger.request(frame), 'error');
    return normalized({ code: f.code, message: f.message }, room);
  };
  for (const [i, frame] of frames(MISSING).entries()) {
    const expected = await answer(frame, MISSING);
    for (const room of [dm, priv]) {
      assert.deepEqual(await answer(frames(room.id)[i]!, room.id), expected, `${frame.type} on ${room.kind}`);
    }
  }
  const resumed = expectFrame(
    await forger.request({ type: 'resume', rooms: [{ room: dm.id, since: 0 }, { room: priv.id, since: 0 }] }, 'resumed'),
    'resumed',
  );
  assert.deepEqual(resumed.rooms, []);
  await bClient.post(dm.id, 'more private words');
  expectFrame(await forger.request({ type: 'ping' }), 'pong');
  assert.deepEqual(forger.messagesIn(dm.id), [], 'no message leaked');
  assert.deepEqual(forger.messagesIn(priv.id), []);
  assert.deepEqual(
    (await bClient.allHistory(dm.id)).map((m) => m.body),
    ['private words', 'more private words'],
    'nothing injected',
  );
  const cClient = await server.connect(c);
  assert.deepEqual(await cClient.allHistory(priv.id), []);
});

test('a member removed from a private room while connected gets room_removed and stops receiving at once', async () => {
  const owner = await server.user('room-owner');
  const member = await server.user('removed-member');
  const room = await createPrivate(owner, 'shrinking');
  const other = await server.createRoom('still-public', { as: owner });
  const m = await server.connect(member);
  const added = m.next((f) => f.type === 'room_added' && f.room.id === room.id);
  assert.equal((await invite(owner, room.id, member)).status, 204);
  assert.equal(expectFrame(await added, 'room_added').room.kind, 'private');
  await m.subscribe(room.id, 0);
  await m.subscribe(other.id, 0);
  const o = await server.connect(owner);
  await o.post(room.id, 'before removal');
  await m.waitForMessages(room.id, 1);

  const removed = m.next((f) => f.type === 'room_removed');
  const del = await server.api('DELETE', `/api/rooms/${room.id}/members/${member.user.id}`, { as: owner });
  assert.equal(del.status, 204);
  assert.equal(expectFrame(await removed, 'room_removed').room, room.id);
  await o.post(room.id, 'after removal');
  // A later message in another room proves the earlier one had time to arrive, had it been delivered.
  await o.post(other.id, 'sentinel');
  await m.waitForMessages(other.id, 1);
  assert.deepEqual(m.messagesIn(room.id).map((x) => x.body), ['before removal'], 'nothing after the removal');

  for (const frame of [
    { type: 'send', room: room.id, clientMsgId: 'stale', body: 'still here?' },
    { type: 'subscribe', room: room.id, since: 0 },
    { type: 'history', room: room.id },
  ]) {
    assert.equal(expectFrame(await m.request(frame), 'error').code, 'not_found', frame.type);
  }
  assert.equal((await server.api('GET', `/api/rooms/${room.id}/messages`, { as: member })).status, 404);
  assert.ok(!(await server.listRooms(member)).some((r) => r.id === room.id));
  assert.equal((await o.allHistory(room.id)).length, 2, 'the stale send stored nothing');
});

test('direct conversations: one room per pair under 20 concurrent creations from both sides', async () => {
  const a = await server.user('racer-a');
  const b = await server.user('racer-b');
  const replies = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      server.api('POST', '/api/direct', {
        as: i % 2 ? a : b,
        body: { usernames: [i % 2 ? b.user.username.toUpperCase() : a.user.username] },
      }),
    ),
  );
  for (const r of replies) assert.equal(r.status, 200, JSON.stringify(r.json));
  const rooms = replies.map((r) => roomSchema.parse((r.json as { room: unknown }).room));
  assert.equal(new Set(rooms.map((r) => r.id)).size, 1, 'one room');
  const dm = rooms[0]!;
  assert.equal(dm.kind, 'direct');
  assert.deepEqual(dm.members!.map((m) => m.id).sort(), [a.user.id, b.user.id].sort());
  for (const who of [a, b]) {
    assert.equal((await server.listRooms(who)).filter((r) => r.id === dm.id).length, 1, 'once in each sidebar');
  }
  const withSelf = await server.api('POST', '/api/direct', { as: a, body: { usernames: [a.user.username] } });
  assert.equal(apiError(withSelf).code, 'bad_request', 'a conversation with oneself is refused');
  const nobody = await server.api('POST', '/api/direct', { as: a, body: { usernames: ['no-such-user'] } });
  assert.equal(apiError(nobody).code, 'not_found');
});

test('the first direct message reaches the recipient live although they never opened the conversation', async () => {
  const sender = await server.user('dm-sender');
  const recipient = await server.user('dm-recipient');
  const r = await server.connect(recipient);
  const s = await server.connect(sender);
  const added = r.next((f) => f.type === 'room_added');
  const dm = await openDirect(sender, recipient);
  const frame = expectFrame(await added, 'room_added');
  assert.equal(frame.room.id, dm.id);
  assert.ok(frame.room.members!.some((m) => m.id === sender.user.id && m.displayName === 'dm-sender'), 'named after the sender');
  // What the client does on room_added: follow the room from its start.
  await r.subscribe(dm.id, 0);
  const ack = await s.post(dm.id, 'hello, first message');
  const [m] = await r.waitForMessages(dm.id, 1);
  assert.equal(m!.body, 'hello, first message');
  assert.equal(m!.authorId, sender.user.id);
  assert.equal(m!.seq, ack.seq);
});

test('private rooms: only the owner invites and removes, ownership can be handed over, the owner cannot leave while others remain', async () => {
  const owner = await server.user('pr-owner');
  const member = await server.user('pr-member');
  const third = await server.user('pr-third');
  const outsider = await server.user('pr-outsider');
  const room = await createPrivate(owner, 'owned');
  assert.equal(room.ownerId, owner.user.id);
  assert.ok((await server.listRooms(owner)).some((r) => r.id === room.id), 'in the owner\'s sidebar');

  assert.equal((await server.api('POST', `/api/rooms/${room.id}/join`, { as: outsider, body: {} })).status, 404, 'no joining uninvited');
  assert.equal((await invite(owner, room.id, member)).status, 204);
  assert.equal(apiError(await invite(member, room.id, third)).code, 'forbidden', 'a member cannot invite');
  assert.equal(
    apiError(await server.api('DELETE', `/api/rooms/${room.id}/members/${owner.user.id}`, { as: member })).code,
    'forbidden',
    'a member cannot remove',
  );
  assert.equal(
    apiError(await server.api('POST', `/api/rooms/${room.id}/owner`, { as: member, body: { username: member.user.username } })).code,
    'forbidden',
    'a member cannot take ownership',
  );
  assert.equal(
    apiError(await server.api('POST', `/api/rooms/${room.id}/owner`, { as: owner, body: { username: outsider.user.username } })).code,
    'not_found',
    'only to a member',
  );
  assert.equal(apiError(await server.api('POST', `/api/rooms/${room.id}/leave`, { as: owner, body: {} })).code, 'forbidden', 'owner cannot leave');

  const handed = await server.api('POST', `/api/rooms/${room.id}/owner`, { as: owner, body: { username: member.user.username } });
  assert.equal(handed.status, 200, JSON.stringify(handed.json));
  assert.equal(roomSchema.parse((handed.json as { room: unknown }).room).ownerId, member.user.id);
  assert.equal(apiError(await invite(owner, room.id, third)).code, 'forbidden', 'the former owner no longer invites');
  assert.equal((await invite(member, room.id, third)).status, 204, 'the new owner does');
  assert.equal((await server.api('POST', `/api/rooms/${room.id}/leave`, { as: owner, body: {} })).status, 204, 'a member can leave');
  assert.equal((await server.api('DELETE', `/api/rooms/${room.id}/members/${third.user.id}`, { as: member })).status, 204);
  assert.equal((await server.api('POST', `/api/rooms/${room.id}/leave`, { as: member, body: {} })).status, 204, 'the last one can leave');
  for (const who of [owner, member, third]) {
    assert.equal((await server.api('GET', `/api/rooms/${room.id}/messages`, { as: who })).status, 404);
  }
});

test('the original endpoint with a session posts as the user; into a private room it is not a member of: error and 1008', async () => {
  const poster = await server.user('legacy-poster');
  const room = await server.createRoom('legacy-signed');
  const watcher: ChatClient = await server.connect();
  await watcher.subscribe(room.id);
  const old = await server.connectLegacy('legacy-signed', poster);
  old.send({ message: 'from the old page' });
  const [m] = await watcher.waitForMessages(room.id, 1);
  assert.equal(m!.authorId, poster.user.id);
  assert.equal(m!.author, 'legacy-poster');

  await createPrivate(await server.user('legacy-owner'), 'legacy-private');
  const intruder = await server.connectLegacy('legacy-private', poster);
  const err = await intruder.next((f) => 'error' in f);
  assert.ok('error' in err && err.error.code === 'not_found');
  assert.equal((await intruder.closed).code, 1008);
});

test('guests: refused by default; with ALLOW_GUESTS=true labelled guests use the original endpoint in public rooms only', async () => {
  assert.equal(await server.handshakeStatus('/ws/chat/guest-room/', null), 401, 'off by default');
  const s = await TestServer.start({ ALLOW_GUESTS: 'true' });
  try {
    const member = await s.signUp('guest_host');
    const pub = await s.createRoom('open-house', { as: member });
    await s.createRoom('members-only', { private: true, as: member });
    const watcher = await s.connect(member);
    await watcher.subscribe(pub.id);

    const guest = await s.connectLegacy('open-house', null);
    guest.send({ message: 'hi from a guest' });
    const [m] = await watcher.waitForMessages(pub.id, 1);
    assert.equal(m!.authorId, null, 'no account');
    assert.match(m!.author, /^guest-[0-9a-f]{4}$/, 'labelled as a guest');
    assert.deepEqual(await guest.next((f) => 'message' in f), { message: 'hi from a guest' });

    const barred = await s.connectLegacy('members-only', null);
    const err = await barred.next((f) => 'error' in f);
    assert.ok('error' in err && err.error.code === 'not_found', 'the same answer as a missing room');
    assert.equal((await barred.closed).code, 1008);

    assert.equal(await s.handshakeStatus('/ws', null), 401, 'guests never get /ws');
    assert.equal((await s.api('GET', '/api/rooms', {})).status, 401, 'nor the API');
    assert.deepEqual(
      (await watcher.allHistory(pub.id)).map((x) => x.body),
      ['hi from a guest'],
    );
  } finally {
    await s.close();
  }
});

test('public rooms: only a member may invite others into them (no pushing rooms into strangers\' sidebars)', async () => {
  const [owner, outsider, target] = [await server.user('pub-owner'), await server.user('pub-outsider'), await server.user('pub-target')];
  const room = await server.createRoom('open-house', { as: owner });
  const refused = await invite(outsider, room.id, target);
  assert.equal(refused.status, 403);
  assert.equal((refused.json as { error: { code: string } }).error.code, 'forbidden');
  assert.ok(!(await server.listRooms(target)).some((r) => r.id === room.id), 'not pushed into the target\'s sidebar');
  assert.equal((await server.api('POST', `/api/rooms/${room.id}/join`, { as: outsider })).status, 200);
  assert.equal((await invite(outsider, room.id, target)).status, 204, 'once a member, inviting works');
  assert.ok((await server.listRooms(target)).some((r) => r.id === room.id));
});
