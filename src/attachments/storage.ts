/**
 * Where attachment bytes live, behind an interface so the disk folder can later become a bucket or a shared
 * volume without the domain noticing. Keys are random and opaque (see `newStorageKey`): never derived from a
 * user's file name, so no name can reach a path, and nothing about a file shows in where it is kept.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';

/** Random bytes in a key: 128 bits, unguessable and collision-free in practice. */
const KEY_BYTES = 16;

/** What a key looks like: lowercase hex only, which is also what makes it safe as a file name. */
export const STORAGE_KEY_PATTERN = /^[0-9a-f]{32}$/;

/** A fresh random key. */
export function newStorageKey(): string {
  return randomBytes(KEY_BYTES).toString('hex');
}

/** The bytes under a key are gone (removed, or lost outside Confab). */
export class StoredFileMissingError extends Error {
  override name = 'StoredFileMissingError';
}

export interface AttachmentStorage {
  /**
   * Stores everything `source` yields under `key` and returns the number of bytes written. The key shows
   * only once the write is complete: a failed or aborted write leaves nothing behind.
   */
  put(key: string, source: Readable | Buffer): Promise<number>;
  /** A stream of the bytes under `key`; StoredFileMissingError when there are none. */
  open(key: string): Promise<Readable>;
  /** Removes the keys; missing keys are not an error. */
  remove(keys: readonly string[]): Promise<void>;
  /**
   * The path of the file under `key` on this machine, for a storage that keeps files locally: lets a reader
   * that needs random access (decoding an image) read the file itself instead of a copy in memory.
   */
  localPath?(key: string): string;
}
