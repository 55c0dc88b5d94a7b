/**
 * The display name this browser posts under, until accounts exist. It lives in localStorage so it survives
 * reloads; the server may still refuse it (then `hello` names the guest name it chose instead).
 */

const NAME_KEY = 'confab.name';

/** The server's rule for display names (src/chat/rules.ts): 1-32 letters, digits, `.`, `-`, `_`, single inner spaces. */
const DISPLAY_NAME = /^[\p{L}\p{N}_.-]+(?: [\p{L}\p{N}_.-]+)*$/u;

/** Longest display name, in Unicode code points. */
export const MAX_NAME_CHARS = 32;

/** Why `name` would be refused, or null when the server will accept it. */
export function nameProblem(name: string): string | null {
  const trimmed = name.trim();
  if (trimmed.length === 0) return 'Name is empty';
  if ([...trimmed].length > MAX_NAME_CHARS) return `At most ${MAX_NAME_CHARS} characters`;
  if (!DISPLAY_NAME.test(trimmed)) return 'Use letters, digits, single spaces, ".", "-" or "_"';
  return null;
}

/** A fresh `guest-XXXX` name (4 hex digits, like the server's own guest names). */
function randomGuestName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(2));
  return `guest-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The stored name; creates and stores a guest name on first use so it stays the same across reloads. */
export function loadName(): string {
  const stored = safeGet(NAME_KEY);
  if (stored !== null && nameProblem(stored) === null) return stored;
  const name = randomGuestName();
  safeSet(NAME_KEY, name);
  return name;
}

/** Stores a (valid) name for the next connections. */
export function saveName(name: string): void {
  safeSet(NAME_KEY, name.trim());
}

// Storage can throw (disabled storage, private mode quotas); the name then just lasts for this page.
function safeGet(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function safeSet(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* not persisted; still used for this page */
  }
}
