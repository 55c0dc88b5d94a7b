/**
 * A pass-through stream that learns what an upload is while it streams to storage, so the bytes are read
 * once: the first bytes (for magic-byte sniffing), the size (refusing past the limit, whoever the source
 * is), and whether the whole file is UTF-8 text without NUL bytes (for the text kinds).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { fileTypeFromBuffer } from 'file-type';
import type { ContentFacts } from './file-types.js';

/** Bytes kept for sniffing: what `file-type` reads to recognise every format it knows. */
export const SNIFF_BYTES = 4100;

/** The content went past the size limit. */
export class ContentTooLargeError extends Error {
  override name = 'ContentTooLargeError';
}

export class ContentInspector extends Transform {
  /** Bytes seen so far. */
  size = 0;
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private text: boolean;

  /** `checkText`: validate UTF-8 as it goes (only the text kinds need it). */
  constructor(
    private readonly maxBytes: number,
    checkText: boolean,
  ) {
    super();
    this.text = checkText;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      done(new ContentTooLargeError(`more than ${this.maxBytes} bytes`));
      return;
    }
    if (this.headBytes < SNIFF_BYTES) {
      this.head.push(chunk.subarray(0, SNIFF_BYTES - this.headBytes));
      this.headBytes += Math.min(chunk.length, SNIFF_BYTES - this.headBytes);
    }
    if (this.text) this.text = this.decodes(chunk, true);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.text) this.text = this.decodes(new Uint8Array(), false);
    done();
  }

  /** What the content turned out to be (after the stream has ended). */
  async facts(): Promise<ContentFacts> {
    const sniffed = await fileTypeFromBuffer(Buffer.concat(this.head));
    return { sniffed: sniffed?.mime, utf8Text: this.text };
  }

  private decodes(chunk: Uint8Array, more: boolean): boolean {
    if (chunk.includes(0)) return false;
    try {
      this.decoder.decode(chunk, { stream: more });
      return true;
    } catch {
      return false;
    }
  }
}
