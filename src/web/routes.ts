/** The addresses the client answers to: `/`, `/chat/` and `/chat/<room_name>/` (where the original app lived). */

/** The room name in a `/chat/<name>/` path, or null for `/` and `/chat/`. */
export function roomFromPath(pathname: string): string | null {
  const match = /^\/chat\/([^/]+)\/?$/.exec(pathname);
  if (match === null) return null;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return null;
  }
}
