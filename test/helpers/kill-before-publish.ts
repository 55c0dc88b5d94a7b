/**
 * Test instrumentation for a Confab child process, loaded before it with `--import` (after tsx): SIGKILLs the
 * process at the exact point between a message's commit and its publish to the channel layer, with no hook in
 * production code. ChatService.send publishes a stored message to its room's group (`room.<id>`) right after
 * the store resolved the insert, and acknowledges it only after that. This module wraps
 * RedisLayer.prototype.publish; ES modules are singletons, so the layer Confab makes later uses the wrapped
 * method. The publish of the message whose clientMsgId is CONFAB_KILL_BEFORE_PUBLISHING kills the process before
 * anything reaches Redis; every other publish goes through untouched.
 */
import { RedisLayer } from '../../src/layer/redis-layer.js';
import type { MessageRecord } from '../../src/store/store.js';

const target = process.env.CONFAB_KILL_BEFORE_PUBLISHING;
if (target) {
  const publish = RedisLayer.prototype.publish;
  RedisLayer.prototype.publish = function (this: RedisLayer, group: string, payload: string): Promise<void> {
    if (group.startsWith('room.')) {
      const row = JSON.parse(payload) as MessageRecord;
      if (row.kind === 'message' && row.clientMsgId === target) {
        process.kill(process.pid, 'SIGKILL');
        // SIGKILL to oneself lands before the call returns; should it not, still publish nothing.
        return new Promise<void>(() => {});
      }
    }
    return publish.call(this, group, payload);
  };
}
