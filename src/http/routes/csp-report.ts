/**
 * Where browsers report what the Content Security Policy refused (`report-uri /csp-report`). A report means a
 * page met script, style or a frame it should not have: an injection attempt, or a bug of ours. Each is
 * counted (`confab_csp_reports_total` in /metrics) and logged, at most CSP_REPORTS_LOGGED_PER_MINUTE a minute so
 * that a page in a loop cannot fill the logs. Outside /api: it changes nothing but a counter, and browsers
 * send it without the Origin the API's CSRF check asks for.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../../metrics.js';

/** Largest report accepted; real ones are well under 2 KiB. */
export const MAX_CSP_REPORT_BYTES = 8 * 1024;
/** Reports logged per minute per instance; the rest are only counted. */
export const CSP_REPORTS_LOGGED_PER_MINUTE = 60;
/** Longest string of a report copied into the log. */
const LOGGED_FIELD_CHARS = 200;

/** Content types browsers use: `report-uri` (application/csp-report) and the Reporting API's. */
const REPORT_TYPES = ['application/csp-report', 'application/reports+json'];

const field = (v: unknown): string | undefined => (typeof v === 'string' ? v.slice(0, LOGGED_FIELD_CHARS) : undefined);

/** The parts of a report worth logging, from either format; never the sample of user text beyond its start. */
function summary(body: unknown): Record<string, string | undefined> {
  const first = Array.isArray(body) ? (body[0] as { body?: unknown } | undefined)?.body : (body as { 'csp-report'?: unknown })?.['csp-report'];
  const r = (first ?? {}) as Record<string, unknown>;
  return {
    directive: field(r['violated-directive'] ?? r['effectiveDirective'] ?? r['effective-directive']),
    blocked: field(r['blocked-uri'] ?? r['blockedURL']),
    page: field(r['document-uri'] ?? r['documentURL']),
  };
}

export const cspReportRoutes: FastifyPluginAsync<{ metrics: Metrics }> = async (app, { metrics }) => {
  app.addContentTypeParser(REPORT_TYPES, { parseAs: 'string', bodyLimit: MAX_CSP_REPORT_BYTES }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(null, null); // still a report, if a broken one
    }
  });
  let windowStart = 0;
  let logged = 0;
  app.post('/csp-report', { bodyLimit: MAX_CSP_REPORT_BYTES }, async (request, reply) => {
    metrics.cspReports.inc();
    const now = Date.now();
    if (now - windowStart >= 60_000) {
      windowStart = now;
      logged = 0;
    }
    if (logged++ < CSP_REPORTS_LOGGED_PER_MINUTE) request.log.warn({ csp: summary(request.body) }, 'content security policy violation');
    return reply.status(204).send();
  });
};
