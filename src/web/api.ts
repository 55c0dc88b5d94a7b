/**
 * The HTTP API the client uses (docs/api.md). The session cookie travels by itself (same origin), and the
 * browser adds the `Origin` header the server checks on every change.
 */
import type { ApiToken, Me, NotifyLevel, Room, User } from './protocol.js';
import type { SearchPage } from './search-results.js';

/** An API answer that was not a success, with the server's human message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** `GET /api/me`: the signed-in user, or null when signed out (401). */
export async function fetchMe(): Promise<Me | null> {
  try {
    return ((await get('/api/me')) as { user: Me }).user;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

/** `POST /api/auth/signup`. */
export async function signUp(username: string, password: string, displayName: string): Promise<Me> {
  const body: Record<string, string> = { username, password };
  if (displayName !== '') body.displayName = displayName;
  return ((await post('/api/auth/signup', body)) as { user: Me }).user;
}

/** `POST /api/auth/signin`. */
export async function signIn(username: string, password: string): Promise<Me> {
  return ((await post('/api/auth/signin', { username, password })) as { user: Me }).user;
}

/** `POST /api/auth/signout` (this session) or `/api/auth/signout-all` (every session of the user). */
export async function signOut(everywhere: boolean): Promise<void> {
  await post(everywhere ? '/api/auth/signout-all' : '/api/auth/signout');
}

/** `POST /api/auth/password`. */
export async function changePassword(currentPassword: string, newPassword: string): Promise<void> {
  await post('/api/auth/password', { currentPassword, newPassword });
}

/** `GET /api/tokens`. */
export async function fetchTokens(): Promise<ApiToken[]> {
  return ((await get('/api/tokens')) as { tokens: ApiToken[] }).tokens;
}

/** `POST /api/tokens`: the new token and its secret (shown once). */
export async function createToken(name: string): Promise<{ token: ApiToken; secret: string }> {
  return (await post('/api/tokens', { name })) as { token: ApiToken; secret: string };
}

/** `DELETE /api/tokens/:id`. */
export async function revokeToken(id: number): Promise<void> {
  await request(`/api/tokens/${id}`, { method: 'DELETE' });
}

/** `GET /api/users?q=`: people whose username or display name matches. */
export async function searchUsers(q: string): Promise<User[]> {
  return ((await get(`/api/users?q=${encodeURIComponent(q)}`)) as { users: User[] }).users;
}

/** `GET /api/rooms`: the sidebar's rooms and conversations. */
export async function fetchRooms(): Promise<Room[]> {
  return ((await get('/api/rooms')) as { rooms: Room[] }).rooms;
}

/** `GET /api/rooms/public`: public rooms to browse. */
export async function fetchPublicRooms(): Promise<Room[]> {
  return ((await get('/api/rooms/public')) as { rooms: Room[] }).rooms;
}

/** `POST /api/rooms`; throws ApiError with the server's message on 400 / 409. */
export async function createRoom(name: string, isPrivate: boolean): Promise<Room> {
  return ((await post('/api/rooms', { name, private: isPrivate })) as { room: Room }).room;
}

/** `POST /api/rooms/:id/join`. */
export async function joinRoom(id: number): Promise<Room> {
  return ((await post(`/api/rooms/${id}/join`)) as { room: Room }).room;
}

/** `POST /api/rooms/:id/leave`. */
export async function leaveRoom(id: number): Promise<void> {
  await post(`/api/rooms/${id}/leave`);
}

/** `GET /api/rooms/:id/members`. */
export async function fetchMembers(id: number): Promise<User[]> {
  return ((await get(`/api/rooms/${id}/members`)) as { members: User[] }).members;
}

/** `POST /api/rooms/:id/members`: invites a user by username. */
export async function inviteMember(id: number, username: string): Promise<void> {
  await post(`/api/rooms/${id}/members`, { username });
}

/** `DELETE /api/rooms/:id/members/:userId`. */
export async function removeMember(id: number, userId: number): Promise<void> {
  await request(`/api/rooms/${id}/members/${userId}`, { method: 'DELETE' });
}

/** `POST /api/rooms/:id/owner`: hands the room over. */
export async function transferOwnership(id: number, userId: number): Promise<Room> {
  return ((await post(`/api/rooms/${id}/owner`, { userId })) as { room: Room }).room;
}

/** `POST /api/direct`: the one conversation of me and these people (created on first use). */
export async function openDirect(usernames: string[]): Promise<Room> {
  return ((await post('/api/direct', { usernames })) as { room: Room }).room;
}

/** `PUT /api/rooms/:id/notify`: when this room notifies me. */
export async function setNotifyLevel(id: number, level: NotifyLevel): Promise<void> {
  await put(`/api/rooms/${id}/notify`, { level });
}

/** `PUT /api/me/settings`. */
export async function updateSettings(settings: { privateReceipts?: boolean }): Promise<Me> {
  return ((await put('/api/me/settings', settings)) as { user: Me }).user;
}

/** `GET /api/search`: one page of the messages matching the query (docs/api.md, "Search"). */
export async function searchMessages(params: URLSearchParams): Promise<SearchPage> {
  return (await get(`/api/search?${params.toString()}`)) as SearchPage;
}

function put(path: string, body: unknown): Promise<unknown> {
  return request(path, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function get(path: string): Promise<unknown> {
  return request(path, { method: 'GET' });
}

function post(path: string, body: unknown = {}): Promise<unknown> {
  return request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function request(path: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection.');
  }
  if (res.status === 204) return null;
  const json: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(res.status, error?.code ?? 'http_error', error?.message ?? `Request failed (${res.status})`);
  }
  return json;
}
