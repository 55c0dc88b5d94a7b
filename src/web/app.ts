/**
 * The client's controller: holds the rooms and what is known of each, turns frames into state and state into
 * the views, and carries out the delivery rules of docs/protocol.md (resume by seq, gap healing, outbox).
 */
import { ApiError, createRoom, fetchMe, fetchMembers, fetchPublicRooms, fetchRooms, joinRoom, setNotifyLevel, signOut } from './api.js';
import { Activity, Badge, beep, clearToasts, isLooking, notificationsAllowed, notify, soundEnabled, toast } from './attention.js';
import { AttachmentTray } from './attachments.js';
import { BrowseDialog } from './browse.js';
import { Composer } from './composer.js';
import { Connection, type ConnectionState } from './connection.js';
import { byId, icon, ICONS } from './dom.js';
import { MembersPanel } from './members.js';
import { NewMessageDialog } from './new-message.js';
import { Outbox, outboxKey, type OutboxEntry } from './outbox.js';
import { lastSeenText, typingText } from './format.js';
import { mentionedNames } from './mentions.js';
import { setJumpHandler } from './jump.js';
import { SearchPanel } from './search.js';
import type { MessageAction } from './message-actions.js';
import { ReplyBar } from './reply.js';
import { stripBidiControls } from './rich-text.js';
import {
  DEFAULT_LIMITS,
  PERMANENT_SEND_ERRORS,
  type ChatMessage,
  type ClientFrame,
  type Me,
  type MessageUpdate,
  type NotifyLevel,
  type Presence,
  type PresenceState,
  type Room,
  type ServerFrame,
  type UnreadState,
  type User,
} from './protocol.js';
import { Cursors, ReceiptSender } from './receipts.js';
import { excerptOf, RoomLog } from './room-log.js';
import { countUnread, type UnreadBase, type UnreadCount } from './unread-count.js';
import { roomTitle } from './rooms.js';
import { roomFromPath } from './routes.js';
import { SettingsDialog } from './settings.js';
import { isNarrow, roomPath, Sidebar } from './sidebar.js';
import { Timeline, type FailedSend, type ScrollIntent } from './timeline.js';
import { newClientMsgId } from './uuid.js';

/** How often "last seen 5 min ago" in the header is rewritten. */
const LAST_SEEN_REFRESH_MS = 60_000;
/** How long a notice (room removed, not found) stays before it hides itself. */
const NOTICE_MS = 8000;

