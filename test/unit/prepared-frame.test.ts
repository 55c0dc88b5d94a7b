/**
 * A frame prepared once and written as raw bytes to many sockets must reach a real `ws` client exactly as
 * `ws.send` would have sent it: every length encoding of RFC 6455 (7-bit, 16-bit, 64-bit), in order with
 * frames sent the ordinary way, and also over a connection that negotiated permessage-deflate (where the
 * prepared bytes cannot be used and ws frames the payload itself).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { Connection, PreparedFrame } from '../../src/ws/connection.js';

async function pair(perMessageDeflate: boolean): Promise<{ server: Connection; client: WebSocket; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate });
  const [ws] = await accepted;
  await once(client, 'open');
  return {
    server: new Connection(ws, 1 << 30),
    client,
    async close() {
      client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function receive(client: WebSocket, count: number): Promise<Array<{ text: string; binary: boolean }>> {
  const got: Array<{ text: string; binary: boolean }> = [];
  return new Promise((resolve) => {
    client.on('message', (data, binary) => {
      got.push({ text: (data as Buffer).toString('utf8'), binary });
      if (got.length === count) resolve(got);
    });
  });
}

const payloads = ['', 'x', 'é'.repeat(62), 'a'.repeat(125), 'b'.repeat(126), 'c'.repeat(65_535), 'd'.repeat(65_536), JSON.stringify({ t: 'message', body: '👋 hi' })];

for (const deflate of [false, true]) {
  test(`prepared frames arrive as the text frames ws.send would write${deflate ? ' (permessage-deflate negotiated)' : ''}`, async () => {
    const { server, client, close } = await pair(deflate);
    try {
      assert.equal(client.extensions !== '', deflate, 'the extension was negotiated as the test intends');
      // Each payload prepared, then the same frame written twice, with an ordinary frame between: order holds.
      const expected: string[] = [];
      const arriving = receive(client, payloads.length * 3);
      for (const p of payloads) {
        const frame = new PreparedFrame(Buffer.from(p));
        assert.ok(server.write(frame));
        assert.ok(server.write(`plain ${p.length}`));
        assert.ok(server.write(frame));
        expected.push(p, `plain ${p.length}`, p);
      }
      const got = await arriving;
      assert.deepEqual(got.map((g) => g.text), expected);
      assert.ok(got.every((g) => !g.binary), 'every frame is a text frame');
    } finally {
      await close();
    }
  });
}

test('the wire bytes are the header RFC 6455 gives for each length, unmasked, FIN and text opcode set', () => {
  const header = (n: number) => [...new PreparedFrame(Buffer.alloc(n, 0x61)).wire.subarray(0, n < 126 ? 2 : n < 65_536 ? 4 : 10)];
  assert.deepEqual(header(5), [0x81, 5]);
  assert.deepEqual(header(125), [0x81, 125]);
  assert.deepEqual(header(126), [0x81, 126, 0, 126]);
  assert.deepEqual(header(65_535), [0x81, 126, 0xff, 0xff]);
  assert.deepEqual(header(65_536), [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
  assert.equal(new PreparedFrame(Buffer.from('abc')).wire.length, 5);
});
