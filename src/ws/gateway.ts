/**
 * The WebSocket gateway: routes HTTP upgrades to `/ws` or the original `/ws/chat/<room>/`, refuses the rest
 * before upgrading, keeps connections alive with pings, and closes them all on a graceful stop.
 */
import type { IncomingMessage, Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ChatService } from '../chat/chat-service.js';
import { checkRoomName, parseDisplayName } from '../chat/rules.js';
import { ClientSession } from './client-session.js';
import { CLOSE, Connection } from './connection.js';
import type { Hub } from './hub.js';
import { LegacySession } from './legacy-session.js';

const LEGACY_PATH = /^\/ws\/chat\/([^/]+)\/?$/;

export interface GatewayOptions {
  chat: ChatService;
  hub: Hub;
  log: Logger;
  maxMessageChars: number;
  maxFrameBytes: number;
  maxBufferedBytes: number;
  heartbeatIntervalMs: number;
}

interface Session {
  idle(): Promise<unknown>;
}

/** Answers a refused upgrade with a plain HTTP response and drops the socket. */
function refuse(socket: Duplex, status: number, reason: string): void {
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason}\n`);
  }
  socket.destroy();
}

/** A display name for a guest who gave none (or an invalid one). */
function guestName(): string {
  return `guest-${randomBytes(2).toString('hex')}`;
}

export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Map<WebSocket, Session>();
  private readonly alive = new WeakSet<WebSocket>();
  private readonly heartbeat: NodeJS.Timeout;
  private accepting = true;
  /** Running totals for tests and, later, metrics. */
  readonly counters = { slowConsumerCloses: 0 };

  constructor(
    server: Server,
    private readonly opts: GatewayOptions,
  ) {
    // maxPayload makes ws refuse an oversized frame (1009) from its header, before buffering it.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes, perMessageDeflate: false });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    // A peer that misses two pings in a row is gone (half-open TCP): terminate it.
    this.heartbeat = setInterval(() => this.beat(), opts.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  /** Open connections (tests, metrics). */
  get connectionCount(): number {
    return this.sessions.size;
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => this.opts.log.debug({ err }, 'upgrade socket error'));
    if (!this.accepting) return refuse(socket, 503, 'Service Unavailable');
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/ws') {
      const author = parseDisplayName(url.searchParams.get('name')) ?? guestName();
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const conn = this.track(ws);
        this.sessions.set(ws, new ClientSession(conn, author, this.opts));
      });
      return;
    }
    const legacy = LEGACY_PATH.exec(url.pathname);
    if (legacy) {
      let name: string;
      try {
        name = checkRoomName(decodeURIComponent(legacy[1]!));
      } catch {
        return refuse(socket, 400, 'Bad Request');
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const conn = this.track(ws);
        this.sessions.set(ws, new LegacySession(conn, name, this.opts));
      });
      return;
    }
    refuse(socket, 404, 'Not Found');
  }

  private track(ws: WebSocket): Connection {
    const conn = new Connection(ws, this.opts.maxBufferedBytes, () => this.counters.slowConsumerCloses++);
    this.alive.add(ws);
    ws.on('pong', () => this.alive.add(ws));
    ws.on('error', (err) => this.opts.log.debug({ err, conn: conn.id }, 'websocket error'));
    ws.on('close', () => this.sessions.delete(ws));
    return conn;
  }

  private beat(): void {
    for (const ws of this.sessions.keys()) {
      if (!this.alive.has(ws)) {
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
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.sessions.values()].map((s) => s.idle())), deadline]);
    const closed = [...this.sessions.keys()].map(
      (ws) =>
        new Promise<void>((resolve) => {
          ws.once('close', () => resolve());
          ws.close(CLOSE.goingAway, 'server shutting down');
        }),
    );
    await Promise.race([Promise.allSettled(closed), deadline]);
    for (const ws of this.sessions.keys()) ws.terminate();
    this.wss.close();
  }
}
