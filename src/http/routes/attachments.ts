/**
 * Attachments over HTTP: the upload (multipart/form-data, streamed to storage with the size limit applied
 * while it streams, never buffered whole) and the downloads of a file and of its thumbnail, with headers that
 * keep a stored file from ever running as a page of this origin. See docs/api.md, "Attachments".
 */
import fastifyMultipart from '@fastify/multipart';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { formatBytes, type AttachmentService, type OpenedFile } from '../../attachments/attachment-service.js';
import { contentDisposition } from '../../attachments/file-name.js';
import { servedType } from '../../attachments/file-types.js';
import { THUMBNAIL_TYPE } from '../../attachments/thumbnails.js';
import { ConfabError } from '../../errors.js';
import { attachmentPayload } from '../../wire.js';
import { requireUser } from '../auth.js';
import { idParam } from '../request.js';

/** The form field that carries the file. */
export const UPLOAD_FIELD = 'file';
/** Room a request may take beyond the file itself (multipart boundaries and part headers). */
const MULTIPART_OVERHEAD_BYTES = 16 * 1024;
/** Limits on everything in an upload that is not the file: a few small fields at most. */
const MULTIPART_FIELD_LIMITS = { fields: 4, fieldSize: 1024, fieldNameSize: 100, headerPairs: 20, parts: 6 } as const;

/**
 * Served files are data, never documents of this origin: no sniffing, no scripts or plugins even when opened
 * directly (sandboxed, nothing may load), and only the reader's own browser may cache them.
 */
const FILE_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; sandbox",
  'cache-control': 'private, no-cache',
  'cross-origin-resource-policy': 'same-origin',
} as const;

/** Multipart errors of the plugin that mean the client sent too much. */
const TOO_MUCH = new Set(['FST_REQ_FILE_TOO_LARGE', 'FST_FILES_LIMIT', 'FST_PARTS_LIMIT', 'FST_FIELDS_LIMIT']);

type AttachmentParams = { Params: { id: string } };

export const attachmentRoutes: FastifyPluginAsync<{ attachments: AttachmentService }> = async (app, { attachments }) => {
  const maxBytes = attachments.limits.maxUploadBytes;
  await app.register(fastifyMultipart, {
    limits: { ...MULTIPART_FIELD_LIMITS, files: 1, fileSize: maxBytes },
    // The service checks `truncated` itself and answers `too_large` with the limit in words.
    throwFileSizeLimit: false,
  });
  app.addHook('preHandler', requireUser);

  app.post<AttachmentParams>('/rooms/:id/attachments', async (request, reply) => {
    const roomId = idParam(request.params.id);
    // Answer what can be answered before reading a byte: a declared size too big, then (the service) how
    // often and how much this user uploads and whether they may upload here.
    const declared = declaredBytes(request);
    if (declared !== null && declared > maxBytes + MULTIPART_OVERHEAD_BYTES) {
      throw new ConfabError('too_large', `The file is larger than the limit of ${formatBytes(maxBytes)}`);
    }
    // The file is at most the whole body, so that is what the byte budget holds for it until it is stored.
    const admission = await attachments.admit(request.principal!, roomId, declared);
    const part = await filePart(request).catch(async (err: unknown) => {
      await admission.cancel();
      throw err;
    });
    const attachment = await attachments.upload(admission, {
      name: part.filename,
      type: part.mimetype,
      stream: part.file,
      truncated: () => part.file.truncated,
    });
    return reply.status(201).send({ attachment: attachmentPayload(attachment) });
  });

  // Declared before `/:name`: a stored name never equals "thumbnail", as every name has an extension.
  app.get<AttachmentParams>('/attachments/:id/thumbnail', async (request, reply) => {
    const opened = await attachments.openThumbnail(request.principal!, idParam(request.params.id));
    return sendFile(request, reply, opened, { type: THUMBNAIL_TYPE, inline: true }, 'thumbnail');
  });

  app.get<{ Params: { id: string; name: string } }>('/attachments/:id/:name', async (request, reply) => {
    const opened = await attachments.openFile(request.principal!, idParam(request.params.id));
    return sendFile(request, reply, opened, servedType(opened.attachment.contentType), 'file');
  });
};

/** The request's declared body size (Content-Length), or null when it has none (chunked). */
function declaredBytes(request: FastifyRequest): number | null {
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  return Number.isSafeInteger(declared) && declared >= 0 ? declared : null;
}

/** The upload's one file part, or a coded error that says what is wrong with the request. */
async function filePart(request: FastifyRequest) {
  let part;
  try {
    part = await request.file();
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (TOO_MUCH.has(code)) throw new ConfabError('too_large', 'The upload has more parts or fields than one file needs');
    if (code.startsWith('FST_')) {
      throw new ConfabError('bad_request', `Send multipart/form-data with one part named "${UPLOAD_FIELD}"`, { cause: err });
    }
    throw err;
  }
  if (!part || part.fieldname !== UPLOAD_FIELD) {
    part?.file.resume();
    throw new ConfabError('bad_request', `Send multipart/form-data with one part named "${UPLOAD_FIELD}"`);
  }
  return part;
}

/** Sends an opened file with the safe headers; answers 304 to a reader who already has this version. */
function sendFile(
  request: FastifyRequest,
  reply: FastifyReply,
  { attachment, stream }: OpenedFile,
  served: { type: string; inline: boolean },
  which: 'file' | 'thumbnail',
) {
  // An attachment's bytes never change, so its id names the version.
  const etag = `"a${attachment.id}-${which}"`;
  reply.headers(FILE_HEADERS).header('etag', etag);
  if (request.headers['if-none-match'] === etag) {
    stream.destroy();
    return reply.status(304).send();
  }
  const name = which === 'thumbnail' ? `${attachment.name}.webp` : attachment.name;
  reply
    .type(served.type)
    .header('content-disposition', contentDisposition(served.inline ? 'inline' : 'attachment', name));
  if (which === 'file') reply.header('content-length', attachment.size);
  return reply.send(stream);
}
