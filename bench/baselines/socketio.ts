/**
 * Baseline 2: Socket.IO 4 with its Redis adapter (the common choice of Node.js users), on a Redis the bench
 * starts (REDIS_URL). WebSocket transport only (the client is told so too), no auth, no storage.
 *
 * Events, spoken by the generator's `socketio` adapter:
 *   client emit('join', room, ack)      -> the socket joins the room, ack()
 *   client emit('send', room, body)     -> io.to(room).emit('msg', room, body) (the sender included)
 *
 * Run: PORT=8124 REDIS_URL=redis://127.0.0.1:6390 node dist/bench/socketio.js
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 8124);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const pub = new Redis(redisUrl);
const sub = pub.duplicate();
const http = createServer();
const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  adapter: createAdapter(pub, sub, { key: process.env.SOCKETIO_KEY ?? 'bench-socket.io' }),
});

io.on('connection', (socket) => {
  socket.on('join', (room: unknown, ack: unknown) => {
    if (typeof room !== 'string') return;
    void socket.join(room);
    if (typeof ack === 'function') (ack as () => void)();
  });
  socket.on('send', (room: unknown, body: unknown) => {
    if (typeof room !== 'string' || typeof body !== 'string') return;
    io.to(room).emit('msg', room, body);
  });
});
http.listen(port, '127.0.0.1', () => process.stdout.write(`socket.io listening on ${port}\n`));
process.on('SIGTERM', () => {
  pub.disconnect();
  sub.disconnect();
  process.exit(0);
});
