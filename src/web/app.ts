/**
 * The client's controller: holds the rooms and what is known of each, turns frames into state and state into
 * the views, and carries out the delivery rules of docs/protocol.md (resume by seq, gap healing, outbox).
 */
import { ApiError, createRoom, fetchMe, fetchPublicRooms, fetchRooms, joinRoom, signOut } from './api.js';
import { BrowseDialog } from './browse.js';
import { Composer } from './composer.js';
import { Connection, type ConnectionState } from './connection.js';
import { byId, icon, ICONS } from './dom.js';
import { MembersPanel } from './members.js';
import { NewMessageDialog } from './new-message.js';
import { Outbox, outboxKey, type OutboxEntry } from './outbox.js';
import { PERMANENT_SEND_ERRORS, type ChatMessage, type ClientFrame, type Me, type Room, type ServerFrame } from './protocol.js';
import { RoomLog } from './room-log.js';
import { roomTitle } from './rooms.js';
import { roomFromPath } from './routes.js';
import { SettingsDialog } from './settings.js';
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
/** Remembers the last room opened, to reopen it at `/` (per user: one browser may hold several accounts in turn). */
const lastRoomKey = (userId: number) => `confab.lastRoom.${userId}`;
/** After this many failed connection attempts in a row, ask the HTTP API whether the session is still valid. */
const CHECK_SESSION_AFTER_FAILURES = 3;

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
  private readonly outbox: Outbox;
  private readonly connection: Connection;
  private readonly sidebar: Sidebar;
  private readonly timeline: Timeline;
  private readonly composer: Composer;
  private readonly browse: BrowseDialog;
  private readonly newMessage: NewMessageDialog;
  private readonly members: MembersPanel;
  private readonly settings: SettingsDialog;
  private currentId: number | null = null;
  private roomsLoaded = false;
  private signingOut = false;
  private requestCount = 0;
  private resendTimer: ReturnType<typeof setTimeout> | undefined;
  private resendDelay = RESEND_FIRST_MS;

  constructor(private readonly me: Me) {
    this.outbox = new Outbox(me.id);
    this.connection = new Connection(() => this.socketUrl(), {
      onFrame: (frame) => this.onFrame(frame),
      onReady: (hello) => this.onReady(hello),
      onLost: () => this.onLost(),
      onState: (state) => this.showState(state),
      onSignedOut: () => void this.checkSession(true),
      onAttemptFailed: (failures) => {
        if (failures % CHECK_SESSION_AFTER_FAILURES === 0) void this.checkSession();
      },
    });
    this.sidebar = new Sidebar(me, {
      onOpenRoom: (room) => this.openRoom(room, 'push'),
      onCreateRoom: (name, isPrivate) => this.createRoom(name, isPrivate),
      onBrowse: () => this.browse.open(),
      onNewMessage: () => this.newMessage.open(),
      onSettings: () => this.settings.open(),
      onSignOut: (everywhere) => void this.signOut(everywhere),
    });
    this.browse = new BrowseDialog({
      isMember: (id) => this.rooms.has(id),
      onOpen: (room) => this.addAndOpen(room),
    });
    this.newMessage = new NewMessageDialog(me, (room) => this.addAndOpen(room));
    this.members = new MembersPanel(me, {
      onRoomChanged: (room) => {
        this.rooms.set(room.id, { ...this.rooms.get(room.id), ...room });
        this.renderSidebar();
      },
    });
    this.settings = new SettingsDialog();
    byId('members-button').prepend(icon(ICONS.users));
    byId('members-button').addEventListener('click', () => {
      const room = this.currentId === null ? undefined : this.rooms.get(this.currentId);
      if (room !== undefined) this.members.open(room);
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
    this.showState(this.connection.state);
    window.addEventListener('popstate', () => void this.route());
    // Another tab of this browser changed the shared outbox: show its pending messages as they are now.
    window.addEventListener('storage', (event) => {
      if (event.key === outboxKey(me.id)) this.renderRoom();
    });
  }

  /** Shows the app, connects and loads the rooms. */
  start(): void {
    byId('app').hidden = false;
    this.connection.start();
    void this.loadRooms();
  }

  /** The session cookie authenticates the socket: no credential in the URL. */
  private socketUrl(): string {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws`;
  }

  // ---- the session ----

  private async signOut(everywhere: boolean): Promise<void> {
    if (this.signingOut) return;
    this.signingOut = true;
    try {
      await signOut(everywhere);
    } catch (err) {
      // Already signed out (401) is what was wanted; anything else leaves the user signed in.
      if (!(err instanceof ApiError && err.status === 401)) {
        this.signingOut = false;
        this.showNotice(err instanceof ApiError ? err.message : 'Could not sign out');
        return;
      }
    }
    // Unsent messages and the last room belong to this account, not to whoever signs in next here.
    this.outbox.clear();
    writeLastRoom(this.me.id, null);
    this.toSignIn();
  }

  /** The session is over: a fresh page load shows the sign-in screen (and no state of this user is left). */
  private toSignIn(): void {
    this.connection.stop();
    location.assign('/');
  }

  /**
   * Whether this browser is still signed in: when the API says the session is gone (signed out elsewhere,
   * expired), go to sign-in. `reconnect`: the server closed the socket for a revoked session, and the cookie
   * may already hold a newer one (this tab changed the password), so connect again with it.
   */
  private async checkSession(reconnect = false): Promise<void> {
    try {
      if ((await fetchMe()) === null) {
        this.toSignIn();
        return;
      }
    } catch {
      /* the server is unreachable: the connection keeps trying */
    }
    if (reconnect) this.connection.reconnectNow();
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
    // The list is the truth: rooms left or removed while away go, new ones come.
    const ids = new Set(rooms.map((r) => r.id));
    for (const id of [...this.rooms.keys()]) if (!ids.has(id)) this.forgetRoom(id);
    for (const room of rooms) this.rooms.set(room.id, room);
    const first = !this.roomsLoaded;
    this.roomsLoaded = true;
    this.renderSidebar();
    for (const room of rooms) this.ensureSubscribed(room.id);
    if (first || this.currentId === null) await this.route();
  }

  /** Opens the room the address names, or the last one used, or shows the empty state. */
  private async route(): Promise<void> {
    if (!this.roomsLoaded) return;
    const wanted = roomFromPath(location.pathname);
    if (wanted !== null) {
      const room = this.findRoom(wanted);
      if (room !== undefined) {
        this.openRoom(room, 'none');
        return;
      }
      // A public room not joined yet can be joined from its address; anything else is "not found".
      const open = wanted.startsWith('@') ? [] : await fetchPublicRooms().catch(() => [] as Room[]);
      if (roomFromPath(location.pathname) !== wanted) return; // navigated elsewhere meanwhile
      const pub = open.find((r) => r.name.toLowerCase() === wanted.toLowerCase());
      this.showEmpty(pub !== undefined ? { join: pub } : { missing: wanted });
      return;
    }
    this.openFallback('replace');
  }

  /** Opens the last room used, or the first in the sidebar, or shows the empty state. */
  private openFallback(history: 'push' | 'replace'): void {
    const last = this.findRoom(readLastRoom(this.me.id) ?? '');
    const fallback = [...this.rooms.values()]
      .filter((r) => r.kind !== 'direct')
      .sort((a, b) => a.name.localeCompare(b.name))[0] ?? [...this.rooms.values()][0];
    const room = last ?? fallback;
    if (room !== undefined) this.openRoom(room, history);
    else {
      if (history === 'replace') window.history.replaceState(null, '', '/');
      else window.history.pushState(null, '', '/');
      this.showEmpty(null);
    }
  }

  /** A room the user just joined or a conversation just opened: into the sidebar, and on screen. */
  private addAndOpen(room: Room): void {
    const known = this.rooms.get(room.id);
    this.rooms.set(room.id, { ...known, ...room });
    this.renderSidebar();
    this.ensureSubscribed(room.id);
    this.openRoom(this.rooms.get(room.id)!, 'push');
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
    writeLastRoom(this.me.id, room.name);
    if (this.currentId === room.id) return;

    this.currentId = room.id;
    const log = this.logFor(room.id);
    log.unread = 0;
    this.renderHeader(room);
    byId('empty-state').hidden = true;
    byId('room-view').hidden = false;
    this.composer.setRoom(roomTitle(room, this.me.id), !isNarrow());
    this.timeline.clear();
    this.renderRoom('bottom');
    this.renderSidebar();
    this.ensureSubscribed(room.id);
    // The newest page, the first time the room is on screen (live messages may already be held).
    if (!log.loaded && !this.isRequested('initial', room.id)) this.requestHistory('initial', room.id, { limit: PAGE_SIZE });
  }

  private renderHeader(room: Room | null, title?: string): void {
    const heading = byId('room-title');
    const text = room === null ? (title ?? 'Confab') : roomTitle(room, this.me.id);
    document.title = room === null && title === undefined ? 'Confab' : `${text} · Confab`;
    heading.replaceChildren();
    if (room?.kind === 'private') {
      const lock = icon(ICONS.lock, 'icon title-lock');
      heading.append(lock);
      heading.title = 'Private room';
    } else heading.removeAttribute('title');
    heading.append(text);
    byId('members-button').hidden = room === null || room.kind === 'direct';
  }

  /** Shows a short notice above the room (e.g. "you were removed"), until the next one or a while. */
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;
  private showNotice(text: string): void {
    const notice = byId('notice');
    notice.textContent = text;
    notice.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => (notice.hidden = true), 8000);
  }

  /**
   * No room to show: the user is in none yet (null), the address names a public room they have not joined
   * (`join`), or one that does not exist or that they may not see (`missing`: the server answers both alike).
   */
  private showEmpty(what: null | { join: Room } | { missing: string }): void {
    this.currentId = null;
    this.timeline.clear();
    byId('room-view').hidden = true;
    byId('empty-state').hidden = false;
    const title = byId('empty-title');
    const text = byId('empty-text');
    const action = byId<HTMLButtonElement>('empty-action');
    if (what === null) {
      this.renderHeader(null);
      title.textContent = 'No rooms yet';
      text.textContent = 'Browse the public rooms, create one, or send someone a direct message.';
      action.textContent = 'Browse rooms';
      action.onclick = () => this.browse.open();
    } else if ('join' in what) {
      const room = what.join;
      this.renderHeader(null, `#${room.name}`);
      title.textContent = `You are not in #${room.name}`;
      text.textContent = 'It is a public room: join it to read and post.';
      action.textContent = `Join #${room.name}`;
      action.onclick = async () => {
        try {
          this.addAndOpen(await joinRoom(room.id));
        } catch (err) {
          this.showNotice(err instanceof ApiError ? err.message : 'Could not join the room');
        }
      };
    } else {
      const name = what.missing;
      const direct = name.startsWith('@');
      this.renderHeader(null, direct ? 'Not found' : `#${name}`);
      title.textContent = direct ? 'Conversation not found' : `#${name} not found`;
      text.textContent = direct
        ? 'It does not exist, or you are not in it.'
        : 'There is no such room, or it is private and you are not a member.';
      action.textContent = direct ? 'Back to your rooms' : `Create #${name}`;
      action.onclick = () => {
        if (direct) this.openFallback('push');
        else void this.createRoom(name, false).then((error) => error !== null && this.showNotice(error));
      };
    }
    this.renderSidebar();
  }

  private async createRoom(name: string, isPrivate: boolean): Promise<string | null> {
    let room: Room;
    try {
      room = await createRoom(name, isPrivate);
    } catch (err) {
      return err instanceof ApiError ? err.message : 'Could not create the room';
    }
    this.addAndOpen(room);
    return null;
  }

  /** A room left the sidebar (left, removed by its owner): forget it, and leave it if it is on screen. */
  private forgetRoom(roomId: number): void {
    const room = this.rooms.get(roomId);
    this.rooms.delete(roomId);
    this.subscribed.delete(roomId);
    this.logs.delete(roomId);
    for (const [id, r] of this.requests) if (r.room === roomId) this.requests.delete(id);
    if (this.members.roomId === roomId) this.members.close();
    if (this.currentId === roomId) {
      this.currentId = null;
      const name = room === undefined ? 'this room' : room.kind === 'direct' ? 'this conversation' : `#${room.name}`;
      this.showNotice(`You are no longer a member of ${name}.`);
      this.openFallback('push');
    }
    this.renderSidebar();
  }

  // ---- connection ----

  private onReady(hello: Extract<ServerFrame, { type: 'hello' }>): void {
    this.composer.setMaxChars(hello.limits.maxMessageChars);
    this.resetSocketState();

    // Every room of the sidebar resumes from its last seq; the server replays what was missed, then goes live.
    const held = [...this.rooms.keys()];
    if (held.length > 0) {
      this.sendFrame({ type: 'resume', id: this.nextId('r'), rooms: held.map((id) => ({ room: id, since: this.sinceOf(id) })) });
      for (const id of held) this.subscribed.add(id);
    }
    // A first page asked on the lost socket will never be answered: ask again.
    if (this.currentId !== null && !this.logFor(this.currentId).loaded) {
      this.requestHistory('initial', this.currentId, { limit: PAGE_SIZE });
    }
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

  /**
   * Subscribes the socket to `roomId`. Every room of the sidebar is subscribed, opened or not, so that the
   * first message of a new conversation arrives live and unread counts stay true.
   */
  private ensureSubscribed(roomId: number): void {
    if (!this.connection.isReady || this.subscribed.has(roomId) || !this.rooms.has(roomId)) return;
    this.sendFrame({ type: 'subscribe', id: this.nextId('s'), room: roomId, since: this.sinceOf(roomId) });
    this.subscribed.add(roomId);
  }

  /**
   * The last seq held of a room: for a room on screen, the top of its gapless run; for one never opened,
   * the newest seq it had when the sidebar learnt of it (or of what arrived since), so only news replays.
   */
  private sinceOf(roomId: number): number {
    const log = this.logFor(roomId);
    if (log.loaded) return log.contiguousTop;
    log.tailSince ??= this.rooms.get(roomId)?.lastSeq ?? 0;
    return Math.max(log.tailSince, log.maxSeq);
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
        this.onMessages(frame.room, [frame], true);
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
        // Public rooms of anyone: they belong under "Browse", not in the sidebar (own ones come as room_added).
        if (this.browse.isOpen) void this.browse.refresh();
        break;
      case 'room_added': {
        const known = this.rooms.get(frame.room.id);
        this.rooms.set(frame.room.id, { ...known, ...frame.room });
        this.renderSidebar();
        // Into the sidebar (with a badge when messages come), never opened uninvited.
        this.ensureSubscribed(frame.room.id);
        break;
      }
      case 'room_removed':
        this.forgetRoom(frame.room);
        break;
      default:
        // hello (handled by onReady), subscribed, resumed, unsubscribed, pong: nothing to do.
        break;
    }
  }

  /** Adds messages to their room (`live`: not a history page, so news for the badge); returns how many were new. */
  private onMessages(roomId: number, messages: ChatMessage[], live = false): number {
    // A room no longer in the sidebar: a late frame of a room just left.
    if (!this.rooms.has(roomId)) return 0;
    const log = this.logFor(roomId);
    const added = log.add(messages);
    for (const m of added) {
      // Our own message proves its send arrived even if the ack was lost with a socket (or came to another tab).
      if (m.clientMsgId !== undefined) this.outbox.remove(m.clientMsgId);
    }
    if (added.length === 0) return 0;
    if (roomId === this.currentId) {
      this.renderRoom();
    } else if (live) {
      log.unread += added.filter((m) => m.authorId !== this.me.id).length;
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
          authorId: this.me.id,
          author: this.me.displayName,
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
      // rate_limited, store_unavailable, internal: the message stays in the outbox and goes again later.
      this.scheduleResend(frame.retryAfterMs);
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

  private scheduleResend(retryAfterMs?: number): void {
    if (this.resendTimer !== undefined) return;
    const delay = retryAfterMs ?? this.resendDelay;
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
        roomName: room === undefined ? '' : roomTitle(room, this.me.id),
        direct: room?.kind === 'direct',
        loaded: log.loaded,
        hasOlder: log.hasOlder,
        loadingOlder: this.isRequested('older', roomId),
        messages: log.sorted(),
        pending: this.outbox.forRoom(roomId),
        failed: [...this.failed.values()].filter((f) => f.entry.room === roomId),
        myName: this.me.displayName,
        myId: this.me.id,
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

function readLastRoom(userId: number): string | null {
  try {
    return localStorage.getItem(lastRoomKey(userId));
  } catch {
    return null;
  }
}

function writeLastRoom(userId: number, name: string | null): void {
  try {
    if (name === null) localStorage.removeItem(lastRoomKey(userId));
    else localStorage.setItem(lastRoomKey(userId), name);
  } catch {
    /* only a convenience */
  }
}
