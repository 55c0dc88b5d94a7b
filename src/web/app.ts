/**
 * The client's controller: holds the rooms and what is known of each, turns frames into state and state into
 * the views, and carries out the delivery rules of docs/protocol.md (resume by seq, gap healing, outbox).
 */
import { ApiError, createRoom, fetchRooms } from './api.js';
import { Composer } from './composer.js';
import { Connection, type ConnectionState } from './connection.js';
import { byId } from './dom.js';
import { loadName, saveName } from './identity.js';
import { Outbox, OUTBOX_KEY, type OutboxEntry } from './outbox.js';
import { PERMANENT_SEND_ERRORS, type ChatMessage, type ClientFrame, type Room, type ServerFrame } from './protocol.js';
import { RoomLog } from './room-log.js';
import { roomFromPath } from './routes.js';
import { isNarrow, roomPath, Sidebar } from './sidebar.js';
import { Timeline, type FailedSend, type ScrollIntent } from './timeline.js';
import { newClientMsgId } from './uuid.js';

/** Messages per history page (the newest on opening a room, then each older page). */
const PAGE_SIZE = 50;
/** Gap-filling pages are as large as the server allows, to catch up in few round trips. */
const GAP_PAGE_SIZE = 100;
/** Retry delays (ms) for sends the server could not store for now (store_unavailable, internal). */
const RESEND_FIRST_MS = 2_000;
const RESEND_MAX_MS = 30_000;
/** Remembers the last room opened, to reopen it at `/`. */
const LAST_ROOM_KEY = 'confab.lastRoom';

const PILL_TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

/** What a `history` request was for, to know what its answer means. */
type HistoryKind = 'initial' | 'older' | 'gap';

/** The running client. */
export class App {
  private readonly rooms = new Map<number, Room>();
  private readonly logs = new Map<number, RoomLog>();
  /** Rooms subscribed on the current socket (emptied when it is lost). */
  private readonly subscribed = new Set<number>();
  /** Unanswered `history` requests of the current socket, by request id. */
  private readonly requests = new Map<string, { kind: HistoryKind; room: number }>();
  private readonly failed = new Map<string, FailedSend>();
  private readonly outbox = new Outbox();
  private readonly connection: Connection;
  private readonly sidebar: Sidebar;
  private readonly timeline: Timeline;
  private readonly composer: Composer;
  private currentId: number | null = null;
  private roomsLoaded = false;
  private requestedName = loadName();
  private myName = this.requestedName;
  private requestCount = 0;
  private resendTimer: ReturnType<typeof setTimeout> | undefined;
  private resendDelay = RESEND_FIRST_MS;

  constructor() {
    this.connection = new Connection(() => this.socketUrl(), {
      onFrame: (frame) => this.onFrame(frame),
      onReady: (hello) => this.onReady(hello),
      onLost: () => this.onLost(),
      onState: (state) => this.showState(state),
    });
    this.sidebar = new Sidebar({
      onOpenRoom: (room) => this.openRoom(room, 'push'),
      onCreateRoom: (name) => this.createRoom(name),
      onRename: (name) => this.rename(name),
    });
    this.timeline = new Timeline(byId('timeline'), byId<HTMLOListElement>('messages'), byId('timeline-top'), {
      onWantOlder: () => this.requestOlder(),
      onDismiss: (clientMsgId) => {
        this.failed.delete(clientMsgId);
        this.renderRoom();
      },
    });
    this.composer = new Composer(
      byId<HTMLFormElement>('composer'),
      byId<HTMLTextAreaElement>('composer-input'),
      byId<HTMLLabelElement>('composer-label'),
      byId('char-counter'),
      byId<HTMLButtonElement>('send-button'),
      (body) => this.send(body),
    );
    this.sidebar.showName(this.myName);
    this.showState(this.connection.state);
    window.addEventListener('popstate', () => this.route());
    // Another tab of this browser changed the shared outbox: show its pending messages as they are now.
    window.addEventListener('storage', (event) => {
      if (event.key === OUTBOX_KEY) this.renderRoom();
    });
  }

  /** Connects and loads the rooms. */
  start(): void {
    this.connection.start();
    void this.loadRooms();
  }

