/**
 * What one idle connection costs the server's JavaScript heap, collected: `node --expose-gc --import tsx
 * bench/connection-heap.ts`. Scenario 3 of `npm run bench` measures the server's RSS, which also holds garbage
 * not yet collected and so moves by a KiB per connection from run to run; this counts what stays reachable.
 * An in-process Confab (SQLite in a temporary folder) with BENCH_USERS (200) accounts; a child process opens
 * BENCH_CONNECTIONS (4,000) signed-in `/ws` connections, round robin over the accounts, each waiting for its
 * `hello`. Printed: heap used, RSS and external memory per connection, each after two forced collections
 * before and after connecting.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 4000);
const USERS = Number(process.env.BENCH_USERS ?? 200);

if (process.argv[2] === 'clients') {
  const { url, origin, cookies } = JSON.parse(process.argv[3]!) as { url: string; origin: string; cookies: string[] };
  const open: WebSocket[] = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const ws = new WebSocket(url, { headers: { cookie: cookies[i % cookies.length]!, origin } });
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve());
      ws.once('error', reject);
    });
    open.push(ws);
  }
  process.send!(open.length);
  setInterval(() => {}, 60_000); // stays connected until killed
} else {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const collect = async () => {
    gc();
    await new Promise((r) => setTimeout(r, 300));
    gc();
  };
  const { TestServer } = await import('../test/helpers/server.js');
  const server = await TestServer.start({
    MAX_CONNECTIONS_PER_ADDRESS: '1000000',
    HANDSHAKES_PER_ADDRESS_PER_MINUTE: '1000000',
    MAX_CONNECTIONS_PER_USER: '1000000',
  });
  const cookies: string[] = [];
  for (let i = 0; i < USERS; i++) cookies.push((await server.signUp(`heap${i}`)).cookie);
  await collect();
  const before = process.memoryUsage();
  const clients = fork(fileURLToPath(import.meta.url), ['clients', JSON.stringify({ url: `${server.wsUrl}/ws`, origin: server.url, cookies })], {
    execArgv: ['--import', 'tsx'],
  });
  const [opened] = (await once(clients, 'message')) as [number];
  await new Promise((r) => setTimeout(r, 2000)); // greetings (unread, presence) sent
  await collect();
  const after = process.memoryUsage();
  console.log(`${opened} idle connections of ${USERS} users (${server.confab.gateway.connectionCount} open on the server)`);
  for (const k of ['heapUsed', 'rss', 'external'] as const) {
    console.log(`${k.padEnd(9)} ${Math.round((after[k] - before[k]) / opened).toLocaleString('en-US').padStart(6)} B per connection`);
  }
  clients.kill();
  await server.close();
}
