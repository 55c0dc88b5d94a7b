/**
 * Events addressed to one user on every instance (layer group `user.<id>`): sessions revoked, rooms added to
 * or removed from their sidebar. The gateway acts on them for every open connection of that user.
 */
import type { RoomRecord } from '../store/store.js';

export type UserEvent =
  | { t: 'revoke'; sessionIds: number[] }
  | { t: 'revoke_token'; tokenId: number }
  | { t: 'room_added'; room: RoomRecord }
  | { t: 'room_removed'; roomId: number };

/** Layer group of one user's events. */
export const userGroup = (userId: number) => `user.${userId}`;
