/**
 * Safe rich text: a message body is parsed as a small Markdown subset by markdown-it (a maintained parser)
 * and its token stream is turned into a tree of allow-listed elements, then into DOM nodes with
 * createElement / createTextNode only. No HTML string is ever built or parsed, so user text can never become
 * markup: raw HTML in a message is shown as the text it is.
 *
 * The subset: **bold**, *italic*, ~~strike~~, `inline code`, fenced and indented code blocks, > quotes,
 * bullet and numbered lists, and bare URLs (http:// and https://, e-mail addresses) made links. Headings,
 * images, tables, explicit [text](url) links (their text could hide where they lead), HTML and entities are
 * off: such input stays literal text.
 *
 * Links: only http:, https: and mailto: targets; each opens in a new tab with rel="noopener noreferrer".
 *
 * Unicode direction controls (U+202A-202E embeddings and overrides, U+2066-2069 isolates) are never put into
 * the page: each is replaced by a small visible marker naming it ("RLO"), so they cannot reorder what is
 * shown (the "Trojan Source" trick) and the reader sees that the text contained one. The body element also
 * gets dir="auto" and `unicode-bidi: isolate` (styles.css), so right-to-left text inside a message cannot
 * reorder the author name or time around it. See docs/protocol.md, "Message text".
 *
 * The tree stage (`richTree`) is pure and runs in Node for the unit tests; `renderRichText` makes the DOM.
 */
import MarkdownItCallable, { type MarkdownIt, type Token } from 'markdown-it';
import { MENTION } from './mentions.js';

/** Deepest nesting of quotes and lists the parser builds (deeper input stays text). */
const MAX_NESTING = 20;

/** The only elements the renderer creates. */
const TAGS = ['p', 'ul', 'ol', 'li', 'blockquote', 'pre', 'code', 'strong', 'em', 's', 'a', 'br', 'span'] as const;
export type RichTag = (typeof TAGS)[number];

/** The only attributes the renderer sets. */
const ATTRS: ReadonlySet<string> = new Set(['href', 'rel', 'target', 'start', 'title', 'class', 'data-testid', 'dir']);

/** Link targets allowed; anything else (javascript:, data:, vbscript:, file:, ...) is shown as text. */
const LINK_PROTOCOLS: ReadonlySet<string> = new Set(['http:', 'https:', 'mailto:']);

/** Markdown token -> element of the blocks and spans the subset has. */
const OPEN_TAGS: Readonly<Record<string, RichTag>> = {
  paragraph_open: 'p',
  bullet_list_open: 'ul',
  ordered_list_open: 'ol',
  list_item_open: 'li',
  blockquote_open: 'blockquote',
  strong_open: 'strong',
  em_open: 'em',
  s_open: 's',
};

/** Direction controls and the short names their markers show. */
const BIDI_NAMES: Readonly<Record<string, string>> = {
  '\u202A': 'LRE',
  '\u202B': 'RLE',
  '\u202C': 'PDF',
  '\u202D': 'LRO',
  '\u202E': 'RLO',
  '\u2066': 'LRI',
  '\u2067': 'RLI',
  '\u2068': 'FSI',
  '\u2069': 'PDI',
};
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

/** An element of the rendered tree (only allow-listed tags and attributes), or a text. */
export type RichNode = string | RichElement;
export interface RichElement {
  tag: RichTag;
  attrs: Record<string, string>;
  children: RichNode[];
}

/** What the renderer needs to know beyond the text. */
export interface RichTextOptions {
  /** Lower-case `@names` of the message that are real mentions (highlighted). */
  mentioned: ReadonlySet<string>;
  /** Mine: a mention of me is highlighted more strongly. */
  myUsername: string;
}

let parser: MarkdownIt | null = null;

/** The markdown-it instance: the 'zero' preset with only the rules of the subset switched on. */
function markdown(): MarkdownIt {
  if (parser !== null) return parser;
  const md = new MarkdownItCallable('zero', { html: false, linkify: true, maxNesting: MAX_NESTING });
  md.enable(['code', 'fence', 'blockquote', 'list', 'newline', 'escape', 'backticks', 'emphasis', 'strikethrough', 'linkify']);
  parser = md;
  return md;
}

/** `text` without direction controls: for plain-text places (notifications, titles, reply excerpts). */
export function stripBidiControls(text: string): string {
  return text.replace(BIDI_CONTROLS, '');
}

/** Letters (of any script): formatting never removes one, so a count tells whether text was lost. */
const LETTERS = /\p{L}/gu;
const countLetters = (text: string) => text.match(LETTERS)?.length ?? 0;

/**
 * The message body as a tree of allow-listed elements. Should the parser ever drop text (input nested deeper
 * than MAX_NESTING is cut off by markdown-it), the body is shown as plain text instead: never lose words.
 */
export function richTree(body: string, options: RichTextOptions): RichNode[] {
  const { nodes, dropped } = parse(body, options);
  if (treeLetters(nodes) + dropped >= countLetters(stripBidiControls(body))) return nodes;
  return [{ tag: 'p', attrs: {}, children: textNodes(body, options) }];
}

/** Letters in the text of a tree (not those of direction markers). */
function treeLetters(nodes: readonly RichNode[]): number {
  let n = 0;
  for (const node of nodes) {
    if (typeof node === 'string') n += countLetters(node);
    else if (node.attrs['data-testid'] !== 'bidi-control') n += treeLetters(node.children);
  }
  return n;
}

