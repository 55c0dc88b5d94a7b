/** The HTTP API the client uses (docs/protocol.md, "HTTP API used by the client"). */
import type { Room } from './protocol.js';

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

/** `GET /api/rooms`. */
export async function fetchRooms(): Promise<Room[]> {
  const json = (await request('/api/rooms', { method: 'GET' })) as { rooms: Room[] };
  return json.rooms;
}

/** `POST /api/rooms`; throws ApiError with the server's message on 400 / 409. */
export async function createRoom(name: string): Promise<Room> {
  const json = (await request('/api/rooms', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  })) as { room: Room };
  return json.room;
}

async function request(path: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection.');
  }
  const json: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(res.status, error?.code ?? 'http_error', error?.message ?? `Request failed (${res.status})`);
  }
  return json;
}
