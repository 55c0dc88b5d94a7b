/**
 * Checklist #13 (too many sockets for one user or one address, and handshake bursts from one address) and #12
 * (a flood of frames from one socket): refused at the handshake with 429 before anything is upgraded, or
 * answered `rate_limited` with `retryAfterMs` and then closed 1008; other clients carry on.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { WebSocket } from 'ws';
import { MAX_FLOOD_REFUSALS } from '../../src/ws/connection.js';
import { FRAME_BURST_SECONDS } from '../../src/ws/gateway.js';
import { encodeFrame, handshakeLines, OP, RawSocket } from '../helpers/raw-websocket.js';
import { expectFrame, metricAt, TestServer, WAIT_MS, type Account } from '../helpers/server.js';

const servers: TestServer[] = [];
const sockets: WebSocket[] = [];
after(async () => {
  for (const ws of sockets) ws.terminate();
  for (const s of servers) await s.close();
});

async function start(env: Record<string, string>): Promise<TestServer> {
  const s = await TestServer.start(env);
  servers.push(s);
  return s;
}

/** A handshake as `account` from `address` (X-Forwarded-For; TRUST_PROXY is on): 101 and the open socket, or the refusal's status. */
function handshake(s: TestServer, account: Account, address: string): Promise<{ status: number; ws?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${s.wsUrl}/ws`, { headers: { cookie: account.cookie, 'x-forwarded-for': address }, origin: s.url });
    ws.on('error', () => {});
    ws.once('open', () => {
      sockets.push(ws);
      resolve({ status: 101, ws });
    });
    ws.once('unexpected-response', (req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      req.destroy();
    });
  });
}

const closed = (ws: WebSocket) => new Promise<void>((r) => (ws.readyState === WebSocket.CLOSED ? r() : ws.once('close', () => r())));

test('#13 one user: connections past MAX_CONNECTIONS_PER_USER are refused with 429 until one closes', async () => {
  const s = await start({ MAX_CONNECTIONS_PER_USER: '3' });
  const ana = await s.signUp('anna');
  const open = [];
  for (let i = 0; i < 3; i++) open.push(await handshake(s, ana, `10.1.0.${i + 1}`));
  assert.deepEqual(open.map((h) => h.status), [101, 101, 101]);
  assert.equal((await handshake(s, ana, '10.1.0.9')).status, 429, 'a fourth, from any address');
  assert.equal((await handshake(s, await s.signUp('bobby'), '10.1.0.9')).status, 101, 'another user is not affected');
  open[0]!.ws!.close();
  await closed(open[0]!.ws!);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await handshake(s, ana, '10.1.0.9')).status, 101, 'a place came free');
});

test('#13 one address: open connections past MAX_CONNECTIONS_PER_ADDRESS are refused with 429, whoever signs in', async () => {
  const s = await start({ MAX_CONNECTIONS_PER_ADDRESS: '4' });
  const results = [];
  for (let i = 0; i < 5; i++) results.push((await handshake(s, await s.signUp(`user${i}`), '10.2.0.1')).status);
  assert.deepEqual(results, [101, 101, 101, 101, 429]);
  assert.equal((await handshake(s, await s.signUp('elsewhere'), '10.2.0.2')).status, 101, 'another address is not affected');
  assert.ok(s.confab.gateway.counters.handshakesRefused >= 1);
});

test('#13 handshake bursts: past HANDSHAKES_PER_ADDRESS_PER_MINUTE an address is refused with 429 even with nothing open', async () => {
  const s = await start({ HANDSHAKES_PER_ADDRESS_PER_MINUTE: '5' });
  const cy = await s.signUp('cyril');
  const statuses = [];
  for (let i = 0; i < 7; i++) {
    const h = await handshake(s, cy, '10.3.0.1');
    statuses.push(h.status);
    h.ws?.terminate();
  }
  assert.deepEqual(statuses, [101, 101, 101, 101, 101, 429, 429]);
  assert.equal((await handshake(s, cy, '10.3.0.2')).status, 101, 'another address is not affected');
});

test('#12 a flood of frames: rate_limited with retryAfterMs past the burst, then close 1008; others unaffected', async () => {
  const rate = 10;
  const s = await start({ FRAMES_PER_SECOND: String(rate), MESSAGE_RATE_LIMIT: '1000', FLOOD_HOLD_MS: '200' });
  const room = await s.createRoom('flooded');
  const bystander = await s.connect('bystander');
  await bystander.subscribe(room.id);
  const flooder = await s.connect('flooder');
  const burst = rate * FRAME_BURST_SECONDS;
  // The burst is admitted: every ping of it is answered. (Sent together with the flood, the answers of pings still
  // queued when the flood closes the connection would go unsent: how many depends on how TCP split the frames.)
  for (let i = 0; i < burst; i++) flooder.send({ type: 'ping', id: `b${i}` });
  for (let i = 0; i < burst; i++) expectFrame(await flooder.next((f) => f.type === 'pong' && f.id === `b${i}`), 'pong');
  // Past it, refusals; MAX_FLOOD_REFUSALS of them in a row close the connection.
  for (let i = 0; i < MAX_FLOOD_REFUSALS + 10; i++) flooder.send({ type: 'ping', id: `p${i}` });
  const close = await flooder.closed;
  assert.equal(close.code, 1008, 'closed as a policy violation');
  const limited = flooder.frames.filter((f) => f.type === 'error' && f.code === 'rate_limited');
  assert.ok(limited.length >= MAX_FLOOD_REFUSALS, `then rate_limited (${limited.length})`);
  assert.ok(limited.every((f) => f.type === 'error' && typeof f.retryAfterMs === 'number' && f.retryAfterMs > 0), 'each with retryAfterMs');

  // The bystander still sends and receives.
  const ack = await bystander.post(room.id, 'still here');
  assert.equal(ack.type, 'ack');
  await bystander.waitForMessages(room.id, 1);
});

test('#12 a flooder, once cut with 1008, is not read any more: its frames wait in TCP until the hold ends', async (t) => {
  const rate = 10;
  const holdMs = 1500;
  const s = await start({ FRAMES_PER_SECOND: String(rate), FLOOD_HOLD_MS: String(holdMs) });
  const raw = new RawSocket(s.port);
  t.after(() => raw.destroy());
  raw.request(handshakeLines(s.port, (await s.user('raw-flooder')).cookie, '/ws', { Origin: s.url }));
  assert.match((await raw.response()).statusLine, /^HTTP\/1\.1 101 /);
  await raw.frame(OP.text); // hello
  const ping = encodeFrame({ opcode: OP.text, payload: '{"type":"ping","id":"f"}' });
  const flood = (n: number) => raw.write(Buffer.concat(Array.from({ length: n }, () => ping)));
  flood(rate * FRAME_BURST_SECONDS + MAX_FLOOD_REFUSALS + 100);
  assert.equal(await raw.closeCode(), 1008, 'the close frame goes out at once');
  const texts = () => raw.frames.filter((f) => f.opcode === OP.text).map((f) => JSON.parse(f.payload.toString('utf8')) as { type: string });
  const answered = texts().length;

  // Held: the server reads nothing more, whatever the client sends; the TCP connection stays until the hold ends.
  const readBefore = await metricAt(s.url, 'confab_frames_received_total');
  const cutAt = Date.now();
  for (let i = 0; i < 5; i++) {
    flood(1000);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(await metricAt(s.url, 'confab_frames_received_total'), readBefore, 'no frame read after the cut');
  assert.equal(texts().length, answered, 'nothing answered after the cut');
  assert.ok(texts().filter((f) => f.type === 'error').length <= MAX_FLOOD_REFUSALS, 'at most MAX_FLOOD_REFUSALS refusals answered');
  assert.equal(await metricAt(s.url, 'confab_flood_closes_total'), 1);
  assert.equal(raw.socket.destroyed, false, 'still held');
  await raw.whenEnded();
  assert.ok(Date.now() - cutAt < holdMs + WAIT_MS, 'dropped once the hold is over');
});

test('#12 a client that bursts and then slows down is not closed', async () => {
  const rate = 10;
  const s = await start({ FRAMES_PER_SECOND: String(rate) });
  const c = await s.connect('burster');
  const burst = rate * FRAME_BURST_SECONDS;
  for (let i = 0; i < burst + 5; i++) c.send({ type: 'ping', id: `b${i}` });
  await c.next((f) => f.type === 'error' && f.code === 'rate_limited');
  await new Promise((r) => setTimeout(r, 1000));
  c.send({ type: 'ping', id: 'later' });
  await c.next((f) => f.type === 'pong' && f.id === 'later');
  assert.equal(c.ws.readyState, WebSocket.OPEN);
});
