/**
 * The five scenarios of issue 7. Each runs the same load through the same generator on every system and
 * returns rows for the report. A fixed-rate run starts its systems one after another (never two at once); a step
 * run of several systems has them all up and alternates them rate by rate (roomLoads).
 */
import { sleep, sumCpu, sumRss } from './common.js';
import { Generator, type StepParams, type StepResult } from './generator.js';
import type { ConnectReply } from './ipc.js';
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

type Shape = { rooms: number; members: number; senders: number; receipts?: boolean; typing?: boolean };

/** One system's room load (scenarios 1, 2, 4, 5) in phases, so that the steps of several systems can alternate. */
class RoomRun {
  private readonly steps: StepResult[] = [];
  private knee: number | null = null;

  private constructor(
    private readonly o: Options,
    private readonly scenario: string,
    private readonly sys: System,
    private readonly shape: Shape,
    private readonly step: boolean,
    private readonly variant: string | undefined,
    private readonly gen: Generator,
    private readonly connected: ConnectReply,
  ) {}

  /** Connects every client. */
  static async open(o: Options, scenario: string, sys: System, shape: Shape, step: boolean, variant?: string): Promise<RoomRun> {
    const gen = new Generator(path.join(BUILD_DIR, 'gen-worker.js'), o.genProcesses);
    try {
      const specs = [];
      for (let r = 0; r < shape.rooms; r++) for (let m = 0; m < shape.members; m++) specs.push({ ...sys.conn(r, m), receipts: shape.receipts ?? false });
      const c = await gen.connect(specs);
      o.log(`  ${sys.name}${variant ? ` [${variant}]` : ''}: ${c.ok} connections in ${c.ms} ms${c.failed ? `, ${c.failed} FAILED (${c.errors.join('; ')})` : ''}`);
      return new RoomRun(o, scenario, sys, shape, step, variant, gen, c);
    } catch (err) {
      await gen.close();
      throw err;
    }
  }

  /** Warm-up (not reported): JIT, buffers and caches of every system see some traffic before the first step. */
  async warmUp(): Promise<void> {
    await this.gen.measure({ ...this.params(Math.min(5000, this.o.rate)), seconds: 1.5, drainMs: 1000 }, () => this.sys.pids(), this.senderOf);
    await sleep(500);
  }

  private readonly senderOf = (i: number) => (i % this.shape.members < this.shape.senders ? i % this.shape.members : -1);

  private params(rate: number): StepParams {
    return { ...this.shape, rate, seconds: this.step ? this.o.stepSeconds : this.o.seconds, drainMs: this.step ? 3000 : 10_000 };
  }

  /** Measures one rate; in step mode, whether it held (the knee moves up to it). */
  async measure(rate: number): Promise<boolean> {
    const s = await this.gen.measure(this.params(rate), () => this.sys.pids(), this.senderOf);
    this.steps.push(s);
    const ok = held(s, this.o.p99LimitMs);
    this.o.log(
      `    ${this.sys.name}: offered ${rate.toLocaleString('en-US')}/s: delivered ${s.deliveriesPerS.toLocaleString('en-US')}/s, p50 ${s.p50} p99 ${s.p99} max ${s.max} ms, ` +
        `lost ${s.lost}, dup ${s.duplicated}, errors ${s.errors}, server CPU ${s.cpuUsPerDelivery} us/delivery, ` +
        `generator lag p99 ${s.sendLagP99Ms} ms, generator CPU ${Math.round((100 * s.generatorCpuS) / s.seconds)} %${this.step ? (ok ? ' -> held' : ' -> FAILED') : ''}${s.errorSample ? `; first error: ${s.errorSample}` : ''}`,
    );
    if (this.step && ok) this.knee = rate;
    return ok;
  }

  result(): Measurement {
    return {
      scenario: this.scenario,
      system: this.sys.name,
      mode: this.step ? 'step' : 'fixed',
      ...(this.variant ? { variant: this.variant } : {}),
      connectMs: this.connected.ms,
      connections: this.connected.ok,
      connectFailed: this.connected.failed,
      serverRssMiB: mib(sumRss(this.sys.pids())),
      steps: this.steps,
      knee: this.knee,
    };
  }

  get name(): string {
    return this.sys.name;
  }

