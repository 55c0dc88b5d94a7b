/**
 * Attachments in the web client: the composer's pending uploads (attach button, drag-and-drop onto the room,
 * paste), shown as chips with progress, a remove button and the server's reason when it refuses one; and the
 * attachments of a message (image thumbnails that open the full image, cards with name, size and a download
 * link for other files). Everything is built with DOM calls; names are only ever set as text or attributes.
 */
import { ApiError } from './api.js';
import { el, icon } from './dom.js';
import { DEFAULT_LIMITS, type Attachment } from './protocol.js';

/** Most files one message may carry (the server's limit too). */
export const MAX_ATTACHMENTS_PER_MESSAGE = 10;
/** Largest side (CSS px) a thumbnail is shown at in the timeline; the server makes them at most this big. */
const THUMBNAIL_SHOW_PX = 320;

const PAPERCLIP = 'm21.4 11.1-8.5 8.5a5.5 5.5 0 0 1-7.8-7.8l8.5-8.5a3.7 3.7 0 0 1 5.2 5.2l-8.5 8.5a1.8 1.8 0 0 1-2.6-2.6l7.8-7.8';
const FILE_ICON = 'M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8l-5-5ZM14 3v5h5';
const DOWNLOAD_ICON = 'M12 4v11m0 0-4-4m4 4 4-4M5 20h14';

/** A byte count as people read it: "12 KB", "3.4 MB". */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

// ---- showing a message's attachments ----

/** The attachments of a message, or null when it has none. */
export function attachmentList(attachments: readonly Attachment[] | undefined): HTMLElement | null {
  if (attachments === undefined || attachments.length === 0) return null;
  return el('div', {
    className: 'msg-attachments',
    attrs: { 'data-testid': 'message-attachments' },
    children: attachments.map((a) => (a.thumbnailUrl !== undefined ? imageAttachment(a, a.thumbnailUrl) : fileCard(a))),
  });
}

/** An image: its thumbnail, at its own proportions, opening the full image in a new tab. */
function imageAttachment(a: Attachment, thumbnailUrl: string): HTMLElement {
  const img = el('img', {
    className: 'attachment-thumb',
    attrs: { src: thumbnailUrl, alt: a.name, loading: 'lazy', decoding: 'async', 'data-testid': 'attachment-thumbnail' },
  });
  if (a.width !== undefined && a.height !== undefined) {
    // Reserve the space before it loads, so the timeline does not jump.
    const scale = Math.min(1, THUMBNAIL_SHOW_PX / Math.max(a.width, a.height));
    img.width = Math.max(1, Math.round(a.width * scale));
    img.height = Math.max(1, Math.round(a.height * scale));
  }
  return el('a', {
    className: 'attachment-image',
    attrs: { href: a.url, target: '_blank', rel: 'noopener noreferrer', title: `${a.name} (${formatSize(a.size)})`, 'data-testid': 'attachment-image' },
    children: [img],
  });
}

/** Any other file: a card with its name, size and a download link. */
function fileCard(a: Attachment): HTMLElement {
  return el('div', {
    className: 'attachment-card',
    attrs: { 'data-testid': 'attachment-file' },
    children: [
      icon(FILE_ICON, 'icon attachment-card-icon'),
      el('div', {
        className: 'attachment-card-text',
        children: [
          el('span', { className: 'attachment-name', text: a.name, attrs: { title: a.name, 'data-testid': 'attachment-name' } }),
          el('span', { className: 'attachment-size', text: formatSize(a.size), attrs: { 'data-testid': 'attachment-size' } }),
        ],
      }),
      el('a', {
        className: 'icon-button attachment-download',
        attrs: { href: a.url, download: a.name, 'aria-label': `Download ${a.name}`, title: 'Download', 'data-testid': 'attachment-download' },
        children: [icon(DOWNLOAD_ICON)],
      }),
    ],
  });
}

// ---- uploading ----

/** An upload in flight: its result, and a way to stop it. */
export interface UploadHandle {
  done: Promise<Attachment>;
  abort(): void;
}

/**
 * `POST /api/rooms/:id/attachments` with upload progress (XMLHttpRequest: fetch reports none). The session
 * cookie and Origin travel as for every other change. Rejects with ApiError carrying the server's message.
 */
