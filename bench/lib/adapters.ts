/**
 * One small client adapter per system under test, so the generator offers the same load to each: connect
 * (and sign in, for Confab), join a room, send a body, and report every delivered body. Message bodies carry
 * the bench's own marker `~step~room~k~sentAt~` that the generator reads back, without a full JSON parse,
 * the same way for every system.
 */
import { WebSocket } from 'ws';
import { io, type Socket } from 'socket.io-client';
import type { ConnSpec } from './ipc.js';

export interface Client {
  send(body: string, clientMsgId: string): void;
  /** Confab only: a cumulative read receipt up to the newest seq seen, if any new. */
  receipt(): void;
  /** Confab only: the typing signal. */
  typing(): void;
  close(): void;
  /** Set when the connection closed on its own. */
  closed: boolean;
}

export interface Handlers {
  /** A delivered frame holding a bench body; `text` contains the marker at `at`. */
  onBody(text: string, at: number): void;
  onError(text: string): void;
  /** Receipts wanted: track seq. */
  trackSeq: boolean;
}

const timeout = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms))]);

export function connect(spec: ConnSpec, h: Handlers, localAddress: string): Promise<Client> {
  if (spec.kind === 'socketio') return connectSocketIo(spec, h, localAddress);
  return spec.kind === 'confab' ? connectConfab(spec, h, localAddress) : connectBare(spec, h, localAddress);
}

function connectConfab(spec: ConnSpec, h: Handlers, localAddress: string): Promise<Client> {
  const origin = spec.url.replace(/^ws/, 'http').replace(/\/ws$/, '');
  const ws = new WebSocket(spec.url, { headers: { cookie: spec.cookie ?? '', origin }, ...(localAddress ? { localAddress } : {}), perMessageDeflate: false });
  let lastSeq = 0;
  let lastAcked = 0;
  const client: Client = {
    closed: false,
    send: (body, clientMsgId) => ws.send(JSON.stringify({ type: 'send', room: spec.room, clientMsgId, body })),
    receipt() {
      if (lastSeq > lastAcked && ws.readyState === WebSocket.OPEN) {
        lastAcked = lastSeq;
        ws.send(JSON.stringify({ type: 'receipt', room: spec.room, delivered: lastSeq, read: lastSeq }));
      }
    },
    typing: () => ws.send(JSON.stringify({ type: 'typing', room: spec.room })),
    close: () => ws.terminate(),
  };
  ws.on('close', () => (client.closed = true));
  return timeout(
    new Promise<Client>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)));
      let ready = false;
      ws.on('message', (data: Buffer) => {
        const s = data.toString();
        if (ready) {
          const at = s.indexOf('~');
          if (at >= 0 && s.startsWith('{"type":"message"')) {
            if (h.trackSeq) {
              const m = /"seq":(\d+)/.exec(s);
              if (m) lastSeq = Math.max(lastSeq, Number(m[1]));
            }
            h.onBody(s, at);
          } else if (s.startsWith('{"type":"error"')) h.onError(s);
          return;
        }
        const f = JSON.parse(s) as { type: string; message?: string };
        if (f.type === 'hello') {
          if (spec.room === null) {
            ready = true;
            resolve(client);
          } else ws.send(JSON.stringify({ type: 'subscribe', id: 's', room: spec.room }));
        } else if (f.type === 'subscribed') {
          ready = true;
          resolve(client);
        } else if (f.type === 'error') reject(new Error(`subscribe: ${s.slice(0, 200)}`));
      });
    }),
    30_000,
    'confab connect',
  );
}

function connectBare(spec: ConnSpec, h: Handlers, localAddress: string): Promise<Client> {
  const ws = new WebSocket(spec.url, { ...(localAddress ? { localAddress } : {}), perMessageDeflate: false });
  const client: Client = {
    closed: false,
    send: (body) => ws.send(JSON.stringify({ t: 'send', r: spec.room, b: body })),
    receipt() {},
    typing() {},
    close: () => ws.terminate(),
  };
  ws.on('close', () => (client.closed = true));
  return timeout(
    new Promise<Client>((resolve, reject) => {
      ws.once('error', reject);
      ws.on('message', (data: Buffer) => {
        const s = data.toString();
        const at = s.indexOf('~');
        if (at >= 0) h.onBody(s, at);
        else if (s.startsWith('{"t":"joined"')) resolve(client);
      });
      ws.once('open', () => {
        if (spec.room === null) resolve(client);
        else ws.send(JSON.stringify({ t: 'join', r: spec.room }));
      });
    }),
    30_000,
    'bare-ws connect',
  );
}

function connectSocketIo(spec: ConnSpec, h: Handlers, localAddress: string): Promise<Client> {
  const socket: Socket = io(spec.url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 30_000,
    ...(localAddress ? { localAddress } : {}),
  } as Parameters<typeof io>[1]);
  const client: Client = {
    closed: false,
    send: (body) => socket.emit('send', spec.room, body),
    receipt() {},
    typing() {},
    close: () => socket.disconnect(),
  };
  socket.on('msg', (_room: string, body: string) => h.onBody(body, 0));
  socket.on('disconnect', () => (client.closed = true));
  return timeout(
    new Promise<Client>((resolve, reject) => {
      socket.once('connect_error', reject);
      socket.once('connect', () => {
        if (spec.room === null) resolve(client);
        else socket.emit('join', spec.room, () => resolve(client));
      });
    }),
    30_000,
    'socket.io connect',
  );
}
