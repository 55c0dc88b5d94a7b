/**
 * The systems under test, each started as child processes of the bench on free ports: Confab
 * (dist/server/main.js: SQLite in a temp folder, or PostgreSQL + Redis for several instances), the bare `ws`
 * broadcaster and Socket.IO 4 + its Redis adapter (both built from bench/baselines/ to dist/bench/). Each
 * knows how to describe a connection of member m of room r for the generator.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import pg from 'pg';
import { freePort, sleep, waitForPort } from './common.js';
import type { ConnSpec, SystemKind } from './ipc.js';

export const BUILD_DIR = 'dist/bench';

/** Builds the baselines and the generator process to plain JS (no TypeScript loader in measured processes). */
export async function buildBench(): Promise<void> {
  await build({
    entryPoints: {
      'bare-ws': 'bench/baselines/bare-ws.ts',
      socketio: 'bench/baselines/socketio.ts',
      'gen-worker': 'bench/lib/gen-worker.ts',
    },
    outdir: BUILD_DIR,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
}

export interface System {
  name: string;
  kind: SystemKind;
  /** Processes whose CPU and memory count as the system's (servers, and a Redis the bench started for it). */
  pids(): number[];
  /** The connection of member `m` (0-based) of room `r`; room null: connect only. */
  conn(r: number | null, m: number): ConnSpec;
  stop(): Promise<void>;
}

/**
 * Node options for Confab's server processes, e.g. `BENCH_CONFAB_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'`
 * (--cpu-prof is not allowed in NODE_OPTIONS; the profile is written when the server exits on the bench's SIGTERM).
 */
const CONFAB_NODE_ARGS = (process.env.BENCH_CONFAB_NODE_ARGS ?? '').split(' ').filter(Boolean);

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

function start(cmd: string, args: string[], env: Record<string, string>): ChildProcess {
  const c = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}

/** Waits for the port, failing at once if the process that should listen there exited. */
async function up(port: number, c: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const exited = new Promise<never>((_, rej) => c.once('exit', (code) => rej(new Error(`${c.spawnargs.join(' ')} exited (${code})`))));
  exited.catch(() => undefined);
  await Promise.race([waitForPort(port, timeoutMs), exited]);
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  await Promise.race([gone, sleep(5000)]);
  if (c.exitCode === null && c.signalCode === null) {
    c.kill('SIGKILL');
    await gone;
  }
}

/** A private redis-server on a free port (never the shared one), gone with stop(). */
export async function privateRedis(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {});
  await up(port, proc);
  return { url: `redis://127.0.0.1:${port}`, proc };
}

export async function startBareWs(): Promise<System> {
  const port = await freePort();
  const proc = start(process.execPath, [path.join(BUILD_DIR, 'bare-ws.js')], { PORT: String(port) });
  await up(port, proc);
  return {
    name: 'bare ws',
    kind: 'bare-ws',
    pids: () => [proc.pid!],
    conn: (r) => ({ kind: 'bare-ws', url: `ws://127.0.0.1:${port}`, room: r === null ? null : `r${r}`, roomIdx: r ?? 0 }),
    stop: () => stopChild(proc),
  };
}

export async function startSocketIo(instances = 1): Promise<System> {
  const redis = await privateRedis();
  const ports: number[] = [];
  const procs: ChildProcess[] = [];
  for (let i = 0; i < instances; i++) {
    const port = await freePort();
    ports.push(port);
    procs.push(start(process.execPath, [path.join(BUILD_DIR, 'socketio.js')], { PORT: String(port), REDIS_URL: redis.url }));
  }
  for (let i = 0; i < instances; i++) await up(ports[i]!, procs[i]!);
  return {
    name: instances > 1 ? `Socket.IO x${instances}` : 'Socket.IO+Redis',
    kind: 'socketio',
    pids: () => [...procs, redis.proc].map((p) => p.pid!),
    conn: (r, m) => ({
      kind: 'socketio',
      url: `http://127.0.0.1:${ports[(m + (r ?? 0)) % instances]}`,
      room: r === null ? null : `r${r}`,
      roomIdx: r ?? 0,
    }),
    async stop() {
      for (const p of procs) await stopChild(p);
      await stopChild(redis.proc);
    },
  };
}

export interface ConfabOptions {
  instances?: number;
  /** PostgreSQL + a private Redis instead of SQLite + the in-process layer. */
  postgres?: boolean;
  /** Accounts signed up through the API (each an argon2 hash); connection i of the scenario signs in as user i % users. */
  users: number;
  rooms: number;
  /** Members per room: the connection of member m of room r is the scenario's (r * members + m)-th. */
  members: number;
}

const PG_ADMIN_URL = process.env.PG_BENCH_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

type Post = (p: string, body: unknown, cookie: string | null, ip: string) => Promise<Response>;

function poster(base: string): Post {
  return async (p, body, cookie, ip) => {
    const res = await fetch(`${base}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base, 'x-forwarded-for': ip, ...(cookie ? { cookie } : {}) },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`POST ${p}: ${res.status} ${await res.text()}`);
    return res;
  };
}

async function pool(n: number, width: number, f: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await f(next++);
    }),
  );
}

/** Real sign-ups (argon2id) through the API, each from its own X-Forwarded-For address (10 per address per hour). */
async function signUp(base: string, users: number): Promise<string[]> {
  const post = poster(base);
  const cookies = new Array<string>(users);
  await pool(users, 4, async (i) => {
    const res = await post('/api/auth/signup', { username: `bench${i}`, password: 'bench password 123' }, null, `10.77.${i >> 8}.${i & 255}`);
    cookies[i] = res.headers.get('set-cookie')!.split(';')[0]!;
  });
  return cookies;
}

function confabEnv(port: number, databaseUrl: string, dir: string, redisUrl?: string): Record<string, string> {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    LOG_LEVEL: 'warn',
    TRUST_PROXY: 'true',
    MESSAGE_RATE_LIMIT: '1000000',
    // The generator's connections all come from 127.0.0.1, where real users come from many addresses.
    MAX_CONNECTIONS_PER_ADDRESS: '10000000',
    HANDSHAKES_PER_ADDRESS_PER_MINUTE: '10000000',
    UPLOAD_DIR: path.join(dir, 'uploads'),
  };
}

/**
 * The SQLite accounts of this run: signed up once through the API (1,000 argon2 hashes take a minute on a busy
 * 2-core machine), then the stopped server's database file is copied for every later SQLite start, sessions
 * included. Each start still creates its rooms and memberships through the API.
 */
let template: { file: string; cookies: string[]; signUpMs: number } | null = null;

async function sqliteTemplate(users: number): Promise<{ file: string; cookies: string[]; signUpMs: number }> {
  if (template && template.cookies.length === users) return template;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'confab-bench-accounts-'));
  const file = path.join(dir, 'bench.db');
  const port = await freePort();
  const proc = start(process.execPath, [...CONFAB_NODE_ARGS, 'dist/server/main.js'], confabEnv(port, `sqlite:${file}`, dir));
  try {
    await up(port, proc, 60_000);
    const t0 = Date.now();
    const cookies = await signUp(`http://127.0.0.1:${port}`, users);
    template = { file, cookies, signUpMs: Date.now() - t0 };
  } finally {
    await stopChild(proc);
  }
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return template;
}

export async function startConfab(o: ConfabOptions): Promise<System & { setupMs: number; signUpMs: number }> {
  const instances = o.instances ?? 1;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'confab-bench-'));
  let databaseUrl = `sqlite:${path.join(dir, 'bench.db')}`;
  let dropDb = async () => {};
  let redis: { url: string; proc: ChildProcess } | null = null;
  let cookies: string[] = [];
  let signUpMs = 0;
  if (!o.postgres) {
    const t = await sqliteTemplate(o.users);
    for (const ext of ['', '-wal', '-shm']) if (existsSync(t.file + ext)) copyFileSync(t.file + ext, path.join(dir, `bench.db${ext}`));
    cookies = t.cookies;
    signUpMs = t.signUpMs;
  } else {
    const name = `confab_bench_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    dropDb = async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
    redis = await privateRedis();
  }
  const ports: number[] = [];
  const procs: ChildProcess[] = [];
  const stopAll = async () => {
    for (const p of procs) await stopChild(p);
    if (redis) await stopChild(redis.proc);
    await dropDb().catch((e: unknown) => console.error(`bench: could not drop the bench database: ${String(e)}`));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < instances; i++) {
      const port = await freePort();
      ports.push(port);
      procs.push(start(process.execPath, [...CONFAB_NODE_ARGS, 'dist/server/main.js'], confabEnv(port, databaseUrl, dir, redis?.url)));
      // Migrations run on start: let the first instance finish before the next one starts.
      await up(port, procs[i]!, 60_000);
    }
    const t0 = Date.now();
    const base = `http://127.0.0.1:${ports[0]}`;
    const post = poster(base);
    if (o.postgres) {
      cookies = await signUp(base, o.users);
      signUpMs = Date.now() - t0;
    }
    const roomIds: number[] = [];
    for (let r = 0; r < o.rooms; r++) {
      const res = await post('/api/rooms', { name: `bench-${r}` }, cookies[0]!, '10.78.0.1');
      roomIds.push(((await res.json()) as { room: { id: number } }).room.id);
    }
    // Each user joins the rooms its connections are in (user 0 created them all).
    const joins = new Set<string>();
    for (let r = 0; r < o.rooms; r++) {
      for (let m = 0; m < o.members; m++) {
        const u = (r * o.members + m) % o.users;
        if (u !== 0) joins.add(`${u}:${r}`);
      }
    }
    const list = [...joins].map((j) => j.split(':').map(Number) as [number, number]);
    await pool(list.length, 8, async (j) => {
      const [u, r] = list[j]!;
      await post(`/api/rooms/${roomIds[r]}/join`, {}, cookies[u]!, `10.79.${u >> 8}.${u & 255}`);
    });
    const setupMs = Date.now() - t0;
    return {
      signUpMs,
      name: instances > 1 ? `Confab x${instances} (PG+Redis)` : o.postgres ? 'Confab (PG+Redis)' : 'Confab',
      kind: 'confab',
      setupMs,
      pids: () => [...procs, ...(redis ? [redis.proc] : [])].map((p) => p.pid!),
      conn: (r, m) => ({
        kind: 'confab',
        url: `ws://127.0.0.1:${ports[(m + (r ?? 0)) % instances]}/ws`,
        cookie: cookies[((r ?? 0) * o.members + m) % o.users]!,
        room: r === null ? null : roomIds[r]!,
        roomIdx: r ?? 0,
      }),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
