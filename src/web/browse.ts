/** "Browse rooms": every public room, with Join (or Open for rooms already in the sidebar). */
import { ApiError, fetchPublicRooms, joinRoom } from './api.js';
import { byId, el, wireDialog } from './dom.js';
import type { Room } from './protocol.js';

/** What the dialog asks of the app. */
export interface BrowseEvents {
  isMember(roomId: number): boolean;
  /** A room was joined (or opened): show it. */
  onOpen(room: Room): void;
}

export class BrowseDialog {
  private readonly dialog = byId<HTMLDialogElement>('browse-dialog');
  private readonly list = byId<HTMLUListElement>('browse-list');
  private readonly error = byId('browse-error');

  constructor(private readonly events: BrowseEvents) {
    wireDialog(this.dialog);
  }

  get isOpen(): boolean {
    return this.dialog.open;
  }

  open(): void {
    this.error.textContent = '';
    this.list.replaceChildren(el('li', { className: 'item-note', text: 'Loading rooms…' }));
    this.dialog.showModal();
    void this.refresh();
  }

  /** Reloads the list (also when a public room is created while the dialog is open). */
  async refresh(): Promise<void> {
    let rooms: Room[];
    try {
      rooms = await fetchPublicRooms();
    } catch (err) {
      this.error.textContent = err instanceof ApiError ? err.message : 'Could not load the rooms';
      return;
    }
    rooms.sort((a, b) => a.name.localeCompare(b.name));
    this.list.replaceChildren(...rooms.map((room) => this.item(room)));
    if (rooms.length === 0) this.list.append(el('li', { className: 'item-note', text: 'No public rooms yet.' }));
  }

  private item(room: Room): HTMLLIElement {
    const member = this.events.isMember(room.id);
    const button = el('button', {
      className: member ? 'button button-small button-outline' : 'button button-small',
      text: member ? 'Open' : 'Join',
      attrs: { type: 'button', 'data-testid': member ? 'browse-open' : 'browse-join' },
    });
    button.addEventListener('click', async () => {
      if (member) {
        this.dialog.close();
        this.events.onOpen(room);
        return;
      }
      button.disabled = true;
      try {
        const joined = await joinRoom(room.id);
        this.dialog.close();
        this.events.onOpen(joined);
      } catch (err) {
        button.disabled = false;
        this.error.textContent = err instanceof ApiError ? err.message : 'Could not join the room';
      }
    });
    return el('li', {
      className: 'item',
      attrs: { 'data-testid': 'browse-room', 'data-room': room.name },
      children: [
        el('span', { className: 'item-hash', text: '#', attrs: { 'aria-hidden': 'true' } }),
        el('span', { className: 'item-main', text: room.name }),
        button,
      ],
    });
  }
}
