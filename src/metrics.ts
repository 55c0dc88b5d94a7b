/**
 * The instance's Prometheus metrics (`GET /metrics`). One registry per running instance, never prom-client's
 * global one, so that several instances in one process (the tests) keep their own counts.
 */
import { Counter, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();

  /** Content Security Policy violations browsers reported (`POST /csp-report`): something on a page was refused. */
  readonly cspReports = new Counter({
    name: 'confab_csp_reports_total',
    help: 'Content Security Policy violation reports received from browsers',
    registers: [this.registry],
  });

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
