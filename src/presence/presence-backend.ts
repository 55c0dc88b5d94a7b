/**
 * Where presence is kept: which users have a connection on which instance, and whether it is active. One
 * interface, an in-memory implementation for a single instance and a Redis one for several, chosen like the
 * channel layer from REDIS_URL. Presence lives in its own folder rather than in layer/ because it is state
 * (a read-modify-expire map), not publish/subscribe; changes still travel on the layer's `presence` group.
 */

/** One instance's summary of a user's connections there: any active, or all away. */
export type InstanceState = 'active' | 'away';

/** A user's presence over every instance. */
export type PresenceState = 'online' | 'away' | 'offline';

export interface PresenceBackend {
  /** Records this instance's state for the user; null: the user has no connection here any more. */
  set(userId: number, state: InstanceState | null): Promise<void>;
  /** Each user's state over every live instance (a user not found is offline). */
  states(userIds: number[]): Promise<Map<number, PresenceState>>;
  /**
   * Registers a listener told about users whose state changed without anything happening here: another
   * instance stopped refreshing (it died), so its connections no longer count.
   */
  onStale(listener: (userIds: number[]) => void): void;
  close(): Promise<void>;
}

/** The state over several instances' states: online if any is active, away if all are away, else offline. */
export function combine(states: Iterable<InstanceState>): PresenceState {
  let seen = false;
  for (const s of states) {
    if (s === 'active') return 'online';
    seen = true;
  }
  return seen ? 'away' : 'offline';
}
