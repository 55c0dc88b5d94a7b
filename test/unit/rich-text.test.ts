/**
 * The rich-text renderer's tree stage (pure, no DOM): the Markdown subset, links only to http(s) and mailto
 * with rel and target set, raw HTML and other Markdown kept as text, mentions inside formatting, and
 * direction controls replaced by visible markers. The DOM stage is exercised in Chromium by test/e2e/xss.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { richTree, safeUrl, stripBidiControls, type RichNode } from '../../src/web/rich-text.js';

const plain = { mentioned: new Set<string>(), myUsername: 'me' };

/** The tree as compact markup-like text, for readable assertions (never used as HTML). */
function show(nodes: RichNode[]): string {
  return nodes
    .map((n) => {
      if (typeof n === 'string') return n;
      const attrs = Object.entries(n.attrs)
        .map(([k, v]) => ` ${k}="${v}"`)
        .join('');
      return `<${n.tag}${attrs}>${show(n.children)}</${n.tag}>`;
    })
    .join('');
}

const render = (body: string, options = plain) => show(richTree(body, options));

/** Every element of a tree, depth first. */
function elements(nodes: RichNode[]): Array<Exclude<RichNode, string>> {
  return nodes.flatMap((n) => (typeof n === 'string' ? [] : [n, ...elements(n.children)]));
}

test('the Markdown subset: bold, italic, strike, inline code, code blocks, quotes, lists', () => {
  assert.equal(render('a **b** *c* _d_ ~~e~~ `f`'), '<p>a <strong>b</strong> <em>c</em> <em>d</em> <s>e</s> <code>f</code></p>');
  assert.equal(render('```\nx **y**\n```'), '<pre><code>x **y**</code></pre>');
  assert.equal(render('```js\nlet a\n```'), '<pre><code>let a</code></pre>');
  assert.equal(render('    indented'), '<pre><code>indented</code></pre>');
  assert.equal(render('> said\n> twice'), '<blockquote><p>said\ntwice</p></blockquote>');
  assert.equal(render('- one\n- two'), '<ul><li>one</li><li>two</li></ul>');
  assert.equal(render('3. three\n4. four'), '<ol start="3"><li>three</li><li>four</li></ol>');
  assert.equal(render('1. a\n   - nested'), '<ol><li>a<ul><li>nested</li></ul></li></ol>');
});

test('line breaks stay as newlines of the text; other Markdown stays literal', () => {
  assert.equal(render('line one\nline two'), '<p>line one\nline two</p>');
  assert.equal(render('# not a heading'), '<p># not a heading</p>');
  // No images: the address is an ordinary link.
  assert.equal(render('![img](https://x.test/a.png)'), '<p>![img](<a href="https://x.test/a.png" rel="noopener noreferrer" target="_blank" data-testid="message-link">https://x.test/a.png</a>)</p>');
  assert.equal(render('[text](https://x.test/)'), '<p>[text](<a href="https://x.test/" rel="noopener noreferrer" target="_blank" data-testid="message-link">https://x.test/</a>)</p>');
  assert.equal(render('a &amp; b'), '<p>a &amp; b</p>');
  assert.equal(render('snake_case_name'), '<p>snake_case_name</p>');
});

test('raw HTML is text, never elements', () => {
  for (const body of ['<script>window.x=1</script>', '<img src=x onerror=alert(1)>', '<b onclick="x()">hi</b>', '<iframe src="javascript:alert(1)"></iframe>']) {
    const tree = richTree(body, plain);
    assert.deepEqual(
      elements(tree).map((e) => e.tag),
      ['p'],
      body,
    );
    assert.equal(show(tree), `<p>${body}</p>`);
  }
});

test('bare URLs become links with rel="noopener noreferrer" and target=_blank; only http(s) and mailto', () => {
  const links = elements(richTree('see https://example.com/a?b=1 or mail ana@example.org', plain)).filter((e) => e.tag === 'a');
  assert.deepEqual(
    links.map((a) => a.attrs),
    [
      { href: 'https://example.com/a?b=1', rel: 'noopener noreferrer', target: '_blank', 'data-testid': 'message-link' },
      { href: 'mailto:ana@example.org', rel: 'noopener noreferrer', target: '_blank', 'data-testid': 'message-link' },
    ],
  );
  for (const body of ['javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:msgbox(1)', 'JaVaScRiPt:alert(1)', '<javascript:alert(1)>', 'ftp://files.example.com/x']) {
    assert.equal(elements(richTree(body, plain)).filter((e) => e.tag === 'a').length, 0, body);
  }
  assert.equal(safeUrl('javascript:alert(1)'), null);
  assert.equal(safeUrl('data:text/html,x'), null);
  assert.equal(safeUrl('https://example.com'), 'https://example.com/');
});

test('broken and nested Markdown never produces unbalanced or unknown elements', () => {
  const nasty = ['**a *b** c*', '`unclosed', '> > > deep\n> back', '- a\n  > q\n  ```\n  code', '***', '**' + '*'.repeat(500), '>'.repeat(200) + ' x'];
  for (const body of nasty) {
    const tree = richTree(body, plain);
    for (const e of elements(tree)) assert.ok(['p', 'ul', 'ol', 'li', 'blockquote', 'pre', 'code', 'strong', 'em', 's', 'a', 'br', 'span'].includes(e.tag));
    // Every character of the text is still there (formatting marks aside).
    const text = show(tree).replace(/<[^>]*>/g, '');
    for (const word of body.match(/[a-z]+/g) ?? []) assert.ok(text.includes(word), `${body} keeps ${word}`);
  }
});

test('mentions are highlighted inside formatting but not inside code', () => {
  const options = { mentioned: new Set(['ana', 'me']), myUsername: 'me' };
  assert.equal(
    render('**hey @ana** and @me `@ana`', options),
    '<p><strong>hey <span class="mention" data-testid="mention">@ana</span></strong> and <span class="mention mention--me" data-testid="mention">@me</span> <code>@ana</code></p>',
  );
  assert.equal(render('@bob is not mentioned', options), '<p>@bob is not mentioned</p>');
});

test('direction controls are replaced by visible markers, in text and in code', () => {
  const tree = richTree('abc\u202Edcb\u202C `x\u2067y`', plain);
  const out = show(tree);
  assert.ok(!/[\u202A-\u202E\u2066-\u2069]/.test(out), 'no control character is left');
  const markers = elements(tree).filter((e) => e.attrs['data-testid'] === 'bidi-control');
  assert.deepEqual(
    markers.map((m) => m.children[0]),
    ['RLO', 'PDF', 'RLI'],
  );
  assert.equal(stripBidiControls('a\u202Eb\u2066c'), 'abc');
});
