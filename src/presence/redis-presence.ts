/**
 * Presence shared by several instances through Redis. Each instance writes, per user with a connection on it,
 * the field `<instanceId>` of the hash `confab:presence:<userId>` as `<state>:<expiresAtMs>`, and refreshes
 * every field it owns every third of PRESENCE_TTL_S. Readers ignore expired fields, so an instance that dies
 * stops counting within PRESENCE_TTL_S: a key-level TTL alone would not do, since another instance's refresh
 * of the same user's hash would keep a dead instance's field alive.
 *
 * Someone must also *say* that the dead instance's users changed: each instance registers itself in the
 * sorted set `confab:presence:instances` (score = expiry) with the set of its users; every refresh, each live
 * instance looks for expired instances, and the one whose ZREM wins clears their fields and reports their
 * users as stale, so their new state is published once.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { combine, type InstanceState, type PresenceBackend, type PresenceState } from './presence-backend.js';

/** Every key starts with this, as the channel layer's channels do. */
const PREFIX = 'confab:presence:';
const INSTANCES_KEY = `${PREFIX}instances`;
const userKey = (userId: number) => `${PREFIX}${userId}`;
const instanceUsersKey = (instanceId: string) => `${PREFIX}instance:${instanceId}`;
/** Keys outlive the fields' expiry by this factor, so garbage of dead instances disappears by itself. */
const KEY_TTL_FACTOR = 2;
/** Longest pause between reconnection attempts (as the channel layer). */
const MAX_RETRY_DELAY_MS = 2000;
/**
 * A presence command Redis has not answered in this long fails (presence is best effort and heals on the next
 * refresh): on a half-open path it would otherwise hang, with it a user's presence chain and a graceful stop.
 */
export const REDIS_PRESENCE_TIMEOUT_MS = 1000;

export class RedisPresence implements PresenceBackend {
  private readonly redis: Redis;
  private readonly instanceId = randomBytes(8).toString('hex');
  /** This instance's users and their state here, re-written on every refresh. */
  private readonly local = new Map<number, InstanceState>();
  private readonly staleListeners: Array<(userIds: number[]) => void> = [];
  private readonly timer: NodeJS.Timeout;
  private readonly ttlMs: number;

  constructor(
    url: string,
    ttlSeconds: number,
    private readonly log: Logger,
  ) {
    this.ttlMs = ttlSeconds * 1000;
    // Fail fast while Redis is away: presence is best effort and heals on the next refresh.
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: REDIS_PRESENCE_TIMEOUT_MS,
      retryStrategy: (times) => Math.min(times * 100, MAX_RETRY_DELAY_MS),
    });
    this.redis.on('error', (err: Error) => log.debug({ err }, 'redis presence error'));
    this.timer = setInterval(() => void this.refresh(), Math.max(1, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  async set(userId: number, state: InstanceState | null): Promise<void> {
    if (state === null) this.local.delete(userId);
    else this.local.set(userId, state);
    const m = this.redis.multi();
    if (state === null) {
      m.hdel(userKey(userId), this.instanceId).srem(instanceUsersKey(this.instanceId), String(userId));
    } else {
      this.write(m, userId, state, Date.now() + this.ttlMs);
    }
    await m.exec();
  }

  async states(userIds: number[]): Promise<Map<number, PresenceState>> {
    const result = new Map<number, PresenceState>();
    if (userIds.length === 0) return result;
    const p = this.redis.pipeline();
    for (const id of userIds) p.hgetall(userKey(id));
    const replies = (await p.exec()) ?? [];
    const now = Date.now();
    userIds.forEach((id, i) => {
      const fields = (replies[i]?.[1] ?? {}) as Record<string, string>;
      const live: InstanceState[] = [];
      for (const value of Object.values(fields)) {
        const [state, expires] = value.split(':');
        if (Number(expires) > now && (state === 'active' || state === 'away')) live.push(state);
      }
      result.set(id, combine(live));
    });
    return result;
  }

  onStale(listener: (userIds: number[]) => void): void {
    this.staleListeners.push(listener);
  }

  /** Graceful stop: this instance's fields go at once instead of expiring. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    try {
      const m = this.redis.multi();
      for (const userId of this.local.keys()) m.hdel(userKey(userId), this.instanceId);
      m.del(instanceUsersKey(this.instanceId)).zrem(INSTANCES_KEY, this.instanceId);
      await m.exec();
    } catch (err) {
      this.log.debug({ err }, 'could not clear presence on stop; it expires by itself');
    }
    this.local.clear();
    this.redis.disconnect();
  }

  private write(m: ReturnType<Redis['multi']>, userId: number, state: InstanceState, expiresAt: number): void {
    const keyTtl = this.ttlMs * KEY_TTL_FACTOR;
    m.hset(userKey(userId), this.instanceId, `${state}:${expiresAt}`)
      .pexpire(userKey(userId), keyTtl)
      .sadd(instanceUsersKey(this.instanceId), String(userId))
      .pexpire(instanceUsersKey(this.instanceId), keyTtl)
      .zadd(INSTANCES_KEY, expiresAt, this.instanceId);
  }

  /** Renews every field this instance owns, then clears those of instances that stopped renewing. */
  private async refresh(): Promise<void> {
    try {
      const expiresAt = Date.now() + this.ttlMs;
      const m = this.redis.multi();
      for (const [userId, state] of this.local) this.write(m, userId, state, expiresAt);
      m.zadd(INSTANCES_KEY, expiresAt, this.instanceId);
      await m.exec();
      await this.sweep();
    } catch (err) {
      this.log.debug({ err }, 'presence refresh failed; retried on the next tick');
    }
  }

  private async sweep(): Promise<void> {
    const dead = await this.redis.zrangebyscore(INSTANCES_KEY, 0, Date.now());
    for (const id of dead) {
      if (id === this.instanceId) continue;
      // Several live instances sweep; only the one whose ZREM removes the entry reports the users.
      if ((await this.redis.zrem(INSTANCES_KEY, id)) !== 1) continue;
      const users = (await this.redis.smembers(instanceUsersKey(id))).map(Number);
      const m = this.redis.multi();
      for (const userId of users) m.hdel(userKey(userId), id);
      m.del(instanceUsersKey(id));
      await m.exec();
      this.log.info({ instance: id, users: users.length }, 'an instance stopped refreshing presence; its users no longer count');
      for (const l of this.staleListeners) l(users);
    }
  }
}