  private socketUrl(): string {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws?name=${encodeURIComponent(this.requestedName)}`;
  }

  // ---- rooms and navigation ----

  /** Fetches the room list (at start and after every reconnect, for rooms created while away). */
  private async loadRooms(): Promise<void> {
    let rooms: Room[];
    try {
      rooms = await fetchRooms();
    } catch {
      // The next `hello` tries again; until then the list says it is loading.
      return;
    }
    for (const room of rooms) this.rooms.set(room.id, room);
    const first = !this.roomsLoaded;
    this.roomsLoaded = true;
    this.renderSidebar();
    if (first || this.currentId === null) this.route();
  }

  /** Opens the room the address names, or the last one used, or shows the empty state. */
  private route(): void {
    if (!this.roomsLoaded) return;
    const wanted = roomFromPath(location.pathname);
    if (wanted !== null) {
      const room = this.findRoom(wanted);
      if (room !== undefined) this.openRoom(room, 'none');
      else this.showEmpty(wanted);
      return;
    }
    const last = this.findRoom(readLastRoom() ?? '');
    const fallback = [...this.rooms.values()].sort((a, b) => a.name.localeCompare(b.name))[0];
    const room = last ?? fallback;
    if (room !== undefined) this.openRoom(room, 'replace');
    else this.showEmpty(null);
  }

  private findRoom(name: string): Room | undefined {
    const lower = name.toLowerCase();
    return [...this.rooms.values()].find((r) => r.name.toLowerCase() === lower);
  }

  private openRoom(room: Room, history: 'push' | 'replace' | 'none'): void {
    const path = roomPath(room.name);
    if (history !== 'none' && location.pathname !== path) {
      if (history === 'push') window.history.pushState(null, '', path);
      else window.history.replaceState(null, '', path);
    }
    this.sidebar.setDrawer(false);
    writeLastRoom(room.name);
    if (this.currentId === room.id) return;

    this.currentId = room.id;
    this.logFor(room.id).unread = 0;
    document.title = `#${room.name} · Confab`;
    byId('room-title').textContent = `#${room.name}`;
    byId('empty-state').hidden = true;
    byId('room-view').hidden = false;
    this.composer.setRoom(room.name, !isNarrow());
    this.timeline.clear();
    this.renderRoom('bottom');
    this.renderSidebar();
    this.ensureSubscribed(room.id);
  }

  /** No room to show: none exists yet (`missing` null), or the address names one that does not exist. */
  private showEmpty(missing: string | null): void {
    this.currentId = null;
    this.timeline.clear();
    document.title = 'Confab';
    byId('room-title').textContent = missing === null ? 'Confab' : `#${missing}`;
    byId('room-view').hidden = true;
    byId('empty-state').hidden = false;
    byId('empty-title').textContent = missing === null ? 'No rooms yet' : `There is no #${missing} yet`;
    byId('empty-text').textContent =
      missing === null ? 'Create the first room to start talking.' : 'Create it and invite others with this page’s address.';
    const action = byId<HTMLButtonElement>('empty-action');
    action.textContent = missing === null ? 'Create a room' : `Create #${missing}`;
    action.onclick = () => {
      if (missing === null) this.sidebar.focusCreate();
      else void this.createRoom(missing);
    };
    this.renderSidebar();
  }

  private async createRoom(name: string): Promise<string | null> {
    let room: Room;
    try {
      room = await createRoom(name);
    } catch (err) {
      return err instanceof ApiError ? err.message : 'Could not create the room';
    }
    this.rooms.set(room.id, room);
    this.openRoom(room, 'push');
    return null;
  }

  private rename(name: string): void {
    if (name === this.requestedName && name === this.myName) return;
    saveName(name);
    this.requestedName = name;
    // The name is fixed per connection (`/ws?name=`): a new one needs a new socket.
    this.connection.reconnectNow();
  }

  // ---- connection ----

  private onReady(hello: Extract<ServerFrame, { type: 'hello' }>): void {
    this.myName = hello.user.name;
    this.sidebar.showName(this.myName);
    this.composer.setMaxChars(hello.limits.maxMessageChars);
    this.resetSocketState();

    // Every room held resumes from its last seq; the server replays what was missed, then goes live.
    const held = [...this.logs.values()].filter((log) => log.loaded);
    if (held.length > 0) {
      this.sendFrame({ type: 'resume', id: this.nextId('r'), rooms: held.map((log) => ({ room: log.roomId, since: log.contiguousTop })) });
      for (const log of held) this.subscribed.add(log.roomId);
    }
    if (this.currentId !== null) this.ensureSubscribed(this.currentId);
    this.resendOutbox();
    void this.loadRooms();
    this.renderRoom();
  }

