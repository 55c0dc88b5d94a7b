/**
 * The one error catalogue, used by HTTP and WebSocket alike (docs/protocol.md lists the same codes).
 * Each code has a stable name, a default human message and the HTTP status it maps to.
 */

import { StoreUnavailableError } from './store/store.js';

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
  forbidden: { httpStatus: 403, message: 'You are not allowed to do that' },
  unauthenticated: { httpStatus: 401, message: 'Sign in first' },
  bad_credentials: { httpStatus: 401, message: 'Wrong username or password' },
  bad_username: { httpStatus: 400, message: 'Invalid username' },
  username_taken: { httpStatus: 409, message: 'That username is taken' },
  weak_password: { httpStatus: 400, message: 'Password does not meet the policy' },
  bad_origin: { httpStatus: 403, message: 'Cross-origin request refused' },
  rate_limited: { httpStatus: 429, message: 'Too many requests; slow down' },
  too_large: { httpStatus: 413, message: 'The file is larger than the upload limit' },
  unsupported_type: { httpStatus: 415, message: 'That type of file is not accepted' },
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

  /** For `rate_limited`: how long to wait before trying again. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message ?? ERROR_CATALOGUE[code].message, options);
    this.code = code;
    this.httpStatus = ERROR_CATALOGUE[code].httpStatus;
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * Turns anything thrown into a ConfabError: an unreachable store becomes `store_unavailable` (retry later),
 * any other unknown failure `internal` (details stay in logs).
 */
export function toConfabError(err: unknown): ConfabError {
  if (err instanceof ConfabError) return err;
  if (err instanceof StoreUnavailableError) return new ConfabError('store_unavailable', undefined, { cause: err });
  return new ConfabError('internal', undefined, { cause: err });
}
