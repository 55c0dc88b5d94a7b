/**
 * What clients that never read do to everyone else (issue 7): `node --import tsx bench/slow-consumers.ts`.
 * One Confab process (SQLite, in-process layer, run from src/ with tsx), one room of MEMBERS reading clients,
 * SENDERS of them sending at a fixed rate in an open loop (send times fixed in advance). The same load runs
 * without and then with STALLED extra clients in the room that subscribe and never read again (raw TCP, so the
 * kernel buffers stay small), alternating for ROUNDS rounds, each on a fresh server. Printed per run: the active
 * clients' latency percentiles, deliveries/s, lost and duplicated deliveries, server CPU per delivery and RSS
 * growth, and how many stalled clients the server closed with 1013. MAX_BUFFERED_BYTES is small by default
 * (64 KiB) so the stalled clients pass it within the run: with 4 KB messages each takes about 1,100 messages
 * (its kernel buffers absorb about 4 MB on Linux loopback before the server's own buffer grows).
 *
 * Floods (issue 8): `BENCH_STALLED=0 BENCH_FLOODERS=1 node --import tsx bench/slow-consumers.ts` runs the same load
 * without and with hostile clients (bench/lib/flooder.ts) that each write BENCH_FLOOD_RATE (10,000) frames a second
 * on a raw TCP connection whatever the server answers, and reconnect as soon as the server drops them (it cuts a
 * flooder with 1008 and holds it unread for FLOOD_HOLD_MS), and prints the active clients' p99 both ways.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { StalledClient } from '../test/helpers/stalled-client.js';
import { freePort } from './lib/common.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const MEMBERS = env('BENCH_MEMBERS', 50);
const SENDERS = env('BENCH_SENDERS', 5);
/** Messages per second per sender. */
const RATE = env('BENCH_RATE', 40);
const SECONDS = env('BENCH_SECONDS', 10);
const BODY_BYTES = env('BENCH_BODY_BYTES', 3900);
const STALLED = env('BENCH_STALLED', 100);
const FLOODERS = env('BENCH_FLOODERS', 0);
/** Frames per second each flooder sends. */
const FLOOD_RATE = env('BENCH_FLOOD_RATE', 10_000);
const ROUNDS = env('BENCH_ROUNDS', 2);
const MAX_BUFFERED_BYTES = env('BENCH_MAX_BUFFERED_BYTES', 64 * 1024);
const TCK = Number(execSync('getconf CLK_TCK').toString().trim());

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TCK;
}

function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const now = () => performance.timeOrigin + performance.now();

interface Result {
  stalled: number;
  flooders: number;
  /** Flooder connections the server closed with 1008, and flood frames sent. */
  flood1008: number;
  floodFrames: number;
  deliveriesPerS: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  lost: number;
  duplicated: number;
  cpuUsPerDelivery: number;
  rssGrowthMiB: number;
  closed1013: number;
}

/** A flooder in its own process (bench/lib/flooder.ts); `stop` ends it and resolves to what it did. */
function flood(base: string, cookie: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/flooder.ts', base, cookie, String(FLOOD_RATE)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    async stop(): Promise<{ frames: number; closed1008: number }> {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(out.trim() || '{"frames":0,"closed1008":0}') as { frames: number; closed1008: number };
    },
  };
}

