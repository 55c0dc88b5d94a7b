/**
 * Replies: the quote a reply shows above its text (author and the start of the quoted message, a button that
 * jumps to it in history), and the "Replying to …" bar above the composer while one is being written.
 */
import { el } from './dom.js';
import type { ChatMessage, ReplyRef } from './protocol.js';
import { stripBidiControls } from './rich-text.js';

/** The quote at the top of a reply; `onJump` shows the quoted message. */
export function replyQuote(ref: ReplyRef, onJump: () => void): HTMLElement {
  const quote = el('button', {
    className: `reply-quote${ref.deleted ? ' reply-quote--deleted' : ''}`,
    attrs: {
      type: 'button',
      title: 'Show the original message',
      'data-testid': 'reply-quote',
      'data-reply-seq': String(ref.seq),
    },
    children: [
      el('span', { className: 'reply-author', text: ref.author, attrs: { 'data-testid': 'reply-author' } }),
      el('span', {
        className: 'reply-excerpt',
        text: ref.deleted ? 'This message was deleted' : oneLine(ref.excerpt),
        attrs: { 'data-testid': 'reply-excerpt', dir: 'auto' },
      }),
    ],
  });
  quote.addEventListener('click', (event) => {
    event.stopPropagation();
    onJump();
  });
  return quote;
}

/** Text for a one-line preview: no line breaks, no direction controls. */
function oneLine(text: string): string {
  return stripBidiControls(text).replace(/\s+/g, ' ').trim();
}

/** The bar above the composer that says which message the next one answers. */
export class ReplyBar {
  private readonly bar: HTMLElement;
  private readonly label: HTMLElement;
  private readonly excerpt: HTMLElement;
  private target: ChatMessage | null = null;

  constructor(
    form: HTMLFormElement,
    private readonly input: HTMLTextAreaElement,
  ) {
    this.label = el('span', { className: 'reply-bar-label', attrs: { 'data-testid': 'reply-bar-label' } });
    this.excerpt = el('span', { className: 'reply-bar-excerpt', attrs: { dir: 'auto' } });
    const cancel = el('button', {
      className: 'icon-button reply-bar-cancel',
      text: '×',
      attrs: { type: 'button', 'aria-label': 'Cancel reply', title: 'Cancel reply', 'data-testid': 'reply-cancel' },
    });
    cancel.addEventListener('click', () => {
      this.clear();
      input.focus();
    });
    this.bar = el('div', {
      className: 'reply-bar',
      attrs: { 'data-testid': 'reply-bar', role: 'status' },
      children: [el('div', { className: 'reply-bar-text', children: [this.label, this.excerpt] }), cancel],
    });
    this.bar.hidden = true;
    form.prepend(this.bar);
    // Esc in an empty-handed composer drops the reply (the mention list takes Esc first when open).
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.target !== null && !event.defaultPrevented) this.clear();
    });
  }

  /** The message being answered, or null. */
  get current(): ChatMessage | null {
    return this.target;
  }

  /** Answers `message`: shows the bar and puts the cursor in the composer. */
  set(message: ChatMessage): void {
    this.target = message;
    this.label.textContent = `Replying to ${message.author}`;
    this.excerpt.textContent = oneLine(message.body);
    this.bar.hidden = false;
    this.input.focus();
  }

  clear(): void {
    this.target = null;
    this.bar.hidden = true;
  }
}
