/**
 * Direct conversations and private rooms in real Chromium, between people who signed up in two browser
 * contexts: finding each other with "New message", the first message arriving live (badge) in a conversation
 * the recipient never opened, names on both sides; a private room with an invitation, a removal that takes
 * the room out of the removed member's sidebar at once, and a third person who cannot open it by address.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  assertNoConsoleProblems,
  E2EServer,
  e2eSuite,
  ME_401,
  openPage,
  PASSWORD,
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

test('two people sign up, find each other, and talk in a direct conversation; the first message arrives live', async () => {
  const ana = await openPage(browser, `${server.url}/`);
  const ben = await openPage(browser, `${server.url}/`);
  try {
    await signUp(ana.page, 'ana', PASSWORD, 'Ana Lima');
    await signUp(ben.page, 'ben', PASSWORD, 'Ben Okafor');
    await waitForConnection(ana.page);
    await waitForConnection(ben.page);

    // Ana finds Ben by the start of his display name and starts the conversation.
    await ana.page.getByTestId('new-message-button').click();
    await ana.page.getByTestId('dm-search').fill('Ben O');
    await ana.page.getByTestId('dm-result').filter({ hasText: 'Ben Okafor' }).click();
    await ana.page.getByTestId('dm-chip').filter({ hasText: 'Ben Okafor' }).waitFor();
    await ana.page.getByTestId('dm-start').click();
    await ana.page.getByTestId('room-title').filter({ hasText: 'Ben Okafor' }).waitFor();
    await ana.page.getByTestId('timeline-top').getByText('Your conversation with Ben Okafor').waitFor();
    await sendFromPage(ana.page, 'hi Ben, it is Ana');
    await waitForMessage(ana.page, 'hi Ben, it is Ana');

    // Ben never opened it: it appears in his sidebar under Ana's name, with an unread badge.
    const dmLink = ben.page.getByTestId('dm-list').getByTestId('dm-link').filter({ hasText: 'Ana Lima' });
    await dmLink.getByTestId('unread-badge').filter({ hasText: '1' }).waitFor();
    await dmLink.click();
    await waitForMessage(ben.page, 'hi Ben, it is Ana');
    assert.equal(await ben.page.getByTestId('message').first().getByTestId('message-author').textContent(), 'Ana Lima');
    assert.equal(await dmLink.getByTestId('unread-badge').count(), 0);

    await sendFromPage(ben.page, 'hello Ana!');
    await waitForMessage(ana.page, 'hello Ana!');
    assert.equal(await ana.page.getByTestId('message').last().getByTestId('message-author').textContent(), 'Ben Okafor');
    assert.equal(await ana.page.getByTestId('message').last().getAttribute('data-mine'), null);
    assert.equal(await ana.page.getByTestId('message').first().getAttribute('data-mine'), 'true');

    // Started again from Ben's side: still the one conversation.
    await ben.page.getByTestId('new-message-button').click();
    await ben.page.getByTestId('dm-search').fill('ana');
    await ben.page.getByTestId('dm-result').filter({ hasText: 'Ana Lima' }).click();
    await ben.page.getByTestId('dm-start').click();
    await waitForMessage(ben.page, 'hello Ana!');
    assert.equal(await ben.page.getByTestId('dm-link').count(), 1);
    assert.equal(await ana.page.getByTestId('dm-link').count(), 1);

    assertNoConsoleProblems(ana, [ME_401]);
    assertNoConsoleProblems(ben, [ME_401]);
  } finally {
    await ana.context.close();
    await ben.context.close();
  }
});

test('a private room: the owner invites, both talk, the owner removes the other, whose sidebar loses it live', async () => {
  const olga = await server.signUp('olga', 'Olga P.');
  const max = await server.signUp('max', 'Max R.');
  const cat = await server.signUp('cat', 'Cat');
  const owner = await openPage(browser, `${server.url}/`, undefined, olga);
  const member = await openPage(browser, `${server.url}/`, undefined, max);
  const outsider = await openPage(browser, `${server.url}/chat/secret-plans/`, undefined, cat);
  try {
    for (const tp of [owner, member]) await waitForConnection(tp.page);

    // Created private from the sidebar: a lock marks it, and it is not under Browse for others.
    const form = owner.page.getByTestId('create-room-form');
    await form.getByRole('textbox', { name: 'New room' }).fill('secret-plans');
    await owner.page.getByTestId('create-room-private').check();
    await form.getByRole('button', { name: 'Create' }).click();
    await owner.page.waitForURL(`${server.url}/chat/secret-plans/`);
    const ownerLink = owner.page.getByTestId('room-link').and(owner.page.locator('[data-room="secret-plans"]'));
    await ownerLink.getByTestId('lock').waitFor();

    // The outsider opened its address before and after: not found either way.
    await outsider.page.getByTestId('empty-state').getByText('#secret-plans not found').waitFor();

    await owner.page.getByTestId('members-button').click();
    const panel = owner.page.getByTestId('members-dialog');
    await panel.getByTestId('member').filter({ hasText: 'Olga P.' }).getByText('owner').waitFor();
    await panel.getByLabel('Invite by username').fill('max');
    await panel.getByRole('button', { name: 'Invite' }).click();
    await panel.getByTestId('member').filter({ hasText: 'Max R.' }).waitFor();
    await panel.getByRole('button', { name: 'Close' }).click();

    // Max gets the room live and can talk there.
    const memberLink = member.page.getByTestId('room-link').and(member.page.locator('[data-room="secret-plans"]'));
    await memberLink.click();
    await member.page.getByTestId('room-title').filter({ hasText: '#secret-plans' }).waitFor();
    await sendFromPage(member.page, 'thanks for the invite');
    await waitForMessage(owner.page, 'thanks for the invite');
    await sendFromPage(owner.page, 'welcome, Max');
    await waitForMessage(member.page, 'welcome, Max');
    assert.equal(await member.page.getByTestId('message').last().getByTestId('message-author').textContent(), 'Olga P.');

    // Max cannot leave it for Olga, but he may not leave as owner either: Olga, the owner, is told to hand over.
    await owner.page.getByTestId('members-button').click();
    await panel.getByTestId('leave-button').click();
    await owner.page.getByTestId('members-error').filter({ hasText: 'Hand the room over' }).waitFor();

    await panel.getByTestId('member').filter({ hasText: 'Max R.' }).getByTestId('remove-member').click();
    await panel.getByTestId('member').filter({ hasText: 'Max R.' }).waitFor({ state: 'detached' });
    await memberLink.waitFor({ state: 'detached' });
    await member.page.getByTestId('notice').filter({ hasText: 'no longer a member of #secret-plans' }).waitFor();

    // Still nothing for the outsider, even after a reload.
    await outsider.page.reload();
    await outsider.page.getByTestId('empty-state').getByText('#secret-plans not found').waitFor();
    assert.equal(await outsider.page.getByTestId('room-link').count(), 0);

    assertNoConsoleProblems(owner, [/status of 403 .*\/api\/rooms\/\d+\/leave\]$/]);
    assertNoConsoleProblems(member);
    assertNoConsoleProblems(outsider);
  } finally {
    await owner.context.close();
    await member.context.close();
    await outsider.context.close();
  }
});

test('public rooms created by others appear under Browse, not in the sidebar, until joined', async () => {
  const una = await server.signUp('una', 'Una');
  const vic = await server.signUp('vic', 'Vic');
  const tp = await openPage(browser, `${server.url}/`, undefined, vic);
  try {
    const { page } = tp;
    await waitForConnection(page);
    await server.createRoom(una, 'announcements');
    await page.getByTestId('browse-button').click();
    const item = page.getByTestId('browse-room').and(page.locator('[data-room="announcements"]'));
    await item.waitFor();
    assert.equal(await page.getByTestId('room-link').and(page.locator('[data-room="announcements"]')).count(), 0);
    await item.getByTestId('browse-join').click();
    await page.getByTestId('room-title').filter({ hasText: '#announcements' }).waitFor();
    await page.getByTestId('room-link').and(page.locator('[data-room="announcements"]')).waitFor();
    assertNoConsoleProblems(tp);
  } finally {
    await tp.context.close();
  }
});
