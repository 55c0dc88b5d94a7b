/**
 * Search results as the server sends them (GET /api/search, docs/api.md) and how one result's body is shown:
 * as plain text with the matched words in <mark> elements, all built with DOM calls (user text only ever
 * enters through text nodes), cut to a window around the first match when the message is long.
 */
import type { ChatMessage } from './protocol.js';

/** One page of results. */
export interface SearchPage {
  results: SearchResult[];
  hasMore: boolean;
}

/** A found message, its room, and the `[start, end]` UTF-16 ranges of `message.body` that matched. */
export interface SearchResult {
  message: ChatMessage;
  room: { id: number; name: string; kind: 'public' | 'private' | 'direct' };
  highlights: Array<[number, number]>;
}

/** Longest body shown in a result, in UTF-16 units; longer ones show a window around the first match. */
export const RESULT_EXCERPT_CHARS = 280;
/** How much text is kept before the first match when a long body is cut. */
const EXCERPT_LEAD_CHARS = 60;

/** A run of a shown body: matched (marked) or not. */
export interface BodyPiece {
  text: string;
  mark: boolean;
}

/**
 * The pieces of `body` to show: the ranges marked, the rest plain; a long body is cut to `maxChars` around
 * the first range, with "…" where text was left out. Ranges out of order, overlapping or out of bounds (a body
 * edited since) are clamped rather than trusted.
 */
export function bodyPieces(body: string, highlights: ReadonlyArray<readonly [number, number]>, maxChars = RESULT_EXCERPT_CHARS): BodyPiece[] {
  const ranges = [...highlights]
    .map(([s, e]) => [Math.max(0, Math.min(s, body.length)), Math.max(0, Math.min(e, body.length))] as const)
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  let from = 0;
  let to = body.length;
  if (body.length > maxChars) {
    from = Math.max(0, (ranges[0]?.[0] ?? 0) - EXCERPT_LEAD_CHARS);
    to = Math.min(body.length, from + maxChars);
    from = Math.max(0, to - maxChars);
    // Never cut a surrogate pair (an emoji) in half.
    if (from > 0 && isLowSurrogate(body.charCodeAt(from))) from++;
    if (to < body.length && isLowSurrogate(body.charCodeAt(to))) to--;
  }
  const pieces: BodyPiece[] = [];
  const push = (text: string, mark: boolean) => {
    if (text !== '') pieces.push({ text, mark });
  };
  if (from > 0) push('…', false);
  let at = from;
  for (const [s, e] of ranges) {
    const start = Math.max(s, at);
    const end = Math.min(e, to);
    if (end <= start) continue;
    push(body.slice(at, start), false);
    push(body.slice(start, end), true);
    at = end;
  }
  push(body.slice(at, to), false);
  if (to < body.length) push('…', false);
  return pieces;
}

const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** The pieces as DOM nodes: text nodes and <mark> elements (never HTML). */
export function bodyNodes(pieces: readonly BodyPiece[]): Node[] {
  return pieces.map((p) => {
    if (!p.mark) return document.createTextNode(p.text);
    const mark = document.createElement('mark');
    mark.textContent = p.text;
    return mark;
  });
}
