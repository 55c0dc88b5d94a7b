/**
 * The five scenarios of issue 7. Each starts its systems one after another (never two at once, so each has
 * the machine to itself apart from the generator), runs the same load through the same generator, and
 * returns rows for the report.
 */
import { sleep, sumCpu, sumRss } from './common.js';
import { Generator, type StepParams, type StepResult } from './generator.js';
import { BUILD_DIR, startBareWs, startConfab, startSocketIo, type System } from './systems.js';
import path from 'node:path';

export interface Options {
  step: boolean;
  /** The fixed rate (deliveries/s) of non-step runs, always one of the steps too. */
  rate: number;
  seconds: number;
  stepSeconds: number;
  rates: number[];
  /** p99 bound of a step that holds (ms). */
  p99LimitMs: number;
  systems: Set<'confab' | 'bare' | 'socketio'>;
  genProcesses: number;
  idleConnections: number;
  /** Accounts signed up for Confab on SQLite (once per run); connection i signs in as user i % users. */
  users: number;
  /** The same on PostgreSQL (scenario 4), signed up for each start: fewer, sessions shared by more connections. */
  pgUsers: number;
  log: (line: string) => void;
}

export interface Measurement {
  scenario: string;
  system: string;
  mode: 'fixed' | 'step';
  variant?: string;
  connectMs: number;
  connections: number;
  connectFailed: number;
  serverRssMiB: number;
  steps: StepResult[];
  /** Highest offered rate that held (step mode): p99 <= limit, nothing lost or duplicated. */
  knee: number | null;
}

export interface IdleMeasurement {
  scenario: string;
  system: string;
  connections: number;
  connectFailed: number;
  connectMs: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  bytesPerConnection: number;
  serverCpuS: number;
}

const held = (s: StepResult, limit: number) => s.p99 <= limit && s.lost === 0 && s.duplicated === 0 && s.errors === 0;
const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;

type Factory = { key: 'confab' | 'bare' | 'socketio'; start: () => Promise<System> };

function factories(o: Options, rooms: number, members: number, multi: boolean): Factory[] {
  const list: Factory[] = multi
    ? [
        { key: 'socketio', start: () => startSocketIo(2) },
        { key: 'confab', start: () => startConfab({ instances: 2, postgres: true, users: o.pgUsers, rooms, members }) },
      ]
    : [
        { key: 'bare', start: () => startBareWs() },
        { key: 'socketio', start: () => startSocketIo(1) },
        { key: 'confab', start: () => startConfab({ users: o.users, rooms, members }) },
      ];
  return list.filter((f) => o.systems.has(f.key));
}

export function stepRates(o: Options): number[] {
  return [...new Set([...o.rates, o.rate])].sort((a, b) => a - b);
}

/** A room load (scenarios 1, 2, 4, 5) on one system: connect, then a fixed rate or the steps. */
async function roomLoad(
  o: Options,
  scenario: string,
  sys: System,
  shape: { rooms: number; members: number; senders: number; receipts?: boolean; typing?: boolean },
  step: boolean,
  variant?: string,
): Promise<Measurement> {
  const gen = new Generator(path.join(BUILD_DIR, 'gen-worker.js'), o.genProcesses);
  try {
    const specs = [];
    for (let r = 0; r < shape.rooms; r++) for (let m = 0; m < shape.members; m++) specs.push({ ...sys.conn(r, m), receipts: shape.receipts ?? false });
    const c = await gen.connect(specs);
    o.log(`  ${sys.name}${variant ? ` [${variant}]` : ''}: ${c.ok} connections in ${c.ms} ms${c.failed ? `, ${c.failed} FAILED (${c.errors.join('; ')})` : ''}`);
    const senderOf = (i: number) => (i % shape.members < shape.senders ? i % shape.members : -1);
    const params = (rate: number): StepParams => ({ ...shape, rate, seconds: step ? o.stepSeconds : o.seconds, drainMs: step ? 3000 : 10_000 });
    // Warm-up (not reported): JIT, buffers and caches of every system see some traffic before the first step.
    await gen.measure({ ...params(Math.min(5000, o.rate)), seconds: 1.5, drainMs: 1000 }, () => sys.pids(), senderOf);
    await sleep(500);
    const steps: StepResult[] = [];
    let knee: number | null = null;
    for (const rate of step ? stepRates(o) : [o.rate]) {
      const s = await gen.measure(params(rate), () => sys.pids(), senderOf);
      steps.push(s);
      const ok = held(s, o.p99LimitMs);
      o.log(
        `    offered ${rate.toLocaleString('en-US')}/s: delivered ${s.deliveriesPerS.toLocaleString('en-US')}/s, p50 ${s.p50} p99 ${s.p99} max ${s.max} ms, ` +
          `lost ${s.lost}, dup ${s.duplicated}, errors ${s.errors}, server CPU ${s.cpuUsPerDelivery} us/delivery, ` +
          `generator lag p99 ${s.sendLagP99Ms} ms, generator CPU ${Math.round((100 * s.generatorCpuS) / s.seconds)} %${step ? (ok ? ' -> held' : ' -> FAILED') : ''}${s.errorSample ? `; first error: ${s.errorSample}` : ''}`,
      );
      if (step) {
        if (!ok) break;
        knee = rate;
        await sleep(500);
      }
    }
    return {
      scenario,
      system: sys.name,
      mode: step ? 'step' : 'fixed',
      ...(variant ? { variant } : {}),
      connectMs: c.ms,
      connections: c.ok,
      connectFailed: c.failed,
      serverRssMiB: mib(sumRss(sys.pids())),
      steps,
      knee,
    };
  } finally {
    await gen.close();
  }
}

