/**
 * The room view's message list. It renders a snapshot (messages by seq, then pending and failed sends) with
 * keyed reconciliation: an element is built once per message and only moved or removed afterwards, so live
 * updates cost little and the reader's scroll position can be kept exactly.
 */
import { attachmentList } from './attachments.js';
import { el, icon, ICONS } from './dom.js';
import { dayKey, dayLabel, fullTime, nameHue, shortTime } from './format.js';
import { actionBar, confirmDelete, openEditor, wireTapToShowActions, type Editor, type MessageAction } from './message-actions.js';
import { fold, isTall, messageBody } from './message-body.js';
import { openEmojiPicker, reactionChips } from './reactions.js';
import { replyQuote } from './reply.js';
import type { OutboxEntry } from './outbox.js';
import type { ChatMessage } from './protocol.js';
import type { MessageStatus } from './receipts.js';

/** A send that the server refused for good, shown until dismissed. */
export interface FailedSend {
  entry: OutboxEntry;
  error: string;
}

/** Everything the timeline shows for one room. */
export interface TimelineSnapshot {
  /** `#name`, or the other people's names in a direct conversation. */
  roomName: string;
  direct: boolean;
  /** The first page arrived (until then the list shows a loading line). */
  loaded: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
  messages: readonly ChatMessage[];
  pending: readonly OutboxEntry[];
  failed: readonly FailedSend[];
  /** The name pending messages are shown under. */
  myName: string;
  /** My user id: my own messages are marked. */
  myId: number;
  myUsername: string;
  /** My read cursor when the room was opened: a "New messages" divider goes above the first later message of others. */
  dividerAfter: number | null;
  /** The status of my stored message `seq`. */
  statusOf(seq: number): MessageStatus;
  /** The `@names` of a message to highlight (lower case). */
  mentionsOf(m: ChatMessage): ReadonlySet<string>;
  /** Whether I may edit (my own) and delete (my own, or any as the room's owner or an admin) a message. */
  mayEdit(m: ChatMessage): boolean;
  mayDelete(m: ChatMessage): boolean;
  /** A member's display name (who reacted). */
  nameOf(userId: number): string;
  /** Longest text an edit may have. */
  maxChars: number;
}

/** Where the view should be after a render. */
export type ScrollIntent =
  /** Stay at the bottom if the reader was there; otherwise keep the first visible line where it was. */
  | 'follow'
  /** Jump to the newest message (room opened, own message sent). */
  | 'bottom'
  /** Show the "New messages" divider near the top of the view (or the newest message when there is none). */
  | 'unread';

/** What the timeline reports back. */
export interface TimelineEvents {
  /** The reader scrolled near the top (or pressed "Load older messages"). */
  onWantOlder(): void;
  /** The reader dismissed a failed send. */
  onDismiss(clientMsgId: string): void;
  /** The view scrolled (what is in view may now be read). */
  onScrolled(): void;
  /** The reader edited, deleted, reacted to or answered a message, or clicked a reply's quote. */
  onAction(action: MessageAction): void;
}

/** Consecutive messages of one author within this window share one header. */
const GROUP_WINDOW_MS = 5 * 60_000;
/** Distance from the top (px) at which the older page is requested. */
const NEAR_TOP_PX = 160;
/** Distance from the bottom (px) still counted as "at the bottom". */
const NEAR_BOTTOM_PX = 48;
/** Number of avatar colours in styles.css (.avatar.c0 … .c9). */
const AVATAR_COLOURS = 10;
/** How long a message jumped to stays highlighted. */
const FLASH_MS = 2_000;

interface Item {
  key: string;
  /** Author for grouping; null for items that always show their own header (dividers, unsent messages). */
  author: string | null;
  time: number;
  build(): HTMLElement;
  /** What the element shows: when it changes (an edit, a reaction), the element is built again. */
  version?: unknown;
}

