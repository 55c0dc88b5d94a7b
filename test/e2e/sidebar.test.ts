/**
 * The sidebar in real Chromium: creating a room (with an inline error for a bad or taken name), opening
 * rooms by address and by click, and the name shown coming from the account.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  assertNoConsoleProblems,
  E2EServer,
  e2eSuite,
  openPage,
  sendFromPage,
  waitForConnection,
  waitForMessage,
} from '../helpers/browser.js';

let server: E2EServer;
let browser: Browser;

e2eSuite((s, b) => {
  server = s;
  browser = b;
});

test('rooms are created from the sidebar; bad and taken names are refused inline', async () => {
  const dana = await server.signUp('dana');
  const tp = await openPage(browser, `${server.url}/`, undefined, dana);
  const watcher = await server.connect(await server.signUp('watcher'));
  try {
    const { page } = tp;
    await waitForConnection(page);
    await page.getByTestId('empty-state').waitFor();
    const form = page.getByTestId('create-room-form');
    const input = form.getByRole('textbox', { name: 'New room' });

    await input.fill('not a name!');
    await input.press('Enter');
    await page.getByTestId('create-room-error').filter({ hasText: 'letters, digits' }).waitFor();

    await input.fill('design');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(`${server.url}/chat/design/`);
    await page.getByTestId('room-title').filter({ hasText: '#design' }).waitFor();
    await page.getByTestId('timeline-top').getByText('Beginning of #design').waitFor();
    assert.equal(await page.getByTestId('create-room-error').textContent(), '');
    // Other clients hear of the new room.
    const created = await watcher.waitFor((f) => f.type === 'room_created');
    assert.equal((created.room as { name: string }).name, 'design');

    // Room names are unique regardless of case.
    await input.fill('DESIGN');
    await input.press('Enter');
    await page.getByTestId('create-room-error').filter({ hasText: 'already exists' }).waitFor();
    assertNoConsoleProblems(tp);
  } finally {
    await watcher.close();
    await tp.context.close();
  }
});

test('an address of a missing room offers to create it; the back button returns to the previous room', async () => {
  const al = await server.signUp('alf');
  await server.createRoom(al, 'alpha');
  const tp = await openPage(browser, `${server.url}/chat/brand-new/`, undefined, al);
  try {
    const { page } = tp;
    await waitForConnection(page);
    await page.getByTestId('empty-state').getByText('#brand-new not found').waitFor();
    await page.getByTestId('empty-action').click();
    await page.getByTestId('timeline-top').getByText('Beginning of #brand-new').waitFor();

    await page.getByTestId('room-link').and(page.locator('[data-room="alpha"]')).click();
    await page.waitForURL(`${server.url}/chat/alpha/`);
    await page.getByTestId('room-title').filter({ hasText: '#alpha' }).waitFor();
    await page.goBack();
    await page.waitForURL(`${server.url}/chat/brand-new/`);
    await page.getByTestId('room-title').filter({ hasText: '#brand-new' }).waitFor();
    assertNoConsoleProblems(tp);
  } finally {
    await tp.context.close();
  }
});

test('the name comes from the account: shown in the user menu and on my messages; no "Your name" field', async () => {
  const zoe = await server.signUp('zoe', 'Zoë K.');
  await server.createRoom(zoe, 'names');
  const tp = await openPage(browser, `${server.url}/chat/names/`, undefined, zoe);
  try {
    const { page } = tp;
    await waitForConnection(page);
    assert.equal(await page.getByTestId('me-display').textContent(), 'Zoë K.');
    assert.equal(await page.getByRole('textbox', { name: 'Your name' }).count(), 0);
    await sendFromPage(page, 'hi, it is Zoë');
    await waitForMessage(page, 'hi, it is Zoë');
    assert.equal(await page.getByTestId('message').last().getByTestId('message-author').textContent(), 'Zoë K.');
    await page.reload();
    await waitForMessage(page, 'hi, it is Zoë');
    assert.equal(await page.getByTestId('message').last().getAttribute('data-mine'), 'true');
    assertNoConsoleProblems(tp);
  } finally {
    await tp.context.close();
  }
});
