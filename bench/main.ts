/**
 * `npm run bench`: Confab's fan-out speed, latency and memory, measured side by side with a bare `ws`
 * broadcaster and Socket.IO 4 + Redis, with the same load generator, in the same run. See README.md
 * ("Performance") for the scenarios, the flags and what the figures mean.
 *
 *   npm run bench                              every scenario, modest durations (about 10 minutes)
 *   npm run bench -- --scenario 1 --step       scenario 1 only, raising the rate until p99 > 50 ms or a loss
 *   npm run bench -- --scenario 1,3 --seconds 3 --systems confab,bare
 */
import { parseArgs } from 'node:util';
import { machine } from './lib/common.js';
import { appendJsonl, machineLine, ratio, RESULTS_FILE, table, type Cell } from './lib/report.js';
import {
  scenario1, scenario2, scenario3, scenario4, scenario5, stepRates,
  type IdleMeasurement, type Measurement, type Options,
} from './lib/scenarios.js';
import { buildBench } from './lib/systems.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: '1,2,3,4,5' },
    step: { type: 'boolean', default: false },
    fixed: { type: 'boolean', default: false },
    rate: { type: 'string' },
    rates: { type: 'string', default: '5000,10000,20000,40000,60000,70000,80000,90000,100000,110000,120000,140000,160000,200000' },
    seconds: { type: 'string', default: '8' },
    'step-seconds': { type: 'string', default: '4' },
    'p99-limit': { type: 'string', default: '50' },
    systems: { type: 'string', default: 'confab,bare,socketio' },
    'gen-processes': { type: 'string', default: '2' },
    idle: { type: 'string', default: '19000' },
    users: { type: 'string', default: '1000' },
    'pg-users': { type: 'string', default: '100' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`npm run bench -- [--scenario 1,2,3,4,5] [--step | --fixed] [--rate 40000] [--rates 10000,20000,...]
  [--seconds 8] [--step-seconds 4] [--p99-limit 50] [--systems confab,bare,socketio] [--gen-processes 2]
  [--idle 19000] [--users 1000] [--pg-users 100]
Without --step/--fixed, scenario 1 runs in step mode and the others at --rate.`);
  process.exit(0);
}

const num = (s: string) => Number(s.replaceAll('_', ''));
const o: Options = {
  step: values.step,
  rate: num(values.rate ?? '40000'),
  rates: values.rates.split(',').map(num),
  seconds: num(values.seconds),
  stepSeconds: num(values['step-seconds']),
  p99LimitMs: num(values['p99-limit']),
  systems: new Set(values.systems.split(',').map((s) => s.trim()) as Array<'confab' | 'bare' | 'socketio'>),
  genProcesses: num(values['gen-processes']),
  idleConnections: num(values.idle),
  users: num(values.users),
  pgUsers: num(values['pg-users']),
  log: (line) => console.log(line),
};
const selected = new Set(values.scenario.split(',').map((s) => s.trim()));
const stepFor = (n: string) => (values.fixed ? false : values.step ? true : n === '1');

const m = machine();
const runId = new Date().toISOString();
console.log(`Confab bench, ${runId}\nmachine: ${machineLine(m)}`);
console.log('note: the load generator runs on the same machine; other load on it makes every figure noisy.\n');
await buildBench();

const rooms: Measurement[] = [];
const idle: IdleMeasurement[] = [];
const titles: Record<string, string> = {
  '1': '(1) 10 rooms x 100 members, 2 senders each',
  '2': '(2) one room of 5,000 members, 5 senders',
  '3': `(3) ${o.idleConnections.toLocaleString('en-US')} idle signed-in connections`,
  '4': '(4) scenario 1 on two instances (Confab: PostgreSQL + Redis; Socket.IO: Redis adapter)',
  '5': '(5) scenario 1 on Confab, receipts and typing off, then on',
};
for (const n of ['1', '2', '3', '4', '5']) {
  if (!selected.has(n)) continue;
  const step = stepFor(n);
  // Scenario 2's target is set at 25,000 deliveries/s: its fixed rate unless --rate says otherwise.
  const so: Options = n === '2' && values.rate === undefined ? { ...o, rate: 25_000 } : o;
  console.log(`${titles[n]}${n !== '3' ? (step ? `, step mode (${o.stepSeconds} s a step)` : `, ${so.rate.toLocaleString('en-US')} deliveries/s for ${o.seconds} s`) : ''}`);
  const t0 = Date.now();
  if (n === '3') idle.push(...(await scenario3(o)));
  else rooms.push(...(await (n === '1' ? scenario1 : n === '2' ? scenario2 : n === '4' ? scenario4 : scenario5)(so, step)));
  console.log(`  (${Math.round((Date.now() - t0) / 1000)} s)\n`);
}

// ---- the report ----
const at = (x: Measurement, rate: number) => x.steps.find((s) => s.offered === rate);
const rowsOf = (list: Measurement[]): Cell[][] =>
  list.flatMap((x) =>
    x.steps.map((s) => [
      x.scenario,
      x.variant ? `${x.system} [${x.variant}]` : x.system,
      s.offered,
      s.deliveriesPerS,
      s.p50,
      s.p90,
      s.p99,
      s.p999,
      s.max,
      s.lost,
      s.duplicated,
      s.cpuUsPerDelivery,
      x.serverRssMiB,
      Math.round(x.connectMs),
      s.sendLagP99Ms,
      Math.round((100 * s.generatorCpuS) / s.seconds),
    ]),
  );
