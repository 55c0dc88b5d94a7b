/**
 * A client that opens a connection and never finishes its request head (a WebSocket handshake stalled halfway,
 * or nothing sent at all: slowloris) is cut once HEADERS_TIMEOUT_MS has passed, instead of holding its socket
 * for Node's default minute; a client that completes its handshake meanwhile is not affected.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { TestServer } from '../helpers/server.js';

let server: TestServer;
before(async () => {
  server = await TestServer.start({ HEADERS_TIMEOUT_MS: '1000' });
});
after(() => server.close());

/** Opens a TCP connection, writes `text`, and resolves when the server ends it (rejects after `guardMs`). */
function stall(text: string, guardMs = 8000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port, '127.0.0.1', () => socket.write(text));
    socket.on('error', () => {});
    socket.resume(); // read what the server answers (a 408), so that its end is seen
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error('the stalled connection was still open'));
    }, guardMs);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve();
    });
  });
}

test('a WebSocket handshake stalled mid-head is cut after HEADERS_TIMEOUT_MS', async () => {
  const healthy = await server.connect('patient');
  await stall(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`);
  // The open WebSocket, whose handshake completed long ago, is not a stalled request.
  const pong = (healthy.send({ type: 'ping', id: 'still' }), await healthy.next((f) => f.type === 'pong'));
  assert.equal(pong.type, 'pong');
});

test('a connection that sends nothing is cut too', async () => {
  await stall('');
});
