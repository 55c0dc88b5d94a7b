/**
 * The parts of attachments that need no server: safe names, Content-Disposition, type rules, the content
 * inspector, disk storage, the semaphore and thumbnails, and the per-user upload limits of `admit`.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, test } from 'node:test';
import { pino } from 'pino';
import sharp from 'sharp';
import { AttachmentService, formatBytes, type AttachmentLimits } from '../../src/attachments/attachment-service.js';
import { ContentInspector, ContentTooLargeError } from '../../src/attachments/content-inspector.js';
import { DiskStorage } from '../../src/attachments/disk-storage.js';
import { contentDisposition, MAX_FILE_NAME_CHARS, safeFileName } from '../../src/attachments/file-name.js';
import { claimedKind, contentMatches, FILE_KINDS, servedType } from '../../src/attachments/file-types.js';
import { Semaphore } from '../../src/attachments/semaphore.js';
import { newStorageKey, StoredFileMissingError } from '../../src/attachments/storage.js';
import { ImageUnreadableError, makeThumbnail, MAX_IMAGE_PIXELS } from '../../src/attachments/thumbnails.js';
import type { Principal } from '../../src/chat/principal.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { ConfabError } from '../../src/errors.js';
import type { RoomRecord, Store } from '../../src/store/store.js';

const kind = (type: string) => FILE_KINDS.find((k) => k.type === type)!;

test('safe file names: last path part, no invisible or control characters, no leading dots, capped, right extension', () => {
  const txt = kind('text/plain');
  const png = kind('image/png');
  assert.equal(safeFileName('../../etc/passwd.txt', txt), 'passwd.txt');
  assert.equal(safeFileName('C:\\Users\\ana\\notes.txt', txt), 'notes.txt');
  assert.equal(safeFileName('invoice\u202Etxt.exe', txt), 'invoicetxt.exe.txt', 'a bidi override cannot disguise the extension');
  assert.equal(safeFileName('a\u2066b\u2069c\u200Bd\u0000e\u0007.txt', txt), 'abcde.txt');
  assert.equal(safeFileName('line\nbreak\tnow.txt', txt), 'line break now.txt');
  assert.equal(safeFileName('...hidden.txt', txt), 'hidden.txt');
  assert.equal(safeFileName('trailing. . ', txt), 'trailing.txt');
  assert.equal(safeFileName('a<b>c:d"e|f?g*.txt', txt), 'a_b_c_d_e_f_g_.txt');
  assert.equal(safeFileName('', png), 'file.png');
  assert.equal(safeFileName('\u202E', png), 'file.png');
  assert.equal(safeFileName('Photo.PNG', png), 'Photo.PNG');
  assert.equal(safeFileName('photo.png', kind('image/jpeg')), 'photo.png.jpg', 'the extension follows the checked type');
  assert.equal(safeFileName('cafe\u0301.txt', txt), 'café.txt', 'NFC');
  const long = safeFileName(`${'😀'.repeat(200)}.txt`, txt);
  assert.equal(Array.from(long).length, MAX_FILE_NAME_CHARS);
  assert.ok(long.endsWith('😀.txt'), 'cut between code points, never inside a surrogate pair');
});

test('Content-Disposition: an ASCII fallback and the exact UTF-8 name (RFC 6266 / 8187)', () => {
  assert.equal(contentDisposition('attachment', 'report.pdf'), `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`);
  assert.equal(
    contentDisposition('inline', 'Résumé (v2) it\'s*.png'),
    `inline; filename="R_sum_ (v2) it's*.png"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%28v2%29%20it%27s%2A.png`,
  );
  assert.equal(contentDisposition('attachment', 'a"b\\c%d.txt'), `attachment; filename="a_b_c_d.txt"; filename*=UTF-8''a%22b%5Cc%25d.txt`);
});

test('claimed types: the allow-list by type or alias, the extension for generic types; HTML, SVG and scripts refused', () => {
  assert.equal(claimedKind('a.png', 'image/png').type, 'image/png');
  assert.equal(claimedKind('a.jpg', 'IMAGE/PJPEG').type, 'image/jpeg');
  assert.equal(claimedKind('a.txt', 'text/plain; charset=utf-8').type, 'text/plain');
  assert.equal(claimedKind('data.CSV', 'application/octet-stream').type, 'text/csv');
  assert.equal(claimedKind('doc.docx', '').type, 'application/vnd.openxmlformats-officedocument.wordprocessingml.document');
  for (const [name, type] of [
    ['a.html', 'text/html'],
    ['a.svg', 'image/svg+xml'],
    ['a.js', 'text/javascript'],
    ['a.js', 'application/javascript'],
    ['a.xhtml', 'application/xhtml+xml'],
    ['a.exe', 'application/octet-stream'],
    ['noextension', ''],
  ] as const) {
    assert.throws(() => claimedKind(name, type), (err: unknown) => err instanceof ConfabError && err.code === 'unsupported_type', `${name} ${type}`);
  }
});

test('content must match: magic bytes for binary kinds, text without a binary signature for text kinds', () => {
  assert.ok(contentMatches(kind('image/png'), { sniffed: 'image/png', utf8Text: false }));
  assert.ok(contentMatches(kind('image/png'), { sniffed: 'image/apng', utf8Text: false }));
  assert.ok(!contentMatches(kind('image/png'), { sniffed: undefined, utf8Text: true }), 'HTML named .png');
  assert.ok(!contentMatches(kind('image/png'), { sniffed: 'image/jpeg', utf8Text: false }));
  assert.ok(contentMatches(kind('application/vnd.oasis.opendocument.text'), { sniffed: 'application/zip', utf8Text: false }));
  assert.ok(contentMatches(kind('text/plain'), { sniffed: undefined, utf8Text: true }));
  assert.ok(contentMatches(kind('text/plain'), { sniffed: 'application/xml', utf8Text: true }));
  assert.ok(!contentMatches(kind('text/plain'), { sniffed: undefined, utf8Text: false }), 'not UTF-8');
  assert.ok(!contentMatches(kind('text/plain'), { sniffed: 'application/pdf', utf8Text: true }), 'a PDF named .txt');
});

test('served types: raster images inline with their type, everything else a download', () => {
  for (const t of ['image/png', 'image/jpeg', 'image/gif', 'image/webp']) assert.deepEqual(servedType(t), { type: t, inline: true });
  for (const t of ['application/pdf', 'text/plain', 'application/json', 'video/mp4', 'image/svg+xml', 'text/html']) {
    assert.deepEqual(servedType(t), { type: 'application/octet-stream', inline: false }, t);
  }
});

/** Runs chunks through an inspector and returns it. */
async function inspect(chunks: Buffer[], max: number, text: boolean): Promise<ContentInspector> {
  const inspector = new ContentInspector(max, text);
  await pipeline(Readable.from(chunks), inspector, async function* (source) {
    for await (const _ of source) yield* [];
  });
  return inspector;
}

