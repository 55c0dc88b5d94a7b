/**
 * Events addressed to one user on every instance (layer group `user.<id>`): sessions revoked, rooms added to
 * or removed from their sidebar, unread counts changed by their own reading. The gateway acts on them for every open connection of that user.
 */
import type { RoomRecord, UnreadRecord } from '../store/store.js';

export type UserEvent =
  | { t: 'revoke'; sessionIds: number[] }
  | { t: 'revoke_token'; tokenId: number }
  /**
   * The user's admin right was given or taken away: open connections hold the principal of their handshake, so
   * they are closed (1008 "permissions changed", which clients answer by reconnecting) to take it up afresh.
   */
  | { t: 'permissions' }
  | { t: 'room_added'; room: RoomRecord }
  | { t: 'room_removed'; roomId: number }
  /** The user's read cursor moved (from any tab, on any instance): their badges change everywhere. */
  | { t: 'unread'; rooms: UnreadRecord[] };

/** Layer group of one user's events. */
export const userGroup = (userId: number) => `user.${userId}`;