export function uploadAttachment(roomId: number, file: File, onProgress: (fraction: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const done = new Promise<Attachment>((resolve, reject) => {
    xhr.open('POST', `/api/rooms/${roomId}/attachments`);
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      const body = xhr.response as { attachment?: Attachment; error?: { code: string; message: string } } | null;
      if (xhr.status === 201 && body?.attachment) resolve(body.attachment);
      else reject(new ApiError(xhr.status, body?.error?.code ?? 'internal', body?.error?.message ?? `Upload failed (${xhr.status})`));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'Upload failed: the connection was lost')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'Upload cancelled')));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}

/** One file in the composer: uploading, ready to send, or refused. */
interface PendingUpload {
  key: number;
  file: File;
  progress: number;
  handle: UploadHandle | null;
  attachment: Attachment | null;
  error: string | null;
}

export interface TrayElements {
  /** The composer form: the tray goes in front of its input box, the attach button inside it. */
  form: HTMLFormElement;
  /** The message input: pasting files there attaches them. */
  input: HTMLTextAreaElement;
  /** Where dropping files attaches them (the room view). */
  dropZone: HTMLElement;
}

/**
 * The pending uploads of each room's composer. Files start uploading as soon as they are picked, dropped or
 * pasted; `ready` gives what the next message carries, `busy` says whether an upload is still running.
 */
export class AttachmentTray {
  private readonly tray: HTMLElement;
  private readonly rooms = new Map<number, PendingUpload[]>();
  private roomId: number | null = null;
  private nextKey = 0;
  /** The server's MAX_UPLOAD_BYTES, from `hello` (the default until then). */
  maxUploadBytes = DEFAULT_LIMITS.maxUploadBytes;

  constructor(
    elements: TrayElements,
    /** Called whenever what the current room's composer carries changes (true: files ready to send). */
    private readonly onChange: (hasReady: boolean) => void,
  ) {
    this.tray = el('div', { className: 'attachment-tray', attrs: { 'data-testid': 'attachment-tray', hidden: '' } });
    const box = elements.form.querySelector('.composer-box');
    elements.form.insertBefore(this.tray, box);

    const picker = el('input', { className: 'visually-hidden', attrs: { type: 'file', multiple: '', tabindex: '-1', 'aria-hidden': 'true', 'data-testid': 'attach-input' } });
    const button = el('button', {
      className: 'icon-button attach-button',
      attrs: { type: 'button', 'aria-label': 'Attach files', title: 'Attach files', 'data-testid': 'attach-button' },
      children: [icon(PAPERCLIP)],
    });
    button.addEventListener('click', () => picker.click());
    picker.addEventListener('change', () => {
      this.add([...(picker.files ?? [])]);
      picker.value = '';
    });
    box?.prepend(button, picker);

    elements.input.addEventListener('paste', (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (files.length === 0) return; // text: the textarea pastes it as usual
      event.preventDefault();
      this.add(files);
    });

    const zone = elements.dropZone;
    const carriesFiles = (event: DragEvent) => event.dataTransfer?.types.includes('Files') === true;
    zone.addEventListener('dragover', (event) => {
      if (!carriesFiles(event) || this.roomId === null) return;
      event.preventDefault();
      event.dataTransfer!.dropEffect = 'copy';
      zone.classList.add('is-dropping');
    });
    zone.addEventListener('dragleave', (event) => {
      // Leaving for a child of the zone is not leaving the zone.
      if (event.relatedTarget instanceof Node && zone.contains(event.relatedTarget)) return;
      zone.classList.remove('is-dropping');
    });
    zone.addEventListener('drop', (event) => {
      zone.classList.remove('is-dropping');
      if (!carriesFiles(event)) return;
      event.preventDefault();
      this.add([...(event.dataTransfer?.files ?? [])]);
    });
    // A file dropped anywhere else would make the browser open it in place of the app: ignore it instead.
    for (const type of ['dragover', 'drop'] as const) {
      window.addEventListener(type, (event) => {
        if (!carriesFiles(event) || event.defaultPrevented) return;
        event.preventDefault();
        event.dataTransfer!.dropEffect = 'none';
      });
    }
  }

  /** Shows the pending uploads of the room now on screen. */
  setRoom(roomId: number | null): void {
    this.roomId = roomId;
    this.render();
  }

  /** Whether an upload of the room is still running (a message must wait for it). */
  busy(roomId: number): boolean {
    return this.items(roomId).some((u) => u.attachment === null && u.error === null);
  }

