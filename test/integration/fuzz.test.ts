/**
 * Protocol fuzzing against a live server (issue 8; checklist #4 to #9): random and malformed frames generated
 * with fast-check. JSON level: invalid JSON, random JSON values, frames of every type with wrong-typed, missing
 * and extra fields, huge numbers and strings, deep nesting, `__proto__` / `constructor` keys, unknown ids,
 * negative and huge `seq`. Byte level: any opcode, reserved bits, unmasked and fragmented frames, invalid
 * UTF-8, lengths over the limit. Each case is answered as docs/protocol.md says (every frame the server sends
 * is checked against the documented schema, every error code is in the catalogue) or closed with the right
 * code; the server never crashes, no promise is left rejected, nothing is polluted, and a bystander's
 * messages, sent all along, all arrive once and in order.
 *
 * `npm test` runs FUZZ_CASES (4,000: 3,000 JSON and 1,000 byte-level cases); a longer run:
 * `FUZZ_CASES=20000 node --import tsx --test test/integration/fuzz.test.ts` (FUZZ_SEED repeats a run).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { ERROR_CATALOGUE } from '../../src/errors.js';
import { encodeFrame, handshakeLines, OP, RawSocket } from '../helpers/raw-websocket.js';
import { serverFrameSchema } from '../helpers/frame-schemas.js';
import { TestServer, type ChatClient, type Room } from '../helpers/server.js';

const CASES = Number(process.env.FUZZ_CASES ?? 4000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** One bystander message per this many cases. */
const CONTROL_EVERY = 100;
/** Close codes a fuzzed connection may get (RFC 6455: protocol error, bad UTF-8, policy, too big). */
const ALLOWED_CLOSES = new Set([1002, 1007, 1008, 1009]);

let server: TestServer;
let room: Room;
let bystander: ChatClient;
let speaker: ChatClient;
let controlSent = 0;
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await TestServer.start({
    MESSAGE_RATE_LIMIT: '1000000',
    FRAMES_PER_SECOND: '1000000',
    HANDSHAKES_PER_ADDRESS_PER_MINUTE: '1000000',
  });
  room = await server.createRoom('fuzzed', { as: 'speaker' });
  speaker = await server.connect('speaker');
  bystander = await server.connect('bystander');
  await bystander.subscribe(room.id);
});
after(async () => {
  process.off('unhandledRejection', onUnhandled);
  await server.close();
});

/** The bystander's conversation goes on while the fuzzing runs. */
async function control(): Promise<void> {
  await speaker.post(room.id, `control ${++controlSent}`);
}

/** Numbers that break naive code: huge, negative, fractional, unsafe. */
const nasty = fc.oneof(
  fc.constantFrom(0, -1, -0, 1.5, 2 ** 31, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e308, Number.MAX_VALUE, Number.MIN_VALUE),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
/** Any JSON value, from a plain string to a nested structure. */
const anyValue = fc.oneof(
  { depthSize: 'small' },
  nasty,
  fc.string({ maxLength: 80 }),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), { maxLength: 5 }),
  fc.jsonValue({ maxDepth: 3 }),
);
const TYPES = ['send', 'edit', 'delete', 'react', 'subscribe', 'unsubscribe', 'resume', 'history', 'ping', 'receipt', 'typing', 'presence', 'hello', '', 'SEND', 'constructor'];
const FIELDS = ['id', 'room', 'body', 'clientMsgId', 'since', 'messageId', 'emoji', 'on', 'rooms', 'before', 'after', 'limit', 'delivered', 'read', 'state', 'replyTo', 'attachments'];

/** A frame object of a real type with any mix of its fields (and others), each of any type. */
const frameObject = fc
  .tuple(
    fc.constantFrom(...TYPES),
    fc.dictionary(fc.constantFrom(...FIELDS), anyValue, { maxKeys: 6 }),
    fc.boolean(),
    fc.constantFrom(1, 1000, -1, 2 ** 53),
  )
  .map(([type, fields, realRoom, otherRoom]) => {
    const obj: Record<string, unknown> = { type, ...fields };
    if (realRoom) obj.room = room.id;
    else if (!('room' in fields)) obj.room = otherRoom;
    if (type === 'send' && typeof obj.body !== 'string') obj.body = 'fuzz';
    if (type === 'send' && !('clientMsgId' in fields)) obj.clientMsgId = `c${Math.random()}`;
    return JSON.stringify(obj);
  });

/** Keys that pollute prototypes when code copies them naively, spliced in as JSON text. */
const pollution = fc
  .tuple(frameObject, fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.constantFrom('{"polluted":1}', '{"prototype":{"polluted":1}}', '1'))
  .map(([json, key, value]) => `{"${key}":${value},${json.slice(1)}`);

/** Deeply nested arrays or objects, up to about the frame limit. */
const deep = fc
  .tuple(fc.integer({ min: 1, max: 40_000 }), fc.boolean())
  .map(([n, arrays]) => (arrays ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n)));

/** One text frame's content. */
const jsonCase = fc.oneof(
  { weight: 4, arbitrary: frameObject },
  { weight: 2, arbitrary: pollution },
  { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 70_000 }).map((n) => JSON.stringify({ type: 'send', room: room.id, clientMsgId: 'big', body: 'x'.repeat(n) })) },
);

