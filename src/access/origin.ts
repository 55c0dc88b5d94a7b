/**
 * Origin checks shared by the WebSocket handshake and cookie-authenticated HTTP changes: an exact match
 * against ALLOWED_ORIGINS, or, when that is empty, the server's own origin (scheme and Host of the request).
 * No wildcards and no substring matching.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface OriginPolicy {
  allowedOrigins: string[];
  /** Believe X-Forwarded-Proto / X-Forwarded-Host from a TLS-terminating proxy. */
  trustProxy: boolean;
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();

/** The origin this request was addressed to, e.g. `http://127.0.0.1:8000`. */
export function ownOrigin(headers: IncomingHttpHeaders, encrypted: boolean, policy: OriginPolicy): string | null {
  const proto = (policy.trustProxy && first(headers['x-forwarded-proto'])) || (encrypted ? 'https' : 'http');
  const host = (policy.trustProxy && first(headers['x-forwarded-host'])) || headers.host;
  return host ? `${proto}://${host}`.toLowerCase() : null;
}

/**
 * Whether a request's Origin is acceptable. A request without Origin comes from a non-browser client (a
 * script with a bearer token, the original app's Python clients): browsers always send it on WebSocket
 * handshakes and cross-origin POSTs, which is what cross-site hijacking and CSRF need.
 */
export function originAllowed(headers: IncomingHttpHeaders, encrypted: boolean, policy: OriginPolicy): boolean {
  const origin = first(headers.origin);
  if (origin === undefined) return true;
  const o = origin.toLowerCase();
  if (policy.allowedOrigins.length > 0) return policy.allowedOrigins.some((a) => a.toLowerCase() === o);
  return o === ownOrigin(headers, encrypted, policy);
}