  private onLost(): void {
    this.resetSocketState();
    this.renderRoom();
  }

  /** Forgets what belonged to the previous socket: its subscriptions and unanswered requests. */
  private resetSocketState(): void {
    this.subscribed.clear();
    this.requests.clear();
  }

  private showState(state: ConnectionState): void {
    const pill = byId('conn-pill');
    pill.dataset.state = state;
    pill.textContent = PILL_TEXT[state];
  }

  private sendFrame(frame: ClientFrame): boolean {
    return this.connection.send(frame);
  }

  private nextId(prefix: string): string {
    return `${prefix}${++this.requestCount}`;
  }

  /** Subscribes the socket to `roomId` and, the first time, asks for its newest page. */
  private ensureSubscribed(roomId: number): void {
    if (!this.connection.isReady || this.subscribed.has(roomId)) return;
    const log = this.logFor(roomId);
    if (log.loaded) {
      this.sendFrame({ type: 'subscribe', id: this.nextId('s'), room: roomId, since: log.contiguousTop });
    } else {
      // Subscribe first, then ask for the page: whatever is stored in between comes by both ways, and the
      // log keeps one copy per seq.
      this.sendFrame({ type: 'subscribe', id: this.nextId('s'), room: roomId });
      this.requestHistory('initial', roomId, { limit: PAGE_SIZE });
    }
    this.subscribed.add(roomId);
  }

  private requestHistory(kind: HistoryKind, room: number, range: { before?: number; after?: number; limit: number }): boolean {
    const id = this.nextId('h');
    if (!this.sendFrame({ type: 'history', id, room, ...range })) return false;
    this.requests.set(id, { kind, room });
    return true;
  }

  private isRequested(kind: HistoryKind, room: number): boolean {
    for (const r of this.requests.values()) if (r.kind === kind && r.room === room) return true;
    return false;
  }

  /** Asks for the page before the oldest message of the room on screen. */
  private requestOlder(): void {
    const room = this.currentId;
    if (room === null) return;
    const log = this.logFor(room);
    if (!log.loaded || !log.hasOlder || log.minSeq <= 1 || this.isRequested('older', room)) return;
    if (this.requestHistory('older', room, { before: log.minSeq, limit: PAGE_SIZE })) this.renderRoom();
  }

  /** A message beyond the next expected seq arrived: fetch what lies between (repeated until no hole is left). */
  private healGap(room: number): void {
    const log = this.logFor(room);
    if (!log.hasGap || this.isRequested('gap', room)) return;
    this.requestHistory('gap', room, { after: log.contiguousTop, limit: GAP_PAGE_SIZE });
  }

