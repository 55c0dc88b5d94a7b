/**
 * Thumbnails of uploaded images with sharp (libvips): the first frame, turned upright by its EXIF
 * orientation, fitted within THUMBNAIL_MAX_PX, re-encoded as WebP without any of the original's metadata.
 * Decoding also proves the image is one: a file with the right magic bytes that does not decode is refused.
 */
import type { Readable } from 'node:stream';
import sharp from 'sharp';

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

/** Reads a whole stream (sharp buffers a streamed input whole in any case). */
async function readAll(source: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The thumbnail and the upright size of the image in `source`. */
export async function makeThumbnail(source: Readable): Promise<Thumbnail> {
  const input = await readAll(source);
  const options = { limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'error' as const };
  try {
    const meta = await sharp(input, options).metadata();
    const upright = meta.autoOrient ?? { width: meta.width, height: meta.height };
    const data = await sharp(input, options)
      .autoOrient()
      .resize({ width: THUMBNAIL_MAX_PX, height: THUMBNAIL_MAX_PX, fit: 'inside', withoutEnlargement: true })
      .webp({ quality: THUMBNAIL_QUALITY })
      .toBuffer();
    return { data, width: upright.width, height: upright.height };
  } catch (err) {
    throw new ImageUnreadableError((err as Error).message, { cause: err });
  }
}
