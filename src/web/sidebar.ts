/**
 * The sidebar: the rooms and direct conversations of the signed-in user, the "New room" form, the user
 * menu in the footer, and, on narrow screens, the off-canvas drawer that holds them.
 */
import { byId, el, icon, ICONS } from './dom.js';
import type { Me, PresenceState, Room } from './protocol.js';
import { roomLabel, roomPath } from './rooms.js';

export { roomPath } from './rooms.js';

/** Below this width (px) the sidebar is a drawer; keep in step with the media query in styles.css. */
export const DRAWER_BREAKPOINT_PX = 720;

/** The server's room-name rule (docs/api.md): 1-64 letters, digits, `-`, `_`. */
const ROOM_NAME = /^[\p{L}\p{N}_-]{1,64}$/u;

/** Why `name` cannot be a new room's name given the rooms known, or null. */
export function roomNameProblem(name: string, rooms: Iterable<Room>): string | null {
  if (name.length === 0) return 'Enter a room name';
  if ([...name].length > 64) return 'At most 64 characters';
  if (!ROOM_NAME.test(name)) return 'Use letters, digits, "-" and "_" only';
  const lower = name.toLowerCase();
  for (const room of rooms) if (room.kind !== 'direct' && room.name.toLowerCase() === lower) return `#${room.name} already exists`;
  return null;
}

/** What the sidebar asks of the app. */
export interface SidebarEvents {
  onOpenRoom(room: Room): void;
  /** Creates a room; resolves to an error message to show, or null on success. */
  onCreateRoom(name: string, isPrivate: boolean): Promise<string | null>;
  onBrowse(): void;
  onNewMessage(): void;
  onSettings(): void;
  onEnableNotifications(): void;
  onSignOut(everywhere: boolean): void;
}

/** What the room lists show. */
export interface RoomListView {
  rooms: readonly Room[];
  currentId: number | null;
  unread: (roomId: number) => number;
  /** Unread messages that mention me. */
  mentions: (roomId: number) => number;
  /** For a conversation of two: the other person's presence. */
  presence: (room: Room) => PresenceState | null;
}

/** The sidebar and its drawer. */
export class Sidebar {
  private readonly list = byId<HTMLUListElement>('room-list');
  private readonly dmList = byId<HTMLUListElement>('dm-list');
  private readonly loading = byId<HTMLElement>('rooms-loading');
  private readonly createForm = byId<HTMLFormElement>('create-room-form');
  private readonly createInput = byId<HTMLInputElement>('create-room-name');
  private readonly createPrivate = byId<HTMLInputElement>('create-room-private');
  private readonly createError = byId<HTMLElement>('create-room-error');
  private readonly app = byId<HTMLElement>('app');
  private readonly scrim = byId<HTMLElement>('scrim');
  private readonly menuButton = byId<HTMLButtonElement>('menu-button');
  private readonly userButton = byId<HTMLButtonElement>('user-menu-button');
  private readonly userMenu = byId<HTMLElement>('user-menu');
  private knownRooms: readonly Room[] = [];

