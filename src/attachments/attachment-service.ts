/**
 * The attachments domain: checks an upload (who, where, how big, what it really is), stores its bytes and a
 * thumbnail, records it, and decides on every download whether the reader may have it. It knows neither
 * HTTP nor SQL: files come in as a stream with a claimed name and type, and go out as a stream.
 *
 * Access: an attachment is readable by whoever may read its room (ChatService.readableRoom), checked on each
 * request so that a member removed from a private room loses its files at once. An upload that has not been
 * sent with a message yet is visible to its uploader only. Anything one may not read answers `not_found`,
 * exactly like an id that does not exist.
 *
 * Abuse: one user may start UPLOADS_PER_USER_PER_MINUTE uploads a minute and store
 * UPLOAD_BYTES_PER_USER_PER_HOUR bytes an hour (both counted on this instance, in memory, like the other
 * rate limits). Both are decided by `admit` before a byte of the file is read: the byte budget by reserving
 * the most the file can be (its declared size, or MAX_UPLOAD_BYTES), which the upload then settles to what
 * was actually stored, so uploads running side by side cannot together pass the budget.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Principal } from '../chat/principal.js';
import { ConfabError } from '../errors.js';
import type { AttachmentRecord, RoomRecord, Store } from '../store/store.js';
import { ContentInspector, ContentTooLargeError } from './content-inspector.js';
import { safeFileName } from './file-name.js';
import { claimedKind, contentMatches, type FileKind } from './file-types.js';
import { newStorageKey, StoredFileMissingError, type AttachmentStorage } from './storage.js';
import { ImageUnreadableError, makeThumbnail } from './thumbnails.js';

/** The one thing the attachments need of the chat domain: whether someone may read a room. */
export interface RoomAccess {
  /** The room if `p` may read it; `not_found` otherwise. */
  readableRoom(p: Principal, roomId: number): Promise<RoomRecord>;
}

export interface AttachmentLimits {
  /** Largest file accepted (MAX_UPLOAD_BYTES). */
  maxUploadBytes: number;
  /** Uploads one user may start per minute (UPLOADS_PER_USER_PER_MINUTE); refused ones count too. */
  uploadsPerMinute: number;
  /** Bytes of files one user may store per hour (UPLOAD_BYTES_PER_USER_PER_HOUR); at least maxUploadBytes. */
  uploadBytesPerHour: number;
}

/** The windows of the two per-user upload limits, in seconds (fixed windows from a user's first upload). */
export const UPLOAD_COUNT_WINDOW_S = 60;
export const UPLOAD_BYTES_WINDOW_S = 3600;

/**
 * An upload let in by `AttachmentService.admit`: who uploads where, and the share of the uploader's hourly
 * byte budget it holds until the upload ends. Pass it to `upload` (once), or `cancel` it when no file follows.
 */
export interface UploadAdmission {
  readonly userId: number;
  readonly roomId: number;
  /** Bytes held from the budget: the most the file can be. */
  readonly reservedBytes: number;
  /** Gives the reserved bytes back (no file was stored). Does nothing once the admission has ended. */
  cancel(): Promise<void>;
}

/** A file as it arrives: the name and type its sender claims, and its bytes. */
export interface IncomingFile {
  name: string;
  type: string;
  stream: Readable;
  /** Whether the transport cut the file off at the size limit (the stream then ends early). */
  truncated(): boolean;
}

/** A stored file or thumbnail, opened for a reader who may have it. */
export interface OpenedFile {
  attachment: AttachmentRecord;
  stream: Readable;
}

/** An upload never sent with a message is deleted after this long (the sender abandoned the draft). */
export const UNSENT_UPLOAD_TTL_MS = 24 * 3_600_000;
/** Held bytes are not given back this close to the end of their window (it may have ended by then). */
const SETTLE_MARGIN_MS = 1000;
/** Uploads removed per store round trip while sweeping. */
const SWEEP_BATCH = 100;

