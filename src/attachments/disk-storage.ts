/**
 * Attachment storage in a folder on disk (UPLOAD_DIR). Each key becomes a file in a subfolder named after
 * the key's first two characters, so no single folder grows without bound. A write goes to a temporary
 * file first and is renamed into place when complete, so a reader never sees half a file and an aborted
 * upload (over the limit, refused type, dropped connection) leaves no file under its key.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { STORAGE_KEY_PATTERN, StoredFileMissingError, newStorageKey, type AttachmentStorage } from './storage.js';

/** Suffix of files still being written; they never match a key. */
const PARTIAL_SUFFIX = '.partial';
/** Characters of a key that name its subfolder. */
const SHARD_CHARS = 2;

export class DiskStorage implements AttachmentStorage {
  private constructor(private readonly root: string) {}

  /** Storage in `root`, created when missing. */
  static async open(root: string): Promise<DiskStorage> {
    const absolute = path.resolve(root);
    await mkdir(absolute, { recursive: true });
    return new DiskStorage(absolute);
  }

  async put(key: string, source: Readable | Buffer): Promise<number> {
    const file = this.pathOf(key);
    await mkdir(path.dirname(file), { recursive: true });
    // A unique temporary name: two writers can never share one, whatever the key.
    const partial = `${file}.${newStorageKey()}${PARTIAL_SUFFIX}`;
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    try {
      const input = Buffer.isBuffer(source) ? Readable.from([source]) : source;
      await pipeline(input, counter, createWriteStream(partial, { flags: 'wx' }));
      await rename(partial, file);
      return bytes;
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
  }

  async open(key: string): Promise<Readable> {
    const file = this.pathOf(key);
    // Open first, so a missing file is known before any header is sent.
    const handle = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new StoredFileMissingError(`no stored file for key ${key}`);
      throw err;
    });
    return handle.createReadStream(); // closes the handle when done or destroyed
  }

  async remove(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => rm(this.pathOf(key), { force: true })));
  }

  localPath(key: string): string {
    return this.pathOf(key);
  }

  /** The file of a key; refuses anything that is not a key, so nothing can point outside the folder. */
  private pathOf(key: string): string {
    if (!STORAGE_KEY_PATTERN.test(key)) throw new Error(`not a storage key: ${JSON.stringify(key)}`);
    return path.join(this.root, key.slice(0, SHARD_CHARS), key);
  }
}
