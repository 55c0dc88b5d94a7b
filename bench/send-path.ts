/**
 * The per-message access check (issue 7: "no store reads on the per-message path"):
 * `node --import tsx bench/send-path.ts`. ChatService.send in-process, BENCH_SENDERS (8) concurrent senders of
 * one user, BENCH_SENDS (3,000) sends after a warm-up, on SQLite (a temporary file) and on PostgreSQL (a fresh
 * database on the server of test/helpers/postgres.ts, dropped after), in a public and a private room.
 * Each case runs twice, alternating: with RoomAccess as built (room kinds and memberships cached), and as the
 * baseline with every check read from the store, as before it (`room` and `isMember` replaced by store reads).
 * Printed: this process's CPU per send (the PostgreSQL server's own CPU is not counted) and wall time per send.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { pino } from 'pino';
import { AccessRechecks } from '../src/chat/access-rechecks.js';
import { ChatService } from '../src/chat/chat-service.js';
import type { Principal } from '../src/chat/principal.js';
import { RateLimits } from '../src/chat/rate-limits.js';
import { MemoryLayer } from '../src/layer/memory-layer.js';
import { PostgresStore } from '../src/store/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import type { Store } from '../src/store/store.js';
import { freshDatabase } from '../test/helpers/postgres.js';

const SENDERS = Number(process.env.BENCH_SENDERS ?? 8);
const SENDS = Number(process.env.BENCH_SENDS ?? 3000);
const WARM_UP = 300;
const ROUNDS = 2;

type Kind = 'sqlite' | 'postgres';

async function measure(kind: Kind, roomKind: 'public' | 'private', cached: boolean): Promise<{ cpuUs: number; wallUs: number }> {
  const db = kind === 'postgres' ? await freshDatabase() : null;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'confab-send-path-'));
  const store: Store = db ? new PostgresStore(db.url) : new SqliteStore(path.join(dir, 'confab.db'));
  try {
    await store.migrate();
    const layer = new MemoryLayer();
    const log = pino({ level: 'silent' });
    const chat = new ChatService(store, layer, { maxMessageChars: 4000 }, new RateLimits(1e9, 1000), log, new AccessRechecks(layer, log));
    if (!cached) {
      chat.access.room = (id) => store.getRoom(id);
      chat.access.isMember = (roomId, userId) => store.isMember(roomId, userId);
    }
    const user = await store.createUser({ username: 'sender', usernameKey: 'sender', displayName: 'Sender', passwordHash: 'x', createdAt: Date.now() });
    const p: Principal = { userId: user.id, username: 'sender', displayName: 'Sender', isAdmin: false, sessionId: null, tokenId: null };
    const room = await chat.createRoom(p, 'bench', roomKind);
    let id = 0;
    const run = async (count: number) => {
      let left = count;
      const sender = async () => {
        while (left-- > 0) await chat.send(p, { roomId: room.id, body: 'hello world', clientMsgId: `m${id++}` });
      };
      await Promise.all(Array.from({ length: SENDERS }, sender));
    };
    await run(WARM_UP);
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    await run(SENDS);
    const used = process.cpuUsage(cpu);
    return { cpuUs: (used.user + used.system) / SENDS, wallUs: ((performance.now() - t0) * 1000) / SENDS };
  } finally {
    await store.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: string[][] = [];
for (const kind of ['sqlite', 'postgres'] as const) {
  for (const roomKind of ['public', 'private'] as const) {
    const runs = { cached: [] as number[][], reads: [] as number[][] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const cached of [false, true]) {
        const m = await measure(kind, roomKind, cached);
        (cached ? runs.cached : runs.reads).push([m.cpuUs, m.wallUs]);
      }
    }
    const mean = (xs: number[][], i: number) => xs.reduce((s, x) => s + x[i]!, 0) / xs.length;
    const [rc, rw, cc, cw] = [mean(runs.reads, 0), mean(runs.reads, 1), mean(runs.cached, 0), mean(runs.cached, 1)];
    rows.push([kind, roomKind, rc.toFixed(0), cc.toFixed(0), `${(cc / rc).toFixed(2)}x`, rw.toFixed(0), cw.toFixed(0)]);
  }
}
console.log(`ChatService.send, ${SENDERS} concurrent senders, ${SENDS} sends, mean of ${ROUNDS} runs each way (store reads per check vs RoomAccess):`);
console.log('| store | room | CPU us/send, reads | CPU us/send, cached | ratio | wall us/send, reads | wall us/send, cached |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
