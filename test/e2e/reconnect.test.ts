/**
 * Delivery across failures in real Chromium: a server restart is seen as "Reconnecting…" and then nothing
 * is missing or doubled; messages written meanwhile go through the outbox, which also survives a reload.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import {
  assertNoConsoleProblems,
  ME_UNAVAILABLE,
  E2EServer,
  e2eSuite,
  openPage,
  sendFromPage,
  shownBodies,
  shownSeqs,
  waitForConnection,
  waitForMessage,
  WS_REFUSED,
} from '../helpers/browser.js';

let server: E2EServer;
let browser: Browser;

e2eSuite((s, b) => {
  server = s;
  browser = b;
});

/** Starts recording every text the connection pill shows, so short-lived states cannot be missed. */
async function recordPillStates(page: Page): Promise<void> {
  await page.evaluate(() => {
    const pill = document.querySelector('[data-testid="connection-state"]')!;
    const seen: string[] = [];
    (window as unknown as { __pillStates: string[] }).__pillStates = seen;
    new MutationObserver(() => seen.push(pill.textContent ?? '')).observe(pill, { childList: true, characterData: true, subtree: true });
  });
}

function pillStates(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __pillStates: string[] }).__pillStates);
}

test('after a server restart the client reconnects and shows what was sent meanwhile exactly once, in order', async () => {
  const opal = await server.signUp('opal');
  const ben = await server.signUp('ben');
  const room = await server.createRoom(opal, 'ops');
  const tp = await openPage(browser, `${server.url}/chat/ops/`, undefined, opal);
  try {
    const { page } = tp;
    await waitForConnection(page);
    await page.getByTestId('timeline-top').getByText('Beginning of #ops').waitFor();
    await sendFromPage(page, 'before the restart');
    await waitForMessage(page, 'before the restart');
    await recordPillStates(page);

    await server.stop();
    await page.getByTestId('connection-state').filter({ hasText: /Reconnecting…|Offline/ }).waitFor();

    // Written while the server is down: kept in the outbox (and localStorage), shown as pending.
    await sendFromPage(page, 'written during the outage');
    await page.getByTestId('message-pending').getByText('written during the outage').waitFor();
    assert.match((await page.evaluate((id) => localStorage.getItem(`confab.outbox.${id}`), opal.user.id)) ?? '', /written during the outage/);

    // The server is back; another client talks at once, while the page may still be waiting in backoff.
    await server.restart();
    const other = await server.connect(ben);
    try {
      for (let i = 1; i <= 5; i++) await other.post(room.id, `meanwhile ${i}`);

      await waitForConnection(page);
      for (let i = 1; i <= 5; i++) await waitForMessage(page, `meanwhile ${i}`);
      await waitForMessage(page, 'written during the outage');
      await page.getByTestId('message-pending').waitFor({ state: 'detached' });

      // Exactly what the server stored, once each, in seq order, and nothing left in the outbox.
      const stored = await other.history(room.id);
      assert.equal(stored.length, 7);
      assert.deepEqual(await shownSeqs(page), stored.map((m) => m.seq));
      assert.deepEqual(await shownBodies(page), stored.map((m) => m.body));
      assert.equal(stored.filter((m) => m.body === 'written during the outage').length, 1);
      assert.equal(await page.evaluate((id) => localStorage.getItem(`confab.outbox.${id}`), opal.user.id), null);
    } finally {
      await other.close();
    }
    const states = await pillStates(page);
    assert.ok(states.includes('Reconnecting…'), `pill states: ${states.join(' -> ')}`);
    assert.equal(states.at(-1), 'Connected');
    // Chromium itself reports the refused connections while the server was down.
    assertNoConsoleProblems(tp, [WS_REFUSED, ME_UNAVAILABLE]);
  } finally {
    await tp.context.close();
  }
});

test('the outbox survives a reload: pending messages show again and are sent once the server answers', async () => {
  const otto = await server.signUp('otto');
  const room = await server.createRoom(otto, 'outbox');
  const tp = await openPage(browser, `${server.url}/chat/outbox/`, undefined, otto);
  const { page, context } = tp;
  // While `blocked`, the page's WebSocket opens but reaches no server (no hello), so nothing can be sent.
  let blocked = false;
  const mocked: WebSocketRoute[] = [];
  await context.routeWebSocket(/\/ws$/, (ws) => {
    if (blocked) mocked.push(ws);
    else ws.connectToServer();
  });
  try {
    await page.reload();
    await waitForConnection(page);
    await page.getByTestId('timeline-top').getByText('Beginning of #outbox').waitFor();

    blocked = true;
    await page.reload();
    await page.getByTestId('room-title').filter({ hasText: '#outbox' }).waitFor();
    await sendFromPage(page, 'typed without a server');
    await page.getByTestId('message-pending').getByText('typed without a server').waitFor();

    await page.reload();
    await page.getByTestId('message-pending').getByText('typed without a server').waitFor();
    assert.equal(await page.getByTestId('connection-state').textContent(), 'Connecting…');

    // Let the next connection through and end the mocked one as a server restart would (1001).
    blocked = false;
    for (const ws of mocked) await ws.close({ code: 1001, reason: 'going away' });
    await waitForConnection(page);
    await waitForMessage(page, 'typed without a server');
    await page.getByTestId('message-pending').waitFor({ state: 'detached' });

    const reader = await server.connect(otto);
    try {
      assert.deepEqual((await reader.history(room.id)).map((m) => m.body), ['typed without a server']);
    } finally {
      await reader.close();
    }
    assert.deepEqual(await shownBodies(page), ['typed without a server']);
    assertNoConsoleProblems(tp);
  } finally {
    await context.close();
  }
});

test('a send the server refuses for good leaves the outbox and shows "not sent" with a dismiss', async () => {
  const rex = await server.signUp('rex');
  const room = await server.createRoom(rex, 'refused');
  const tp = await openPage(browser, `${server.url}/chat/refused/`, undefined, rex);
  try {
    const { page } = tp;
    await waitForConnection(page);
    await page.getByTestId('timeline-top').getByText('Beginning of #refused').waitFor();
    // The composer never sends more than the limit, so plant an over-long entry as an older version might have.
    await page.evaluate(
      ({ roomId, userId }) => {
        const entry = { clientMsgId: 'planted-too-long', room: roomId, body: 'x'.repeat(4001), createdAt: Date.now() };
        localStorage.setItem(`confab.outbox.${userId}`, JSON.stringify([entry]));
      },
      { roomId: room.id, userId: rex.user.id },
    );
    await page.reload();

    const failed = page.getByTestId('message-failed');
    await failed.getByTestId('send-error').filter({ hasText: /^Not sent: .+/ }).waitFor();
    assert.equal(await page.evaluate((id) => localStorage.getItem(`confab.outbox.${id}`), rex.user.id), null);
    await failed.getByTestId('dismiss').click();
    await failed.waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('message').count(), 0);
    assertNoConsoleProblems(tp);
  } finally {
    await tp.context.close();
  }
});
