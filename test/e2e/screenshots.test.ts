/**
 * Screenshots of the client at 1280x800 and 375x740 (test-results/screenshots/), taken in real Chromium:
 * sign-in, the empty state, the sidebar with rooms and direct conversations, a room, a direct conversation,
 * the members panel, settings with a new API token, and the drawer on a phone. The tests also check the
 * layout facts a picture shows: nothing overflows sideways, the drawer opens and closes, no console errors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  assertNoConsoleProblems,
  DESKTOP,
  E2EServer,
  e2eSuite,
  openPage,
  ME_401,
  PHONE,
  PASSWORD,
  screenshot,
  sendFromPage,
  signUp,
  waitForConnection,
  waitForMessage,
} from '../helpers/browser.js';

let server: E2EServer;
let browser: Browser;

e2eSuite((s, b) => {
  server = s;
  browser = b;
});

/** Fails when the page is wider than its viewport (a horizontal scrollbar on a phone). */
async function assertNoSidewaysOverflow(page: Page): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `page is ${scrollWidth}px wide in a ${innerWidth}px viewport`);
}

const VIEWPORTS = [['desktop', DESKTOP], ['phone', PHONE]] as const;

test('sign-in screen and the empty state of a new account', async () => {
  for (const [label, viewport] of VIEWPORTS) {
    const tp = await openPage(browser, `${server.url}/`, viewport);
    try {
      await tp.page.getByTestId('signin-form').waitFor();
      await assertNoSidewaysOverflow(tp.page);
      await screenshot(tp.page, `signin-${label}`);
      await signUp(tp.page, `new-${label}`, PASSWORD, `New ${label} user`);
      await waitForConnection(tp.page);
      await tp.page.getByTestId('empty-state').getByText('No rooms yet').waitFor();
      await assertNoSidewaysOverflow(tp.page);
      await screenshot(tp.page, `empty-${label}`);
      assertNoConsoleProblems(tp, [ME_401]);
    } finally {
      await tp.context.close();
    }
  }
});

