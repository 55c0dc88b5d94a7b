/**
 * Issue 5 in real Chromium: the status ticks of an own message go sent -> delivered -> read live as the other
 * person's page receives it and then looks at it; the typing line appears and goes; a room reopened with
 * unread messages shows them under a "New messages" divider, and reading in one tab clears the badge in the
 * other tab of the same user; in a room, "Read by N" names the readers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  assertNoConsoleProblems,
  attention,
  E2EServer,
  e2eSuite,
  openPage,
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

/** The status of the own message with this body ('sent', 'delivered', 'read'). */
function statusOf(page: Page, body: string) {
  return page
    .getByTestId('message')
    .filter({ has: page.getByTestId('message-body').getByText(body, { exact: true }) })
    .getByTestId('message-status');
}

async function waitForStatus(page: Page, body: string, state: string): Promise<void> {
  await page
    .getByTestId('message')
    .filter({ has: page.getByTestId('message-body').getByText(body, { exact: true }) })
    .locator(`[data-testid="message-status"][data-state="${state}"]`)
    .waitFor();
}

async function openDirect(from: { session: string; user: { username: string } }, to: string): Promise<{ id: number; name: string }> {
  const { status, json } = await server.api(from as never, 'POST', '/api/direct', { usernames: [to] });
  assert.equal(status, 200, JSON.stringify(json));
  return (json as { room: { id: number; name: string } }).room;
}

test('ticks go sent -> delivered -> read live, and the typing line appears and goes', async () => {
  const ana = await server.signUp('ana', 'Ana Lima');
  const ben = await server.signUp('ben', 'Ben Okafor');
  const dm = await openDirect(ana, 'ben');
  const dmUrl = `${server.url}/chat/${encodeURIComponent(dm.name)}/`;

  const anaPage = await openPage(browser, dmUrl, undefined, ana, attention(server.url));
  let benPage: Awaited<ReturnType<typeof openPage>> | undefined;
  try {
    await waitForConnection(anaPage.page);
    await anaPage.page.getByTestId('room-title').filter({ hasText: 'Ben Okafor' }).waitFor();
    await sendFromPage(anaPage.page, 'Are you there, Ben?');
    await waitForMessage(anaPage.page, 'Are you there, Ben?');
    // Ben has no page open: stored, not delivered.
    await waitForStatus(anaPage.page, 'Are you there, Ben?', 'sent');
    await screenshotBoth(anaPage.page, 'receipts-1-sent');

    // Ben's page opens hidden and unfocused: the message reaches his device, but he has not seen it.
    benPage = await openPage(browser, `${server.url}/`, undefined, ben, attention(server.url, { looking: false }));
    await waitForConnection(benPage.page);
    await waitForStatus(anaPage.page, 'Are you there, Ben?', 'delivered');
    // His presence: the page is hidden, so away.
    await anaPage.page.locator('[data-testid="room-sub"][data-state="away"]').waitFor();
    assert.equal(await statusOf(anaPage.page, 'Are you there, Ben?').getAttribute('title'), 'Delivered');
    assert.match(await benPage.page.title(), /^\(1\) .*Confab$/);
    await screenshotBoth(anaPage.page, 'receipts-2-delivered');

    // Ben types: Ana sees it under the timeline.
    await benPage.page.getByTestId('room-title').filter({ hasText: 'Ana Lima' }).waitFor();
    await benPage.page.getByTestId('composer-input').pressSequentially('Yes, one');
    const typing = anaPage.page.getByTestId('typing-line');
    await typing.filter({ hasText: 'Ben Okafor is typing…' }).waitFor();
    await screenshotBoth(anaPage.page, 'receipts-3-typing');
    // Without renewal it goes by itself.
    await benPage.page.getByTestId('composer-input').fill('');
    await typing.filter({ hasText: /^$/ }).waitFor();

    // Ben looks at the page: read, and his title loses the count.
    await setLooking(benPage.page, true);
    await waitForStatus(anaPage.page, 'Are you there, Ben?', 'read');
    assert.equal(await statusOf(anaPage.page, 'Are you there, Ben?').getAttribute('title'), 'Read by Ben Okafor');
    await benPage.page.waitForFunction(() => !document.title.startsWith('('));
    await anaPage.page.getByTestId('room-sub').filter({ hasText: 'Online' }).waitFor();
    await anaPage.page.getByTestId('dm-link').locator('[data-testid="presence"] [data-state="online"]').waitFor();
    await screenshotBoth(anaPage.page, 'receipts-4-read');

    // Typing again shows it again; his message ends it at once.
    await benPage.page.getByTestId('composer-input').pressSequentially('Yes, one moment');
    await typing.filter({ hasText: 'Ben Okafor is typing…' }).waitFor();
    await benPage.page.getByTestId('composer-input').press('Enter');
    await waitForMessage(anaPage.page, 'Yes, one moment');
    assert.equal(await typing.textContent(), '');

    assertNoConsoleProblems(benPage);
    // Ben closes his page: offline, last seen just now.
    await benPage.context.close();
    benPage = undefined;
    await anaPage.page.getByTestId('room-sub').filter({ hasText: 'Last seen just now' }).waitFor();
    assertNoConsoleProblems(anaPage);
  } finally {
    await anaPage.context.close();
    await benPage?.context.close();
  }
});