test('content inspector: UTF-8 across chunk boundaries, NUL and broken sequences, the size limit, sniffing', async () => {
  const euro = Buffer.from('€', 'utf8'); // three bytes, split across chunks below
  const ok = await inspect([Buffer.from('price: '), euro.subarray(0, 1), euro.subarray(1), Buffer.from('5')], 100, true);
  assert.deepEqual(await ok.facts(), { sniffed: undefined, utf8Text: true });
  assert.equal(ok.size, 11);
  assert.equal((await (await inspect([Buffer.from('a\u0000b')], 100, true)).facts()).utf8Text, false);
  assert.equal((await (await inspect([Buffer.from([0x61, 0xff])], 100, true)).facts()).utf8Text, false);
  assert.equal((await (await inspect([Buffer.from('ok'), euro.subarray(0, 2)], 100, true)).facts()).utf8Text, false, 'cut short');
  await assert.rejects(inspect([Buffer.alloc(60), Buffer.alloc(41)], 100, false), ContentTooLargeError);
  assert.equal((await inspect([Buffer.alloc(50), Buffer.alloc(50)], 100, false)).size, 100, 'exactly the limit');
  const pdf = await inspect([Buffer.from('%PDF-1.4\n%%EOF\n')], 100, false);
  assert.equal((await pdf.facts()).sniffed, 'application/pdf');
});

