/**
 * Three Confab instances on a private PostgreSQL and a private Redis, model clients spread over them, and the
 * faults of issue 4 injected one after another under load. After each, every client must hold every
 * acknowledged message exactly once in seq order, nothing unacknowledged may be stored, and no instance may
 * have crashed. Each test prints what it injected and what it verified.
 */
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import pg from 'pg';
import { Instance, ModelClient } from '../helpers/cluster.js';
import { PrivatePostgres } from '../helpers/postgres.js';
import { CuttableProxy, PrivateRedis } from '../helpers/redis.js';

/** Clients per instance. */
const CLIENTS_PER_INSTANCE = 2;
/** How often each client sends while load runs. */
const SEND_EVERY_MS = 100;
/** The longest a client may take to converge after a fault is over. */
const CONVERGE_MS = 60_000;

let postgres: PrivatePostgres;
let redis: PrivateRedis;
let proxy: CuttableProxy;
let instances: Instance[];
let clients: ModelClient[] = [];
let roomId: number;
let cookies: string[];
let stopLoad: () => void = () => {};

before(async () => {
  postgres = await PrivatePostgres.create();
  redis = await PrivateRedis.create();
  // Instance 2 reaches Redis through a proxy the test can cut.
  proxy = await CuttableProxy.create(redis.port);
  const env = (redisUrl: string) => ({ DATABASE_URL: postgres.url, REDIS_URL: redisUrl, MESSAGE_RATE_LIMIT: '100000', FRAMES_PER_SECOND: '1000000' });
  instances = [];
  for (let i = 0; i < 3; i++) instances.push(await Instance.create(i, env(i === 2 ? proxy.url : redis.url)));

  const base = instances[0]!.url;
  cookies = [];
  for (let u = 0; u < 3 * CLIENTS_PER_INSTANCE; u++) {
    const res = await fetch(`${base}/api/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ username: `user${u}`, password: 'a long enough password' }),
    });
    assert.equal(res.status, 201);
    cookies.push(res.headers.get('set-cookie')!.split(';')[0]!);
  }
});

/** A new public room per scenario, so each one's count starts from zero. */
async function newRoom(name: string): Promise<number> {
  const base = instances[0]!.url;
  const res = await fetch(`${base}/api/rooms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base, cookie: cookies[0]! },
    body: JSON.stringify({ name }),
  });
  assert.equal(res.status, 201);
  return ((await res.json()) as { room: { id: number } }).room.id;
}

after(async () => {
  // A scenario that failed halfway left its load running.
  stopLoad();
  for (const c of clients) c.close();
  await Promise.all(instances.map((i) => i.stop()));
  await proxy.close();
  await redis.stop();
  postgres.destroy();
});

/** Starts fresh clients spread over the instances, in a new room. */
async function startClients(room: string): Promise<ModelClient[]> {
  roomId = await newRoom(room);
  clients = cookies.map((cookie, i) => new ModelClient(`c${i}`, cookie, roomId, instances, i % instances.length));
  return clients;
}

/** Sends from every client every SEND_EVERY_MS until the returned function is called. */
function load(): () => void {
  let n = 0;
  const timer = setInterval(() => {
    for (const c of clients) c.send(`message ${n++} from ${c.name}`);
  }, SEND_EVERY_MS);
  stopLoad = () => clearInterval(timer);
  return stopLoad;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function storedIds(): Promise<string[]> {
  const c = new pg.Client({ connectionString: postgres.url });
  await c.connect();
  const { rows } = await c.query<{ client_msg_id: string }>(
    'SELECT client_msg_id FROM messages WHERE room_id = $1 ORDER BY seq',
    [roomId],
  );
  await c.end();
  return rows.map((r) => r.client_msg_id);
}

/**
 * Waits until every outbox is empty and every client holds the room's last seq, then checks the contract
 * and prints the counts. Returns the error codes the clients were sent, with how often.
 */
async function converge(t: TestContext, label: string): Promise<Record<string, number>> {
  const deadline = Date.now() + CONVERGE_MS;
  let ids = await storedIds();
  while (Date.now() < deadline) {
    ids = await storedIds();
    if (clients.every((c) => c.outboxSize === 0 && c.caughtUpTo === ids.length)) break;
    await sleep(250);
  }
  ids = await storedIds();
  const reports = clients.map((c) => c.close());
  clients = [];
  const acked = new Set(reports.flatMap((r) => [...r.acked]));
  const duplicates = reports.reduce((s, r) => s + r.duplicates, 0);
  const gaps = reports.reduce((s, r) => s + r.gaps, 0);
  const pending = reports.reduce((s, r) => s + r.pending, 0);
  const errors = reports.reduce<Record<string, number>>((all, r) => {
    for (const [k, v] of Object.entries(r.errors)) all[k] = (all[k] ?? 0) + v;
    return all;
  }, {});
  t.diagnostic(
    `${label}: ${ids.length} stored, ${acked.size} acknowledged, ${reports.length} clients, ` +
      `${duplicates} duplicates, ${gaps} gaps, ${pending} still pending, errors seen ${JSON.stringify(errors)}`,
  );
  assert.equal(pending, 0, 'every outbox drained');
  assert.equal(new Set(ids).size, ids.length, 'no message stored twice');
  assert.deepEqual(new Set(ids), acked, 'stored = acknowledged');
  for (const r of reports) {
    assert.equal(r.duplicates, 0, `${r.name} got no duplicate`);
    assert.equal(r.gaps, 0, `${r.name} saw no gap`);
    assert.deepEqual(r.received, Array.from({ length: ids.length }, (_, i) => i + 1), `${r.name} holds 1..${ids.length}`);
  }
  return errors;
}

/** Waits (10 s at most) until every instance's /readyz answers `status`. */
async function allReadyz(status: number, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const got = await Promise.all(instances.map(async (i) => (await fetch(`${i.url}/readyz`)).status));
    if (got.every((s) => s === status)) return;
    if (Date.now() > deadline) assert.fail(`${what}: /readyz of the instances answered ${got.join(', ')}`);
    await sleep(200);
  }
}

