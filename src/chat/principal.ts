/** Who is behind a request or a connection, as the domain sees it. */
import type { UserRecord } from '../store/store.js';

export interface Principal {
  /** The account; null for a guest of the original endpoint (ALLOW_GUESTS). */
  userId: number | null;
  username: string;
  displayName: string;
  isAdmin: boolean;
  /** The session this principal signed in with (cookie or bearer session token), if any. */
  sessionId: number | null;
  /** The personal API token used, if any. */
  tokenId: number | null;
}

/** A principal for a signed-in user. */
export function userPrincipal(
  user: UserRecord,
  via: { sessionId?: number | null; tokenId?: number | null },
): Principal {
  return {
    userId: user.id,
    username: user.username,
    displayName: user.displayName,
    isAdmin: user.isAdmin,
    sessionId: via.sessionId ?? null,
    tokenId: via.tokenId ?? null,
  };
}

/** A labelled guest (original endpoint with ALLOW_GUESTS=true): public rooms only. */
export function guestPrincipal(name: string): Principal {
  return { userId: null, username: name, displayName: name, isAdmin: false, sessionId: null, tokenId: null };
}

/** The public view of a user, as the API and frames show it. */
export interface UserView {
  id: number;
  username: string;
  displayName: string;
}

export const userView = (u: { id: number; username: string; displayName: string }): UserView => ({
  id: u.id,
  username: u.username,
  displayName: u.displayName,
});
