/**
 * Baseline 1: a bare `ws` room broadcaster. No auth, no storage, no validation beyond JSON.parse: the floor
 * of what any WebSocket chat on Node.js can cost. Each message is serialized once and the same Buffer is
 * written to every socket of the room (the sender included, as Confab and Socket.IO do).
 *
 * Protocol (JSON text frames), spoken by the generator's `bare-ws` adapter:
 *   client -> server  {"t":"join","r":"room"}              server -> client {"t":"joined","r":"room"}
 *   client -> server  {"t":"send","r":"room","b":"..."}    server -> room   {"t":"msg","r":"room","b":"..."}
 *
 * Run: PORT=8123 node dist/bench/bare-ws.js (the bench builds it with esbuild).
 */
import { WebSocketServer, type WebSocket } from 'ws';

const port = Number(process.env.PORT ?? 8123);
const rooms = new Map<string, Set<WebSocket>>();
const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false });

wss.on('connection', (ws) => {
  const joined = new Set<string>();
  ws.on('message', (data) => {
    let f: { t?: unknown; r?: unknown; b?: unknown };
    try {
      f = JSON.parse(data.toString()) as typeof f;
    } catch {
      return;
    }
    if (typeof f.r !== 'string') return;
    if (f.t === 'join') {
      let set = rooms.get(f.r);
      if (!set) rooms.set(f.r, (set = new Set()));
      set.add(ws);
      joined.add(f.r);
      ws.send(JSON.stringify({ t: 'joined', r: f.r }));
    } else if (f.t === 'send' && typeof f.b === 'string') {
      const frame = Buffer.from(JSON.stringify({ t: 'msg', r: f.r, b: f.b }));
      for (const peer of rooms.get(f.r) ?? []) peer.send(frame, { binary: false });
    }
  });
  ws.on('close', () => {
    for (const r of joined) rooms.get(r)?.delete(ws);
  });
});
wss.on('listening', () => process.stdout.write(`bare-ws listening on ${port}\n`));
process.on('SIGTERM', () => process.exit(0));
