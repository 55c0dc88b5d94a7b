/**
 * Revocations (a sign-out, a revoked token, a password change) and removals from rooms reach the other
 * instances as events on the channel layer; each instance then closes the sockets or drops the rooms they
 * concern. When the layer itself is away, every instance notices and, once it is back, checks all its
 * connections again (Gateway.recheckAll). But a publish can also fail on one instance alone, its own connection
 * to Redis down while the others' are fine: they never see an outage, so without more the revoked session's
 * sockets elsewhere would stay open and the removed member's feeds go on, for as long as the sockets live.
 *
 * So an instance whose publish of such an event failed owes every instance a recheck: it publishes one
 * message on RECHECK_GROUP, retrying every RECHECK_RETRY_MS until it gets through, and every instance that
 * hears it (itself included) checks each signed-in connection's credential and rooms against the store. One
 * flag however many events failed, and no event kept: the store is the truth and the recheck reads it, so a
 * late or repeated recheck cannot undo a later change (as re-sending the old events could: a member removed,
 * then added again).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ChannelLayer, LayerHandler } from '../layer/layer.js';

/** Layer group every instance listens to for "an event taking access away was lost: check again". */
export const RECHECK_GROUP = 'access.recheck';
/** Pause between attempts to publish an owed recheck while the layer refuses it. */
export const RECHECK_RETRY_MS = 1_000;
/** How often `settled` looks whether the debt is paid. */
const SETTLED_POLL_MS = 50;

/** Asks every instance for a recheck when this one lost an event taking access away (see above). */
export class AccessRechecks {
  private owed = false;
  /** A publish of the recheck is on its way (the debt is settled only once it got through). */
  private publishing = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Why the recheck owed was asked for (logged once it is published). */
  private why = '';

  constructor(
    private readonly layer: ChannelLayer,
    private readonly log?: Logger,
  ) {}

  /**
   * An event that takes access away could not be published (or, `why` says, was made where no event could
   * reach this instance): every instance must check its connections.
   */
  missed(why = 'an event taking access away was lost'): void {
    this.owed = true;
    this.why = why;
    this.schedule(0);
  }

  /** Whether a recheck is owed and not yet published. */
  get pending(): boolean {
    return this.owed || this.publishing;
  }

  /** Resolves once nothing is owed (published, or nothing lost), or after `withinMs` (a process about to exit). */
  async settled(withinMs: number): Promise<void> {
    for (const until = Date.now() + withinMs; this.pending && Date.now() < until; ) await sleep(SETTLED_POLL_MS);
  }

  /** Calls `listener` each time some instance asks for a recheck; resolves, once listening, to the stop function. */
  async watch(listener: () => void): Promise<() => Promise<void>> {
    const handler: LayerHandler = () => listener();
    await this.layer.subscribe(RECHECK_GROUP, handler);
    return () => this.layer.unsubscribe(RECHECK_GROUP, handler);
  }

  /** Stops retrying; a recheck still owed gets one last attempt, and a warning if that fails too. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.owed) return;
    this.owed = false;
    await this.layer.publish(RECHECK_GROUP, '{}').catch((err: unknown) => {
      this.log?.warn({ err }, 'stopping with a recheck owed to the other instances: an event taking access away may not reach them');
    });
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => void this.publish(), delayMs);
    this.timer.unref();
  }

  private async publish(): Promise<void> {
    this.timer = undefined;
    if (!this.owed) return;
    // Cleared before the attempt: an event missed while it is in flight owes another one after it.
    this.owed = false;
    this.publishing = true;
    try {
      await this.layer.publish(RECHECK_GROUP, '{}');
      this.log?.info(`asked every instance to check its connections again (${this.why})`);
    } catch (err) {
      this.owed = true;
      this.log?.warn({ err }, `could not ask the instances to check their connections; retrying in ${RECHECK_RETRY_MS} ms`);
      this.schedule(RECHECK_RETRY_MS);
    } finally {
      this.publishing = false;
    }
  }
}
