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

/** Validates a message body; it is stored verbatim (never trimmed or interpreted as HTML). */
export function checkBody(body: string, maxChars: number): string {
  if (body.trim().length === 0) throw new ConfabError('empty_message', 'Message is empty');
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
