/**
 * Accounts in real Chromium: the sign-in screen is all a signed-out visitor sees; sign-up and sign-in through
 * the forms, with the server's messages shown inline (wrong password, taken username, weak password); signing
 * out returns to sign-in and closes the socket of every other tab of that session; settings change the
 * password and manage API tokens.
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
  SIGNIN_401,
  signUp,
  submitSignIn,
  waitForConnection,
  waitForMessage,
} from '../helpers/browser.js';

let server: E2EServer;
let browser: Browser;

e2eSuite((s, b) => {
  server = s;
  browser = b;
});

/** Chromium's line for an expected 4xx answer of `route` (the client shows its message inline). */
const refused = (status: number, route: string) => new RegExp(`status of ${status} .*\\[http://[^\\]]*${route.replace(/\//g, '\\/')}\\]$`);

test('signed out, only the sign-in screen shows; sign-up errors are shown inline, then the app opens', async () => {
  await server.signUp('taken');
  const tp = await openPage(browser, `${server.url}/`);
  try {
    const { page } = tp;
    await page.getByTestId('signin-form').waitFor();
    assert.equal(await page.locator('#app').isVisible(), false, 'nothing of the app before sign-in');
    assert.equal(await page.getByTestId('sidebar').isVisible(), false);

    await page.getByTestId('signup-tab').click();
    const form = page.getByTestId('signup-form');
    await form.getByLabel('Username').fill('Taken');
    await form.getByLabel('Password').fill(PASSWORD);
    await form.getByRole('button', { name: 'Create account' }).click();
    await page.getByTestId('signup-error').filter({ hasText: 'taken' }).waitFor();

    await form.getByLabel('Username').fill('zoe');
    await form.getByLabel('Password').fill('short');
    await form.getByRole('button', { name: 'Create account' }).click();
    await page.getByTestId('signup-error').filter({ hasText: 'at least 8 characters' }).waitFor();

    await signUp(page, 'zoe', PASSWORD, 'Zoë K.');
    await waitForConnection(page);
    await page.getByTestId('empty-state').getByText('No rooms yet').waitFor();
    assert.equal(await page.getByTestId('auth-screen').isVisible(), false);
    assertNoConsoleProblems(tp, [ME_401, refused(409, '/api/auth/signup'), refused(400, '/api/auth/signup')]);
  } finally {
    await tp.context.close();
  }
});

test('a wrong password shows the server’s message; the right one signs in on the page asked for', async () => {
  const owner = await server.signUp('ola', 'Ola N.');
  await server.createRoom(owner, 'welcome');
  const tp = await openPage(browser, `${server.url}/chat/welcome/`);
  try {
    const { page } = tp;
    await submitSignIn(page, 'ola', 'not-the-password');
    await page.getByTestId('signin-error').filter({ hasText: 'Wrong username or password' }).waitFor();
    assert.equal(await page.getByTestId('sidebar').isVisible(), false);

    await submitSignIn(page, 'OLA', PASSWORD);
    await waitForConnection(page);
    await page.getByTestId('room-title').filter({ hasText: '#welcome' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/chat/welcome/');
    assert.equal(await page.getByTestId('me-display').textContent(), 'Ola N.');
    await sendFromPage(page, 'signed in and talking');
    await waitForMessage(page, 'signed in and talking');
    const mine = page.getByTestId('message').last();
    assert.equal(await mine.getByTestId('message-author').textContent(), 'Ola N.');
    assert.equal(await mine.getAttribute('data-mine'), 'true');
    assertNoConsoleProblems(tp, [ME_401, SIGNIN_401]);
  } finally {
    await tp.context.close();
  }
});

test('signing out returns to sign-in, and another tab of the same session is closed and sent to sign-in', async () => {
  const pat = await server.signUp('pat', 'Pat');
  await server.createRoom(pat, 'outs');
  const tp = await openPage(browser, `${server.url}/chat/outs/`, undefined, pat);
  const second = await tp.context.newPage();
  const secondProblems: string[] = [];
  second.on('console', (m) => m.type() === 'error' && secondProblems.push(`${m.text()} [${m.location().url}]`));
  try {
    const { page } = tp;
    await waitForConnection(page);
    await second.goto(`${server.url}/chat/outs/`);
    await waitForConnection(second);

    await page.getByTestId('user-menu-button').click();
    await page.getByTestId('signout-button').click();
    await page.getByTestId('signin-form').waitFor();
    await second.getByTestId('signin-form').waitFor();
    assert.equal(await second.getByTestId('sidebar').isVisible(), false);
    assert.equal(new URL(second.url()).pathname, '/');

    // The old session is gone for good: a reload stays on sign-in.
    await page.reload();
    await page.getByTestId('signin-form').waitFor();
    assertNoConsoleProblems(tp, [ME_401]);
    assert.deepEqual(secondProblems.filter((p) => !ME_401.test(p)), []);
  } finally {
    await tp.context.close();
  }
});

test('settings: a wrong current password is refused inline; API tokens are shown once and can be revoked', async () => {
  const sam = await server.signUp('sam', 'Sam');
  const tp = await openPage(browser, `${server.url}/`, undefined, sam);
  try {
    const { page } = tp;
    await waitForConnection(page);
    await page.getByTestId('user-menu-button').click();
    await page.getByTestId('settings-button').click();
    const dialog = page.getByTestId('settings-dialog');
    await dialog.waitFor();

    await dialog.getByLabel('Current password').fill('wrong-password-1');
    await dialog.getByLabel('New password', { exact: true }).fill('another-Secret-9');
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await page.getByTestId('password-error').filter({ hasText: /./ }).waitFor();

    await dialog.getByLabel('Token name').fill('deploy-bot');
    await dialog.getByRole('button', { name: 'Create token' }).click();
    const secretBox = page.getByTestId('token-secret-box');
    await secretBox.getByText('will not be shown again').waitFor();
    const secret = await page.getByTestId('token-secret').inputValue();
    assert.ok(secret.length >= 20, 'the secret is shown');
    await page.getByTestId('token').filter({ hasText: 'deploy-bot' }).waitFor();

    // The token works as a bearer credential, until revoked.
    const me = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(me.status, 200);
    await page.getByTestId('token').filter({ hasText: 'deploy-bot' }).getByTestId('token-revoke').click();
    await page.getByTestId('token').waitFor({ state: 'detached' });
    const after = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(after.status, 401);

    // Closing settings forgets the secret.
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.getByTestId('user-menu-button').click();
    await page.getByTestId('settings-button').click();
    assert.equal(await secretBox.isVisible(), false);

    // The right current password changes it.
    await dialog.getByLabel('Current password').fill(PASSWORD);
    await dialog.getByLabel('New password', { exact: true }).fill('another-Secret-9');
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await page.getByTestId('password-ok').filter({ hasText: 'Password changed' }).waitFor().catch(async (err: Error) => {
      throw new Error(`${err.message}\nshown: ${await page.getByTestId('password-error').textContent()}`);
    });
    const errors = [refused(401, '/api/auth/password'), refused(400, '/api/auth/password'), refused(403, '/api/auth/password')];
    assertNoConsoleProblems(tp, errors);
  } finally {
    await tp.context.close();
  }
});
