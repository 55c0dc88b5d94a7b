/**
 * The delivery guarantees of docs/protocol.md (SECURITY-CHECKLIST items 16, 17): gapless in-order seq under
 * concurrent senders, idempotent clientMsgId, replay on subscribe/resume with no gap and no duplicate (paged
 * when far behind), the original `/ws/chat/<room>/` endpoint talking with the new protocol, and the rooms API.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { roomSchema } from '../helpers/frame-schemas.js';
import { expectFrame, TestServer, WAIT_MS, type ChatClient } from '../helpers/server.js';

let server: TestServer;
before(async () => {
  // Hundreds of messages per sender: no message rate limit here (accounts.test.ts tests it).
  server = await TestServer.start({ MESSAGE_RATE_LIMIT: '1000000', FRAMES_PER_SECOND: '1000000' });
});
after(() => server.close());

/**
 * Sends `count` messages without waiting for each ack, at most 100 in flight (the server refuses more than
 * 256 queued frames per connection), and resolves with their acks, in send order.
 */
async function burst(client: ChatClient, room: number, prefix: string, count: number) {
  const acks = [];
  for (let start = 0; start < count; start += 100) {
    const window = Array.from({ length: Math.min(100, count - start) }, (_, k) =>
      client.request({ type: 'send', room, clientMsgId: `${prefix}-${start + k}`, body: `${prefix} ${start + k}` }),
    );
    acks.push(...(await Promise.all(window)).map((f) => expectFrame(f, 'ack')));
  }
  return acks;
}

/** Asserts the frames are exactly seqs from..to, once each, in order. */
function assertSeqs(frames: Array<{ seq: number }>, from: number, to: number, what: string): void {
  assert.deepEqual(
    frames.map((f) => f.seq),
    Array.from({ length: to - from + 1 }, (_, i) => from + i),
    what,
  );
}

/** Tries to open `path` signed in; resolves with the HTTP status of a refused handshake, or 101 when it opened. */
async function upgradeStatus(path: string): Promise<number> {
  return server.handshakeStatus(path, { cookie: (await server.user('owner')).cookie });
}

test('seq is gapless and in order: 3 concurrent senders x 100, 2 subscribers get all 300 once, in seq order', async () => {
  const room = await server.createRoom('busy');
  const watchers = [await server.connect('watcher-1'), await server.connect('watcher-2')];
  for (const w of watchers) assert.equal((await w.subscribe(room.id)).lastSeq, 0);
  const senders = [await server.connect('s1'), await server.connect('s2'), await server.connect('s3')];

  const acks = await Promise.all(senders.map((s, i) => burst(s, room.id, `s${i}`, 100)));
  for (const mine of acks) {
    const seqs = mine.map((a) => a.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "one sender's messages are stored in its send order");
  }
  const all = acks.flat().sort((x, y) => x.seq - y.seq);
  assertSeqs(all, 1, 300, 'the acks cover seq 1..300 exactly');
  assert.equal(new Set(all.map((a) => a.messageId)).size, 300);

  for (const w of watchers) {
    const got = await w.waitForMessages(room.id, 300);
    assertSeqs(got, 1, 300, `${w.label} got every message once, in seq order`);
    for (const m of got) {
      const ack = all[m.seq - 1]!;
      assert.equal(m.id, ack.messageId);
      assert.equal(m.clientMsgId, ack.clientMsgId);
      assert.equal(m.body, ack.clientMsgId.replace('-', ' '));
      const sender = senders[Number(ack.clientMsgId[1])]!;
      assert.equal(m.author, sender.hello.user.displayName);
      assert.equal(m.author, sender.label);
      assert.equal(m.authorId, sender.hello.user.id);
    }
  }
  const stored = await watchers[0]!.allHistory(room.id);
  assert.deepEqual(stored, watchers[0]!.messagesIn(room.id), 'live delivery matches the store');
  await new Promise((r) => setTimeout(r, 100));
  for (const w of watchers) assert.equal(w.messagesIn(room.id).length, 300, 'no late duplicate');
});