test('rooms, direct conversations, members and settings, on a laptop and on a phone (with its drawer)', async () => {
  const anaAcc = await server.signUp('ana', 'Ana Lima');
  const benAcc = await server.signUp('ben.k', 'Ben Okafor');
  const caro = await server.signUp('caro', 'Carolina Reyes');
  await server.signUp('dev', 'Dev Patel');
  const design = await server.createRoom(anaAcc, 'design');
  const general = await server.createRoom(benAcc, 'general');
  await server.createRoom(anaAcc, 'random');
  const planning = await server.createRoom(anaAcc, 'release-planning-for-the-next-quarter', true);
  for (const room of [design, general]) {
    for (const who of [anaAcc, benAcc, caro]) await server.join(who, room.id).catch(() => {});
  }
  for (const who of ['ben.k', 'caro', 'dev']) await server.api(anaAcc, 'POST', `/api/rooms/${planning.id}/members`, { username: who });
  const dmBen = (await server.api(anaAcc, 'POST', '/api/direct', { usernames: ['ben.k'] })).json as { room: { id: number; name: string } };
  const dmGroup = (await server.api(anaAcc, 'POST', '/api/direct', { usernames: ['caro', 'dev'] })).json as { room: { id: number } };

  const ana = await server.connect(anaAcc);
  const ben = await server.connect(benAcc);
  const carol = await server.connect(caro);
  try {
    await ana.post(design.id, 'Morning! I pushed the new sidebar mockups.');
    await ana.post(design.id, 'Two variants: dark and tinted. Thoughts?');
    await ben.post(design.id, 'Dark one reads better.\nThe tinted one loses contrast on the unread badges.');
    await ana.post(design.id, 'Agreed. Link for the record: https://example.com/figma/file/a-very-long-identifier-without-any-spaces-0123456789abcdef');
    await ben.post(design.id, 'Ship it 🚀');
    await ben.post(dmBen.room.id, 'Hey Ana, got a minute about the release notes?');
    await ana.post(dmBen.room.id, 'Sure, what is up?');
    await ben.post(dmBen.room.id, 'I would move the migration steps to the top, people miss them.');
    await carol.post(dmGroup.room.id, 'Lunch on Friday, all three of us?');

    for (const [label, viewport] of VIEWPORTS) {
      const tp = await openPage(browser, `${server.url}/chat/design/`, viewport, anaAcc);
      const { page } = tp;
      try {
        await waitForConnection(page);
        await waitForMessage(page, 'Ship it 🚀');
        await sendFromPage(page, `Looks great on the ${label} too.`);
        await waitForMessage(page, `Looks great on the ${label} too.`);
        await assertNoSidewaysOverflow(page);
        // Unread news in a room and in the group conversation (subscribed without being opened).
        await ben.post(general.id, `Standup in 5 (${label})`);
        await page.locator('[data-room="general"] .badge').waitFor({ state: 'attached' });
        await carol.post(dmGroup.room.id, `Friday works? (${label})`);
        await page.getByTestId('dm-link').filter({ hasText: 'Carolina Reyes, Dev Patel' }).locator('.badge').waitFor({ state: 'attached' });
        await page.mouse.move(0, 0);
        await screenshot(page, `room-${label}`);

        if (label === 'phone') {
          const sidebar = page.getByTestId('sidebar');
          assert.equal(await sidebar.isVisible(), false, 'the drawer starts closed on a phone');
          await page.getByTestId('menu-button').click();
          await sidebar.getByText('release-planning-for-the-next-quarter').waitFor();
          await page.waitForFunction(() => document.getElementById('sidebar')!.getBoundingClientRect().left === 0);
          await screenshot(page, 'drawer-phone');
        }

        // The direct conversation with Ben.
        await page.getByTestId('dm-link').filter({ hasText: 'Ben Okafor' }).click();
        await page.getByTestId('room-title').filter({ hasText: 'Ben Okafor' }).waitFor();
        await waitForMessage(page, 'I would move the migration steps to the top, people miss them.');
        if (label === 'phone') await page.getByTestId('sidebar').waitFor({ state: 'hidden' });
        await assertNoSidewaysOverflow(page);
        await page.mouse.move(0, 0);
        await screenshot(page, `dm-${label}`);

        // The members panel of the private room (Ana owns it).
        if (label === 'phone') await page.getByTestId('menu-button').click();
        await page.getByTestId('room-link').and(page.locator(`[data-room="${planning.name}"]`)).click();
        await page.getByTestId('room-title').filter({ hasText: planning.name }).waitFor();
        await page.getByTestId('members-button').click();
        const panel = page.getByTestId('members-dialog');
        await panel.getByTestId('member').filter({ hasText: 'Dev Patel' }).waitFor();
        await panel.getByTestId('member').filter({ hasText: 'Ana Lima' }).getByText('owner').waitFor();
        await assertNoSidewaysOverflow(page);
        await screenshot(page, `members-${label}`);
        await panel.getByRole('button', { name: 'Close' }).click();

        // Settings with a token just created (its secret shown once).
        if (label === 'phone') await page.getByTestId('menu-button').click();
        await page.getByTestId('user-menu-button').click();
        await page.getByTestId('user-menu').waitFor();
        if (label === 'desktop') await screenshot(page, 'user-menu-desktop');
        await page.getByTestId('settings-button').click();
        const settings = page.getByTestId('settings-dialog');
        await settings.getByLabel('Token name').fill(`ci-bot-${label}`);
        await settings.getByRole('button', { name: 'Create token' }).click();
        await page.getByTestId('token-secret-box').waitFor();
        await page.getByTestId('token').filter({ hasText: `ci-bot-${label}` }).waitFor();
        await assertNoSidewaysOverflow(page);
        await screenshot(page, `settings-${label}`);
        assertNoConsoleProblems(tp);
      } finally {
        await tp.context.close();
      }
    }
  } finally {
    await ana.close();
    await ben.close();
    await carol.close();
  }
});
