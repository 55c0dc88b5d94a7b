/**
 * "New message": search people (debounced), pick one or several (a group conversation of up to 8 people,
 * me included), and open the one conversation of exactly those people.
 */
import { ApiError, openDirect, searchUsers } from './api.js';
import { byId, el, wireDialog } from './dom.js';
import type { Me, Room, User } from './protocol.js';

/** Most other people in one conversation (the server allows 8 members, me included). */
export const MAX_DM_PEOPLE = 7;
/** Quiet time after typing before the search is sent. */
const SEARCH_DEBOUNCE_MS = 250;

export class NewMessageDialog {
  private readonly dialog = byId<HTMLDialogElement>('dm-dialog');
  private readonly form = byId<HTMLFormElement>('dm-form');
  private readonly search = byId<HTMLInputElement>('dm-search');
  private readonly results = byId<HTMLUListElement>('dm-results');
  private readonly chips = byId<HTMLUListElement>('dm-chips');
  private readonly error = byId('dm-error');
  private readonly start = byId<HTMLButtonElement>('dm-start');
  private picked: User[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Counts searches so that a slow answer to an older query never replaces a newer one. */
  private searchCount = 0;

  constructor(
    private readonly me: Me,
    private readonly onOpened: (room: Room) => void,
  ) {
    wireDialog(this.dialog);
    this.search.addEventListener('input', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.runSearch(), SEARCH_DEBOUNCE_MS);
    });
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.submit();
    });
  }

  open(): void {
    this.picked = [];
    this.search.value = '';
    this.error.textContent = '';
    this.results.replaceChildren();
    this.renderPicked();
    this.dialog.showModal();
    this.search.focus();
  }

  private async runSearch(): Promise<void> {
    const q = this.search.value.trim();
    const n = ++this.searchCount;
    if (q === '') {
      this.results.replaceChildren();
      return;
    }
    let users: User[];
    try {
      users = await searchUsers(q);
    } catch (err) {
      if (n === this.searchCount) this.error.textContent = err instanceof ApiError ? err.message : 'Search failed';
      return;
    }
    if (n !== this.searchCount) return;
    const shown = users.filter((u) => u.id !== this.me.id && !this.picked.some((p) => p.id === u.id));
    this.results.replaceChildren(...shown.map((u) => this.result(u)));
    if (shown.length === 0) this.results.append(el('li', { className: 'item-note', text: `Nobody matches “${q}”.` }));
  }

  private result(user: User): HTMLLIElement {
    const button = el('button', {
      className: 'item item-button',
      attrs: { type: 'button', 'data-testid': 'dm-result', 'data-username': user.username },
      children: [
        el('span', { className: 'avatar avatar-small', text: initial(user.displayName), attrs: { 'aria-hidden': 'true' } }),
        el('span', { className: 'item-main', text: user.displayName }),
        el('span', { className: 'item-sub', text: `@${user.username}` }),
      ],
    });
    button.addEventListener('click', () => {
      if (this.picked.length >= MAX_DM_PEOPLE) {
        this.error.textContent = `A conversation has at most ${MAX_DM_PEOPLE + 1} people, you included`;
        return;
      }
      this.picked.push(user);
      this.search.value = '';
      this.results.replaceChildren();
      this.renderPicked();
      this.search.focus();
    });
    return el('li', { children: [button] });
  }

  private renderPicked(): void {
    this.chips.replaceChildren(
      ...this.picked.map((user) => {
        const remove = el('button', {
          className: 'chip-remove',
          text: '×',
          attrs: { type: 'button', 'aria-label': `Remove ${user.displayName}` },
        });
        remove.addEventListener('click', () => {
          this.picked = this.picked.filter((p) => p.id !== user.id);
          this.renderPicked();
        });
        return el('li', {
          className: 'chip',
          attrs: { 'data-testid': 'dm-chip' },
          children: [el('span', { text: user.displayName }), remove],
        });
      }),
    );
    this.chips.hidden = this.picked.length === 0;
    this.start.disabled = this.picked.length === 0;
    this.start.textContent = this.picked.length > 1 ? 'Start group conversation' : 'Start conversation';
    this.error.textContent = '';
  }

  private async submit(): Promise<void> {
    if (this.picked.length === 0) return;
    this.start.disabled = true;
    try {
      const room = await openDirect(this.picked.map((u) => u.username));
      this.dialog.close();
      this.onOpened(room);
    } catch (err) {
      this.error.textContent = err instanceof ApiError ? err.message : 'Could not start the conversation';
    } finally {
      this.start.disabled = this.picked.length === 0;
    }
  }
}

function initial(name: string): string {
  return ([...name][0] ?? '?').toUpperCase();
}
