/**
 * The one error catalogue, used by HTTP and WebSocket alike (docs/protocol.md lists the same codes).
 * Each code has a stable name, a default human message and the HTTP status it maps to.
 */

/** Every error code Confab sends to a client. */
export const ERROR_CATALOGUE = {
  bad_json: { httpStatus: 400, message: 'Frame is not valid JSON' },
  bad_frame: { httpStatus: 400, message: 'Frame does not match the protocol' },
  unknown_type: { httpStatus: 400, message: 'Unknown frame type' },
  binary_not_supported: { httpStatus: 400, message: 'Binary frames are not supported; send JSON text' },
  empty_message: { httpStatus: 400, message: 'Message is empty' },
  too_long: { httpStatus: 400, message: 'Message is too long' },
  bad_request: { httpStatus: 400, message: 'Malformed request' },
  bad_room_name: { httpStatus: 400, message: 'Invalid room name' },
  room_exists: { httpStatus: 409, message: 'A room with that name already exists' },
  not_found: { httpStatus: 404, message: 'Not found' },
  rate_limited: { httpStatus: 429, message: 'Too many requests; slow down' },
  store_unavailable: { httpStatus: 503, message: 'Storage is unavailable; try again' },
  shutting_down: { httpStatus: 503, message: 'The server is shutting down; try again' },
  internal: { httpStatus: 500, message: 'Internal error' },
} as const satisfies Record<string, { httpStatus: number; message: string }>;

/** A code from the catalogue. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** An expected, client-facing failure: carries a catalogue code and a message safe to show. */
export class ConfabError extends Error {
  override name = 'ConfabError';
  readonly code: ErrorCode;
  readonly httpStatus: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CATALOGUE[code].message, options);
    this.code = code;
    this.httpStatus = ERROR_CATALOGUE[code].httpStatus;
  }
}

/** Turns anything thrown into a ConfabError; unknown failures become `internal` (details stay in logs). */
export function toConfabError(err: unknown): ConfabError {
  return err instanceof ConfabError ? err : new ConfabError('internal', undefined, { cause: err });
}
