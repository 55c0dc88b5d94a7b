/**
 * Search in real Chromium: Ctrl+K and `/` focus the box; results show room, author, time and the body with
 * the matched words in <mark>; filters narrow them; "No results" when nothing matches; a private room of
 * others never shows; clicking a result opens the message in its place in history (older pages loaded),
 * highlighted, also in a public room not joined yet. Screenshots in test-results/screenshots/search-*.png.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  assertNoConsoleProblems,
  E2EServer,
  e2eSuite,
  openPage,
  PHONE,
  screenshot,
  waitForConnection,
} from '../helpers/browser.js';

let server: E2EServer;
let browser: Browser;

e2eSuite((s, b) => {
  server = s;
  browser = b;
});

/** Messages before and after the one searched for: more than one history page, so the jump loads older ones. */
const FILLER = 140;
const TARGET = 'The deploy of v2 failed on the Café server, see https://ci.example.com/42';

/** The texts in <mark> of each result on screen, in order. */
function markedWords(page: Page): Promise<string[][]> {
  return page
    .getByTestId('search-result')
    .evaluateAll((nodes) => nodes.map((n) => [...n.querySelectorAll('mark')].map((m) => m.textContent ?? '')));
}

/** Types a query and presses Enter; resolves once the server answered it, and fails unless that was a 200. */
async function search(page: Page, text: string): Promise<void> {
  await page.getByTestId('search-input').fill(text);
  const answered = page.waitForResponse(
    (r) => r.url().includes('/api/search') && new URL(r.url()).searchParams.get('q') === text.trim(),
  );
  await page.getByTestId('search-input').press('Enter');
  assert.equal((await answered).status(), 200, text);
}

