/**
 * End to end in real Chromium: two people talking live, the composer's keys, user text that looks like
 * HTML, and the original Django Channels protocol talking to the new client.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  assertNoConsoleProblems,
  E2EServer,
  e2eSuite,
  openPage,
  RawClient,
  SESSION_COOKIE,
  sendFromPage,
  shownBodies,
  waitForConnection,
  waitForMessage,
} from '../helpers/browser.js';

let server: E2EServer;
let browser: Browser;

e2eSuite((s, b) => {
  server = s;
  browser = b;
});

test('two browser contexts in one room see each other’s messages live', async () => {
  const anaAccount = await server.signUp('ana', 'Ana');
  const benAccount = await server.signUp('ben', 'Ben K.');
  const general = await server.createRoom(anaAccount, 'general');
  await server.join(benAccount, general.id);
  const ana = await openPage(browser, `${server.url}/chat/general/`, undefined, anaAccount);
  const ben = await openPage(browser, `${server.url}/chat/general/`, undefined, benAccount);
  try {
    for (const { page } of [ana, ben]) {
      await waitForConnection(page);
      await page.getByTestId('timeline-top').getByText('Beginning of #general').waitFor();
    }
    await sendFromPage(ana.page, 'hi ben, ana here');
    await waitForMessage(ben.page, 'hi ben, ana here');
    await sendFromPage(ben.page, 'hello ana!');
    await waitForMessage(ana.page, 'hello ana!');

    for (const { page } of [ana, ben]) {
      await waitForMessage(page, 'hello ana!');
      assert.deepEqual(await shownBodies(page), ['hi ben, ana here', 'hello ana!']);
      assert.equal(await page.getByTestId('message-pending').count(), 0);
    }
    // Each message carries its author and a local HH:MM time with the full date on hover.
    const first = ben.page.getByTestId('message').first();
    assert.equal(await first.getByTestId('message-author').textContent(), 'Ana');
    assert.equal(await ben.page.getByTestId('message').last().getByTestId('message-author').textContent(), 'Ben K.');
    assert.match(await first.getByTestId('message-time').textContent() ?? '', /^\d\d:\d\d$/);
    assert.match(await first.getByTestId('message-time').getAttribute('title') ?? '', /\d{4}/);
    assertNoConsoleProblems(ana);
    assertNoConsoleProblems(ben);
  } finally {
    await ana.context.close();
    await ben.context.close();
  }
});

test('Shift+Enter inserts a new line, Enter sends', async () => {
  const kim = await server.signUp('kim');
  await server.createRoom(kim, 'keys');
  const tp = await openPage(browser, `${server.url}/chat/keys/`, undefined, kim);
  try {
    const { page } = tp;
    await waitForConnection(page);
    await page.getByTestId('timeline-top').getByText('Beginning of #keys').waitFor();
    const input = page.getByTestId('composer-input');
    await input.click();
    await input.pressSequentially('line one');
    await input.press('Shift+Enter');
    await input.pressSequentially('line two');
    assert.equal(await input.inputValue(), 'line one\nline two');
    assert.equal(await page.getByTestId('message').count() + (await page.getByTestId('message-pending').count()), 0);

    await input.press('Enter');
    const body = page.getByTestId('message').getByTestId('message-body');
    await body.first().waitFor();
    assert.equal(await input.inputValue(), '');
    assert.equal(await body.first().textContent(), 'line one\nline two');
    // white-space: pre-wrap makes the newline a visible line break.
    assert.equal(await body.first().innerText(), 'line one\nline two');
    assertNoConsoleProblems(tp);
  } finally {
    await tp.context.close();
  }
});

test('the composer shows a character counter near the limit and will not send past it', async () => {
  const lou = await server.signUp('lou');
  await server.createRoom(lou, 'limits');
  const tp = await openPage(browser, `${server.url}/chat/limits/`, undefined, lou);
  try {
    const { page } = tp;
    await waitForConnection(page);
    const input = page.getByTestId('composer-input');
    const counter = page.getByTestId('char-counter');
    await input.fill('short');
    assert.equal(await counter.textContent(), '');
    await input.fill('é'.repeat(3500));
    await counter.filter({ hasText: '3500 / 4000' }).waitFor();
    await input.fill('y'.repeat(4001));
    await counter.filter({ hasText: '4001 / 4000' }).waitFor();
    assert.equal(await page.getByTestId('send-button').isDisabled(), true);
    await input.press('Enter');
    assert.equal(await input.inputValue(), 'y'.repeat(4001), 'nothing was sent');
    assert.equal(await page.getByTestId('message-pending').count(), 0);
    assertNoConsoleProblems(tp);
  } finally {
    await tp.context.close();
  }
});

test('#10 message text that looks like HTML is shown as text and never runs', async () => {
  const xena = await server.signUp('xena');
  const mallory = await server.signUp('mallory', 'Mallory');
  const room = await server.createRoom(xena, 'xss');
  const attack = '<img src=x onerror=window.__xss=1>';
  const tp = await openPage(browser, `${server.url}/chat/xss/`, undefined, xena);
  const other = await server.connect(mallory);
  try {
    const { page } = tp;
    await waitForConnection(page);
    await page.getByTestId('timeline-top').getByText('Beginning of #xss').waitFor();
    await sendFromPage(page, attack);
    await other.post(room.id, `${attack} <script>window.__xss=2</script>`);
    await waitForMessage(page, `${attack} <script>window.__xss=2</script>`);
    await waitForMessage(page, attack);

    assert.equal(await page.locator('#timeline img, #timeline script').count(), 0);
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss), undefined);
    assert.deepEqual(await shownBodies(page), [attack, `${attack} <script>window.__xss=2</script>`]);
    assert.equal(await page.getByTestId('message').last().getByTestId('message-author').textContent(), 'Mallory');
    assertNoConsoleProblems(tp);
  } finally {
    await other.close();
    await tp.context.close();
  }
});

test('a client of the original /ws/chat/<room>/ protocol and the web client talk both ways', async () => {
  // The original endpoint (with the same session) creates its room; the open page learns of it live (room_added).
  const lea = await server.signUp('lea', 'Lea');
  const tp = await openPage(browser, `${server.url}/`, undefined, lea);
  await waitForConnection(tp.page);
  const legacy = await RawClient.connect(`${server.wsUrl}/ws/chat/lobby/`, { cookie: `${SESSION_COOKIE}=${lea.session}`, origin: server.url });
  try {
    const { page } = tp;
    await waitForConnection(page);
    const link = page.getByTestId('room-link').and(page.locator('[data-room="lobby"]'));
    await link.click();
    await page.waitForURL(`${server.url}/chat/lobby/`);
    await page.getByTestId('timeline-top').getByText('Beginning of #lobby').waitFor();

    legacy.send({ message: 'hello from the Django page' });
    await waitForMessage(page, 'hello from the Django page');
    assert.equal(await page.getByTestId('message').last().getByTestId('message-author').textContent(), 'Lea');

    await sendFromPage(page, 'hello from Confab');
    const received = await legacy.waitFor((f) => f.message === 'hello from Confab');
    assert.deepEqual(received, { message: 'hello from Confab' });
    assertNoConsoleProblems(tp);
  } finally {
    await legacy.close();
    await tp.context.close();
  }
});