  close(): Promise<void> {
    return this.gen.close();
  }
}

/** A room load on one system: connect, then a fixed rate or the steps (up to the first that fails). */
async function roomLoad(o: Options, scenario: string, sys: System, shape: Shape, step: boolean, variant?: string): Promise<Measurement> {
  const run = await RoomRun.open(o, scenario, sys, shape, step, variant);
  try {
    await run.warmUp();
    for (const rate of step ? stepRates(o) : [o.rate]) {
      if (!(await run.measure(rate)) && step) break;
      if (step) await sleep(500);
    }
    return run.result();
  } finally {
    await run.close();
  }
}

/**
 * Step mode with several systems: all are started and connected first, then each rate is measured on every
 * system still holding, one system after another, before the next rate. The machine drifts (the same build's p99
 * at one rate varied 12-76 ms within an hour here), so a system measured minutes after another was not measured
 * on the same machine; side by side, each rate's figures of every system are minutes apart at most. The order is
 * rotated from rate to rate, so that no system always runs first or last. The systems not measured sit idle
 * (their clients connected, no traffic).
 */
async function roomLoads(o: Options, scenario: string, list: Factory[], shape: Shape, step: boolean): Promise<Measurement[]> {
  if (!step || list.length < 2) return eachSystem(o, list, (sys) => roomLoad(o, scenario, sys, shape, step).then((m) => [m]));
  const systems: System[] = [];
  const runs: RoomRun[] = [];
  try {
    for (const fac of list) {
      const t0 = Date.now();
      let sys: System | undefined;
      try {
        sys = await fac.start();
        systems.push(sys);
        o.log(`  ${sys.name}: started in ${Date.now() - t0} ms${startDetails(sys)}`);
        runs.push(await RoomRun.open(o, scenario, sys, shape, step));
      } catch (err) {
        o.log(`  ${sys?.name ?? fac.key}: FAILED: ${(err as Error).stack ?? String(err)}`);
      }
    }
    // Warmed up once all are connected, so that no system's warm-up is minutes older than its first step.
    for (const run of runs) await run.warmUp();
    const racing = new Set(runs);
    for (const [i, rate] of stepRates(o).entries()) {
      const order = [...runs.slice(i % runs.length), ...runs.slice(0, i % runs.length)].filter((r) => racing.has(r));
      if (order.length === 0) break;
      for (const run of order) {
        try {
          if (!(await run.measure(rate))) racing.delete(run);
        } catch (err) {
          // One system failing (its server crashed, say) keeps the others' steps and stops only its own.
          o.log(`    ${run.name}: FAILED at ${rate.toLocaleString('en-US')}/s: ${(err as Error).stack ?? String(err)}`);
          racing.delete(run);
        }
        await sleep(500);
      }
    }
    return runs.map((r) => r.result());
  } finally {
    // Every generator, server and private Redis is stopped, whichever of them fails to stop.
    await Promise.allSettled(runs.map((r) => r.close()));
    await Promise.allSettled(systems.map((s) => s.stop()));
  }
}

const startDetails = (sys: System) =>
  'setupMs' in sys
    ? ` (rooms and joins over the API: ${String(sys.setupMs)} ms; account sign-ups: ${'signUpMs' in sys ? String(sys.signUpMs) : '?'} ms)`
    : '';

async function eachSystem<T>(o: Options, list: Factory[], f: (sys: System) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (const fac of list) {
    const t0 = Date.now();
    const sys = await fac.start();
    o.log(`  ${sys.name}: started in ${Date.now() - t0} ms${startDetails(sys)}`);
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
export const scenario1 = (o: Options, step: boolean) => roomLoads(o, '1', factories(o, 10, 100, false), { rooms: 10, members: 100, senders: 2 }, step);

/** (2) one room of 5,000 members, 5 senders. */
export const scenario2 = (o: Options, step: boolean) => roomLoads(o, '2', factories(o, 1, 5000, false), { rooms: 1, members: 5000, senders: 5 }, step);

/** (4) scenario 1 on two instances (Confab: PostgreSQL + Redis; Socket.IO: Redis adapter), clients spread over both. */
export const scenario4 = (o: Options, step: boolean) => roomLoads(o, '4', factories(o, 10, 100, true), { rooms: 10, members: 100, senders: 2 }, step);

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
