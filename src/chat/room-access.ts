/**
 * What the per-message path needs to know about access, without a store read per message (issue 7): which
 * rooms exist and of what kind, and who is a member of the private rooms and direct conversations.
 *
 * Room facts are cached for good: a room is never deleted, renamed or made another kind, so its id, name, kind
 * and creation time cannot go stale (its owner and last `seq` can, and are not in the facts).
 *
 * Memberships are cached only when true, and only while the channel layer is live, because they are taken
 * away: every removal (on any instance) publishes `{roomId, userId}` on MEMBERSHIP_GROUP and every instance
 * drops that entry when it hears it. While the layer is away removals may go unheard, so nothing is cached or
 * trusted, and when it comes back (`onRecovered`) the whole cache is dropped. MEMBERSHIP_CACHE_MS bounds how
 * long an entry lives even so, in case a publish is lost while the layer thinks itself healthy. A membership
 * that is added needs no event: "not a member" is never cached.
 *
 * What this leaves: a removal on another instance reaches this one after the layer's delivery time (about a
 * millisecond with Redis), and a send accepted in that window is stored.
 */
import type { Logger } from 'pino';
import type { ChannelLayer } from '../layer/layer.js';
import type { RoomRecord, Store } from '../store/store.js';

/** The parts of a room that never change once it exists. */
export type RoomFacts = Pick<RoomRecord, 'id' | 'name' | 'kind' | 'createdAt'>;

/** Layer group on which every instance hears of every membership removal. */
export const MEMBERSHIP_GROUP = 'membership.removed';
/** Longest a cached membership is trusted without being read again (a safety net for a lost event). */
export const MEMBERSHIP_CACHE_MS = 5_000;
/** Most rooms whose facts are kept (the oldest cached is dropped first). */
export const MAX_CACHED_ROOMS = 10_000;
/** Most memberships kept (the oldest cached is dropped first). */
export const MAX_CACHED_MEMBERSHIPS = 100_000;

interface Removal {
  roomId: number;
  userId: number;
}

const memberKey = (roomId: number, userId: number) => `${roomId}:${userId}`;

export class RoomAccess {
  private readonly rooms = new Map<number, RoomFacts>();
  /** `room:user` -> when the entry stops being trusted. */
  private readonly members = new Map<string, number>();
  /** Whether this instance hears removals; until then memberships are read every time. */
  private listening = false;
  private listen: Promise<void> | null = null;
  /** Removals heard so far: a read that overlapped one is not cached (it may predate the removal). */
  private heard = 0;

  constructor(
    private readonly store: Store,
    private readonly layer: ChannelLayer,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    layer.onRecovered(() => {
      this.heard++;
      this.members.clear();
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
    // Trusted before and after the read, and no removal heard meanwhile: the answer cannot predate one.
    if (member && trusted && this.trusted() && this.heard === heard) remember(this.members, key, since + MEMBERSHIP_CACHE_MS, MAX_CACHED_MEMBERSHIPS);
    return member;
  }

  /** Called after the store removed a member: forgets it here at once and tells every other instance. */
  removed(roomId: number, userId: number): void {
    this.heard++;
    this.members.delete(memberKey(roomId, userId));
    const removal: Removal = { roomId, userId };
    this.layer.publish(MEMBERSHIP_GROUP, JSON.stringify(removal)).catch((err: unknown) => {
      // Unheard elsewhere: those instances still drop the entry within MEMBERSHIP_CACHE_MS.
      this.log.warn({ err, roomId, userId }, 'could not announce a membership removal');
    });
  }

  /** Whether the membership is cached now (tests). */
  holds(roomId: number, userId: number): boolean {
    return this.members.has(memberKey(roomId, userId));
  }

  private trusted(): boolean {
    return this.listening && this.layer.healthy();
  }

  private startListening(): void {
    this.listen ??= this.layer
      .subscribe(MEMBERSHIP_GROUP, (payload) => {
        const r = JSON.parse(payload) as Removal;
        this.heard++;
        this.members.delete(memberKey(r.roomId, r.userId));
      })
      .then(
        () => {
          this.listening = true;
        },
        (err: unknown) => {
          this.listen = null;
          this.log.warn({ err }, 'could not listen for membership removals; memberships are read every time');
        },
      );
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
