/**
 * `npm run admin`: the account administration tool, run as a real process against a real SQLite file (and, for
 * the announcement of a password reset, a private Redis shared with a running instance).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { verifyPassword } from '../../src/chat/passwords.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { PrivateRedis } from '../helpers/redis.js';
import { expectFrame, TestServer, within } from '../helpers/server.js';

const dir = await mkdtemp(path.join(tmpdir(), 'confab-admin-'));
const db = path.join(dir, 'confab.db');
after(() => rm(dir, { recursive: true, force: true }));

function admin(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/admin.ts', ...args], {
    env: { ...process.env, DATABASE_URL: `sqlite:${db}`, LOG_LEVEL: 'silent' },
    input: input ?? '',
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function user(name: string) {
  const store = new SqliteStore(db);
  try {
    return await store.findUserByKey(name);
  } finally {
    await store.close();
  }
}

test('create-user with a generated password prints it once, and it signs in', async () => {
  const r = admin(['create-user', 'Root', '--admin', '--display-name', 'The Root']);
  assert.equal(r.code, 0, r.err);
  const password = /password \(shown once\): (\S+)/.exec(r.out)?.[1];
  assert.ok(password && password.length >= 20);
  const u = await user('root');
  assert.equal(u?.username, 'Root');
  assert.equal(u?.displayName, 'The Root');
  assert.equal(u?.isAdmin, true);
  assert.match(u!.passwordHash, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  assert.equal(await verifyPassword(u!.passwordHash, password!), true);
});

test('create-user from stdin applies the password policy and username rules', async () => {
  assert.equal(admin(['create-user', 'ben', '--password-stdin'], 'long enough secret\n').code, 0);
  assert.equal(await verifyPassword((await user('ben'))!.passwordHash, 'long enough secret'), true);
  const weak = admin(['create-user', 'cam', '--password-stdin'], 'password\n');
  assert.equal(weak.code, 1);
  assert.match(weak.err, /at least 8|most common/);
  assert.equal(await user('cam'), null);
  const taken = admin(['create-user', 'BEN', '--password-stdin'], 'long enough secret\n');
  assert.equal(taken.code, 1);
  assert.match(taken.err, /taken/);
  const bad = admin(['create-user', 'no spaces allowed', '--password-stdin'], 'long enough secret\n');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /Username may contain only/);
});

test('make-admin, unmake-admin, reset-password, list-users, list-rooms; unknown names are clear errors', async () => {
  assert.equal(admin(['make-admin', 'ben']).code, 0);
  assert.equal((await user('ben'))?.isAdmin, true);
  assert.equal(admin(['unmake-admin', 'ben']).code, 0);
  assert.equal((await user('ben'))?.isAdmin, false);

  const reset = admin(['reset-password', 'ben', '--password-stdin'], 'a brand new secret\n');
  assert.equal(reset.code, 0, reset.err);
  assert.equal(await verifyPassword((await user('ben'))!.passwordHash, 'a brand new secret'), true);

  const list = admin(['list-users']);
  assert.equal(list.code, 0);
  assert.match(list.out, /\tRoot\tThe Root\tadmin\t/);
  assert.match(list.out, /\tben\tben\t\t/);
  assert.equal(admin(['list-rooms']).code, 0);

  const missing = admin(['make-admin', 'nobody']);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /No user "nobody"/);
  const unknown = admin(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command/);
});

/** Runs the admin tool without blocking this process (the instance under test lives in it). */
function adminAsync(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/admin.ts', ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'silent' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/**
 * Resets `compromised`'s password with the admin tool while an instance runs on `env`'s database: the user's open
 * socket must close with 1008, a bystander's stay open.
 */
async function resetWhileRunning(env: Record<string, string>): Promise<void> {
  const server = await TestServer.start(env);
  try {
    const account = await server.signUp('compromised');
    const other = await server.connect(await server.signUp('bystander'));
    const open = await server.connect(account);
    const r = await adminAsync(['reset-password', 'compromised'], env);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /every session of theirs has ended/);
    assert.deepEqual(await within(open.closed, 'the reset user\'s socket still open'), { code: 1008, reason: 'signed out' });
    expectFrame(await other.request({ type: 'ping' }), 'pong');
  } finally {
    await server.close();
  }
}

/**
 * Takes `boss`'s admin right away with the admin tool while their socket is open on an instance running on `env`:
 * the socket must close (1008 "permissions changed"), and the one they reconnect with may no longer delete
 * someone else's message (before, the old socket kept the admin right of its handshake).
 */
async function unmakeAdminWhileRunning(env: Record<string, string>): Promise<void> {
  const server = await TestServer.start(env);
  try {
    const boss = await server.signUp('boss');
    const poster = await server.connect(await server.signUp('poster'));
    assert.equal((await adminAsync(['make-admin', 'boss'], env)).code, 0);
    const room = await server.createRoom('town-square', { as: 'poster' });
    expectFrame(await poster.request({ type: 'subscribe', room: room.id }), 'subscribed');
    const first = await poster.post(room.id, 'first');
    const second = await poster.post(room.id, 'second');
    const admin = await server.connect(boss);
    expectFrame(await admin.request({ type: 'delete', room: room.id, messageId: first.messageId }), 'done');

    const r = await adminAsync(['unmake-admin', 'boss'], env);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(await within(admin.closed, 'the ex-admin\'s socket still open'), { code: 1008, reason: 'permissions changed' });
    const again = await server.connect(boss);
    const refused = expectFrame(await again.request({ type: 'delete', room: room.id, messageId: second.messageId }), 'error');
    assert.equal(refused.code, 'forbidden');
    expectFrame(await poster.request({ type: 'ping' }), 'pong');
  } finally {
    await server.close();
  }
}

test('reset-password and unmake-admin with REDIS_URL reach a running instance: its sockets of that user close', async () => {
  const redis = await PrivateRedis.create();
  try {
    await resetWhileRunning({ DATABASE_URL: `sqlite:${path.join(dir, 'running.db')}`, REDIS_URL: redis.url });
    await unmakeAdminWhileRunning({ DATABASE_URL: `sqlite:${path.join(dir, 'running-admin.db')}`, REDIS_URL: redis.url });
  } finally {
    await redis.stop();
  }
});

test('reset-password and unmake-admin on the embedded default (no REDIS_URL) too: the server polls the admin epoch', async () => {
  // No layer reaches the running server here; it reads the epoch the tool moved (ADMIN_EPOCH_POLL_MS).
  await resetWhileRunning({ DATABASE_URL: `sqlite:${path.join(dir, 'embedded.db')}` });
  await unmakeAdminWhileRunning({ DATABASE_URL: `sqlite:${path.join(dir, 'embedded-admin.db')}` });
});
