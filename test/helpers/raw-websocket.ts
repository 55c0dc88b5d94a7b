/**
 * A WebSocket client made by hand, byte by byte, for tests of what the library would never send: any opcode,
 * reserved bits, unmasked or fragmented frames, invalid UTF-8, lengths that lie (as ws's own tests feed raw bytes
 * to its receiver).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { WAIT_MS } from './server.js';

export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** One frame as read off the wire. */
export interface WireFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Encodes a client frame; masked unless told otherwise, with any opcode and reserved bits. */
export function encodeFrame(opts: { opcode: number; payload: Buffer | string; fin?: boolean; rsv1?: boolean; mask?: boolean }): Buffer {
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
export function decodeFrames(buf: Buffer): { frames: WireFrame[]; rest: Buffer } {
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
export class RawSocket {
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

/** Handshake lines for `path` with the given overrides (null drops a header), signed in with `cookie`. */
export function handshakeLines(
  port: number,
  cookie: string,
  path: string,
  overrides: Record<string, string | null> = {},
  method = 'GET',
): string[] {
  const headers: Record<string, string | null> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    Cookie: cookie,
    ...overrides,
  };
  return [`${method} ${path} HTTP/1.1`, ...Object.entries(headers).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}`)];
}

