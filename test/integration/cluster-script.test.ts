/**
 * `npm run cluster -- 2`: two instances behind nginx with no sticky sessions. Two users talk through the
 * balancer while their connections land on different instances.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { WebSocket } from 'ws';
import { freePort, freshDatabase } from '../helpers/postgres.js';
import { PrivateRedis } from '../helpers/redis.js';

const db = await freshDatabase();
const redis = await PrivateRedis.create();
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const cluster = spawn(process.execPath, ['scripts/cluster.mjs', '2'], {
  env: { ...process.env, PORT: String(port), DATABASE_URL: db.url, REDIS_URL: redis.url, LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
after(async () => {
  // The script may have ended already (nginx missing, say): then there is nothing to wait for.
  if (cluster.exitCode === null && cluster.signalCode === null) {
    await new Promise<void>((resolve) => {
      cluster.once('exit', () => resolve());
      cluster.kill('SIGTERM');
    });
  }
  await redis.stop();
  await db.drop();
});

async function until<T>(fn: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('two users talk through nginx while their connections land on different instances', async () => {
  // Both instances ready behind the balancer (each /readyz answered by one of them).
  await until(async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 'the balancer');
  const signUp = async (username: string) => {
    const res = await fetch(`${base}/api/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ username, password: 'a long enough password' }),
    });
    assert.equal(res.status, 201);
    return res.headers.get('set-cookie')!.split(';')[0]!;
  };
  const [ana, ben] = [await signUp('ana'), await signUp('ben')];
  const res = await fetch(`${base}/api/rooms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base, cookie: ana },
    body: JSON.stringify({ name: 'lb' }),
  });
  const roomId = ((await res.json()) as { room: { id: number } }).room.id;

  const open = async (cookie: string) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`, { headers: { cookie, origin: base } });
    const frames: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'subscribe', room: roomId, since: 0 }));
    await until(async () => (frames.some((f) => f.type === 'subscribed') ? true : undefined), 'subscribed');
    return { ws, frames };
  };
  // Round robin puts consecutive connections on alternate instances; open four to be sure both are used.
  const clients = [await open(ana), await open(ben), await open(ana), await open(ben)];
  const connIds = new Set(clients.map((c) => (c.frames.find((f) => f.type === 'hello') as { connectionId: string }).connectionId));
  assert.equal(connIds.size, 4);
  for (const [i, c] of clients.entries()) {
    c.ws.send(JSON.stringify({ type: 'send', room: roomId, clientMsgId: `m${i}`, body: `hello ${i}` }));
  }
  for (const c of clients) {
    await until(async () => (c.frames.filter((f) => f.type === 'message').length === 4 ? true : undefined), 'all messages');
    assert.deepEqual(
      c.frames.filter((f) => f.type === 'message').map((f) => f.seq),
      [1, 2, 3, 4],
    );
  }
  for (const c of clients) c.ws.close();
});
