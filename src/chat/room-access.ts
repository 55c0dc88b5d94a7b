/**
 * What the per-message paths (send, typing, reactions, edits, the first check of a subscribe) need to know
 * about access, without a store read per message (issue 7): which rooms exist and of what kind, and who is a
 * member of the private rooms and direct conversations. Everything else (history, downloads, search, member
 * lists, room management) checks membership in the store on every request.
 *
 * Room facts are cached for good: a room is never deleted, renamed or made another kind, so its id, name, kind
 * and creation time cannot go stale (its owner and last `seq` can, and are not in the facts).
 *
 * Memberships are cached only when true, and only while this instance is known to hear removals: every removal
 * (on any instance) publishes `{roomId, userId}` on MEMBERSHIP_GROUP and every instance drops that entry when it
 * hears it. "Known to hear" means the layer says it is healthy and this instance has heard its own probe on
 * the group since subscribing (a subscription the backend never confirmed proves nothing). When the layer
 * comes back after an outage (`onRecovered`), or a payload on the group cannot be read, the whole cache is
 * dropped. A membership that is added needs no event: "not a member" is never cached.
 *
 * The window this leaves: normally a send reaching another instance within the layer's delivery time of the
 * removal (about a millisecond with Redis) is accepted. If the removal's publish fails on this instance alone,
 * it asks every instance for a recheck (access-rechecks.ts), on which they drop the whole cache, as they do when
 * they hear one for any other reason. Until that gets through, or if a subscription dies before the layer
 * notices (REDIS_DEAF_AFTER_MS), other instances trust the entry until it expires: at most MEMBERSHIP_CACHE_MS
 * after it was read.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ChannelLayer } from '../layer/layer.js';
import type { RoomRecord, Store } from '../store/store.js';
import type { AccessRechecks } from './access-rechecks.js';

/** The parts of a room that never change once it exists. */
export type RoomFacts = Pick<RoomRecord, 'id' | 'name' | 'kind' | 'createdAt'>;

/** Layer group on which every instance hears of every membership removal. */
export const MEMBERSHIP_GROUP = 'membership.removed';
/** Longest a cached membership is trusted without being read again: the worst case of a removal gone unheard. */
export const MEMBERSHIP_CACHE_MS = 3_000;
/** Most rooms whose facts are kept (the oldest cached is dropped first). */
export const MAX_CACHED_ROOMS = 10_000;
/** Most memberships kept (the oldest cached is dropped first). */
export const MAX_CACHED_MEMBERSHIPS = 100_000;

/** What travels on MEMBERSHIP_GROUP: a removal, or an instance's probe of its own subscription. */
type MembershipEvent = { roomId: number; userId: number } | { probe: string };

const memberKey = (roomId: number, userId: number) => `${roomId}:${userId}`;
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

export class RoomAccess {
  private readonly rooms = new Map<number, RoomFacts>();
  /** `room:user` -> when the entry stops being trusted (this.now() time). */
  private readonly members = new Map<string, number>();
  /** Set once this instance heard its own probe on MEMBERSHIP_GROUP: removals reach it. */
  private listening = false;
  private listen: Promise<void> | null = null;
  private readonly probe = randomBytes(8).toString('hex');
  /** Removals (and resets) heard so far: a read that overlapped one is not cached (it may predate it). */
  private heard = 0;

  constructor(
    private readonly store: Store,
    private readonly layer: ChannelLayer,
    private readonly log: Logger,
    /** Heard: some instance lost an event taking access away, a removal maybe; told: this one lost a removal. */
    private readonly rechecks: AccessRechecks,
    /** A monotonic clock: a wall clock stepped back would stretch the entries' lives. */
    private readonly now: () => number = () => performance.now(),
  ) {
    layer.onRecovered(() => {
      this.reset();
      // A probe published while the layer was away never arrived: ask again.
      if (this.listen && !this.listening) this.send({ probe: this.probe }, 'could not probe the membership subscription');
    });
  }

  /** The room's facts, or null when there is no such room (not cached: a room may be made later). */
  async room(roomId: number): Promise<RoomFacts | null> {
    const cached = this.rooms.get(roomId);
    if (cached) return cached;
    const room = await this.store.getRoom(roomId);
    if (!room) return null;
    const facts: RoomFacts = { id: room.id, name: room.name, kind: room.kind, createdAt: room.createdAt };
    remember(this.rooms, roomId, facts, MAX_CACHED_ROOMS);
    return facts;
  }

  /** Whether the user is a member of the room: from the cache when it may be trusted, else from the store. */
  async isMember(roomId: number, userId: number): Promise<boolean> {
    const key = memberKey(roomId, userId);
    const trusted = this.trusted();
    if (trusted) {
      const until = this.members.get(key);
      if (until !== undefined && until > this.now()) return true;
    } else {
      this.startListening();
    }
    const since = this.now();
    const heard = this.heard;
    const member = await this.store.isMember(roomId, userId);
    // Trusted before and after the read, and nothing heard meanwhile: the answer cannot predate a removal.
    if (member && trusted && this.trusted() && this.heard === heard) {
      remember(this.members, key, since + MEMBERSHIP_CACHE_MS, MAX_CACHED_MEMBERSHIPS);
    }
    return member;
  }

  /** Called after the store removed a member: forgets it here at once and tells every other instance. */
  removed(roomId: number, userId: number): void {
    this.heard++;
    this.members.delete(memberKey(roomId, userId));
    this.send({ roomId, userId }, 'could not announce a membership removal; every instance will be asked to check again');
  }

  /** Whether the membership is cached now (tests). */
  holds(roomId: number, userId: number): boolean {
    return this.members.has(memberKey(roomId, userId));
  }

  private trusted(): boolean {
    return this.listening && this.layer.healthy();
  }

  private reset(): void {
    this.heard++;
    this.members.clear();
  }

  private startListening(): void {
    this.listen ??= Promise.all([
      this.layer.subscribe(MEMBERSHIP_GROUP, (payload) => this.hear(payload)),
      this.rechecks.watch(() => this.reset()),
    ]).then(
      () => this.send({ probe: this.probe }, 'could not probe the membership subscription'),
      (err: unknown) => {
        this.listen = null;
        this.log.warn({ err }, 'could not listen for membership removals; memberships are read every time');
      },
    );
  }

  private hear(payload: string): void {
    let event: unknown;
    try {
      event = JSON.parse(payload);
    } catch {
      event = null;
    }
    const e = event as Partial<{ roomId: unknown; userId: unknown; probe: unknown }> | null;
    if (e && typeof e.probe === 'string') {
      if (e.probe === this.probe) this.listening = true;
    } else if (e && isId(e.roomId) && isId(e.userId)) {
      this.heard++;
      this.members.delete(memberKey(e.roomId, e.userId));
    } else {
      // Some removal may be in it: trust nothing cached so far.
      this.log.warn({ payload: payload.slice(0, 200) }, 'unreadable membership event; membership cache dropped');
      this.reset();
    }
  }

  private send(event: MembershipEvent, failure: string): void {
    this.layer.publish(MEMBERSHIP_GROUP, JSON.stringify(event)).catch((err: unknown) => {
      this.log.warn({ err }, failure);
      if ('roomId' in event) this.rechecks.missed();
    });
  }
}

/** Sets a key as the newest of a bounded Map, dropping the oldest entry when full. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}
