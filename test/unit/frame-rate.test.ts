/** FrameRate on a hand-driven clock: a full bucket, refusals with the wait until the next token, refill. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameRate } from '../../src/ws/frame-rate.js';

test('a burst is admitted, then each refusal says how long until the next token, which refills at the rate', () => {
  let now = 0;
  const r = new FrameRate(10, 20, () => now);
  for (let i = 0; i < 20; i++) assert.equal(r.take(), 0, `frame ${i} of the burst`);
  assert.equal(r.take(), 100, 'one token every 100 ms at 10 a second');
  now += 50;
  assert.equal(r.take(), 50);
  now += 50;
  assert.equal(r.take(), 0, 'refilled');
  assert.ok(r.take() > 0);
  now += 10_000;
  for (let i = 0; i < 20; i++) assert.equal(r.take(), 0, 'refilled up to the burst, not beyond');
  assert.ok(r.take() > 0);
});