/** Every frame a client got is documented, and every error code is in the catalogue. */
function checkAnswers(c: ChatClient): void {
  c.assertValid();
  for (const f of c.frames) if (f.type === 'error') assert.ok(f.code in ERROR_CATALOGUE, `error code ${f.code}`);
}

test(`JSON-level fuzzing: ${Math.round(CASES * 0.75)} random frames are answered or closed as documented`, async (t) => {
  t.diagnostic(`FUZZ_SEED=${SEED}`);
  const cases = fc.sample(jsonCase, { numRuns: Math.round(CASES * 0.75), seed: SEED });
  let client = await server.connect('fuzzer');
  let reconnects = 0;
  for (const [i, text] of cases.entries()) {
    if (i % CONTROL_EVERY === 0) await control();
    client.sendRaw(text, false);
    client.send({ type: 'ping', id: `k${i}` });
    const outcome = await Promise.race([
      client.next((f) => f.type === 'pong' && f.id === `k${i}`).then(() => 'answered' as const, () => 'closed' as const),
      client.closed.then(() => 'closed' as const),
    ]);
    if (outcome === 'closed') {
      const { code } = await client.closed;
      assert.ok(ALLOWED_CLOSES.has(code), `case ${i} closed with ${code}: ${text.slice(0, 200)}`);
      checkAnswers(client);
      client = await server.connect('fuzzer');
      reconnects++;
    }
  }
  checkAnswers(client);
  await client.close();
  t.diagnostic(`${cases.length} cases, ${reconnects} connections closed (1008 after ${'20'} bad frames, 1009 for big ones)`);
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted');
});

/** One hand-made frame: any opcode and flags, masked or not, with any payload. */
const rawFrame = fc.record({
  opcode: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(OP.text, OP.binary, OP.continuation) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }),
  fin: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  rsv1: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  mask: fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.string({ maxLength: 100 }).map((s) => Buffer.from(s)),
    fc.constant(Buffer.from([0xc3, 0x28, 0xff, 0xfe])),
    fc.integer({ min: 65_537, max: 70_000 }).map((n) => Buffer.alloc(n, 0x20)),
  ),
});

test(`byte-level fuzzing: ${Math.round(CASES * 0.25)} sequences of raw frames never crash the server`, async (t) => {
  const cases = fc.sample(fc.array(rawFrame, { minLength: 1, maxLength: 4 }), { numRuns: Math.round(CASES * 0.25), seed: SEED + 1 });
  const cookie = (await server.user('raw-fuzzer')).cookie;
  const outcomes = { answered: 0, closed: 0 };
  for (const [i, frames] of cases.entries()) {
    if (i % CONTROL_EVERY === 0) await control();
    const raw = new RawSocket(server.port);
    try {
      raw.request(handshakeLines(server.port, cookie, '/ws'));
      const { statusLine } = await raw.response();
      assert.match(statusLine, /^HTTP\/1\.1 101 /);
      await raw.frame(OP.text); // hello
      for (const f of frames) raw.write(encodeFrame(f));
      raw.write(encodeFrame({ opcode: OP.text, payload: JSON.stringify({ type: 'ping', id: `r${i}` }) }));
      const clientClosed = frames.some((f) => f.opcode === OP.close);
      const end = await raw.until(() => {
        const texts = raw.frames.filter((f) => f.opcode === OP.text).map((f) => f.payload.toString('utf8'));
        if (texts.some((s) => s.includes(`"r${i}"`))) return 'answered' as const;
        if (raw.frames.some((f) => f.opcode === OP.close)) return 'closed' as const;
        return undefined;
      }, `an answer or a close for case ${i}`);
      outcomes[end]++;
      for (const f of raw.frames.filter((x) => x.opcode === OP.text)) serverFrameSchema.parse(JSON.parse(f.payload.toString('utf8')));
      const close = raw.frames.find((f) => f.opcode === OP.close);
      if (close && close.payload.length >= 2 && !clientClosed) {
        const code = close.payload.readUInt16BE(0);
        assert.ok(ALLOWED_CLOSES.has(code), `case ${i} closed with ${code}: ${JSON.stringify(frames.map((f) => ({ ...f, payload: f.payload.length })))}`);
      }
    } finally {
      raw.destroy();
    }
  }
  t.diagnostic(`${cases.length} cases: ${outcomes.answered} answered, ${outcomes.closed} closed`);
});

test('after the fuzzing: the server is healthy, nothing was left rejected, the bystander got every message once, in order', async () => {
  await control();
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  await bystander.next((f) => f.type === 'message' && f.body === `control ${controlSent}`);
  const got = bystander.frames.flatMap((f) => (f.type === 'message' && f.room === room.id ? [f] : []));
  const controls = got.filter((m) => m.body.startsWith('control '));
  assert.deepEqual(
    controls.map((m) => m.body),
    Array.from({ length: controlSent }, (_, i) => `control ${i + 1}`),
  );
  const seqs = got.map((m) => m.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in seq order');
  assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
  assert.deepEqual(unhandled, [], 'no unhandled rejection');
  checkAnswers(bystander);
});
