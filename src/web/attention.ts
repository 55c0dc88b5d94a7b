/**
 * Whether the user is looking, and how to get their attention when not: page visibility and focus, the
 * active/away state (hidden, or no input for 5 minutes), the unread count in the title and a dot on the
 * favicon, browser notifications, an optional beep and in-app toasts.
 */
import { byId, el } from './dom.js';

/** No input for this long counts as away. */
const IDLE_MS = 5 * 60_000;
/** How long a toast stays. */
const TOAST_MS = 6_000;
const SOUND_KEY = 'confab.sound';

/** True when the page is visible and its window has the focus: what "read" requires. */
export function isLooking(): boolean {
  return document.visibilityState === 'visible' && document.hasFocus();
}

/** Tracks visibility, focus and idleness; calls back when "looking" or "active" changes. */
export class Activity {
  private idle = false;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private lastState: 'active' | 'away' | null = null;

  constructor(private readonly events: { onLooking(): void; onState(state: 'active' | 'away'): void }) {
    const changed = () => {
      if (isLooking()) this.poke();
      this.report();
      events.onLooking();
    };
    document.addEventListener('visibilitychange', changed);
    window.addEventListener('focus', changed);
    window.addEventListener('blur', changed);
    for (const type of ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart'] as const) {
      window.addEventListener(type, () => this.poke(), { passive: true, capture: true });
    }
    this.poke();
  }

  get state(): 'active' | 'away' {
    return document.visibilityState === 'hidden' || this.idle ? 'away' : 'active';
  }

  /** The socket is new: the server must hear the state again. */
  resend(): void {
    this.lastState = null;
    this.report();
  }

  private poke(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idle = true;
      this.report();
    }, IDLE_MS);
    if (this.idle) {
      this.idle = false;
      this.report();
    }
  }

  private report(): void {
    const state = this.state;
    if (state === this.lastState) return;
    this.lastState = state;
    this.events.onState(state);
  }
}

const BASE_TITLE = 'Confab';

/** The page title ("(3) #room · Confab") and the favicon (with a red dot while anything is unread). */
export class Badge {
  private title = BASE_TITLE;
  private count = 0;
  private readonly icon = document.querySelector<HTMLLinkElement>('link[rel="icon"]');

  setTitle(title: string): void {
    this.title = title;
    this.render();
  }

  setCount(count: number): void {
    if (count === this.count) return;
    this.count = count;
    this.render();
  }

  private render(): void {
    document.title = this.count > 0 ? `(${this.count > 99 ? '99+' : this.count}) ${this.title}` : this.title;
    const href = this.count > 0 ? '/favicon-unread.svg' : '/favicon.svg';
    if (this.icon !== null && this.icon.getAttribute('href') !== href) this.icon.setAttribute('href', href);
  }
}

/** Whether the optional sound is on (a setting of this browser, off by default). */
export function soundEnabled(): boolean {
  try {
    return localStorage.getItem(SOUND_KEY) === 'on';
  } catch {
    return false;
  }
}

export function setSoundEnabled(on: boolean): void {
  try {
    if (on) localStorage.setItem(SOUND_KEY, 'on');
    else localStorage.removeItem(SOUND_KEY);
  } catch {
    /* only a convenience */
  }
}

let audio: AudioContext | null = null;

/** A short, quiet two-tone beep (WebAudio: no sound file to load). */
export function beep(): void {
  try {
    audio ??= new AudioContext();
    const now = audio.currentTime;
    const gain = audio.createGain();
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.12, now + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.25);
    gain.connect(audio.destination);
    const osc = audio.createOscillator();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(880, now);
    osc.frequency.setValueAtTime(1175, now + 0.09);
    osc.connect(gain);
    osc.start(now);
    osc.stop(now + 0.26);
  } catch {
    /* no audio here: the notification still shows */
  }
}

/** Whether the browser can show notifications and the user allowed them. */
export function notificationsAllowed(): boolean {
  return typeof Notification !== 'undefined' && Notification.permission === 'granted';
}

/** Shows a browser notification; `onClick` runs when the user clicks it (after the tab is focused). */
export function notify(title: string, body: string, tag: string, onClick: () => void): void {
  if (!notificationsAllowed()) return;
  try {
    const n = new Notification(title, { body, tag, icon: '/favicon.svg' });
    n.onclick = () => {
      window.focus();
      onClick();
      n.close();
    };
  } catch {
    /* some browsers only allow notifications from a service worker */
  }
}

/** Removes the toasts of a room (it is now on screen). */
export function clearToasts(roomId: number): void {
  for (const t of byId('toasts').querySelectorAll(`[data-room="${roomId}"]`)) t.remove();
}

/** A toast in the corner for news in another room; clicking it opens the room. */
export function toast(roomId: number, title: string, body: string, onClick: () => void): void {
  const host = byId('toasts');
  const button = el('button', {
    className: 'toast',
    attrs: { type: 'button', 'data-testid': 'toast', 'data-room': String(roomId) },
    children: [el('strong', { className: 'toast-title', text: title }), el('span', { className: 'toast-body', text: body })],
  });
  const remove = () => button.remove();
  button.addEventListener('click', () => {
    remove();
    onClick();
  });
  host.append(button);
  while (host.children.length > 3) host.firstElementChild?.remove();
  setTimeout(remove, TOAST_MS);
}
