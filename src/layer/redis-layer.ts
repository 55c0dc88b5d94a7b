/**
 * The Redis ChannelLayer (REDIS_URL): pub/sub between instances. One connection publishes, one subscribes;
 * both reconnect by themselves. The subscriber also hears its own heartbeat every second: when none arrives
 * for REDIS_DEAF_AFTER_MS the subscription is presumed silently dead (a half-open connection, a proxy that
 * stopped forwarding), the layer reports itself unhealthy (so /readyz fails) and reconnects. When heartbeats
 * flow again, `onRecovered` listeners run so receivers re-read from the store what the outage swallowed. They run
 * too once Redis confirms a SUBSCRIBE that `subscribe` gave up waiting for (see `confirmation`).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ChannelLayer, LayerHandler } from './layer.js';

/** How often each instance publishes its heartbeat through Redis. */
export const REDIS_HEARTBEAT_INTERVAL_MS = 1000;
/** Silence on the subscription after which it is presumed dead and re-established. */
export const REDIS_DEAF_AFTER_MS = 3500;
/** How long `subscribe` and `unsubscribe` wait for Redis to confirm before going on (the change completes later). */
export const REDIS_SUBSCRIBE_WAIT_MS = 1000;
/**
 * A publish Redis has not answered within this long fails: on a half-open path it would otherwise hang until
 * TCP gives up, and the caller could not tell that its event (a revocation, say) never left.
 */
export const REDIS_PUBLISH_TIMEOUT_MS = 1000;
/** Longest pause between reconnection attempts. */
export const REDIS_MAX_RETRY_DELAY_MS = 2000;
/** Every channel Confab uses starts with this, so a shared Redis can hold other things. */
const PREFIX = 'confab:';

const retryStrategy = (times: number) => Math.min(times * 100, REDIS_MAX_RETRY_DELAY_MS);

