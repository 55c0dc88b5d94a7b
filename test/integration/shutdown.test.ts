/**
 * SIGTERM while clients are sending: every acknowledged message is in the database, once; clients see the
 * stop as a 1001 close; the process exits 0. Runs the real entry point (src/main.ts) as a child process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { WebSocket } from 'ws';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { Instance } from '../helpers/cluster.js';
import { CuttableProxy, PrivateRedis } from '../helpers/redis.js';
import { signUpAt, within } from '../helpers/server.js';

const dir = await mkdtemp(path.join(tmpdir(), 'confab-stop-'));
after(() => rm(dir, { recursive: true, force: true }));

function startChild(dbFile: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `sqlite:${dbFile}`, LOG_LEVEL: 'info', MESSAGE_RATE_LIMIT: '1000000', FRAMES_PER_SECOND: '1000000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(buf);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, url, exited };
}

test('#20 SIGTERM: acknowledged messages are all stored once, sockets close with 1001, exit 0', async () => {
  const dbFile = path.join(dir, 'confab.db');
  const { child, url, exited } = startChild(dbFile);
  const base = await url;
  const cookie = await signUpAt(base, 'drainer');
  const res = await fetch(`${base}/api/rooms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base, cookie },
    body: JSON.stringify({ name: 'drain' }),
  });
  const { room } = (await res.json()) as { room: { id: number } };

  const acked = new Set<string>();
  const closes: number[] = [];
  const clients = await Promise.all(
    [0, 1, 2].map(async () => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`, { headers: { cookie } });
      ws.on('message', (data) => {
        const f = JSON.parse(data.toString()) as { type: string; clientMsgId?: string };
        if (f.type === 'ack') acked.add(f.clientMsgId!);
      });
      ws.on('close', (code) => closes.push(code));
      await new Promise((r) => ws.once('open', r));
      return ws;
    }),
  );
  // Keep sending until the server closes us; SIGTERM lands in the middle of the stream.
  let n = 0;
  const pump = setInterval(() => {
    for (const [c, ws] of clients.entries()) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      for (let k = 0; k < 5; k++) {
        ws.send(JSON.stringify({ type: 'send', room: room.id, clientMsgId: `c${c}-${n++}`, body: `hello ${n}` }));
      }
    }
  }, 2);
  while (acked.size < 200) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  clearInterval(pump);

  assert.deepEqual(closes, [1001, 1001, 1001]);
  const store = new SqliteStore(dbFile);
  const stored = await store.messagesAfter(room.id, 0, 1_000_000);
  await store.close();
  const ids = stored.map((m) => m.clientMsgId!);
  assert.equal(new Set(ids).size, ids.length, 'no message stored twice');
  for (const id of acked) assert.ok(ids.includes(id), `acknowledged ${id} is stored`);
  assert.deepEqual(
    stored.map((m) => m.seq),
    stored.map((_, i) => i + 1),
    'seq gapless',
  );
});

test('#18 SIGTERM while Redis is down: sockets close with 1001 and the process exits 0, it does not wait for Redis', async () => {
  const redis = await PrivateRedis.create();
  const instance = await Instance.create(0, { DATABASE_URL: `sqlite:${path.join(dir, 'redis-down.db')}`, REDIS_URL: redis.url });
  try {
    const cookie = await signUpAt(instance.url, 'stopper');
    const res = await fetch(`${instance.url}/api/rooms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: instance.url, cookie },
      body: JSON.stringify({ name: 'redis-down' }),
    });
    const { room } = (await res.json()) as { room: { id: number } };
    // A subscribed socket: its room, user and receipts groups are subscribed in Redis, so the stop unsubscribes.
    const ws = new WebSocket(`${instance.url.replace('http', 'ws')}/ws`, { headers: { cookie, origin: instance.url } });
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    await new Promise<void>((resolve) => {
      ws.on('message', (data) => (JSON.parse(data.toString()) as { type: string }).type === 'subscribed' && resolve());
      ws.once('open', () => ws.send(JSON.stringify({ type: 'subscribe', id: 's', room: room.id })));
    });
    await redis.stop();
    assert.equal(await within(instance.stop(), 'the exit after SIGTERM'), 0, 'exit code');
    assert.equal(await closed, 1001);
  } finally {
    await instance.kill();
    await redis.stop();
  }
});

test('#18 SIGTERM while the path to Redis is silent (half-open): the stop does not hang on unanswered commands', async () => {
  const redis = await PrivateRedis.create();
  const proxy = await CuttableProxy.create(redis.port);
  const instance = await Instance.create(0, { DATABASE_URL: `sqlite:${path.join(dir, 'redis-silent.db')}`, REDIS_URL: proxy.url });
  try {
    const cookie = await signUpAt(instance.url, 'silent-stopper');
    // A connected user: presence written to Redis now, cleared on the stop (commands the silent path never answers).
    const ws = new WebSocket(`${instance.url.replace('http', 'ws')}/ws`, { headers: { cookie, origin: instance.url } });
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    await new Promise<void>((resolve) => ws.once('message', () => resolve())); // hello
    proxy.blackhole();
    // A sign-out now: its announcement's publish is never answered either.
    const signedOut = await fetch(`${instance.url}/api/auth/signout`, { method: 'POST', headers: { origin: instance.url, cookie } });
    assert.equal(signedOut.status, 204);
    assert.equal(await within(instance.stop(), 'the exit after SIGTERM'), 0, 'exit code');
    assert.ok([1001, 1008].includes(await closed), 'closed by the stop (or by the sign-out)');
  } finally {
    await instance.kill();
    proxy.heal();
    await proxy.close();
    await redis.stop();
  }
});