test('#16 a send retried with the same clientMsgId returns the same seq and messageId and no second message', async () => {
  const room = await server.createRoom('retry');
  const sender = await server.connect('sender');
  const watcher = await server.connect('watcher');
  await sender.subscribe(room.id);
  await watcher.subscribe(room.id);

  const first = await sender.post(room.id, 'once', 'retry-key');
  const again = await sender.post(room.id, 'once', 'retry-key');
  assert.equal(again.seq, first.seq);
  assert.equal(again.messageId, first.messageId);
  assert.equal(again.time, first.time);

  // A retry after reconnecting, on another connection, is the same message too.
  const reconnected = await server.connect('sender');
  assert.equal(reconnected.hello.user.id, sender.hello.user.id, 'the same account');
  const third = await reconnected.post(room.id, 'once', 'retry-key');
  assert.equal(third.messageId, first.messageId);

  // The same key in another room is a different message.
  const other = await server.createRoom('retry-other');
  const elsewhere = await sender.post(other.id, 'once', 'retry-key');
  assert.equal(elsewhere.seq, 1);
  assert.notEqual(elsewhere.messageId, first.messageId);

  const sentinel = await sender.post(room.id, 'after the retries');
  assert.equal(sentinel.seq, first.seq + 1, 'the retries took no seq');
  for (const c of [watcher, sender]) {
    const got = await c.waitForMessages(room.id, 2);
    assert.deepEqual(
      got.map((m) => [m.seq, m.body]),
      [
        [1, 'once'],
        [2, 'after the retries'],
      ],
      `${c.label}: one message per clientMsgId`,
    );
  }
  assert.equal((await watcher.allHistory(room.id)).length, 2, 'stored once');
});

test('#17 resume with the last seq replays exactly the missed messages, then continues live without duplicates', async () => {
  const room = await server.createRoom('resume');
  const talker = await server.connect('talker');
  const away = await server.connect('away');
  await away.subscribe(room.id);
  await burst(talker, room.id, 'seen', 5);
  const seen = await away.waitForMessages(room.id, 5);
  const lastSeq = seen.at(-1)!.seq;
  assert.equal(lastSeq, 5);
  await away.close();

  await burst(talker, room.id, 'missed', 10);
  const back = await server.connect('away');
  // Live messages keep coming while the resume is being handled.
  const during = burst(talker, room.id, 'during', 20);
  const resumed = expectFrame(await back.request({ type: 'resume', rooms: [{ room: room.id, since: lastSeq }] }, 'resumed'), 'resumed');
  assert.deepEqual(resumed.rooms, [room.id]);
  const subscribed = back.frames.find((f) => f.type === 'subscribed');
  assert.ok(subscribed && subscribed.type === 'subscribed' && subscribed.id === resumed.id && subscribed.room === room.id);
  assert.ok(subscribed.lastSeq >= 15);
  await during;
  await burst(talker, room.id, 'after', 5);

  const got = await back.waitForMessages(room.id, 40 - lastSeq);
  assertSeqs(got, lastSeq + 1, 40, 'missed, concurrent and live messages, each once, in order');
  assert.deepEqual(got.slice(0, 10).map((m) => m.body), Array.from({ length: 10 }, (_, i) => `missed ${i}`));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(back.messagesIn(room.id).length, 35, 'no late duplicate');
});

test('subscribe with since on a live connection replays from there; subscribing again replays from the new since', async () => {
  const room = await server.createRoom('since');
  const talker = await server.connect();
  await burst(talker, room.id, 'old', 8);
  const reader = await server.connect();
  const sub = await reader.subscribe(room.id, 3);
  assert.equal(sub.lastSeq, 8);
  assertSeqs(await reader.waitForMessages(room.id, 5), 4, 8, 'replay after since');
  await talker.post(room.id, 'live');
  assertSeqs(await reader.waitForMessages(room.id, 6), 4, 9, 'then live');

  const fresh = await server.connect();
  assert.equal((await fresh.subscribe(room.id)).lastSeq, 9);
  await talker.post(room.id, 'only new');
  const got = await fresh.waitForMessages(room.id, 1);
  assertSeqs(got, 10, 10, 'without since only new messages arrive');
  await reader.waitForMessages(room.id, 7);

  await reader.subscribe(room.id, 7);
  const after = await reader.waitForMessages(room.id, 10);
  assertSeqs(after.slice(7), 8, 10, 'subscribing again replays from the new since');
});

test('#17 resume far behind (650 missed, more than one 200-message replay page) delivers all, in order', async () => {
  const room = await server.createRoom('far-behind');
  const talker = await server.connect();
  await burst(talker, room.id, 'first', 10);
  await burst(talker, room.id, 'missed', 650);
  const back = await server.connect();
  const resumed = expectFrame(await back.request({ type: 'resume', rooms: [{ room: room.id, since: 10 }] }, 'resumed'), 'resumed');
  assert.deepEqual(resumed.rooms, [room.id]);
  await talker.post(room.id, 'live after the replay');
  const got = await back.waitForMessages(room.id, 651);
  assertSeqs(got, 11, 661, 'every missed message once, in order, then the live one');
  assert.equal(got.at(-1)!.body, 'live after the replay');
});