const head = [
  'sc', 'system', 'offered/s', 'delivered/s', 'p50 ms', 'p90', 'p99', 'p99.9', 'max', 'lost', 'dup',
  'CPU us/deliv', 'RSS MiB', 'connect ms', 'gen lag p99', 'gen CPU %',
];
if (rooms.length) {
  console.log('All measured steps (latency from the scheduled send time to receipt, every delivery counted; lost: not delivered 3 s (step) or 10 s (fixed rate) after the last scheduled send):');
  console.log(table(head, rowsOf(rooms)));
  console.log();
}
if (idle.length) {
  console.log(table(
    ['sc', 'system', 'connections', 'failed', 'connect s', 'RSS before MiB', 'RSS after MiB', 'B per connection', 'KiB per connection', 'server CPU s'],
    idle.map((x) => [x.scenario, x.system, x.connections, x.connectFailed, Math.round(x.connectMs / 100) / 10, x.rssBeforeMiB, x.rssAfterMiB, x.bytesPerConnection, Math.round((x.bytesPerConnection / 1024) * 10) / 10, x.serverCpuS]),
  ));
  console.log();
}

// Confab against the baselines, per scenario: knee, CPU per delivery and p99 at the fixed rate.
const summary: Array<Record<string, unknown>> = [];
for (const sc of ['1', '2', '4']) {
  const list = rooms.filter((x) => x.scenario === sc);
  const rate = sc === '2' && values.rate === undefined ? 25_000 : o.rate;
  const confab = list.find((x) => x.system.startsWith('Confab'));
  if (!confab) continue;
  const others = list.filter((x) => x !== confab);
  // p99 is compared at the fixed rate if every system ran it, else at the highest rate every system ran (a
  // step past a knee still ran); CPU per delivery at the highest rate every system held (a saturated server
  // batches more, which flatters its CPU per delivery), else like p99.
  const rates = stepRates({ ...o, rate });
  const ran = rates.filter((r) => list.every((x) => x.steps.some((s) => s.offered === r)));
  const heldAll = rates.filter((r) => list.every((x) => x.steps.some((s) => s.offered === r && s.p99 <= o.p99LimitMs && s.lost === 0)));
  const p99Rate = ran.includes(rate) ? rate : (ran[ran.length - 1] ?? rate);
  const cpuRate = heldAll[heldAll.length - 1] ?? p99Rate;
  const rows: Cell[][] = [confab, ...others].map((x) => [
    x.system,
    x.knee ?? (x.mode === 'step' ? 'none held' : '-'),
    at(x, p99Rate)?.p99 ?? null,
    at(x, p99Rate)?.lost ?? null,
    at(x, cpuRate)?.cpuUsPerDelivery ?? null,
    x === confab ? '' : ratio(confab.knee, x.knee),
    x === confab ? '' : ratio(at(confab, cpuRate)?.cpuUsPerDelivery, at(x, cpuRate)?.cpuUsPerDelivery),
    x === confab ? '' : ratio(at(confab, p99Rate)?.p99, at(x, p99Rate)?.p99),
  ]);
  console.log(`Scenario ${sc}: Confab and its ratios to each other system (knee: highest offered deliveries/s with p99 <= ${o.p99LimitMs} ms and nothing lost)`);
  console.log(table(
    ['system', 'knee /s', `p99 ms @ ${p99Rate / 1000}k/s`, `lost @ ${p99Rate / 1000}k/s`, `CPU us/deliv @ ${cpuRate / 1000}k/s`, 'Confab knee ratio', 'Confab CPU ratio', 'Confab p99 ratio'],
    rows,
  ));
  console.log();
  summary.push({ scenario: sc, fixedRate: rate, p99Rate, cpuRate, rows });
}
const s5 = rooms.filter((x) => x.scenario === '5');
if (s5.length === 2) {
  const [off, on] = s5 as [Measurement, Measurement];
  const rate = off.mode === 'step' ? Math.min(off.knee ?? o.rate, on.knee ?? o.rate) : o.rate;
  const a = at(off, rate)?.cpuUsPerDelivery;
  const b = at(on, rate)?.cpuUsPerDelivery;
  const line = `Scenario 5: receipts and typing on cost ${a && b ? `${(((b / a) - 1) * 100).toFixed(1)} %` : '-'} more server CPU per delivery at ${rate.toLocaleString('en-US')}/s` +
    (off.mode === 'step' ? `; knee off ${off.knee ?? 'none'}, on ${on.knee ?? 'none'}` : '');
  console.log(`${line}\n`);
  summary.push({ scenario: '5', rate, cpuOff: a, cpuOn: b });
}
const s4 = rooms.find((x) => x.scenario === '4' && x.system.startsWith('Confab'));
const s1 = rooms.find((x) => x.scenario === '1' && x.system.startsWith('Confab'));
if (s4 && s1) {
  console.log(`Scenario 4 against 1: Confab on two instances delivered ${at(s4, o.rate)?.deliveriesPerS ?? '-'}/s at ${o.rate}/s offered, one instance ${at(s1, o.rate)?.deliveriesPerS ?? '-'}/s; knees ${s4.knee ?? '-'} and ${s1.knee ?? '-'}\n`);
}

for (const x of rooms) appendJsonl({ bench: 'confab-bench', runId, machine: m, options: { ...o, systems: [...o.systems], log: undefined }, ...x });
for (const x of idle) appendJsonl({ bench: 'confab-bench', runId, machine: m, ...x });
appendJsonl({ bench: 'confab-bench-summary', runId, machine: m, summary });
console.log(`JSON lines appended to ${RESULTS_FILE}`);
process.exit(0);
