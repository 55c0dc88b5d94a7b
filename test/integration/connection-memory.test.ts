/**
 * What an open connection keeps alive: not the HTTP upgrade request it came in with (its headers, URL and
 * parser state, about 1 KiB a connection, which is what `npm run bench -- --scenario 3` measures). Checked
 * with a WeakRef to each request and a forced collection while the sockets stay open. Nor a closure per
 * listener: the gateway's listeners on each WebSocket are the same functions for every connection.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { WebSocket } from 'ws';
import { TestServer } from '../helpers/server.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let server: TestServer;
before(async () => {
  server = await TestServer.start();
});
after(() => server.close());

test('an open connection does not keep its upgrade request alive', async () => {
  const requests: Array<WeakRef<IncomingMessage>> = [];
  const watch = (req: IncomingMessage) => void requests.push(new WeakRef(req));
  const account = await server.signUp('keeper');
  const clients = [];
  const upgrades = server.confab.httpServer;
  upgrades.prependListener('upgrade', watch);
  for (let i = 0; i < 20; i++) clients.push(await server.connect(account));
  upgrades.off('upgrade', watch);
  assert.equal(requests.length, 20);
  // Let the handshakes' promise chains finish, then collect.
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 20));
    gc();
  }
  const alive = requests.filter((r) => r.deref() !== undefined).length;
  assert.equal(alive, 0, `${alive} of 20 upgrade requests are still reachable from their open connections`);
  assert.equal(server.confab.gateway.connectionCount, 20, 'the connections are still open');
});

/** The server side's WebSocket of an upgraded socket (ws keeps it under a symbol of its own on the socket). */
function webSocketOf(socket: Duplex): WebSocket {
  const key = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'websocket');
  assert.ok(key, 'ws marks the sockets it upgraded');
  return (socket as unknown as Record<symbol, WebSocket>)[key]!;
}

test('the listeners on every connection\'s WebSocket are shared by all connections, not a closure each', async () => {
  const sockets: Duplex[] = [];
  const watch = (_req: IncomingMessage, socket: Duplex) => void sockets.push(socket);
  const upgrades = server.confab.httpServer;
  upgrades.prependListener('upgrade', watch);
  await server.connect(await server.signUp('shared-a'));
  await server.connect(await server.signUp('shared-b'));
  upgrades.off('upgrade', watch);
  const [one, two] = sockets.map(webSocketOf) as [WebSocket, WebSocket];
  for (const event of ['message', 'close', 'pong', 'error'] as const) {
    assert.equal(one.listenerCount(event), 1, `one ${event} listener`);
    assert.equal(one.listeners(event)[0], two.listeners(event)[0], `the same ${event} listener on both connections`);
  }
});
