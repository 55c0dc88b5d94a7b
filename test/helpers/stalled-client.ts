/**
 * A `/ws` client on a raw TCP socket that subscribes to a room and then stops reading, the way a stalled
 * phone or a stuck tab does. It reads nothing more after the `subscribed` answer, so its kernel receive buffer
 * stays at the small default (receive-buffer autotuning only grows it while the application reads) and the
 * server's own send buffer fills after tens of KiB, not tens of MB. `drain()` reads whatever was sent later,
 * decoding the frames: the message seqs it holds and the close code the server gave.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';

/** What a stalled client holds once the server has given up on it. */
export interface Drained {
  /** `seq` of every `message` frame received, in order. */
  seqs: number[];
  /** The close code of the server's close frame; null when the connection ended without one. */
  closeCode: number | null;
}

/** A masked client text frame (RFC 6455 5.3: clients mask every frame). */
function clientTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : Buffer.from([0x81, 0x80 | 126, len >> 8, len & 255]);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([head, mask, masked]);
}

interface Frame {
  opcode: number;
  payload: Buffer;
}

/** Decodes the complete server frames in `buf` (servers never mask); returns them and the bytes left over. */
function decodeFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let at = 0;
  while (buf.length - at >= 2) {
    const opcode = buf[at]! & 0x0f;
    let len = buf[at + 1]! & 0x7f;
    let head = 2;
    if (len === 126) {
      if (buf.length - at < 4) break;
      len = buf.readUInt16BE(at + 2);
      head = 4;
    } else if (len === 127) {
      if (buf.length - at < 10) break;
      len = Number(buf.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (buf.length - at < head + len) break;
    frames.push({ opcode, payload: buf.subarray(at + head, at + head + len) });
    at += head + len;
  }
  return { frames, rest: buf.subarray(at) };
}

export class StalledClient {
  private pending = Buffer.alloc(0);
  private readonly seqs: number[] = [];
  private closeCode: number | null = null;
  private ended = false;
  private onProgress: () => void = () => {};

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.take(chunk));
    socket.on('close', () => {
      this.ended = true;
      this.onProgress();
    });
    socket.on('error', () => {});
  }

  /** Connects to `/ws`, subscribes to `room` from the start, waits for `subscribed`, then stops reading. */
  static async open(baseUrl: string, cookie: string, room: number): Promise<StalledClient> {
    const { hostname, port } = new URL(baseUrl);
    const socket = net.connect(Number(port), hostname);
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
        `Origin: ${baseUrl}\r\nCookie: ${cookie}\r\n\r\n`,
    );
    let head = Buffer.alloc(0);
    const afterHead = await new Promise<Buffer>((resolve, reject) => {
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        socket.off('data', onData);
        const status = head.subarray(0, end).toString('latin1');
        if (!status.startsWith('HTTP/1.1 101')) reject(new Error(`handshake refused: ${status.split('\r\n')[0]}`));
        else resolve(head.subarray(end + 4));
      };
      socket.on('data', onData);
    });
    const client = new StalledClient(socket);
    client.take(afterHead);
    socket.write(clientTextFrame(JSON.stringify({ type: 'subscribe', room, since: 0 })));
    await client.until(() => client.sawSubscribed);
    socket.pause();
    return client;
  }

  private sawSubscribed = false;

  private take(chunk: Buffer): void {
    const { frames, rest } = decodeFrames(this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk);
    this.pending = Buffer.from(rest);
    for (const f of frames) {
      if (f.opcode === 0x8) {
        this.closeCode = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
        this.socket.destroy();
      } else if (f.opcode === 0x1) {
        const frame = JSON.parse(f.payload.toString('utf8')) as { type: string; seq?: number };
        if (frame.type === 'message') this.seqs.push(frame.seq!);
        else if (frame.type === 'subscribed') this.sawSubscribed = true;
      }
    }
    this.onProgress();
  }

  private until(done: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (done()) resolve();
        else if (this.ended) reject(new Error('connection ended early'));
      };
      this.onProgress = check;
      check();
    });
  }

  /**
   * Reads again until the server's close frame or the end of the connection, or until nothing has come for
   * `idleMs` (a server that never gave up on this client: closeCode is then null).
   */
  async drain(idleMs = 5000): Promise<Drained> {
    this.socket.resume();
    let timer: NodeJS.Timeout | undefined;
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.socket.destroy(), idleMs);
    };
    idle();
    await this.until(() => {
      idle();
      return this.ended || this.closeCode !== null;
    }).catch(() => {});
    clearTimeout(timer);
    return { seqs: this.seqs, closeCode: this.closeCode };
  }

  /** Drops the connection without a word (cleanup). */
  destroy(): void {
    this.socket.destroy();
  }
}
