/**
 * Byte-level tests, as the ws library's own: a raw TCP socket does the HTTP upgrade by hand and writes frame
 * bytes, then reads the server's close frame (SECURITY-CHECKLIST items 3, 4, 5, 6). Also the handshakes that
 * must be refused before any upgrade.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { serverFrameSchema } from '../helpers/frame-schemas.js';
import { encodeFrame, handshakeLines, OP, RawSocket, WS_GUID } from '../helpers/raw-websocket.js';
import { TestServer } from '../helpers/server.js';

const MAX_FRAME_BYTES = 64 * 1024;
let server: TestServer;
/** The session cookie every hand-made handshake carries, so each test exercises what it names, not auth. */
let cookie: string;
before(async () => {
  server = await TestServer.start();
  cookie = (await server.user('raw')).cookie;
});
after(() => server.close());

/** The server's text frames, each checked against the documented schema. */
function textFrames(raw: RawSocket) {
  return raw.frames.filter((f) => f.opcode === OP.text).map((f) => serverFrameSchema.parse(JSON.parse(f.payload.toString('utf8'))));
}

/** Handshake lines for `path` with the given overrides (null drops a header). */
function handshake(path: string, overrides: Record<string, string | null> = {}, method = 'GET'): string[] {
  return handshakeLines(server.port, cookie, path, overrides, method);
}

/** Opens `/ws` by hand, checks the 101 and the accept key, and waits for `hello`. */
async function upgraded(t: { after(fn: () => void): void }): Promise<RawSocket> {
  const raw = new RawSocket(server.port);
  t.after(() => raw.destroy());
  const key = randomBytes(16).toString('base64');
  raw.request(handshake('/ws', { 'Sec-WebSocket-Key': key }));
  const { statusLine, headers } = await raw.response();
  assert.match(statusLine, /^HTTP\/1\.1 101 /);
  const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
  assert.equal(headers.get('sec-websocket-accept'), accept);
  assert.equal(headers.get('sec-websocket-extensions'), undefined, 'permessage-deflate is off');
  await raw.frame(OP.text);
  assert.equal(textFrames(raw)[0]?.type, 'hello', 'the documented hello comes first');
  return raw;
}

test('#5 invalid UTF-8 in a masked text frame: close 1007', async (t) => {
  const raw = await upgraded(t);
  raw.write(encodeFrame({ opcode: OP.text, payload: Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d]) }));
  assert.equal(await raw.closeCode(), 1007);
  textFrames(raw);
});

test('#6 an unmasked client frame: close 1002', async (t) => {
  const raw = await upgraded(t);
  raw.write(encodeFrame({ opcode: OP.text, payload: '{"type":"ping","id":"u"}', mask: false }));
  assert.equal(await raw.closeCode(), 1002);
  assert.ok(!textFrames(raw).some((f) => f.type === 'pong'), 'the frame was not handled');
});

test('#6 RSV1 set while compression is off: close 1002', async (t) => {
  const raw = await upgraded(t);
  raw.write(encodeFrame({ opcode: OP.text, payload: '{"type":"ping","id":"r"}', rsv1: true }));
  assert.equal(await raw.closeCode(), 1002);
  assert.ok(!textFrames(raw).some((f) => f.type === 'pong'));
});

test('#6 an unknown opcode (0x3): close 1002', async (t) => {
  const raw = await upgraded(t);
  raw.write(encodeFrame({ opcode: 0x3, payload: '{"type":"ping","id":"o"}' }));
  assert.equal(await raw.closeCode(), 1002);
  assert.ok(!textFrames(raw).some((f) => f.type === 'pong'));
});

test('a fragmented text message (FIN=0, then continuation, with a ping between) is reassembled: pong', async (t) => {
  const raw = await upgraded(t);
  raw.write(encodeFrame({ opcode: OP.text, payload: '{"type":"pi', fin: false }));
  raw.write(encodeFrame({ opcode: OP.ping, payload: 'between' }));
  raw.write(encodeFrame({ opcode: OP.continuation, payload: 'ng","id":"f"}' }));
  const pong = await raw.frame(OP.pong);
  assert.equal(pong.payload.toString(), 'between', 'a control frame may sit between fragments');
  await raw.until(() => (textFrames(raw).some((f) => f.type === 'pong' && f.id === 'f') ? true : undefined), 'pong');
  // A text frame split inside a multi-byte character is valid UTF-8 as a whole.
  const euro = Buffer.from('{"type":"ping","id":"€"}', 'utf8');
  const cut = euro.indexOf(0xe2) + 1;
  raw.write(encodeFrame({ opcode: OP.text, payload: euro.subarray(0, cut), fin: false }));
  raw.write(encodeFrame({ opcode: OP.continuation, payload: euro.subarray(cut) }));
  await raw.until(() => (textFrames(raw).some((f) => f.type === 'pong' && f.id === '€') ? true : undefined), 'pong €');
});

