/**
 * @mentions: which names of a message are mentions (rich-text.ts highlights them), and the autocomplete of
 * room members under the composer.
 */
import { el } from './dom.js';
import type { User } from './protocol.js';

/** Delay between the input losing focus and the suggestion list closing. */
const CLOSE_AFTER_BLUR_MS = 150;

/** `@` at the start or after a non-word character, then a username (rich-text.ts highlights these). */
export const MENTION = /(^|[^\p{L}\p{N}_])@([\p{L}\p{N}_.-]*[\p{L}\p{N}_])/gu;

/** Which `@names` of a message count as mentions: those of the users it mentions, when they are known. */
export function mentionedNames(ids: readonly number[] | undefined, usernameOf: (id: number) => string | undefined, body: string): Set<string> {
  const names = new Set<string>();
  if (ids === undefined || ids.length === 0) return names;
  const known = ids.map(usernameOf).filter((n): n is string => n !== undefined);
  for (const n of known) names.add(n.toLowerCase());
  // Someone mentioned who is not in the cached member list: every `@word` of the body is a candidate.
  if (known.length < ids.length) for (const m of body.matchAll(MENTION)) names.add(m[2]!.toLowerCase());
  return names;
}

/** Most suggestions shown at once. */
const MAX_SUGGESTIONS = 8;

/** The `@` autocomplete of a textarea. */
export class MentionAutocomplete {
  private readonly list: HTMLUListElement;
  private matches: User[] = [];
  private active = 0;
  /** Where the `@` being completed starts in the input. */
  private start = -1;

  constructor(
    private readonly input: HTMLTextAreaElement,
    host: HTMLElement,
    private readonly members: () => readonly User[],
    private readonly meId: () => number,
  ) {
    this.list = el('ul', {
      className: 'mention-list',
      attrs: { id: 'mention-list', role: 'listbox', 'aria-label': 'People to mention', 'data-testid': 'mention-list' },
    });
    this.list.hidden = true;
    host.append(this.list);
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-controls', 'mention-list');
    input.addEventListener('input', () => this.update());
    input.addEventListener('click', () => this.update());
    // Closing at once on blur would swallow a click on a suggestion; wait until the click has landed.
    input.addEventListener('blur', () => setTimeout(() => this.close(), CLOSE_AFTER_BLUR_MS));
  }

  get isOpen(): boolean {
    return !this.list.hidden;
  }

  /** Handles a key while open; returns true when it was used (the composer must not act on it). */
  onKey(event: KeyboardEvent): boolean {
    if (!this.isOpen) return false;
    switch (event.key) {
      case 'ArrowDown':
        this.move(1);
        return true;
      case 'ArrowUp':
        this.move(-1);
        return true;
      case 'Enter':
      case 'Tab':
        if (event.shiftKey) return false;
        this.pick(this.matches[this.active]!);
        return true;
      case 'Escape':
        this.close();
        return true;
      default:
        return false;
    }
  }

  close(): void {
    this.list.hidden = true;
    this.matches = [];
    this.input.removeAttribute('aria-activedescendant');
  }

  private update(): void {
    const caret = this.input.selectionStart ?? 0;
    const before = this.input.value.slice(0, caret);
    const match = /(^|\s)@([\p{L}\p{N}_.-]*)$/u.exec(before);
    if (match === null) {
      this.close();
      return;
    }
    this.start = caret - match[2]!.length - 1;
    const q = match[2]!.toLowerCase();
    const me = this.meId();
    this.matches = this.members()
      .filter((u) => u.id !== me)
      .filter((u) => u.username.toLowerCase().startsWith(q) || u.displayName.toLowerCase().split(/\s+/).some((w) => w.startsWith(q)))
      .sort((a, b) => a.displayName.localeCompare(b.displayName))
      .slice(0, MAX_SUGGESTIONS);
    if (this.matches.length === 0) {
      this.close();
      return;
    }
    this.active = 0;
    this.render();
  }

  private move(by: number): void {
    this.active = (this.active + by + this.matches.length) % this.matches.length;
    this.render();
  }

  private render(): void {
    this.list.replaceChildren(
      ...this.matches.map((u, i) => {
        const item = el('li', {
          className: 'mention-option',
          attrs: {
            id: `mention-option-${i}`,
            role: 'option',
            'aria-selected': String(i === this.active),
            'data-testid': 'mention-option',
            'data-username': u.username,
          },
          children: [
            el('span', { className: 'avatar avatar-small', text: ([...u.displayName][0] ?? '?').toUpperCase(), attrs: { 'aria-hidden': 'true' } }),
            el('span', { className: 'mention-name', text: u.displayName }),
            el('span', { className: 'mention-handle', text: `@${u.username}` }),
          ],
        });
        // mousedown, not click: the textarea keeps its focus and caret.
        item.addEventListener('mousedown', (event) => {
          event.preventDefault();
          this.pick(u);
        });
        return item;
      }),
    );
    this.list.hidden = false;
    this.input.setAttribute('aria-activedescendant', `mention-option-${this.active}`);
  }

  private pick(user: User): void {
    const value = this.input.value;
    const caret = this.input.selectionStart ?? value.length;
    const insert = `@${user.username} `;
    this.input.value = value.slice(0, this.start) + insert + value.slice(caret);
    const pos = this.start + insert.length;
    this.input.setSelectionRange(pos, pos);
    this.close();
    this.input.dispatchEvent(new Event('input'));
  }
}