/** Messages per history page (the newest on opening a room, then each older page). */
const PAGE_SIZE = 50;
/** Gap-filling pages are as large as the server allows, to catch up in few round trips. */
const GAP_PAGE_SIZE = 100;
/** Retry delays (ms) for sends the server could not store for now (store_unavailable, internal). */
const RESEND_FIRST_MS = 2_000;
const RESEND_MAX_MS = 30_000;
/** Remembers the last room opened, to reopen it at `/` (per user: one browser may hold several accounts in turn). */
const lastRoomKey = (userId: number) => `confab.lastRoom.${userId}`;
/** `typing` goes at most this often per room while the user types (the server expires it after 6 s). */
const TYPING_EVERY_MS = 3_000;
/** A typing indicator without renewal goes after this long. */
const TYPING_SHOWN_MS = 6_000;
/** Live messages older than this (replayed after a long disconnection) do not raise notifications. */
const NOTIFY_MAX_AGE_MS = 120_000;
/** After this many failed connection attempts in a row, ask the HTTP API whether the session is still valid. */
const CHECK_SESSION_AFTER_FAILURES = 3;
/** A jump to an old message loads at most this many older pages (of GAP_PAGE_SIZE) before giving up. */
const JUMP_MAX_PAGES = 200;
/** How long a jump waits for one history page (or for the connection) before giving up. */
const JUMP_PAGE_WAIT_MS = 15_000;

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
  private readonly receipts: ReceiptSender;
  private readonly cursors = new Cursors();
  /** The unread state the server last reported per room (counts since then are derived from the logs). */
  private readonly unreadBase = new Map<number, UnreadBase>();
  /** Who is typing, per room. */
  private readonly typists = new Map<number, Map<number, { name: string; timer: ReturnType<typeof setTimeout> }>>();
  private readonly lastTypingSent = new Map<number, number>();
  private readonly presence = new Map<number, Presence>();
  /** Members of rooms opened (for names in "Read by" and the `@` autocomplete). */
  private readonly memberCache = new Map<number, User[]>();
  /** My read cursor when the room on screen was opened (where "New messages" goes), or null. */
  private dividerAfter: number | null = null;
  private readonly badge = new Badge();
  private readonly activity: Activity;
  private readonly replyBar: ReplyBar;
  /** The files the composer of each room will send with the next message. */
  private readonly tray: AttachmentTray;
  /** Unanswered `edit` / `delete` / `react` frames of the current socket: request id -> what it was. */
  private readonly actions = new Map<string, string>();
  /** Called at the end of every `history` answer (jumps wait for older pages with them). */
  private historyWaiters: Array<() => void> = [];
  private maxChars = DEFAULT_LIMITS.maxMessageChars;

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
      onEnableNotifications: () => void this.enableNotifications(),
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
      presenceOf: (id) => this.presence.get(id),
    });
    this.settings = new SettingsDialog(me);
    this.receipts = new ReceiptSender((frame) => this.sendFrame(frame));
    this.activity = new Activity({
      onLooking: () => {
        this.markRead();
        this.renderSidebar();
      },
      onState: (state) => void this.sendFrame({ type: 'presence', state }),
    });
    this.wireBell();
    this.showNotificationsState();
    // "last seen 5 min ago" ages.
    setInterval(() => this.renderRoomSub(), LAST_SEEN_REFRESH_MS);
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
      onScrolled: () => this.markRead(),
      onAction: (action) => this.onAction(action),
    });
    this.composer = new Composer(
      byId<HTMLFormElement>('composer'),
      byId<HTMLTextAreaElement>('composer-input'),
      byId<HTMLLabelElement>('composer-label'),
      byId('char-counter'),
      byId<HTMLButtonElement>('send-button'),
      (body) => this.send(body),
      () => this.onTyping(),
      () => this.membersOf(this.currentId),
      me.id,
    );
    this.replyBar = new ReplyBar(byId<HTMLFormElement>('composer'), byId<HTMLTextAreaElement>('composer-input'));
    this.tray = new AttachmentTray(
      { form: byId<HTMLFormElement>('composer'), input: byId<HTMLTextAreaElement>('composer-input'), dropZone: byId('room-view') },
      (hasReady) => this.composer.setHasAttachments(hasReady),
    );
    // Up arrow in an empty composer edits my last message (as in Slack).
    byId('composer-input').addEventListener('keydown', (event) => {
      const input = event.currentTarget as HTMLTextAreaElement;
      if (event.key !== 'ArrowUp' || event.defaultPrevented || input.value !== '' || event.altKey || event.ctrlKey || event.metaKey) return;
      if (this.editLast()) event.preventDefault();
    });
    setJumpHandler((roomId, seq) => this.jumpTo(roomId, seq));
    // Search: a result in a public room the user has not joined opens once joined (as Browse would).
    new SearchPanel({
      rooms: () => [...this.rooms.values()],
      roomLabel: (r) => {
        const known = this.rooms.get(r.id);
        return known !== undefined ? roomTitle(known, me.id) : `#${r.name}`;
      },
      prepare: async (roomId) => {
        if (!this.rooms.has(roomId)) this.addAndOpen(await joinRoom(roomId));
      },
    });
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
    for (const room of rooms) this.setRoom(room);
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
    // A reply belongs to the room it was started in.
    this.replyBar.clear();
    clearToasts(room.id);
    const log = this.logFor(room.id);
    const unread = this.unreadCounts(room.id).unread;
    // Within reach of one page: open at the first unread under "New messages". Further back than that, the
    // room opens at the newest message as before (older pages load on scrolling up).
    const reachable = unread > 0 && unread + 10 <= GAP_PAGE_SIZE;
    this.dividerAfter = reachable ? this.myRead(room.id) : null;
    this.renderHeader(room);
    this.renderTyping();
    if (room.kind !== 'direct' && !this.memberCache.has(room.id)) void this.loadMembers(room.id);
    byId('empty-state').hidden = true;
    byId('room-view').hidden = false;
    this.composer.setRoom(roomTitle(room, this.me.id), !isNarrow());
    this.tray.setRoom(room.id);
    this.timeline.clear();
    this.renderRoom('unread');
    this.renderSidebar();
    this.ensureSubscribed(room.id);
    // The newest page, the first time the room is on screen (live messages may already be held); large
    // enough to reach the first unread message when there are not too many.
    const limit = reachable ? Math.max(PAGE_SIZE, unread + 10) : PAGE_SIZE;
    if (!log.loaded && !this.isRequested('initial', room.id)) this.requestHistory('initial', room.id, { limit });
  }

  private renderHeader(room: Room | null, title?: string): void {
    const heading = byId('room-title');
    const text = room === null ? (title ?? 'Confab') : roomTitle(room, this.me.id);
    this.badge.setTitle(room === null && title === undefined ? 'Confab' : `${text} · Confab`);
    heading.replaceChildren();
    if (room?.kind === 'private') {
      const lock = icon(ICONS.lock, 'icon title-lock');
      heading.append(lock);
      heading.title = 'Private room';
    } else heading.removeAttribute('title');
    heading.append(text);
    byId('members-button').hidden = room === null || room.kind === 'direct';
    byId('bell-button').hidden = room === null;
    if (room !== null) this.renderBell(room);
    this.renderRoomSub();
  }

  /** Shows a short notice above the room (e.g. "you were removed"), until the next one or a while. */
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;
  private showNotice(text: string): void {
    const notice = byId('notice');
    notice.textContent = text;
    notice.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => (notice.hidden = true), NOTICE_MS);
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
    this.cursors.forget(roomId);
    this.unreadBase.delete(roomId);
    this.memberCache.delete(roomId);
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
    this.maxChars = hello.limits.maxMessageChars;
    this.tray.maxUploadBytes = hello.limits.maxUploadBytes;
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
    this.activity.resend();
    this.receipts.flushAll();
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
    // An action lost with its socket may or may not have been applied: its update (if any) comes on resume.
    this.actions.clear();
    this.wakeHistoryWaiters();
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
      case 'update':
        this.onUpdates(frame.room, [frame]);
        this.healGap(frame.room);
        break;
      case 'history':
        this.onHistory(frame);
        this.wakeHistoryWaiters();
        break;
      case 'done':
        // The change itself arrives through the room's feed as an `update`.
        this.actions.delete(frame.id);
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
      case 'receipts':
        this.cursors.apply(frame.room, frame.cursors);
        if (frame.room === this.currentId) this.renderRoom();
        break;
      case 'unread':
        for (const u of frame.rooms) this.applyUnread(u);
        this.renderSidebar();
        break;
      case 'typing':
        this.onTypingFrame(frame.room, frame.user);
        break;
      case 'presence':
        for (const p of frame.users) this.presence.set(p.id, p);
        this.renderSidebar();
        this.renderRoomSub();
        this.members.presenceChanged();
        break;
      case 'room_added': {
        this.setRoom(frame.room);
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
      if (m.authorId !== null) this.stopTyping(roomId, m.authorId);
    }
    if (added.length === 0) return 0;
    // It reached this device.
    this.receipts.delivered(roomId, log.maxSeq);
    if (roomId === this.currentId) this.renderRoom();
    if (live) {
      this.renderSidebar();
      // A message replayed after it was deleted arrives as a placeholder: nothing to notify about.
      for (const m of added) if (m.authorId !== this.me.id && m.deleted !== true) this.alert(roomId, m);
    }
    return added.length;
  }

  /**
   * Edits, deletes and reaction changes: the held copy of the message is replaced. They move the seq cursors
   * like messages (delivered, gapless run) but are never unread and never notify. Returns how many were new.
   */
  private onUpdates(roomId: number, updates: MessageUpdate[]): number {
    if (updates.length === 0 || !this.rooms.has(roomId)) return 0;
    const log = this.logFor(roomId);
    const { changed, newSeqs } = log.applyUpdates(updates);
    if (newSeqs > 0) this.receipts.delivered(roomId, log.maxSeq);
    if (changed && roomId === this.currentId) this.renderRoom();
    // A deleted message stops counting as unread.
    if (changed) this.renderSidebar();
    return newSeqs;
  }

  private onHistory(frame: Extract<ServerFrame, { type: 'history' }>): void {
    const request = frame.id === undefined ? undefined : this.requests.get(frame.id);
    if (request === undefined) return;
    this.requests.delete(frame.id!);
    const log = this.logFor(frame.room);
    // `after` pages (gap healing) mix the update rows in; an update is not a message to show.
    const messages = frame.messages.filter((m): m is ChatMessage => m.type !== 'update');
    const updates = frame.messages.filter((m): m is MessageUpdate => m.type === 'update');
    const added = this.onMessages(frame.room, messages) + this.onUpdates(frame.room, updates);
    if (request.kind === 'initial') {
      log.markLoaded(frame.hasMore);
      if (frame.room === this.currentId) this.renderRoom('unread');
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
          mentions: this.guessMentions(frame.room, entry.body),
          editedAt: null,
          deleted: false,
          replyTo: this.replyRef(log, entry.replyTo),
          reactions: [],
          attachments: entry.attachments ?? [],
        },
      ]);
      this.healGap(frame.room);
    }
    if (frame.room === this.currentId) this.renderRoom();
  }

  private onError(frame: Extract<ServerFrame, { type: 'error' }>): void {
    if (frame.id !== undefined) this.requests.delete(frame.id);
    const action = frame.id === undefined ? undefined : this.actions.get(frame.id);
    if (action !== undefined) {
      this.actions.delete(frame.id!);
      this.showNotice(`Could not ${action}: ${frame.message}`);
      return;
    }
    if (frame.id !== undefined && frame.id.startsWith('h')) this.wakeHistoryWaiters();
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
    if (this.tray.busy(room)) {
      this.showNotice('Wait for the files to finish uploading, then send.');
      return false;
    }
    const replyTo = this.replyBar.current?.room === room ? this.replyBar.current.id : undefined;
    // The uploads go with the entry, so a resend (after a reload too) carries the same ones.
    const attachments = this.tray.ready(room);
    const entry: OutboxEntry = {
      clientMsgId: newClientMsgId(),
      room,
      body,
      createdAt: Date.now(),
      ...(replyTo !== undefined ? { replyTo } : {}),
      ...(attachments.length > 0 ? { attachments } : {}),
    };
    this.replyBar.clear();
    // The message ends the "typing" the others see; typing again says so again at once.
    this.lastTypingSent.delete(room);
    // Stored before it is sent: if the page dies right now, the next load still sends it.
    this.outbox.add(entry);
    this.tray.clear(room);
    this.sendEntry(entry);
    this.renderRoom('bottom');
    return true;
  }

  private sendEntry(entry: OutboxEntry): void {
    this.sendFrame({
      type: 'send',
      room: entry.room,
      clientMsgId: entry.clientMsgId,
      body: entry.body,
      ...(entry.replyTo !== undefined ? { replyTo: entry.replyTo } : {}),
      ...(entry.attachments !== undefined && entry.attachments.length > 0 ? { attachments: entry.attachments.map((a) => a.id) } : {}),
    });
  }

  /** What a reply sent here quotes, as the server would describe it (for the message shown at its ack). */
  private replyRef(log: RoomLog, id: number | undefined): ChatMessage['replyTo'] {
    const quoted = id === undefined ? undefined : log.byId(id);
    if (quoted === undefined) return null;
    const deleted = quoted.deleted === true;
    return { id: quoted.id, seq: quoted.seq, authorId: quoted.authorId, author: quoted.author, excerpt: deleted ? '' : excerptOf(quoted.body), deleted };
  }

  // ---- edit, delete, react, reply, jump ----

  /** Whether I may delete `m`: my own, or any in a room I own, or any as an admin. */
  private mayDelete(roomId: number, m: ChatMessage): boolean {
    if (m.deleted === true) return false;
    return m.authorId === this.me.id || this.me.isAdmin || this.rooms.get(roomId)?.ownerId === this.me.id;
  }

  private onAction(action: MessageAction): void {
    const room = this.currentId;
    if (room === null) return;
    switch (action.kind) {
      case 'edit':
        this.sendAction('edit your message', { type: 'edit', id: this.nextId('a'), room, messageId: action.message.id, body: action.body });
        break;
      case 'delete':
        this.sendAction('delete the message', { type: 'delete', id: this.nextId('a'), room, messageId: action.message.id });
        break;
      case 'react':
        this.sendAction('react', { type: 'react', id: this.nextId('a'), room, messageId: action.message.id, emoji: action.emoji, on: action.on });
        break;
      case 'reply':
        this.replyBar.set(action.message);
        break;
      case 'jump':
        this.jumpTo(room, action.seq).catch(() => this.showNotice('That message could not be found.'));
        break;
    }
  }

  private sendAction(what: string, frame: Extract<ClientFrame, { type: 'edit' | 'delete' | 'react' }>): void {
    if (!this.sendFrame(frame)) {
      this.showNotice(`Could not ${what}: not connected. Try again when the connection is back.`);
      return;
    }
    this.actions.set(frame.id, what);
  }

  /** Opens the editor on my newest message of the room on screen that can still be edited. */
  private editLast(): boolean {
    if (this.currentId === null) return false;
    const mine = this.logFor(this.currentId)
      .sorted()
      .filter((m) => m.authorId === this.me.id && m.deleted !== true);
    const last = mine[mine.length - 1];
    return last !== undefined && this.timeline.startEdit(last.seq);
  }

  private wakeHistoryWaiters(): void {
    const waiters = this.historyWaiters;
    this.historyWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves at the next `history` answer, error or lost socket, or after JUMP_PAGE_WAIT_MS. */
  private nextHistoryEvent(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, JUMP_PAGE_WAIT_MS);
      this.historyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Opens `roomId` and shows message `seq` in its place: the first page is awaited, then older pages (as large
   * as the server allows) until the message is held, and the view scrolls to it and highlights it.
   */
  private async jumpTo(roomId: number, seq: number): Promise<void> {
    const room = this.rooms.get(roomId);
    if (room === undefined) throw new Error('not a room of yours');
    this.openRoom(room, 'push');
    const log = this.logFor(roomId);
    for (let pages = 0; pages < JUMP_MAX_PAGES; pages++) {
      if (this.currentId !== roomId) throw new Error('another room was opened');
      if (log.loaded && (log.messages.has(seq) || !log.hasOlder || log.minSeq <= seq)) break;
      if (log.loaded && this.connection.isReady && !this.isRequested('older', roomId)) {
        this.requestHistory('older', roomId, { before: log.minSeq, limit: GAP_PAGE_SIZE });
        this.renderRoom();
      }
      await this.nextHistoryEvent();
    }
    this.renderRoom();
    if (!this.timeline.reveal(seq)) throw new Error('no such message');
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
        myUsername: this.me.username,
        dividerAfter: this.dividerAfter,
        statusOf: (seq) => this.cursors.status(roomId, seq, this.me.id, this.isOneToOne(room), (id) => this.nameOf(roomId, id)),
        mentionsOf: (m) => mentionedNames(m.mentions, (id) => this.membersOf(roomId).find((u) => u.id === id)?.username, m.body),
        mayEdit: (m) => m.authorId === this.me.id && m.deleted !== true,
        mayDelete: (m) => this.mayDelete(roomId, m),
        nameOf: (id) => (id === this.me.id ? this.me.displayName : this.nameOf(roomId, id)),
        maxChars: this.maxChars,
      },
      intent,
    );
    this.markRead();
  }

  private renderSidebar(): void {
    let total = 0;
    for (const id of this.rooms.keys()) total += this.shownUnread(id).unread;
    this.badge.setCount(total);
    this.sidebar.renderRooms({
      rooms: [...this.rooms.values()],
      currentId: this.currentId,
      unread: (id) => this.shownUnread(id).unread,
      mentions: (id) => this.shownUnread(id).mentions,
      presence: (room) => this.presenceOfRoom(room),
    });
  }

  // ---- receipts and unread counts ----

  /** Adds or updates a room, taking its unread state when the server sent one (GET /api/rooms, room_added). */
  private setRoom(room: Room): void {
    this.rooms.set(room.id, { ...this.rooms.get(room.id), ...room });
    if (room.readSeq !== undefined) {
      this.applyUnread({
        room: room.id,
        lastSeq: room.lastSeq,
        readSeq: room.readSeq,
        unread: room.unread ?? 0,
        mentions: room.mentions ?? 0,
        notify: room.notify ?? 'default',
      });
    }
  }

  /** The server's count for a room; older than what this page already holds is ignored. */
  private applyUnread(u: UnreadState): void {
    const room = this.rooms.get(u.room);
    if (room === undefined) return;
    const old = this.unreadBase.get(u.room);
    if (old !== undefined && u.lastSeq < old.lastSeq && u.readSeq <= old.readSeq) return;
    this.unreadBase.set(u.room, { lastSeq: u.lastSeq, readSeq: u.readSeq, unread: u.unread, mentions: u.mentions });
    this.receipts.known(u.room, u.readSeq);
    // This device now knows of every message up to lastSeq (its count is on screen): delivered.
    this.receipts.delivered(u.room, u.lastSeq);
    room.notify = u.notify;
    if (u.room === this.currentId) this.renderBell(room);
  }

  /** My read cursor in a room, as far as this page knows. */
  private myRead(roomId: number): number {
    return Math.max(this.unreadBase.get(roomId)?.readSeq ?? 0, this.receipts.readOf(roomId));
  }

  /** Unread messages (by others, after my read cursor) and those of them that mention me. */
  private unreadCounts(roomId: number): UnreadCount {
    const base = this.unreadBase.get(roomId) ?? {
      lastSeq: this.rooms.get(roomId)?.lastSeq ?? 0,
      readSeq: this.rooms.get(roomId)?.lastSeq ?? 0,
      unread: 0,
      mentions: 0,
    };
    return countUnread(base, this.myRead(roomId), this.logs.get(roomId)?.sorted() ?? [], this.me.id);
  }

  /** What the sidebar and title count: nothing for the room being read right now. */
  private shownUnread(roomId: number): UnreadCount {
    if (roomId === this.currentId && isLooking() && this.timeline.isAtBottomNow()) return { unread: 0, mentions: 0 };
    return this.unreadCounts(roomId);
  }

  /** Sends `read` for what is in view of the room on screen, when the user is looking at it. */
  private markRead(): void {
    const roomId = this.currentId;
    if (roomId === null || !isLooking() || byId('room-view').hidden) return;
    const log = this.logFor(roomId);
    if (!log.loaded) return;
    let seq = this.timeline.lastVisibleSeq();
    // The newest message in view: the update rows after it (edits, reactions) are read too.
    const sorted = log.sorted();
    if (seq !== 0 && seq === sorted[sorted.length - 1]?.seq) seq = Math.max(seq, log.contiguousTop);
    if (seq <= this.myRead(roomId)) return;
    this.receipts.read(roomId, seq);
    this.renderSidebar();
  }

  // ---- people: names, members, presence ----

  /** The members an own message mentions (the ack does not say; the server's `message` frame would). */
  private guessMentions(roomId: number, body: string): number[] {
    const names = new Set([...body.matchAll(/@([\p{L}\p{N}_.-]*[\p{L}\p{N}_])/gu)].map((m) => m[1]!.toLowerCase()));
    return this.membersOf(roomId)
      .filter((u) => names.has(u.username.toLowerCase()))
      .map((u) => u.id);
  }

  private isOneToOne(room: Room | undefined): boolean {
    return room?.kind === 'direct' && (room.members?.length ?? 0) <= 2;
  }

  private membersOf(roomId: number | null): readonly User[] {
    if (roomId === null) return [];
    return this.memberCache.get(roomId) ?? this.rooms.get(roomId)?.members ?? [];
  }

  private nameOf(roomId: number, userId: number): string {
    return this.membersOf(roomId).find((u) => u.id === userId)?.displayName ?? 'someone';
  }

  private async loadMembers(roomId: number): Promise<void> {
    try {
      const members = await fetchMembers(roomId);
      if (!this.rooms.has(roomId)) return;
      this.memberCache.set(roomId, members);
      if (roomId === this.currentId) this.renderRoom();
    } catch {
      /* names show as "someone" and the autocomplete stays empty until the next opening */
    }
  }

  /** The other person of a conversation of two. */
  private otherOf(room: Room): User | undefined {
    if (!this.isOneToOne(room)) return undefined;
    return room.members?.find((u) => u.id !== this.me.id);
  }

  private presenceOfRoom(room: Room): PresenceState | null {
    const other = this.otherOf(room);
    if (other === undefined) return null;
    return this.presence.get(other.id)?.state ?? null;
  }

  /** Under the title of a conversation of two: "Online", "Away", "Last seen 5 min ago". */
  private renderRoomSub(): void {
    const sub = byId('room-sub');
    const room = this.currentId === null ? undefined : this.rooms.get(this.currentId);
    const other = room === undefined ? undefined : this.otherOf(room);
    const p = other === undefined ? undefined : this.presence.get(other.id);
    if (p === undefined) {
      sub.hidden = true;
      sub.replaceChildren();
      return;
    }
    const text =
      p.state === 'online' ? 'Online' : p.state === 'away' ? 'Away' : p.lastSeen !== null ? `Last seen ${lastSeenText(p.lastSeen)}` : 'Offline';
    sub.dataset.state = p.state;
    sub.textContent = text;
    sub.hidden = false;
  }

  // ---- typing ----

  private onTyping(): void {
    const room = this.currentId;
    if (room === null) return;
    const now = Date.now();
    if (now - (this.lastTypingSent.get(room) ?? -Infinity) < TYPING_EVERY_MS) return;
    if (this.sendFrame({ type: 'typing', room })) this.lastTypingSent.set(room, now);
  }

  private onTypingFrame(roomId: number, user: { id: number; displayName: string }): void {
    if (user.id === this.me.id || !this.rooms.has(roomId)) return;
    let map = this.typists.get(roomId);
    if (map === undefined) {
      map = new Map();
      this.typists.set(roomId, map);
    }
    clearTimeout(map.get(user.id)?.timer);
    map.set(user.id, { name: user.displayName, timer: setTimeout(() => this.stopTyping(roomId, user.id), TYPING_SHOWN_MS) });
    if (roomId === this.currentId) this.renderTyping();
  }

  private stopTyping(roomId: number, userId: number): void {
    const map = this.typists.get(roomId);
    const entry = map?.get(userId);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    map!.delete(userId);
    if (roomId === this.currentId) this.renderTyping();
  }

  private renderTyping(): void {
    const line = byId('typing-line');
    const names = [...(this.typists.get(this.currentId ?? -1)?.values() ?? [])].map((t) => t.name).sort((a, b) => a.localeCompare(b));
    line.textContent = typingText(names);
  }

  // ---- notifications ----

  /** Whether a message in `room` should notify, by the room's level. */
  private wantsAlert(room: Room, m: ChatMessage): boolean {
    const mentionsMe = (m.mentions ?? []).includes(this.me.id);
    const level: NotifyLevel = room.notify ?? 'default';
    if (level === 'all') return true;
    if (level === 'nothing') return false;
    if (level === 'mentions') return mentionsMe;
    return room.kind === 'direct' || mentionsMe;
  }

  /** A live message of someone else: a notification when the user is not looking, a toast for another room. */
  private alert(roomId: number, m: ChatMessage): void {
    const room = this.rooms.get(roomId);
    if (room === undefined || !this.wantsAlert(room, m)) return;
    if (m.seq <= this.myRead(roomId) || Date.now() - Date.parse(m.time) > NOTIFY_MAX_AGE_MS) return;
    const where = room.kind === 'direct' ? m.author : `${m.author} in #${room.name}`;
    // Plain text outside the page's control: no direction tricks (see rich-text.ts).
    const text = stripBidiControls(m.body);
    const body = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    const open = () => {
      const current = this.rooms.get(roomId);
      if (current !== undefined) this.openRoom(current, 'push');
    };
    if (!isLooking()) {
      notify(where, body, `confab-room-${roomId}`, open);
      if (soundEnabled()) beep();
    } else if (roomId !== this.currentId) {
      toast(roomId, where, body, open);
    }
  }

  private showNotificationsState(): void {
    const button = byId<HTMLButtonElement>('notifications-button');
    if (typeof Notification === 'undefined') {
      button.textContent = 'Notifications not supported';
      button.disabled = true;
    } else if (notificationsAllowed()) {
      button.textContent = 'Notifications enabled';
      button.disabled = true;
    } else if (Notification.permission === 'denied') {
      button.textContent = 'Notifications blocked';
      button.title = 'Allow them in the browser’s site settings';
      button.disabled = true;
    }
  }

  /** Asks for the permission: only ever from the user's click on "Enable notifications". */
  private async enableNotifications(): Promise<void> {
    if (typeof Notification === 'undefined') return;
    const result = await Notification.requestPermission();
    this.showNotificationsState();
    this.showNotice(result === 'granted' ? 'Notifications enabled.' : 'Notifications were not allowed.');
  }

  private wireBell(): void {
    const button = byId<HTMLButtonElement>('bell-button');
    const menu = byId('bell-menu');
    const setOpen = (open: boolean) => {
      menu.hidden = !open;
      button.setAttribute('aria-expanded', String(open));
      if (open) menu.querySelector<HTMLElement>('[aria-checked="true"]')?.focus();
    };
    button.addEventListener('click', () => setOpen(menu.hidden));
    document.addEventListener('click', (event) => {
      const target = event.target as Node;
      if (!menu.hidden && !menu.contains(target) && !button.contains(target)) setOpen(false);
    });
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !menu.hidden) setOpen(false);
    });
    for (const item of menu.querySelectorAll<HTMLButtonElement>('[data-level]')) {
      item.addEventListener('click', async () => {
        const room = this.currentId === null ? undefined : this.rooms.get(this.currentId);
        const level = item.dataset.level as NotifyLevel;
        setOpen(false);
        if (room === undefined) return;
        try {
          await setNotifyLevel(room.id, level);
          room.notify = level;
          if (room.id === this.currentId) this.renderBell(room);
        } catch (err) {
          this.showNotice(err instanceof ApiError ? err.message : 'Could not change the notifications');
        }
      });
    }
  }

  private renderBell(room: Room): void {
    const level = room.notify ?? 'default';
    const button = byId('bell-button');
    button.dataset.level = level;
    button.replaceChildren(icon(level === 'nothing' ? ICONS.bellOff : ICONS.bell));
    for (const item of byId('bell-menu').querySelectorAll<HTMLElement>('[data-level]')) {
      item.setAttribute('aria-checked', String(item.dataset.level === level));
    }
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
