/**
 * `npm run bench`: what receipts and typing cost. One Confab process (SQLite, in-process layer), one room of
 * MEMBERS signed-in members, SENDERS of them sending at a fixed rate in an open loop (send times fixed in
 * advance, so a slow server cannot slow the offered load). The same load runs twice in the same run: with
 * receipts and typing off, then on (every member acknowledging cumulatively at most 4 times a second, every
 * sender typing every 3 s). Printed: deliveries/s, latency percentiles, lost and duplicated deliveries, and the
 * server's CPU time per delivery from /proc; the ratio of the two CPU costs is the throughput cost of
 * switching them on when the server is the bottleneck. JSON lines go to bench/results/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, appendFileSync, readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 100);
const SENDERS = Number(process.env.BENCH_SENDERS ?? 5);
/** Messages per second per sender. */
const RATE = Number(process.env.BENCH_RATE ?? 40);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/** Receipts per second per member per room, at most (what the web client sends). */
const RECEIPTS_PER_S = 4;
const TYPING_EVERY_MS = 3000;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

/** CPU seconds (user + system) of a process so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / Number(execSync('getconf CLK_TCK').toString().trim());
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Result {
  mode: 'off' | 'on';
  deliveriesPerS: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  lost: number;
  duplicated: number;
  cpuMsPer1000Deliveries: number;
}

async function run(mode: 'off' | 'on'): Promise<Result> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'confab-bench-'));
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, ['dist/server/main.js'], {
    env: {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: `sqlite:${path.join(dir, 'bench.db')}`,
      LOG_LEVEL: 'warn',
      TRUST_PROXY: 'true',
      MESSAGE_RATE_LIMIT: '1000000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    const post = (p: string, body: unknown, cookie: string | null, ip: string) =>
      fetch(`${base}${p}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: base, 'x-forwarded-for': ip, ...(cookie ? { cookie } : {}) },
        body: JSON.stringify(body),
      });
    const cookies: string[] = [];
    for (let i = 0; i < MEMBERS; i++) {
      const res = await post('/api/auth/signup', { username: `member${i}`, password: 'bench password 123' }, null, `10.9.${i >> 8}.${i & 255}`);
      cookies.push(res.headers.get('set-cookie')!.split(';')[0]!);
    }
    const room = ((await (await post('/api/rooms', { name: 'bench' }, cookies[0]!, '10.8.0.1')).json()) as { room: { id: number } }).room.id;

    const seen: Array<Set<number>> = [];
    const latencies: number[] = [];
    let duplicated = 0;
    const sockets: WebSocket[] = [];
    for (let i = 0; i < MEMBERS; i++) {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`, { headers: { cookie: cookies[i]!, origin: base } });
      const mine = new Set<number>();
      seen.push(mine);
      let lastSeq = 0;
      let lastAcked = 0;
      ws.on('message', (data) => {
        const f = JSON.parse(data.toString()) as { type: string; seq?: number; body?: string };
        if (f.type !== 'message') return;
        if (mine.has(f.seq!)) duplicated++;
        mine.add(f.seq!);
        lastSeq = Math.max(lastSeq, f.seq!);
        latencies.push(Date.now() - Number(f.body!.split(' ')[0]));
      });
      if (mode === 'on') {
        setInterval(() => {
          if (lastSeq > lastAcked && ws.readyState === WebSocket.OPEN) {
            lastAcked = lastSeq;
            ws.send(JSON.stringify({ type: 'receipt', room, delivered: lastSeq, read: lastSeq }));
          }
        }, 1000 / RECEIPTS_PER_S).unref();
      }
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ type: 'subscribe', room }));
      sockets.push(ws);
    }
    await new Promise((r) => setTimeout(r, 500));

    // Open loop: every send time is fixed before the run starts.
    const total = SENDERS * RATE * SECONDS;
    const start = Date.now() + 200;
    const cpu0 = cpuSeconds(server.pid!);
    let sent = 0;
    await new Promise<void>((resolve) => {
      for (let k = 0; k < total; k++) {
        const sender = k % SENDERS;
        const at = start + (k / (SENDERS * RATE)) * 1000;
        setTimeout(() => {
          sockets[sender]!.send(
            JSON.stringify({ type: 'send', room, clientMsgId: `b${k}`, body: `${Date.now()} ${'x'.repeat(48)}` }),
          );
          if (mode === 'on' && k % (RATE * (TYPING_EVERY_MS / 1000)) === sender) {
            sockets[sender]!.send(JSON.stringify({ type: 'typing', room }));
          }
          if (++sent === total) resolve();
        }, Math.max(0, at - Date.now()));
      }
    });
    const expected = total * MEMBERS;
    const deadline = Date.now() + 15_000;
    while (seen.reduce((s, x) => s + x.size, 0) < expected && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const elapsed = (Date.now() - start) / 1000;
    const cpu = cpuSeconds(server.pid!) - cpu0;
    const delivered = seen.reduce((s, x) => s + x.size, 0);
    for (const ws of sockets) ws.close();
    latencies.sort((x, y) => x - y);
    return {
      mode,
      deliveriesPerS: Math.round(delivered / elapsed),
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      p999: percentile(latencies, 99.9),
      max: latencies[latencies.length - 1] ?? NaN,
      lost: expected - delivered,
      duplicated,
      cpuMsPer1000Deliveries: Math.round(((cpu * 1000) / Math.max(1, delivered)) * 1000 * 100) / 100,
    };
  } finally {
    server.kill('SIGTERM');
  }
}

const off = await run('off');
const on = await run('on');
const commit = (() => {
  try {
    return execSync('git rev-parse --short HEAD').toString().trim();
  } catch {
    return 'unknown';
  }
})();
const machine = `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.cpus()[0]?.model ?? ''}`;
console.log(`Confab receipts/typing cost — ${MEMBERS} members, ${SENDERS} senders x ${RATE} msg/s for ${SECONDS} s; ${machine}; commit ${commit}`);
console.log('mode | deliveries/s | p50 ms | p90 | p99 | p99.9 | max | lost | duplicated | server CPU ms per 1000 deliveries');
for (const r of [off, on]) {
  console.log(
    `${r.mode.padEnd(4)} | ${String(r.deliveriesPerS).padStart(12)} | ${r.p50} | ${r.p90} | ${r.p99} | ${r.p999} | ${r.max} | ${r.lost} | ${r.duplicated} | ${r.cpuMsPer1000Deliveries}`,
  );
}
const cost = on.cpuMsPer1000Deliveries / off.cpuMsPer1000Deliveries - 1;
console.log(
  `receipts and typing on: server CPU per delivery ${cost >= 0 ? '+' : ''}${(cost * 100).toFixed(1)} % ` +
    `(limit: +20 %, i.e. at most 20 % of throughput when the server is the bottleneck) -> ${cost <= 0.2 ? 'OK' : 'OVER'}`,
);
mkdirSync('bench/results', { recursive: true });
const line = JSON.stringify({ bench: 'receipts-cost', at: new Date().toISOString(), commit, machine, MEMBERS, SENDERS, RATE, SECONDS, off, on, cost });
appendFileSync(path.join('bench/results', 'receipts-cost.jsonl'), `${line}\n`);
