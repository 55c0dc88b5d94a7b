/**
 * Message search in the web client: the search box in the header (Ctrl/Cmd+K or `/` focuses it), and a panel
 * of results with filters (room, author, date range, order). Each result shows its room, author, time and
 * body with the matched words marked; clicking one opens the message in its place in history (jump.ts).
 * Typing searches after a short pause; an answer to an older query than the one on screen is dropped.
 */
import { ApiError, searchMessages } from './api.js';
import { byId, el } from './dom.js';
import { dayLabel, fullTime, shortTime } from './format.js';
import { jumpToMessage } from './jump.js';
import type { Room } from './protocol.js';
import { bodyNodes, bodyPieces, type SearchResult } from './search-results.js';

/** Results per page ("More results" asks for the next one). */
const SEARCH_PAGE_SIZE = 20;
/** Pause in typing after which the query runs. */
const SEARCH_DEBOUNCE_MS = 250;
/**
 * A lone word shorter than this is not searched while typing (Enter still searches it): it would match as a
 * whole word only (the server's MIN_PREFIX_CHARS), so the results would vanish again at the next letter.
 */
const MIN_TYPED_WORD_CHARS = 3;
const LONE_WORD = /^[\p{L}\p{Nd}]+$/u;
/** Longest query the server accepts (docs/api.md); the input stops there. */
export const MAX_SEARCH_QUERY_CHARS = 256;

/** What the panel needs from the app. */
export interface SearchPanelOptions {
  /** The user's rooms, for the room filter. */
  rooms(): Room[];
  /** How a room is named in results: `#name`, or the people of a direct conversation. */
  roomLabel(room: SearchResult['room']): string;
  /** Makes the room openable before a jump (joins a public room the user is not in yet). */
  prepare(roomId: number): Promise<void>;
}

export class SearchPanel {
  private readonly form = byId<HTMLFormElement>('search-form');
  private readonly input = byId<HTMLInputElement>('search-input');
  private readonly panel = byId('search-panel');
  private readonly roomSelect = byId<HTMLSelectElement>('search-room');
  private readonly author = byId<HTMLInputElement>('search-author');
  private readonly from = byId<HTMLInputElement>('search-from');
  private readonly to = byId<HTMLInputElement>('search-to');
  private readonly sort = byId<HTMLSelectElement>('search-sort');
  private readonly status = byId('search-status');
  private readonly list = byId<HTMLOListElement>('search-results');
  private readonly more = byId<HTMLButtonElement>('search-more');
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by every new query: answers to older ones are ignored. */
  private generation = 0;
  private shown = 0;

