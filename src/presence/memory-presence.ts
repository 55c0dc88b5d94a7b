/** Presence for a single instance: a map in process memory; nothing can go stale. */
import { combine, type InstanceState, type PresenceBackend, type PresenceState } from './presence-backend.js';

export class MemoryPresence implements PresenceBackend {
  private readonly users = new Map<number, InstanceState>();

  async set(userId: number, state: InstanceState | null): Promise<void> {
    if (state === null) this.users.delete(userId);
    else this.users.set(userId, state);
  }

  async states(userIds: number[]): Promise<Map<number, PresenceState>> {
    const s = this.users;
    return new Map(userIds.map((id) => [id, combine(s.has(id) ? [s.get(id)!] : [])]));
  }

  onStale(_listener: (userIds: number[]) => void): void {}

  async close(): Promise<void> {
    this.users.clear();
  }
}
