/**
 * Thumbnails of uploaded images with sharp (libvips): the first frame, turned upright by its EXIF
 * orientation, fitted within THUMBNAIL_MAX_PX, re-encoded as WebP without any of the original's metadata.
 * Decoding also proves the image is one: a file with the right magic bytes that does not decode is refused.
 *
 * Decoding is the costliest thing an upload does (a 40-megapixel PNG takes a core for a while and over a
 * hundred MB while it decodes, and libvips already uses every core for one image), so at most
 * THUMBNAIL_CONCURRENCY thumbnails are made at once in a process; further uploads wait their turn, their
 * files on disk and not in memory. sharp reads the stored file itself (from its path) instead of a copy of it
 * in memory.
 */
import type { Readable } from 'node:stream';
import sharp from 'sharp';
import { Semaphore } from './semaphore.js';

/** Largest side of a thumbnail, in pixels. */
export const THUMBNAIL_MAX_PX = 400;
/** The type thumbnails are stored and served as. */
export const THUMBNAIL_TYPE = 'image/webp';
/** WebP quality of thumbnails (0-100). */
const THUMBNAIL_QUALITY = 80;
/**
 * Most pixels an uploaded image may have (about 8000 x 5000): a small file can claim enormous dimensions
 * (a decompression bomb), and decoding it would take the memory of the whole server.
 */
export const MAX_IMAGE_PIXELS = 40_000_000;

/** Thumbnails made at once in this process; more wait their turn (first come, first served). */
export const THUMBNAIL_CONCURRENCY = 2;
const slots = new Semaphore(THUMBNAIL_CONCURRENCY);

// Processing is one-off per upload: caching decoded files would only hold memory.
sharp.cache(false);

/** The image could not be decoded, or is too large to decode. */
export class ImageUnreadableError extends Error {
  override name = 'ImageUnreadableError';
}

export interface Thumbnail {
  data: Buffer;
  /** Size of the original image, upright (as it is shown). */
  width: number;
  height: number;
}

/** Reads a whole stream (what sharp would do with a streamed input in any case). */
async function readAll(source: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The thumbnail and the upright size of an image: `source` is the path of the stored file (read by libvips as
 * it needs it), or, for a storage without local files, a stream (read whole into memory once its turn comes).
 * Waits for one of the THUMBNAIL_CONCURRENCY slots.
 */
export function makeThumbnail(source: string | Readable): Promise<Thumbnail> {
  return slots.run(async () => {
    const input = typeof source === 'string' ? source : await readAll(source);
    try {
      const image = sharp(input, { limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'error' });
      // Reads the header only. The pixel limit, too, is applied from the header, before any pixel is decoded.
      const meta = await image.metadata();
      const upright = meta.autoOrient ?? { width: meta.width, height: meta.height };
      const data = await image
        .autoOrient()
        .resize({ width: THUMBNAIL_MAX_PX, height: THUMBNAIL_MAX_PX, fit: 'inside', withoutEnlargement: true })
        .webp({ quality: THUMBNAIL_QUALITY })
        .toBuffer();
      return { data, width: upright.width, height: upright.height };
    } catch (err) {
      throw new ImageUnreadableError((err as Error).message, { cause: err });
    }
  });
}