  constructor(
    private readonly me: Me,
    private readonly events: SidebarEvents,
  ) {
    this.createForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.create();
    });
    this.createInput.addEventListener('input', () => (this.createError.textContent = ''));
    byId('browse-button').addEventListener('click', () => this.thenClose(() => events.onBrowse()));
    byId('new-message-button').addEventListener('click', () => this.thenClose(() => events.onNewMessage()));

    // The user menu: who I am, settings and signing out.
    byId('me-display').textContent = me.displayName;
    byId('me-username').textContent = `@${me.username}`;
    byId('me-avatar').textContent = ([...me.displayName][0] ?? '?').toUpperCase();
    this.userButton.addEventListener('click', () => this.setUserMenu(this.userMenu.hidden));
    byId('notifications-button').addEventListener('click', () => {
      this.setUserMenu(false);
      events.onEnableNotifications();
    });
    byId('settings-button').addEventListener('click', () => {
      this.setUserMenu(false);
      this.thenClose(() => events.onSettings());
    });
    byId('signout-button').addEventListener('click', () => events.onSignOut(false));
    byId('signout-all-button').addEventListener('click', () => events.onSignOut(true));
    document.addEventListener('click', (event) => {
      const target = event.target as Node;
      if (!this.userMenu.hidden && !this.userMenu.contains(target) && !this.userButton.contains(target)) this.setUserMenu(false);
    });

    this.menuButton.addEventListener('click', () => this.setDrawer(!this.app.classList.contains('drawer-open')));
    this.scrim.addEventListener('click', () => this.setDrawer(false));
    byId<HTMLButtonElement>('drawer-close').addEventListener('click', () => this.setDrawer(false));
    document.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      if (!this.userMenu.hidden) this.setUserMenu(false);
      else if (this.app.classList.contains('drawer-open')) this.setDrawer(false);
    });
    // Growing past the breakpoint turns the drawer back into a plain sidebar.
    window.matchMedia(`(min-width: ${DRAWER_BREAKPOINT_PX + 1}px)`).addEventListener('change', (e) => {
      if (e.matches) this.setDrawer(false);
    });
  }

  /** Shows the rooms and conversations, marking the open one and the unread counts. */
  renderRooms(view: RoomListView): void {
    this.knownRooms = view.rooms;
    this.loading.hidden = true;
    const labelled = view.rooms.map((room) => ({ room, label: roomLabel(room, this.me.id) }));
    const byLabel = (a: { label: string }, b: { label: string }) => a.label.localeCompare(b.label);
    const rooms = labelled.filter((r) => r.room.kind !== 'direct').sort(byLabel);
    const dms = labelled.filter((r) => r.room.kind === 'direct').sort(byLabel);

    this.list.replaceChildren(...rooms.map((r) => this.item(r.room, r.label, view)));
    if (rooms.length === 0) this.list.append(el('li', { className: 'rooms-empty', text: 'No rooms yet. Browse or create one.' }));
    this.dmList.replaceChildren(...dms.map((r) => this.item(r.room, r.label, view)));
    if (dms.length === 0) this.dmList.append(el('li', { className: 'rooms-empty', text: 'No conversations yet.' }));
  }

  private item(room: Room, label: string, view: RoomListView): HTMLLIElement {
    const unread = view.unread(room.id);
    const mentions = view.mentions(room.id);
    const presence = view.presence(room);
    const marker =
      room.kind === 'direct'
        ? presence !== null
          ? el('span', {
              className: 'room-hash',
              attrs: { 'data-testid': 'presence' },
              children: [presenceDot(presence)],
            })
          : el('span', { className: 'room-hash room-dm', text: '@', attrs: { 'aria-hidden': 'true' } })
        : room.kind === 'private'
          ? el('span', { className: 'room-hash', attrs: { title: 'Private room', 'data-testid': 'lock' }, children: [icon(ICONS.lock)] })
          : el('span', { className: 'room-hash', text: '#', attrs: { 'aria-hidden': 'true' } });
    const link = el('a', {
      className: 'room-link',
      attrs: {
        href: roomPath(room.name),
        'data-testid': room.kind === 'direct' ? 'dm-link' : 'room-link',
        'data-room': room.name,
        'data-kind': room.kind,
      },
      children: [
        marker,
        room.kind === 'private' && el('span', { className: 'visually-hidden', text: 'Private room: ' }),
        el('span', { className: 'room-name', text: label }),
        mentions > 0 &&
          el('span', {
            className: 'badge badge-mention',
            text: `@${mentions > 99 ? '99+' : mentions}`,
            attrs: { 'aria-label': `${mentions} mentioning you`, 'data-testid': 'mention-badge' },
          }),
        unread > 0 &&
          el('span', {
            className: 'badge',
            text: unread > 99 ? '99+' : String(unread),
            attrs: { 'aria-label': `${unread} unread`, 'data-testid': 'unread-badge' },
          }),
      ],
    });
    if (room.id === view.currentId) link.setAttribute('aria-current', 'page');
    if (unread > 0) link.classList.add('has-unread');
    // A real link (middle-click, copy address) that opens in place on a plain click.
    link.addEventListener('click', (event) => {
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      this.events.onOpenRoom(room);
    });
    return el('li', { children: [link] });
  }

  /** Puts the cursor in the "New room" field, prefilled with `name` (opening the drawer on phones). */
  focusCreate(name = ''): void {
    if (isNarrow()) this.setDrawer(true);
    this.createInput.value = name;
    this.createInput.focus();
  }

  /** Opens or closes the drawer (narrow screens only; a no-op visually on wide ones). */
  setDrawer(open: boolean): void {
    const wasOpen = this.app.classList.contains('drawer-open');
    if (open === wasOpen) return;
    this.app.classList.toggle('drawer-open', open);
    this.scrim.hidden = !open;
    this.menuButton.setAttribute('aria-expanded', String(open));
    if (open) this.list.querySelector<HTMLElement>('[aria-current="page"], a')?.focus();
    else if (isNarrow()) this.menuButton.focus();
  }

  /** Opens a dialog from the drawer: the drawer closes first, so only the dialog is in front on a phone. */
  private thenClose(openDialog: () => void): void {
    this.setDrawer(false);
    openDialog();
  }

  private setUserMenu(open: boolean): void {
    this.userMenu.hidden = !open;
    this.userButton.setAttribute('aria-expanded', String(open));
    if (open) this.userMenu.querySelector<HTMLElement>('button')?.focus();
  }

  private async create(): Promise<void> {
    const name = this.createInput.value.trim();
    // Checked here first so the common mistakes answer instantly (and without a failed request in the console).
    const problem = roomNameProblem(name, this.knownRooms);
    if (problem !== null) {
      this.createError.textContent = problem;
      return;
    }
    const error = await this.events.onCreateRoom(name, this.createPrivate.checked);
    this.createError.textContent = error ?? '';
    if (error === null) {
      this.createInput.value = '';
      this.createPrivate.checked = false;
    }
  }
}

const PRESENCE_LABEL: Record<PresenceState, string> = { online: 'Online', away: 'Away', offline: 'Offline' };

/** A small coloured dot for a presence state (with its name for screen readers and on hover). */
export function presenceDot(state: PresenceState): HTMLElement {
  return el('span', {
    className: `presence-dot presence-${state}`,
    attrs: { role: 'img', 'aria-label': PRESENCE_LABEL[state], title: PRESENCE_LABEL[state], 'data-state': state },
  });
}

/** True when the sidebar is a drawer. */
export function isNarrow(): boolean {
  return window.innerWidth <= DRAWER_BREAKPOINT_PX;
}