export class RedisLayer implements ChannelLayer {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly groups = new Map<string, Set<LayerHandler>>();
  private readonly heartbeatChannel = `${PREFIX}heartbeat:${randomBytes(8).toString('hex')}`;
  private readonly recoveredListeners: Array<() => void> = [];
  private readonly timer: NodeJS.Timeout;
  private lastBeat = Date.now();
  /** Set when delivery may have been lost; cleared (and listeners told) by the next heartbeat. */
  private lost = false;
  /**
   * SUBSCRIBEs that `subscribe` stopped waiting for and Redis has not confirmed yet: messages published to
   * those groups meanwhile never reached this instance, so once they are confirmed the recovery listeners run
   * and receivers re-read from the store (see lateConfirmed).
   */
  private lateSubscribes = 0;
  /** Some late SUBSCRIBE was confirmed and no recovery has run since. */
  private lateUnhealed = false;
  private lateTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    url: string,
    private readonly log: Logger,
  ) {
    // Publishing must fail fast while Redis is away (the message is stored; receivers heal later) instead of
    // queueing unboundedly; the subscriber queues its SUBSCRIBE commands until it is back.
    this.pub = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: REDIS_PUBLISH_TIMEOUT_MS,
      retryStrategy,
      lazyConnect: false,
    });
    this.sub = new Redis(url, { autoResubscribe: true, maxRetriesPerRequest: null, retryStrategy });
    for (const [name, conn] of [['publisher', this.pub], ['subscriber', this.sub]] as const) {
      conn.on('error', (err: Error) => log.debug({ err, conn: name }, 'redis error'));
      conn.on('close', () => {
        if (!this.closed) this.markLost(`redis ${name} connection closed`);
      });
    }
    this.sub.on('message', (channel: string, payload: string) => this.onMessage(channel, payload));
    this.sub.subscribe(this.heartbeatChannel).catch(() => {});
    this.timer = setInterval(() => this.beat(), REDIS_HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
  }

  async subscribe(group: string, handler: LayerHandler): Promise<void> {
    let handlers = this.groups.get(group);
    if (!handlers) {
      this.groups.set(group, (handlers = new Set()));
      // While Redis is away, go on: autoResubscribe makes the subscription live on reconnect and the recovery
      // re-read covers what was published meanwhile.
      await this.confirmation(this.sub.subscribe(PREFIX + group), group, true);
    }
    handlers.add(handler);
  }

  async unsubscribe(group: string, handler: LayerHandler): Promise<void> {
    const handlers = this.groups.get(group);
    if (!handlers) return;
    handlers.delete(handler);
    if (handlers.size > 0) return;
    this.groups.delete(group);
    // Not waited for while Redis is away either (a graceful stop during an outage would never end); until it
    // takes effect, a message for the group finds no handler and is dropped.
    await this.confirmation(this.sub.unsubscribe(PREFIX + group), group, false);
  }

  /**
   * Waits for Redis to confirm a SUBSCRIBE or UNSUBSCRIBE, at most REDIS_SUBSCRIBE_WAIT_MS: while Redis is away
   * (or slow) the command waits in the subscriber's queue (it is sent on reconnect) and the caller goes on.
   * The caller then takes the group for live, and what is published to it before Redis takes the SUBSCRIBE is
   * lost to this instance: a late SUBSCRIBE counts as a loss, healed by a recovery once it is confirmed.
   */
  private async confirmation(command: Promise<unknown>, group: string, subscribing: boolean): Promise<void> {
    const done = command.then(
      () => {},
      (err: unknown) => {
        if (this.closed) return;
        // Refused (not merely queued: that waits): autoResubscribe repeats only what Redis accepted, so the
        // group stays deaf here. Said loudly, and counted as a loss.
        this.log.warn({ err, group }, 'redis refused a subscription change');
        if (subscribing) this.markLost('redis refused a subscription');
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), REDIS_SUBSCRIBE_WAIT_MS)));
    const late = await Promise.race([done.then(() => false), waited]);
    clearTimeout(timer);
    if (!late || !subscribing) return;
    this.lateSubscribes++;
    void done.then(() => this.lateConfirmed(group));
  }

  /**
   * One recovery for late SUBSCRIBEs: when the last one outstanding is confirmed, or REDIS_SUBSCRIBE_WAIT_MS after
   * the first one confirmed if others stay late meanwhile (a connect storm on a slow Redis must not put it off
   * for as long as the storm lasts). Each recovery re-reads every feed and checks every connection, so they are
   * not run one per group.
   */
  private lateConfirmed(group: string): void {
    this.lateSubscribes--;
    if (this.closed) return;
    this.lateUnhealed = true;
    if (this.lateSubscribes === 0) return this.healLate(group);
    this.lateTimer ??= setTimeout(() => this.healLate(group), REDIS_SUBSCRIBE_WAIT_MS);
    this.lateTimer.unref();
  }

  private healLate(group: string): void {
    clearTimeout(this.lateTimer);
    this.lateTimer = undefined;
    if (!this.lateUnhealed || this.closed) return;
    this.lateUnhealed = false;
    // While delivery is lost anyway, the heartbeat's recovery comes once it is back, after these are live.
    if (this.lost) return;
    this.log.info({ group }, 'redis confirmed subscriptions late; re-reading what they may have missed');
    this.recovered();
  }

  /** SUBSCRIBEs given up waiting for that Redis has not confirmed yet (tests). */
  get lateSubscriptions(): number {
    return this.lateSubscribes;
  }

  async publish(group: string, payload: string): Promise<void> {
    await this.pub.publish(PREFIX + group, payload);
  }

  healthy(): boolean {
    return !this.lost && this.pub.status === 'ready' && this.sub.status === 'ready';
  }

  onRecovered(listener: () => void): void {
    this.recoveredListeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.lateTimer);
    this.groups.clear();
    this.pub.disconnect();
    this.sub.disconnect();
  }

  private onMessage(channel: string, payload: string): void {
    if (channel === this.heartbeatChannel) {
      this.lastBeat = Date.now();
      if (this.lost) {
        this.lost = false;
        this.log.info('redis channel layer recovered; re-reading what the outage may have swallowed');
        this.recovered();
      }
      return;
    }
    const handlers = this.groups.get(channel.slice(PREFIX.length));
    if (!handlers) return;
    for (const handler of [...handlers]) {
      try {
        handler(payload);
      } catch (err) {
        this.log.error({ err, channel }, 'channel layer handler failed');
      }
    }
  }

  private beat(): void {
    this.pub.publish(this.heartbeatChannel, String(Date.now())).catch(() => {});
    if (Date.now() - this.lastBeat > REDIS_DEAF_AFTER_MS && this.sub.status === 'ready') {
      // Connected as far as the socket knows, yet nothing comes through: re-establish the subscription.
      this.markLost('redis subscription went deaf');
      this.lastBeat = Date.now();
      this.sub.disconnect(true);
    }
  }

  private recovered(): void {
    for (const l of this.recoveredListeners) {
      try {
        l();
      } catch (err) {
        this.log.error({ err }, 'recovery listener failed');
      }
    }
  }

  private markLost(reason: string): void {
    if (!this.lost) this.log.warn({ reason }, 'redis channel layer lost; live delivery paused, the store keeps everything');
    this.lost = true;
  }
}
