/**
 * Presence: online while any connection of a user on any instance is open and at least one is active; away
 * when all are away; offline otherwise, with `lastSeen` = when the last one closed. This service keeps this
 * instance's connections, writes their summary to the backend (memory or Redis), records `last_seen_at` when
 * a user's last connection here closes, and publishes each change on the layer group `presence`.
 * Work for one user runs in order (a chain per user), so a quick close-then-open cannot publish out of order.
 */
import type { Logger } from 'pino';
import type { ChannelLayer, LayerHandler } from '../layer/layer.js';
import { combine, type InstanceState, type PresenceBackend, type PresenceState } from '../presence/presence-backend.js';
import type { PeerRecord, Store } from '../store/store.js';

/** Layer group carrying every presence change to every instance. */
const PRESENCE_GROUP = 'presence';
/** Most users in the presence snapshot sent after `hello` (people sharing a room with the user). */
export const MAX_PRESENCE_PEERS = 500;
/**
 * A user's presence is written and announced at most once in this window (checklist #23): a tab toggling
 * away/active in a loop, or a client connecting and disconnecting in a loop, costs one backend write, one
 * `last_seen` update and one relay to the user's peers per window; the last state of the window wins.
 */
export const PRESENCE_MIN_INTERVAL_MS = 1000;
/**
 * One read of a room's first members serves every member's peers for this long (from when the read settles): a
 * reconnect storm in a room of 5,000 reads the room once a second, not 5,000 times (each read was 500 rows: most of
 * a connection's cost). The list of a user's rooms is kept as long, so a membership change, or a `lastSeen`,
 * reaches who hears of a user's presence at most this late.
 */
export const PEERS_CACHE_MS = 1000;

/**
 * The `limit` lowest-id distinct users among the pages (each by id), the reader left out: the user's peers, by id.
 */
export function mergePeers(userId: number, pages: PeerRecord[][], limit: number): PeerRecord[] {
  if (pages.length === 1) return pages[0]!.filter((p) => p.userId !== userId).slice(0, limit);
  const byId = new Map<number, PeerRecord>();
  for (const page of pages) for (const p of page) if (p.userId !== userId) byId.set(p.userId, p);
  return [...byId.values()].sort((a, b) => a.userId - b.userId).slice(0, limit);
}

/**
 * `cache`'s promise for `key`, or a new `read()` kept there for PEERS_CACHE_MS after it settles (a failed read is
 * dropped at once, so the next caller reads again).
 */
function remembered<T>(cache: Map<number, Promise<T>>, key: number, read: () => Promise<T>): Promise<T> {
  const cached = cache.get(key);
  if (cached) return cached;
  const reading = read();
  cache.set(key, reading);
  const forget = () => {
    if (cache.get(key) === reading) cache.delete(key);
  };
  reading.then(() => setTimeout(forget, PEERS_CACHE_MS).unref(), forget);
  return reading;
}

/** One user's presence as the `presence` frame shows it. */
export interface PresenceChange {
  id: number;
  state: PresenceState;
  /** Milliseconds since the epoch; null while online/away or when never seen. */
  lastSeen: number | null;
}

export class PresenceService {
  /** This instance's connections: user -> connection id -> the tab's state. */
  private readonly local = new Map<number, Map<string, InstanceState>>();
  /** What this instance last wrote to the backend per user. */
  private readonly written = new Map<number, InstanceState>();
  private readonly chains = new Map<number, Promise<void>>();
  /** When each user's presence was last synced here (kept one window after the user's last sync). */
  private readonly lastSync = new Map<number, number>();
  /** A trailing sync waiting for the end of the user's window. */
  private readonly trailing = new Map<number, NodeJS.Timeout>();
  /** Each user's rooms as read in the last PEERS_CACHE_MS (a user's tabs, a snapshot and an announcement: one read). */
  private readonly userRooms = new Map<number, Promise<number[]>>();
  /** Each room's first members (see `pagesOf`) as read in the last PEERS_CACHE_MS (or being read). */
  private readonly roomPages = new Map<number, Promise<PeerRecord[]>>();

  constructor(
    private readonly store: Store,
    private readonly backend: PresenceBackend,
    private readonly layer: ChannelLayer,
    private readonly log: Logger,
  ) {
    backend.onStale((userIds) => {
      // The dead instance could not record when its users left: now is the best bound there is.
      for (const id of userIds) this.serially(id, () => this.announce(id, true));
    });
  }

  /** A connection of the user opened (active until it says otherwise). */
  connected(userId: number, connectionId: string): void {
    let conns = this.local.get(userId);
    if (!conns) this.local.set(userId, (conns = new Map()));
    conns.set(connectionId, 'active');
    this.schedule(userId);
  }

  /** The tab of a connection became active or away. */
  changed(userId: number, connectionId: string, state: InstanceState): void {
    const conns = this.local.get(userId);
    if (!conns?.has(connectionId)) return;
    conns.set(connectionId, state);
    this.schedule(userId);
  }

  /** A connection closed. */
  disconnected(userId: number, connectionId: string): void {
    const conns = this.local.get(userId);
    if (!conns?.delete(connectionId)) return;
    if (conns.size === 0) this.local.delete(userId);
    this.schedule(userId);
  }