async function eachSystem<T>(o: Options, list: Factory[], f: (sys: System) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (const fac of list) {
    const t0 = Date.now();
    const sys = await fac.start();
    o.log(`  ${sys.name}: started in ${Date.now() - t0} ms${'setupMs' in sys ? ` (rooms and joins over the API: ${String(sys.setupMs)} ms; account sign-ups: ${'signUpMs' in sys ? String(sys.signUpMs) : '?'} ms)` : ''}`);
    try {
      out.push(...(await f(sys)));
    } catch (err) {
      o.log(`  ${sys.name}: FAILED: ${(err as Error).stack ?? String(err)}`);
    } finally {
      await sys.stop();
    }
  }
  return out;
}

/** (1) 10 rooms x 100 members, 2 senders each. */
export const scenario1 = (o: Options, step: boolean) =>
  eachSystem(o, factories(o, 10, 100, false), (sys) => roomLoad(o, '1', sys, { rooms: 10, members: 100, senders: 2 }, step).then((m) => [m]));

/** (2) one room of 5,000 members, 5 senders. */
export const scenario2 = (o: Options, step: boolean) =>
  eachSystem(o, factories(o, 1, 5000, false), (sys) => roomLoad(o, '2', sys, { rooms: 1, members: 5000, senders: 5 }, step).then((m) => [m]));

/** (4) scenario 1 on two instances (Confab: PostgreSQL + Redis; Socket.IO: Redis adapter), clients spread over both. */
export const scenario4 = (o: Options, step: boolean) =>
  eachSystem(o, factories(o, 10, 100, true), (sys) => roomLoad(o, '4', sys, { rooms: 10, members: 100, senders: 2 }, step).then((m) => [m]));

/** (5) scenario 1 on Confab with receipts and typing off, then on, on the same server. */
export async function scenario5(o: Options, step: boolean): Promise<Measurement[]> {
  if (!o.systems.has('confab')) return [];
  const t0 = Date.now();
  const sys = await startConfab({ users: o.users, rooms: 10, members: 100 });
  o.log(`  ${sys.name}: started in ${Date.now() - t0} ms (rooms and joins over the API: ${sys.setupMs} ms; account sign-ups: ${sys.signUpMs} ms, once per run)`);
  try {
    const shape = { rooms: 10, members: 100, senders: 2 };
    const off = await roomLoad(o, '5', sys, shape, step, 'receipts+typing off');
    const on = await roomLoad(o, '5', sys, { ...shape, receipts: true, typing: true }, step, 'receipts+typing on');
    return [off, on];
  } finally {
    await sys.stop();
  }
}

/** (3) idle signed-in connections: server memory per connection and the time to connect them all. */
export const scenario3 = (o: Options) =>
  eachSystem(o, factories(o, 0, 0, false), async (sys): Promise<IdleMeasurement[]> => {
    const gen = new Generator(path.join(BUILD_DIR, 'gen-worker.js'), o.genProcesses);
    try {
      await sleep(1500);
      const before = sumRss(sys.pids());
      const cpu0 = sumCpu(sys.pids());
      const specs = Array.from({ length: o.idleConnections }, (_, i) => sys.conn(null, i));
      const c = await gen.connect(specs, 200);
      const cpu = sumCpu(sys.pids()) - cpu0;
      await sleep(2000);
      const after = sumRss(sys.pids());
      o.log(
        `  ${sys.name}: ${c.ok} idle connections in ${c.ms} ms${c.failed ? `, ${c.failed} FAILED (${c.errors.join('; ')})` : ''}; ` +
          `RSS ${mib(before)} -> ${mib(after)} MiB, ${Math.round((after - before) / Math.max(1, c.ok))} B per connection`,
      );
      return [
        {
          scenario: '3',
          system: sys.name,
          connections: c.ok,
          connectFailed: c.failed,
          connectMs: c.ms,
          rssBeforeMiB: mib(before),
          rssAfterMiB: mib(after),
          bytesPerConnection: Math.round((after - before) / Math.max(1, c.ok)),
          serverCpuS: Math.round(cpu * 100) / 100,
        },
      ];
    } finally {
      await gen.close();
    }
  });
