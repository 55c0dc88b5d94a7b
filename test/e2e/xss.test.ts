/**
 * An XSS corpus posted through the real server and rendered by the web client in real headless Chromium:
 * script tags, event handler attributes, `javascript:` / `data:` / `vbscript:` links (bare, Markdown,
 * autolink, image), broken and nested Markdown, HTML inside code, entities, and Unicode direction tricks; also
 * through an edit and a reply's quote. Every payload would set `window.__pwned` if it ever ran. The test
 * asserts that no payload ran, that the page met no Content Security Policy violation (a
 * `securitypolicyviolation` listener installed before any page script, Chromium's console, and the reports the
 * server received at the policy's report-uri), and that the
 * rendered messages hold no active element, no `on*` attribute, no link but http(s)/mailto with
 * rel="noopener noreferrer" and target=_blank, and no direction control character.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  assertNoConsoleProblems,
  E2EServer,
  e2eSuite,
  openPage,
  screenshotBoth,
  waitForConnection,
  type Frame,
} from '../helpers/browser.js';
import { metricAt } from '../helpers/server.js';

/** CSP violation reports the server received from browsers (report-uri /csp-report). */
const cspReports = () => metricAt(server.url, 'confab_csp_reports_total');

let server: E2EServer;
let browser: Browser;

e2eSuite((s, b) => {
  server = s;
  browser = b;
});

/** Sets `window.__pwned` to `n` (each payload its own number, to tell which one ran). */
const pwn = (n: number) => `window.__pwned=${n}`;

/** The corpus: each body is posted as one message. */
const CORPUS: readonly string[] = [
  `<script>${pwn(1)}</script>`,
  `<img src=x onerror="${pwn(2)}">`,
  `<svg onload=${pwn(3)}><circle r=5 /></svg>`,
  `[click me](javascript:${pwn(4)})`,
  `javascript:${pwn(5)}`,
  `<a href="javascript:${pwn(6)}">html link</a>`,
  `[data](data:text/html,<script>${pwn(7)}</script>)`,
  `data:text/html;base64,${Buffer.from(`<script>${pwn(8)}</script>`).toString('base64')}`,
  `<iframe src="javascript:${pwn(9)}"></iframe>`,
  `**<b onmouseover=${pwn(10)}>bold html</b>** and *<i onclick=${pwn(10)}>it</i>*`,
  `***[**](javascript:${pwn(11)})**\`*_~~ broken *nested **markdown`,
  `> > <details open ontoggle=${pwn(12)}>quoted</details>\n> - [x](javascript:${pwn(12)})`,
  `\`<img src=x onerror=${pwn(13)}>\``,
  `\`\`\`html\n<script>${pwn(14)}</script>\n<img src=x onerror=${pwn(14)}>\n\`\`\``,
  `<javascript:${pwn(15)}> and <https://example.com/auto>`,
  `![img](javascript:${pwn(16)}) ![img2](https://example.com/x.png" onerror="${pwn(16)})`,
  `&#60;script&#62;${pwn(17)}&#60;/script&#62; &lt;img src=x onerror=${pwn(17)}&gt;`,
  `https://example.com/"onmouseover="${pwn(18)}"x and https://example.com/a'onclick='${pwn(18)}`,
  `[vb](vbscript:msgbox(1)) [file](file:///etc/passwd) JaVaScRiPt:${pwn(19)} java\tscript:${pwn(19)}`,
  `<style>*{background:url("javascript:${pwn(20)}")}</style><link rel=stylesheet href="data:text/css,x"><meta http-equiv="refresh" content="0;url=javascript:${pwn(20)}">`,
  `<form action="javascript:${pwn(21)}"><button>go</button></form><object data="javascript:${pwn(21)}"></object><embed src="javascript:${pwn(21)}">`,
  `1. <img src=x onerror=${pwn(22)}>\n2. [y](javascript:${pwn(22)})\n   - <script>${pwn(22)}</script>`,
  // Direction tricks: an override that would reverse the rest of the line (and what follows it), isolates left open.
  `invoice\u202Efdp.exe\u202C and \u2067open isolate \u2066nested`,
  `\u202Bright-to-left embedding never closed \u202D override too`,
  `mixed עברית \u202E)'${pwn(23)}'(alert\u202C text`,
];

/** Text that stands in for a message body until an edit replaces it with a payload. */
const TO_EDIT = 'this message will be edited';

/** Records CSP violations (before any page script runs) and starts the pwned flag at 0. */
async function watchPage(context: BrowserContext): Promise<void> {
  await context.addInitScript({
    content: `(() => {
      window.__pwned = 0;
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || ''));
      });
    })();`,
  });
}

/** What a scan of the rendered messages found that should not be there. */
async function scanMessages(page: Page): Promise<{
  active: string[];
  handlers: string[];
  badLinks: string[];
  links: number;
  bidi: number;
  authors: string[];
}> {
  return page.evaluate(() => {
    const list = document.getElementById('messages')!;
    // What user text renders into (the app's own icons elsewhere in a message are SVG).
    const user = [...list.querySelectorAll('[data-testid="message-body"], [data-testid="reply-quote"]')];
    const active = user.flatMap((b) => [...b.querySelectorAll('script, iframe, img, svg, object, embed, form, style, link, meta, details, video, audio, base')].map((e) => e.outerHTML));
    const handlers: string[] = [];
    for (const e of list.querySelectorAll('*')) {
      for (const a of e.attributes) if (a.name.toLowerCase().startsWith('on')) handlers.push(`${e.tagName} ${a.name}`);
    }
    const anchors = [...list.querySelectorAll('a')];
    const badLinks = anchors
      .filter((a) => !/^(https?:|mailto:)/.test(a.getAttribute('href') ?? '') || a.rel !== 'noopener noreferrer' || a.target !== '_blank')
      .map((a) => a.outerHTML);
    const bidi = [...(list.textContent ?? '')].filter((c) => /[\u202A-\u202E\u2066-\u2069]/.test(c)).length;
    const authors = [...list.querySelectorAll('[data-testid="message-author"]')].map((e) => e.textContent ?? '');
    return { active, handlers, badLinks, links: anchors.length, bidi, authors };
  });
}

