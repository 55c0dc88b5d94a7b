/** The pure parts of attachments: safe names, Content-Disposition, type rules, the content inspector, disk storage. */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, test } from 'node:test';
import { formatBytes } from '../../src/attachments/attachment-service.js';
import { ContentInspector, ContentTooLargeError } from '../../src/attachments/content-inspector.js';
import { DiskStorage } from '../../src/attachments/disk-storage.js';
import { contentDisposition, MAX_FILE_NAME_CHARS, safeFileName } from '../../src/attachments/file-name.js';
import { claimedKind, contentMatches, FILE_KINDS, servedType } from '../../src/attachments/file-types.js';
import { newStorageKey, StoredFileMissingError } from '../../src/attachments/storage.js';
import { ConfabError } from '../../src/errors.js';

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
