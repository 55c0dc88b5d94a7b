/**
 * File names as users send them are untrusted text that ends up in a download dialog, a header and the
 * timeline: strip them to a plain name before they are stored, and encode them properly for
 * Content-Disposition (RFC 6266 with an RFC 8187 `filename*`).
 */
import { extensionOf, type FileKind } from './file-types.js';

/** Longest stored file name, in code points (the extension included). */
export const MAX_FILE_NAME_CHARS = 120;
/** The name given to a file whose own name has nothing left once cleaned. */
const FALLBACK_NAME = 'file';

/**
 * Control characters and invisible format characters: the latter include the bidi overrides and isolates
 * (U+202A-202E, U+2066-2069) that make "exe.png" of "gnp.exe", and zero-width characters.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
/** Characters that Windows and many shells treat specially; harmless here, but troublesome once saved. */
const RESERVED = /[<>:"|?*]/g;

/** Cuts a string to at most `max` code points (never in the middle of a surrogate pair). */
const cut = (s: string, max: number): string => Array.from(s).slice(0, max).join('');

/**
 * A safe display and download name: the last path part only, no invisible or control characters, no
 * leading dots (hidden files) or trailing dots and spaces, at most MAX_FILE_NAME_CHARS code points, and an
 * extension that matches the file's checked kind (added when missing, so "photo" that is a PNG is "photo.png").
 */
export function safeFileName(raw: string, kind: FileKind): string {
  const base = raw.normalize('NFC').split(/[/\\]/).pop() ?? '';
  let name = base
    .replace(/\s+/g, ' ') // first, so that a tab or line break separates words instead of vanishing
    .replace(INVISIBLE, '')
    .replace(RESERVED, '_')
    .replace(/^[\s.]+|[\s.]+$/g, '');
  if (name === '') name = FALLBACK_NAME;
  let ext = extensionOf(name);
  if (!kind.extensions.includes(ext)) {
    ext = kind.extensions[0]!;
    name = `${name}.${ext}`;
  }
  if (Array.from(name).length > MAX_FILE_NAME_CHARS) {
    // Keep the extension: shorten the stem.
    const stem = name.slice(0, name.length - ext.length - 1);
    name = `${cut(stem, MAX_FILE_NAME_CHARS - ext.length - 1).trimEnd()}.${ext}`;
  }
  return name;
}

/** RFC 8187 percent-encoding: encodeURIComponent leaves a few characters that `attr-char` does not allow. */
const encodeExtValue = (s: string): string =>
  encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * A Content-Disposition header value: `filename` as an ASCII fallback for old clients (anything else becomes
 * `_`), and `filename*` with the exact UTF-8 name for every current browser.
 */
export function contentDisposition(disposition: 'inline' | 'attachment', name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `${disposition}; filename="${fallback}"; filename*=UTF-8''${encodeExtValue(name)}`;
}
