/**
 * A flooding client in its own process (so its sending does not delay the measuring process's reading):
 * `node --import tsx bench/lib/flooder.ts BASE_URL COOKIE RATE` sends RATE ping frames a second in an open loop
 * and reconnects at once whenever it is closed or refused. On SIGTERM it prints `{"frames":N,"closed1008":M}`.
 */
import { WebSocket } from 'ws';

const [base, cookie, rateArg] = process.argv.slice(2) as [string, string, string];
const rate = Number(rateArg);
let frames = 0;
let closed1008 = 0;
let ws: WebSocket | null = null;

function connect(): void {
  const w = new WebSocket(`${base.replace('http', 'ws')}/ws`, { headers: { cookie, origin: base } });
  w.on('error', () => {});
  w.on('open', () => (ws = w));
  w.on('close', (code) => {
    if (code === 1008) closed1008++;
    if (ws === w) ws = null;
    setTimeout(connect, 1);
  });
}
connect();
setInterval(() => {
  const socket = ws;
  if (socket?.readyState !== WebSocket.OPEN) return;
  for (let i = 0; i < rate / 100; i++) socket.send('{"type":"ping","id":"f"}');
  frames += rate / 100;
}, 10);
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ frames, closed1008 })}\n`);
  process.exit(0);
});
