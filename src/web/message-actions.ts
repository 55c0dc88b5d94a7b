/**
 * What a reader can do with a message: the action bar (react, reply, edit, delete) that appears on hover,
 * keyboard focus or a tap, the inline editor (Enter saves, Esc cancels), and the confirmation before a delete.
 * The app carries the actions out (frames `edit`, `delete`, `react`; docs/protocol.md).
 */
import { el, icon, wireDialog } from './dom.js';
import type { ChatMessage } from './protocol.js';
import { stripBidiControls } from './rich-text.js';

/** An action chosen in the timeline. */
export type MessageAction =
  | { kind: 'edit'; message: ChatMessage; body: string }
  | { kind: 'delete'; message: ChatMessage }
  | { kind: 'react'; message: ChatMessage; emoji: string; on: boolean }
  | { kind: 'reply'; message: ChatMessage }
  /** Show the message with this seq of the room on screen (a reply's quote was clicked). */
  | { kind: 'jump'; seq: number };

/** What the action bar offers for one message. */
export interface ActionChoices {
  mayEdit: boolean;
  mayDelete: boolean;
  onReact(anchor: HTMLElement): void;
  onReply(): void;
  onEdit(): void;
  onDelete(): void;
}

/** Tallest the inline editor grows (px) before it scrolls. */
const EDITOR_MAX_HEIGHT_PX = 240;

const ACTION_ICONS = {
  react: 'M8 14s1.5 2 4 2 4-2 4-2M9 9h.01M15 9h.01M21 12a9 9 0 1 1-18 0 9 9 0 0 1 18 0Z',
  reply: 'M9 14 4 9l5-5M4 9h10.5a5.5 5.5 0 0 1 0 11H11',
  edit: 'M12 20h9M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4Z',
  delete: 'M3 6h18M8 6V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2m3 0v14a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V6',
} as const;

/** The action bar of a message (absolutely placed at its top right by styles.css). */
export function actionBar(choices: ActionChoices): HTMLElement {
  const bar = el('div', { className: 'msg-actions', attrs: { role: 'toolbar', 'aria-label': 'Message actions', 'data-testid': 'message-actions' } });
  const add = (name: keyof typeof ACTION_ICONS, label: string, run: (button: HTMLElement) => void) => {
    const button = el('button', {
      className: `msg-action msg-action--${name}`,
      attrs: { type: 'button', title: label, 'aria-label': label, 'data-testid': `action-${name}` },
      children: [icon(ACTION_ICONS[name])],
    });
    button.addEventListener('click', (event) => {
      event.stopPropagation();
      run(button);
    });
    bar.append(button);
  };
  add('react', 'Add reaction', (b) => choices.onReact(b));
  add('reply', 'Reply', () => choices.onReply());
  if (choices.mayEdit) add('edit', 'Edit', () => choices.onEdit());
  if (choices.mayDelete) add('delete', 'Delete', () => choices.onDelete());
  return bar;
}

/**
 * On touch screens there is no hover: a tap on a message (not on a link or button in it) shows its action bar,
 * and a tap elsewhere hides it again.
 */
export function wireTapToShowActions(list: HTMLElement): void {
  const touchOnly = window.matchMedia('(hover: none)');
  list.addEventListener('click', (event) => {
    // With a mouse, hover shows the bar; a click is for selecting text and must not pin it.
    if (!touchOnly.matches) return;
    const target = event.target as HTMLElement;
    if (target.closest('a, button, input, textarea, summary') !== null) return;
    const message = target.closest<HTMLElement>('.msg[data-seq]');
    for (const active of list.querySelectorAll('.msg.is-active')) if (active !== message) active.classList.remove('is-active');
    message?.classList.toggle('is-active');
  });
}

/** An open inline editor. */
export interface Editor {
  close(): void;
}

/**
 * Replaces the body of `item` by a textarea holding `message.body`. Enter saves (when the text changed and is
 * not empty), Shift+Enter is a new line, Esc cancels. `onSave` gets the new text; `onClose` runs either way.
 */
