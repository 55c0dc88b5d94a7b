/**
 * Byte-level tests, as the ws library's own: a raw TCP socket does the HTTP upgrade by hand and writes frame
 * bytes, then reads the server's close frame (SECURITY-CHECKLIST items 3, 4, 5, 6). Also the handshakes that
 * must be refused before any upgrade.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { serverFrameSchema } from '../helpers/frame-schemas.js';
import { TestServer, WAIT_MS } from '../helpers/server.js';

const MAX_FRAME_BYTES = 64 * 1024;
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

let server: TestServer;
/** The session cookie every hand-made handshake carries, so each test exercises what it names, not auth. */
let cookie: string;
before(async () => {
  server = await TestServer.start();
  cookie = (await server.user('raw')).cookie;
});
after(() => server.close());

/** One frame as read off the wire. */
interface WireFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Encodes a client frame; masked unless told otherwise, with any opcode and reserved bits. */
function encodeFrame(opts: { opcode: number; payload: Buffer | string; fin?: boolean; rsv1?: boolean; mask?: boolean }): Buffer {
  const payload = Buffer.isBuffer(opts.payload) ? opts.payload : Buffer.from(opts.payload, 'utf8');
  const mask = opts.mask ?? true;
  const first = ((opts.fin ?? true) ? 0x80 : 0) | (opts.rsv1 ? 0x40 : 0) | opts.opcode;
  let header: Buffer;
  if (payload.length < 126) {
    header = Buffer.from([first, payload.length]);
  } else if (payload.length < 0x10000) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = 126;
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  if (!mask) return Buffer.concat([header, payload]);
  header[1] = header[1]! | 0x80;
  const key = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] = masked[i]! ^ key[i % 4]!;
  return Buffer.concat([header, key, masked]);
}

/** Splits complete frames off the front of `buf`; returns them and the unparsed rest. */
function decodeFrames(buf: Buffer): { frames: WireFrame[]; rest: Buffer } {
  const frames: WireFrame[] = [];
  let at = 0;
  for (;;) {
    if (buf.length - at < 2) break;
    const b0 = buf[at]!;
    const b1 = buf[at + 1]!;
    let len = b1 & 0x7f;
    let offset = at + 2;
    if (len === 126) {
      if (buf.length < offset + 2) break;
      len = buf.readUInt16BE(offset);
      offset += 2;
    } else if (len === 127) {
      if (buf.length < offset + 8) break;
      len = Number(buf.readBigUInt64BE(offset));
      offset += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const keyAt = offset;
    if (masked) offset += 4;
    if (buf.length < offset + len) break;
    const payload = Buffer.from(buf.subarray(offset, offset + len));
    if (masked) for (let i = 0; i < len; i++) payload[i] = payload[i]! ^ buf[keyAt + (i % 4)]!;
    frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, masked, payload });
    at = offset + len;
  }
  return { frames, rest: buf.subarray(at) };
}

