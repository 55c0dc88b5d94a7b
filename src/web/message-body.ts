/**
 * The text part of a stored message: rich text (src/web/rich-text.ts), the "This message was deleted"
 * placeholder, the "(edited)" mark with the time of the edit, and the folding of very long messages behind
 * "Show more".
 */
import { el } from './dom.js';
import { fullTime } from './format.js';
import type { ChatMessage } from './protocol.js';
import { renderRichText, type RichTextOptions } from './rich-text.js';

/** A message taller than this (px) is shown folded to this height, with "Show more". */
export const FOLD_MAX_PX = 320;

/** The body element of a stored message. */
export function messageBody(m: ChatMessage, options: RichTextOptions): HTMLElement {
  if (m.deleted === true) {
    return el('div', {
      className: 'msg-body msg-body--deleted',
      attrs: { 'data-testid': 'message-body' },
      children: [el('span', { text: 'This message was deleted', attrs: { 'data-testid': 'message-deleted' } })],
    });
  }
  // dir="auto" and unicode-bidi: isolate (styles.css): right-to-left text stays inside the body.
  const body = el('div', { className: 'msg-body msg-body--rich', attrs: { 'data-testid': 'message-body', dir: 'auto' } });
  body.append(renderRichText(m.body, options));
  if (m.editedAt !== null && m.editedAt !== undefined) {
    const edited = el('span', {
      className: 'msg-edited',
      text: '(edited)',
      attrs: { title: `Edited ${fullTime(new Date(m.editedAt))}`, 'data-testid': 'message-edited' },
    });
    // At the end of the last paragraph when there is one (as a reader expects), else on a line of its own.
    const last = body.lastElementChild;
    if (last instanceof HTMLParagraphElement) last.append(' ', edited);
    else body.append(edited);
  }
  return body;
}

/**
 * Whether the body of `item` (already in the page, so it can be measured) is taller than FOLD_MAX_PX. Measure
 * every new message first and fold afterwards: one layout for all instead of one per message.
 */
export function isTall(item: HTMLElement): boolean {
  const body = item.querySelector<HTMLElement>('.msg-body--rich');
  return body !== null && body.scrollHeight > FOLD_MAX_PX;
}

/** Folds the body of `item` with a toggle below it; `expanded` is the reader's earlier choice for it. */
export function fold(item: HTMLElement, expanded: boolean, onToggle: (expanded: boolean) => void): void {
  const body = item.querySelector<HTMLElement>('.msg-body--rich');
  if (body === null) return;
  const toggle = el('button', {
    className: 'link-button fold-toggle',
    attrs: { type: 'button', 'data-testid': 'fold-toggle' },
  });
  const show = (open: boolean) => {
    body.classList.toggle('msg-body--folded', !open);
    body.style.maxHeight = open ? '' : `${FOLD_MAX_PX}px`;
    toggle.textContent = open ? 'Show less' : 'Show more';
    toggle.setAttribute('aria-expanded', String(open));
  };
  toggle.addEventListener('click', (event) => {
    event.stopPropagation();
    const open = body.classList.contains('msg-body--folded');
    show(open);
    onToggle(open);
    // Folding a long message back up should leave its start in view, not whatever came after it.
    if (!open) item.scrollIntoView({ block: 'nearest' });
  });
  show(expanded);
  body.after(toggle);
}