async function run(stalledCount: number, flooderCount = 0): Promise<Result> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'confab-slowbench-'));
  const base = `http://127.0.0.1:${port}`;
  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: `sqlite:${path.join(dir, 'bench.db')}`,
      UPLOAD_DIR: path.join(dir, 'uploads'),
      LOG_LEVEL: 'warn',
      MESSAGE_RATE_LIMIT: '1000000',
      MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES),
      HEARTBEAT_INTERVAL_MS: '3600000',
      // One account holds every connection of the bench; the frame rate and handshake caps stay at their defaults.
      MAX_CONNECTIONS_PER_USER: '100000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (let i = 0; !(await fetch(`${base}/healthz`).then((r) => r.ok, () => false)); i++) {
      if (i > 300) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    const post = (p: string, body: unknown, cookie?: string) =>
      fetch(`${base}${p}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: base, ...(cookie ? { cookie } : {}) },
        body: JSON.stringify(body),
      });
    const signup = await post('/api/auth/signup', { username: 'bencher', password: 'bench password 123' });
    const cookie = signup.headers.get('set-cookie')!.split(';')[0]!;
    const room = ((await (await post('/api/rooms', { name: 'bench' }, cookie)).json()) as { room: { id: number } }).room.id;

    const seen: Array<Set<number>> = [];
    const latencies: number[] = [];
    let duplicated = 0;
    const sockets: WebSocket[] = [];
    for (let i = 0; i < MEMBERS; i++) {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`, { headers: { cookie, origin: base } });
      const mine = new Set<number>();
      seen.push(mine);
      ws.on('message', (data) => {
        const f = JSON.parse(data.toString()) as { type: string; seq?: number; body?: string };
        if (f.type !== 'message') return;
        if (mine.has(f.seq!)) duplicated++;
        mine.add(f.seq!);
        latencies.push(now() - Number(f.body!.slice(0, f.body!.indexOf(' '))));
      });
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ type: 'subscribe', room }));
      sockets.push(ws);
    }
    const stalled: StalledClient[] = [];
    for (let i = 0; i < stalledCount; i++) stalled.push(await StalledClient.open(base, cookie, room));
    const flooders = Array.from({ length: flooderCount }, () => flood(base, cookie));
    await new Promise((r) => setTimeout(r, flooderCount > 0 ? 1500 : 500));

    const total = SENDERS * RATE * SECONDS;
    const pad = 'x'.repeat(Math.max(0, BODY_BYTES - 20));
    const start = Date.now() + 200;
    const cpu0 = cpuSeconds(server.pid!);
    const rss0 = rssBytes(server.pid!);
    let rssPeak = rss0;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssBytes(server.pid!))), 50);
    let sent = 0;
    await new Promise<void>((resolve) => {
      for (let k = 0; k < total; k++) {
        const at = start + (k / (SENDERS * RATE)) * 1000;
        setTimeout(
          () => {
            sockets[k % SENDERS]!.send(JSON.stringify({ type: 'send', room, clientMsgId: `b${k}`, body: `${now()} ${pad}` }));
            if (++sent === total) resolve();
          },
          Math.max(0, at - Date.now()),
        );
      }
    });
    const expected = total * MEMBERS;
    const delivered = () => seen.reduce((s, x) => s + x.size, 0);
    const deadline = Date.now() + 30_000;
    while (delivered() < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const elapsed = (Date.now() - start) / 1000;
    const cpu = cpuSeconds(server.pid!) - cpu0;
    clearInterval(sampler);
    const got = delivered();
    const floods = await Promise.all(flooders.map((f) => f.stop()));
    for (const ws of sockets) ws.terminate();
    const drained = await Promise.all(stalled.map((s) => s.drain(2000)));
    latencies.sort((a, b) => a - b);
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      stalled: stalledCount,
      flooders: flooderCount,
      flood1008: floods.reduce((n, f) => n + f.closed1008, 0),
      floodFrames: floods.reduce((n, f) => n + f.frames, 0),
      deliveriesPerS: Math.round(got / elapsed),
      p50: round(percentile(latencies, 50)),
      p90: round(percentile(latencies, 90)),
      p99: round(percentile(latencies, 99)),
      max: round(latencies[latencies.length - 1] ?? NaN),
      lost: expected - got,
      duplicated,
      cpuUsPerDelivery: round((cpu * 1e6) / Math.max(1, got)),
      rssGrowthMiB: round((rssPeak - rss0) / 2 ** 20),
      closed1013: drained.filter((d) => d.closeCode === 1013).length,
    };
  } finally {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

const machine = `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}, load ${os.loadavg()[0]!.toFixed(2)}`;
console.log(
  `Confab slow consumers — ${MEMBERS} reading members, ${SENDERS} senders x ${RATE} msg/s x ${SECONDS} s, ` +
    `${BODY_BYTES}-byte bodies, MAX_BUFFERED_BYTES ${MAX_BUFFERED_BYTES}; ${machine}`,
);
console.log(
  'stalled | flooders | deliveries/s | p50 ms | p90 | p99 | max | lost | dup | server CPU us/delivery | server RSS growth MiB | closed 1013 | flood frames sent | flooders closed 1008',
);
const results: Result[] = [];
for (let r = 0; r < ROUNDS; r++) {
  for (const withBad of r % 2 === 0 ? [false, true] : [true, false]) {
    const x = await run(withBad ? STALLED : 0, withBad ? FLOODERS : 0);
    results.push(x);
    console.log(
      `${String(x.stalled).padStart(7)} | ${String(x.flooders).padStart(8)} | ${String(x.deliveriesPerS).padStart(12)} | ${x.p50} | ${x.p90} | ${x.p99} | ${x.max} | ` +
        `${x.lost} | ${x.duplicated} | ${x.cpuUsPerDelivery} | ${x.rssGrowthMiB} | ${x.closed1013}/${x.stalled} | ${x.floodFrames} | ${x.flood1008}`,
    );
  }
}
const p99s = (withBad: boolean) => results.filter((x) => x.stalled + x.flooders > 0 === withBad).map((x) => x.p99);
console.log(
  `active clients' p99 without bad clients: ${p99s(false).join(', ')} ms; with ${STALLED} stalled and ${FLOODERS} flooders: ${p99s(true).join(', ')} ms`,
);
