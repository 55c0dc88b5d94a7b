/**
 * `npm run soak -- --minutes N`: a long mixed load with reconnect churn against the built server (SQLite in a
 * temporary folder), then a check against the store itself that nothing acknowledged was lost or stored twice
 * and that every client saw every message of its rooms once, in order, across its reconnects. Reports the
 * server's RSS and heap over time and fails when they keep growing.
 *
 * Each client holds one connection, sends at its share of --rate with a fresh clientMsgId per message and keeps
 * what is unacknowledged in an outbox; every 5-20 s it drops its connection (a clean close or an abrupt
 * terminate), comes back after up to a second, resends its outbox (same clientMsgIds) and resumes every room
 * from the last seq it holds, as the web client does. Exit code 0 when everything checks out, 1 otherwise.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { freePort, rssBytes, sleep, waitForPort } from './lib/common.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
if (args.has('help')) {
  process.stdout.write('npm run soak -- [--minutes 2] [--clients 40] [--rooms 4] [--rate 60]\n');
  process.exit(0);
}
const MINUTES = Number(args.get('minutes') ?? 2);
const CLIENTS = Number(args.get('clients') ?? 40);
const ROOMS = Number(args.get('rooms') ?? 4);
/** Messages per second offered by all clients together. */
const RATE = Number(args.get('rate') ?? 60);
/** How long after the load stops every outbox must be empty and every client caught up. */
const DRAIN_MS = 30_000;
/** Memory samples are taken this often. */
const SAMPLE_MS = 5_000;
/** Growth of RSS allowed between the first sample after warm-up and the highest of the last third of the run. */
const RSS_GROWTH_LIMIT = 64 * 1024 * 1024;
/** The first part of the run is warm-up (caches, JIT, SQLite pages): memory is judged after it. */
const WARM_UP_FRACTION = 0.25;

