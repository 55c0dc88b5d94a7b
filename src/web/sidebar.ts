/**
 * The sidebar: the room list, the "New room" form, the "Your name" form, and, on narrow screens, the
 * off-canvas drawer that holds them.
 */
import { byId, el } from './dom.js';
import { nameProblem } from './identity.js';
import type { Room } from './protocol.js';

/** Below this width (px) the sidebar is a drawer; keep in step with the media query in styles.css. */
export const DRAWER_BREAKPOINT_PX = 720;

/** The server's room-name rule (docs/protocol.md): 1-64 letters, digits, `-`, `_`. */
const ROOM_NAME = /^[\p{L}\p{N}_-]{1,64}$/u;

/** Why `name` cannot be a new room's name given the rooms known, or null. */
export function roomNameProblem(name: string, rooms: Iterable<Room>): string | null {
  if (name.length === 0) return 'Enter a room name';
  if ([...name].length > 64) return 'At most 64 characters';
  if (!ROOM_NAME.test(name)) return 'Use letters, digits, "-" and "_" only';
  const lower = name.toLowerCase();
  for (const room of rooms) if (room.name.toLowerCase() === lower) return `#${room.name} already exists`;
  return null;
}

/** What the sidebar asks of the app. */
export interface SidebarEvents {
  onOpenRoom(room: Room): void;
  /** Creates a room; resolves to an error message to show, or null on success. */
  onCreateRoom(name: string): Promise<string | null>;
  onRename(name: string): void;
}

/** What the room list shows. */
export interface RoomListView {
  rooms: readonly Room[];
  currentId: number | null;
  unread: (roomId: number) => number;
}

/** The sidebar and its drawer. */
export class Sidebar {
  private readonly list = byId<HTMLUListElement>('room-list');
  private readonly loading = byId<HTMLElement>('rooms-loading');
  private readonly createForm = byId<HTMLFormElement>('create-room-form');
  private readonly createInput = byId<HTMLInputElement>('create-room-name');
  private readonly createError = byId<HTMLElement>('create-room-error');
  private readonly nameForm = byId<HTMLFormElement>('name-form');
  private readonly nameInput = byId<HTMLInputElement>('name-input');
  private readonly nameError = byId<HTMLElement>('name-error');
  private readonly app = byId<HTMLElement>('app');
  private readonly scrim = byId<HTMLElement>('scrim');
  private readonly menuButton = byId<HTMLButtonElement>('menu-button');
  private knownRooms: readonly Room[] = [];

  constructor(private readonly events: SidebarEvents) {
    this.createForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.create();
    });
    this.createInput.addEventListener('input', () => (this.createError.textContent = ''));
    this.nameForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.rename();
    });
    this.nameInput.addEventListener('input', () => (this.nameError.textContent = ''));

    this.menuButton.addEventListener('click', () => this.setDrawer(!this.app.classList.contains('drawer-open')));
    this.scrim.addEventListener('click', () => this.setDrawer(false));
    byId<HTMLButtonElement>('drawer-close').addEventListener('click', () => this.setDrawer(false));
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.app.classList.contains('drawer-open')) this.setDrawer(false);
    });
    // Growing past the breakpoint turns the drawer back into a plain sidebar.
    window.matchMedia(`(min-width: ${DRAWER_BREAKPOINT_PX + 1}px)`).addEventListener('change', (e) => {
      if (e.matches) this.setDrawer(false);
    });
  }

  /** Shows the rooms, marking the open one and the unread counts. */
  renderRooms(view: RoomListView): void {
    this.knownRooms = view.rooms;
    this.loading.hidden = true;
    const items = [...view.rooms]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((room) => {
        const unread = room.id === view.currentId ? 0 : view.unread(room.id);
        const link = el('a', {
          className: 'room-link',
          attrs: { href: roomPath(room.name), 'data-testid': 'room-link', 'data-room': room.name },
          children: [
            el('span', { className: 'room-hash', text: '#', attrs: { 'aria-hidden': 'true' } }),
            el('span', { className: 'room-name', text: room.name }),
            unread > 0 && el('span', { className: 'badge', text: unread > 99 ? '99+' : String(unread), attrs: { 'aria-label': `${unread} unread` } }),
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
      });
    this.list.replaceChildren(...items);
    if (items.length === 0) {
      this.list.append(el('li', { className: 'rooms-empty', text: 'No rooms yet. Create one below.' }));
    }
  }

  /** Shows the name the server actually uses. */
  showName(name: string): void {
    if (document.activeElement !== this.nameInput) this.nameInput.value = name;
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

  private async create(): Promise<void> {
    const name = this.createInput.value.trim();
    // Checked here first so the common mistakes answer instantly (and without a failed request in the console).
    const problem = roomNameProblem(name, this.knownRooms);
    if (problem !== null) {
      this.createError.textContent = problem;
      return;
    }
    const error = await this.events.onCreateRoom(name);
    this.createError.textContent = error ?? '';
    if (error === null) this.createInput.value = '';
  }

  private rename(): void {
    const name = this.nameInput.value.trim();
    const problem = nameProblem(name);
    if (problem !== null) {
      this.nameError.textContent = problem;
      return;
    }
    this.nameInput.blur();
    this.events.onRename(name);
  }
}

/** The address of a room's page. */
export function roomPath(name: string): string {
  return `/chat/${encodeURIComponent(name)}/`;
}

/** True when the sidebar is a drawer. */
export function isNarrow(): boolean {
  return window.innerWidth <= DRAWER_BREAKPOINT_PX;
}
