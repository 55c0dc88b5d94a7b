/**
 * Bad input on `/ws` (SECURITY-CHECKLIST items 4, 7, 8, 9): each gets the documented error frame or close
 * code, nothing refused is stored, and a second client in the same room keeps sending and receiving all the
 * while — at the end it holds every stored message (its own and the first client's) once, in seq order.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { expectFrame, TestServer, type ChatClient, type Room } from '../helpers/server.js';

const MAX_MESSAGE_CHARS = 4000;
const MAX_FRAME_BYTES = 64 * 1024;
const MAX_BAD_FRAMES = 20;

let server: TestServer;
before(async () => {
  // The bystander posts as fast as it can: no message rate limit here (accounts.test.ts tests it).
  server = await TestServer.start({ MESSAGE_RATE_LIMIT: '1000000', FRAMES_PER_SECOND: '1000000' });
});
after(() => server.close());

let roomCount = 0;

interface Scene {
  room: Room;
  /** The client that misbehaves. */
  a: ChatClient;
  /** The bystander: keeps posting and receiving while `a` misbehaves. */
  b: ChatClient;
}

/**
 * Runs `misbehave` while client B posts messages one after another into the same room, then checks that
 * B received exactly what is stored, in seq order without gaps, that the store holds exactly the
 * acknowledged messages (nothing refused was stored), and that both clients' messages are among them.
 */