/** The message list of the room on screen. */
export class Timeline {
  private readonly elements = new Map<string, HTMLElement>();
  private snapshot: TimelineSnapshot | null = null;
  /** Whether the reader was at the newest message when last seen (kept across resizes). */
  private stuckToBottom = true;
  /** What each element was built from (rebuilt when the message changes). */
  private readonly versions = new Map<string, unknown>();
  /** Long messages the reader unfolded ("Show more"), by seq. */
  private readonly expanded = new Set<number>();
  /** The inline editor open, if any. */
  private editor: { seq: number; editor: Editor } | null = null;
  private flashTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly scroller: HTMLElement,
    private readonly list: HTMLOListElement,
    private readonly top: HTMLElement,
    private readonly events: TimelineEvents,
  ) {
    scroller.addEventListener(
      'scroll',
      () => {
        this.stuckToBottom = this.isAtBottom();
        this.checkNearTop();
        this.events.onScrolled();
      },
      { passive: true },
    );
    wireTapToShowActions(list);
    // The view shrinks when a phone's keyboard opens or the window is resized: a reader at the newest
    // message stays there instead of being left a screen above it.
    new ResizeObserver(() => {
      if (this.stuckToBottom) this.scroller.scrollTop = this.scroller.scrollHeight;
    }).observe(scroller);
  }

  /** Forgets every element (another room is about to be shown). */
  clear(): void {
    this.editor?.editor.close();
    this.editor = null;
    this.expanded.clear();
    this.versions.clear();
    this.elements.clear();
    this.list.replaceChildren();
    this.top.replaceChildren();
    this.snapshot = null;
  }

  /** Shows `snapshot`, keeping the reader's place according to `intent`. */
  render(snapshot: TimelineSnapshot, intent: ScrollIntent = 'follow'): void {
    const wasAtBottom = this.isAtBottom();
    let anchor = intent === 'follow' && !wasAtBottom ? this.firstVisible() : null;
    const anchorTop = anchor?.offsetTop ?? 0;
    const anchorKey = anchor === null ? undefined : [...this.elements].find(([, node]) => node === anchor)?.[0];

    this.snapshot = snapshot;
    this.renderTop(snapshot);
    const built = this.reconcile(this.items(snapshot));
    this.updateStatuses(snapshot);
    // Measured once everything is in place: long messages fold before the scroll position is worked out.
    const tall = [...built].filter(([key, node]) => key.startsWith('m:') && isTall(node));
    for (const [key, node] of tall) {
      const seq = Number(key.slice(2));
      fold(node, this.expanded.has(seq), (open) => (open ? this.expanded.add(seq) : this.expanded.delete(seq)));
    }
    // The anchor itself may have been rebuilt (edited): follow its replacement.
    if (anchor !== null && !anchor.isConnected && anchorKey !== undefined) anchor = this.elements.get(anchorKey) ?? null;

    const divider = intent === 'unread' ? this.list.querySelector<HTMLElement>('.unread-divider') : null;
    if (divider !== null) {
      this.scroller.scrollTop = Math.max(0, divider.offsetTop - 12);
      this.stuckToBottom = this.isAtBottom();
    } else if (intent === 'bottom' || intent === 'unread' || wasAtBottom) {
      this.scroller.scrollTop = this.scroller.scrollHeight;
      this.stuckToBottom = true;
    } else if (anchor !== null && anchor.isConnected) {
      // Older messages were added above: move by exactly what was inserted, so the line being read stays put.
      this.scroller.scrollTop += anchor.offsetTop - anchorTop;
    }
    // A short first page may not fill the view; there is then nothing to scroll, so ask for more now.
    this.checkNearTop();
  }

  /** The highest seq of a stored message at least partly in view (0 when none). */
  lastVisibleSeq(): number {
    const view = this.scroller.getBoundingClientRect();
    let best = 0;
    for (const child of this.list.children) {
      const node = child as HTMLElement;
      if (node.dataset.seq === undefined) continue;
      const box = node.getBoundingClientRect();
      if (box.bottom > view.top && box.top < view.bottom - 8) best = Math.max(best, Number(node.dataset.seq));
    }
    return best;
  }

  /** Sets the ticks of my stored messages (they change as others receive and read them). */
  private updateStatuses(s: TimelineSnapshot): void {
    for (const m of s.messages) {
      if (m.authorId === null || m.authorId !== s.myId) continue;
      const node = this.elements.get(`m:${m.seq}`)?.querySelector<HTMLElement>('.msg-ticks');
      if (node === undefined || node === null) continue;
      const status = s.statusOf(m.seq);
      if (node.dataset.state === status.state && node.title === status.detail) continue;
      node.dataset.state = status.state;
      node.title = status.detail;
      node.setAttribute('aria-label', status.detail);
      const text = node.querySelector('.msg-ticks-text')!;
      text.textContent = status.state === 'read' ? status.label : '';
      node.querySelector('svg')!.replaceWith(icon(status.state === 'sent' ? TICK_ONE : TICK_TWO));
    }
  }

  /** Opens the inline editor on my message `seq` (Edit action, or Up arrow in an empty composer). */
  startEdit(seq: number): boolean {
    const s = this.snapshot;
    const m = s?.messages.find((x) => x.seq === seq);
    const node = this.elements.get(`m:${seq}`);
    if (s === null || m === undefined || node === undefined || !s.mayEdit(m)) return false;
    this.editor?.editor.close();
    const editor = openEditor(
      node,
      m,
      s.maxChars,
      (body) => this.events.onAction({ kind: 'edit', message: m, body }),
      () => {
        if (this.editor?.seq !== seq) return;
        this.editor = null;
        // A change that arrived while editing was held back: show it now.
        if (this.snapshot !== null) this.render(this.snapshot);
      },
    );
    if (editor === null) return false;
    this.editor = { seq, editor };
    return true;
  }

  /** Scrolls message `seq` into the middle of the view and highlights it for a moment; false when not shown. */
  reveal(seq: number): boolean {
    const node = this.elements.get(`m:${seq}`);
    if (node === undefined) return false;
    node.scrollIntoView({ block: 'center' });
    this.stuckToBottom = this.isAtBottom();
    for (const old of this.list.querySelectorAll('.msg--flash')) old.classList.remove('msg--flash');
    node.classList.add('msg--flash');
    clearTimeout(this.flashTimer);
    this.flashTimer = setTimeout(() => node.classList.remove('msg--flash'), FLASH_MS);
    return true;
  }

  /** Whether the newest message is in view. */
  isAtBottomNow(): boolean {
    return this.isAtBottom();
  }

  private isAtBottom(): boolean {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= NEAR_BOTTOM_PX;
  }

  /**
   * The first message whose bottom is below the top edge of the view. Day dividers are skipped: the divider
   * of a day stays first when older messages of that day arrive, so it would not move with the text.
   */
  private firstVisible(): HTMLElement | null {
    const viewTop = this.scroller.scrollTop;
    for (const child of this.list.children) {
      const node = child as HTMLElement;
      if (node.classList.contains('msg') && node.offsetTop + node.offsetHeight > viewTop) return node;
    }
    return null;
  }

  private checkNearTop(): void {
    const s = this.snapshot;
    if (s === null || !s.loaded || !s.hasOlder || s.loadingOlder) return;
    if (this.scroller.scrollTop <= NEAR_TOP_PX) this.events.onWantOlder();
  }

  private renderTop(s: TimelineSnapshot): void {
    let state: string;
    let content: Node;
    if (!s.loaded) {
      state = 'loading';
      content = el('span', { className: 'timeline-note', text: 'Loading messages…' });
    } else if (!s.hasOlder) {
      state = 'start';
      content = el('div', {
        className: 'timeline-start',
        children: [
          el('strong', { text: s.direct ? `Your conversation with ${s.roomName}` : `Beginning of ${s.roomName}` }),
          el('span', { text: s.direct ? 'Only the people in it can read it.' : 'Everything said here is below.' }),
        ],
      });
    } else if (s.loadingOlder) {
      state = 'loading-older';
      content = el('span', { className: 'timeline-note', text: 'Loading older messages…' });
    } else {
      state = 'more';
      const button = el('button', {
        className: 'link-button',
        text: 'Load older messages',
        attrs: { type: 'button', 'data-testid': 'load-older' },
      });
      button.addEventListener('click', () => this.events.onWantOlder());
      content = button;
    }
    const stateKey = `${state}:${s.roomName}`;
    if (this.top.dataset.state === stateKey) return;
    this.top.dataset.state = stateKey;
    this.top.replaceChildren(content);
  }

  /** The list items, in display order: day dividers, messages by seq, then pending and failed sends. */
  private items(s: TimelineSnapshot): Item[] {
    const items: Item[] = [];
    let lastDay = '';
    const divider = (time: number) => {
      const day = dayKey(new Date(time));
      if (day === lastDay) return;
      lastDay = day;
      items.push({ key: `d:${day}`, author: null, time, build: () => buildDivider(new Date(time)) });
    };
    let unreadShown = false;
    for (const m of s.messages) {
      const time = Date.parse(m.time);
      divider(time);
      if (!unreadShown && s.dividerAfter !== null && m.seq > s.dividerAfter && m.authorId !== s.myId) {
        unreadShown = true;
        items.push({ key: 'new-messages', author: null, time, build: buildUnreadDivider });
      }
      // Grouped by person (id and name: a guest has no id, and a renamed user starts a new group).
      const author = `${m.authorId ?? 'guest'}:${m.author}`;
      items.push({ key: `m:${m.seq}`, author, time, version: m, build: () => buildMessage(m, m.authorId !== null && m.authorId === s.myId, s, this.hooks(m)) });
    }
    const sends = [
      ...s.pending.map((entry) => ({ entry, error: null as string | null })),
      ...s.failed,
    ].sort((a, b) => a.entry.createdAt - b.entry.createdAt);
    for (const { entry, error } of sends) {
      divider(entry.createdAt);
      const key = `${error === null ? 'p' : 'f'}:${entry.clientMsgId}:${s.myName}`;
      // Never folded into the previous message: the header carries the "Sending…" / "Failed" status.
      items.push({
        key,
        author: null,
        time: entry.createdAt,
        build: () => buildPending(entry, s.myName, error, () => this.events.onDismiss(entry.clientMsgId), s.messages.find((m) => m.id === entry.replyTo)),
      });
    }
    return items;
  }

  /** What a message's controls do. */
  private hooks(m: ChatMessage): MessageHooks {
    return {
      onAction: (action) => this.events.onAction(action),
      startEdit: () => this.startEdit(m.seq),
    };
  }

  /**
   * Makes the list's children equal `items`, reusing the elements of keys already shown (rebuilt when their
   * version changed, except the one being edited). Returns the elements built this time.
   */
  private reconcile(items: Item[]): Map<string, HTMLElement> {
    const built = new Map<string, HTMLElement>();
    const wanted = new Set(items.map((i) => i.key));
    for (const [key, node] of this.elements) {
      if (!wanted.has(key)) {
        node.remove();
        this.elements.delete(key);
        this.versions.delete(key);
      }
    }
    let cursor = this.list.firstElementChild;
    let previous: Item | null = null;
    for (const item of items) {
      let node = this.elements.get(item.key);
      const stale = node !== undefined && this.versions.get(item.key) !== item.version && node.dataset.editing === undefined;
      if (node === undefined || stale) {
        const fresh = item.build();
        if (node !== undefined) {
          if (node === cursor) cursor = fresh;
          node.replaceWith(fresh);
        }
        node = fresh;
        this.elements.set(item.key, node);
        this.versions.set(item.key, item.version);
        built.set(item.key, node);
      }
      // Same author, close in time, nothing in between: show as a continuation without its own header.
      const continues =
        previous !== null &&
        item.author !== null &&
        previous.author === item.author &&
        item.time - previous.time < GROUP_WINDOW_MS;
      node.classList.toggle('msg--cont', continues);
      if (node === cursor) cursor = cursor.nextElementSibling;
      else this.list.insertBefore(node, cursor);
      previous = item;
    }
    return built;
  }
}

