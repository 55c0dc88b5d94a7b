/**
 * Attachments over HTTP against a real server (SQLite, a temporary UPLOAD_DIR): upload and download by a
 * member, who may read them (checked on every request), the size limit cut off while streaming, forged and
 * refused types, safe names and the headers every file is served with, and no file left behind by a refusal.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { UNSENT_UPLOAD_TTL_MS } from '../../src/attachments/attachment-service.js';
import { attachmentSchema } from '../helpers/frame-schemas.js';
import { apiError, expectFrame, TestServer, type Account, type ApiReply, type Room } from '../helpers/server.js';

/** A small limit, so the over-limit uploads stay small too. */
const MAX_UPLOAD_BYTES = 256 * 1024;

let server: TestServer;
before(async () => {
  // The per-user upload limits have their own tests (attachment-limits.test.ts); here one account uploads a lot.
  server = await TestServer.start({ MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES), MESSAGE_RATE_LIMIT: '1000000', FRAMES_PER_SECOND: '1000000', UPLOADS_PER_USER_PER_MINUTE: '1000' });
});
after(() => server.close());

type Upload = { name: string; type: string; bytes: Uint8Array<ArrayBuffer> };

/** POSTs one file as multipart/form-data (as a browser's FormData does), from the app's own Origin. */
async function upload(as: Account, roomId: number, file: Upload, opts: { origin?: string } = {}): Promise<ApiReply> {
  const form = new FormData();
  form.append('file', new Blob([file.bytes], { type: file.type }), file.name);
  const res = await fetch(`${server.url}/api/rooms/${roomId}/attachments`, {
    method: 'POST',
    headers: { cookie: as.cookie, origin: opts.origin ?? server.url },
    body: form,
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null, headers: res.headers };
}

/** A GET of a file URL as `as` (or signed out), with the body as bytes. */
async function download(as: Account | null, url: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${url}`, { headers: { ...headers, ...(as ? { cookie: as.cookie } : {}) } });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** Every stored file under UPLOAD_DIR. */
async function storedFiles(): Promise<string[]> {
  const root = path.join(server.dir, 'uploads');
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
}

const png = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 40 } } }).png().toBuffer();

const attachmentOf = (reply: ApiReply) => {
  assert.equal(reply.status, 201, JSON.stringify(reply.json));
  return attachmentSchema.parse((reply.json as { attachment: unknown }).attachment);
};

async function privateRoom(owner: Account, name: string, members: Account[]): Promise<Room> {
  const room = await server.createRoom(name, { private: true, as: owner });
  for (const m of members) {
    const r = await server.api('POST', `/api/rooms/${room.id}/members`, { as: owner, body: { username: m.user.username } });
    assert.equal(r.status, 204, JSON.stringify(r.json));
  }
  return room;
}

/** Sends a message with the uploads over the WebSocket and returns the `message` frame as stored. */
async function sendWith(as: Account, roomId: number, ids: number[], body = '') {
  const client = await server.connect(as);
  const ack = expectFrame(await client.request({ type: 'send', room: roomId, clientMsgId: `att-${ids.join('-')}`, body, attachments: ids }), 'ack');
  const [message] = (await client.allHistory(roomId)).filter((m) => m.seq === ack.seq);
  assert.ok(message, 'the sent message is in history');
  return message;
}

test('a member uploads an image: 201 with type, size and size in pixels; the thumbnail fits 400 px; download gives the same bytes', async () => {
  const ana = await server.user('Ana');
  const room = await server.createRoom('pictures', { as: ana });
  const bytes = await png(800, 600);
  const a = attachmentOf(await upload(ana, room.id, { name: 'photo.png', type: 'image/png', bytes }));
  assert.equal(a.name, 'photo.png');
  assert.equal(a.type, 'image/png');
  assert.equal(a.size, bytes.length);
  assert.equal(a.url, `/api/attachments/${a.id}/photo.png`);
  assert.equal(a.thumbnailUrl, `/api/attachments/${a.id}/thumbnail`);
  assert.deepEqual([a.width, a.height], [800, 600]);

  const file = await download(ana, a.url);
  assert.equal(file.status, 200);
  assert.deepEqual(file.body, bytes);
  assert.equal(file.headers.get('content-type'), 'image/png');
  assert.equal(file.headers.get('content-disposition'), `inline; filename="photo.png"; filename*=UTF-8''photo.png`);
  assert.equal(file.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(file.headers.get('content-security-policy'), "default-src 'none'; sandbox");
  assert.match(file.headers.get('cache-control') ?? '', /^private\b/);

  const thumb = await download(ana, a.thumbnailUrl!);
  assert.equal(thumb.status, 200);
  assert.equal(thumb.headers.get('content-type'), 'image/webp');
  assert.equal(thumb.headers.get('x-content-type-options'), 'nosniff');
  const meta = await sharp(thumb.body).metadata();
  assert.equal(meta.format, 'webp');
  assert.deepEqual([meta.width, meta.height], [400, 300]);

  // The same version again: 304 without a body, after the same access check.
  const again = await download(ana, a.url, { 'if-none-match': file.headers.get('etag')! });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
});

test('downloads are for those who may read the room, checked on every request: unsent uploads are the uploader\'s, non-members and removed members get 404', async () => {
  const [owner, ben, eve] = await Promise.all([server.user('Owner2'), server.user('Ben'), server.user('Eve')]);
  const room = await privateRoom(owner, 'secret-files', [ben]);
  const a = attachmentOf(await upload(owner, room.id, { name: 'plan.png', type: 'image/png', bytes: await png(40, 30) }));
  const urls = [a.url, a.thumbnailUrl!];
  const missing = { url: `/api/attachments/${a.id + 100_000}/plan.png`, thumb: `/api/attachments/${a.id + 100_000}/thumbnail` };
  const normalized = async (as: Account | null, url: string) => {
    const r = await download(as, url);
    const body = JSON.parse(r.body.toString()) as { error: { code: string; message: string } };
    return { status: r.status, code: body.error.code, message: body.error.message.replace(/\d+/g, 'N') };
  };
  const notFound = await normalized(eve, missing.url);
  assert.deepEqual(notFound, { status: 404, code: 'not_found', message: 'Attachment N does not exist' });
  assert.deepEqual(await normalized(eve, missing.thumb), notFound);

  // Not sent yet: only the uploader sees it, even inside the room.
  for (const url of urls) {
    assert.equal((await download(owner, url)).status, 200, url);
    assert.deepEqual(await normalized(ben, url), notFound, `unsent ${url}`);
  }
  const message = await sendWith(owner, room.id, [a.id], 'the plan');
  assert.deepEqual(message.attachments.map((x) => x.id), [a.id]);
  for (const url of urls) {
    assert.equal((await download(ben, url)).status, 200, `member ${url}`);
    assert.deepEqual(await normalized(eve, url), notFound, `non-member ${url}: as for an id that does not exist`);
    assert.equal((await download(null, url)).status, 401, `signed out ${url}`);
  }
  // Ben is removed: the very next request is refused (no cached permission).
  const removed = await server.api('DELETE', `/api/rooms/${room.id}/members/${ben.user.id}`, { as: owner });
  assert.equal(removed.status, 204);
  for (const url of urls) assert.deepEqual(await normalized(ben, url), notFound, `removed member ${url}`);
  // Uploading to a room one may not read: the same answer as for a room that does not exist.
  const refused = await upload(eve, room.id, { name: 'x.png', type: 'image/png', bytes: await png(4, 4) });
  assert.equal(refused.status, 404);
  assert.equal(apiError(refused).code, 'not_found');
});

test('over MAX_UPLOAD_BYTES: 413 too_large, whether declared up front or cut off while streaming, and no file is left behind', async () => {
  const ana = await server.user('Ana');
  const room = await server.createRoom('big-files', { as: ana });
  const before = await storedFiles();
  const big = new Uint8Array(MAX_UPLOAD_BYTES + 1).fill(0x61);
  const declared = await upload(ana, room.id, { name: 'big.txt', type: 'text/plain', bytes: big });
  assert.equal(declared.status, 413);
  assert.equal(apiError(declared).code, 'too_large');
  assert.match(apiError(declared).message, /256 KiB/);

  // No Content-Length (chunked): the server only finds out while streaming, and cuts the file off there.
  const boundary = 'confab-test-boundary';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n`;
  const chunk = new Uint8Array(64 * 1024).fill(0x62);
  const chunks = Math.ceil((MAX_UPLOAD_BYTES * 2) / chunk.length);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(head));
      for (let i = 0; i < chunks; i++) controller.enqueue(chunk);
      controller.enqueue(new TextEncoder().encode(`\r\n--${boundary}--\r\n`));
      controller.close();
    },
  });
  const res = await fetch(`${server.url}/api/rooms/${room.id}/attachments`, {
    method: 'POST',
    headers: { cookie: ana.cookie, origin: server.url, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
    duplex: 'half',
  } as RequestInit);
  assert.equal(res.status, 413);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'too_large');
  assert.deepEqual(await storedFiles(), before, 'nothing stored, no partial file');

  // Exactly at the limit is fine.
  const fits = await upload(ana, room.id, { name: 'fits.txt', type: 'text/plain', bytes: big.subarray(0, MAX_UPLOAD_BYTES) });
  assert.equal(attachmentOf(fits).size, MAX_UPLOAD_BYTES);
});

