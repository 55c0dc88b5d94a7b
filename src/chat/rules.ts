/**
 * Pure validation rules of the chat domain. Each check either returns the normalised value or throws a
 * ConfabError with a catalogue code, before anything is stored.
 */
import { ConfabError } from '../errors.js';

/** Longest room name, in characters. */
export const MAX_ROOM_NAME_CHARS = 64;
/** Longest display name, in characters. */
export const MAX_DISPLAY_NAME_CHARS = 32;

// Letters, digits, `-` and `_`: the characters the original app's `/ws/chat/<room_name>/` URLs allow.
const ROOM_NAME = /^[\p{L}\p{N}_-]+$/u;
// Display names may have inner spaces and dots, but no control or formatting characters.
const DISPLAY_NAME = /^[\p{L}\p{N}_.-]+(?: [\p{L}\p{N}_.-]+)*$/u;

/** Counts Unicode code points, so an emoji counts as one character as a person would count it. */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Validates a room name and returns it in NFC form. */
export function checkRoomName(raw: unknown): string {
  if (typeof raw !== 'string') throw new ConfabError('bad_room_name', 'Room name must be a string');
  const name = raw.normalize('NFC');
  if (name.length === 0) throw new ConfabError('bad_room_name', 'Room name is empty');
  if (charCount(name) > MAX_ROOM_NAME_CHARS) {
    throw new ConfabError('bad_room_name', `Room name is longer than ${MAX_ROOM_NAME_CHARS} characters`);
  }
  if (!ROOM_NAME.test(name)) {
    throw new ConfabError('bad_room_name', 'Room names may contain only letters, digits, "-" and "_"');
  }
  return name;
}

/** The key room-name uniqueness applies to: "General" and "general" are the same room. */
export function roomNameKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/** A client's idempotency key for a message (`clientMsgId`): the same rule on the WebSocket and over HTTP. */
export const CLIENT_MSG_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Validates a message body; it is stored verbatim (never trimmed or interpreted as HTML). */
export function checkBody(body: string, maxChars: number, allowEmpty = false): string {
  if (!allowEmpty && body.trim().length === 0) throw new ConfabError('empty_message', 'Message is empty');
  if (charCount(body) > maxChars) throw new ConfabError('too_long', `Message is longer than ${maxChars} characters`);
  return body;
}

/** A valid display name, or null when `raw` is not one (the caller then picks a guest name). */
export function parseDisplayName(raw: string | null | undefined): string | null {
  if (typeof raw !== 'string') return null;
  const name = raw.normalize('NFC').trim();
  if (name.length === 0 || charCount(name) > MAX_DISPLAY_NAME_CHARS || !DISPLAY_NAME.test(name)) return null;
  return name;
}

/** Longest reaction, in UTF-16 units: enough for the longest RGI emoji sequences (families, flags with tags). */
export const MAX_EMOJI_UNITS = 32;

// One fully qualified emoji as Unicode lists them (RGI), including ZWJ sequences, keycaps, flags and skin tones.
// Built with `new RegExp` because the `v` flag's property of strings is newer than TypeScript's target.
const ONE_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');

/**
 * Validates a reaction: exactly one emoji, any emoji. A bare symbol that is an emoji only with its emoji
 * presentation selector ("❤" without U+FE0F, as some keyboards send it) is stored fully qualified, so both
 * spellings count as the same reaction.
 */
export function checkEmoji(raw: unknown): string {
  if (typeof raw === 'string' && raw.length > 0 && raw.length < MAX_EMOJI_UNITS) {
    if (ONE_EMOJI.test(raw)) return raw;
    const qualified = `${raw}\uFE0F`;
    if (ONE_EMOJI.test(qualified)) return qualified;
  }
  throw new ConfabError('bad_request', 'A reaction is exactly one emoji');
}
