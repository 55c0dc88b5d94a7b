/**
 * Edit, delete, reactions, replies, jump to a message and long-message folding in real Chromium, with two
 * people in two browser contexts (or one browser and a raw `/ws` client): every change shows live in the
 * other browser, stays after a reload, and reaches a client that was disconnected while it happened.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser, Locator, Page, WebSocketRoute } from 'playwright-core';
import {
  assertNoConsoleProblems,
  E2EServer,
  e2eSuite,
  openPage,
  PHONE,
  screenshot,
  screenshotBoth,
  setSession,
  sendFromPage,
  waitForConnection,
  waitForMessage,
  type Account,
  type TestPage,
} from '../helpers/browser.js';

let server: E2EServer;
let browser: Browser;

e2eSuite((s, b) => {
  server = s;
  browser = b;
});

/** The stored message on screen whose body contains `text`. */
function message(page: Page, text: string): Locator {
  return page.getByTestId('message').filter({ has: page.getByTestId('message-body').getByText(text) });
}

/** The stored message with this seq. */
function bySeq(page: Page, seq: number): Locator {
  return page.locator(`[data-testid="message"][data-seq="${seq}"]`);
}

/** Opens the room in a fresh context as `account` and waits until its history is on screen. */
async function openRoom(account: Account, room: string): Promise<TestPage> {
  const tp = await openPage(browser, `${server.url}/chat/${room}/`, undefined, account);
  await waitForConnection(tp.page);
  await tp.page.getByTestId('timeline-top').getByText(`Beginning of #${room}`).or(tp.page.getByTestId('load-older')).first().waitFor();
  return tp;
}

/** Clicks an action of a message's bar (it shows on hover). */
async function act(msg: Locator, action: 'react' | 'reply' | 'edit' | 'delete'): Promise<void> {
  await msg.hover();
  await msg.getByTestId(`action-${action}`).click();
}

/** Moves the mouse off the messages so that screenshots show them at rest. */
async function rest(page: Page): Promise<void> {
  await page.mouse.move(1, 1);
}

