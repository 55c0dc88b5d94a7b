/**
 * AccessRechecks over a memory layer whose publishes the test can make fail: one recheck published however many
 * events were lost, retried until it gets through, another after an event lost while one was on its way, and a
 * last attempt when stopping.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccessRechecks, RECHECK_GROUP, RECHECK_RETRY_MS } from '../../src/chat/access-rechecks.js';
import { MemoryLayer } from '../../src/layer/memory-layer.js';

/** Publishes fail while `down`; each attempt is counted, and `held` keeps the next one waiting until released. */
class FailingLayer extends MemoryLayer {
  down = false;
  attempts = 0;
  held: { release: () => void } | null = null;
  override async publish(group: string, payload: string): Promise<void> {
    this.attempts++;
    if (this.held) await new Promise<void>((resolve) => (this.held!.release = resolve));
    if (this.down) throw new Error('layer down');
    return super.publish(group, payload);
  }
}

const until = async (what: string, ok: () => boolean) => {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('several lost events owe one recheck, retried every RECHECK_RETRY_MS until it gets through', async () => {
  const layer = new FailingLayer();
  const rechecks = new AccessRechecks(layer);
  let heard = 0;
  const stop = await rechecks.watch(() => heard++);
  layer.down = true;
  rechecks.missed();
  rechecks.missed();
  rechecks.missed();
  await until('the first attempt', () => layer.attempts === 1);
  assert.ok(rechecks.pending);
  const failedAt = Date.now();
  layer.down = false;
  await until('the retry', () => heard === 1);
  assert.ok(Date.now() - failedAt >= RECHECK_RETRY_MS - 50, 'the retry waited its pause');
  assert.equal(layer.attempts, 2, 'one attempt per round, however many events were lost');
  assert.equal(rechecks.pending, false);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(heard, 1, 'nothing more once published');
  await stop();
  await rechecks.close();
});

test('an event lost while the recheck is on its way owes another after it', async () => {
  const layer = new FailingLayer();
  const rechecks = new AccessRechecks(layer);
  let heard = 0;
  const stop = await rechecks.watch(() => heard++);
  layer.held = { release: () => {} };
  rechecks.missed();
  await until('the first attempt', () => layer.attempts === 1);
  assert.ok(rechecks.pending, 'pending while the publish is on its way');
  rechecks.missed(); // this event was lost after the recheck on its way was decided
  const held = layer.held;
  layer.held = null;
  held.release();
  await until('both published', () => heard === 2);
  assert.equal(rechecks.pending, false);
  await stop();
  await rechecks.close();
});

test('stopping with a recheck owed makes one last attempt', async () => {
  const layer = new FailingLayer();
  const rechecks = new AccessRechecks(layer);
  const heard: string[] = [];
  await layer.subscribe(RECHECK_GROUP, (p) => heard.push(p));
  layer.down = true;
  rechecks.missed();
  await until('the first attempt', () => layer.attempts === 1);
  layer.down = false;
  await rechecks.close();
  await until('the last attempt heard', () => heard.length === 1);
  await new Promise((r) => setTimeout(r, RECHECK_RETRY_MS + 100));
  assert.equal(layer.attempts, 2, 'no retry after close');
});
