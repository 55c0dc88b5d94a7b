/**
 * Attachments end to end in real Chromium: Ana attaches an image with the button, a text file by pasting and
 * a PDF by dropping it on the room; refused files show the server's reason on their chip; Ben, in another
 * browser context, sees the thumbnail (which opens the full image in a new tab) and the file cards with a
 * working download link. Screenshots in test-results/screenshots/attachments-*.png.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import {
  assertNoConsoleProblems,
  E2EServer,
  e2eSuite,
  ME_UNAVAILABLE,
  openPage,
  screenshot,
  screenshotBoth,
  waitForConnection,
  waitForMessage,
  WS_REFUSED,
} from '../helpers/browser.js';

/** A small limit, so the over-limit file stays small. */
const MAX_UPLOAD_BYTES = 200 * 1024;
/** Chromium logs each refused upload's status; the test provokes them on purpose. */
const REFUSED_UPLOAD = /status of 41[35] .*\/api\/rooms\/\d+\/attachments/;

let server: E2EServer;
let browser: Browser;

e2eSuite((s, b) => {
  server = s;
  browser = b;
}, { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) });

/** An 800 x 500 picture: a diagonal gradient, so the thumbnail visibly is the image. */
async function mockup(): Promise<Buffer> {
  const width = 800;
  const height = 500;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = Math.round((x / width) * 255);
      pixels[i + 1] = Math.round((y / height) * 160) + 60;
      pixels[i + 2] = 220;
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** Files handed to the page: bytes as base64 (page.evaluate takes JSON). */
type PageFile = { name: string; type: string; base64: string };
const pageFile = (name: string, type: string, bytes: Buffer | string): PageFile => ({
  name,
  type,
  base64: Buffer.from(bytes).toString('base64'),
});

/** Pastes files into the composer, as Ctrl+V of copied files does. */
function paste(page: Page, files: PageFile[]): Promise<void> {
  return page.evaluate((list) => {
    const data = new DataTransfer();
    for (const f of list) data.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
    document.getElementById('composer-input')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, files);
}

/** Drags files from outside the browser and drops them onto the room. */
function drop(page: Page, files: PageFile[]): Promise<void> {
  return page.evaluate((list) => {
    const data = new DataTransfer();
    for (const f of list) data.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
    const zone = document.getElementById('timeline')!;
    for (const type of ['dragenter', 'dragover', 'drop']) {
      zone.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
    }
  }, files);
}

/** Waits until the composer holds `count` chips in `state`. */
async function waitForChips(page: Page, state: 'ready' | 'error', count: number): Promise<void> {
  await page.waitForFunction(
    ([s, n]) => document.querySelectorAll(`[data-testid="attachment-chip"][data-state="${s}"]`).length === n,
    [state, count] as const,
  );
}

test('attach by button, paste and drop; refusals explained on the chip; the other member sees thumbnail and file cards', async () => {
  const anaAccount = await server.signUp('ana', 'Ana Lima');
  const benAccount = await server.signUp('ben', 'Ben K.');
  const room = await server.createRoom(anaAccount, 'design');
  await server.join(benAccount, room.id);
  const ana = await openPage(browser, `${server.url}/chat/design/`, undefined, anaAccount);
  const ben = await openPage(browser, `${server.url}/chat/design/`, undefined, benAccount);
  try {
    for (const { page } of [ana, ben]) {
      await waitForConnection(page);
      await page.getByTestId('timeline-top').getByText('Beginning of #design').waitFor();
    }
    const png = await mockup();

    // 1. The button: the file chooser, then a chip that turns ready with the server's thumbnail.
    const [chooser] = await Promise.all([ana.page.waitForEvent('filechooser'), ana.page.getByTestId('attach-button').click()]);
    await chooser.setFiles({ name: 'mockup.png', mimeType: 'image/png', buffer: png });
    await waitForChips(ana.page, 'ready', 1);
    await screenshot(ana.page, 'attachments-composer-image');
    await ana.page.getByTestId('composer-input').fill('The new header mockup');
    await ana.page.getByTestId('composer-input').press('Enter');
    await waitForMessage(ana.page, 'The new header mockup');
    assert.equal(await ana.page.getByTestId('attachment-tray').isHidden(), true, 'the tray empties once sent');

    // 2. Paste a text file and drop a PDF; send them with no text at all.
    await paste(ana.page, [pageFile('notes.txt', 'text/plain', 'Header: 64 px\nLogo: left\n')]);
    await drop(ana.page, [pageFile('spec.pdf', 'application/pdf', '%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n')]);
    await waitForChips(ana.page, 'ready', 2);

    // 3. Refusals: a page named .png, and a file over the limit. Each chip says why; they can be removed.
    await paste(ana.page, [pageFile('cute-cat.png', 'image/png', '<html><script>alert(1)</script></html>')]);
    await drop(ana.page, [pageFile('huge.txt', 'text/plain', 'x'.repeat(MAX_UPLOAD_BYTES + 1))]);
    await waitForChips(ana.page, 'error', 2);
    const errors = await ana.page.getByTestId('attachment-error').allTextContents();
    assert.ok(errors.some((e) => /cute-cat\.png.*not what its type/.test(e)), errors.join(' | '));
    // Refused in the page from hello's maxUploadBytes, before a byte is sent.
    assert.ok(errors.some((e) => /huge\.txt is larger than the limit of 200 KB/.test(e)), errors.join(' | '));
    await screenshot(ana.page, 'attachments-composer-refused');
    const refused = ana.page.locator('[data-testid="attachment-chip"][data-state="error"]');
    await refused.first().getByTestId('attachment-remove').click();
    await waitForChips(ana.page, 'error', 1);
    await refused.first().getByTestId('attachment-remove').click();
    await waitForChips(ana.page, 'error', 0);
    assert.equal(await ana.page.getByTestId('send-button').isEnabled(), true, 'files alone may be sent');
    await ana.page.getByTestId('send-button').click();

    // 4. Ben sees both messages: the thumbnail, loaded, and two file cards.
    await waitForMessage(ben.page, 'The new header mockup');
    const thumb = ben.page.getByTestId('attachment-thumbnail');
    await thumb.waitFor();
    await ben.page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('[data-testid="attachment-thumbnail"]');
      return img !== null && img.complete && img.naturalWidth > 0;
    });
    assert.equal(await thumb.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight].join('x')), '400x250');
    assert.equal(await thumb.getAttribute('alt'), 'mockup.png');
    await ben.page.getByTestId('attachment-file').nth(1).waitFor();
    assert.deepEqual(await ben.page.getByTestId('attachment-name').allTextContents(), ['notes.txt', 'spec.pdf']);
    assert.equal(await ben.page.getByTestId('message-pending').count(), 0);
    await screenshotBoth(ben.page, 'attachments-timeline');

    // The thumbnail opens the full image in a new tab; the download link serves the file as a download.
    const [tab] = await Promise.all([ben.context.waitForEvent('page'), thumb.click()]);
    await tab.waitForLoadState();
    assert.match(tab.url(), /\/api\/attachments\/\d+\/mockup\.png$/);
    const full = await tab.evaluate(() => {
      const img = document.querySelector('img');
      return img === null ? null : `${img.naturalWidth}x${img.naturalHeight}`;
    });
    assert.equal(full, '800x500');
    await tab.close();
    const href = await ben.page.getByTestId('attachment-download').first().getAttribute('href');
    const download = await ben.page.evaluate(async (url) => {
      const res = await fetch(url!);
      return { status: res.status, disposition: res.headers.get('content-disposition'), text: await res.text() };
    }, href);
    assert.equal(download.status, 200);
    assert.match(download.disposition ?? '', /^attachment; filename="notes\.txt"/);
    assert.equal(download.text, 'Header: 64 px\nLogo: left\n');

    // Ana's own view shows the same, from the message she sent (not only after a reload).
    await ana.page.getByTestId('attachment-file').nth(1).waitFor();
    assert.equal(await ana.page.getByTestId('attachment-thumbnail').count(), 1);
    await screenshot(ana.page, 'attachments-sender');
    assertNoConsoleProblems(ana, [REFUSED_UPLOAD]);
    assertNoConsoleProblems(ben);
  } finally {
    await ana.context.close();
    await ben.context.close();
  }
});

