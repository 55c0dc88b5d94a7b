/**
 * The per-recipient write (issue 7: "write the same prepared frame to every socket"):
 * `node --import tsx bench/fanout-write.ts`. One room of BENCH_MEMBERS (100) real WebSocket connections over
 * loopback, their clients in a child process that only counts frames; this process writes BENCH_FANOUTS
 * (4,000) deliveries of a ~300-byte message frame to all of them through `Connection.write`, one delivery per
 * event-loop turn (as the bench's evenly spaced sends arrive), in blocks that alternate between
 *   prepared: one `PreparedFrame` per delivery, its framed bytes written to each socket (as the hub does), and
 *   ws.send:  the same payload Buffer handed to `ws.send` for each socket (as before PreparedFrame).
 * Printed: this process's CPU (user + system, kernel socket work included) per delivery for each, per block.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { Connection, PreparedFrame } from '../src/ws/connection.js';

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 100);
const FANOUTS = Number(process.env.BENCH_FANOUTS ?? 4000);
const BLOCKS = 6;

if (process.argv[2] === 'clients') {
  // The child: MEMBERS clients that count what they receive and report the total when asked.
  const url = process.argv[3]!;
  let received = 0;
  const clients = await Promise.all(
    Array.from({ length: MEMBERS }, async () => {
      const c = new WebSocket(url);
      c.on('message', () => received++);
      await once(c, 'open');
      return c;
    }),
  );
  process.send!({ ready: clients.length });
  process.on('message', () => process.send!({ received }));
} else {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await once(wss, 'listening');
  const conns: Connection[] = [];
  wss.on('connection', (ws) => conns.push(new Connection(ws, 1 << 30)));
  const child = fork(fileURLToPath(import.meta.url), ['clients', `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`], {
    execArgv: ['--import', 'tsx'],
  });
  const ask = () => new Promise<number>((resolve) => {
    child.once('message', (m: { received: number }) => resolve(m.received));
    child.send('count');
  });
  await once(child, 'message');
  const body = JSON.stringify({ t: 'message', room: 1, seq: 0, id: 0, user: { id: 7, username: 'member7', displayName: 'Member 7' }, body: 'x'.repeat(180), createdAt: Date.now(), clientMsgId: 'c0' });
  const payload = Buffer.from(body);
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

  const block = async (prepared: boolean) => {
    const cpu = process.cpuUsage();
    for (let i = 0; i < FANOUTS; i++) {
      if (prepared) {
        const frame = new PreparedFrame(payload);
        for (const c of conns) c.write(frame);
      } else {
        for (const c of conns) c.write(payload);
      }
      await turn();
    }
    const used = process.cpuUsage(cpu);
    return (used.user + used.system) / (FANOUTS * conns.length);
  };

  await block(true); // warm-up, both paths
  await block(false);
  const results: Record<string, number[]> = { prepared: [], 'ws.send': [] };
  for (let b = 0; b < BLOCKS; b++) {
    results.prepared!.push(await block(true));
    results['ws.send']!.push(await block(false));
  }
  const expected = (BLOCKS + 1) * 2 * FANOUTS * conns.length;
  let received = await ask();
  for (let i = 0; i < 100 && received < expected; i++) {
    await new Promise((r) => setTimeout(r, 50));
    received = await ask();
  }
  console.log(`${conns.length} connections, ${FANOUTS} deliveries per block, ${received} of ${expected} frames received`);
  for (const [name, us] of Object.entries(results)) {
    const mean = us.reduce((a, b) => a + b, 0) / us.length;
    console.log(`${name.padEnd(9)} CPU per delivery ${mean.toFixed(2)} us  (blocks: ${us.map((u) => u.toFixed(2)).join(' ')})`);
  }
  child.kill();
  for (const c of conns) c.ws.terminate();
  wss.close();
}