  // ---- frames ----

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'message':
        this.onMessages(frame.room, [frame]);
        this.healGap(frame.room);
        break;
      case 'history':
        this.onHistory(frame);
        break;
      case 'ack':
        this.onAck(frame);
        break;
      case 'error':
        this.onError(frame);
        break;
      case 'room_created':
        this.rooms.set(frame.room.id, frame.room);
        this.renderSidebar();
        if (this.currentId === null) this.route();
        break;
      default:
        // hello (handled by onReady), subscribed, resumed, unsubscribed, pong: nothing to do.
        break;
    }
  }

  /** Adds messages to their room; returns how many were new. */
  private onMessages(roomId: number, messages: ChatMessage[]): number {
    const log = this.logFor(roomId);
    const added = log.add(messages);
    for (const m of added) {
      // Our own message proves its send arrived even if the ack was lost with a socket (or came to another tab).
      if (m.clientMsgId !== undefined) this.outbox.remove(m.clientMsgId);
    }
    if (added.length === 0) return 0;
    if (roomId === this.currentId) {
      this.renderRoom();
    } else if (log.loaded) {
      log.unread += added.filter((m) => m.author !== this.myName).length;
      this.renderSidebar();
    }
    return added.length;
  }

  private onHistory(frame: Extract<ServerFrame, { type: 'history' }>): void {
    const request = frame.id === undefined ? undefined : this.requests.get(frame.id);
    if (request === undefined) return;
    this.requests.delete(frame.id!);
    const log = this.logFor(frame.room);
    const added = this.onMessages(frame.room, frame.messages);
    if (request.kind === 'initial') {
      log.markLoaded(frame.hasMore);
      if (frame.room === this.currentId) this.renderRoom('bottom');
    } else if (request.kind === 'older') {
      log.hasOlder = frame.hasMore;
      if (frame.room === this.currentId) this.renderRoom();
    }
    // A page that brought nothing new cannot close the hole; stop rather than ask the same forever.
    if (request.kind !== 'older' && (request.kind === 'initial' || added > 0)) this.healGap(frame.room);
  }

  private onAck(frame: Extract<ServerFrame, { type: 'ack' }>): void {
    const entry = this.outbox.remove(frame.clientMsgId);
    this.resendDelay = RESEND_FIRST_MS;
    if (entry === undefined) return;
    const log = this.logFor(frame.room);
    if (log.loaded) {
      // Show the stored message now rather than wait for its `message` frame: no flicker between the two.
      this.onMessages(frame.room, [
        {
          type: 'message',
          room: frame.room,
          seq: frame.seq,
          id: frame.messageId,
          author: this.myName,
          body: entry.body,
          time: frame.time,
          clientMsgId: frame.clientMsgId,
        },
      ]);
      this.healGap(frame.room);
    }
    if (frame.room === this.currentId) this.renderRoom();
  }

  private onError(frame: Extract<ServerFrame, { type: 'error' }>): void {
    if (frame.id !== undefined) this.requests.delete(frame.id);
    if (frame.clientMsgId === undefined) return;
    if (PERMANENT_SEND_ERRORS.has(frame.code)) {
      const entry = this.outbox.remove(frame.clientMsgId);
      if (entry !== undefined) this.failed.set(entry.clientMsgId, { entry, error: frame.message });
      this.renderRoom();
    } else {
      // store_unavailable, internal: the message stays in the outbox and goes again later.
      this.scheduleResend();
    }
  }

  // ---- sending ----

  private send(body: string): boolean {
    const room = this.currentId;
    if (room === null) return false;
    const entry: OutboxEntry = { clientMsgId: newClientMsgId(), room, body, createdAt: Date.now() };
    // Stored before it is sent: if the page dies right now, the next load still sends it.
    this.outbox.add(entry);
    this.sendEntry(entry);
    this.renderRoom('bottom');
    return true;
  }

  private sendEntry(entry: OutboxEntry): void {
    this.sendFrame({ type: 'send', room: entry.room, clientMsgId: entry.clientMsgId, body: entry.body });
  }

  /** Sends every outbox entry again; the server answers a repeat with the message it already stored. */
  private resendOutbox(): void {
    for (const entry of this.outbox.entries()) this.sendEntry(entry);
  }

  private scheduleResend(): void {
    if (this.resendTimer !== undefined) return;
    const delay = this.resendDelay;
    this.resendDelay = Math.min(RESEND_MAX_MS, this.resendDelay * 2);
    this.resendTimer = setTimeout(() => {
      this.resendTimer = undefined;
      this.resendOutbox();
    }, delay);
  }

  // ---- rendering ----

  private logFor(roomId: number): RoomLog {
    let log = this.logs.get(roomId);
    if (log === undefined) {
      log = new RoomLog(roomId);
      this.logs.set(roomId, log);
    }
    return log;
  }

  private renderRoom(intent: ScrollIntent = 'follow'): void {
    const roomId = this.currentId;
    if (roomId === null) return;
    const room = this.rooms.get(roomId);
    const log = this.logFor(roomId);
    this.timeline.render(
      {
        roomName: room?.name ?? '',
        loaded: log.loaded,
        hasOlder: log.hasOlder,
        loadingOlder: this.isRequested('older', roomId),
        messages: log.sorted(),
        pending: this.outbox.forRoom(roomId),
        failed: [...this.failed.values()].filter((f) => f.entry.room === roomId),
        myName: this.myName,
      },
      intent,
    );
  }

  private renderSidebar(): void {
    this.sidebar.renderRooms({
      rooms: [...this.rooms.values()],
      currentId: this.currentId,
      unread: (id) => this.logs.get(id)?.unread ?? 0,
    });
  }
}

function readLastRoom(): string | null {
  try {
    return localStorage.getItem(LAST_ROOM_KEY);
  } catch {
    return null;
  }
}

function writeLastRoom(name: string): void {
  try {
    localStorage.setItem(LAST_ROOM_KEY, name);
  } catch {
    /* only a convenience */
  }
}
