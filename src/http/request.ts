/** Reading a request's body and URL ids the same way in every route, with the catalogue's errors. */
import type { FastifyRequest } from 'fastify';
import { ConfabError } from '../errors.js';

/** The JSON object body of a request, or `bad_request`. */
export function bodyOf(request: FastifyRequest): Record<string, unknown> {
  const b = request.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new ConfabError('bad_request', 'Send a JSON object body');
  return b as Record<string, unknown>;
}

/** A positive integer id from a URL segment, or `not_found` (an id that cannot exist does not). */
export function idParam(raw: string): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id <= 0) throw new ConfabError('not_found');
  return id;
}