/** What the controls of one message call. */
interface MessageHooks {
  onAction(action: MessageAction): void;
  startEdit(): void;
}

function buildDivider(date: Date): HTMLElement {
  return el('li', {
    className: 'day-divider',
    attrs: { role: 'separator' },
    children: [el('span', { text: dayLabel(date) })],
  });
}

/** The avatar and author line shared by stored and pending messages. */
function frame(author: string, date: Date, extraHead: Node[]): { gutter: HTMLElement; head: HTMLElement } {
  const avatar = el('span', {
    className: `avatar c${nameHue(author) % AVATAR_COLOURS}`,
    text: ([...author][0] ?? '?').toUpperCase(),
    attrs: { 'aria-hidden': 'true' },
  });
  const gutterTime = el('time', {
    className: 'gutter-time',
    text: shortTime(date),
    attrs: { datetime: date.toISOString(), title: fullTime(date), 'aria-hidden': 'true' },
  });
  const gutter = el('div', { className: 'msg-gutter', children: [avatar, gutterTime] });
  const head = el('div', {
    className: 'msg-head',
    children: [el('span', { className: 'msg-author', text: author, attrs: { 'data-testid': 'message-author' } }), ...extraHead],
  });
  return { gutter, head };
}

/** One tick (sent) and two ticks (delivered, read) for the status of own messages. */
const TICK_ONE = 'M5 12.5l4.5 4.5L19 7.5';
const TICK_TWO = 'M2 12.5l4.5 4.5L16 7.5M11 16.5l.5.5L21 7.5';