test('forged and refused types: 415 unsupported_type with a clear message, and no file left behind', async () => {
  const ana = await server.user('Ana');
  const room = await server.createRoom('forgeries', { as: ana });
  const before = await storedFiles();
  const text = (s: string) => new TextEncoder().encode(s);
  const html = text('<!doctype html><html><body><script>alert(document.cookie)</script></body></html>');
  const cases: Array<Upload & { why: RegExp }> = [
    { name: 'cute.png', type: 'image/png', bytes: html, why: /content of "cute\.png" is not what its type \(image\/png\) says/ },
    { name: 'cat.jpg', type: 'image/jpeg', bytes: await png(10, 10), why: /not what its type \(image\/jpeg\) says/ },
    { name: 'payload.png', type: 'image/png', bytes: text('alert(1)//'), why: /not what its type/ },
    { name: 'page.html', type: 'text/html', bytes: html, why: /does not accept "text\/html" files/ },
    { name: 'x.js', type: 'text/javascript', bytes: text('alert(1)'), why: /"text\/javascript"/ },
    { name: 'logo.svg', type: 'image/svg+xml', bytes: text('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'), why: /image\/svg\+xml/ },
    { name: 'tool.exe', type: 'application/octet-stream', bytes: text('MZ....'), why: /files ending in "\.exe"/ },
    { name: 'notes.txt', type: 'text/plain', bytes: await png(10, 10), why: /not what its type \(text\/plain\) says/ },
    // Right magic bytes, but not an image that decodes.
    { name: 'broken.png', type: 'image/png', bytes: (await png(50, 50)).subarray(0, 60), why: /could not be read as an image/ },
  ];
  for (const c of cases) {
    const r = await upload(ana, room.id, c);
    assert.equal(r.status, 415, `${c.name}: ${JSON.stringify(r.json)}`);
    assert.equal(apiError(r).code, 'unsupported_type', c.name);
    assert.match(apiError(r).message, c.why, c.name);
  }
  assert.deepEqual(await storedFiles(), before, 'no refused upload left a file');
});