test('a message with files written while the server is down keeps them: shown pending, resent with the same uploads once back', async () => {
  const opal = await server.signUp('opal', 'Opal');
  const room = await server.createRoom(opal, 'outage-files');
  const tp = await openPage(browser, `${server.url}/chat/outage-files/`, undefined, opal);
  const { page } = tp;
  try {
    await waitForConnection(page);
    await page.getByTestId('timeline-top').getByText('Beginning of #outage-files').waitFor();
    await paste(page, [pageFile('minutes.txt', 'text/plain', 'Decisions: ship it.\n')]);
    await waitForChips(page, 'ready', 1);

    await server.stop();
    await page.getByTestId('connection-state').filter({ hasText: /Reconnecting…|Offline/ }).waitFor();
    await page.getByTestId('composer-input').fill('minutes attached');
    await page.getByTestId('composer-input').press('Enter');
    const pending = page.getByTestId('message-pending');
    await pending.getByTestId('attachment-name').filter({ hasText: 'minutes.txt' }).waitFor();
    const stored = (await page.evaluate((id) => localStorage.getItem(`confab.outbox.${id}`), opal.user.id)) ?? '';
    assert.match(stored, /"attachments":\[\{"id":\d+,"name":"minutes.txt"/, 'the outbox keeps the uploads');

    await server.restart();
    await waitForConnection(page);
    await waitForMessage(page, 'minutes attached');
    await pending.waitFor({ state: 'detached' });
    const { json } = await server.api(opal, 'GET', `/api/rooms/${room.id}/messages`);
    const messages = (json as { messages: Array<{ body: string; attachments: Array<{ name: string }> }> }).messages;
    assert.deepEqual(
      messages.map((m) => [m.body, m.attachments.map((a) => a.name)]),
      [['minutes attached', ['minutes.txt']]],
      'stored once, with its file',
    );
    await page.getByTestId('message').getByTestId('attachment-name').filter({ hasText: 'minutes.txt' }).waitFor();
    assertNoConsoleProblems(tp, [WS_REFUSED, ME_UNAVAILABLE]);
  } finally {
    await tp.context.close();
  }
});
