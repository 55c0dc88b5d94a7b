/**
 * History in real Chromium: what was said shows again after a reload; a long room opens on its newest 50
 * messages and scrolling up loads older pages without moving the text being read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  assertNoConsoleProblems,
  E2EServer,
  e2eSuite,
  openPage,
  sendFromPage,
  shownBodies,
  shownSeqs,
  waitForConnection,
  waitForMessage,
} from '../helpers/browser.js';

let server: E2EServer;
let browser: Browser;

e2eSuite((s, b) => {
  server = s;
  browser = b;
});

test('a reload shows the room’s history', async () => {
  const nora = await server.signUp('nora');
  await server.createRoom(nora, 'notes');
  const tp = await openPage(browser, `${server.url}/chat/notes/`, undefined, nora);
  try {
    const { page } = tp;
    await waitForConnection(page);
    await page.getByTestId('timeline-top').getByText('Beginning of #notes').waitFor();
    for (const text of ['first note', 'second note', 'third\nnote']) {
      await sendFromPage(page, text);
      await waitForMessage(page, text);
    }
    await page.reload();
    await waitForConnection(page);
    await waitForMessage(page, 'third\nnote');
    assert.deepEqual(await shownBodies(page), ['first note', 'second note', 'third\nnote']);
    assert.deepEqual(await shownSeqs(page), [1, 2, 3]);
    assert.equal(await page.getByTestId('message-pending').count(), 0);
    assertNoConsoleProblems(tp);
  } finally {
    await tp.context.close();
  }
});

/** The on-screen top (px) of the message with `seq`, after optionally scrolling the timeline to its top. */
function messageTop(page: Page, seq: number, scrollToTop: boolean): Promise<number> {
  return page.evaluate(
    ({ seq, scrollToTop }) => {
      // Measured in the same task as the scroll: the older page cannot have arrived in between.
      if (scrollToTop) document.getElementById('timeline')!.scrollTop = 0;
      return document.querySelector(`[data-testid="message"][data-seq="${seq}"]`)!.getBoundingClientRect().top;
    },
    { seq, scrollToTop },
  );
}

test('a long room opens on the newest 50; scrolling up loads older pages without the view jumping', async () => {
  const reader = await server.signUp('reader');
  const room = await server.createRoom(reader, 'long');
  const writer = await server.connect(await server.signUp('writer'));
  try {
    for (let i = 1; i <= 120; i++) await writer.post(room.id, `message ${i}`);
  } finally {
    await writer.close();
  }

  const tp = await openPage(browser, `${server.url}/chat/long/`, undefined, reader);
  try {
    const { page } = tp;
    await waitForConnection(page);
    await waitForMessage(page, 'message 120');
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    assert.deepEqual(await shownSeqs(page), range(71, 120));
    // Opened at the bottom: the newest message is in view.
    assert.ok(await page.getByTestId('message').last().isVisible());
    const bottomGap = await page.getByTestId('timeline').evaluate((t) => t.scrollHeight - t.scrollTop - t.clientHeight);
    assert.ok(bottomGap < 2, `timeline is ${bottomGap}px above its bottom`);
    assert.equal(await page.getByTestId('timeline-top').getByText('Beginning of #long').count(), 0);

    // Scroll to the top: the page before seq 71 arrives, and message 71 stays exactly where it was.
    const topBefore = await messageTop(page, 71, true);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="message"]').length === 100);
    const topAfter = await messageTop(page, 71, false);
    assert.ok(Math.abs(topAfter - topBefore) <= 1, `message 71 moved from ${topBefore}px to ${topAfter}px`);
    assert.deepEqual(await shownSeqs(page), range(21, 120));

    // Once more: the last 20 arrive and the start of the room is marked.
    const top21 = await messageTop(page, 21, true);
    await page.getByTestId('timeline-top').getByText('Beginning of #long').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="message"]').length === 120);
    assert.ok(Math.abs((await messageTop(page, 21, false)) - top21) <= 1, 'message 21 moved');
    assert.deepEqual(await shownSeqs(page), range(1, 120));
    assert.deepEqual(await shownBodies(page), range(1, 120).map((i) => `message ${i}`));
    assertNoConsoleProblems(tp);
  } finally {
    await tp.context.close();
  }
});