function buildUnreadDivider(): HTMLElement {
  return el('li', {
    className: 'unread-divider',
    attrs: { role: 'separator', 'data-testid': 'unread-divider' },
    children: [el('span', { text: 'New messages' })],
  });
}

function buildMessage(m: ChatMessage, mine: boolean, s: TimelineSnapshot, hooks: MessageHooks): HTMLElement {
  const date = new Date(m.time);
  const time = el('time', {
    className: 'msg-time',
    text: shortTime(date),
    attrs: { datetime: m.time, title: fullTime(date), 'data-testid': 'message-time' },
  });
  const ticks = mine
    ? el('span', {
        className: 'msg-ticks',
        attrs: { 'data-testid': 'message-status', role: 'img' },
        children: [icon(TICK_ONE), el('span', { className: 'msg-ticks-text' })],
      })
    : null;
  const { gutter, head } = frame(m.author, date, [time]);
  const deleted = m.deleted === true;
  const mentionsMe = !mine && !deleted && (m.mentions ?? []).includes(s.myId);
  const body = messageBody(m, { mentioned: s.mentionsOf(m), myUsername: s.myUsername });
  const react = (anchor: HTMLElement) =>
    openEmojiPicker(anchor, (emoji) => {
      const on = !(m.reactions ?? []).some((r) => r.emoji === emoji && r.users.includes(s.myId));
      hooks.onAction({ kind: 'react', message: m, emoji, on });
    });
  const quote = m.replyTo === null || m.replyTo === undefined ? null : replyQuote(m.replyTo, () => hooks.onAction({ kind: 'jump', seq: m.replyTo!.seq }));
  const reactions = deleted
    ? null
    : reactionChips(m.reactions ?? [], s.myId, (id) => s.nameOf(id), (emoji, on) => hooks.onAction({ kind: 'react', message: m, emoji, on }), react);
  const actions = deleted
    ? null
    : actionBar({
        mayEdit: s.mayEdit(m),
        mayDelete: s.mayDelete(m),
        onReact: react,
        onReply: () => hooks.onAction({ kind: 'reply', message: m }),
        onEdit: () => hooks.startEdit(),
        onDelete: () => void confirmDelete(m, mine).then((yes) => yes && hooks.onAction({ kind: 'delete', message: m })),
      });
  return el('li', {
    className: `msg${mine ? ' msg--mine' : ''}${mentionsMe ? ' msg--mention' : ''}${deleted ? ' msg--deleted' : ''}`,
    attrs: {
      'data-testid': 'message',
      'data-seq': String(m.seq),
      'data-author': m.author,
      ...(m.authorId !== null ? { 'data-author-id': String(m.authorId) } : {}),
      ...(mine ? { 'data-mine': 'true' } : {}),
    },
    children: [
      gutter,
      el('div', {
        className: 'msg-main',
        children: [head, quote, body, deleted ? null : attachmentList(m.attachments), reactions, ticks],
      }),
      actions,
    ],
  });
}