  constructor(private readonly options: SearchPanelOptions) {
    this.input.maxLength = MAX_SEARCH_QUERY_CHARS;
    // The shortcut as the keyboard says it.
    const key = this.form.querySelector('.search-key');
    if (key !== null && /Mac|iPhone|iPad/.test(navigator.platform)) key.textContent = '⌘K';
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.run();
    });
    this.input.addEventListener('input', () => this.runSoon());
    this.input.addEventListener('focus', () => {
      if (this.input.value.trim() !== '' || this.list.childElementCount > 0) this.show();
    });
    for (const f of [this.roomSelect, this.from, this.to, this.sort]) f.addEventListener('change', () => void this.run());
    this.author.addEventListener('input', () => this.runSoon());
    byId<HTMLFormElement>('search-filters').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.run();
    });
    byId('search-close').addEventListener('click', () => this.hide());
    this.more.addEventListener('click', () => void this.run(this.shown));
    document.addEventListener('keydown', (event) => this.onKey(event));
  }

  /** Ctrl/Cmd+K anywhere, or `/` outside a text field, focuses the search box; Escape closes the panel. */
  private onKey(event: KeyboardEvent): void {
    const target = event.target as HTMLElement | null;
    const typing = target !== null && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if ((event.key === 'k' || event.key === 'K') && (event.ctrlKey || event.metaKey) && !event.altKey) {
      event.preventDefault();
      this.focus();
    } else if (event.key === '/' && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      this.focus();
    } else if (event.key === 'Escape' && !this.panel.hidden && (this.panel.contains(target) || target === this.input)) {
      event.preventDefault();
      this.hide();
      this.input.blur();
    }
  }

  focus(): void {
    this.input.focus();
    this.input.select();
  }

  private show(): void {
    if (!this.panel.hidden) return;
    this.fillRooms();
    this.panel.hidden = false;
  }

  private hide(): void {
    this.panel.hidden = true;
  }

  /** The room filter lists the user's rooms, by label; the choice survives a refill. */
  private fillRooms(): void {
    const chosen = this.roomSelect.value;
    const rooms = this.options
      .rooms()
      .map((r) => ({ id: r.id, label: this.options.roomLabel(r) }))
      .sort((a, b) => a.label.localeCompare(b.label));
    this.roomSelect.replaceChildren(
      el('option', { text: 'All rooms', attrs: { value: '' } }),
      ...rooms.map((r) => el('option', { text: r.label, attrs: { value: String(r.id) } })),
    );
    this.roomSelect.value = rooms.some((r) => String(r.id) === chosen) ? chosen : '';
  }

  private runSoon(): void {
    clearTimeout(this.timer);
    const q = this.input.value.trim();
    if (LONE_WORD.test(q) && [...q].length < MIN_TYPED_WORD_CHARS) {
      // Not worth a request (and the server's rate limit) per keystroke; an answer still on its way is dropped.
      this.generation++;
      this.show();
      this.setStatus(`Type ${MIN_TYPED_WORD_CHARS} letters or more, or press Enter.`);
      return;
    }
    this.timer = setTimeout(() => void this.run(), SEARCH_DEBOUNCE_MS);
  }

  /** The request's parameters; dates are the user's local days (from the start of "from" to the end of "to"). */
  private params(offset: number): URLSearchParams | null {
    const p = new URLSearchParams();
    const q = this.input.value.trim();
    if (q !== '') p.set('q', q);
    if (this.roomSelect.value !== '') p.set('room', this.roomSelect.value);
    const author = this.author.value.trim();
    if (author !== '') p.set('author', author.startsWith('@') ? author : `@${author}`);
    if (this.from.value !== '') p.set('after', new Date(`${this.from.value}T00:00`).toISOString());
    if (this.to.value !== '') {
      const end = new Date(`${this.to.value}T00:00`);
      end.setDate(end.getDate() + 1);
      p.set('before', end.toISOString());
    }
    if ([...p.keys()].length === 0) return null;
    p.set('sort', this.sort.value);
    p.set('limit', String(SEARCH_PAGE_SIZE));
    if (offset > 0) p.set('offset', String(offset));
    return p;
  }

  /** Runs the query (a new one from offset 0, or the next page). */
  private async run(offset = 0): Promise<void> {
    clearTimeout(this.timer);
    const generation = offset === 0 ? ++this.generation : this.generation;
    const params = this.params(offset);
    this.show();
    // Dates alone are refused by the server (too broad): say so before asking.
    const datesOnly = params !== null && !params.has('q') && !params.has('room') && !params.has('author');
    if (params === null || datesOnly) {
      this.list.replaceChildren();
      this.shown = 0;
      this.more.hidden = true;
      this.setStatus(datesOnly ? 'Add words, a room or an author to the dates.' : 'Type words to search for, or pick a filter.');
      return;
    }
    if (offset === 0) this.setStatus('Searching…');
    this.more.disabled = true;
    try {
      const page = await searchMessages(params);
      if (generation !== this.generation) return;
      if (offset === 0) {
        this.list.replaceChildren();
        this.list.scrollTop = 0;
      }
      this.list.append(...page.results.map((r) => this.resultItem(r)));
      this.shown = offset + page.results.length;
      this.more.hidden = !page.hasMore;
      this.setStatus(
        this.shown === 0 ? 'No results.' : `${this.shown}${page.hasMore ? '+' : ''} result${this.shown === 1 ? '' : 's'}`,
        this.shown === 0,
      );
    } catch (err) {
      if (generation !== this.generation) return;
      this.setStatus(err instanceof ApiError ? err.message : 'Search failed.', false, true);
    } finally {
      this.more.disabled = false;
    }
  }

  private setStatus(text: string, empty = false, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('search-empty', empty);
    this.status.classList.toggle('search-error', error);
    this.status.dataset.testid = empty ? 'search-no-results' : 'search-status';
  }

  private resultItem(r: SearchResult): HTMLLIElement {
    const time = new Date(r.message.time);
    const button = el('button', {
      className: 'search-result',
      attrs: { type: 'button', 'data-testid': 'search-result', 'data-room': String(r.room.id), 'data-seq': String(r.message.seq) },
      children: [
        el('span', {
          className: 'search-result-meta',
          children: [
            el('span', { className: 'search-result-room', text: this.options.roomLabel(r.room) }),
            el('span', { className: 'search-result-author', text: r.message.author }),
            el('time', {
              className: 'search-result-time',
              text: `${dayLabel(time)} ${shortTime(time)}`,
              attrs: { datetime: r.message.time, title: fullTime(time) },
            }),
          ],
        }),
        el('span', { className: 'search-result-body', children: bodyNodes(bodyPieces(r.message.body, r.highlights)) }),
      ],
    });
    button.addEventListener('click', () => void this.open(r));
    return el('li', { children: [button] });
  }

  /** Opens a result in its place in history; the panel closes so the message is in view. */
  private async open(r: SearchResult): Promise<void> {
    try {
      await this.options.prepare(r.room.id);
      this.hide();
      await jumpToMessage(r.room.id, r.message.seq);
    } catch (err) {
      this.show();
      this.setStatus(err instanceof ApiError ? err.message : 'That message could not be opened.', false, true);
    }
  }
}
