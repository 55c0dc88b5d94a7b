/**
 * Issue 5 in real Chromium: browser notifications for a page that is hidden or unfocused (a DM and a mention
 * by default, per-room levels from the bell menu), clicking one opens the room, the title count and the
 * favicon dot, the in-app toast for another room, and @mentions: the autocomplete inserts the username, the
 * mention is highlighted and counted apart, and "Read by N" names the readers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  assertNoConsoleProblems,
  attention,
  clickNotification,
  E2EServer,
  e2eSuite,
  openPage,
  recordedNotifications,
  screenshotBoth,
  sendFromPage,
  setLooking,
  waitForConnection,
  waitForMessage,
} from '../helpers/browser.js';

let server: E2EServer;
let browser: Browser;

e2eSuite((s, b) => {
  server = s;
  browser = b;
});

test('a DM to a hidden page raises a notification and the title count; clicking it opens the conversation', async () => {
  const eve = await server.signUp('eve', 'Eve Stone');
  const fay = await server.signUp('fay', 'Fay Moreau');
  const general = await server.createRoom(fay, 'general');
  await server.join(eve, general.id);
  const { json } = await server.api(eve, 'POST', '/api/direct', { usernames: ['fay'] });
  const dm = (json as { room: { id: number } }).room;
  const eveWs = await server.connect(eve);

  const fayPage = await openPage(browser, `${server.url}/chat/general/`, undefined, fay, attention(server.url, { looking: false, notifications: true }));
  const { page } = fayPage;
  try {
    await waitForConnection(page);
    await page.getByTestId('room-title').filter({ hasText: '#general' }).waitFor();

    // Permission granted: the menu says so instead of asking.
    await page.getByTestId('user-menu-button').click();
    assert.equal(await page.getByTestId('notifications-button').textContent(), 'Notifications enabled');
    await page.getByTestId('user-menu-button').click();

    // A DM: a notification, "(1)" in the title and the dot on the favicon.
    await eveWs.post(dm.id, 'lunch at noon?');
    await page.waitForFunction(() => (window as unknown as { __notifications: unknown[] }).__notifications.length >= 1);
    const shown = await recordedNotifications(page);
    assert.deepEqual(shown.map((n) => [n.title, n.body]), [['Eve Stone', 'lunch at noon?']]);
    await page.waitForFunction(() => document.title.startsWith('(1) ') && document.title.endsWith('Confab'));
    assert.equal(await page.locator('link[rel="icon"]').getAttribute('href'), '/favicon-unread.svg');
    await page.getByTestId('dm-link').filter({ hasText: 'Eve Stone' }).getByTestId('unread-badge').filter({ hasText: '1' }).waitFor();
    await screenshotBoth(page, 'notify-1-hidden-with-unread');

    // A room message without a mention: counted, but no notification by default.
    await eveWs.post(general.id, 'morning all');
    await page.waitForFunction(() => document.title.startsWith('(2) '));

    // A mention in a room notifies too.
    await eveWs.post(general.id, '@fay can you check the rota?');
    await page.waitForFunction(() => (window as unknown as { __notifications: unknown[] }).__notifications.length >= 2);
    assert.deepEqual((await recordedNotifications(page))[1], { title: 'Eve Stone in #general', body: '@fay can you check the rota?', tag: `confab-room-${general.id}` });

    // Clicking the DM's notification opens the conversation; looking at it clears the count and the dot.
    await clickNotification(page, 0);
    await page.getByTestId('room-title').filter({ hasText: 'Eve Stone' }).waitFor();
    await setLooking(page, true);
    await waitForMessage(page, 'lunch at noon?');
    await page.getByTestId('dm-link').filter({ hasText: 'Eve Stone' }).getByTestId('unread-badge').waitFor({ state: 'detached' });

    // Visible, in the DM: a mention in #general is a toast, and the toast opens the room.
    await eveWs.post(general.id, '@fay one more thing');
    const toast = page.getByTestId('toast').filter({ hasText: 'one more thing' });
    await toast.waitFor();
    await screenshotBoth(page, 'notify-2-toast');
    await toast.click();
    await page.getByTestId('room-title').filter({ hasText: '#general' }).waitFor();
    await waitForMessage(page, '@fay one more thing');
    await page.waitForFunction(() => !document.title.startsWith('('));
    assert.equal(await page.locator('link[rel="icon"]').getAttribute('href'), '/favicon.svg');

    // The bell: #general set to "Nothing" raises nothing, even for a mention; the DM still does.
    await page.getByTestId('bell-button').click();
    await screenshotBoth(page, 'notify-3-bell-menu');
    await page.getByTestId('bell-menu').getByRole('menuitemradio', { name: 'Nothing' }).click();
    await page.locator('[data-testid="bell-button"][data-level="nothing"]').waitFor();
    await setLooking(page, false);
    const before = (await recordedNotifications(page)).length;
    await eveWs.post(general.id, '@fay muted?');
    await eveWs.post(dm.id, 'still there?');
    await page.waitForFunction((n) => (window as unknown as { __notifications: unknown[] }).__notifications.length > n, before);
    assert.deepEqual((await recordedNotifications(page)).slice(before).map((n) => n.body), ['still there?']);

    assertNoConsoleProblems(fayPage);
  } finally {
    await eveWs.close();
    await fayPage.context.close();
  }
});

test('@mention autocomplete inserts the username; the mention is highlighted, counted apart, and "Read by N" names the readers', async () => {
  const gus = await server.signUp('gus', 'Gus Berg');
  const hal = await server.signUp('hal', 'Hal Ito');
  const hana = await server.signUp('hana', 'Hana Sato');
  const crew = await server.createRoom(gus, 'crew');
  const side = await server.createRoom(hal, 'side');
  await server.join(hal, crew.id);
  await server.join(hana, crew.id);

  const gusPage = await openPage(browser, `${server.url}/chat/crew/`, undefined, gus, attention(server.url));
  const halPage = await openPage(browser, `${server.url}/chat/side/`, undefined, hal, attention(server.url));
  try {
    await waitForConnection(gusPage.page);
    await waitForConnection(halPage.page);
    assert.ok(side.id > 0);
    const input = gusPage.page.getByTestId('composer-input');
    const options = gusPage.page.getByTestId('mention-option');

    // "@ha": two people; the arrows move, Esc closes, Tab picks.
    await input.pressSequentially('@ha');
    await options.nth(1).waitFor();
    assert.deepEqual(await options.evaluateAll((n) => n.map((o) => o.getAttribute('data-username'))), ['hal', 'hana']);
    await screenshotBoth(gusPage.page, 'mention-1-autocomplete');
    await input.press('ArrowDown');
    assert.equal(await options.nth(1).getAttribute('aria-selected'), 'true');
    await input.press('Escape');
    await gusPage.page.getByTestId('mention-list').waitFor({ state: 'hidden' });
    await input.fill('');
    await input.pressSequentially('@ha');
    await options.first().waitFor();
    await input.press('Tab');
    assert.equal(await input.inputValue(), '@hal ');
    await input.pressSequentially('the build is green');
    await input.press('Enter');
    await waitForMessage(gusPage.page, '@hal the build is green');
    const mine = gusPage.page.getByTestId('message').last();
    await mine.getByTestId('mention').filter({ hasText: '@hal' }).waitFor();

    // Hal is in #side: #crew shows 1 unread and 1 mention apart.
    const crewLink = halPage.page.getByTestId('room-link').filter({ hasText: 'crew' });
    await crewLink.getByTestId('mention-badge').filter({ hasText: '@1' }).waitFor();
    await crewLink.getByTestId('unread-badge').filter({ hasText: '1' }).waitFor();
    await screenshotBoth(halPage.page, 'mention-2-badges');

    // Hal opens it: the mention of him stands out; Gus sees "Read by 1" with the name.
    await crewLink.click();
    await waitForMessage(halPage.page, '@hal the build is green');
    const msg = halPage.page.getByTestId('message').last();
    assert.match((await msg.getAttribute('class')) ?? '', /msg--mention/);
    await msg.locator('.mention--me').filter({ hasText: '@hal' }).waitFor();
    await screenshotBoth(halPage.page, 'mention-3-highlighted');
    const status = mine.locator('[data-testid="message-status"][data-state="read"]');
    await status.waitFor();
    assert.equal(await status.getAttribute('title'), 'Read by Hal Ito');
    assert.equal(await status.textContent(), 'Read by 1');
    await screenshotBoth(gusPage.page, 'mention-4-read-by');

    // The members panel shows who is online: Hal (a page open) and Hana (never signed in here).
    await gusPage.page.getByTestId('members-button').click();
    const row = (username: string) => gusPage.page.locator(`[data-testid="member"][data-username="${username}"]`);
    await row('hal').locator('.presence-dot[data-state="online"]').waitFor();
    await row('hana').locator('.presence-dot[data-state="offline"]').waitFor();
    assert.match((await row('hal').getByTestId('member-sub').textContent()) ?? '', /online/);
    await screenshotBoth(gusPage.page, 'mention-5-members-presence');
    await gusPage.page.getByTestId('members-dialog').getByRole('button', { name: 'Close' }).click();

    // A message of his own (Hal) is counted nowhere.
    await sendFromPage(halPage.page, 'on it');
    await waitForMessage(gusPage.page, 'on it');
    await setLooking(gusPage.page, true);

    assertNoConsoleProblems(gusPage);
    assertNoConsoleProblems(halPage);
  } finally {
    await gusPage.context.close();
    await halPage.context.close();
  }
});
