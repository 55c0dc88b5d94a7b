/**
 * A WebSocket as the sessions use it: an id for logs, writes that respect the send-buffer bound, and the
 * close codes of docs/protocol.md in one place.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import * as wsModule from 'ws';
import { WebSocket } from 'ws';
import { ConfabError } from '../errors.js';
import { GatewayCounters } from './counters.js';
import type { FrameRate } from './frame-rate.js';

/** Frames refused in a row for the frame rate after which the connection is closed with 1008 (checklist #12). */
export const MAX_FLOOD_REFUSALS = 50;

/** The answer to a frame refused for the frame rate, on either endpoint. */
export const frameRateError = (retryAfterMs: number) =>
  new ConfabError('rate_limited', 'Too many frames; slow down', { retryAfterMs });

/** Close codes Confab uses (RFC 6455 numbers). */
export const CLOSE = {
  goingAway: 1001,
  policyViolation: 1008,
  internalError: 1011,
  tryAgainLater: 1013,
} as const;

/** Reason of the 1008 close of a user's connections when their admin right changed: reconnecting takes it up. */
export const PERMISSIONS_CHANGED = 'permissions changed';

/**
 * Write coalescing: the first frame written to a socket in an event-loop turn corks it, and one `setImmediate`
 * per turn uncorks every socket corked meanwhile, so the frames a socket got in that turn leave in one
 * writev. Idle, that is one frame and no added wait (the check phase follows the poll phase that caused the
 * write). Corked bytes stay in the socket's writable buffer, so `bufferedAmount` still counts them.
 */
const corked = new Set<Socket>();
let uncorkScheduled = false;

function uncorkAll(): void {
  uncorkScheduled = false;
  for (const socket of corked) socket.uncork();
  corked.clear();
}

/** The TCP socket under a `ws` WebSocket (ws keeps it in a private field; it has no public accessor). */
function socketOf(ws: WebSocket): Socket | null {
  return (ws as unknown as { _socket: Socket | null })._socket;
}

function corkForThisTurn(ws: WebSocket): void {
  const socket = socketOf(ws);
  if (!socket || corked.has(socket)) return;
  socket.cork();
  corked.add(socket);
  if (!uncorkScheduled) {
    uncorkScheduled = true;
    setImmediate(uncorkAll);
  }
}

/** A Buffer handed to `send` is still a text frame (the payload of a PreparedFrame ws frames itself). */
const TEXT_FRAME = { binary: false } as const;