test('#10 an XSS corpus renders inert: no script runs, no CSP violation, no active markup', async () => {
  const viewer = await server.signUp('viewer', 'Vera Viewer');
  const mallory = await server.signUp('mallory', 'Mallory');
  const room = await server.createRoom(viewer, 'xss-corpus');
  await server.join(mallory, room.id);
  const raw = await server.connect(mallory);
  const tp = await openPage(browser, `${server.url}/chat/xss-corpus/`, undefined, viewer, watchPage);
  try {
    const { page } = tp;
    await waitForConnection(page);
    await page.getByTestId('timeline-top').getByText('Beginning of #xss-corpus').waitFor();

    const acks: Frame[] = [];
    for (const body of CORPUS) acks.push(await raw.post(room.id, body));
    // The edit and reply paths render through the same code: an edit to a payload, a reply quoting one.
    const edited = await raw.post(room.id, TO_EDIT);
    raw.send({ type: 'edit', id: 'e1', room: room.id, messageId: edited.messageId, body: `edited <img src=x onerror=${pwn(30)}> [x](javascript:${pwn(30)})` });
    await raw.waitFor((f) => f.id === 'e1' && f.type === 'done');
    raw.send({ type: 'send', room: room.id, clientMsgId: 'reply-1', body: `a reply <script>${pwn(31)}</script>`, replyTo: acks[1]!.messageId });
    await raw.waitFor((f) => f.clientMsgId === 'reply-1' && f.type === 'ack');

    const messages = page.getByTestId('message');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="message"]').length === n, CORPUS.length + 2);
    await page.getByTestId('message-edited').waitFor();
    await page.getByTestId('reply-quote').waitFor();

    // Give anything a chance to fire: hover every message body and focus every link (no click: a real
    // link would open a tab), then let the event loop turn.
    for (const body of await messages.getByTestId('message-body').all()) await body.hover();
    await page.evaluate(() => {
      for (const a of document.querySelectorAll<HTMLElement>('#messages a')) a.focus();
    });
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 50)));

    assert.equal(await page.evaluate(() => (window as unknown as { __pwned: number }).__pwned), 0, 'no payload ran');
    assert.deepEqual(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp), [], 'no CSP violation');
    assert.equal(await cspReports(), 0, 'the server received no CSP violation report');

    const scan = await scanMessages(page);
    assert.deepEqual(scan.active, [], 'no active element in the messages');
    assert.deepEqual(scan.handlers, [], 'no event handler attribute');
    assert.deepEqual(scan.badLinks, [], 'links are http(s) or mailto, with rel and target');
    assert.ok(scan.links >= 3, `the real URLs are links (${scan.links})`);
    assert.equal(scan.bidi, 0, 'no direction control character reached the page');
    assert.ok(scan.authors.every((a) => a === 'Mallory'), `author names are untouched: ${scan.authors.join(', ')}`);

    // The text is all still there, shown as text.
    const bodies = await messages.getByTestId('message-body').allTextContents();
    assert.ok(bodies[0]!.includes(`<script>${pwn(1)}</script>`), bodies[0]);
    assert.ok(bodies[1]!.includes(`<img src=x onerror="${pwn(2)}">`), bodies[1]);
    assert.ok(bodies.some((b) => b.includes('invoice') && b.includes('RLO') && b.includes('fdp.exe')), 'the override is shown as a marker');
    assert.equal(await page.getByTestId('bidi-control').count() >= 7, true);
    // The markers sit inside the body: the time after the author name is still where it belongs.
    const heads = await page.getByTestId('message-time').allTextContents();
    assert.ok(heads.every((t) => /^\d{1,2}:\d{2}/.test(t)), heads.join(', '));

    // The screenshot shows the messages at rest: no hover, no focus ring.
    await page.mouse.move(0, 0);
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.getByTestId('message').nth(22).scrollIntoViewIfNeeded();
    await screenshotBoth(page, 'xss-corpus');
    assertNoConsoleProblems(tp);
  } finally {
    await raw.close();
    await tp.context.close();
  }
});

test('#10 the checks can see a violation: an inline script injected by the page is refused and reported', async () => {
  const probe = await server.signUp('prober');
  const tp = await openPage(browser, `${server.url}/`, undefined, probe, watchPage);
  try {
    const { page } = tp;
    await waitForConnection(page);
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__pwned = 99';
      document.body.append(s);
    });
    await page.waitForFunction(() => (window as unknown as { __csp: string[] }).__csp.length > 0);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned: number }).__pwned), 0, 'the CSP blocked it');
    assert.match((await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp))[0]!, /^script-src/);
    assert.ok(tp.problems.some((p) => /Content Security Policy/.test(p)), 'Chromium logged the refusal too');
    // The browser reports it to the server as well (sent in the background: wait for it).
    const deadline = Date.now() + 10_000;
    while ((await cspReports()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await cspReports(), 1, 'the server received the report');
  } finally {
    await tp.context.close();
  }
});