const dir = await mkdtemp(path.join(tmpdir(), 'confab-storage-'));
after(() => rm(dir, { recursive: true, force: true }));

test('disk storage: put, open and remove by random key; a failed write leaves nothing; non-keys are refused', async () => {
  const storage = await DiskStorage.open(path.join(dir, 'nested', 'uploads'));
  const key = newStorageKey();
  assert.match(key, /^[0-9a-f]{32}$/);
  assert.notEqual(newStorageKey(), key);
  assert.equal(await storage.put(key, Readable.from([Buffer.from('hello '), Buffer.from('world')])), 11);
  const chunks: Buffer[] = [];
  for await (const c of await storage.open(key)) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'hello world');

  const broken = newStorageKey();
  const failing = new Readable({
    read() {
      this.push(Buffer.from('partial'));
      this.destroy(new Error('client went away'));
    },
  });
  await assert.rejects(storage.put(broken, failing), /client went away/);
  await assert.rejects(storage.open(broken), StoredFileMissingError);
  const files = await readdir(path.join(dir, 'nested', 'uploads'), { recursive: true, withFileTypes: true });
  assert.deepEqual(files.filter((f) => f.isFile()).map((f) => f.name), [key], 'no partial file left');

  await storage.remove([key, broken]);
  await assert.rejects(storage.open(key), StoredFileMissingError);
  for (const bad of ['../../etc/passwd', 'ABC', `${key}/..`, '']) {
    await assert.rejects(storage.put(bad, Buffer.from('x')), /not a storage key/, bad);
  }
});

test('sizes in words', () => {
  assert.equal(formatBytes(10 * 1024 * 1024), '10 MiB');
  assert.equal(formatBytes(256 * 1024), '256 KiB');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(300), '300 bytes');
});

/** Lets every pending callback and promise run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test('semaphore: at most `slots` tasks at once, the others in arrival order; a failed task frees its slot too', async () => {
  const slots = new Semaphore(2);
  const started: number[] = [];
  const finish: Array<(fail: boolean) => void> = [];
  const results = Array.from({ length: 5 }, (_, i) =>
    slots.run(
      () =>
        new Promise<number>((resolve, reject) => {
          started.push(i);
          finish[i] = (fail) => (fail ? reject(new Error(`task ${i} failed`)) : resolve(i));
        }),
    ),
  );
  const outcomes = Promise.allSettled(results);
  await settle();
  assert.deepEqual(started, [0, 1]);
  assert.deepEqual([slots.active, slots.queued], [2, 3]);
  finish[1]!(false);
  await settle();
  assert.deepEqual(started, [0, 1, 2]);
  finish[0]!(true);
  await settle();
  assert.deepEqual(started, [0, 1, 2, 3]);
  assert.deepEqual([slots.active, slots.queued], [2, 1]);
  for (const i of [2, 3]) finish[i]!(false);
  await settle();
  finish[4]!(false);
  assert.deepEqual(await outcomes, [
    { status: 'rejected', reason: new Error('task 0 failed') },
    ...[1, 2, 3, 4].map((value) => ({ status: 'fulfilled', value })),
  ]);
  assert.deepEqual([slots.active, slots.queued], [0, 0]);
  assert.throws(() => new Semaphore(0), RangeError);
});

/** CRC-32 of PNG chunks. */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

test('thumbnails from a stored file (by path) or a stream; an image of more than MAX_IMAGE_PIXELS is refused unread', async () => {
  const file = path.join(dir, 'photo.png');
  const bytes = await sharp({ create: { width: 1000, height: 500, channels: 3, background: '#c85028' } }).png().toBuffer();
  await writeFile(file, bytes);
  for (const source of [file, createReadStream(file)]) {
    const t = await makeThumbnail(source);
    assert.deepEqual([t.width, t.height], [1000, 500]);
    const meta = await sharp(t.data).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 400, 200]);
  }

  // A tiny PNG whose header claims 8000 x 5001 pixels (just over the limit): refused, its pixels never decoded.
  const bomb = Buffer.from(bytes);
  assert.equal(bomb.toString('latin1', 12, 16), 'IHDR');
  bomb.writeUInt32BE(8000, 16);
  bomb.writeUInt32BE(5001, 20);
  bomb.writeUInt32BE(crc32(bomb.subarray(12, 29)), 29);
  assert.ok(8000 * 5001 > MAX_IMAGE_PIXELS);
  const bombFile = path.join(dir, 'bomb.png');
  await writeFile(bombFile, bomb);
  await assert.rejects(makeThumbnail(bombFile), (err: unknown) => err instanceof ImageUnreadableError && /pixel limit/i.test(err.message));
});

