/**
 * The message input: Enter sends, Shift+Enter inserts a new line, the textarea grows with its text up to a
 * few lines, and a counter appears near the length limit.
 */
import { charCount } from './format.js';
import { MentionAutocomplete } from './mentions.js';
import { DEFAULT_LIMITS, type User } from './protocol.js';

/** Tallest the textarea grows (px) before it scrolls instead. */
const MAX_HEIGHT_PX = 180;
/** The counter appears once this share of the limit is used. */
const COUNTER_FROM = 0.8;

/** The composer of the room on screen. */
export class Composer {
  private maxChars = DEFAULT_LIMITS.maxMessageChars;
  /** Files are ready to go: a message with an empty text may be sent then. */
  private hasAttachments = false;
  private readonly autocomplete: MentionAutocomplete;

  constructor(
    private readonly form: HTMLFormElement,
    private readonly input: HTMLTextAreaElement,
    private readonly label: HTMLLabelElement,
    private readonly counter: HTMLElement,
    private readonly sendButton: HTMLButtonElement,
    /** Called with the text to send; the composer clears itself when it returns true. */
    private readonly onSend: (body: string) => boolean,
    /** The user typed (the app throttles what it tells the server). */
    onTyping: () => void,
    /** The members of the room on screen, for the `@` autocomplete. */
    members: () => readonly User[],
    meId: number,
  ) {
    this.autocomplete = new MentionAutocomplete(input, form, members, () => meId);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    input.addEventListener('keydown', (event) => {
      if (!event.isComposing && this.autocomplete.onKey(event)) {
        event.preventDefault();
        return;
      }
      // isComposing: Enter that confirms an IME candidate (Japanese, Chinese…) must not send.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    input.addEventListener('input', (event) => {
      this.refresh();
      // Only what the user typed (not the clearing after a send) says "typing".
      if (event.isTrusted && input.value.trim() !== '') onTyping();
    });
    this.refresh();
  }

  /** Applies the limit announced by the server. */
  setMaxChars(maxChars: number): void {
    this.maxChars = maxChars;
    this.refresh();
  }

  /** Says whether files are ready to send with the next message (they make an empty text sendable). */
  setHasAttachments(on: boolean): void {
    this.hasAttachments = on;
    this.refresh();
  }

  /**
   * Names the room (`#name`, or the people of a conversation) in the label and placeholder, and focuses the
   * input on devices with a real keyboard.
   */
  setRoom(title: string, focus: boolean): void {
    this.label.textContent = `Message ${title}`;
    this.input.placeholder = `Message ${title}`;
    this.autocomplete.close();
    if (focus) this.input.focus({ preventScroll: true });
  }

  private submit(): void {
    const body = this.input.value;
    if ((body.trim().length === 0 && !this.hasAttachments) || charCount(body) > this.maxChars) return;
    if (this.onSend(body)) {
      this.input.value = '';
      this.refresh();
    }
  }

  /** Resizes the textarea to its content and updates the counter and the send button. */
  private refresh(): void {
    const input = this.input;
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, MAX_HEIGHT_PX)}px`;
    input.classList.toggle('is-scrolling', input.scrollHeight > MAX_HEIGHT_PX);

    const count = charCount(input.value);
    const over = count > this.maxChars;
    this.counter.textContent = count >= this.maxChars * COUNTER_FROM ? `${count} / ${this.maxChars}` : '';
    this.counter.classList.toggle('is-over', over);
    this.sendButton.disabled = over || (input.value.trim().length === 0 && !this.hasAttachments);
  }
}