/** A raw TCP connection that speaks HTTP/1.1 and then reads WebSocket frames. */
class RawSocket {
  readonly socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private head: string | undefined;
  readonly frames: WireFrame[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('error', () => {});
    this.socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      if (this.head === undefined) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end === -1) return this.poke();
        this.head = this.buf.subarray(0, end).toString('latin1');
        this.buf = this.buf.subarray(end + 4);
      }
      if (this.head.startsWith('HTTP/1.1 101')) {
        const { frames, rest } = decodeFrames(this.buf);
        this.frames.push(...frames);
        this.buf = rest;
      }
      this.poke();
    });
    this.socket.on('close', () => {
      this.ended = true;
      this.poke();
    });
  }

  /** Waits until `ready()` holds; fails when it does not within the guard time. */
  async until<T>(ready: () => T | undefined, what: string): Promise<T> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const value = ready();
      if (value !== undefined) return value;
      if (this.ended) throw new Error(`connection ended before ${what}; head: ${this.head}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Sends an HTTP request head. */
  request(lines: string[]): void {
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  }

  /** The response head: status line and headers, lower-cased names. */
  async response(): Promise<{ statusLine: string; headers: Map<string, string> }> {
    const head = await this.until(() => this.head, 'the HTTP response');
    const [statusLine, ...rest] = head.split('\r\n');
    const headers = new Map(
      rest.map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()] as [string, string];
      }),
    );
    return { statusLine: statusLine!, headers };
  }

  /** Resolves when the server has closed the TCP connection. */
  async whenEnded(): Promise<void> {
    await this.until(() => (this.ended ? true : undefined), 'the connection to end').catch((err: Error) => {
      if (!this.ended) throw err;
    });
  }

  /** The first frame received with `opcode` (already or later). */
  frame(opcode: number): Promise<WireFrame> {
    return this.until(() => this.frames.find((f) => f.opcode === opcode), `a frame with opcode ${opcode}`);
  }

  /** The close code of the server's close frame. */
  async closeCode(): Promise<number> {
    const close = await this.frame(OP.close);
    assert.equal(close.masked, false, 'server frames are not masked');
    assert.ok(close.payload.length >= 2, 'the close frame carries a code');
    return close.payload.readUInt16BE(0);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The server's text frames, each checked against the documented schema. */
function textFrames(raw: RawSocket) {
  return raw.frames.filter((f) => f.opcode === OP.text).map((f) => serverFrameSchema.parse(JSON.parse(f.payload.toString('utf8'))));
}

/** Handshake lines for `path` with the given overrides (null drops a header). */
function handshake(path: string, overrides: Record<string, string | null> = {}, method = 'GET'): string[] {
  const headers: Record<string, string | null> = {
    Host: `127.0.0.1:${server.port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    Cookie: cookie,
    ...overrides,
  };
  return [`${method} ${path} HTTP/1.1`, ...Object.entries(headers).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}`)];
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

test('invalid UTF-8 in a masked text frame: close 1007', async (t) => {
  const raw = await upgraded(t);
  raw.write(encodeFrame({ opcode: OP.text, payload: Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d]) }));
  assert.equal(await raw.closeCode(), 1007);
  textFrames(raw);
});

test('an unmasked client frame: close 1002', async (t) => {
  const raw = await upgraded(t);
  raw.write(encodeFrame({ opcode: OP.text, payload: '{"type":"ping","id":"u"}', mask: false }));
  assert.equal(await raw.closeCode(), 1002);
  assert.ok(!textFrames(raw).some((f) => f.type === 'pong'), 'the frame was not handled');
});

test('RSV1 set while compression is off: close 1002', async (t) => {
  const raw = await upgraded(t);
  raw.write(encodeFrame({ opcode: OP.text, payload: '{"type":"ping","id":"r"}', rsv1: true }));
  assert.equal(await raw.closeCode(), 1002);
  assert.ok(!textFrames(raw).some((f) => f.type === 'pong'));
});

test('an unknown opcode (0x3): close 1002', async (t) => {
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

test('a fragmented message whose total exceeds MAX_FRAME_BYTES: close 1009, nothing stored', async (t) => {
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

test('a single frame header announcing more than MAX_FRAME_BYTES: close 1009 before the payload arrives', async (t) => {
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

test('malformed handshakes are refused before upgrading (400, or 405 for a wrong method)', async (t) => {
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

test('a plain GET /ws without upgrade headers is not upgraded', async (t) => {
  const raw = new RawSocket(server.port);
  t.after(() => raw.destroy());
  raw.request([`GET /ws HTTP/1.1`, `Host: 127.0.0.1:${server.port}`, 'Connection: close']);
  const { statusLine, headers } = await raw.response();
  assert.match(statusLine, /^HTTP\/1\.1 4\d\d /);
  assert.equal(headers.get('sec-websocket-accept'), undefined);
});