test('other files download as application/octet-stream attachments with an RFC 6266 name; names are made safe', async () => {
  const ana = await server.user('Ana');
  const room = await server.createRoom('documents', { as: ana });
  const pdf = new TextEncoder().encode('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');
  const a = attachmentOf(await upload(ana, room.id, { name: 'Résumé <final> 2026.pdf', type: 'application/pdf', bytes: pdf }));
  assert.equal(a.name, 'Résumé _final_ 2026.pdf');
  assert.equal(a.thumbnailUrl, undefined);
  assert.equal(a.width, undefined);
  const file = await download(ana, a.url);
  assert.equal(file.status, 200);
  assert.equal(file.headers.get('content-type'), 'application/octet-stream');
  assert.equal(
    file.headers.get('content-disposition'),
    `attachment; filename="R_sum_ _final_ 2026.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20_final_%202026.pdf`,
  );
  assert.equal(file.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(file.headers.get('content-security-policy'), "default-src 'none'; sandbox");
  assert.deepEqual(file.body, Buffer.from(pdf));
  assert.equal((await download(ana, `/api/attachments/${a.id}/thumbnail`)).status, 404, 'no thumbnail for a PDF');

  // Path parts, a bidi override that would show "txt.exe" as "exe.txt", control characters; an HTML page
  // sent as text is accepted but only ever downloaded, never shown.
  const tricky = attachmentOf(
    await upload(ana, room.id, { name: '../../etc/\u202Eexe.txt\u0007', type: 'text/plain', bytes: new TextEncoder().encode('<script>alert(1)</script>') }),
  );
  assert.equal(tricky.name, 'exe.txt');
  const served = await download(ana, tricky.url);
  assert.equal(served.headers.get('content-type'), 'application/octet-stream');
  assert.match(served.headers.get('content-disposition') ?? '', /^attachment;/);

  // A name without the type's extension gets it; a generic type is decided by the extension.
  const named = attachmentOf(await upload(ana, room.id, { name: 'screenshot', type: 'image/png', bytes: await png(8, 8) }));
  assert.equal(named.name, 'screenshot.png');
  const generic = attachmentOf(await upload(ana, room.id, { name: 'data.csv', type: 'application/octet-stream', bytes: new TextEncoder().encode('a,b\n1,2\n') }));
  assert.equal(generic.type, 'text/csv');
  const long = attachmentOf(await upload(ana, room.id, { name: `${'ä'.repeat(300)}.txt`, type: 'text/plain', bytes: new TextEncoder().encode('x') }));
  assert.equal(Array.from(long.name).length, 120);
  assert.ok(long.name.endsWith('.txt'));
});

test('#25 uploads are changes: a cookie-authenticated upload from a foreign Origin is refused, and an empty or missing file is a bad request', async () => {
  const ana = await server.user('Ana');
  const room = await server.createRoom('csrf-files', { as: ana });
  const foreign = await upload(ana, room.id, { name: 'a.png', type: 'image/png', bytes: await png(4, 4) }, { origin: 'http://evil.example' });
  assert.equal(foreign.status, 403);
  assert.equal(apiError(foreign).code, 'bad_origin');
  const empty = await upload(ana, room.id, { name: 'empty.txt', type: 'text/plain', bytes: new Uint8Array() });
  assert.equal(empty.status, 400);
  assert.equal(apiError(empty).code, 'bad_request');
  const json = await server.api('POST', `/api/rooms/${room.id}/attachments`, { as: ana, body: { file: 'no' } });
  assert.equal(json.status, 400);
  assert.equal(apiError(json).code, 'bad_request');
});

test('deleting a message deletes its files: downloads answer 404 and the bytes leave UPLOAD_DIR', async () => {
  const ana = await server.user('Ana');
  const room = await server.createRoom('short-lived', { as: ana });
  const before = await storedFiles();
  const a = attachmentOf(await upload(ana, room.id, { name: 'gone.png', type: 'image/png', bytes: await png(30, 20) }));
  assert.equal((await storedFiles()).length, before.length + 2, 'the file and its thumbnail');
  const message = await sendWith(ana, room.id, [a.id], 'soon gone');
  const deleted = await server.api('DELETE', `/api/rooms/${room.id}/messages/${message.id}`, { as: ana });
  assert.equal(deleted.status, 204, JSON.stringify(deleted.json));
  for (const url of [a.url, a.thumbnailUrl!]) assert.equal((await download(ana, url)).status, 404, url);
  // The bytes go right after the commit, without holding up the answer: wait for them (bounded).
  const deadline = Date.now() + 10_000;
  while ((await storedFiles()).length !== before.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(await storedFiles(), before);
});

test('uploads never sent are deleted a day later, record and bytes; sent ones stay', async () => {
  const ana = await server.user('Sweeper');
  const room = await server.createRoom('drafts', { as: ana });
  const later = () => Date.now() + UNSENT_UPLOAD_TTL_MS + 1000;
  await server.confab.attachments.sweepUnsent(later()); // what earlier tests left unsent
  const kept = attachmentOf(await upload(ana, room.id, { name: 'kept.png', type: 'image/png', bytes: await png(20, 20) }));
  await sendWith(ana, room.id, [kept.id], 'sent');
  const before = await storedFiles();
  const abandoned = attachmentOf(await upload(ana, room.id, { name: 'draft.txt', type: 'text/plain', bytes: new TextEncoder().encode('never sent') }));
  assert.equal((await storedFiles()).length, before.length + 1);

  assert.equal(await server.confab.attachments.sweepUnsent(), 0, 'a fresh upload is someone still writing');
  assert.equal(await server.confab.attachments.sweepUnsent(later()), 1);
  assert.equal((await download(ana, abandoned.url)).status, 404);
  assert.deepEqual(await storedFiles(), before, 'its bytes are gone; the sent file and its thumbnail stay');
  assert.equal((await download(ana, kept.url)).status, 200);
  const late = await server.connect(ana);
  const refused = await late.request({ type: 'send', room: room.id, clientMsgId: 'too-late', body: 'now', attachments: [abandoned.id] });
  assert.equal(expectFrame(refused, 'error').code, 'not_found', 'sending a swept upload is a clear error');
});