test('subscribe to an unknown room: not_found; resume with one unknown room still resumes the others', async () => {
  const red = await server.createRoom('red');
  const blue = await server.createRoom('blue');
  const talker = await server.connect();
  await talker.post(red.id, 'red 1');
  await talker.post(blue.id, 'blue 1');
  const client = await server.connect();

  const missing = 424_242;
  const err = expectFrame(await client.request({ type: 'subscribe', room: missing }), 'error');
  assert.equal(err.code, 'not_found');
  assert.equal(err.room, missing);

  const resumed = expectFrame(
    await client.request(
      {
        type: 'resume',
        rooms: [
          { room: red.id, since: 0 },
          { room: missing, since: 3 },
          { room: blue.id, since: 0 },
        ],
      },
      'resumed',
    ),
    'resumed',
  );
  assert.deepEqual(resumed.rooms, [red.id, blue.id], 'resumed lists only the good rooms');
  const notFound = client.frames.find((f) => f.type === 'error' && f.room === missing && f.id === resumed.id);
  assert.ok(notFound && notFound.type === 'error' && notFound.code === 'not_found', 'an error names the missing room');
  const subscribed = client.frames.filter((f) => f.type === 'subscribed').map((f) => expectFrame(f, 'subscribed').room);
  assert.deepEqual(subscribed, [red.id, blue.id]);

  await talker.post(red.id, 'red 2');
  await talker.post(blue.id, 'blue 2');
  assert.deepEqual((await client.waitForMessages(red.id, 2)).map((m) => m.body), ['red 1', 'red 2']);
  assert.deepEqual((await client.waitForMessages(blue.id, 2)).map((m) => m.body), ['blue 1', 'blue 2']);
});

test('the original endpoint and the new protocol talk to each other both ways', async () => {
  const room = await server.createRoom('tutorial');
  const modern = await server.connect('ana');
  await modern.subscribe(room.id);
  const tutor = await server.user('tutor');
  const old = await server.connectLegacy('tutorial', tutor);
  const old2 = await server.connectLegacy('TUTORIAL', 'another'); // the same room: names ignore case

  old.send({ message: 'from the tutorial page' });
  const [m] = await modern.waitForMessages(room.id, 1);
  assert.equal(m!.author, 'tutor', 'posted as the signed-in user');
  assert.equal(m!.authorId, tutor.user.id);
  assert.equal(m!.body, 'from the tutorial page');
  assert.equal(m!.clientMsgId, undefined);
  for (const c of [old, old2]) {
    assert.deepEqual(await c.next((f) => 'message' in f), { message: 'from the tutorial page' }, `${c.label} echo`);
  }

  const ack = await modern.post(room.id, 'Hello **tutorial** <b>verbatim</b>');
  assert.equal(ack.seq, 2);
  for (const c of [old, old2]) {
    assert.deepEqual(await c.next((f) => 'message' in f), { message: 'Hello **tutorial** <b>verbatim</b>' });
  }
  const stored = await modern.allHistory(room.id);
  assert.deepEqual(
    stored.map((s) => [s.seq, s.author, s.body]),
    [
      [1, 'tutor', 'from the tutorial page'],
      [2, 'ana', 'Hello **tutorial** <b>verbatim</b>'],
    ],
  );
});

test('the original endpoint creates a missing room, and refuses an invalid room name with 400 before upgrading', async () => {
  const watcher = await server.connect();
  const created = watcher.next((f) => f.type === 'room_created' && f.room.name === 'born_here');
  const old = await server.connectLegacy('born_here');
  const frame = expectFrame(await created, 'room_created');
  const listed = (await server.listPublicRooms()).find((r) => r.name === 'born_here');
  assert.ok(listed, 'GET /api/rooms/public shows the room');
  assert.equal(listed.kind, 'public');
  assert.equal(listed.ownerId, (await server.user('legacy')).user.id, 'owned by who named it');
  assert.deepEqual(frame.room, listed);

  old.send({ message: 'first words' });
  assert.deepEqual(await old.next(), { message: 'first words' });
  assert.equal((await watcher.allHistory(listed.id)).length, 1, 'stored in the new room');

  const before = await server.listPublicRooms();
  for (const bad of ['/ws/chat/has%20space/', '/ws/chat/semi%3Bcolon/', `/ws/chat/${'x'.repeat(65)}/`, '/ws/chat/%E0%A4%A/']) {
    assert.equal(await upgradeStatus(bad), 400, bad);
  }
  assert.deepEqual(await server.listPublicRooms(), before, 'no room was created');
});