export function openEditor(item: HTMLElement, message: ChatMessage, maxChars: number, onSave: (body: string) => void, onClose: () => void): Editor | null {
  const body = item.querySelector<HTMLElement>('.msg-body');
  if (body === null) return null;
  const input = el('textarea', {
    className: 'msg-editor-input',
    attrs: { 'aria-label': 'Edit message', 'data-testid': 'edit-input', rows: '1', maxlength: String(maxChars * 2) },
  });
  input.value = message.body;
  const save = el('button', { className: 'button button-small', text: 'Save', attrs: { type: 'submit', 'data-testid': 'edit-save' } });
  const cancel = el('button', { className: 'button button-small button-plain', text: 'Cancel', attrs: { type: 'button', 'data-testid': 'edit-cancel' } });
  const form = el('form', {
    className: 'msg-editor',
    attrs: { 'data-testid': 'message-editor' },
    children: [input, el('div', { className: 'msg-editor-bar', children: [el('span', { className: 'msg-editor-hint', text: 'Enter to save · Esc to cancel' }), cancel, save] })],
  });
  body.hidden = true;
  body.after(form);
  item.dataset.editing = 'true';
  const grow = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, EDITOR_MAX_HEIGHT_PX)}px`;
  };

  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    const hadFocus = form.contains(document.activeElement);
    form.remove();
    body.hidden = false;
    delete item.dataset.editing;
    // Back where the person was typing before (Up arrow in the composer is the usual way in).
    if (hadFocus) document.getElementById('composer-input')?.focus({ preventScroll: true });
    onClose();
  };
  const submit = () => {
    const text = input.value;
    if (text.trim() !== '' && text !== message.body && [...text].length <= maxChars) onSave(text);
    if (text.trim() !== '' && [...text].length <= maxChars) close();
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  cancel.addEventListener('click', close);
  input.addEventListener('input', grow);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      close();
    } else if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  grow();
  input.focus({ preventScroll: true });
  input.setSelectionRange(input.value.length, input.value.length);
  input.scrollIntoView({ block: 'nearest' });
  return { close };
}

let deleteDialog: HTMLDialogElement | null = null;

/** Asks "Delete this message?"; resolves true when confirmed. */
export function confirmDelete(message: ChatMessage, mine: boolean): Promise<boolean> {
  if (deleteDialog === null) {
    deleteDialog = el('dialog', {
      className: 'dialog',
      attrs: { 'aria-labelledby': 'delete-title', 'data-testid': 'delete-dialog' },
      children: [
        el('div', {
          className: 'dialog-head',
          children: [
            el('h2', { text: 'Delete message?', attrs: { id: 'delete-title' } }),
            el('button', { className: 'icon-button dialog-close', text: '×', attrs: { type: 'button', 'aria-label': 'Close', 'data-close': '' } }),
          ],
        }),
        el('div', {
          className: 'dialog-body',
          children: [
            el('p', { className: 'delete-text' }),
            el('blockquote', { className: 'delete-excerpt' }),
            el('div', {
              className: 'dialog-actions',
              children: [
                el('button', { className: 'button button-plain', text: 'Cancel', attrs: { type: 'button', 'data-close': '', 'data-testid': 'delete-cancel' } }),
                el('button', { className: 'button button-danger', text: 'Delete', attrs: { type: 'button', 'data-testid': 'delete-confirm' } }),
              ],
            }),
          ],
        }),
      ],
    });
    document.body.append(deleteDialog);
    wireDialog(deleteDialog);
  }
  const dialog = deleteDialog;
  dialog.querySelector('.delete-text')!.textContent = mine
    ? 'Everyone in the room will see “This message was deleted” instead. This cannot be undone.'
    : `This message by ${message.author} will be replaced by “This message was deleted” for everyone. This cannot be undone.`;
  dialog.querySelector('.delete-excerpt')!.textContent = stripBidiControls(message.body);
  return new Promise((resolve) => {
    const confirm = dialog.querySelector<HTMLButtonElement>('[data-testid="delete-confirm"]')!;
    let confirmed = false;
    const onConfirm = () => {
      confirmed = true;
      dialog.close();
    };
    confirm.addEventListener('click', onConfirm, { once: true });
    dialog.addEventListener(
      'close',
      () => {
        confirm.removeEventListener('click', onConfirm);
        resolve(confirmed);
      },
      { once: true },
    );
    dialog.showModal();
    confirm.focus();
  });
}
