/**
 * Logs (issue 8): pino JSON lines on stdout at LOG_LEVEL, every HTTP line with its request id and every
 * WebSocket line with its connection id; connection, close and auth events logged; never a password, a session
 * token or message text. Runs the real entry point (src/main.ts) as a child process and reads what it prints.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { WebSocket } from 'ws';
import { TEST_PASSWORD } from '../helpers/server.js';
import { freePort } from '../helpers/postgres.js';

const dir = await mkdtemp(path.join(tmpdir(), 'confab-logs-'));
after(() => rm(dir, { recursive: true, force: true }));

/** Starts the server with LOG_LEVEL=`level` (its start line is info: the port is chosen here); collects its stdout lines. */
async function start(level: string, file: string, extraEnv: Record<string, string> = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: `sqlite:${path.join(dir, file)}`, UPLOAD_DIR: path.join(dir, 'up'), LOG_LEVEL: level, ...extraEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buf = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; !(await fetch(`${url}/healthz`).then((r) => r.ok, () => false)); i++) {
    assert.ok(i < 300 && child.exitCode === null, 'the server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const stop = async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  return { url, lines, stop };
}

/** Signs up, fails a sign-in, opens a WebSocket, posts a message, closes: every kind of event once. */
async function exercise(base: string): Promise<{ token: string; body: string }> {
  const headers = { 'content-type': 'application/json', origin: base };
  const up = await fetch(`${base}/api/auth/signup`, { method: 'POST', headers, body: JSON.stringify({ username: 'logan', password: TEST_PASSWORD }) });
  assert.equal(up.status, 201);
  const cookie = up.headers.get('set-cookie')!.split(';')[0]!;
  const bad = await fetch(`${base}/api/auth/signin`, { method: 'POST', headers, body: JSON.stringify({ username: 'logan', password: 'wrong-password-here' }) });
  assert.equal(bad.status, 401);
  const room = (await (await fetch(`${base}/api/rooms`, { method: 'POST', headers: { ...headers, cookie }, body: JSON.stringify({ name: 'logged' }) })).json()) as { room: { id: number } };
  const body = 'a secret message text';
  const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`, { headers: { cookie, origin: base } });
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'send', room: room.room.id, clientMsgId: 'log-1', body }));
  await new Promise<void>((resolve) => ws.on('message', (d) => (JSON.parse(d.toString()) as { type: string }).type === 'ack' && resolve()));
  ws.close(1000);
  await new Promise((r) => ws.once('close', r));
  await new Promise((r) => setTimeout(r, 100));
  return { token: cookie.split('=')[1]!, body };
}

test('info: JSON lines with request and connection ids, connection, close and auth events, no secrets or message text', async () => {
  const server = await start('info', 'info.db');
  const { token, body } = await exercise(server.url);
  await server.stop();
  const records = server.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(records.every((r) => typeof r.level === 'number' && typeof r.time === 'number' && typeof r.msg === 'string'), 'pino JSON');
  const http = records.filter((r) => r.msg === 'incoming request' || r.msg === 'request completed');
  assert.ok(http.length > 0 && http.every((r) => typeof r.reqId === 'string'), 'every HTTP line carries its request id');
  const opened = records.find((r) => r.msg === 'connection opened');
  const closed = records.find((r) => r.msg === 'connection closed');
  assert.ok(opened && typeof opened.conn === 'string' && typeof opened.user === 'number', 'connection opened, with its id and user');
  assert.equal(closed?.conn, opened.conn, 'the close carries the same connection id');
  assert.equal(closed?.code, 1000);
  assert.ok(records.some((r) => r.msg === 'signed up'));
  assert.ok(records.some((r) => r.msg === 'sign-in refused' && r.code === 'bad_credentials'));
  const all = server.lines.join('\n');
  for (const secret of [TEST_PASSWORD, 'wrong-password-here', token, body]) assert.ok(!all.includes(secret), `the logs never carry ${secret.slice(0, 6)}...`);
});

test('LOG_LEVEL=warn: no info lines, the warnings still', async () => {
  const server = await start('warn', 'warn.db');
  await exercise(server.url);
  await server.stop();
  const records = server.lines.map((l) => JSON.parse(l) as { level: number; msg: string });
  assert.ok(records.every((r) => r.level >= 40), records.map((r) => r.msg).join(', '));
  assert.ok(records.some((r) => r.msg === 'sign-in refused'));
});

test('refused handshakes: the first of a kind from an address at warn, its repeats at debug (a retry loop is no log flood)', async () => {
  const server = await start('debug', 'refusals.db', { HANDSHAKES_PER_ADDRESS_PER_MINUTE: '2' });
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    statuses.push(
      await new Promise<number>((resolve) => {
        const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, { origin: server.url });
        ws.on('error', () => {});
        ws.once('unexpected-response', (req, res) => {
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
      }),
    );
  }
  await server.stop();
  assert.deepEqual(statuses, [401, 401, 429, 429, 429, 429]);
  const refusals = server.lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((r) => r.msg.startsWith('handshake refused: too many'));
  assert.deepEqual(refusals.map((r) => r.level), [40, 20, 20, 20], 'one warning, then debug');
});