test('#4 a fragmented message whose total exceeds MAX_FRAME_BYTES: close 1009, nothing stored', async (t) => {
  const room = await server.createRoom('fragments');
  const raw = await upgraded(t);
  const text = Buffer.from(
    JSON.stringify({ type: 'send', room: room.id, clientMsgId: 'frag', body: 'q'.repeat(MAX_FRAME_BYTES) }),
  );
  const half = Math.ceil(text.length / 2);
  assert.ok(half < MAX_FRAME_BYTES, 'each fragment alone is under the limit');
  raw.write(encodeFrame({ opcode: OP.text, payload: text.subarray(0, half), fin: false }));
  raw.write(encodeFrame({ opcode: OP.continuation, payload: text.subarray(half) }));
  assert.equal(await raw.closeCode(), 1009);
  assert.ok(!textFrames(raw).some((f) => f.type === 'ack'));
  const observer = await server.connect();
  assert.deepEqual(await observer.allHistory(room.id), [], 'nothing stored');
});

test('#4 a single frame header announcing more than MAX_FRAME_BYTES: close 1009 before the payload arrives', async (t) => {
  const raw = await upgraded(t);
  const full = encodeFrame({ opcode: OP.text, payload: Buffer.alloc(MAX_FRAME_BYTES + 1, 0x20) });
  // Only the 14 header bytes (2 + 8 length + 4 mask key): the server refuses from the header alone.
  raw.write(full.subarray(0, 14));
  assert.equal(await raw.closeCode(), 1009);
});

test('an upgrade to an unknown path is refused with 404 before upgrading', async (t) => {
  for (const path of ['/nope', '/ws/', '/wss', '/ws/chat/', '/ws/chat/a/b/']) {
    const raw = new RawSocket(server.port);
    t.after(() => raw.destroy());
    raw.request(handshake(path));
    const { statusLine, headers } = await raw.response();
    assert.match(statusLine, /^HTTP\/1\.1 404 /, path);
    assert.equal(headers.get('sec-websocket-accept'), undefined);
    await raw.whenEnded();
  }
});

test('#3 malformed handshakes are refused before upgrading (400, or 405 for a wrong method)', async (t) => {
  const cases: Array<[string, string[], RegExp]> = [
    ['bad Sec-WebSocket-Key', handshake('/ws', { 'Sec-WebSocket-Key': 'not-a-key' }), /^HTTP\/1\.1 400 /],
    ['missing Sec-WebSocket-Key', handshake('/ws', { 'Sec-WebSocket-Key': null }), /^HTTP\/1\.1 400 /],
    ['unsupported version', handshake('/ws', { 'Sec-WebSocket-Version': '12' }), /^HTTP\/1\.1 400 /],
    ['missing version', handshake('/ws', { 'Sec-WebSocket-Version': null }), /^HTTP\/1\.1 400 /],
    ['Upgrade: h2c', handshake('/ws', { Upgrade: 'h2c' }), /^HTTP\/1\.1 400 /],
    ['POST', handshake('/ws', {}, 'POST'), /^HTTP\/1\.1 405 /],
  ];
  for (const [what, lines, expected] of cases) {
    const raw = new RawSocket(server.port);
    t.after(() => raw.destroy());
    raw.request(lines);
    const { statusLine, headers } = await raw.response();
    assert.match(statusLine, expected, what);
    assert.equal(headers.get('sec-websocket-accept'), undefined, what);
    await raw.whenEnded();
  }
});

test('#3 a plain GET /ws without upgrade headers is not upgraded', async (t) => {
  const raw = new RawSocket(server.port);
  t.after(() => raw.destroy());
  raw.request([`GET /ws HTTP/1.1`, `Host: 127.0.0.1:${server.port}`, 'Connection: close']);
  const { statusLine, headers } = await raw.response();
  assert.match(statusLine, /^HTTP\/1\.1 4\d\d /);
  assert.equal(headers.get('sec-websocket-accept'), undefined);
});
