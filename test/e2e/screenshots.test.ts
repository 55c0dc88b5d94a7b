/**
 * Screenshots of the client at 1280x800 and 375x740 (test-results/screenshots/), taken in real Chromium:
 * the empty state, a room with a conversation, and the drawer on a phone. The test also checks the layout
 * facts a picture shows: nothing overflows sideways, the drawer opens and closes, and no console errors.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  assertNoConsoleProblems,
  DESKTOP,
  E2EServer,
  launchBrowser,
  openPage,
  PHONE,
  RawClient,
  screenshot,
  sendFromPage,
  waitForConnection,
  waitForMessage,
} from '../helpers/browser.js';

let server: E2EServer;
let browser: Browser;

before(async () => {
  server = await E2EServer.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Fails when the page is wider than its viewport (a horizontal scrollbar on a phone). */
async function assertNoSidewaysOverflow(page: Page): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `page is ${scrollWidth}px wide in a ${innerWidth}px viewport`);
}

test('empty state, before any room exists', async () => {
  for (const [label, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    const tp = await openPage(browser, `${server.url}/`, viewport);
    try {
      await waitForConnection(tp.page);
      await tp.page.getByTestId('empty-state').getByText('No rooms yet').waitFor();
      await assertNoSidewaysOverflow(tp.page);
      await screenshot(tp.page, `empty-${label}`);
      assertNoConsoleProblems(tp);
    } finally {
      await tp.context.close();
    }
  }
});

test('a room with a conversation, on a laptop and on a phone (with its drawer)', async () => {
  const design = await server.createRoom('design');
  const general = await server.createRoom('general');
  await server.createRoom('random');
  await server.createRoom('release-planning-for-the-next-quarter');

  const ana = await RawClient.connect(`${server.wsUrl}/ws?name=Ana%20Lima`);
  const ben = await RawClient.connect(`${server.wsUrl}/ws?name=ben.k`);
  try {
    await ana.post(design.id, 'Morning! I pushed the new sidebar mockups.');
    await ana.post(design.id, 'Two variants: dark and tinted. Thoughts?');
    await ben.post(design.id, 'Dark one reads better.\nThe tinted one loses contrast on the unread badges.');
    await ana.post(design.id, 'Agreed. Link for the record: https://example.com/figma/file/a-very-long-identifier-without-any-spaces-0123456789abcdef');
    await ben.post(design.id, 'Ship it 🚀');

    for (const [label, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
      const tp = await openPage(browser, `${server.url}/chat/design/`, viewport);
      const { page } = tp;
      try {
        await waitForConnection(page);
        await waitForMessage(page, 'Ship it 🚀');
        await sendFromPage(page, `Looks great on the ${label} too.`);
        await waitForMessage(page, `Looks great on the ${label} too.`);
        await assertNoSidewaysOverflow(page);

        if (label === 'desktop') {
          // In-app navigation keeps #general subscribed; a message there then shows as unread.
          await page.getByTestId('room-link').and(page.locator('[data-room="general"]')).click();
          await page.waitForURL(/\/chat\/general\/$/);
          await page.getByTestId('room-link').and(page.locator('[data-room="design"]')).click();
          await page.waitForURL(/\/chat\/design\/$/);
          await waitForMessage(page, `Looks great on the ${label} too.`);
          await ben.post(general.id, 'Standup in 5');
          await page.locator('[data-room="general"] .badge').waitFor();
          await page.mouse.move(0, 0);
          await screenshot(page, 'room-desktop');
        } else {
          await screenshot(page, 'room-phone');
          const sidebar = page.getByTestId('sidebar');
          assert.equal(await sidebar.isVisible(), false, 'the drawer starts closed on a phone');
          await page.getByTestId('menu-button').click();
          await sidebar.getByText('release-planning-for-the-next-quarter').waitFor();
          await page.waitForFunction(() => {
            const box = document.getElementById('sidebar')!.getBoundingClientRect();
            return box.left === 0;
          });
          await screenshot(page, 'drawer-phone');
          // Choosing a room closes the drawer.
          await sidebar.getByTestId('room-link').and(page.locator('[data-room="random"]')).click();
          await page.waitForURL(/\/chat\/random\/$/);
          await sidebar.waitFor({ state: 'hidden' });
          await assertNoSidewaysOverflow(page);
        }
        assertNoConsoleProblems(tp);
      } finally {
        await tp.context.close();
      }
    }
  } finally {
    await ana.close();
    await ben.close();
  }
});