test('an edit shows live in the other browser with "(edited)"; Up arrow edits the last message, Esc cancels', async () => {
  const ann = await server.signUp('ann', 'Ann Editor');
  const ben = await server.signUp('ben', 'Ben Reader');
  const room = await server.createRoom(ann, 'edits');
  await server.join(ben, room.id);
  const a = await openRoom(ann, 'edits');
  const b = await openRoom(ben, 'edits');
  try {
    await sendFromPage(a.page, 'first draft with a tpyo');
    await waitForMessage(b.page, 'first draft with a tpyo');

    await act(message(a.page, 'first draft'), 'edit');
    const editor = a.page.getByTestId('edit-input');
    assert.equal(await editor.inputValue(), 'first draft with a tpyo');
    await screenshotBoth(a.page, 'message-editing');
    await editor.fill('first draft with **no** typo');
    await editor.press('Enter');

    const edited = message(b.page, 'first draft with no typo');
    await edited.getByTestId('message-edited').waitFor();
    assert.equal(await edited.locator('strong').textContent(), 'no', 'the edit is rendered as rich text');
    assert.match((await edited.getByTestId('message-edited').getAttribute('title')) ?? '', /^Edited .*\d/);
    await message(a.page, 'first draft with no typo').getByTestId('message-edited').waitFor();

    // Up arrow in the empty composer opens the editor on my last message; Esc leaves it unchanged.
    const composer = a.page.getByTestId('composer-input');
    await composer.focus();
    await composer.press('ArrowUp');
    assert.equal(await a.page.getByTestId('edit-input').inputValue(), 'first draft with **no** typo');
    await a.page.getByTestId('edit-input').fill('never saved');
    await a.page.getByTestId('edit-input').press('Escape');
    await a.page.getByTestId('message-editor').waitFor({ state: 'detached' });
    assert.equal(await a.page.evaluate(() => document.activeElement?.id), 'composer-input', 'focus is back in the composer');
    assert.equal(await message(a.page, 'never saved').count(), 0);

    // Only my own messages offer Edit.
    await sendFromPage(b.page, 'ben says hi');
    await waitForMessage(a.page, 'ben says hi');
    await message(a.page, 'ben says hi').hover();
    await message(a.page, 'ben says hi').getByTestId('action-reply').waitFor();
    assert.equal(await message(a.page, 'ben says hi').getByTestId('action-edit').count(), 0);
    await rest(b.page);
    await screenshotBoth(b.page, 'message-edited');
    assertNoConsoleProblems(a);
    assertNoConsoleProblems(b);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('a delete shows the placeholder live and after a reload', async () => {
  const cat = await server.signUp('cat', 'Cat Deleter');
  const dan = await server.signUp('dan', 'Dan Watcher');
  const room = await server.createRoom(cat, 'deletes');
  await server.join(dan, room.id);
  const c = await openRoom(cat, 'deletes');
  const d = await openRoom(dan, 'deletes');
  try {
    await sendFromPage(c.page, 'something I regret');
    await sendFromPage(c.page, 'something I keep');
    await waitForMessage(d.page, 'something I keep');

    await act(message(c.page, 'something I regret'), 'delete');
    const dialog = c.page.getByTestId('delete-dialog');
    await dialog.waitFor();
    await screenshotBoth(c.page, 'message-delete-dialog');
    await dialog.getByTestId('delete-confirm').click();

    for (const page of [d.page, c.page]) {
      await page.getByTestId('message-deleted').waitFor();
      assert.equal(await message(page, 'something I regret').count(), 0);
      assert.equal(await page.getByTestId('message').count(), 2, 'the placeholder keeps its place');
    }
    await d.page.reload();
    await waitForConnection(d.page);
    await waitForMessage(d.page, 'something I keep');
    assert.deepEqual(await d.page.getByTestId('message').getByTestId('message-body').allTextContents(), ['This message was deleted', 'something I keep']);
    // A deleted message has no actions and no reactions.
    await d.page.getByTestId('message').first().hover();
    assert.equal(await d.page.getByTestId('message').first().getByTestId('message-actions').count(), 0);
    await rest(d.page);
    await screenshotBoth(d.page, 'message-deleted');
    assertNoConsoleProblems(c);
    assertNoConsoleProblems(d);
  } finally {
    await c.context.close();
    await d.context.close();
  }
});

test('a room owner deletes someone else’s message; a member sees no Delete on others’ messages', async () => {
  const owner = await server.signUp('olga', 'Olga Owner');
  const member = await server.signUp('mick', 'Mick Member');
  const room = await server.createRoom(owner, 'moderated');
  await server.join(member, room.id);
  const o = await openRoom(owner, 'moderated');
  const m = await openRoom(member, 'moderated');
  try {
    await sendFromPage(o.page, 'rules of the room');
    await waitForMessage(m.page, 'rules of the room');
    await sendFromPage(m.page, 'spam spam spam');
    await waitForMessage(o.page, 'spam spam spam');

    const ownersMessage = message(m.page, 'rules of the room');
    await ownersMessage.hover();
    await ownersMessage.getByTestId('action-react').waitFor();
    assert.equal(await ownersMessage.getByTestId('action-delete').count(), 0, 'a member may not delete the owner’s message');
    assert.equal(await ownersMessage.getByTestId('action-edit').count(), 0);

    await act(message(o.page, 'spam spam spam'), 'delete');
    await o.page.getByTestId('delete-dialog').getByText('by Mick Member').waitFor();
    await o.page.getByTestId('delete-confirm').click();
    await m.page.getByTestId('message-deleted').waitFor();
    assert.equal(await message(m.page, 'spam spam spam').count(), 0);
    assertNoConsoleProblems(o);
    assertNoConsoleProblems(m);
  } finally {
    await o.context.close();
    await m.context.close();
  }
});

test('reactions toggle, with counts and who reacted visible to the other person', async () => {
  const eve = await server.signUp('eve', 'Eve Emoji');
  const fay = await server.signUp('fay', 'Fay Friend');
  const room = await server.createRoom(eve, 'reactions');
  await server.join(fay, room.id);
  const e = await openRoom(eve, 'reactions');
  const f = await openRoom(fay, 'reactions');
  try {
    await sendFromPage(f.page, 'we shipped it');
    await waitForMessage(e.page, 'we shipped it');

    // Eve picks 👍 from the quick choices.
    await act(message(e.page, 'we shipped it'), 'react');
    await e.page.getByTestId('emoji-picker').waitFor();
    await screenshotBoth(e.page, 'reaction-picker');
    await e.page.getByTestId('emoji-option').filter({ hasText: '👍' }).click();

    const chip = (page: Page, emoji: string) => message(page, 'we shipped it').locator(`[data-testid="reaction"][data-emoji="${emoji}"]`);
    await chip(f.page, '👍').getByTestId('reaction-count').filter({ hasText: '1' }).waitFor();
    assert.equal(await chip(f.page, '👍').getAttribute('title'), 'Eve Emoji reacted with 👍');
    assert.equal(await chip(f.page, '👍').getAttribute('aria-pressed'), 'false');
    assert.equal(await chip(e.page, '👍').getAttribute('aria-pressed'), 'true', 'my own reaction is highlighted');

    // Fay adds hers by clicking the chip: two, both names.
    await chip(f.page, '👍').click();
    await chip(e.page, '👍').getByTestId('reaction-count').filter({ hasText: '2' }).waitFor();
    assert.equal(await chip(e.page, '👍').getAttribute('title'), 'You and Fay Friend reacted with 👍');

    // Any emoji through the free field; a word is refused there.
    await message(f.page, 'we shipped it').getByTestId('reaction-add').click();
    await f.page.getByTestId('emoji-input').fill('yay');
    await f.page.getByTestId('emoji-submit').click();
    await f.page.getByTestId('emoji-error').filter({ hasText: 'single emoji' }).waitFor();
    await f.page.getByTestId('emoji-input').fill('🦄');
    await f.page.getByTestId('emoji-submit').click();
    await chip(e.page, '🦄').getByTestId('reaction-count').filter({ hasText: '1' }).waitFor();

    // Eve takes hers back: one left, Fay's.
    await chip(e.page, '👍').click();
    await chip(f.page, '👍').getByTestId('reaction-count').filter({ hasText: '1' }).waitFor();
    assert.equal(await chip(f.page, '👍').getAttribute('title'), 'You reacted with 👍');
    await rest(f.page);
    await screenshotBoth(f.page, 'reactions');
    assertNoConsoleProblems(e);
    assertNoConsoleProblems(f);
  } finally {
    await e.context.close();
    await f.context.close();
  }
});

test('a reply quotes its message; clicking the quote jumps to it through older pages of history', async () => {
  const gus = await server.signUp('gus', 'Gus Replier');
  const hal = await server.signUp('hal', 'Hal Writer');
  const room = await server.createRoom(gus, 'replies');
  await server.join(hal, room.id);
  const raw = await server.connect(hal);
  let g: TestPage | null = null;
  try {
    const original = await raw.post(room.id, 'the very first question');
    // Far more than the first page and the next older one hold.
    for (let i = 1; i <= 160; i++) await raw.post(room.id, `filler ${i}`);
    raw.send({ type: 'send', room: room.id, clientMsgId: 'late-reply', body: 'answering that, much later', replyTo: original.messageId });
    await raw.waitFor((f) => f.type === 'ack' && f.clientMsgId === 'late-reply');

    // Hal listens from here on, to see the reply Gus writes below.
    raw.send({ type: 'subscribe', id: 'sub', room: room.id, since: 162 });
    await raw.waitFor((f) => f.type === 'subscribed' && f.id === 'sub');

    g = await openRoom(gus, 'replies');
    const page = g.page;
    await waitForMessage(page, 'answering that, much later');
    const reply = message(page, 'answering that, much later');
    assert.equal(await reply.getByTestId('reply-author').textContent(), 'Hal Writer');
    assert.equal(await reply.getByTestId('reply-excerpt').textContent(), 'the very first question');
    assert.equal(await bySeq(page, 1).count(), 0, 'the original is not loaded yet');

    await reply.getByTestId('reply-quote').click();
    const target = bySeq(page, 1);
    await target.and(page.locator('.msg--flash')).waitFor();
    assert.equal(await target.getByTestId('message-body').textContent(), 'the very first question');
    assert.ok(await target.isVisible());
    const box = (await target.boundingBox())!;
    const view = (await page.getByTestId('timeline').boundingBox())!;
    assert.ok(box.y >= view.y && box.y + box.height <= view.y + view.height, 'the original is in view');
    await rest(page);
    await screenshotBoth(page, 'reply-jump');

    // Replying from the web client: the bar above the composer, cancel, then a real reply.
    await act(message(page, 'filler 160'), 'reply');
    await page.getByTestId('reply-bar').getByText('Replying to Hal Writer').waitFor();
    await page.getByTestId('reply-cancel').click();
    await page.getByTestId('reply-bar').waitFor({ state: 'hidden' });
    await act(message(page, 'filler 160'), 'reply');
    await page.getByTestId('composer-input').fill('thanks for filler 160');
    await screenshotBoth(page, 'reply-composing');
    await page.getByTestId('composer-input').press('Enter');
    const mine = message(page, 'thanks for filler 160');
    await mine.getByTestId('reply-quote').waitFor();
    assert.equal(await mine.getByTestId('reply-excerpt').textContent(), 'filler 160');
    await page.getByTestId('reply-bar').waitFor({ state: 'hidden' });
    // The other side gets the reply with its quote.
    const frame = await raw.waitFor((f) => f.type === 'message' && f.body === 'thanks for filler 160');
    assert.equal((frame.replyTo as { seq: number }).seq, 161);
    assertNoConsoleProblems(g);
  } finally {
    await raw.close();
    await g?.context.close();
  }
});

test('a client that was disconnected receives an edit and a delete made meanwhile when it resumes', async () => {
  const ida = await server.signUp('ida', 'Ida Offline');
  const jon = await server.signUp('jon', 'Jon Online');
  const room = await server.createRoom(ida, 'resume-edits');
  await server.join(jon, room.id);
  const raw = await server.connect(jon);
  const tp = await openPage(browser, `${server.url}/chat/resume-edits/`, undefined, ida);
  const { page, context } = tp;
  // While `blocked`, the page's WebSocket opens but reaches no server (no hello), as if the network were gone.
  let blocked = false;
  const routes: WebSocketRoute[] = [];
  await context.routeWebSocket(/\/ws$/, (ws) => {
    routes.push(ws);
    if (!blocked) ws.connectToServer();
  });
  try {
    await page.reload();
    await waitForConnection(page);
    const toEdit = await raw.post(room.id, 'will change while you are away');
    const toDelete = await raw.post(room.id, 'will vanish while you are away');
    await waitForMessage(page, 'will vanish while you are away');

    blocked = true;
    for (const ws of routes.splice(0)) await ws.close({ code: 1001, reason: 'going away' });
    await page.getByTestId('connection-state').filter({ hasNotText: 'Connected' }).waitFor();

    raw.send({ type: 'edit', id: 'e1', room: room.id, messageId: toEdit.messageId, body: 'changed while you were away' });
    await raw.waitFor((f) => f.id === 'e1' && f.type === 'done');
    raw.send({ type: 'delete', id: 'd1', room: room.id, messageId: toDelete.messageId });
    await raw.waitFor((f) => f.id === 'd1' && f.type === 'done');
    raw.send({ type: 'react', id: 'r1', room: room.id, messageId: toEdit.messageId, emoji: '🎉', on: true });
    await raw.waitFor((f) => f.id === 'r1' && f.type === 'done');
    assert.equal(await message(page, 'will change while you are away').count(), 1, 'nothing reached the page yet');

    blocked = false;
    for (const ws of routes.splice(0)) await ws.close({ code: 1001, reason: 'going away' });
    await waitForConnection(page);
    const edited = message(page, 'changed while you were away');
    await edited.getByTestId('message-edited').waitFor();
    await page.getByTestId('message-deleted').waitFor();
    await edited.locator('[data-testid="reaction"][data-emoji="🎉"]').waitFor();
    assert.equal(await page.getByTestId('message').count(), 2, 'updates are not rows of their own');
    assert.equal(await page.getByTestId('unread-divider').count(), 0);
    assertNoConsoleProblems(tp);
  } finally {
    await raw.close();
    await context.close();
  }
});

test('a very long message folds with "Show more" and unfolds with "Show less"', async () => {
  const kim = await server.signUp('kim', 'Kim Long');
  const room = await server.createRoom(kim, 'long-text');
  const raw = await server.connect(kim);
  const tp = await openRoom(kim, 'long-text');
  try {
    const { page } = tp;
    const lines = Array.from({ length: 60 }, (_, i) => `line ${i + 1} of a very long message`);
    await raw.post(room.id, `# Notes\n${lines.join('\n')}`);
    await raw.post(room.id, 'a short one after it');
    await waitForMessage(page, 'a short one after it');
    const long = message(page, 'line 1 of a very long message');
    const toggle = long.getByTestId('fold-toggle');
    await toggle.filter({ hasText: 'Show more' }).waitFor();
    assert.equal(await message(page, 'a short one after it').getByTestId('fold-toggle').count(), 0);
    const folded = (await long.getByTestId('message-body').boundingBox())!.height;
    await long.scrollIntoViewIfNeeded();
    await rest(page);
    await screenshotBoth(page, 'message-folded');
    await toggle.click();
    await toggle.filter({ hasText: 'Show less' }).waitFor();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    const open = (await long.getByTestId('message-body').boundingBox())!.height;
    assert.ok(open > folded * 2, `unfolded ${open}px vs folded ${folded}px`);
    await toggle.click();
    await toggle.filter({ hasText: 'Show more' }).waitFor();
    assertNoConsoleProblems(tp);
  } finally {
    await raw.close();
    await tp.context.close();
  }
});

test('on a touch screen a tap on a message shows its actions, and a tap on another moves them', async () => {
  const lea = await server.signUp('lea', 'Lea Phone');
  const room = await server.createRoom(lea, 'touch');
  const raw = await server.connect(lea);
  const context = await browser.newContext({ viewport: PHONE, hasTouch: true, isMobile: true, locale: 'en-GB', timezoneId: 'UTC' });
  try {
    await setSession(context, server.url, lea);
    const page = await context.newPage();
    await raw.post(room.id, 'tap me first');
    await raw.post(room.id, 'then tap me');
    await page.goto(`${server.url}/chat/touch/`);
    await waitForMessage(page, 'then tap me');
    const opacity = (text: string) => message(page, text).getByTestId('message-actions').evaluate((bar) => getComputedStyle(bar).opacity);
    assert.equal(await opacity('tap me first'), '0');
    await message(page, 'tap me first').getByTestId('message-body').tap();
    assert.equal(await opacity('tap me first'), '1');
    await message(page, 'tap me first').getByTestId('action-edit').waitFor();
    await screenshot(page, 'message-actions-touch-phone');
    await message(page, 'then tap me').getByTestId('message-body').tap();
    assert.equal(await opacity('tap me first'), '0');
    assert.equal(await opacity('then tap me'), '1');
  } finally {
    await raw.close();
    await context.close();
  }
});

test('rich text: the Markdown subset, links and mentions render as elements', async () => {
  const max = await server.signUp('max', 'Max Markdown');
  const nia = await server.signUp('nia', 'Nia Named');
  const room = await server.createRoom(max, 'rich');
  await server.join(nia, room.id);
  const raw = await server.connect(nia);
  const tp = await openRoom(max, 'rich');
  try {
    const { page } = tp;
    const body = [
      'Release notes for **v2**, _finally_ ~~late~~, ping @max',
      '> quoted from the plan',
      '- run `npm test`',
      '- read https://example.com/docs',
      '',
      '```',
      'const answer = 42;',
      '```',
    ].join('\n');
    await raw.post(room.id, body);
    const msg = message(page, 'Release notes for');
    await msg.waitFor();
    const rich = msg.getByTestId('message-body');
    assert.equal(await rich.locator('strong').textContent(), 'v2');
    assert.equal(await rich.locator('em').textContent(), 'finally');
    assert.equal(await rich.locator('s').textContent(), 'late');
    assert.equal(await rich.locator('blockquote').textContent(), 'quoted from the plan');
    assert.deepEqual(await rich.locator('ul > li').allTextContents(), ['run npm test', 'read https://example.com/docs']);
    assert.equal(await rich.locator('li code').textContent(), 'npm test');
    assert.equal(await rich.locator('pre code').textContent(), 'const answer = 42;');
    const link = rich.getByTestId('message-link');
    assert.equal(await link.getAttribute('href'), 'https://example.com/docs');
    assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
    assert.equal(await link.getAttribute('target'), '_blank');
    await rich.locator('.mention--me').filter({ hasText: '@max' }).waitFor();
    await rest(page);
    await screenshotBoth(page, 'rich-text');
    assertNoConsoleProblems(tp);
  } finally {
    await raw.close();
    await tp.context.close();
  }
});