async function withBystander(misbehave: (scene: Scene) => Promise<void>): Promise<void> {
  const room = await server.createRoom(`bad-input-${++roomCount}`);
  const a = await server.connect();
  const b = await server.connect();
  await a.subscribe(room.id, 0);
  await b.subscribe(room.id, 0);
  await a.post(room.id, 'a: before');

  let stop = false;
  let bSent = 0;
  const pump = (async () => {
    while (!stop) {
      await b.post(room.id, `b: ${bSent++}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  try {
    await misbehave({ room, a, b });
  } finally {
    stop = true;
    await pump;
  }
  await b.post(room.id, 'b: after');
  if (a.ws.readyState === a.ws.OPEN) await a.post(room.id, 'a: after');

  const stored = await b.allHistory(room.id);
  const live = await b.waitForMessages(room.id, stored.length);
  assert.deepEqual(live, stored, 'B received every stored message once, in order');
  assert.deepEqual(
    stored.map((m) => m.seq),
    stored.map((_, i) => i + 1),
    'seq is gapless',
  );
  const acked = [...a.frames, ...b.frames]
    .filter((f) => f.type === 'ack' && f.room === room.id)
    .map((f) => expectFrame(f, 'ack').messageId)
    .sort((x, y) => x - y);
  assert.deepEqual(
    stored.map((m) => m.id).sort((x, y) => x - y),
    acked,
    'the store holds exactly the acknowledged messages',
  );
  const bodies = stored.map((m) => m.body);
  assert.ok(bodies.includes('a: before'), "A's message reached B");
  assert.ok(bodies.includes('b: after'));
  assert.ok(bSent > 0, 'B kept posting while A misbehaved');
  for (let i = 0; i < bSent; i++) assert.ok(bodies.includes(`b: ${i}`), `B's message ${i} is stored and delivered`);
  await a.close();
  await b.close();
}

/** Sends raw text and returns the next error frame. */
async function errorFor(client: ChatClient, text: string | Buffer) {
  const reply = client.next((f) => f.type === 'error');
  client.sendRaw(text);
  return expectFrame(await reply, 'error');
}

/** Proves the connection is still usable. */
async function assertKept(client: ChatClient): Promise<void> {
  expectFrame(await client.request({ type: 'ping' }), 'pong');
}

test('#7 invalid JSON: error bad_json, connection kept', async () => {
  await withBystander(async ({ a }) => {
    for (const text of ['{', '{"type":"ping",}', 'not json at all', '']) {
      const err = await errorFor(a, text);
      assert.equal(err.code, 'bad_json', text);
      await assertKept(a);
    }
  });
});

test('a JSON array, number, string or null: error bad_frame, connection kept', async () => {
  await withBystander(async ({ a }) => {
    for (const text of ['[]', '[{"type":"ping"}]', '42', '"ping"', 'null', 'true']) {
      const err = await errorFor(a, text);
      assert.equal(err.code, 'bad_frame', text);
      await assertKept(a);
    }
  });
});

test('#8 unknown type: error unknown_type echoing the id, connection kept', async () => {
  await withBystander(async ({ a }) => {
    const err = expectFrame(await a.request({ type: 'shout', body: 'hi' }), 'error');
    assert.equal(err.code, 'unknown_type');
    assert.match(err.id ?? '', /-r\d+$/);
    const noType = expectFrame(await a.request({ room: 1 }), 'error');
    assert.equal(noType.code, 'bad_frame', 'a frame without a type string');
    await assertKept(a);
  });
});

test('#8 missing, wrong-typed and extra fields: bad_frame echoing id and clientMsgId; nothing stored', async () => {
  await withBystander(async ({ a, room }) => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['send without body', { type: 'send', room: room.id, clientMsgId: 'missing-body' }],
      ['send without clientMsgId', { type: 'send', room: room.id, body: 'no key' }],
      ['send without room', { type: 'send', clientMsgId: 'missing-room', body: 'where' }],
      ['subscribe without room', { type: 'subscribe' }],
      ['room as string', { type: 'send', room: String(room.id), clientMsgId: 'room-string', body: 'x' }],
      ['body as number', { type: 'send', room: room.id, clientMsgId: 'body-number', body: 42 }],
      ['extra field', { type: 'send', room: room.id, clientMsgId: 'extra-field', body: 'x', color: 'red' }],
      ['extra field on ping', { type: 'ping', verbose: true }],
      ['clientMsgId with bad characters', { type: 'send', room: room.id, clientMsgId: 'a b', body: 'x' }],
      ['since negative', { type: 'subscribe', room: room.id, since: -1 }],
      ['limit over 100', { type: 'history', room: room.id, limit: 101 }],
      ['id too long', { type: 'ping', id: 'x'.repeat(65) }],
    ];
    for (const [what, frame] of cases) {
      if (typeof frame.id === 'string') {
        // An id that is itself invalid cannot be echoed; the error still comes.
        assert.equal((await errorFor(a, JSON.stringify(frame))).code, 'bad_frame', what);
        continue;
      }
      const err = expectFrame(await a.request(frame), 'error');
      assert.equal(err.code, 'bad_frame', what);
      assert.match(err.id ?? '', /-r\d+$/, `${what}: echoes the id`);
      if (typeof frame.clientMsgId === 'string' && /^[\w-]+$/.test(frame.clientMsgId)) {
        assert.equal(err.clientMsgId, frame.clientMsgId, `${what}: echoes the clientMsgId`);
      }
    }
    await assertKept(a);
  });
});

test('#8 a __proto__ key is an unknown field: bad_frame, nothing stored, no prototype pollution', async () => {
  await withBystander(async ({ a, room }) => {
    const text =
      `{"type":"send","__proto__":{"polluted":1},"room":${room.id},` +
      `"clientMsgId":"proto-1","body":"pollute","id":"proto"}`;
    const err = await errorFor(a, text);
    assert.equal(err.code, 'bad_frame');
    assert.equal(err.id, 'proto');
    assert.equal(err.clientMsgId, 'proto-1');
    const nested = `{"type":"resume","id":"proto2","rooms":[{"room":${room.id},"since":0,"__proto__":{"polluted":1}}]}`;
    assert.equal((await errorFor(a, nested)).code, 'bad_frame');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
    await assertKept(a);
  });
});

test('empty and whitespace-only bodies: error empty_message echoing clientMsgId and room; nothing stored', async () => {
  await withBystander(async ({ a, room }) => {
    for (const [key, body] of [['empty', ''], ['blank', ' \t\n \u00a0\u3000']] as const) {
      const err = expectFrame(await a.request({ type: 'send', room: room.id, clientMsgId: key, body }), 'error');
      assert.equal(err.code, 'empty_message');
      assert.equal(err.clientMsgId, key);
      assert.equal(err.room, room.id);
    }
  });
});

test('#9 body length is counted in code points: MAX_MESSAGE_CHARS is acked, one more is too_long', async () => {
  await withBystander(async ({ a, room }) => {
    assert.equal(a.hello.limits.maxMessageChars, MAX_MESSAGE_CHARS);
    // Each 🎉 is one code point but two UTF-16 units: a length check on units would refuse this.
    const exactly = '🎉'.repeat(MAX_MESSAGE_CHARS);
    const ack = await a.post(room.id, exactly, 'exactly-max');
    const over = expectFrame(
      await a.request({ type: 'send', room: room.id, clientMsgId: 'over-max', body: `${exactly}x` }),
      'error',
    );
    assert.equal(over.code, 'too_long');
    assert.equal(over.clientMsgId, 'over-max');
    assert.equal(over.room, room.id);
    const overAscii = expectFrame(
      await a.request({ type: 'send', room: room.id, clientMsgId: 'over-ascii', body: 'y'.repeat(MAX_MESSAGE_CHARS + 1) }),
      'error',
    );
    assert.equal(overAscii.code, 'too_long');
    const stored = (await a.allHistory(room.id)).find((m) => m.seq === ack.seq);
    assert.equal(stored?.body, exactly, 'stored verbatim');
  });
});

test('unknown room: not_found for send, subscribe and history; nothing stored', async () => {
  await withBystander(async ({ a }) => {
    const missing = 987_654;
    for (const frame of [
      { type: 'send', room: missing, clientMsgId: 'nowhere', body: 'hello?' },
      { type: 'subscribe', room: missing },
      { type: 'history', room: missing },
    ]) {
      const err = expectFrame(await a.request(frame), 'error');
      assert.equal(err.code, 'not_found', frame.type);
      assert.equal(err.room, missing);
    }
    assert.ok(!(await server.listPublicRooms()).some((r) => r.id === missing), 'no room was created');
    await assertKept(a);
  });
});

test('binary frame: error binary_not_supported, connection kept', async () => {
  await withBystander(async ({ a, room }) => {
    const bytes = Buffer.from(JSON.stringify({ type: 'send', room: room.id, clientMsgId: 'bin', body: 'binary' }));
    const err = await errorFor(a, bytes);
    assert.equal(err.code, 'binary_not_supported');
    await assertKept(a);
  });
});

test('history with both before and after: bad_frame echoing the id', async () => {
  await withBystander(async ({ a, room }) => {
    const err = expectFrame(await a.request({ type: 'history', room: room.id, before: 5, after: 1 }), 'error');
    assert.equal(err.code, 'bad_frame');
    assert.match(err.id ?? '', /-r\d+$/);
    await assertKept(a);
  });
});

test('#4 a frame over MAX_FRAME_BYTES closes the connection with 1009 and stores nothing', async () => {
  await withBystander(async ({ a, room }) => {
    assert.equal(a.hello.limits.maxFrameBytes, MAX_FRAME_BYTES);
    const body = 'z'.repeat(MAX_FRAME_BYTES);
    a.send({ type: 'send', room: room.id, clientMsgId: 'huge', body });
    const { code } = await a.closed;
    assert.equal(code, 1009);
    assert.ok(!a.frames.some((f) => f.type === 'ack' && f.clientMsgId === 'huge'));
  });
});

test(`#7 after ${MAX_BAD_FRAMES} bad frames the connection is closed with 1008`, async () => {
  await withBystander(async ({ a }) => {
    const bad = ['{', '[]', '{"type":"nope"}', Buffer.from('bin')];
    for (let i = 0; i < MAX_BAD_FRAMES - 1; i++) a.sendRaw(bad[i % bad.length]!);
    // 19 bad frames: still open and answering.
    await assertKept(a);
    a.sendRaw('{');
    const { code } = await a.closed;
    assert.equal(code, 1008);
    assert.equal(a.frames.filter((f) => f.type === 'error').length, MAX_BAD_FRAMES, 'every bad frame was answered');
  });
});

test(
  'an invalid request id is not echoed: error frames carry only ids of 1-64 characters',
  async () => {
    // Its own server, so a regression here fails this test alone, not the shared server's schema check.
    const own = await TestServer.start();
    try {
      const c = await own.connect();
      const err = await errorFor(c, '{"type":"ping","id":""}');
      assert.equal(err.code, 'bad_frame');
      assert.equal(err.id, undefined);
    } finally {
      await own.close();
    }
  },
);