/** The tree, and how many letters were consumed on purpose (the language name of a code fence). */
function parse(body: string, options: RichTextOptions): { nodes: RichNode[]; dropped: number } {
  let dropped = 0;
  const root: RichElement = { tag: 'span', attrs: {}, children: [] };
  const stack: RichElement[] = [root];
  const top = () => stack[stack.length - 1]!;
  const open = (tag: RichTag, attrs: Record<string, string> = {}) => {
    const node: RichElement = { tag, attrs, children: [] };
    top().children.push(node);
    stack.push(node);
  };
  const close = () => {
    if (stack.length > 1) stack.pop();
  };

  for (const token of markdown().parse(body, {})) {
    // Tight lists hide their paragraphs: the items hold the text directly.
    if (token.hidden) continue;
    const tag = OPEN_TAGS[token.type];
    if (tag !== undefined) {
      const start = token.type === 'ordered_list_open' ? String(token.attrGet('start') ?? '') : '';
      open(tag, /^\d{1,9}$/.test(start) ? { start } : {});
    } else if (token.nesting === -1) {
      close();
    } else if (token.type === 'fence' || token.type === 'code_block') {
      dropped += countLetters(stripBidiControls(token.info));
      const code: RichElement = { tag: 'code', attrs: {}, children: plainNodes(token.content.replace(/\n$/, '')) };
      top().children.push({ tag: 'pre', attrs: {}, children: [code] });
    } else if (token.type === 'inline') {
      inline(token.children ?? [], top(), options);
    }
    // Anything else (no other rule is enabled) carries no text of its own.
  }
  return { nodes: root.children, dropped };
}

/** The inline tokens of one block, appended to `parent`. */
function inline(tokens: Token[], parent: RichElement, options: RichTextOptions): void {
  const stack: RichElement[] = [parent];
  const top = () => stack[stack.length - 1]!;
  const push = (node: RichElement) => {
    top().children.push(node);
    stack.push(node);
  };
  for (const token of tokens) {
    const tag = OPEN_TAGS[token.type];
    if (tag !== undefined) push({ tag, attrs: {}, children: [] });
    else if (token.type === 'link_open') push(link(String(token.attrGet('href') ?? '')));
    else if (token.nesting === -1) {
      if (stack.length > 1) stack.pop();
    } else if (token.type === 'text') top().children.push(...textNodes(token.content, options));
    else if (token.type === 'code_inline') top().children.push({ tag: 'code', attrs: {}, children: plainNodes(token.content) });
    else if (token.type === 'softbreak') top().children.push('\n');
    else if (token.type === 'hardbreak') top().children.push({ tag: 'br', attrs: {}, children: [] });
    else if (token.content !== '') top().children.push(...plainNodes(token.content));
  }
}

/** An `<a>` for an allowed target, or a plain span (its text still shows) for anything else. */
function link(href: string): RichElement {
  const url = safeUrl(href);
  if (url === null) return { tag: 'span', attrs: {}, children: [] };
  return {
    tag: 'a',
    attrs: { href: url, rel: 'noopener noreferrer', target: '_blank', 'data-testid': 'message-link' },
    children: [],
  };
}

/** `href` when it is an absolute http(s) or mailto URL, else null. */
export function safeUrl(href: string): string | null {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return null;
  }
  return LINK_PROTOCOLS.has(url.protocol) ? url.href : null;
}

/** Text with `@mentions` highlighted and direction controls made visible. */
function textNodes(text: string, options: RichTextOptions): RichNode[] {
  if (options.mentioned.size === 0 || !text.includes('@')) return plainNodes(text);
  const nodes: RichNode[] = [];
  let last = 0;
  const me = options.myUsername.toLowerCase();
  for (const match of text.matchAll(MENTION)) {
    const name = match[2]!.toLowerCase();
    if (!options.mentioned.has(name)) continue;
    const start = match.index + match[1]!.length;
    const end = start + 1 + match[2]!.length;
    nodes.push(...plainNodes(text.slice(last, start)));
    nodes.push({
      tag: 'span',
      attrs: { class: name === me ? 'mention mention--me' : 'mention', 'data-testid': 'mention' },
      children: plainNodes(text.slice(start, end)),
    });
    last = end;
  }
  nodes.push(...plainNodes(text.slice(last)));
  return nodes;
}

/** Text with each direction control replaced by a visible marker. */
function plainNodes(text: string): RichNode[] {
  if (text === '') return [];
  const nodes: RichNode[] = [];
  let last = 0;
  for (const match of text.matchAll(BIDI_CONTROLS)) {
    if (match.index > last) nodes.push(text.slice(last, match.index));
    const code = match[0].codePointAt(0)!.toString(16).toUpperCase();
    nodes.push({
      tag: 'span',
      attrs: { class: 'bidi-control', title: `Direction control U+${code}, shown instead of applied`, 'data-testid': 'bidi-control' },
      children: [BIDI_NAMES[match[0]] ?? '?'],
    });
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}

/** The tree as DOM nodes (allow-listed tags and attributes only, text through text nodes). */
export function toDom(nodes: readonly RichNode[]): DocumentFragment {
  const fragment = document.createDocumentFragment();
  for (const node of nodes) fragment.append(domNode(node));
  return fragment;
}

function domNode(node: RichNode): Node {
  if (typeof node === 'string') return document.createTextNode(node);
  // Belt and braces: the tree builder only makes these, but the DOM stage refuses anything else too.
  if (!(TAGS as readonly string[]).includes(node.tag)) return document.createTextNode('');
  const element = document.createElement(node.tag);
  for (const [name, value] of Object.entries(node.attrs)) {
    if (!ATTRS.has(name)) continue;
    if (name === 'href' && safeUrl(value) === null) continue;
    element.setAttribute(name, value);
  }
  for (const child of node.children) element.append(domNode(child));
  return element;
}

/** A message body rendered as safe rich text. */
export function renderRichText(body: string, options: RichTextOptions): DocumentFragment {
  return toDom(richTree(body, options));
}