export class AttachmentService {
  /** Uploads started per user (key `u<id>`) in the current minute. */
  private readonly uploadCount: RateLimiterMemory;
  /** Bytes stored or reserved per user in the current hour. */
  private readonly uploadBytes: RateLimiterMemory;
  /** Admissions not yet ended, each with what ends it (by the bytes actually stored). */
  private readonly admissions = new WeakMap<UploadAdmission, (storedBytes: number) => Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly rooms: RoomAccess,
    private readonly storage: AttachmentStorage,
    readonly limits: AttachmentLimits,
    private readonly log: Logger,
  ) {
    if (limits.uploadBytesPerHour < limits.maxUploadBytes) {
      throw new RangeError('uploadBytesPerHour must be at least maxUploadBytes, or a file of the largest size could never be uploaded');
    }
    this.uploadCount = new RateLimiterMemory({ points: limits.uploadsPerMinute, duration: UPLOAD_COUNT_WINDOW_S });
    this.uploadBytes = new RateLimiterMemory({ points: limits.uploadBytesPerHour, duration: UPLOAD_BYTES_WINDOW_S });
  }

  /**
   * Lets an upload of `p` to a room in, or refuses it, before any byte of the file is read: `unauthenticated`
   * for a guest, `rate_limited` past UPLOADS_PER_USER_PER_MINUTE (this attempt counts either way),
   * `not_found` for a room `p` may not read, and `rate_limited` when the file could pass what is left of the
   * hourly byte budget. `fileBytesAtMost` is the most the file can be (the request's Content-Length), or null
   * when unknown (MAX_UPLOAD_BYTES is then reserved). Both refusals carry `retryAfterMs`.
   */
  async admit(p: Principal, roomId: number, fileBytesAtMost: number | null): Promise<UploadAdmission> {
    if (p.userId === null) throw new ConfabError('unauthenticated');
    const userId = p.userId;
    const key = `u${userId}`;
    await this.uploadCount.consume(key).catch((err: unknown) => {
      throw rateLimited(err, `You are uploading too fast (at most ${this.limits.uploadsPerMinute} files a minute)`);
    });
    await this.rooms.readableRoom(p, roomId);
    const reservedBytes = Math.max(0, Math.min(fileBytesAtMost ?? Infinity, this.limits.maxUploadBytes));
    let windowEndsAt = 0;
    if (reservedBytes > 0) {
      const held = await this.uploadBytes.consume(key, reservedBytes).catch(async (err: unknown) => {
        if (!(err instanceof RateLimiterRes)) throw err;
        // A refused reservation takes nothing: give back what `consume` counted anyway.
        await this.uploadBytes.reward(key, reservedBytes);
        const left = Math.max(0, this.limits.uploadBytesPerHour - (err.consumedPoints - reservedBytes));
        const budget = formatBytes(this.limits.uploadBytesPerHour);
        throw rateLimited(err, `This upload would pass your limit of ${budget} an hour (${formatBytes(left)} left)`);
      });
      windowEndsAt = Date.now() + held.msBeforeNext;
    }
    let open = true;
    const settle = async (storedBytes: number) => {
      if (!open) return;
      open = false;
      this.admissions.delete(admission);
      // What was held but not stored goes back (a file is never more than was held: at most the request body
      // and MAX_UPLOAD_BYTES); the stored bytes stay counted for the rest of the window. Only into the window
      // the bytes were held in: given back after it ended, they would be added to the next window's budget.
      const unused = reservedBytes - storedBytes;
      if (unused <= 0 || Date.now() >= windowEndsAt - SETTLE_MARGIN_MS) return;
      try {
        await this.uploadBytes.reward(key, unused);
      } catch (err) {
        this.log.warn({ err, userId }, 'could not settle an upload with the byte budget');
      }
    };
    const admission: UploadAdmission = { userId, roomId, reservedBytes, cancel: () => settle(0) };
    this.admissions.set(admission, settle);
    return admission;
  }

  /**
   * Stores an upload let in by `admit` (and ends the admission, counting the stored size against the byte
   * budget). Refused with `too_large` past MAX_UPLOAD_BYTES, `unsupported_type` for a type not accepted or
   * content that is not what it claims, `bad_request` when empty. A refused upload leaves nothing behind and
   * takes nothing from the byte budget. The attachment is sent later with a message.
   */
  async upload(admission: UploadAdmission, file: IncomingFile): Promise<AttachmentRecord> {
    const settle = this.admissions.get(admission);
    let stored = 0;
    try {
      if (!settle) throw new Error('upload() needs an admission of this service that has not ended');
      const record = await this.accept(admission.userId, admission.roomId, file, claimedKind(file.name, file.type));
      stored = record.size;
      return record;
    } finally {
      // Whatever happened, let the rest of the upload flow by, so the request completes and gets its answer.
      if (!file.stream.readableEnded && !file.stream.destroyed) file.stream.resume();
      await settle?.(stored);
    }
  }

  /** The file of an attachment, for a reader who may read its room. */
  async openFile(p: Principal, attachmentId: number): Promise<OpenedFile> {
    const attachment = await this.readable(p, attachmentId);
    return { attachment, stream: await this.openKey(attachment, attachment.storageKey) };
  }

  /** The thumbnail of an image attachment, for a reader who may read its room; `not_found` when it has none. */
  async openThumbnail(p: Principal, attachmentId: number): Promise<OpenedFile> {
    const attachment = await this.readable(p, attachmentId);
    if (attachment.thumbnailKey === null) throw new ConfabError('not_found', 'This attachment has no thumbnail');
    return { attachment, stream: await this.openKey(attachment, attachment.thumbnailKey) };
  }

  /**
   * Removes the stored bytes of attachments whose records are gone (a deleted message). Called after the
   * store commit; a failure is logged, never thrown, as the delete itself has happened.
   */
  async remove(attachments: readonly AttachmentRecord[]): Promise<void> {
    const keys = attachments.flatMap((a) => (a.thumbnailKey === null ? [a.storageKey] : [a.storageKey, a.thumbnailKey]));
    if (keys.length === 0) return;
    try {
      await this.storage.remove(keys);
    } catch (err) {
      this.log.error({ err, attachments: attachments.map((a) => a.id) }, 'could not remove attachment files');
    }
  }

  /**
   * Deletes uploads that were never sent and are older than UNSENT_UPLOAD_TTL_MS at `now`, records and bytes;
   * returns how many. Safe on several instances at once (each row is deleted by one of them).
   */
  async sweepUnsent(now = Date.now()): Promise<number> {
    let removed = 0;
    for (;;) {
      const batch = await this.store.deleteUnsentAttachments(now - UNSENT_UPLOAD_TTL_MS, SWEEP_BATCH);
      await this.remove(batch);
      removed += batch.length;
      if (batch.length < SWEEP_BATCH) return removed;
    }
  }

  private async accept(uploaderId: number, roomId: number, file: IncomingFile, kind: FileKind): Promise<AttachmentRecord> {
    const name = safeFileName(file.name, kind);
    const key = newStorageKey();
    const inspector = new ContentInspector(this.limits.maxUploadBytes, kind.content === 'text');
    const written: string[] = [];
    try {
      // A broken upload (the client went away) fails the write instead of leaving it waiting.
      file.stream.once('error', (err) => inspector.destroy(err));
      const size = await this.storage.put(key, file.stream.pipe(inspector)).catch((err: unknown) => {
        throw err instanceof ContentTooLargeError ? this.tooLarge() : err;
      });
      written.push(key);
      if (file.truncated()) throw this.tooLarge();
      if (size === 0) throw new ConfabError('bad_request', 'The file is empty');
      if (!contentMatches(kind, await inspector.facts())) {
        throw new ConfabError('unsupported_type', `The content of "${name}" is not what its type (${kind.type}) says`);
      }
      let thumbnail: { key: string; width: number; height: number } | null = null;
      if (kind.image) {
        // The stored file itself where the storage has one (sharp reads it as it needs), else a stream of it.
        const source = this.storage.localPath?.(key) ?? (await this.storage.open(key));
        const made = await makeThumbnail(source).catch((err: unknown) => {
          if (err instanceof ImageUnreadableError) {
            throw new ConfabError('unsupported_type', `"${name}" could not be read as an image (damaged, or too many pixels)`);
          }
          throw err;
        });
        const thumbnailKey = newStorageKey();
        await this.storage.put(thumbnailKey, made.data);
        written.push(thumbnailKey);
        thumbnail = { key: thumbnailKey, width: made.width, height: made.height };
      }
      return await this.store.createAttachment({
        roomId,
        uploaderId,
        name,
        contentType: kind.type,
        size,
        storageKey: key,
        thumbnailKey: thumbnail?.key ?? null,
        width: thumbnail?.width ?? null,
        height: thumbnail?.height ?? null,
        createdAt: Date.now(),
      });
    } catch (err) {
      await this.storage.remove(written).catch((e: unknown) => this.log.error({ err: e }, 'could not remove a refused upload'));
      throw err;
    }
  }

  private tooLarge(): ConfabError {
    return new ConfabError('too_large', `The file is larger than the limit of ${formatBytes(this.limits.maxUploadBytes)}`);
  }

  /** The attachment if `p` may read it; `not_found` (the same answer as for a missing id) otherwise. */
  private async readable(p: Principal, attachmentId: number): Promise<AttachmentRecord> {
    const missing = () => new ConfabError('not_found', `Attachment ${attachmentId} does not exist`);
    const attachment = await this.store.getAttachment(attachmentId);
    if (!attachment) throw missing();
    // Not sent yet: only its uploader knows of it.
    if (attachment.messageId === null && attachment.uploaderId !== p.userId) throw missing();
    try {
      await this.rooms.readableRoom(p, attachment.roomId);
    } catch (err) {
      if (err instanceof ConfabError && err.code === 'not_found') throw missing();
      throw err;
    }
    return attachment;
  }

  private async openKey(attachment: AttachmentRecord, key: string): Promise<Readable> {
    try {
      return await this.storage.open(key);
    } catch (err) {
      if (!(err instanceof StoredFileMissingError)) throw err;
      this.log.warn({ attachment: attachment.id, key }, 'attachment file missing from storage');
      throw new ConfabError('not_found', `Attachment ${attachment.id} does not exist`);
    }
  }
}

/** `rate_limited` with `retryAfterMs` for a limiter's refusal; anything else is rethrown as it is. */
function rateLimited(err: unknown, what: string): unknown {
  if (!(err instanceof RateLimiterRes)) return err;
  const retryAfterMs = Math.max(1, Math.ceil(err.msBeforeNext));
  const wait = retryAfterMs < 120_000 ? `${Math.ceil(retryAfterMs / 1000)} s` : `${Math.ceil(retryAfterMs / 60_000)} min`;
  return new ConfabError('rate_limited', `${what}; try again in ${wait}`, { retryAfterMs });
}

/** A byte count as people read it: "10 MiB", "512 KiB", "300 bytes". */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}
