/**
 * The Redis channel layer against a private redis-server: delivery between two instances' layers, failing
 * fast while Redis is away, subscriptions made during the outage or confirmed late, and the recovery signal
 * afterwards.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { REDIS_SUBSCRIBE_WAIT_MS, RedisLayer } from '../../src/layer/redis-layer.js';
import { CuttableProxy, PrivateRedis } from '../helpers/redis.js';

const log = pino({ level: 'silent' });
const redis = await PrivateRedis.create();
const a = new RedisLayer(redis.url, log);
const b = new RedisLayer(redis.url, log);
after(async () => {
  await a.close();
  await b.close();
  await redis.stop();
});

const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(cond(), what);
};

test('a payload published by one instance reaches the subscribers of every instance, in order', async () => {
  // Publishing fails fast until the publisher is connected (no offline queue): wait for both to be up.
  await until(() => a.healthy() && b.healthy(), 'healthy');
  const got: string[] = [];
  await b.subscribe('room.1', (p) => got.push(`b:${p}`));
  await a.subscribe('room.1', (p) => got.push(`a:${p}`));
  for (const p of ['x', 'y', 'z']) await a.publish('room.1', p);
  await until(() => got.length === 6, 'six deliveries');
  assert.deepEqual(got.filter((g) => g.startsWith('b:')), ['b:x', 'b:y', 'b:z']);
  assert.deepEqual(got.filter((g) => g.startsWith('a:')), ['a:x', 'a:y', 'a:z']);
});

test('#18 while Redis is away: publish fails fast, health says so; once back: recovery is signalled and delivery resumes', async () => {
  let recovered = 0;
  b.onRecovered(() => recovered++);
  const got: string[] = [];
  await redis.stop();
  await until(() => !a.healthy() && !b.healthy(), 'unhealthy while Redis is away');
  await assert.rejects(a.publish('room.2', 'lost'));
  // Subscribing during the outage does not hang; it becomes live when Redis returns.
  await b.subscribe('room.2', (p) => got.push(p));
  await redis.start();
  await until(() => recovered >= 1 && a.healthy() && b.healthy(), 'recovered');
  await a.publish('room.2', 'after');
  await until(() => got.includes('after'), 'delivery after the outage');
  assert.ok(!got.includes('lost'));
});

/**
 * A layer of its own reaching Redis through a proxy whose `lag` holds what it sends, healthy before `body`; the
 * recoveries it reports are counted. Both are closed after.
 */
async function withSlowLayer(body: (p: { slow: RedisLayer; proxy: CuttableProxy; recovered: () => number }) => Promise<void>): Promise<void> {
  const proxy = await CuttableProxy.create(redis.port);
  const slow = new RedisLayer(proxy.url, log);
  try {
    await until(() => slow.healthy(), 'healthy through the proxy');
    let recovered = 0;
    slow.onRecovered(() => recovered++);
    await body({ slow, proxy, recovered: () => recovered });
  } finally {
    await slow.close();
    await proxy.close();
  }
}

test('a SUBSCRIBE Redis confirms only after the wait counts as a loss: once confirmed, one recovery for all of them', async () => {
  await withSlowLayer(async ({ slow, proxy, recovered }) => {
    const got: string[] = [];
    // Redis takes the SUBSCRIBEs half a second after `subscribe` stopped waiting for them.
    proxy.lag(REDIS_SUBSCRIBE_WAIT_MS + 500);
    await Promise.all(['room.late.1', 'room.late.2', 'room.late.3'].map((g) => slow.subscribe(g, (p) => got.push(`${g}:${p}`))));
    assert.equal(slow.lateSubscriptions, 3, 'the caller takes them for live; Redis has not taken them yet');
    // Published before Redis takes the SUBSCRIBE: this instance never hears it, so only a re-read can heal it.
    await b.publish('room.late.1', 'missed');
    assert.equal(recovered(), 0);
    await until(() => recovered() > 0, 'recovery once Redis confirmed');
    assert.equal(slow.lateSubscriptions, 0);
    proxy.lag(0);
    // The recovery came once the subscriptions were live, so a store read made in it misses nothing after it.
    await b.publish('room.late.2', 'live');
    await until(() => got.includes('room.late.2:live'), 'live delivery after the late confirmation');
    assert.ok(!got.includes('room.late.1:missed'));
    assert.equal(recovered(), 1, 'one recovery for the three late subscriptions');
  });
});

test('late SUBSCRIBEs that keep coming do not put the recovery off: it runs REDIS_SUBSCRIBE_WAIT_MS after the first is confirmed', async () => {
  await withSlowLayer(async ({ slow, proxy, recovered }) => {
    // The first SUBSCRIBE reaches Redis 1.5 s after it is sent, the second (sent just after) 3 s after.
    proxy.lag(REDIS_SUBSCRIBE_WAIT_MS + 500);
    const first = slow.subscribe('room.storm.1', () => {});
    await new Promise((r) => setTimeout(r, 50));
    proxy.lag(REDIS_SUBSCRIBE_WAIT_MS + 2000);
    const second = slow.subscribe('room.storm.2', () => {});
    await Promise.all([first, second]);
    assert.equal(slow.lateSubscriptions, 2);
    await until(() => recovered() === 1, 'one recovery while the second is still late');
    assert.equal(slow.lateSubscriptions, 1, 'the second was still unconfirmed at that recovery');
    await until(() => recovered() === 2, 'another once the second is confirmed');
    assert.equal(slow.lateSubscriptions, 0);
    proxy.lag(0);
  });
});
