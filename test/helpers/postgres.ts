/**
 * PostgreSQL for tests: a fresh database per run on the shared server (127.0.0.1:5432, or PG_TEST_URL),
 * dropped afterwards; and, for fault tests, a private server (initdb + pg_ctl into a temp folder, run as the
 * `postgres` user, on a free port) that a test may stop and start without touching the shared one.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** The shared server's maintenance database. */
const ADMIN_URL = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PG_BIN = '/usr/lib/postgresql/15/bin';

/** A new, empty database on the shared server; `drop()` removes it. */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `confab_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const asPostgres = (args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: 'pipe' });

/** A private PostgreSQL server the test owns: it may be stopped and started at will. */
export class PrivatePostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(path.join(tmpdir(), 'confab-pg-'));
    chmodSync(dir, 0o777);
    const data = path.join(dir, 'data');
    asPostgres([`${PG_BIN}/initdb`, '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    const p = new PrivatePostgres(dir, await freePort());
    p.start();
    return p;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  start(): void {
    asPostgres([
      `${PG_BIN}/pg_ctl`, '-D', path.join(this.dir, 'data'), '-l', path.join(this.dir, 'log'), '-w',
      '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start',
    ]);
  }

  stop(): void {
    asPostgres([`${PG_BIN}/pg_ctl`, '-D', path.join(this.dir, 'data'), '-m', 'fast', '-w', 'stop']);
  }

  destroy(): void {
    try {
      this.stop();
    } catch {
      /* already stopped */
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The stored rows of a clientMsgId, read straight from the PostgreSQL database at `url`. */
export async function rowsOfClientMsgId(url: string, clientMsgId: string): Promise<Array<{ id: number; seq: number }>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ id: string; seq: string }>('SELECT id, seq FROM messages WHERE client_msg_id = $1', [clientMsgId]);
    return rows.map((r) => ({ id: Number(r.id), seq: Number(r.seq) }));
  } finally {
    await c.end();
  }
}
