/**
 * Several real Confab processes on one PostgreSQL and one Redis, and model clients that behave as the web
 * client does (outbox, resend, resume by seq, reconnect to another instance), for fault-injection tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { freePort } from './postgres.js';

/** One Confab process. */
export class Instance {
  private proc: ChildProcess | null = null;
  private constructor(
    readonly index: number,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly preloads: string[],
  ) {}

  /** `preloads`: modules the process imports (`--import`) before Confab, after tsx (test instrumentation). */
  static async create(index: number, env: Record<string, string>, preloads: string[] = []): Promise<Instance> {
    const i = new Instance(index, await freePort(), env, preloads);
    await i.start();
    return i;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Starts the process and resolves once it listens. */
  async start(): Promise<void> {
    const args = ['--import', 'tsx', ...this.preloads.flatMap((m) => ['--import', m]), 'src/main.ts'];
    const proc = spawn(process.execPath, args, {
      env: { ...process.env, ...this.env, PORT: String(this.port), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      const onData = (chunk: Buffer) => {
        buf += chunk.toString();
        if (buf.includes('Confab is listening')) {
          proc.stdout!.off('data', onData);
          proc.stdout!.resume();
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`instance ${this.index} exited with ${code}`)));
    });
  }

  /** Resolves when the running process exits, with its exit code or the signal that ended it. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const p = this.proc;
    if (!p || !this.running) return Promise.resolve({ code: p?.exitCode ?? null, signal: p?.signalCode ?? null });
    return new Promise((resolve) => p.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** SIGKILL: no drain, no goodbye. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM: graceful stop; resolves with the exit code. */
  async stop(): Promise<number | null> {
    return this.signal('SIGTERM');
  }

  private signal(sig: NodeJS.Signals): Promise<number | null> {
    const p = this.proc;
    if (!p || !this.running) return Promise.resolve(p?.exitCode ?? null);
    return new Promise((resolve) => {
      p.once('exit', (code) => resolve(code));
      p.kill(sig);
    });
  }
}

/** Tallies of what a model client saw, for the final check. */
export interface ClientReport {
  name: string;
  received: number[];
  duplicates: number;
  gaps: number;
  acked: Set<string>;
  pending: number;
  errors: Record<string, number>;
}

/** Codes after which a send stays in the outbox to be resent. */
const RETRYABLE = new Set(['store_unavailable', 'internal', 'shutting_down', 'rate_limited']);
/** How long an unacknowledged send waits before it is sent again on the same connection. */
const RESEND_AFTER_MS = 1500;

/**
 * A client that keeps the delivery contract as the web client does: every message it sends stays in its
 * outbox until acknowledged; after any reconnect (to the next live instance) it resumes from its last seq and
 * resends the outbox with the same clientMsgIds.
 */
export class ModelClient {
  private ws: WebSocket | null = null;
  private lastSeq = 0;
  private readonly outbox = new Map<string, { body: string; sentAt: number }>();
  private readonly report: ClientReport;
  private stopped = false;
  private readonly resendTimer: NodeJS.Timeout;

  constructor(
    readonly name: string,
    private readonly cookie: string,
    private readonly roomId: number,
    private readonly instances: Instance[],
    private instanceIndex: number,
  ) {
    this.report = { name, received: [], duplicates: 0, gaps: 0, acked: new Set(), pending: 0, errors: {} };
    this.resendTimer = setInterval(() => this.resendStale(), 500);
    this.connect();
  }

  /** Queues a new message (sent now if connected, else after the next reconnect). */
  send(body: string): void {
    const id = randomUUID();
    this.outbox.set(id, { body, sentAt: 0 });
    this.transmit(id);
  }

  get caughtUpTo(): number {
    return this.lastSeq;
  }

  get outboxSize(): number {
    return this.outbox.size;
  }

  get connectedTo(): number | null {
    return this.ws?.readyState === WebSocket.OPEN ? this.instanceIndex : null;
  }

  close(): ClientReport {
    this.stopped = true;
    clearInterval(this.resendTimer);
    this.ws?.close();
    return { ...this.report, pending: this.outbox.size };
  }

  private connect(): void {
    if (this.stopped) return;
    const inst = this.instances[this.instanceIndex]!;
    const ws = new WebSocket(`${inst.url.replace('http', 'ws')}/ws`, { headers: { cookie: this.cookie } });
    this.ws = ws;
    ws.on('message', (data) => this.onFrame(JSON.parse(data.toString()) as Record<string, unknown>));
    ws.on('error', () => {});
    ws.on('close', (code) => {
      if (this.stopped) return;
      // A dead or stopping instance: go to the next one, as a load balancer would.
      if (code !== 1000) this.instanceIndex = (this.instanceIndex + 1) % this.instances.length;
      setTimeout(() => this.connect(), 100 + Math.random() * 200).unref();
    });
  }

  private onFrame(f: Record<string, unknown>): void {
    switch (f.type) {
      case 'hello':
        this.ws!.send(JSON.stringify({ type: 'resume', rooms: [{ room: this.roomId, since: this.lastSeq }] }));
        for (const id of this.outbox.keys()) this.transmit(id);
        return;
      case 'message': {
        const seq = f.seq as number;
        if (seq <= this.lastSeq) {
          this.report.duplicates++;
          return;
        }
        if (seq !== this.lastSeq + 1) this.report.gaps++;
        this.lastSeq = seq;
        this.report.received.push(seq);
        return;
      }
      case 'ack':
        this.outbox.delete(f.clientMsgId as string);
        this.report.acked.add(f.clientMsgId as string);
        return;
      case 'error': {
        const code = f.code as string;
        this.report.errors[code] = (this.report.errors[code] ?? 0) + 1;
        const id = f.clientMsgId as string | undefined;
        if (id && !RETRYABLE.has(code)) this.outbox.delete(id);
        if (id && this.outbox.has(id)) this.outbox.get(id)!.sentAt = Date.now(); // retry after a pause
        return;
      }
    }
  }

  private transmit(id: string): void {
    const entry = this.outbox.get(id);
    if (!entry || this.ws?.readyState !== WebSocket.OPEN) return;
    entry.sentAt = Date.now();
    this.ws.send(JSON.stringify({ type: 'send', room: this.roomId, clientMsgId: id, body: entry.body }));
  }

  private resendStale(): void {
    const now = Date.now();
    for (const [id, e] of this.outbox) if (now - e.sentAt > RESEND_AFTER_MS) this.transmit(id);
  }
}
