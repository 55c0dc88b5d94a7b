/**
 * The WebSocket gateway: routes HTTP upgrades to `/ws` or the original `/ws/chat/<room>/`, refuses the rest
 * before upgrading, keeps connections alive with pings, and closes them all on a graceful stop.
 */
import type { IncomingMessage, Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { ChatService } from '../chat/chat-service.js';
import { checkRoomName } from '../chat/rules.js';
import type { AccountService } from '../chat/accounts.js';
import type { PresenceService } from '../chat/presence.js';
import type { ReceiptService } from '../chat/receipts.js';
import { guestPrincipal, type Principal } from '../chat/principal.js';
import { credentialOf, type Credential } from '../access/credentials.js';
import { clientAddress } from '../access/client-address.js';
import { originAllowed, type OriginPolicy } from '../access/origin.js';
import { ClientSession } from './client-session.js';
import { CLOSE, Connection, PERMISSIONS_CHANGED } from './connection.js';
import type { GatewayCounters } from './counters.js';
import { ConnectionLimits, type Refusal } from './connection-limits.js';
import { FrameRate } from './frame-rate.js';
import type { MessageChanges } from '../chat/message-changes.js';
import type { Hub } from './hub.js';
import { LegacySession } from './legacy-session.js';

const LEGACY_PATH = /^\/ws\/chat\/([^/]+)\/?$/;
/** A connection may send this many seconds' worth of its frame rate at once (FRAMES_PER_SECOND x this). */
export const FRAME_BURST_SECONDS = 2;
/**
 * Refused handshakes are logged at warn once per address and reason in this window, the rest at debug: a client
 * retrying in a loop must not turn into a thousand log lines a second. /metrics counts every one.
 */
export const REFUSAL_LOG_WINDOW_MS = 60_000;
/** Distinct `reason address` pairs remembered per window; past it, every refusal is logged at debug only. */
export const MAX_REFUSALS_LOGGED = 10_000;

export interface GatewayOptions {
  chat: ChatService;
  changes: MessageChanges;
  receipts: ReceiptService;
  presence: PresenceService;
  accounts: AccountService;
  originPolicy: OriginPolicy;
  allowGuests: boolean;
  hub: Hub;
  log: Logger;
  maxMessageChars: number;
  maxFrameBytes: number;
  maxUploadBytes: number;
  maxBufferedBytes: number;
  heartbeatIntervalMs: number;
  maxConnectionsPerUser: number;
  maxConnectionsPerAddress: number;
  handshakesPerAddressPerMinute: number;
  framesPerSecond: number;
  floodHoldMs: number;
  /** The instance's totals, shared with the hub (deliveries) and read by /metrics. */
  counters: GatewayCounters;
  observeSendSeconds?: (seconds: number) => void;
}

interface Session {
  /** A frame from the client. */
  onFrame(data: Buffer, isBinary: boolean): void;
  /** The connection closed. */
  onClose(): void;
  idle(): Promise<unknown>;
  /** After a channel-layer outage or a recheck asked for: whether the connection may still read each room it follows. */
  recheckRooms(): Promise<void>;
}

/**
 * What the gateway keeps of an open connection, in one object: the socket's listeners are functions shared by
 * every connection that find this by the socket, since a closure per listener and connection (message,
 * close, pong, error, the count's release, the recheck) cost about 0.8 KiB per idle connection.
 */
interface Tracked {
  conn: Connection;
  session: Session;
  who: Principal;
  address: string;
  /** What the handshake was signed in with, to check it again (null for a guest). */
  credential: Credential | null;
  /** Which tick of the heartbeat's HEARTBEAT_SLOTS pings this connection. */
  slot: number;
}

/**
 * The heartbeat visits each connection once per HEARTBEAT_INTERVAL_MS, but in this many ticks of the interval,
 * each pinging the connections of one slot (dealt out in turn as they open), instead of all at once: 1,000 pings
 * written in one turn, then 1,000 pongs read, held the event loop for about 50 ms every 30 s (seen in a profile:
 * the p99 of a bench step that contained it went from 7 to 25-57 ms at 10,000 deliveries/s), and 20,000 would
 * hold it for most of a second.
 */
export const HEARTBEAT_SLOTS = 30;

/** Connections checked at once in a recheck (each one credential read, one per room it follows). */
export const RECHECK_BATCH = 100;

/** Answers a refused upgrade with a plain HTTP response and drops the socket. */
function refuse(socket: Duplex, status: number, reason: string): void {
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason}\n`);
  }
  socket.destroy();
}

/** A listener for every socket: `ws` calls it with `this` set to the socket, which it hands on first. */
function perSocket<A extends unknown[]>(listener: (ws: WebSocket, ...args: A) => void): (this: WebSocket, ...args: A) => void {
  return function (this: WebSocket, ...args: A) {
    listener(this, ...args);
  };
}

/** A labelled name for an anonymous guest of the original endpoint. */
function guestName(): string {
  return `guest-${randomBytes(2).toString('hex')}`;
}

export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly tracked = new Map<WebSocket, Tracked>();
  private readonly alive = new WeakSet<WebSocket>();
  /** The heartbeat slot the next connection gets, and the one the next tick pings (see HEARTBEAT_SLOTS). */
  private nextSlot = 0;
  private beatSlot = 0;
  /** The checks after subscribing still running (see recheck). */
  private readonly firstChecks = new Set<Promise<boolean>>();
  /** The recheck pass running (recheckAll), and whether another was asked for meanwhile. */
  private rechecking: Promise<void> | null = null;
  private recheckAgain = false;
  private readonly heartbeat: NodeJS.Timeout;
  private accepting = true;
  /** Running totals (tests and /metrics). */
  readonly counters: GatewayCounters;
  private readonly limits: ConnectionLimits;
  /** `reason address` of the refusals logged at warn in this REFUSAL_LOG_WINDOW_MS. */
  private readonly refusalsLogged = new Set<string>();
  private readonly refusalLogWindow: NodeJS.Timeout;

  constructor(
    server: Server,
    private readonly opts: GatewayOptions,
  ) {
    this.counters = opts.counters;
    this.limits = new ConnectionLimits(opts);
    // maxPayload makes ws refuse an oversized frame (1009) from its header, before buffering it.
    // No clientTracking: the gateway tracks its connections itself (ws's own Set would add a close listener each).
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    // A peer that misses two pings in a row is gone (half-open TCP): terminate it.
    this.heartbeat = setInterval(() => this.beat(), opts.heartbeatIntervalMs / HEARTBEAT_SLOTS);
    this.heartbeat.unref();
    this.refusalLogWindow = setInterval(() => this.refusalsLogged.clear(), REFUSAL_LOG_WINDOW_MS);
    this.refusalLogWindow.unref();
  }

  /** Open connections (tests, metrics). */
  get connectionCount(): number {
    return this.tracked.size;
  }

  /**
   * Checks run cheapest first and all before the upgrade: path, room name, Origin (403), then credentials
   * (401; a request without any costs no database work). The original endpoint admits labelled guests only
   * when ALLOW_GUESTS is on.
   */
  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A method, not a closure here: this listener lives as long as the socket, and a closure would keep this
    // call's whole scope (the request and its headers) alive with it, about 1 KiB per connection.
    socket.on('error', this.onSocketError);
    if (!this.accepting) return refuse(socket, 503, 'Service Unavailable');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const legacy = LEGACY_PATH.exec(url.pathname);
    if (url.pathname !== '/ws' && !legacy) return refuse(socket, 404, 'Not Found');
    let roomName: string | null = null;
    if (legacy) {
      try {
        roomName = checkRoomName(decodeURIComponent(legacy[1]!));
      } catch {
        return refuse(socket, 400, 'Bad Request');
      }
    }
    const encrypted = Boolean((req.socket as { encrypted?: boolean }).encrypted);
    if (!originAllowed(req.headers, encrypted, this.opts.originPolicy)) {
      const address = clientAddress(req.headers, req.socket.remoteAddress, this.opts.originPolicy.trustProxy);
      this.logRefusal('origin', address, { origin: req.headers.origin, path: url.pathname }, 'handshake refused: foreign origin');
      return refuse(socket, 403, 'Forbidden');
    }
    void this.upgrade(req, socket, head, roomName);
  }

  /** The checks that wait for something (the handshake rate, the credential's look-up), then the upgrade. */
  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, roomName: string | null): Promise<void> {
    const address = clientAddress(req.headers, req.socket.remoteAddress, this.opts.originPolicy.trustProxy);
    const credential = credentialOf(req.headers);
    let principal: Principal | null;
    try {
      const early = await this.limits.beforeAuth(address);
      if (early) return this.tooMany(socket, early, address);
      principal = await this.authenticate(credential);
    } catch (err) {
      this.opts.log.error({ err }, 'handshake authentication failed');
      return refuse(socket, 503, 'Service Unavailable');
    }
    if (!principal && roomName !== null && this.opts.allowGuests) principal = guestPrincipal(guestName());
    if (!principal) {
      this.opts.log.debug({ address }, 'handshake refused: no valid credential');
      return refuse(socket, 401, 'Unauthorized');
    }
    if (!this.accepting) return refuse(socket, 503, 'Service Unavailable');
    if (socket.destroyed) return;
    const over = this.limits.check(address, principal.userId);
    if (over) return this.tooMany(socket, over, address);
    const who = principal;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, who, address, roomName, credential));
  }

  /**
   * An upgraded connection: counted, tracked, logged, given its session. A method apart from `upgrade` so that
   * what is kept for the connection's life holds none of the handshake's request.
   */
  private open(ws: WebSocket, who: Principal, address: string, roomName: string | null, credential: Credential | null): void {
    // Before anything else: ws emits 'error' on a bad frame, and an 'error' without a listener would crash.
    ws.on('error', this.onError);
    // Counted only once upgraded: a handshake ws refuses (a bad key) never reaches here and never counted.
    if (this.limits.admit(address, who.userId)) {
      ws.close(CLOSE.policyViolation, 'too many connections');
      return;
    }
    const rate = this.opts.framesPerSecond;
    const frameRate = new FrameRate(rate, rate * FRAME_BURST_SECONDS);
    const conn = new Connection(ws, this.opts.maxBufferedBytes, this.counters, { frameRate, floodHoldMs: this.opts.floodHoldMs });
    // Connection and close events, with the id that every later log line of this connection carries; never the
    // credential.
    const log = this.opts.log;
    if (log.isLevelEnabled('info')) log.info({ conn: conn.id, user: who.userId, address, path: roomName === null ? '/ws' : 'legacy' }, 'connection opened');
    let session: Session;
    try {
      session = roomName === null ? new ClientSession(conn, who, this.opts) : new LegacySession(conn, who, roomName, this.opts);
    } catch (err) {
      this.limits.release(address, who.userId);
      log.error({ err, conn: conn.id }, 'could not start the connection\'s session');
      ws.terminate();
      return;
    }
    this.alive.add(ws);
    ws.on('message', this.onMessage);
    ws.on('close', this.onClose);
    ws.on('pong', this.onPong);
    const entry: Tracked = { conn, session, who, address, credential, slot: this.nextSlot };
    this.nextSlot = (this.nextSlot + 1) % HEARTBEAT_SLOTS;
    this.tracked.set(ws, entry);
    if (who.userId !== null) {
      const check = this.recheck(entry).finally(() => this.firstChecks.delete(check));
      this.firstChecks.add(check);
    }
  }

  /** Resolves once every connection opened so far has had its check after subscribing (tests). */
  async checked(): Promise<void> {
    await Promise.allSettled([...this.firstChecks]);
  }

  /* The listeners of every socket (see Tracked), made once. */
  private readonly onMessage = perSocket((ws, data: RawData, isBinary: boolean) => {
    this.tracked.get(ws)?.session.onFrame(data as Buffer, isBinary);
  });
  private readonly onClose = perSocket((ws, code: number) => this.closed(ws, code));
  private readonly onPong = perSocket((ws) => this.alive.add(ws));
  private readonly onError = perSocket((ws, err: Error) => {
    this.opts.log.debug({ err, conn: this.tracked.get(ws)?.conn.id }, 'websocket error');
  });

  private closed(ws: WebSocket, code: number): void {
    const entry = this.tracked.get(ws);
    if (!entry) return;
    this.tracked.delete(ws);
    this.limits.release(entry.address, entry.who.userId);
    const log = this.opts.log;
    if (log.isLevelEnabled('info')) log.info({ conn: entry.conn.id, user: entry.who.userId, code }, 'connection closed');
    entry.session.onClose();
  }

  /**
   * After a channel-layer outage, or when some instance asks for it (access-rechecks.ts): revocations and
   * removals from rooms may not have arrived, so every signed-in connection checks its credential and its rooms
   * again (RECHECK_BATCH at a time, so that 20,000 connections do not hit the store at once). Asked again while
   * one runs, it runs once more after it (one pass then covers every request made meanwhile), never two at once.
   */
  recheckAll(): Promise<void> {
    if (this.rechecking) {
      this.recheckAgain = true;
      return this.rechecking;
    }
    const pass = async () => {
      do {
        this.recheckAgain = false;
        const all = [...this.tracked.values()].filter((entry) => entry.who.userId !== null);
        const check = async (entry: Tracked) => {
          if (await this.recheck(entry)) await entry.session.recheckRooms();
        };
        for (let i = 0; i < all.length; i += RECHECK_BATCH) await Promise.allSettled(all.slice(i, i + RECHECK_BATCH).map(check));
      } while (this.recheckAgain);
    };
    this.rechecking = pass().finally(() => {
      this.rechecking = null;
    });
    return this.rechecking;
  }

  /**
   * Subscribe, then verify: a revocation published after the handshake's credential check but before this
   * instance listens to the user's events (the first socket of a user here subscribes only now) would never
   * reach the new socket, so once the session listens the credential is checked again (a read, no write). One more
   * credential look-up per connection; if the store cannot answer, the socket stays (its next request is checked
   * anyway). Where Redis is slow to confirm the subscription (past REDIS_SUBSCRIBE_WAIT_MS) the check may run
   * before it is live; the layer then reports a recovery once Redis confirms, and that runs recheckAll. The same
   * check runs again in every recheck (recheckAll: after a channel-layer outage, or when an instance asks for
   * one). Answers whether the credential still stands (false: the connection was closed with 1008).
   */
  private async recheck({ conn, who, credential }: Tracked): Promise<boolean> {
    try {
      await this.opts.hub.userEventsLive(who.userId!);
      const now = await this.authenticate(credential, false);
      if (now?.userId === who.userId && now.sessionId === who.sessionId && now.tokenId === who.tokenId) {
        if (now.isAdmin === who.isAdmin) return true;
        // The announcement of an admin right given or taken away was lost (or never could reach this instance).
        conn.close(CLOSE.policyViolation, PERMISSIONS_CHANGED);
        return false;
      }
      conn.close(CLOSE.policyViolation, who.tokenId !== null ? 'token revoked' : 'signed out');
      return false;
    } catch (err) {
      this.opts.log.warn({ err, conn: conn.id }, 'could not check the credential again');
      return true;
    }
  }

  private tooMany(socket: Duplex, refusal: Refusal, address: string): void {
    this.counters.handshakesRefused++;
    this.logRefusal(refusal, address, {}, 'handshake refused: too many connections or handshakes');
    refuse(socket, 429, 'Too Many Requests');
  }

  /** Logs a refused handshake at warn the first time per reason and address in a window, at debug after. */
  private logRefusal(reason: string, address: string, fields: Record<string, unknown>, msg: string): void {
    const key = `${reason} ${address}`;
    const level = this.refusalsLogged.has(key) || this.refusalsLogged.size >= MAX_REFUSALS_LOGGED ? 'debug' : 'warn';
    if (level === 'warn') this.refusalsLogged.add(key);
    this.opts.log[level]({ refusal: reason, address, ...fields }, msg);
  }

  private readonly onSocketError = (err: Error): void => this.opts.log.debug({ err }, 'upgrade socket error');

  /** `touch` false: only look (the check again after subscribing must not renew a session or touch a token). */
  private async authenticate(credential: Credential | null, touch = true): Promise<Principal | null> {
    if (!credential) return null;
    if (credential.kind === 'bearer') return this.opts.accounts.authenticateBearer(credential.secret, touch);
    return (await this.opts.accounts.authenticateSession(credential.secret, touch))?.principal ?? null;
  }

  /** One tick: the connections of this tick's slot are pinged, or ended if they never answered the last ping. */
  private beat(): void {
    const slot = this.beatSlot;
    this.beatSlot = (slot + 1) % HEARTBEAT_SLOTS;
    for (const [ws, entry] of this.tracked) {
      if (entry.slot !== slot) continue;
      if (!this.alive.has(ws)) {
        this.counters.heartbeatTimeouts++;
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }

  /**
   * Graceful stop: refuse new upgrades, let every connection finish the frames it already sent (so their acks
   * go out), then close each with 1001 and wait (bounded) for the closes to complete.
   */
  async close(timeoutMs: number): Promise<void> {
    this.accepting = false;
    clearInterval(this.heartbeat);
    clearInterval(this.refusalLogWindow);
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.tracked.values()].map((t) => t.session.idle())), deadline]);
    const closed = [...this.tracked.keys()].map(
      (ws) =>
        new Promise<void>((resolve) => {
          ws.once('close', () => resolve());
          ws.close(CLOSE.goingAway, 'server shutting down');
        }),
    );
    await Promise.race([Promise.allSettled(closed), deadline]);
    for (const ws of this.tracked.keys()) ws.terminate();
    this.wss.close();
  }
}