test('search: keyboard focus, highlighted results, filters, no results, and a jump into history', async () => {
  const ana = await server.signUp('ana_s', 'Ana Lima');
  const bo = await server.signUp('bo_s', 'Bo');
  const general = await server.createRoom(ana, 'general');
  await server.join(bo, general.id);
  const ops = await server.createRoom(bo, 'ops');
  const vault = await server.createRoom(bo, 'vault', true);
  const writer = await server.connect(bo);
  const anaWs = await server.connect(ana);
  let targetSeq: number;
  try {
    for (let i = 1; i <= 5; i++) await writer.post(general.id, `warm-up message ${i}`);
    targetSeq = Number((await anaWs.post(general.id, TARGET)).seq);
    for (let i = 1; i <= FILLER; i++) await writer.post(general.id, `filler message ${i} about nothing`);
    await writer.post(general.id, 'we will deploy again on monday');
    await writer.post(ops.id, 'Deploy rollback plan for the cafe');
    await writer.post(vault.id, 'deploy secret keys to the café vault');
  } finally {
    await writer.close();
    await anaWs.close();
  }

  const tp = await openPage(browser, `${server.url}/chat/general/`, undefined, ana);
  try {
    const { page } = tp;
    await waitForConnection(page);
    await page.getByTestId('message').first().waitFor();

    // Ctrl+K focuses the search box from anywhere, even from the composer.
    await page.getByTestId('composer-input').focus();
    await page.keyboard.press('Control+K');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'search-input');

    await page.keyboard.type('deploy caf');
    await page.keyboard.press('Enter');
    const results = page.getByTestId('search-result');
    await results.first().waitFor();
    await page.getByTestId('search-status').filter({ hasText: '2 results' }).waitFor();
    const cards = await results.evaluateAll((nodes) =>
      nodes.map((n) => ({
        room: n.querySelector('.search-result-room')?.textContent,
        author: n.querySelector('.search-result-author')?.textContent,
        time: n.querySelector('time')?.getAttribute('datetime') ?? '',
        seq: Number((n as HTMLElement).dataset.seq),
      })),
    );
    // Best match first; the private room of someone else never shows.
    assert.deepEqual(
      cards.map((c) => [c.room, c.author]).sort(),
      [
        ['#general', 'Ana Lima'],
        ['#ops', 'Bo'],
      ],
    );
    assert.ok(cards.every((c) => !Number.isNaN(Date.parse(c.time))));
    assert.deepEqual(
      (await markedWords(page)).map((w) => w.join(' ')).sort(),
      ['Deploy cafe', 'deploy Café'],
    );
    // The body is text: the URL in it is not a link, and nothing but <mark> was built from it.
    const bodyTags = await results.evaluateAll((nodes) =>
      [...new Set(nodes.flatMap((n) => [...n.querySelector('.search-result-body')!.querySelectorAll('*')].map((c) => c.tagName)))],
    );
    assert.deepEqual(bodyTags, ['MARK']);
    await screenshot(page, 'search-results');

    // Filters: the room select narrows to one room; the date range and the author too.
    await page.getByTestId('search-room').selectOption({ label: '#general' });
    await page.getByTestId('search-status').filter({ hasText: '1 result' }).waitFor();
    assert.deepEqual(await markedWords(page), [['deploy', 'Café']]);
    await page.getByTestId('search-room').selectOption({ label: 'All rooms' });
    await page.getByTestId('search-status').filter({ hasText: '2 results' }).waitFor();
    await page.getByTestId('search-author').fill('bo_s');
    await page.getByTestId('search-status').filter({ hasText: '1 result' }).waitFor();
    assert.deepEqual(await markedWords(page), [['Deploy', 'cafe']]);
    await page.getByTestId('search-author').fill('');
    await page.getByTestId('search-from').fill('2000-01-01');
    await page.getByTestId('search-to').fill('2000-12-31');
    await page.getByTestId('search-no-results').filter({ hasText: 'No results.' }).waitFor();
    await page.getByTestId('search-from').fill('');
    await page.getByTestId('search-to').fill('');
    await page.getByTestId('search-status').filter({ hasText: '2 results' }).waitFor();

    // Nothing matching: "No results."
    await search(page, 'zebra');
    await page.getByTestId('search-no-results').filter({ hasText: 'No results.' }).waitFor();
    assert.equal(await results.count(), 0);
    await screenshot(page, 'search-no-results');

    // Operators and punctuation are just text: no error, and only messages with those words.
    await search(page, 'deploy" OR NEAR(* :');
    await page.getByTestId('search-no-results').waitFor();
    await search(page, '"deploy of v2"');
    await page.getByTestId('search-status').filter({ hasText: '1 result' }).waitFor();

    // A lone word of one or two letters is not searched while typing (it would match whole words only).
    let requests = 0;
    const count = (r: { url(): string }) => void (r.url().includes('/api/search') && requests++);
    page.on('request', count);
    await page.getByTestId('search-input').fill('de');
    await page.getByTestId('search-status').filter({ hasText: 'Type 3 letters or more' }).waitFor();
    await page.waitForTimeout(600);
    page.off('request', count);
    assert.equal(requests, 0, 'no request for "de"');

    // Clicking a result opens the message in its place in history: older pages load, it is highlighted.
    await search(page, 'deploy caf');
    await page.getByTestId('search-status').filter({ hasText: '2 results' }).waitFor();
    await results.filter({ hasText: 'Ana Lima' }).click();
    const target = page.locator(`[data-testid="message"][data-seq="${targetSeq}"]`);
    await page.locator(`[data-testid="message"][data-seq="${targetSeq}"].msg--flash`).waitFor();
    assert.equal(await page.getByTestId('search-panel').isHidden(), true, 'the panel closes to show the message');
    assert.ok(await target.isVisible());
    assert.equal(await target.getByTestId('message-body').textContent(), TARGET);
    await screenshot(page, 'search-jump');

    // `/` outside a text field focuses the box again; the last results are still there.
    await page.getByTestId('timeline').focus();
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'search-input');
    await page.getByTestId('search-panel').waitFor();
    assert.equal(await results.count(), 2);
    await page.keyboard.press('Escape');
    await page.getByTestId('search-panel').waitFor({ state: 'hidden' });

    // A result in a public room not joined yet: opening it joins the room and shows the message.
    await page.keyboard.press('Control+K');
    await page.getByTestId('search-panel').waitFor();
    await results.filter({ hasText: '#ops' }).click();
    await page.getByTestId('room-title').filter({ hasText: '#ops' }).waitFor();
    await page.locator('[data-testid="message"][data-seq="1"].msg--flash').waitFor();
    await page.getByTestId('room-list').getByText('ops').waitFor();
    assertNoConsoleProblems(tp);
  } finally {
    await tp.context.close();
  }
});

test('search on a phone: the results panel spans the screen', async () => {
  const cy = await server.signUp('cy_s', 'Cy');
  const room = await server.createRoom(cy, 'phones');
  const ws = await server.connect(cy);
  try {
    for (const body of ['Battery life of the new phone is great', 'phone call at 3pm', 'nothing here']) await ws.post(room.id, body);
  } finally {
    await ws.close();
  }
  const tp = await openPage(browser, `${server.url}/chat/phones/`, PHONE, cy);
  try {
    const { page } = tp;
    await waitForConnection(page);
    await search(page, 'phone');
    await page.getByTestId('search-status').filter({ hasText: '2 results' }).waitFor();
    const box = await page.getByTestId('search-panel').boundingBox();
    assert.ok(box !== null && box.width >= PHONE.width - 1, `panel width ${box?.width}`);
    await screenshot(page, 'search-phone');
    // Once the box loses focus it shrinks to its magnifier and the room's title shows again.
    await page.getByTestId('search-panel').getByRole('heading', { name: 'Search' }).click();
    await page.getByTestId('room-title').filter({ hasText: '#phones' }).waitFor();
    assert.ok(((await page.getByTestId('room-title').boundingBox())?.width ?? 0) > 40, 'the title is readable');
    await screenshot(page, 'search-phone-results');
    assertNoConsoleProblems(tp);
  } finally {
    await tp.context.close();
  }
});
