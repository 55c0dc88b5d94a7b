/**
 * The address a request came from, as rate limits and connection caps count it: the socket's peer, or behind a
 * trusted proxy (TRUST_PROXY) the left-most X-Forwarded-For entry, as Fastify's `request.ip` reads it for HTTP.
 */
import type { IncomingHttpHeaders } from 'node:http';

export function clientAddress(headers: IncomingHttpHeaders, peer: string | undefined, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = headers['x-forwarded-for'];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return peer ?? 'unknown';
}
