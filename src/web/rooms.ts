/** How rooms and conversations are named and addressed in the client. */
import type { Room } from './protocol.js';

/** The name a room is shown under: `#name` for rooms, the other people's names for direct conversations. */
export function roomLabel(room: Room, meId: number): string {
  if (room.kind !== 'direct') return room.name;
  const others = (room.members ?? []).filter((m) => m.id !== meId).map((m) => m.displayName);
  if (others.length === 0) return 'Just you';
  return others.sort((a, b) => a.localeCompare(b)).join(', ');
}

/** The title of a room's page: `#name` or the conversation's label. */
export function roomTitle(room: Room, meId: number): string {
  return room.kind === 'direct' ? roomLabel(room, meId) : `#${room.name}`;
}

/** The address of a room's page (direct conversations too, by their hidden `@…` name). */
export function roomPath(name: string): string {
  return `/chat/${encodeURIComponent(name)}/`;
}
