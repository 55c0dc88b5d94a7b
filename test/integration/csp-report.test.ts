/**
 * The Content Security Policy names its report endpoint, and the endpoint counts every report (both formats
 * browsers send, and a broken one) in /metrics, refuses an oversized one, and needs no Origin or session.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MAX_CSP_REPORT_BYTES } from '../../src/http/routes/csp-report.js';
import { metricAt, TestServer } from '../helpers/server.js';

let server: TestServer;
before(async () => {
  server = await TestServer.start();
});
after(() => server.close());

const cspReportsAt = (baseUrl: string) => metricAt(baseUrl, 'confab_csp_reports_total');

const report = (type: string, body: string) =>
  fetch(`${server.url}/csp-report`, { method: 'POST', headers: { 'content-type': type }, body });

test('security headers: a strict CSP that reports to /csp-report, nosniff, a referrer policy; every report is counted in /metrics', async () => {
  const page = await fetch(`${server.url}/`);
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /report-uri \/csp-report/);
  assert.match(csp, /script-src 'self'/);
  for (const d of ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "default-src 'self'"]) assert.ok(csp.includes(d), d);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(page.headers.get('referrer-policy'), 'same-origin');
  assert.equal((await fetch(`${server.url}/api/auth/me`)).headers.get('x-content-type-options'), 'nosniff', 'the API too');

  assert.equal(await cspReportsAt(server.url), 0);
  const legacy = JSON.stringify({ 'csp-report': { 'document-uri': 'http://x/', 'violated-directive': 'script-src-elem', 'blocked-uri': 'inline' } });
  assert.equal((await report('application/csp-report', legacy)).status, 204);
  const modern = JSON.stringify([{ type: 'csp-violation', body: { documentURL: 'http://x/', effectiveDirective: 'img-src', blockedURL: 'http://evil/' } }]);
  assert.equal((await report('application/reports+json', modern)).status, 204);
  assert.equal((await report('application/csp-report', '{not json')).status, 204, 'a broken report is still one');
  assert.equal(await cspReportsAt(server.url), 3);
  const metrics = await fetch(`${server.url}/metrics`);
  assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
});

test('an oversized report is refused with 413 and not counted', async () => {
  const before = await cspReportsAt(server.url);
  const big = JSON.stringify({ 'csp-report': { 'script-sample': 'x'.repeat(MAX_CSP_REPORT_BYTES) } });
  assert.equal((await report('application/csp-report', big)).status, 413);
  assert.equal(await cspReportsAt(server.url), before);
});
