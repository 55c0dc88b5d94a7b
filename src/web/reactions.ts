/**
 * Reactions: the chips under a message (emoji and count, mine highlighted, who reacted in the tooltip; a click
 * toggles mine) and the picker (common emoji, plus a field that takes any single emoji).
 */
import { el } from './dom.js';
import type { Reaction } from './protocol.js';

/** The picker's quick choices. */
export const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀', '✅', '🔥'] as const;

/** Names listed in a chip's tooltip before "and N others". */
const TOOLTIP_NAMES = 10;
/** Gap (px) between the picker and the button that opened it, and the viewport edge. */
const PICKER_GAP_PX = 6;

/** An emoji presentation: pictographs, keycaps, flags, with modifiers and joiners. */
const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}|[#*0-9]\uFE0F?\u20E3)/u;

/**
 * `text` trimmed when it is exactly one emoji (one grapheme cluster that starts as an emoji), else null. The
 * server checks the same and is the judge; this only spares a round trip for plain words.
 */
export function singleEmoji(text: string): string | null {
  const t = text.trim();
  if (t === '' || !EMOJI.test(t)) return null;
  const segments = [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(t)];
  return segments.length === 1 ? t : null;
}

/** "Ana, Bo and Cy reacted with 👍" */
export function reactedText(names: readonly string[], emoji: string): string {
  const shown = names.slice(0, TOOLTIP_NAMES);
  const rest = names.length - shown.length;
  const list = rest > 0 ? [...shown, `${rest} other${rest === 1 ? '' : 's'}`] : shown;
  const joined = list.length <= 1 ? (list[0] ?? '') : `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
  return `${joined} reacted with ${emoji}`;
}

/** The chips of a message; null when it has no reactions. */
export function reactionChips(
  reactions: readonly Reaction[],
  myId: number,
  nameOf: (userId: number) => string,
  onToggle: (emoji: string, on: boolean) => void,
  onAdd: (anchor: HTMLElement) => void,
): HTMLElement | null {
  const shown = reactions.filter((r) => r.users.length > 0);
  if (shown.length === 0) return null;
  const row = el('div', { className: 'reactions', attrs: { 'data-testid': 'reactions' } });
  for (const r of shown) {
    const mine = r.users.includes(myId);
    const names = r.users.map((id) => (id === myId ? 'You' : nameOf(id)));
    const tip = reactedText(names, r.emoji);
    const chip = el('button', {
      className: `reaction${mine ? ' reaction--mine' : ''}`,
      attrs: {
        type: 'button',
        title: tip,
        'aria-label': `${tip}. ${mine ? 'Remove yours' : 'Add yours'}`,
        'aria-pressed': String(mine),
        'data-testid': 'reaction',
        'data-emoji': r.emoji,
      },
      children: [el('span', { className: 'reaction-emoji', text: r.emoji }), el('span', { className: 'reaction-count', text: String(r.users.length), attrs: { 'data-testid': 'reaction-count' } })],
    });
    chip.addEventListener('click', (event) => {
      event.stopPropagation();
      onToggle(r.emoji, !mine);
    });
    row.append(chip);
  }
  const add = el('button', {
    className: 'reaction reaction-add',
    text: '+',
    attrs: { type: 'button', title: 'Add reaction', 'aria-label': 'Add reaction', 'data-testid': 'reaction-add' },
  });
  add.addEventListener('click', (event) => {
    event.stopPropagation();
    onAdd(add);
  });
  row.append(add);
  return row;
}

/** The one picker of the page (built on first use), floating next to the button that opened it. */
class EmojiPicker {
  private readonly root: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly error: HTMLElement;
  private onPick: ((emoji: string) => void) | null = null;
  private opener: HTMLElement | null = null;

  constructor() {
    this.input = el('input', {
      className: 'field emoji-input',
      attrs: { type: 'text', placeholder: 'Any emoji', 'aria-label': 'Any emoji', autocomplete: 'off', 'data-testid': 'emoji-input' },
    });
    this.error = el('p', { className: 'emoji-error', attrs: { role: 'alert', 'data-testid': 'emoji-error' } });
    const quick = el('div', { className: 'emoji-quick' });
    for (const emoji of QUICK_EMOJI) {
      const b = el('button', { className: 'emoji-option', text: emoji, attrs: { type: 'button', 'aria-label': `React with ${emoji}`, 'data-testid': 'emoji-option' } });
      b.addEventListener('click', () => this.pick(emoji));
      quick.append(b);
    }
    const form = el('form', {
      className: 'emoji-form',
      children: [this.input, el('button', { className: 'button button-small', text: 'Add', attrs: { type: 'submit', 'data-testid': 'emoji-submit' } })],
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const emoji = singleEmoji(this.input.value);
      if (emoji === null) this.error.textContent = 'Enter a single emoji.';
      else this.pick(emoji);
    });
    this.root = el('div', {
      className: 'emoji-picker',
      attrs: { role: 'dialog', 'aria-label': 'Add a reaction', 'data-testid': 'emoji-picker' },
      children: [quick, form, this.error],
    });
    this.root.hidden = true;
    document.body.append(this.root);
    document.addEventListener('mousedown', (event) => {
      const target = event.target as Node;
      if (!this.root.hidden && !this.root.contains(target) && !this.opener?.contains(target)) this.close();
    });
    // The page reflowed (window resized, phone rotated): stay next to the button, or close if it is gone.
    window.addEventListener('resize', () => {
      if (this.root.hidden) return;
      if (this.opener?.isConnected === true) this.place(this.opener);
      else this.close();
    });
    this.root.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.stopPropagation();
        this.close();
      }
    });
  }

  open(anchor: HTMLElement, onPick: (emoji: string) => void): void {
    this.onPick = onPick;
    this.opener = anchor;
    this.input.value = '';
    this.error.textContent = '';
    this.root.hidden = false;
    // The message keeps its action bar (and so the button the picker hangs from) while the picker is open.
    anchor.closest('.msg')?.classList.add('is-active');
    this.place(anchor);
    this.root.querySelector<HTMLElement>('.emoji-option')?.focus();
  }

  private place(anchor: HTMLElement): void {
    // Below the button, or above it when there is no room below; never past the viewport's sides.
    const box = anchor.getBoundingClientRect();
    const size = this.root.getBoundingClientRect();
    const below = box.bottom + PICKER_GAP_PX + size.height <= window.innerHeight;
    const top = below ? box.bottom + PICKER_GAP_PX : Math.max(PICKER_GAP_PX, box.top - PICKER_GAP_PX - size.height);
    const left = Math.min(Math.max(PICKER_GAP_PX, box.right - size.width), window.innerWidth - size.width - PICKER_GAP_PX);
    this.root.style.top = `${top}px`;
    this.root.style.left = `${Math.max(PICKER_GAP_PX, left)}px`;
  }

  close(): void {
    if (this.root.hidden) return;
    this.root.hidden = true;
    const opener = this.opener;
    this.opener = null;
    this.onPick = null;
    opener?.closest('.msg')?.classList.remove('is-active');
    if (opener?.isConnected === true && this.root.contains(document.activeElement)) opener.focus();
  }

  private pick(emoji: string): void {
    const onPick = this.onPick;
    this.close();
    onPick?.(emoji);
  }
}

let picker: EmojiPicker | null = null;

/** Opens the picker next to `anchor`; `onPick` gets the chosen emoji. */
export function openEmojiPicker(anchor: HTMLElement, onPick: (emoji: string) => void): void {
  picker ??= new EmojiPicker();
  picker.open(anchor, onPick);
}
