/**
 * 100 clients that never read, while others chat (issue 7): each stalled client is closed with 1013 once its
 * unsent output passes MAX_BUFFERED_BYTES, the server's memory stays flat, the active clients get every message
 * exactly once and in order, and each stalled client resumes by `seq` afterwards and gets the rest.
 * The server runs in its own process so that its memory (RSS from /proc) is its own. No timings are asserted:
 * bench/slow-consumers.ts measures what the stalled clients do to the others' latency.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { WebSocket } from 'ws';
import { signUpAt } from '../helpers/server.js';
import { StalledClient } from '../helpers/stalled-client.js';
import { freePort } from '../helpers/postgres.js';

const STALLED = 100;
const ACTIVE = 5;
const MAX_BUFFERED_BYTES = 64 * 1024;
/**
 * Enough volume for every stalled client to pass the bound after its kernel buffers took their share: the
 * server's send buffer autotunes up to tcp_wmem's maximum (4 MiB here) and the never-read receive buffer stays
 * at tcp_rmem's default. Large messages fill those; many small ones then follow, which is what would pile up
 * in the server (one queued write per message and stalled client) were the bound not enforced. Measured here:
 * 13-14 MiB of RSS growth with the bound; with the bound lifted (256 MiB), over 1.2 GiB before that run was
 * stopped.
 */
const [, rmemDefault] = (await readFile('/proc/sys/net/ipv4/tcp_rmem', 'utf8')).trim().split(/\s+/).map(Number);
const [, , wmemMax] = (await readFile('/proc/sys/net/ipv4/tcp_wmem', 'utf8')).trim().split(/\s+/).map(Number);
const BIG_BODY = 'x'.repeat(3900);
const BIG = Math.ceil((wmemMax! + 2 * rmemDefault! + 2 * MAX_BUFFERED_BYTES) / BIG_BODY.length) + 100;
const SMALL = 3000;
const WARM_UP = 20;
const MESSAGES = WARM_UP + BIG + SMALL;
/** Allowed growth of the server's RSS over its warmed-up baseline: generous (GC timing, allocator slack). */
const RSS_GROWTH_LIMIT = 48 * 1024 * 1024;

const dir = await mkdtemp(path.join(tmpdir(), 'confab-stalled-'));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
  env: {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: `sqlite:${path.join(dir, 'c.db')}`,
    UPLOAD_DIR: path.join(dir, 'uploads'),
    LOG_LEVEL: 'silent',
    MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES),
    MESSAGE_RATE_LIMIT: '1000000',
    // One account sends thousands of messages at once and holds every connection of the test.
    FRAMES_PER_SECOND: '1000000',
    MAX_CONNECTIONS_PER_USER: '1000',
    // Stalled clients answer no pings: keep the heartbeat out of this test (slow-peers.test.ts covers it).
    HEARTBEAT_INTERVAL_MS: '3600000',
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
after(async () => {
  if (server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});
for (let i = 0; ; i++) {
  if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
  assert.ok(i < 300 && server.exitCode === null, 'server did not start');
  await new Promise((r) => setTimeout(r, 50));
}

async function serverRss(): Promise<number> {
  const status = await readFile(`/proc/${server.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

interface Active {
  ws: WebSocket;
  seqs: number[];
  acks: number;
  errors: number;
}

async function openActive(cookie: string, frame: Record<string, unknown>): Promise<Active> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, { headers: { cookie, origin: url } });
  const a: Active = { ws, seqs: [], acks: 0, errors: 0 };
  let ready = false;
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString()) as { type: string; seq?: number };
    if (f.type === 'message') a.seqs.push(f.seq!);
    else if (f.type === 'ack') a.acks++;
    else if (f.type === 'error') a.errors++;
    else if (f.type === 'subscribed' || f.type === 'resumed') ready = true;
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify(frame));
  while (!ready) await new Promise((r) => setTimeout(r, 5));
  return a;
}

async function until(done: () => boolean, what: string): Promise<void> {
  // Failure guard only (a hung server fails the test instead of hanging it), not a timing assertion.
  for (let i = 0; !done(); i++) {
    assert.ok(i < 12_000, `gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('#14 100 clients that never read are closed with 1013 and resume; the others get everything; memory stays flat', async () => {
  const cookie = await signUpAt(url, 'chatter');
  const res = await fetch(`${url}/api/rooms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url, cookie },
    body: JSON.stringify({ name: 'crowded' }),
  });
  const { room } = (await res.json()) as { room: { id: number } };

  const active: Active[] = [];
  for (let i = 0; i < ACTIVE; i++) active.push(await openActive(cookie, { type: 'subscribe', room: room.id, since: 0 }));
  const stalled: StalledClient[] = [];
  for (let i = 0; i < STALLED; i++) stalled.push(await StalledClient.open(url, cookie, room.id));

  // Two of the active clients send, in windows of 100 awaiting the acks (well under MAX_QUEUED_FRAMES).
  let sent = 0;
  const senders = [active[0]!, active[1]!];
  async function sendUpTo(total: number, body: string): Promise<void> {
    while (sent < total) {
      const windowEnd = Math.min(total, sent + 100);
      for (; sent < windowEnd; sent++) {
        senders[sent % 2]!.ws.send(JSON.stringify({ type: 'send', room: room.id, clientMsgId: `m${sent}`, body }));
      }
      await until(() => senders[0]!.acks + senders[1]!.acks === sent, 'acks');
    }
  }

  // Warm up (JIT, heap, SQLite cache) before taking the baseline; the stalled clients keep their share.
  await sendUpTo(WARM_UP, BIG_BODY);
  await until(() => active.every((a) => a.seqs.length === WARM_UP), 'warm-up deliveries');
  const baseline = await serverRss();
  let peak = baseline;
  const sampler = setInterval(() => {
    serverRss().then((rss) => (peak = Math.max(peak, rss)), () => {});
  }, 20);

  await sendUpTo(WARM_UP + BIG, BIG_BODY);
  await sendUpTo(MESSAGES, 'small');
  await until(() => active.every((a) => a.seqs.length >= MESSAGES), 'every active client gets every message');
  clearInterval(sampler);
  peak = Math.max(peak, await serverRss());

  const all = Array.from({ length: MESSAGES }, (_, i) => i + 1);
  for (const a of active) {
    assert.equal(a.errors, 0);
    assert.deepEqual(a.seqs, all, 'an active client gets every message once, in order');
  }
  const growth = peak - baseline;
  assert.ok(
    growth < RSS_GROWTH_LIMIT,
    `server RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB (baseline ${(baseline / 2 ** 20).toFixed(1)} MiB)`,
  );

  // Each stalled client holds a prefix of the stream, then the server's 1013; it resumes from its last seq.
  const drained = await Promise.all(stalled.map((s) => s.drain()));
  for (const d of drained) {
    assert.equal(d.closeCode, 1013);
    assert.deepEqual(d.seqs, all.slice(0, d.seqs.length), 'a stalled client holds a prefix, nothing twice');
    assert.ok(d.seqs.length < MESSAGES, 'closed before it got everything');
  }
  const resumed = await Promise.all(
    drained.map((d) =>
      openActive(cookie, { type: 'resume', rooms: [{ room: room.id, since: d.seqs.at(-1) ?? 0 }] }).then(async (a) => {
        await until(() => a.seqs.length >= MESSAGES - d.seqs.length, 'a resumed client catches up');
        a.ws.close();
        return [...d.seqs, ...a.seqs];
      }),
    ),
  );
  for (const seqs of resumed) assert.deepEqual(seqs, all, 'stalled, then resumed: every message once, in order');
  for (const a of active) a.ws.close();
});
