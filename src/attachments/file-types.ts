/**
 * Which files Confab accepts, and how each is checked and served. An upload names its type (the part's
 * Content-Type, or its extension when the browser sent a generic one); that type must be on this list, and
 * the content must prove it: magic bytes (sniffed with `file-type`) for binary formats, valid UTF-8 without
 * NUL bytes and without a binary signature for text. Only raster images are ever served inline; SVG, HTML
 * and scripts are not on the list at all, and every other file is served as a download.
 */
import path from 'node:path';
import { ConfabError } from '../errors.js';

/** One accepted kind of file. */
export interface FileKind {
  /** The MIME type stored and shown. */
  type: string;
  /** Other MIME types browsers send for it. */
  aliases?: readonly string[];
  /** File name extensions, lowercase, without the dot; the first is added to a name that has none of them. */
  extensions: readonly string[];
  /** `magic`: the sniffed type must be one of `sniffed`; `text`: UTF-8 text with no binary signature. */
  content: 'magic' | 'text';
  /** Types `file-type` reports for genuine files of this kind (default: `type`). */
  sniffed?: readonly string[];
  /** A raster image: served inline with its type, and given a thumbnail. */
  image?: boolean;
}

/** Sniffed types of Office and OpenDocument files: containers that can also read as a plain zip. */
const zipped = (type: string): FileKind['sniffed'] => [type, 'application/zip'];

export const FILE_KINDS: readonly FileKind[] = [
  { type: 'image/png', extensions: ['png'], content: 'magic', sniffed: ['image/png', 'image/apng'], image: true },
  { type: 'image/jpeg', aliases: ['image/pjpeg'], extensions: ['jpg', 'jpeg', 'jfif'], content: 'magic', image: true },
  { type: 'image/gif', extensions: ['gif'], content: 'magic', image: true },
  { type: 'image/webp', extensions: ['webp'], content: 'magic', image: true },
  { type: 'application/pdf', extensions: ['pdf'], content: 'magic' },
  { type: 'application/zip', aliases: ['application/x-zip-compressed'], extensions: ['zip'], content: 'magic' },
  { type: 'application/gzip', aliases: ['application/x-gzip'], extensions: ['gz', 'tgz'], content: 'magic' },
  { type: 'application/x-7z-compressed', extensions: ['7z'], content: 'magic' },
  {
    type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    extensions: ['docx'],
    content: 'magic',
    sniffed: zipped('application/vnd.openxmlformats-officedocument.wordprocessingml.document'),
  },
  {
    type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    extensions: ['xlsx'],
    content: 'magic',
    sniffed: zipped('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'),
  },
  {
    type: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
    extensions: ['pptx'],
    content: 'magic',
    sniffed: zipped('application/vnd.openxmlformats-officedocument.presentationml.presentation'),
  },
  {
    type: 'application/vnd.oasis.opendocument.text',
    extensions: ['odt'],
    content: 'magic',
    sniffed: zipped('application/vnd.oasis.opendocument.text'),
  },
  {
    type: 'application/vnd.oasis.opendocument.spreadsheet',
    extensions: ['ods'],
    content: 'magic',
    sniffed: zipped('application/vnd.oasis.opendocument.spreadsheet'),
  },
  { type: 'audio/mpeg', aliases: ['audio/mp3'], extensions: ['mp3'], content: 'magic' },
  { type: 'audio/ogg', extensions: ['ogg', 'oga', 'opus'], content: 'magic', sniffed: ['audio/ogg', 'audio/ogg; codecs=opus'] },
  { type: 'audio/wav', aliases: ['audio/x-wav', 'audio/wave'], extensions: ['wav'], content: 'magic' },
  { type: 'video/mp4', extensions: ['mp4', 'm4v'], content: 'magic', sniffed: ['video/mp4', 'video/x-m4v'] },
  { type: 'video/webm', extensions: ['webm'], content: 'magic' },
  { type: 'video/quicktime', extensions: ['mov'], content: 'magic' },
  { type: 'text/plain', extensions: ['txt', 'log'], content: 'text' },
  { type: 'text/markdown', aliases: ['text/x-markdown'], extensions: ['md', 'markdown'], content: 'text' },
  { type: 'text/csv', extensions: ['csv'], content: 'text' },
  { type: 'application/json', extensions: ['json'], content: 'text' },
];

/** Types a browser sends when it does not know a file's type: the extension decides then. */
const GENERIC_TYPES = new Set(['', 'application/octet-stream']);

/** Sniffed types that are still plain text (file-type recognises some text formats by their first line). */
const TEXTUAL_SNIFFED = /^(text\/|application\/xml$)/;

const byType = new Map(FILE_KINDS.flatMap((k) => [k.type, ...(k.aliases ?? [])].map((t) => [t, k] as const)));
const byExtension = new Map(FILE_KINDS.flatMap((k) => k.extensions.map((e) => [e, k] as const)));

/** The lowercase extension of a file name, without the dot ('' when none). */
export const extensionOf = (name: string): string => path.extname(name).slice(1).toLowerCase();

/** The kind an upload claims to be, or `unsupported_type`. */
export function claimedKind(fileName: string, claimedType: string): FileKind {
  const type = claimedType.split(';')[0]!.trim().toLowerCase();
  const kind = GENERIC_TYPES.has(type) ? byExtension.get(extensionOf(fileName)) : byType.get(type);
  if (kind) return kind;
  const what = GENERIC_TYPES.has(type) ? `files ending in ".${extensionOf(fileName)}"` : `"${type}" files`;
  throw new ConfabError('unsupported_type', `Confab does not accept ${what}; see the list of accepted types in the docs`);
}

/** What was learned about an upload's content while it streamed in. */
export interface ContentFacts {
  /** The type `file-type` found in the first bytes, if any. */
  sniffed: string | undefined;
  /** The whole file decoded as UTF-8 and had no NUL byte. */
  utf8Text: boolean;
}

/** Whether the content is what the kind claims. */
export function contentMatches(kind: FileKind, facts: ContentFacts): boolean {
  if (kind.content === 'text') {
    return facts.utf8Text && (facts.sniffed === undefined || TEXTUAL_SNIFFED.test(facts.sniffed));
  }
  return facts.sniffed !== undefined && (kind.sniffed ?? [kind.type]).includes(facts.sniffed);
}

/** The type a stored file is served with: its own for raster images, a plain download for everything else. */
export function servedType(contentType: string): { type: string; inline: boolean } {
  const kind = byType.get(contentType);
  return kind?.image ? { type: kind.type, inline: true } : { type: 'application/octet-stream', inline: false };
}

/** Whether files of this stored type are images with a thumbnail. */
export const isImageType = (contentType: string): boolean => byType.get(contentType)?.image === true;
