/**
 * Redis for tests: a private `redis-server` on a free port that a test may stop and start (never the shared
 * one on 6379), and a TCP proxy in front of a server whose connections a test can cut or black-hole.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from './postgres.js';

export class PrivateRedis {
  private proc: ChildProcess | null = null;

  private constructor(readonly port: number) {}

  static async create(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server and resolves once it accepts connections. */
  async start(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const s = net.connect(this.port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (up) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('redis-server did not start');
  }

  /** Stops the server at once (its data is not kept: pub/sub has none). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
    this.proc = null;
  }
}

/**
 * A TCP proxy from a local port to a target. `lag(ms)` delays what clients send (a slow path); `blackhole()`
 * keeps connections open but forwards nothing (a half-dead network path); `cut()` drops them and refuses new
 * ones (a path that is gone); `heal()` drops those connections and forwards new ones again.
 */
export class CuttableProxy {
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;
  private silent = false;
  /** Client-to-server bytes are held this long before being forwarded, in order (a slow path to Redis). */
  private lagMs = 0;
  /** When the last held write goes out: a later one never overtakes it. */
  private lastDue = 0;
  /** Cut: connections are dropped and new ones refused, as if the path to Redis were gone. */
  private down = false;
  port = 0;

  private constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => this.relay(client));
  }

  static async create(targetPort: number): Promise<CuttableProxy> {
    const proxy = new CuttableProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  private relay(client: net.Socket): void {
    if (this.down) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.on('data', (d: Buffer) => {
      if (this.silent) return;
      const due = Math.max(Date.now() + this.lagMs, this.lastDue);
      if (due <= Date.now()) return void upstream.write(d);
      this.lastDue = due;
      setTimeout(() => {
        if (!this.silent) upstream.write(d);
      }, due - Date.now());
    });
    upstream.on('data', (d: Buffer) => {
      if (!this.silent) client.write(d);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Silently stops forwarding in both directions; sockets stay open. */
  blackhole(): void {
    this.silent = true;
  }

  /** Holds what the client sends for `ms` before forwarding it (0: forward at once again). */
  lag(ms: number): void {
    this.lagMs = ms;
  }

  /** Drops every connection and refuses new ones until `heal()`: the other side sees its connections close. */
  cut(): void {
    this.down = true;
    for (const s of this.sockets) s.destroy();
  }

  /** Drops every connection and forwards again. */
  heal(): void {
    this.silent = false;
    this.down = false;
    for (const s of this.sockets) s.destroy();
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