test('a room reopened with unread messages opens at a "New messages" divider; reading in one tab clears the badge in the other', async () => {
  const cara = await server.signUp('cara', 'Cara Diaz');
  const dev = await server.signUp('dev', 'Dev Patel');
  const team = await server.createRoom(cara, 'team');
  const lobby = await server.createRoom(cara, 'lobby');
  await server.join(dev, team.id);
  await server.join(dev, lobby.id);
  const caraWs = await server.connect(cara);

  const tab1 = await openPage(browser, `${server.url}/chat/team/`, undefined, dev, attention(server.url));
  const tab2 = await openPage(browser, `${server.url}/chat/lobby/`, undefined, dev, attention(server.url));
  try {
    await waitForConnection(tab1.page);
    await waitForConnection(tab2.page);
    for (let i = 1; i <= 3; i++) await caraWs.post(team.id, `old ${i}`);
    await waitForMessage(tab1.page, 'old 3');

    // Dev goes to #lobby in the first tab; four more arrive in #team.
    await tab1.page.getByTestId('room-link').filter({ hasText: 'lobby' }).click();
    await tab1.page.getByTestId('room-title').filter({ hasText: '#lobby' }).waitFor();
    for (let i = 1; i <= 4; i++) await caraWs.post(team.id, `new ${i}`);
    for (const tab of [tab1, tab2]) {
      await tab.page.getByTestId('room-link').filter({ hasText: 'team' }).getByTestId('unread-badge').filter({ hasText: '4' }).waitFor();
    }
    await tab2.page.waitForFunction(() => document.title.startsWith('(4) '));
    await screenshotBoth(tab2.page, 'unread-1-badges');

    // Back in #team: the divider sits right above "new 1".
    await tab1.page.getByTestId('room-link').filter({ hasText: 'team' }).click();
    await waitForMessage(tab1.page, 'new 4');
    const divider = tab1.page.getByTestId('unread-divider');
    await divider.waitFor();
    const after = await divider.evaluate((node) => {
      let next = node.nextElementSibling;
      while (next !== null && !next.matches('[data-testid="message"]')) next = next.nextElementSibling;
      return next?.querySelector('[data-testid="message-body"]')?.textContent ?? null;
    });
    assert.equal(after, 'new 1');
    await screenshotBoth(tab1.page, 'unread-2-divider');

    // Read in tab 1: the badge goes in tab 2 as well, and so does the title count.
    await tab2.page.getByTestId('room-link').filter({ hasText: 'team' }).getByTestId('unread-badge').waitFor({ state: 'detached' });
    await tab2.page.waitForFunction(() => !document.title.startsWith('('));

    assertNoConsoleProblems(tab1);
    assertNoConsoleProblems(tab2);
  } finally {
    await caraWs.close();
    await tab1.context.close();
    await tab2.context.close();
  }
});

test('private read receipts (Settings): the other person sees "delivered", never "read"', async () => {
  const ivy = await server.signUp('ivy', 'Ivy Chen');
  const jon = await server.signUp('jon', 'Jon Reyes');
  const dm = await openDirect(ivy, 'jon');
  const dmUrl = `${server.url}/chat/${encodeURIComponent(dm.name)}/`;

  const jonPage = await openPage(browser, dmUrl, undefined, jon, attention(server.url, { looking: false }));
  const ivyPage = await openPage(browser, dmUrl, undefined, ivy, attention(server.url));
  const ivyWs = await server.connect(ivy);
  try {
    await waitForConnection(jonPage.page);
    await waitForConnection(ivyPage.page);
    await jonPage.page.getByTestId('user-menu-button').click();
    await jonPage.page.getByTestId('settings-button').click();
    const toggle = jonPage.page.getByTestId('private-receipts-setting');
    await toggle.check();
    await screenshotBoth(jonPage.page, 'receipts-5-private-setting');
    // Saved: the server says so.
    await jonPage.page.waitForFunction(() => !(document.getElementById('private-receipts-setting') as HTMLInputElement).disabled);
    const me = await server.api(jon, 'GET', '/api/me');
    assert.equal((me.json as { user: { privateReceipts: boolean } }).user.privateReceipts, true);
    await jonPage.page.getByTestId('settings-dialog').getByRole('button', { name: 'Close' }).click();

    ivyWs.send({ type: 'subscribe', id: 's1', room: dm.id });
    await sendFromPage(ivyPage.page, 'Did you get the keys?');
    await waitForMessage(ivyPage.page, 'Did you get the keys?');
    await waitForStatus(ivyPage.page, 'Did you get the keys?', 'delivered');

    // Jon reads it (his cursor moves on the server), yet Ivy's side has no "read" to show.
    await setLooking(jonPage.page, true);
    for (;;) {
      const rooms = (await server.api(jon, 'GET', '/api/rooms')).json as { rooms: Array<{ id: number; readSeq?: number }> };
      if ((rooms.rooms.find((r) => r.id === dm.id)?.readSeq ?? 0) >= 1) break;
      await jonPage.page.waitForTimeout(50);
    }
    await jonPage.page.getByTestId('composer-input').fill('Yes, got them');
    await jonPage.page.getByTestId('composer-input').press('Enter');
    await waitForMessage(ivyPage.page, 'Yes, got them');
    await ivyWs.waitFor((f) => f.type === 'receipts' && (f.cursors as Array<{ user: number; delivered: number }>).some((c) => c.user === jon.user.id && c.delivered >= 2));
    assert.equal(await statusOf(ivyPage.page, 'Did you get the keys?').getAttribute('data-state'), 'delivered');

    assertNoConsoleProblems(ivyPage);
    assertNoConsoleProblems(jonPage);
  } finally {
    await ivyWs.close();
    await ivyPage.context.close();
    await jonPage.context.close();
  }
});
