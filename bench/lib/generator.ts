/**
 * The load generator's coordinator: forks N generator processes (each with its own file-descriptor limit and
 * event loop), deals the connections out round-robin, and runs measured steps over all of them.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { nowMs, sleep, sumCpu } from './common.js';
import type { CollectReply, ConnSpec, ConnectReply, CountReply, Request } from './ipc.js';
import { summarize, type Latency } from './stats.js';

export interface StepParams {
  /** Offered deliveries per second (messages/s x members). */
  rate: number;
  seconds: number;
  rooms: number;
  members: number;
  senders: number;
  receipts?: boolean;
  typing?: boolean;
  /** How long to wait for the last deliveries after the last send. */
  drainMs?: number;
}

export interface StepResult extends Latency {
  offered: number;
  delivered: number;
  deliveriesPerS: number;
  expected: number;
  lost: number;
  duplicated: number;
  stale: number;
  errors: number;
  errorSample: string;
  closed: number;
  serverCpuS: number;
  /** Server CPU microseconds per delivery. */
  cpuUsPerDelivery: number;
  generatorCpuS: number;
  sendLagMaxMs: number;
  sendLagP99Ms: number;
  seconds: number;
}

class Proc {
  private seq = 0;
  private readonly waiting = new Map<number, (body: unknown) => void>();
  constructor(readonly child: ChildProcess) {
    child.on('message', (m: { id: number; body: unknown }) => {
      this.waiting.get(m.id)?.(m.body);
      this.waiting.delete(m.id);
    });
  }
  call<T>(req: Request): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, resolve as (b: unknown) => void);
      this.child.send({ id, req }, (err) => err && reject(err));
    });
  }
}

export class Generator {
  private readonly procs: Proc[];
  /** Per process: global connection indexes it holds (local index = position). */
  private owned: number[][] = [];
  private specs: ConnSpec[] = [];
  private step = 0;

  constructor(workerJs: string, processes: number) {
    this.procs = Array.from(
      { length: processes },
      () => new Proc(fork(workerJs, [], { serialization: 'advanced', execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })),
    );
  }

  pids(): number[] {
    return this.procs.map((p) => p.child.pid!);
  }

  /**
   * Opens every connection; returns the total wall time. No local address is bound: binding before connect
   * makes the kernel's port search grow with the ports in use (19,000 connections took 36 s instead of ~10).
   */
  async connect(specs: ConnSpec[], concurrencyPerProcess = 100): Promise<ConnectReply> {
    this.specs = specs;
    this.owned = this.procs.map(() => []);
    specs.forEach((_, i) => this.owned[i % this.procs.length]!.push(i));
    const t0 = Date.now();
    const replies = await Promise.all(
      this.procs.map((p, g) =>
        p.call<ConnectReply>({
          op: 'connect',
          conns: this.owned[g]!.map((i) => specs[i]!),
          concurrency: concurrencyPerProcess,
          localAddress: '',
        }),
      ),
    );
    return {
      ok: replies.reduce((s, r) => s + r.ok, 0),
      failed: replies.reduce((s, r) => s + r.failed, 0),
      errors: replies.flatMap((r) => r.errors).slice(0, 3),
      ms: Date.now() - t0,
    };
  }

  /**
   * One measured step at a fixed offered rate. `senderOf(i)` says whether global connection i sends, as its
   * room's n-th sender (or -1). CPU is read from /proc for `serverPids` over the step and its drain.
   */
  async measure(p: StepParams, serverPids: () => number[], senderOf: (i: number) => number): Promise<StepResult> {
    const step = ++this.step;
    const msgRate = p.rate / p.members;
    const msgsPerRoom = Math.max(p.senders, Math.round((msgRate / p.rooms) * p.seconds));
    const start = nowMs() + 300;
    const cpu0 = sumCpu(serverPids());
    const g0 = sumCpu(this.pids());
    await Promise.all(
      this.procs.map((proc, g) =>
        proc.call({
          op: 'run',
          step,
          start,
          rooms: p.rooms,
          msgsPerRoom,
          sendersPerRoom: p.senders,
          msgRate,
          senders: this.owned[g]!.map((i, local) => ({ local, sender: senderOf(i) })).filter((s) => s.sender >= 0),
          receipts: p.receipts ?? false,
          typing: p.typing ?? false,
        }),
      ),
    );
    const expected = msgsPerRoom * p.rooms * p.members;
    const endOfSends = start + ((msgsPerRoom * p.rooms) / msgRate) * 1000;
    await sleep(Math.max(0, endOfSends - nowMs()));
    const deadline = nowMs() + (p.drainMs ?? 3000);
    for (;;) {
      const counts = await Promise.all(this.procs.map((proc) => proc.call<CountReply>({ op: 'count' })));
      if (counts.reduce((s, c) => s + c.received, 0) >= expected || nowMs() > deadline) break;
      await sleep(100);
    }
    const cpu = sumCpu(serverPids()) - cpu0;
    const gcpu = sumCpu(this.pids()) - g0;
    const parts = await Promise.all(this.procs.map((proc) => proc.call<CollectReply>({ op: 'collect' })));
    const delivered = parts.reduce((s, r) => s + r.received, 0);
    const last = Math.max(...parts.map((r) => r.lastReceiveAt));
    const activeS = Math.max(p.seconds, (last - start) / 1000);
    return {
      offered: p.rate,
      delivered,
      deliveriesPerS: Math.round(delivered / activeS),
      expected,
      lost: expected - delivered,
      duplicated: parts.reduce((s, r) => s + r.duplicated, 0),
      stale: parts.reduce((s, r) => s + r.stale, 0),
      errors: parts.reduce((s, r) => s + r.errors, 0),
      errorSample: parts.map((r) => r.errorSample).find(Boolean) ?? '',
      closed: parts.reduce((s, r) => s + r.closed, 0),
      serverCpuS: Math.round(cpu * 100) / 100,
      cpuUsPerDelivery: delivered ? Math.round(((cpu * 1e6) / delivered) * 100) / 100 : NaN,
      generatorCpuS: Math.round(gcpu * 100) / 100,
      sendLagMaxMs: Math.round(Math.max(...parts.map((r) => r.sendLagMax)) * 10) / 10,
      sendLagP99Ms: Math.round(Math.max(...parts.map((r) => r.sendLagP99)) * 10) / 10,
      seconds: Math.round(activeS * 10) / 10,
      ...summarize(parts.map((r) => r.latencies)),
    };
  }

  get connections(): number {
    return this.specs.length;
  }

  async close(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.call({ op: 'close' }).catch(() => undefined)));
    await sleep(300);
    for (const p of this.procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  }
}