/** ws's own framing (RFC 6455 section 5.2), which its type declarations leave out. */
const { Sender } = wsModule as unknown as {
  Sender: {
    frame(data: Buffer, o: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[];
  };
};
const TEXT_OPCODE = 1;
// Not in ws's declared API: fail at start-up, not at the first delivery, if an upgrade of ws drops it.
if (typeof Sender?.frame !== 'function') throw new Error('ws.Sender.frame is missing: PreparedFrame needs it (check the ws version)');

/**
 * A text frame framed once for every recipient: the payload's WebSocket header and bytes in one Buffer, written
 * to each socket with one write. `ws.send` would frame it again per socket (an options object, a header Buffer
 * and two writes each); server frames are never masked, so the framed bytes are the same for everyone.
 */
export class PreparedFrame {
  private framed: Buffer | undefined;

  constructor(readonly payload: Buffer) {}

  /** Header and payload, as they go on the wire. */
  get wire(): Buffer {
    return (this.framed ??= Buffer.concat(
      Sender.frame(this.payload, { fin: true, opcode: TEXT_OPCODE, mask: false, readOnly: false, rsv1: false }),
    ));
  }
}

/** What a connection does about floods: its frame rate (null: unlimited) and how long a flooder is held. */
export interface FloodPolicy {
  frameRate: FrameRate | null;
  /** How long a connection cut for flooding is held, paused and unread, before its TCP connection is dropped. */
  floodHoldMs: number;
}

const UNLIMITED: FloodPolicy = { frameRate: null, floodHoldMs: 0 };

export class Connection {
  readonly id = randomBytes(6).toString('hex');

  /** Frames refused for the frame rate since the last one admitted. */
  private refusals = 0;
  /** Cut for flooding: whatever else it sent is dropped unread. */
  private flooding = false;

  constructor(
    readonly ws: WebSocket,
    private readonly maxBufferedBytes: number,
    /** The instance's totals (frames in and out, closes for reading slowly or flooding). */
    private readonly counters: GatewayCounters = new GatewayCounters(),
    private readonly flood: FloodPolicy = UNLIMITED,
  ) {}

  /**
   * Admits one inbound frame under the connection's frame rate: 0, or the milliseconds until the next one
   * would be admitted (the caller answers `rate_limited` with them), or null once the connection has been cut
   * for flooding (the caller drops the frame unanswered).
   */
  admitFrame(): number | null {
    this.counters.framesIn++;
    if (this.flooding) return null;
    const wait = this.flood.frameRate?.take() ?? 0;
    if (wait === 0) {
      this.refusals = 0;
      return 0;
    }
    if (++this.refusals > MAX_FLOOD_REFUSALS) {
      // Already closing (slow reader, revocation, shutdown): its own close goes on; the rest is dropped.
      if (this.ws.readyState === WebSocket.OPEN) this.cutForFlooding();
      else this.flooding = true;
      return null;
    }
    return wait;
  }

  /**
   * MAX_FLOOD_REFUSALS refusals in a row is flooding, not bursting. Closing at once would invite a reconnect,
   * a handshake and a new burst every few milliseconds (measured: a tenth of a core for one flooder at 10,000
   * frames a second). Instead the socket stops being read, so TCP flow control holds the flood back on the
   * sender's side at no cost here; the 1008 close frame goes out now, and the TCP connection is dropped after
   * `floodHoldMs` (the peer's answering close frame is never read), which is when a client learns it was closed.
   */
  private cutForFlooding(): void {
    this.flooding = true;
    this.counters.floodCloses++;
    this.ws.pause();
    this.close(CLOSE.policyViolation, 'too many frames');
    const drop = setTimeout(() => this.ws.terminate(), this.flood.floodHoldMs);
    this.ws.once('close', () => clearTimeout(drop));
  }

  /**
   * Queues a serialized text frame (a string, its UTF-8 bytes, or a frame prepared once for many recipients).
   * A client that reads too slowly is closed with 1013 once its unsent output (including frames corked for this
   * turn) passes the bound, instead of letting one slow reader hold memory; it resumes by `seq` later. Returns
   * false when the frame was not queued.
   */
  write(frame: string | Buffer | PreparedFrame): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    if (this.ws.bufferedAmount > this.maxBufferedBytes) {
      this.counters.slowConsumerCloses++;
      this.close(CLOSE.tryAgainLater, 'send buffer full');
      return false;
    }
    corkForThisTurn(this.ws);
    if (!(frame instanceof PreparedFrame)) this.ws.send(frame, TEXT_FRAME);
    else this.writeFramed(frame);
    this.counters.framesOut++;
    return true;
  }

  /**
   * The prepared bytes go straight to the socket, which is what ws itself does with a frame, as long as ws's
   * sender has nothing of its own in progress. It only ever has with an extension (permessage-deflate, which
   * the gateway turns off, queues while it compresses): with one negotiated, ws frames the payload itself.
   * `bufferedAmount` counts these bytes too (they sit in the socket's writable buffer).
   */
  private writeFramed(frame: PreparedFrame): void {
    const socket = socketOf(this.ws);
    if (socket && this.ws.extensions === '') socket.write(frame.wire);
    else this.ws.send(frame.payload, TEXT_FRAME);
  }

  /**
   * For output the server can pace (replay from the store): null while the unsent output is under half the
   * bound, otherwise a promise settled once the socket has drained (or the connection closed). Replay waits on
   * it instead of running into the 1013 bound, which is for live traffic the server cannot hold back.
   */
  whenWritable(): Promise<void> | null {
    const socket = socketOf(this.ws);
    if (this.ws.readyState !== WebSocket.OPEN || !socket) return null;
    // 'drain' comes only after a write found the buffer past its high-water mark: without that, go on writing.
    if (this.ws.bufferedAmount <= this.maxBufferedBytes / 2 || !socket.writableNeedDrain) return null;
    return new Promise((resolve) => {
      const done = () => {
        socket.off('drain', done);
        this.ws.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      this.ws.on('close', done);
    });
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason);
    }
  }
}
