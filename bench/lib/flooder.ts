/**
 * A hostile flooding client in its own process (so its sending does not delay the measuring process's reading):
 * `node --import tsx bench/lib/flooder.ts BASE_URL COOKIE RATE` writes RATE ping frames a second in an open loop
 * on a raw TCP connection, whatever the server answers: unlike a library client it does not stop at the server's
 * close frame, so the server has to stop it. It reads (and discards) everything the server sends, and reconnects
 * at once whenever the TCP connection ends or the handshake is refused. On SIGTERM it prints
 * `{"frames":N,"closed1008":M}`: frames written, and connections on which the server sent a 1008 close frame.
 */
import net from 'node:net';
import { encodeFrame, handshakeLines, OP } from '../../test/helpers/raw-websocket.js';

const [base, cookie, rateArg] = process.argv.slice(2) as [string, string, string];
const rate = Number(rateArg);
const TICK_MS = 10;
const url = new URL(base);
const port = Number(url.port);
/** One tick's frames, encoded once (one masking key for all: the server unmasks each all the same). */
const batch = Buffer.concat(Array.from({ length: Math.max(1, Math.round((rate * TICK_MS) / 1000)) }, () => encodeFrame({ opcode: OP.text, payload: '{"type":"ping","id":"f"}' })));
const perTick = batch.length / encodeFrame({ opcode: OP.text, payload: '{"type":"ping","id":"f"}' }).length;
/** A server close frame with code 1008: opcode byte, a length under 126, then 0x03F0. */
const isClose1008 = (b: Buffer, i: number) => b[i] === 0x88 && (b[i + 1] ?? 126) < 126 && b[i + 2] === 0x03 && b[i + 3] === 0xf0;

let frames = 0;
let closed1008 = 0;
let socket: net.Socket | null = null;

function connect(): void {
  const s = net.connect(port, url.hostname);
  let upgraded = false;
  let saw1008 = false;
  s.on('error', () => {});
  s.write(`${handshakeLines(port, cookie, '/ws', { Origin: base }).join('\r\n')}\r\n\r\n`);
  s.on('data', (chunk: Buffer) => {
    if (!upgraded) {
      if (!chunk.toString('latin1').startsWith('HTTP/1.1 101')) return void s.destroy();
      upgraded = true;
      socket = s;
    }
    if (!saw1008) for (let i = 0; i < chunk.length - 3; i++) if (isClose1008(chunk, i)) saw1008 = true;
  });
  s.on('close', () => {
    if (saw1008) closed1008++;
    if (socket === s) socket = null;
    setTimeout(connect, 1);
  });
}
connect();
setInterval(() => {
  if (!socket || socket.destroyed) return;
  socket.write(batch);
  frames += perTick;
}, TICK_MS);
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ frames, closed1008 })}\n`);
  process.exit(0);
});
