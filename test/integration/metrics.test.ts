/**
 * /metrics in Prometheus' text format: connections, frames in and out, messages stored, deliveries, send-to-ack
 * latency, handshake refusals, event-loop lag; each moved by what the test does and by nothing else.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { metricAt, TestServer } from '../helpers/server.js';

let server: TestServer;
before(async () => {
  server = await TestServer.start();
});
after(() => server.close());

const metric = (name: string) => metricAt(server.url, name);

test('the totals follow what clients do', async () => {
  assert.equal(await metric('confab_connections'), 0);
  const room = await server.createRoom('metered');
  const a = await server.connect('alice');
  const b = await server.connect('bruno');
  await a.subscribe(room.id);
  await b.subscribe(room.id);
  assert.equal(await metric('confab_connections'), 2);
  assert.equal(await metric('confab_room_subscriptions'), 2);
  const inBefore = await metric('confab_frames_received_total');
  const outBefore = await metric('confab_frames_sent_total');
  for (let i = 0; i < 3; i++) await a.post(room.id, `m${i}`);
  await b.waitForMessages(room.id, 3);
  assert.equal(await metric('confab_messages_stored_total'), 3);
  assert.equal(await metric('confab_deliveries_total'), 6, '3 messages to 2 subscribers');
  assert.equal(await metric('confab_frames_received_total'), inBefore + 3);
  // 3 acks, 3 deliveries to each of the 2.
  assert.equal(await metric('confab_frames_sent_total'), outBefore + 9);
  assert.equal(await metric('confab_send_ack_seconds_count'), 3);
  assert.ok((await metric('confab_send_ack_seconds_sum')) > 0);
  assert.equal(await metric('confab_handshakes_refused_total'), 0);
  assert.ok((await metric('nodejs_eventloop_lag_seconds')) >= 0, 'event-loop lag is exposed');
  await a.close();
  await b.close();
  for (let i = 0; i < 50 && (await metric('confab_connections')) > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await metric('confab_connections'), 0);
});

test('the exposition is Prometheus text with HELP and TYPE for every Confab metric', async () => {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const names = [...text.matchAll(/^# TYPE (confab_\w+) (counter|gauge|histogram)$/gm)].map((m) => m[1]);
  for (const n of names) assert.match(text, new RegExp(`^# HELP ${n} .+$`, 'm'), n);
  assert.ok(names.length >= 11, names.join(', '));
});