/** Sends an upgrade request by hand, signed in; resolves with the HTTP status of the (refused) answer. */
async function refusedUpgrade(path: string, headers: Record<string, string>, method = 'GET'): Promise<number> {
  const { cookie } = await server.user('owner');
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${path}`, {
      method,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', cookie, ...headers },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on('error', reject);
    req.setTimeout(WAIT_MS, () => req.destroy(new Error(`no answer to ${method} ${path}`)));
    req.end();
  });
}

test(
  'a refused handshake on the original endpoint creates no room',
  async () => {
    const watcher = await server.connect();
    const before = await server.listPublicRooms();
    assert.equal(await refusedUpgrade('/ws/chat/ghost/', { 'Sec-WebSocket-Key': 'not-a-key' }), 400);
    assert.equal(await refusedUpgrade('/ws/chat/ghost2/', { 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' }, 'POST'), 405);
    assert.deepEqual(await server.listPublicRooms(), before, 'no room was created');
    await watcher.request({ type: 'ping' });
    assert.ok(!watcher.frames.some((f) => f.type === 'room_created'), 'no room_created was announced');
  },
);

test('a bad frame on the original endpoint gets {"error":{...}} and the connection is kept', async () => {
  const room = await server.createRoom('legacy-bad');
  const modern = await server.connect();
  await modern.subscribe(room.id);
  const old = await server.connectLegacy('legacy-bad');
  const cases: Array<[string | Buffer, string]> = [
    ['not json', 'bad_json'],
    ['[]', 'bad_frame'],
    ['{"msg":"typo"}', 'bad_frame'],
    ['{"message":42}', 'bad_frame'],
    ['{"message":""}', 'empty_message'],
    [JSON.stringify({ message: 'x'.repeat(4001) }), 'too_long'],
    [Buffer.from('{"message":"binary"}'), 'binary_not_supported'],
  ];
  for (const [input, code] of cases) {
    const reply = old.next((f) => 'error' in f);
    old.sendRaw(input);
    const err = await reply;
    assert.ok('error' in err);
    assert.equal(err.error.code, code, String(input));
  }
  old.send({ message: 'still here', extra: 'ignored as Django does' });
  assert.deepEqual(await old.next((f) => 'message' in f), { message: 'still here' });
  const [m] = await modern.waitForMessages(room.id, 1);
  assert.equal(m!.body, 'still here');
  assert.equal((await modern.allHistory(room.id)).length, 1, 'nothing refused was stored');
});

test('POST /api/rooms: 201, 409 room_exists ignoring case, 400 bad_room_name, 400 non-JSON; room_created reaches clients', async () => {
  const clients = [await server.connect(), await server.connect()];
  const res = await server.postRoom(JSON.stringify({ name: 'Lobby' }));
  assert.equal(res.status, 201);
  const room = roomSchema.parse((res.json as { room: unknown }).room);
  assert.equal(room.name, 'Lobby');
  assert.equal(room.lastSeq, 0);
  assert.equal(room.kind, 'public');
  assert.equal(room.ownerId, (await server.user('owner')).user.id);
  for (const c of clients) {
    const frame = expectFrame(await c.next((f) => f.type === 'room_created' && f.room.id === room.id), 'room_created');
    assert.deepEqual(frame.room, room);
  }

  for (const name of ['lobby', 'LOBBY', 'Lobby']) {
    const dup = await server.postRoom(JSON.stringify({ name }));
    assert.equal(dup.status, 409, name);
    assert.equal((dup.json as { error: { code: string } }).error.code, 'room_exists');
  }
  for (const name of ['', 'has space', 'x'.repeat(65), 'a/b', '<script>', 42, null]) {
    const bad = await server.postRoom(JSON.stringify({ name }));
    assert.equal(bad.status, 400, String(name));
    assert.equal((bad.json as { error: { code: string } }).error.code, 'bad_room_name', String(name));
  }
  const missingName = await server.postRoom('{}');
  assert.equal(missingName.status, 400);
  assert.equal((missingName.json as { error: { code: string } }).error.code, 'bad_room_name');

  for (const [body, type] of [
    ['{"name":', 'application/json'],
    ['not json', 'application/json'],
    ['name=lobby2', 'text/plain'],
  ] as const) {
    const nonJson = await server.postRoom(body, type);
    assert.equal(nonJson.status, 400, `${type}: ${body}`);
    assert.equal(typeof (nonJson.json as { error: { code: unknown } }).error.code, 'string');
  }

  // Refused creations announce nothing: the next room_created is the next good room.
  await server.createRoom('after-the-refusals');
  for (const c of clients) {
    const next = expectFrame(await c.next((f) => f.type === 'room_created'), 'room_created');
    assert.equal(next.room.name, 'after-the-refusals');
  }
  assert.equal((await server.listPublicRooms()).filter((r) => r.name.toLowerCase() === 'lobby').length, 1);
  assert.ok((await server.listRooms('owner')).some((r) => r.id === room.id), "in its creator's sidebar");
});