  /** The presence of everyone sharing a room with the user, for the snapshot after `hello`. */
  async snapshot(userId: number): Promise<PresenceChange[]> {
    const peers = await this.peersOf(userId);
    const states = await this.backend.states(peers.map((p) => p.userId));
    return peers.map((p) => {
      const state = states.get(p.userId) ?? 'offline';
      return { id: p.userId, state, lastSeen: state === 'offline' ? p.lastSeenAt : null };
    });
  }

  /**
   * Who hears about the user's presence: the people sharing a room with them (at most MAX_PRESENCE_PEERS, the
   * same people the snapshot after `hello` lists), and the user's own other tabs.
   */
  async audience(userId: number): Promise<number[]> {
    const peers = await this.peersOf(userId);
    return [userId, ...peers.map((p) => p.userId)];
  }

  /**
   * The user's peers, merged from their rooms' cached pages each time. Not the merge is cached but its two
   * inputs, each for PEERS_CACHE_MS: a cached merge made from a page near the end of its life would keep that page
   * for a second life (a removed member heard of for up to twice as long).
   */
  private async peersOf(userId: number): Promise<PeerRecord[]> {
    const roomIds = await remembered(this.userRooms, userId, () => this.store.memberRoomIds(userId));
    return mergePeers(userId, await Promise.all(this.pagesOf(roomIds)), MAX_PRESENCE_PEERS);
  }

  /**
   * Each room's first MAX_PRESENCE_PEERS + 1 members by id, one more than the limit so that each still offers
   * MAX_PRESENCE_PEERS once the reader is left out: the lowest MAX_PRESENCE_PEERS ids of a user's peers are
   * always among their rooms' pages. Rooms not cached are read in one store call.
   */
  private pagesOf(roomIds: number[]): Promise<PeerRecord[]>[] {
    const missing = roomIds.filter((id) => !this.roomPages.has(id));
    const batch = missing.length > 0 ? this.store.roomMemberPages(missing, MAX_PRESENCE_PEERS + 1) : null;
    return roomIds.map((id) => remembered(this.roomPages, id, async () => (await batch!).get(id) ?? []));
  }

  /** Calls `listener` with every presence change, from any instance. */
  async watch(listener: (change: PresenceChange) => void): Promise<() => Promise<void>> {
    const handler: LayerHandler = (payload) => listener(JSON.parse(payload) as PresenceChange);
    await this.layer.subscribe(PRESENCE_GROUP, handler);
    return () => this.layer.unsubscribe(PRESENCE_GROUP, handler);
  }

  /** Runs the syncs still waiting for their window, waits for pending work, then stops the backend. */
  async close(): Promise<void> {
    for (const [userId, timer] of this.trailing) {
      clearTimeout(timer);
      this.trailing.delete(userId);
      this.serially(userId, () => this.sync(userId));
    }
    await Promise.allSettled([...this.chains.values()]);
    await this.backend.close();
  }

  /** Syncs the user now, or at the end of their window when they were synced less than a window ago. */
  private schedule(userId: number): void {
    if (this.trailing.has(userId)) return; // the trailing sync reads the state as it is then
    const wait = (this.lastSync.get(userId) ?? -Infinity) + PRESENCE_MIN_INTERVAL_MS - Date.now();
    if (wait <= 0) return this.syncNow(userId);
    const timer = setTimeout(() => {
      this.trailing.delete(userId);
      this.syncNow(userId);
    }, wait);
    timer.unref();
    this.trailing.set(userId, timer);
  }

  private syncNow(userId: number): void {
    const at = Date.now();
    this.lastSync.set(userId, at);
    this.serially(userId, () => this.sync(userId));
    // Forget the window once it is over and nothing else was synced meanwhile (bounded by recent activity).
    setTimeout(() => {
      if (this.lastSync.get(userId) === at) this.lastSync.delete(userId);
    }, PRESENCE_MIN_INTERVAL_MS).unref();
  }

  private serially(userId: number, work: () => Promise<void>): void {
    const next = (this.chains.get(userId) ?? Promise.resolve())
      .then(work)
      .catch((err: unknown) => this.log.warn({ err, userId }, 'presence update failed'));
    this.chains.set(userId, next);
    void next.then(() => {
      if (this.chains.get(userId) === next) this.chains.delete(userId);
    });
  }

  /** Writes this instance's summary for the user when it changed, then publishes the user's new state. */
  private async sync(userId: number): Promise<void> {
    const conns = this.local.get(userId);
    const here = conns ? (combine(conns.values()) === 'online' ? 'active' : 'away') : null;
    if ((this.written.get(userId) ?? null) === here) return;
    if (here === null) this.written.delete(userId);
    else this.written.set(userId, here);
    await this.backend.set(userId, here);
    if (here === null) await this.store.setLastSeen(userId, Date.now());
    await this.announce(userId);
  }

  private async announce(userId: number, recordLastSeen = false): Promise<void> {
    const state = (await this.backend.states([userId])).get(userId) ?? 'offline';
    if (recordLastSeen && state === 'offline') await this.store.setLastSeen(userId, Date.now());
    const lastSeen = state === 'offline' ? ((await this.store.getUser(userId))?.lastSeenAt ?? null) : null;
    const change: PresenceChange = { id: userId, state, lastSeen };
    await this.layer.publish(PRESENCE_GROUP, JSON.stringify(change));
  }
}