function assertAllRunning(): void {
  for (const i of instances) assert.ok(i.running, `instance ${i.index} is running`);
}

test('#20 1. kill -9 of one instance while clients send: its clients move to the others and resume', async (t) => {
  await startClients('after-kill');
  const stop = load();
  await sleep(2000);
  await instances[1]!.kill();
  t.diagnostic('injected: SIGKILL of instance 1 under load');
  await sleep(3000);
  stop();
  await instances[1]!.start();
  await converge(t, 'after kill -9');
  assertAllRunning();
});

test('#18 2. Redis stopped for 10 s: sends still succeed, nobody crashes, /readyz says 503 until it is back, then everything arrives', async (t) => {
  await startClients('after-redis');
  const stop = load();
  await sleep(1500);
  await redis.stop();
  const stoppedAt = Date.now();
  t.diagnostic('injected: Redis stopped for 10 s under load');
  try {
    // Every instance has lost its channel layer: none is ready (a load balancer sends no new clients).
    await allReadyz(503, 'Redis stopped');
    await sleep(Math.max(0, 10_000 - (Date.now() - stoppedAt)));
    await allReadyz(503, 'Redis still stopped');
  } finally {
    // Back even when an assertion failed: a graceful stop of the instances (after()) waits for Redis.
    await redis.start();
  }
  await allReadyz(200, 'Redis back');
  await sleep(2000);
  stop();
  await converge(t, 'after the Redis outage');
  assertAllRunning();
});

test('#19 3. PostgreSQL stopped for 10 s: sends are refused as unavailable, kept, and stored once after', async (t) => {
  await startClients('after-postgres');
  const stop = load();
  await sleep(1500);
  postgres.stop();
  t.diagnostic('injected: PostgreSQL stopped for 10 s under load');
  await sleep(10_000);
  postgres.start();
  await sleep(2000);
  stop();
  const errors = await converge(t, 'after the PostgreSQL outage');
  // What the clients were told meanwhile: store_unavailable (then they resent; converge found each stored once).
  assert.ok((errors.store_unavailable ?? 0) > 0, 'sends during the outage were refused as store_unavailable');
  assert.deepEqual(Object.keys(errors), ['store_unavailable'], 'and with no other code');
  assertAllRunning();
});

test('4. rolling restart of all three instances under load', async (t) => {
  await startClients('after-rolling');
  const stop = load();
  await sleep(1000);
  for (const i of instances) {
    assert.equal(await i.stop(), 0, `instance ${i.index} stopped cleanly`);
    await i.start();
    t.diagnostic(`injected: graceful restart of instance ${i.index}`);
    await sleep(1000);
  }
  stop();
  await converge(t, 'after the rolling restart');
  assertAllRunning();
});

test('#18 5. the network path between one instance and Redis goes silent, then drops: its clients converge', async (t) => {
  await startClients('after-netcut');
  const stop = load();
  await sleep(1500);
  proxy.blackhole();
  t.diagnostic('injected: instance 2 <-> Redis black-holed for 8 s, then cut');
  await sleep(6000);
  // The path is open as far as TCP knows, yet nothing flows: instance 2 must notice and say it is not ready.
  assert.equal((await fetch(`${instances[2]!.url}/readyz`)).status, 503, 'a deaf instance is not ready');
  assert.equal((await fetch(`${instances[0]!.url}/readyz`)).status, 200, 'the others are');
  await sleep(2000);
  proxy.heal();
  await sleep(3000);
  stop();
  await converge(t, 'after the network cut');
  assert.equal((await fetch(`${instances[2]!.url}/readyz`)).status, 200, 'ready again once healed');
  assertAllRunning();
});
