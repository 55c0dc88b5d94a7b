// `npm run audit`: npm audit of the runtime dependencies, failing on any high or critical finding that
// ALLOWED does not explain. Where the registry has no advisory endpoint (the development machine's answers it with
// 405), it says so and passes: nothing was checked, and the output says that plainly. Any other failure fails.
import { spawnSync } from 'node:child_process';

/** Advisories looked at and judged harmless here: `advisory URL` -> why. Empty: none so far. */
const ALLOWED = new Map([]);
const BLOCKING = new Set(['high', 'critical']);

/** What a registry without the bulk advisory endpoint answers (the only case that passes unchecked). */
const NO_ADVISORY_ENDPOINT = new Set([404, 405, 501]);

const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
if (run.error) {
  console.error(`npm audit could not run: ${run.error.message}`);
  process.exit(1);
}
let report;
try {
  report = JSON.parse(run.stdout || '{}');
} catch {
  console.error(`npm audit printed no JSON (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  process.exit(1);
}
if (!report.metadata) {
  const why = report.message ?? report.error?.summary ?? `exit ${run.status}`;
  if (NO_ADVISORY_ENDPOINT.has(report.statusCode)) {
    console.log(`npm audit: NOT CHECKED, this registry has no advisory endpoint (${why})`);
    process.exit(0);
  }
  console.error(`npm audit failed: ${why}`);
  process.exit(1);
}
const counts = report.metadata.vulnerabilities;
console.log(`npm audit (runtime dependencies): ${JSON.stringify(counts)}`);
const unexplained = [];
for (const [name, v] of Object.entries(report.vulnerabilities ?? {})) {
  for (const via of v.via) {
    if (typeof via !== 'object' || !BLOCKING.has(via.severity)) continue;
    if (ALLOWED.has(via.url)) console.log(`  allowed: ${name} ${via.url}: ${ALLOWED.get(via.url)}`);
    else unexplained.push(`${name} (${via.severity}): ${via.title} ${via.url}`);
  }
}
if (unexplained.length > 0) {
  console.error(`high or critical findings to fix or explain in scripts/audit.mjs:\n  ${unexplained.join('\n  ')}`);
  process.exit(1);
}