  /** The uploads of the room that are ready to go with the next message. */
  ready(roomId: number): Attachment[] {
    return this.items(roomId).flatMap((u) => (u.attachment !== null ? [u.attachment] : []));
  }

  /** Empties the room's tray (its files were sent with a message). */
  clear(roomId: number): void {
    for (const u of this.items(roomId)) u.handle?.abort();
    this.rooms.delete(roomId);
    this.render();
  }

  /** Starts uploading files to the current room. */
  add(files: readonly File[]): void {
    const roomId = this.roomId;
    if (roomId === null || files.length === 0) return;
    const list = this.items(roomId);
    for (const file of files) {
      const upload: PendingUpload = { key: ++this.nextKey, file, progress: 0, handle: null, attachment: null, error: null };
      list.push(upload);
      if (list.filter((u) => u.error === null).length > MAX_ATTACHMENTS_PER_MESSAGE) {
        upload.error = `At most ${MAX_ATTACHMENTS_PER_MESSAGE} files per message`;
        continue;
      }
      if (file.size > this.maxUploadBytes) {
        // Refused here rather than after the browser has sent every byte for the server to throw away.
        upload.error = `${file.name} is larger than the limit of ${formatSize(this.maxUploadBytes)}`;
        continue;
      }
      upload.handle = uploadAttachment(roomId, file, (fraction) => {
        upload.progress = fraction;
        this.renderProgress(upload);
      });
      upload.handle.done.then(
        (attachment) => {
          upload.attachment = attachment;
          upload.handle = null;
          this.render();
        },
        (err: unknown) => {
          upload.handle = null;
          if (err instanceof ApiError && err.code === 'aborted') return;
          upload.error = err instanceof ApiError ? err.message : 'Upload failed';
          this.render();
        },
      );
    }
    this.rooms.set(roomId, list);
    this.render();
  }

  private items(roomId: number): PendingUpload[] {
    return this.rooms.get(roomId) ?? [];
  }

  private remove(roomId: number, upload: PendingUpload): void {
    upload.handle?.abort();
    const rest = this.items(roomId).filter((u) => u !== upload);
    if (rest.length > 0) this.rooms.set(roomId, rest);
    else this.rooms.delete(roomId);
    this.render();
  }

  private render(): void {
    const roomId = this.roomId;
    const list = roomId === null ? [] : this.items(roomId);
    this.tray.hidden = list.length === 0;
    this.tray.replaceChildren(...list.map((u) => this.chip(roomId!, u)));
    this.onChange(roomId !== null && this.ready(roomId).length > 0);
  }

  /** Updates one chip's progress in place (no re-render per progress event). */
  private renderProgress(upload: PendingUpload): void {
    const bar = this.tray.querySelector<HTMLProgressElement>(`[data-key="${upload.key}"] progress`);
    if (bar) bar.value = upload.progress;
  }

  private chip(roomId: number, u: PendingUpload): HTMLElement {
    const state = u.error !== null ? 'error' : u.attachment !== null ? 'ready' : 'uploading';
    const preview = u.attachment?.thumbnailUrl
      ? el('img', { className: 'chip-thumb', attrs: { src: u.attachment.thumbnailUrl, alt: '' } })
      : icon(FILE_ICON, 'icon chip-icon');
    const detail =
      state === 'error'
        ? el('span', { className: 'chip-error', text: u.error!, attrs: { role: 'alert', 'data-testid': 'attachment-error' } })
        : state === 'uploading'
          ? el('progress', { className: 'chip-progress', attrs: { max: '1', value: String(u.progress), 'aria-label': `Uploading ${u.file.name}` } })
          : el('span', { className: 'chip-size', text: formatSize(u.attachment!.size) });
    const remove = el('button', {
      className: 'chip-remove',
      text: '×',
      attrs: { type: 'button', 'aria-label': `Remove ${u.file.name}`, title: 'Remove', 'data-testid': 'attachment-remove' },
    });
    remove.addEventListener('click', () => this.remove(roomId, u));
    return el('div', {
      className: `attachment-chip attachment-chip--${state}`,
      attrs: { 'data-key': String(u.key), 'data-state': state, 'data-testid': 'attachment-chip' },
      children: [
        preview,
        el('div', {
          className: 'chip-text',
          children: [el('span', { className: 'chip-name', text: u.attachment?.name ?? u.file.name, attrs: { title: u.file.name } }), detail],
        }),
        remove,
      ],
    });
  }
}
