/**
 * The one WebSocket to `/ws`: connects, notices a dead link with application pings, and reconnects by itself
 * with backoff. It knows nothing about rooms; the app hears about every frame and every (re)connection.
 */
import { backoffDelay } from './backoff.js';
import type { ClientFrame, ServerFrame } from './protocol.js';

/** What the header pill shows. `connecting` is only the very first attempt after the page loads. */
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'offline';

/** How often the client pings, and how long it waits for any frame after a ping before giving up. */
export const PING_INTERVAL_MS = 20_000;
export const PONG_TIMEOUT_MS = 10_000;
/** A connection that stays up this long resets the backoff (a server that accepts and then drops is not "up"). */
export const STABLE_AFTER_MS = 10_000;
/** After this many failed attempts in a row the pill says "Offline" while waiting for the next one. */
export const OFFLINE_AFTER_FAILURES = 3;

/** Callbacks of a Connection. */
export interface ConnectionEvents {
  /** Every frame received, `hello` included (it arrives before `onReady`). */
  onFrame(frame: ServerFrame): void;
  /** The server said `hello` on a new socket: the moment to resume rooms and resend the outbox. */
  onReady(hello: Extract<ServerFrame, { type: 'hello' }>): void;
  /** The socket that was ready is gone; requests in flight on it will never be answered. */
  onLost(): void;
  onState(state: ConnectionState): void;
  /**
   * The server closed the socket because its credential was revoked (signed out, token revoked). Nothing
   * reconnects by itself: the app either goes to sign-in or, when the browser holds a newer session (after a
   * password change), calls `reconnectNow`.
   */
  onSignedOut(): void;
  /** An attempt failed before `hello` (`failures` in a row): the app may check whether the session expired. */
  onAttemptFailed?(failures: number): void;
}

/** Close reasons of code 1008 that mean the credential is gone: reconnecting cannot help. */
const SIGNED_OUT_REASONS: ReadonlySet<string> = new Set(['signed out', 'token revoked']);

/** A self-healing WebSocket connection. */
export class Connection {
  private socket: WebSocket | null = null;
  private ready = false;
  private failures = 0;
  private everConnected = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private pings = 0;
  private currentState: ConnectionState = 'connecting';
  private stopped = false;

  constructor(
    private readonly urlFor: () => string,
    private readonly events: ConnectionEvents,
  ) {
    // The browser knows about the network before any timer does: reconnect right away when it comes back.
    window.addEventListener('online', () => this.reconnectNow());
    window.addEventListener('offline', () => this.setState('offline'));
  }

  /** The state last reported. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** True between `hello` and the loss of the socket: frames sent now reach the server. */
  get isReady(): boolean {
    return this.ready;
  }

  /** Opens the first connection. */
  start(): void {
    this.open();
  }

  /** Sends a frame when ready; returns false (and sends nothing) otherwise, the app re-sends on `onReady`. */
  send(frame: ClientFrame): boolean {
    // A socket the server is closing (its close event not yet here) would only make the browser log an error.
    if (!this.ready || this.socket === null || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Closes the socket for good (signed out); nothing reconnects afterwards. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.drop();
  }

  /** Drops the current socket and connects again at once (e.g. the network returned). */
  reconnectNow(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.drop()) this.events.onLost();
    this.failures = 0;
    this.open();
  }

  private open(): void {
    if (this.stopped) return;
    this.setState(this.everConnected || this.failures > 0 ? this.waitingOrTrying(true) : 'connecting');
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.urlFor());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.onmessage = (event) => this.onMessage(socket, event);
    // `error` is always followed by `close`; the retry is scheduled there only.
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      if (event.code === 1008 && SIGNED_OUT_REASONS.has(event.reason)) {
        if (this.drop()) this.events.onLost();
        this.setState('reconnecting');
        this.events.onSignedOut();
        return;
      }
      this.lost();
    };
  }

  private onMessage(socket: WebSocket, event: MessageEvent): void {
    if (socket !== this.socket || typeof event.data !== 'string') return;
    // Any frame proves the link is alive, not only a pong.
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(event.data) as ServerFrame;
    } catch {
      return;
    }
    if (frame.type === 'hello') {
      this.ready = true;
      this.everConnected = true;
      this.setState('connected');
      this.startPinging();
      this.stableTimer = setTimeout(() => (this.failures = 0), STABLE_AFTER_MS);
      this.events.onFrame(frame);
      this.events.onReady(frame);
      return;
    }
    this.events.onFrame(frame);
  }

  /** The socket closed or was declared dead: forget it and plan the next attempt. */
  private lost(): void {
    const wasReady = this.drop();
    if (wasReady) this.events.onLost();
    this.failures += wasReady ? 0 : 1;
    if (!wasReady) this.events.onAttemptFailed?.(this.failures);
    this.scheduleRetry();
  }

  /** Detaches and closes the current socket without triggering its handlers; returns whether it was ready. */
  private drop(): boolean {
    const socket = this.socket;
    const wasReady = this.ready;
    this.socket = null;
    this.ready = false;
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    clearTimeout(this.stableTimer);
    this.pingTimer = this.pongTimer = this.stableTimer = undefined;
    if (socket !== null) {
      socket.onmessage = socket.onclose = null;
      // Closing a socket that is still connecting makes Chrome log an error; close it once it opens instead.
      if (socket.readyState === WebSocket.CONNECTING) socket.onopen = () => socket.close(1000);
      else if (socket.readyState === WebSocket.OPEN) socket.close(1000);
    }
    return wasReady;
  }

  private scheduleRetry(): void {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    // Close codes 1001 (restart), 1011 and 1013 all mean "come back later"; the protocol errors (1002, 1007,
    // 1008, 1009) would be client bugs, and a person is still better served by retrying than by a dead page.
    const delay = backoffDelay(this.failures);
    this.setState(this.waitingOrTrying(false));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, delay);
  }

  /** "Offline" when the browser says so or after repeated failures while waiting; "Reconnecting…" otherwise. */
  private waitingOrTrying(trying: boolean): ConnectionState {
    if (!navigator.onLine) return 'offline';
    if (!trying && this.failures >= OFFLINE_AFTER_FAILURES) return 'offline';
    return 'reconnecting';
  }

  private startPinging(): void {
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: 'ping', id: `p${++this.pings}` })) return;
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.lost(), PONG_TIMEOUT_MS);
    }, PING_INTERVAL_MS);
  }

  private setState(state: ConnectionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.events.onState(state);
  }
}
