/**
 * The admin tool (`npm run admin`) is a process of its own. With REDIS_URL it announces what it did on the
 * channel layer like any instance; without it (one instance, the in-process layer) nothing it publishes can
 * reach the running server, whose open sockets of a user whose password was just reset would stay open. So after
 * each change of access (a password reset, an admin right given or taken away) the tool also moves the store's
 * admin epoch, and an instance without a shared layer polls it: when it moved, every connection is checked again
 * (credential, admin right and rooms) and cached memberships are dropped, as after a lost announcement. Other
 * writers to the database (a backup or replication tool) leave the epoch alone and cause nothing.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';

/** How often such an instance reads the admin epoch: the longest the tool's change waits to reach its sockets. */
export const ADMIN_EPOCH_POLL_MS = 1_000;

/** Calls `onMoved` each time the admin epoch moved since the last read; returns the function that stops it. */
export function watchAdminEpoch(store: Store, onMoved: () => void, log: Logger): () => void {
  let last: number | null = null;
  let reading = false;
  let failing = false;
  const poll = async () => {
    if (reading) return; // a slow store: one read at a time
    reading = true;
    try {
      const epoch = await store.adminEpoch();
      if (last !== null && epoch !== last) onMoved();
      last = epoch;
      failing = false;
    } catch (err) {
      // Told once per failure run, not every second; the requests themselves report an unavailable store.
      if (!failing) log.warn({ err }, 'could not read the admin epoch; trying again');
      failing = true;
    } finally {
      reading = false;
    }
  };
  void poll();
  const timer = setInterval(() => void poll(), ADMIN_EPOCH_POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