/** The fields of a pending send that the body renderer reads. */
function pendingAsMessage(entry: OutboxEntry): ChatMessage {
  return { type: 'message', room: entry.room, seq: 0, id: 0, authorId: null, author: '', body: entry.body, time: new Date(entry.createdAt).toISOString() };
}

function buildPending(entry: OutboxEntry, author: string, error: string | null, onDismiss: () => void, quoted?: ChatMessage): HTMLElement {
  const date = new Date(entry.createdAt);
  const status =
    error === null
      ? el('span', { className: 'msg-status', children: [icon(ICONS.clock), el('span', { text: 'Sending…' })] })
      : el('span', { className: 'msg-status msg-status--failed', children: [icon(ICONS.alert), el('span', { text: 'Failed' })] });
  const { gutter, head } = frame(author, date, [status]);
  const main = el('div', {
    className: 'msg-main',
    children: [
      head,
      // What it answers and its text look as they will once stored (no jump when the ack comes).
      quoted === undefined ? null : replyQuote({ ...quoted, excerpt: quoted.body, deleted: quoted.deleted === true }, () => {}),
      messageBody({ ...pendingAsMessage(entry), editedAt: null }, { mentioned: new Set(), myUsername: '' }),
      attachmentList(entry.attachments),
    ],
  });
  if (error !== null) {
    const dismiss = el('button', { className: 'link-button', text: 'Dismiss', attrs: { type: 'button', 'data-testid': 'dismiss' } });
    dismiss.addEventListener('click', onDismiss);
    main.append(
      el('div', {
        className: 'msg-error',
        attrs: { role: 'alert' },
        children: [el('span', { text: `Not sent: ${error}`, attrs: { 'data-testid': 'send-error' } }), dismiss],
      }),
    );
  }
  return el('li', {
    className: error === null ? 'msg msg--pending' : 'msg msg--failed',
    attrs: {
      'data-testid': error === null ? 'message-pending' : 'message-failed',
      'data-client-msg-id': entry.clientMsgId,
    },
    children: [gutter, main],
  });
}
