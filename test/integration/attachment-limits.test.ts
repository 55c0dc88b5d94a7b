/**
 * The per-user upload limits over HTTP against a real server with small limits: the count of uploads a
 * minute, the bytes an hour (refused up front from the declared size, counted by what was actually stored),
 * both answered `429 rate_limited` with `retryAfterMs` and `Retry-After` and leaving nothing stored; other
 * users unaffected; and images uploaded many at once all get their thumbnails (made a few at a time).
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { attachmentSchema } from '../helpers/frame-schemas.js';
import { apiError, TestServer, type Account, type ApiReply } from '../helpers/server.js';

const KiB = 1024;
const MAX_UPLOAD_BYTES = 64 * KiB;
const UPLOADS_PER_MINUTE = 10;
const BYTES_PER_HOUR = 256 * KiB;

let server: TestServer;
before(async () => {
  server = await TestServer.start({
    MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
    UPLOADS_PER_USER_PER_MINUTE: String(UPLOADS_PER_MINUTE),
    UPLOAD_BYTES_PER_USER_PER_HOUR: String(BYTES_PER_HOUR),
  });
});
after(() => server.close());

type Upload = { name: string; type: string; bytes: Uint8Array<ArrayBuffer> };

/** POSTs one file as multipart/form-data (with a Content-Length, as browsers and curl send it). */
async function upload(as: Account, roomId: number, file: Upload): Promise<ApiReply> {
  const form = new FormData();
  form.append('file', new Blob([file.bytes], { type: file.type }), file.name);
  const res = await fetch(`${server.url}/api/rooms/${roomId}/attachments`, {
    method: 'POST',
    headers: { cookie: as.cookie, origin: server.url },
    body: form,
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null, headers: res.headers };
}

/** A text file of `bytes` bytes. */
const textFile = (name: string, bytes: number): Upload => ({ name, type: 'text/plain', bytes: new Uint8Array(bytes).fill(0x61) });

const png = (width: number, height: number, r = 200) =>
  sharp({ create: { width, height, channels: 3, background: { r, g: 80, b: 40 } } }).png().toBuffer();

/** Every stored file under UPLOAD_DIR. */
async function storedFiles(): Promise<string[]> {
  const root = path.join(server.dir, 'uploads');
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
}

const attachmentOf = (reply: ApiReply) => {
  assert.equal(reply.status, 201, JSON.stringify(reply.json));
  return attachmentSchema.parse((reply.json as { attachment: unknown }).attachment);
};

/** A 429 `rate_limited` with a positive `retryAfterMs` within `windowMs`, and the same wait in `Retry-After`. */
function assertRateLimited(reply: ApiReply, windowMs: number, message: RegExp) {
  assert.equal(reply.status, 429, JSON.stringify(reply.json));
  const error = apiError(reply);
  assert.equal(error.code, 'rate_limited');
  assert.match(error.message, message);
  assert.ok(typeof error.retryAfterMs === 'number' && error.retryAfterMs > 0 && error.retryAfterMs <= windowMs, `retryAfterMs ${error.retryAfterMs}`);
  assert.equal(reply.headers.get('retry-after'), String(Math.ceil(error.retryAfterMs / 1000)));
}

test(`the ${UPLOADS_PER_MINUTE + 1}th upload of a minute is refused with 429 rate_limited and nothing is stored; other users upload on`, async () => {
  const [ana, ben] = await Promise.all([server.user('CountAna'), server.user('CountBen')]);
  const room = await server.createRoom('count-limit', { as: ana });
  for (let i = 0; i < UPLOADS_PER_MINUTE; i++) attachmentOf(await upload(ana, room.id, textFile(`note-${i}.txt`, 100)));

  const stored = await storedFiles();
  const refused = await upload(ana, room.id, textFile('one-too-many.txt', 100));
  assertRateLimited(refused, 60_000, new RegExp(`uploading too fast \\(at most ${UPLOADS_PER_MINUTE} files a minute\\); try again in \\d+ s`));
  // Refused before the file is read: even a forged or oversized one gets the same answer, not 413 or 415.
  assertRateLimited(await upload(ana, room.id, { name: 'fake.png', type: 'image/png', bytes: new Uint8Array(100) }), 60_000, /too fast/);
  assert.deepEqual(await storedFiles(), stored, 'nothing stored for the refused uploads');

  const theirs = attachmentOf(await upload(ben, room.id, textFile('ben.txt', 100)));
  assert.equal(theirs.size, 100, 'another user is not affected');
});

test('the hourly byte budget: refused up front when the declared size passes what is left, stored sizes counted exactly, refusals take nothing', async () => {
  const [ana, ben] = await Promise.all([server.user('BytesAna'), server.user('BytesBen')]);
  const room = await server.createRoom('byte-budget', { as: ana });
  const initial = await storedFiles();

  // A refused upload (content not what its type says) takes nothing from the budget.
  const forged = await upload(ana, room.id, { name: 'fake.png', type: 'image/png', bytes: new Uint8Array(60 * KiB).fill(0x61) });
  assert.equal(forged.status, 415, JSON.stringify(forged.json));
  for (let i = 0; i < 3; i++) attachmentOf(await upload(ana, room.id, textFile(`full-${i}.txt`, MAX_UPLOAD_BYTES)));
  attachmentOf(await upload(ana, room.id, textFile('forty.txt', 40 * KiB))); // 232 KiB stored: 24 KiB left
  const stored = await storedFiles();
  assert.equal(stored.length, initial.length + 4);

  // The declared size is over what is left: refused before a byte is read, with when to try again.
  const over = await upload(ana, room.id, textFile('thirty.txt', 30 * KiB));
  assertRateLimited(over, 3_600_000, /would pass your limit of 256 KiB an hour \(24 KiB left\); try again in \d+ (s|min)/);
  assert.deepEqual(await storedFiles(), stored, 'nothing stored for the refused upload');

  // What fits is accepted; the budget then holds exactly what was stored (not the declared request size).
  attachmentOf(await upload(ana, room.id, textFile('twenty.txt', 20 * KiB)));
  assertRateLimited(await upload(ana, room.id, textFile('five.txt', 5 * KiB)), 3_600_000, /\(4 KiB left\)/);

  // Without a declared size (chunked) the most a file may be is held: more than is left, so refused too.
  const boundary = 'confab-limits-boundary';
  const chunked = await fetch(`${server.url}/api/rooms/${room.id}/attachments`, {
    method: 'POST',
    headers: { cookie: ana.cookie, origin: server.url, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="tiny.txt"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--${boundary}--\r\n`));
        controller.close();
      },
    }),
    duplex: 'half',
  } as RequestInit);
  assert.equal(chunked.status, 429);
  assert.equal(((await chunked.json()) as { error: { code: string } }).error.code, 'rate_limited');
  assert.equal((await storedFiles()).length, initial.length + 5);

  // Another user has a budget of their own.
  for (let i = 0; i < 4; i++) attachmentOf(await upload(ben, room.id, textFile(`ben-${i}.txt`, MAX_UPLOAD_BYTES)));
});

test('six images uploaded at once all succeed, each with its thumbnail', async () => {
  const ana = await server.user('Gallery');
  const room = await server.createRoom('gallery', { as: ana });
  const sizes: Array<[number, number]> = [
    [1600, 1200],
    [1200, 1600],
    [900, 900],
    [2000, 500],
    [640, 480],
    [300, 200],
  ];
  const images = await Promise.all(sizes.map(([w, h], i) => png(w, h, 40 * i)));
  const replies = await Promise.all(images.map((bytes, i) => upload(ana, room.id, { name: `photo-${i}.png`, type: 'image/png', bytes })));
  const thumbnailSizes = await Promise.all(
    replies.map(async (reply, i) => {
      const a = attachmentOf(reply);
      assert.deepEqual([a.width, a.height], sizes[i]);
      const res = await fetch(`${server.url}${a.thumbnailUrl!}`, { headers: { cookie: ana.cookie } });
      assert.equal(res.status, 200);
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      return [meta.width, meta.height];
    }),
  );
  assert.deepEqual(thumbnailSizes, [
    [400, 300],
    [300, 400],
    [400, 400],
    [400, 100],
    [400, 300],
    [300, 200],
  ]);
});
