/**
 * Receipts both ways: what this device tells the server (cumulative `delivered` / `read` cursors per room,
 * coalesced to at most 4 frames a second per room) and what the server tells of the others (their cursors),
 * turned into the status of each own message.
 */
import type { ClientFrame, Cursor } from './protocol.js';

/** At most one `receipt` frame per room in this window (4 per second). */
const RECEIPT_INTERVAL_MS = 250;

/** Sends cumulative cursors, only when they grew, coalesced per room. */
export class ReceiptSender {
  private readonly sent = new Map<number, { delivered: number; read: number }>();
  private readonly wanted = new Map<number, { delivered: number; read: number }>();
  private readonly lastAt = new Map<number, number>();
  private readonly timers = new Map<number, ReturnType<typeof setTimeout>>();

  constructor(private readonly send: (frame: ClientFrame) => boolean) {}

  /** Records what the server already knows (from `unread`), so it is not sent again. */
  known(room: number, read: number): void {
    const s = this.sentOf(room);
    s.read = Math.max(s.read, read);
    s.delivered = Math.max(s.delivered, read);
  }

  /** The highest `read` this device has sent or learnt for `room`. */
  readOf(room: number): number {
    return Math.max(this.sent.get(room)?.read ?? 0, this.wanted.get(room)?.read ?? 0);
  }

  delivered(room: number, seq: number): void {
    this.want(room, seq, 0);
  }

  read(room: number, seq: number): void {
    this.want(room, seq, seq);
  }

  /** The socket was replaced: what was sent on the old one counts (the server keeps cursors), pending goes again. */
  flushAll(): void {
    for (const room of this.wanted.keys()) this.flush(room);
  }

  private sentOf(room: number): { delivered: number; read: number } {
    let s = this.sent.get(room);
    if (s === undefined) {
      s = { delivered: 0, read: 0 };
      this.sent.set(room, s);
    }
    return s;
  }

  private want(room: number, delivered: number, read: number): void {
    const sent = this.sentOf(room);
    const w = this.wanted.get(room) ?? { delivered: sent.delivered, read: sent.read };
    w.delivered = Math.max(w.delivered, delivered, read);
    w.read = Math.max(w.read, read);
    if (w.delivered <= sent.delivered && w.read <= sent.read) return;
    this.wanted.set(room, w);
    if (this.timers.has(room)) return;
    const wait = (this.lastAt.get(room) ?? -Infinity) + RECEIPT_INTERVAL_MS - Date.now();
    if (wait <= 0) this.flush(room);
    else
      this.timers.set(
        room,
        setTimeout(() => {
          this.timers.delete(room);
          this.flush(room);
        }, wait),
      );
  }

  private flush(room: number): void {
    const w = this.wanted.get(room);
    if (w === undefined) return;
    const sent = this.sentOf(room);
    const frame: ClientFrame = { type: 'receipt', room };
    if (w.delivered > sent.delivered) frame.delivered = w.delivered;
    if (w.read > sent.read) frame.read = w.read;
    if (frame.delivered === undefined && frame.read === undefined) {
      this.wanted.delete(room);
      return;
    }
    if (!this.send(frame)) return; // not connected: kept, sent after the next hello
    this.wanted.delete(room);
    sent.delivered = Math.max(sent.delivered, w.delivered);
    sent.read = Math.max(sent.read, w.read);
    this.lastAt.set(room, Date.now());
  }
}

/** The status of an own stored message. */
export interface MessageStatus {
  state: 'sent' | 'delivered' | 'read';
  /** Short text next to the ticks ("Read", "Read by 2"). */
  label: string;
  /** Longer text for the tooltip (who read it). */
  detail: string;
}

/** The cursors of the other members of each room. */
export class Cursors {
  private readonly rooms = new Map<number, Map<number, Cursor>>();

  /** Applies a `receipts` frame (cursors only move forward). */
  apply(room: number, cursors: readonly Cursor[]): void {
    let map = this.rooms.get(room);
    if (map === undefined) {
      map = new Map();
      this.rooms.set(room, map);
    }
    for (const c of cursors) {
      const old = map.get(c.user);
      map.set(c.user, {
        user: c.user,
        delivered: Math.max(old?.delivered ?? 0, c.delivered),
        ...(c.read !== undefined ? { read: Math.max(old?.read ?? 0, c.read) } : {}),
      });
    }
  }

  forget(room: number): void {
    this.rooms.delete(room);
  }

  /**
   * The status of my message `seq` in `room`: in a conversation of two, per the other person; elsewhere
   * "delivered" when anyone has it and "Read by N" with the names.
   */
  status(room: number, seq: number, meId: number, oneToOne: boolean, nameOf: (id: number) => string): MessageStatus {
    const others = [...(this.rooms.get(room)?.values() ?? [])].filter((c) => c.user !== meId);
    const readers = others.filter((c) => (c.read ?? 0) >= seq);
    const delivered = others.some((c) => c.delivered >= seq || (c.read ?? 0) >= seq);
    if (readers.length > 0) {
      if (oneToOne) return { state: 'read', label: 'Read', detail: `Read by ${nameOf(readers[0]!.user)}` };
      const names = readers.map((c) => nameOf(c.user)).sort((a, b) => a.localeCompare(b));
      return { state: 'read', label: `Read by ${readers.length}`, detail: `Read by ${names.join(', ')}` };
    }
    if (delivered) return { state: 'delivered', label: 'Delivered', detail: 'Delivered' };
    return { state: 'sent', label: 'Sent', detail: 'Sent' };
  }
}