const dir = mkdtempSync(path.join(os.tmpdir(), 'confab-soak-'));
const dbFile = path.join(dir, 'soak.db');
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(process.execPath, ['dist/server/main.js'], {
  env: {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: `sqlite:${dbFile}`,
    UPLOAD_DIR: path.join(dir, 'uploads'),
    LOG_LEVEL: 'warn',
    TRUST_PROXY: 'true',
    MESSAGE_RATE_LIMIT: '1000000',
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
let serverExited = false;
server.on('exit', () => (serverExited = true));
process.on('exit', () => {
  if (!serverExited) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
await waitForPort(port);

async function api(pathName: string, body: unknown, cookie: string | null, address: string): Promise<Response> {
  const res = await fetch(`${base}${pathName}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base, 'x-forwarded-for': address, ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${pathName}: ${res.status} ${await res.text()}`);
  return res;
}

const cookies: string[] = [];
for (let i = 0; i < CLIENTS; i++) {
  const res = await api('/api/auth/signup', { username: `soak${i}`, password: 'Plenty-of-entropy-42', displayName: `Soak ${i}` }, null, `10.90.${i >> 8}.${i & 255}`);
  cookies.push(res.headers.get('set-cookie')!.split(';')[0]!);
}
const rooms: number[] = [];
for (let r = 0; r < ROOMS; r++) {
  const res = await api('/api/rooms', { name: `soak-${r}` }, cookies[0]!, '10.91.0.1');
  rooms.push(((await res.json()) as { room: { id: number } }).room.id);
}

interface Problem {
  client: number;
  what: string;
}
const problems: Problem[] = [];
const acked = new Set<string>();
let sentFrames = 0;
let reconnects = 0;
/** Connections are dropped on purpose while true (the load phase); the drain phase lets them be. */
let churning = true;

/** One simulated user: a connection that comes and goes, an outbox, and what it has seen per room. */
class SoakClient {
  ws: WebSocket | null = null;
  /** Last seq seen per room, and the seqs seen (each must be the last + 1). */
  readonly last = new Map<number, number>(rooms.map((r) => [r, 0]));
  readonly outbox = new Map<string, { room: number; body: string }>();
  private ready = false;
  private stopped = false;

  constructor(
    readonly n: number,
    private readonly cookie: string,
  ) {}

  connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`, { headers: { cookie: this.cookie, origin: base } });
    this.ws = ws;
    this.ready = false;
    ws.on('error', () => {});
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'resume', id: 'r', rooms: rooms.map((room) => ({ room, since: this.last.get(room)! })) }));
    });
    ws.on('message', (data) => this.onFrame(JSON.parse(data.toString()) as Record<string, unknown>));
    ws.on('close', () => {
      if (this.ws === ws) this.ws = null;
      if (!this.stopped) setTimeout(() => this.connect(), 100 + Math.random() * 900);
    });
    // Churn: this connection goes away again in 5-20 s, cleanly or abruptly.
    const life = setTimeout(() => {
      if (!churning) return;
      reconnects++;
      if (Math.random() < 0.5) {
        ws.close(1000);
      } else {
        // Abruptly, right after a send: its ack is lost with the connection, so the outbox resends it on the next
        // one with the same clientMsgId, which must be stored once.
        this.write();
        ws.terminate();
      }
    }, 5_000 + Math.random() * 15_000);
    ws.on('close', () => clearTimeout(life));
  }

  private onFrame(f: Record<string, unknown>): void {
    switch (f.type) {
      case 'resumed':
        this.ready = true;
        for (const [clientMsgId, m] of this.outbox) this.send(clientMsgId, m.room, m.body);
        return;
      case 'message':
      case 'update': {
        const room = f.room as number;
        const seq = f.seq as number;
        const last = this.last.get(room);
        if (last === undefined) return;
        if (seq <= last) problems.push({ client: this.n, what: `room ${room}: seq ${seq} again (had ${last})` });
        else if (seq !== last + 1) problems.push({ client: this.n, what: `room ${room}: seq ${seq} after ${last} (gap)` });
        this.last.set(room, Math.max(last, seq));
        return;
      }
      case 'ack': {
        const id = f.clientMsgId as string;
        this.outbox.delete(id);
        acked.add(id);
        return;
      }
      case 'error': {
        // rate_limited / store_unavailable: the outbox keeps the message and sends it again when told to.
        const id = f.clientMsgId as string | undefined;
        if (f.code === 'rate_limited' || f.code === 'store_unavailable') {
          const m = id === undefined ? undefined : this.outbox.get(id);
          if (m) setTimeout(() => this.outbox.has(id!) && this.send(id!, m.room, m.body), (f.retryAfterMs as number | undefined) ?? 1000);
        } else {
          problems.push({ client: this.n, what: `error ${String(f.code)}: ${String(f.message)}` });
        }
        return;
      }
    }
  }

  /** A new message into a random room: into the outbox first, then on the wire if connected. */
  write(): void {
    const room = rooms[Math.floor(Math.random() * rooms.length)]!;
    const clientMsgId = randomUUID();
    const body = `soak ${this.n} ${clientMsgId.slice(0, 8)}`;
    this.outbox.set(clientMsgId, { room, body });
    this.send(clientMsgId, room, body);
  }

  private send(clientMsgId: string, room: number, body: string): void {
    if (!this.ready || this.ws?.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify({ type: 'send', room, clientMsgId, body }));
    sentFrames++;
  }

  stop(): void {
    this.stopped = true;
    this.ws?.close(1000);
  }
}

async function metric(name: string): Promise<number | null> {
  try {
    const text = await (await fetch(`${base}/metrics`)).text();
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

const clients = cookies.map((c, i) => new SoakClient(i, c));
for (const c of clients) c.connect();

const samples: Array<{ t: number; rss: number; heap: number | null; connections: number | null }> = [];
const started = Date.now();
const endAt = started + MINUTES * 60_000;
const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
process.stdout.write(`soak: ${CLIENTS} clients, ${ROOMS} rooms, ${RATE} messages/s, ${MINUTES} min, reconnecting every 5-20 s\n`);
process.stdout.write('  t s | RSS MiB | heap MiB | connections | acked\n');
let nextSample = started;
let written = 0;
while (Date.now() < endAt) {
  // Open loop: the messages due by now are written, whatever the server's pace.
  const due = Math.floor(((Date.now() - started) / 1000) * RATE);
  for (; written < due; written++) clients[written % CLIENTS]!.write();
  if (Date.now() >= nextSample) {
    nextSample += SAMPLE_MS;
    const s = { t: (Date.now() - started) / 1000, rss: rssBytes(server.pid!), heap: await metric('nodejs_heap_size_used_bytes'), connections: await metric('confab_connections') };
    samples.push(s);
    process.stdout.write(`  ${s.t.toFixed(0).padStart(3)} | ${mib(s.rss).padStart(7)} | ${(s.heap === null ? '-' : mib(s.heap)).padStart(8)} | ${String(s.connections ?? '-').padStart(11)} | ${acked.size}\n`);
  }
  await sleep(20);
}

// Drain: no more churn; every outbox acknowledged and every client at the room's last seq.
churning = false;
const drainEnd = Date.now() + DRAIN_MS;
const db = new Database(dbFile, { readonly: true, fileMustExist: true });
const lastSeqs = () => new Map(db.prepare<[], { id: number; last_seq: number }>('SELECT id, last_seq FROM rooms').all().map((r) => [r.id, r.last_seq]));
let caughtUp = false;
while (Date.now() < drainEnd) {
  const seqs = lastSeqs();
  caughtUp = clients.every((c) => c.outbox.size === 0 && rooms.every((r) => c.last.get(r) === seqs.get(r)));
  if (caughtUp) break;
  await sleep(200);
}
for (const c of clients) c.stop();
await sleep(200);
server.kill('SIGTERM');
await new Promise((r) => (serverExited ? r(null) : server.once('exit', r)));

// The store is the truth: gapless seqs, every acknowledged clientMsgId exactly once, nothing unacknowledged
// that some client still holds.
const check = new Database(dbFile, { readonly: true });
const stored = check.prepare<[], { client_msg_id: string; n: number }>(
  "SELECT client_msg_id, count(*) AS n FROM messages WHERE client_msg_id IS NOT NULL GROUP BY room_id, client_msg_id",
).all();
const duplicated = stored.filter((r) => r.n > 1).length;
const storedIds = new Set(stored.map((r) => r.client_msg_id));
const lost = [...acked].filter((id) => !storedIds.has(id)).length;
const pending = clients.reduce((n, c) => n + c.outbox.size, 0);
let gaps = 0;
for (const room of rooms) {
  const seqs = check.prepare<[number], { seq: number }>('SELECT seq FROM messages WHERE room_id = ? ORDER BY seq').all(room).map((r) => r.seq);
  seqs.forEach((s, i) => {
    if (s !== i + 1) gaps++;
  });
}
check.close();
db.close();

const judged = samples.filter((s) => s.t >= MINUTES * 60 * WARM_UP_FRACTION);
const baseline = judged[0]?.rss ?? 0;
const tail = judged.slice(Math.floor((judged.length * 2) / 3));
const peak = Math.max(...tail.map((s) => s.rss), baseline);
const growth = peak - baseline;
const flat = judged.length < 3 || growth <= RSS_GROWTH_LIMIT;

process.stdout.write(
  `soak: ${acked.size} messages acknowledged (${written} written, ${sentFrames} send frames with resends), ${reconnects} reconnects\n` +
    `soak: stored ${storedIds.size}; lost ${lost}, duplicated ${duplicated}, seq gaps ${gaps}, still unacknowledged ${pending}, clients caught up: ${caughtUp}\n` +
    `soak: delivery problems seen by clients: ${problems.length}${problems.length ? ` (first: client ${problems[0]!.client} ${problems[0]!.what})` : ''}\n` +
    `soak: RSS after warm-up ${mib(baseline)} MiB, highest in the last third ${mib(peak)} MiB (growth ${mib(growth)} MiB, limit ${mib(RSS_GROWTH_LIMIT)}): ${flat ? 'flat' : 'GROWING'}\n`,
);
const ok = lost === 0 && duplicated === 0 && gaps === 0 && pending === 0 && caughtUp && problems.length === 0 && flat && acked.size > 0;
process.stdout.write(ok ? 'soak: passed\n' : 'soak: FAILED\n');
process.exit(ok ? 0 : 1);
