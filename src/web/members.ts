/**
 * The members panel of a room: who is in it; in a private room its owner invites, removes and hands the room
 * over; every member may leave (the server explains when the owner must hand over first).
 */
import { ApiError, fetchMembers, inviteMember, leaveRoom, removeMember, transferOwnership } from './api.js';
import { byId, el, wireDialog } from './dom.js';
import { lastSeenText } from './format.js';
import type { Me, Presence, Room, User } from './protocol.js';
import { presenceDot } from './sidebar.js';

/** What the panel tells the app. */
export interface MembersEvents {
  /** The room changed (new owner). */
  onRoomChanged(room: Room): void;
  /** What is known of a user's presence. */
  presenceOf(userId: number): Presence | undefined;
}

export class MembersPanel {
  private readonly dialog = byId<HTMLDialogElement>('members-dialog');
  private readonly title = byId('members-title');
  private readonly list = byId<HTMLUListElement>('members-list');
  private readonly error = byId('members-error');
  private readonly inviteForm = byId<HTMLFormElement>('invite-form');
  private readonly inviteInput = byId<HTMLInputElement>('invite-username');
  private readonly leaveButton = byId<HTMLButtonElement>('leave-button');
  private room: Room | null = null;
  private shown: User[] = [];

  constructor(
    private readonly me: Me,
    private readonly events: MembersEvents,
  ) {
    wireDialog(this.dialog);
    this.inviteForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.invite();
    });
    this.inviteInput.addEventListener('input', () => (this.error.textContent = ''));
    this.leaveButton.addEventListener('click', () => void this.leave());
  }

  /** The room shown, while the panel is open. */
  get roomId(): number | null {
    return this.dialog.open ? (this.room?.id ?? null) : null;
  }

  open(room: Room): void {
    this.room = room;
    this.error.textContent = '';
    this.inviteInput.value = '';
    this.list.replaceChildren(el('li', { className: 'item-note', text: 'Loading members…' }));
    this.render();
    this.dialog.showModal();
    void this.refresh();
  }

  close(): void {
    if (this.dialog.open) this.dialog.close();
  }

  /** The room changed while the panel is open (e.g. a new owner). */
  update(room: Room): void {
    if (this.room?.id !== room.id) return;
    this.room = room;
    this.render();
    void this.refresh();
  }

  private get isOwner(): boolean {
    return this.room !== null && this.room.kind === 'private' && this.room.ownerId === this.me.id;
  }

  private render(): void {
    const room = this.room!;
    this.title.textContent = `Members of #${room.name}`;
    this.inviteForm.hidden = !this.isOwner;
  }

  private async refresh(): Promise<void> {
    const room = this.room!;
    let members: User[];
    try {
      members = await fetchMembers(room.id);
    } catch (err) {
      this.error.textContent = err instanceof ApiError ? err.message : 'Could not load the members';
      return;
    }
    if (this.room?.id !== room.id) return;
    members.sort((a, b) => a.displayName.localeCompare(b.displayName));
    this.shown = members;
    this.list.replaceChildren(...members.map((m) => this.item(m)));
  }

  /** Presence changed: redraw the dots and "last seen" lines. */
  presenceChanged(): void {
    if (!this.dialog.open || this.shown.length === 0) return;
    this.list.replaceChildren(...this.shown.map((m) => this.item(m)));
  }

  private item(user: User): HTMLLIElement {
    const room = this.room!;
    const tags = [
      user.id === this.me.id && el('span', { className: 'tag', text: 'you' }),
      room.kind === 'private' && user.id === room.ownerId && el('span', { className: 'tag tag-owner', text: 'owner' }),
    ];
    const actions: HTMLElement[] = [];
    if (this.isOwner && user.id !== this.me.id) {
      actions.push(
        this.action('Make owner', 'make-owner', async () => {
          const updated = await transferOwnership(room.id, user.id);
          this.room = { ...room, ...updated };
          this.events.onRoomChanged(this.room);
          this.render();
        }),
        this.action('Remove', 'remove-member', () => removeMember(room.id, user.id), true),
      );
    }
    const presence = user.id === this.me.id ? { id: user.id, state: 'online' as const, lastSeen: null } : this.events.presenceOf(user.id);
    const seen =
      presence === undefined
        ? ''
        : presence.state === 'online'
          ? ' · online'
          : presence.state === 'away'
            ? ' · away'
            : presence.lastSeen !== null
              ? ` · last seen ${lastSeenText(presence.lastSeen)}`
              : ' · offline';
    return el('li', {
      className: 'item',
      attrs: { 'data-testid': 'member', 'data-username': user.username },
      children: [
        el('span', {
          className: 'avatar avatar-small avatar-with-dot',
          text: ([...user.displayName][0] ?? '?').toUpperCase(),
          children: [presence !== undefined && presenceDot(presence.state)],
        }),
        el('span', {
          className: 'item-main',
          children: [el('span', { text: user.displayName, attrs: { 'data-testid': 'member-name' } }), ...tags],
        }),
        el('span', { className: 'item-sub', text: `@${user.username}${seen}`, attrs: { 'data-testid': 'member-sub' } }),
        ...actions,
      ],
    });
  }

  private action(label: string, testId: string, run: () => Promise<unknown>, danger = false): HTMLButtonElement {
    const button = el('button', {
      className: `button button-small ${danger ? 'button-danger-quiet' : 'button-outline'}`,
      text: label,
      attrs: { type: 'button', 'data-testid': testId },
    });
    button.addEventListener('click', async () => {
      button.disabled = true;
      this.error.textContent = '';
      try {
        await run();
        await this.refresh();
      } catch (err) {
        button.disabled = false;
        this.error.textContent = err instanceof ApiError ? err.message : 'That did not work';
      }
    });
    return button;
  }

  private async invite(): Promise<void> {
    const room = this.room;
    const username = this.inviteInput.value.trim();
    if (room === null) return;
    if (username === '') {
      this.error.textContent = 'Enter a username';
      return;
    }
    try {
      await inviteMember(room.id, username);
      this.inviteInput.value = '';
      await this.refresh();
    } catch (err) {
      this.error.textContent = err instanceof ApiError ? err.message : 'Could not invite';
    }
  }

  private async leave(): Promise<void> {
    const room = this.room;
    if (room === null) return;
    this.error.textContent = '';
    try {
      await leaveRoom(room.id);
      // The server's room_removed takes the room out of the sidebar.
      this.close();
    } catch (err) {
      this.error.textContent = err instanceof ApiError ? err.message : 'Could not leave the room';
    }
  }
}
