/**
 * The Redis channel layer against a private redis-server: delivery between two instances' layers, failing
 * fast while Redis is away, subscriptions made during the outage, and the recovery signal afterwards.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { RedisLayer } from '../../src/layer/redis-layer.js';
import { PrivateRedis } from '../helpers/redis.js';

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
  const got: string[] = [];
  await b.subscribe('room.1', (p) => got.push(`b:${p}`));
  await a.subscribe('room.1', (p) => got.push(`a:${p}`));
  for (const p of ['x', 'y', 'z']) await a.publish('room.1', p);
  await until(() => got.length === 6, 'six deliveries');
  assert.deepEqual(got.filter((g) => g.startsWith('b:')), ['b:x', 'b:y', 'b:z']);
  assert.deepEqual(got.filter((g) => g.startsWith('a:')), ['a:x', 'a:y', 'a:z']);
  await until(() => a.healthy() && b.healthy(), 'healthy');
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