test('admit: the per-user count and byte limits, decided before any byte is read; bytes are held until the upload ends', async () => {
  const rooms = { readableRoom: async () => ({}) as RoomRecord };
  const service = (limits: AttachmentLimits) =>
    new AttachmentService({} as Store, rooms, {} as never, limits, pino({ level: 'silent' }));
  const principal = (userId: number | null): Principal => ({ userId, username: `u${userId}`, displayName: 'U', isAdmin: false, sessionId: null, tokenId: null });
  const refusal = (what: RegExp) => (err: unknown) =>
    err instanceof ConfabError && err.code === 'rate_limited' && what.test(err.message) && (err.retryAfterMs ?? 0) > 0;
  const ana = principal(1);

  const bytes = service({ maxUploadBytes: 100, uploadsPerMinute: 100, uploadBytesPerHour: 250 });
  const first = await bytes.admit(ana, 1, 100);
  await bytes.admit(ana, 1, 5000); // capped at the largest file
  // Two uploads in flight hold 200 bytes: a third that could be 100 would pass the budget.
  await assert.rejects(bytes.admit(ana, 1, 100), refusal(/would pass your limit of 250 bytes an hour \(50 bytes left\)/));
  await first.cancel();
  const again = await bytes.admit(ana, 1, null); // no declared size: the largest file is held
  assert.equal(again.reservedBytes, 100);
  await first.cancel(); // ended already: gives nothing back twice
  await assert.rejects(bytes.admit(ana, 1, 60), refusal(/\(50 bytes left\)/));
  assert.equal((await bytes.admit(ana, 1, 50)).reservedBytes, 50);
  assert.equal((await bytes.admit(principal(2), 1, 100)).reservedBytes, 100, 'another user has a budget of their own');
  await assert.rejects(bytes.admit(principal(null), 1, 1), (err: unknown) => err instanceof ConfabError && err.code === 'unauthenticated');

  const count = service({ maxUploadBytes: 100, uploadsPerMinute: 2, uploadBytesPerHour: 1000 });
  await count.admit(ana, 1, 1);
  await count.admit(ana, 1, 1);
  await assert.rejects(count.admit(ana, 1, 1), refusal(/uploading too fast \(at most 2 files a minute\); try again in \d+ s/));
  await count.admit(principal(2), 1, 1);

  assert.throws(() => service({ maxUploadBytes: 100, uploadsPerMinute: 1, uploadBytesPerHour: 99 }), RangeError);
});

test('upload limits in the configuration: 20 uploads a minute and 200 MiB an hour by default; a budget below MAX_UPLOAD_BYTES is refused', () => {
  const c = loadConfig({});
  assert.deepEqual([c.uploadsPerUserPerMinute, c.uploadBytesPerUserPerHour], [20, 200 * 1024 * 1024]);
  const set = loadConfig({ UPLOADS_PER_USER_PER_MINUTE: '5', UPLOAD_BYTES_PER_USER_PER_HOUR: '2048', MAX_UPLOAD_BYTES: '2048' });
  assert.deepEqual([set.uploadsPerUserPerMinute, set.uploadBytesPerUserPerHour], [5, 2048]);
  assert.throws(
    () => loadConfig({ UPLOAD_BYTES_PER_USER_PER_HOUR: '4096', MAX_UPLOAD_BYTES: '8192' }),
    (err: unknown) => err instanceof ConfigError && /UPLOAD_BYTES_PER_USER_PER_HOUR="4096": must be at least MAX_UPLOAD_BYTES/.test(err.message),
  );
  assert.throws(() => loadConfig({ UPLOADS_PER_USER_PER_MINUTE: '0' }), /UPLOADS_PER_USER_PER_MINUTE/);
});
