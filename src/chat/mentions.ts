/**
 * Mention parsing: `@username` (case-insensitive) anywhere a word may start. Pure; the chat service resolves
 * the names to users who may read the room, so a mention can never reach someone outside it.
 */
import { usernameKey } from './accounts.js';

/** Most distinct names looked up per message, so a message of a thousand `@x` costs a bounded amount of work. */
export const MAX_MENTIONS_PER_MESSAGE = 20;

// Usernames are 3-32 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit (accounts.ts). The
// lookbehind keeps e-mail addresses (`ana@example.org`) from counting as mentions.
const MENTION = /(?<![\p{L}\p{N}_.@-])@([A-Za-z0-9][A-Za-z0-9._-]{2,31})/gu;

/** The case-folded usernames a body mentions, distinct, in order of first appearance, at most the bound. */
export function parseMentions(body: string): string[] {
  const keys = new Set<string>();
  for (const match of body.matchAll(MENTION)) {
    // A sentence ending right after a name ("thanks @ana.") does not make the dot part of it.
    const name = match[1]!.replace(/[.]+$/, '');
    if (name.length >= 3) keys.add(usernameKey(name));
    if (keys.size >= MAX_MENTIONS_PER_MESSAGE) break;
  }
  return [...keys];
}
