/**
 * The attachments domain: checks an upload (who, where, how big, what it really is), stores its bytes and a
 * thumbnail, records it, and decides on every download whether the reader may have it. It knows neither
 * HTTP nor SQL: files come in as a stream with a claimed name and type, and go out as a stream.
 *
 * Access: an attachment is readable by whoever may read its room (ChatService.readableRoom), checked on each
 * request so that a member removed from a private room loses its files at once. An upload that has not been
 * sent with a message yet is visible to its uploader only. Anything one may not read answers `not_found`,
 * exactly like an id that does not exist.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
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
/** Uploads removed per store round trip while sweeping. */
const SWEEP_BATCH = 100;

export class AttachmentService {
  constructor(
    private readonly store: Store,
    private readonly rooms: RoomAccess,
    private readonly storage: AttachmentStorage,
    readonly limits: AttachmentLimits,
    private readonly log: Logger,
  ) {}

  /** Refuses early (before any byte is read) an upload that `p` may not make to this room. */
  async checkUpload(p: Principal, roomId: number): Promise<void> {
    if (p.userId === null) throw new ConfabError('unauthenticated');
    await this.rooms.readableRoom(p, roomId);
  }

  /**
   * Stores an upload to a room that `p` may read. Refused with `too_large` past MAX_UPLOAD_BYTES,
   * `unsupported_type` for a type not accepted or content that is not what it claims, `bad_request` when
   * empty. A refused upload leaves nothing behind. The attachment is sent later with a message.
   */
  async upload(p: Principal, roomId: number, file: IncomingFile): Promise<AttachmentRecord> {
    try {
      await this.checkUpload(p, roomId);
      return await this.accept(p.userId!, roomId, file, claimedKind(file.name, file.type));
    } finally {
      // Whatever happened, let the rest of the upload flow by, so the request completes and gets its answer.
      if (!file.stream.readableEnded && !file.stream.destroyed) file.stream.resume();
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
        const made = await makeThumbnail(await this.storage.open(key)).catch((err: unknown) => {
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
