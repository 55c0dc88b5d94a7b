/** How times and names look in the timeline. */

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const dayWithYearFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'long' });

/** Local HH:MM, shown next to each message. */
export function shortTime(date: Date): string {
  return timeFormat.format(date);
}

/** The full local date and time, for the title (hover) of a message's time. */
export function fullTime(date: Date): string {
  return fullFormat.format(date);
}

/** A key that is equal for two dates of the same local day. */
export function dayKey(date: Date): string {
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

/** "Today", "Yesterday", or the date, for the divider between days. */
export function dayLabel(date: Date, now: Date = new Date()): string {
  if (dayKey(date) === dayKey(now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (dayKey(date) === dayKey(yesterday)) return 'Yesterday';
  return date.getFullYear() === now.getFullYear() ? dayFormat.format(date) : dayWithYearFormat.format(date);
}

/** Number of Unicode code points, as the server counts message length. */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** A stable hue (0-359) per name, so each author keeps the colour of their avatar. */
export function nameHue(name: string): number {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)!) >>> 0;
  return hash % 360;
}

/** "just now", "5 min ago", "3 h ago", "yesterday" or a date: how long ago someone was last seen. */
export function lastSeenText(iso: string, now: number = Date.now()): string {
  const ms = now - Date.parse(iso);
  const min = Math.floor(ms / 60_000);
  if (min < 1) return 'just now';
  if (min < 60) return `${min} min ago`;
  const hours = Math.floor(min / 60);
  if (hours < 24) return `${hours} h ago`;
  const date = new Date(iso);
  return dayLabel(date, new Date(now)) === 'Yesterday' ? 'yesterday' : dayWithYearFormat.format(date);
}

/** The typing line for these names: one, two, or "several people" beyond that (as Slack and Zulip say it). */
export function typingText(names: string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return 'Several people are typing…';
}
