/**
 * Accounts (issue 3; SECURITY-CHECKLIST items 2, 21, 22, 24): username and password rules with their messages,
 * argon2id storage, sign-in that answers an unknown user and a wrong password alike after the same work, a new
 * session on every sign-in, revocation that reaches open WebSockets at once, expiry with sliding renewal,
 * personal API tokens, and the sign-in, sign-up and message rate limits.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, mock, test } from 'node:test';
import argon2 from 'argon2';
import { hashSecret } from '../../src/chat/accounts.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import {
  apiError,
  expectFrame,
  sessionCookieOf,
  TEST_PASSWORD,
  TestServer,
  type Account,
  type ApiReply,
} from '../helpers/server.js';

let server: TestServer;
before(async () => {
  server = await TestServer.start();
});
after(() => server.close());

let userCount = 0;
/** A username nobody has used yet. */
const fresh = (prefix = 'acct') => `${prefix}${++userCount}_${randomBytes(2).toString('hex')}`;

/** The SQLite file behind a test server, opened on a second connection (WAL allows it). */
const storeOf = (s: TestServer) => new SqliteStore(s.env.DATABASE_URL!.slice('sqlite:'.length));

const signUpRaw = (s: TestServer, body: unknown, address = s.nextAddress()) =>
  s.api('POST', '/api/auth/signup', { body, headers: { 'x-forwarded-for': address } });

const signInRaw = (s: TestServer, username: unknown, password: unknown, address = s.nextAddress(), cookie?: string) =>
  s.api('POST', '/api/auth/signin', {
    body: { username, password },
    headers: { 'x-forwarded-for': address, ...(cookie ? { cookie } : {}) },
  });

const me = (s: TestServer, as: Account | { cookie: string } | { bearer: string }) => s.api('GET', '/api/me', { as });

/** Counts argon2 hash and verify calls made by the server while `fn` runs (same process, same module). */
async function countArgon2<T>(fn: () => Promise<T>): Promise<{ result: T; hashes: number; verifies: number }> {
  const hash = mock.method(argon2, 'hash');
  const verify = mock.method(argon2, 'verify');
  try {
    const result = await fn();
    return { result, hashes: hash.mock.callCount(), verifies: verify.mock.callCount() };
  } finally {
    hash.mock.restore();
    verify.mock.restore();
  }
}

function assertError(reply: ApiReply, status: number, code: string, message?: string | RegExp): void {
  assert.equal(reply.status, status, JSON.stringify(reply.json));
  const e = apiError(reply);
  assert.equal(e.code, code);
  if (typeof message === 'string') assert.equal(e.message, message);
  else if (message) assert.match(e.message, message);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(
  '#22 the first unknown-user sign-in of a process does no more argon2 work than a wrong password (no lazy dummy hash)',
  async () => {
    // Must run before any other unknown-user sign-in in this process.
    const { result, hashes, verifies } = await countArgon2(() => signInRaw(server, fresh('nobody'), 'Whatever-pass-1'));
    assert.equal(result.status, 401);
    assert.equal(verifies, 1);
    assert.equal(hashes, 0, 'no hashing on the sign-in path');
  },
);

test('username rules: each broken rule is refused with 400 bad_username and its own message', async () => {
  const cases: Array<[unknown, string]> = [
    ['ab', 'Username must have at least 3 characters'],
    ['  ab  ', 'Username must have at least 3 characters'],
    ['a'.repeat(33), 'Username must have at most 32 characters'],
    ['has space', 'Username may contain only letters a-z, digits, ".", "_" and "-", and must start with a letter or digit'],
    ['émile', 'Username may contain only letters a-z, digits, ".", "_" and "-", and must start with a letter or digit'],
    ['-dash', 'Username may contain only letters a-z, digits, ".", "_" and "-", and must start with a letter or digit'],
    ['<script>', 'Username may contain only letters a-z, digits, ".", "_" and "-", and must start with a letter or digit'],
    [42, 'Username must be a string'],
    [undefined, 'Username must be a string'],
  ];
  for (const [username, message] of cases) {
    assertError(await signUpRaw(server, { username, password: TEST_PASSWORD }), 400, 'bad_username', message);
  }
  const ok = await server.signUp(`a${'b'.repeat(31)}`.slice(0, 32));
  assert.equal(ok.user.username.length, 32, 'exactly 32 characters is fine');
  const three = await server.signUp(`x.${++userCount % 10}`);
  assert.equal(three.user.username.length, 3, 'exactly 3 characters is fine');
});

test('usernames are unique without regard to case: 409 username_taken; sign-in ignores case', async () => {
  const name = fresh('Mixed_Case');
  const first = await server.signUp(name);
  for (const variant of [name, name.toLowerCase(), name.toUpperCase()]) {
    assertError(await signUpRaw(server, { username: variant, password: TEST_PASSWORD }), 409, 'username_taken');
  }
  const again = await server.signIn(name.toUpperCase());
  assert.equal(again.user.id, first.user.id);
  assert.equal(again.user.username, name, 'the username keeps the case it was chosen with');
});

test('password policy: minimum 8, common passwords (any case) and the username refused, each with its message', async () => {
  const username = fresh('Policy');
  const cases: Array<[unknown, string]> = [
    ['Short7!', 'Password must have at least 8 characters'],
    ['', 'Password must have at least 8 characters'],
    ['password', 'That password is one of the most common ones; choose another'],
    ['PassWord', 'That password is one of the most common ones; choose another'],
    ['12345678', 'That password is one of the most common ones; choose another'],
    [username.toLowerCase(), 'Password must not be the username'],
    [username.toUpperCase(), 'Password must not be the username'],
    [12345678, 'Password must be a string'],
  ];
  for (const [password, message] of cases) {
    const { result, hashes } = await countArgon2(() => signUpRaw(server, { username, password }));
    assertError(result, 400, 'weak_password', message);
    assert.equal(hashes, 0, 'a refused password is never hashed');
  }
  // Eight code points is enough even when they are astral (16 UTF-16 units would be a different rule).
  await server.signUp(username, { password: '🔑🔑🔑🔑🔑🔑🔑🔑' });
});

test('#22 an over-long password is refused before any hashing: 1 MB (body limit) and 60 kB (policy), on sign-up and sign-in', async () => {
  const username = fresh('Long');
  const huge = 'x'.repeat(1024 * 1024);
  const big = 'y'.repeat(60 * 1024);
  const { result: r1, hashes: h1, verifies: v1 } = await countArgon2(async () => [
    await signUpRaw(server, { username, password: huge }),
    await signUpRaw(server, { username, password: big }),
  ]);
  assert.equal(r1[0]!.status, 413, 'a 1 MB body is refused by the body limit');
  assert.match(apiError(r1[0]!).message, /too large/i, 'with a clear message');
  assertError(r1[1]!, 400, 'weak_password', 'Password must have at most 256 characters');
  assert.equal(h1 + v1, 0, 'no argon2 work');

  const account = await server.signUp(username);
  const { result: r2, hashes: h2, verifies: v2 } = await countArgon2(async () => [
    await signInRaw(server, username, huge),
    await signInRaw(server, username, big),
  ]);
  assert.equal(r2[0]!.status, 413);
  assertError(r2[1]!, 401, 'bad_credentials');
  assert.equal(h2 + v2, 0, 'no argon2 work for an over-long password at sign-in either');
  assert.equal((await me(server, account)).status, 200);
});

test('passwords are stored as argon2id PHC strings with m=19456, t=2, p=1, never in clear', async () => {
  const account = await server.signUp(fresh('Phc'), { password: 'Stored-as-argon2id' });
  const store = storeOf(server);
  try {
    const user = await store.getUser(account.user.id);
    assert.ok(user);
    const phc = /^\$argon2id\$v=19\$([a-z0-9=,]+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/.exec(user.passwordHash);
    assert.ok(phc, `a PHC argon2id string: ${user.passwordHash}`);
    const params = Object.fromEntries(phc[1]!.split(',').map((kv) => kv.split('=') as [string, string]));
    assert.deepEqual(params, { m: '19456', t: '2', p: '1' });
    assert.ok(!user.passwordHash.includes('Stored-as-argon2id'));
    assert.equal(await argon2.verify(user.passwordHash, 'Stored-as-argon2id'), true);
  } finally {
    await store.close();
  }
});

test('#22 sign-in: a wrong password and an unknown user get the identical answer after exactly one argon2 verification', async () => {
  const username = fresh('Victim');
  await server.signUp(username);
  // Warm-up: any lazy initialisation happens here, not in the measured calls (see the first test above).
  await signInRaw(server, fresh('ghost'), 'Warm-up-password-1');
  const wrong = await countArgon2(() => signInRaw(server, username, 'Not-the-password-1'));
  const unknown = await countArgon2(() => signInRaw(server, fresh('ghost'), 'Not-the-password-1'));
  for (const r of [wrong, unknown]) {
    assert.equal(r.result.status, 401);
    assert.equal(r.verifies, 1, 'exactly one argon2 verification');
    assert.equal(r.hashes, 0);
    assert.equal(sessionCookieOf(r.result.headers), null, 'no session');
  }
  assert.deepEqual(wrong.result.json, unknown.result.json, 'the same body');
  assert.deepEqual(wrong.result.json, { error: { code: 'bad_credentials', message: 'Wrong username or password' } });
  const headerNames = (r: ApiReply) => [...r.headers.keys()].filter((k) => k !== 'date').sort();
  assert.deepEqual(headerNames(wrong.result), headerNames(unknown.result), 'the same headers');
  assert.equal(wrong.result.headers.get('content-length'), unknown.result.headers.get('content-length'));
});

test('#25 session cookie: HttpOnly, SameSite=Lax, Path=/, no Domain, Secure only over https; 256-bit opaque token', async () => {
  const reply = await signUpRaw(server, { username: fresh('Cookie'), password: TEST_PASSWORD });
  const line = reply.headers.getSetCookie().find((l) => l.startsWith('confab_session='));
  assert.ok(line);
  assert.match(line, /; HttpOnly/i);
  assert.match(line, /; SameSite=Lax/i);
  assert.match(line, /; Path=\//);
  assert.doesNotMatch(line, /; Domain=/i);
  assert.doesNotMatch(line, /; Secure/i, 'plain http here');
  const token = /^confab_session=([^;]+)/.exec(line)![1]!;
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  // Behind a TLS-terminating proxy (TRUST_PROXY=true in tests), the cookie is Secure.
  const tls = await server.api('POST', '/api/auth/signup', {
    body: { username: fresh('Tls'), password: TEST_PASSWORD },
    headers: { 'x-forwarded-for': server.nextAddress(), 'x-forwarded-proto': 'https' },
    origin: server.url.replace('http:', 'https:'),
  });
  assert.equal(tls.status, 201, JSON.stringify(tls.json));
  assert.match(tls.headers.getSetCookie().find((l) => l.startsWith('confab_session='))!, /; Secure/i);
  // The session is stored only as a hash.
  const store = storeOf(server);
  try {
    assert.ok(await store.findSession(hashSecret(token), Date.now()));
    assert.equal(await store.findSession(token, Date.now()), null);
  } finally {
    await store.close();
  }
});

test('#24 session fixation: every sign-in starts a new session; a cookie sent with the sign-in is never reused', async () => {
  const username = fresh('Fixed');
  const up = await server.signUp(username);
  const planted = 'confab_session=attacker-chosen-value-0123456789abcdef0123456';
  const viaPlanted = await signInRaw(server, username, TEST_PASSWORD, server.nextAddress(), planted);
  const viaOwn = await signInRaw(server, username, TEST_PASSWORD, server.nextAddress(), up.cookie);
  const cookies = [up.cookie, sessionCookieOf(viaPlanted.headers), sessionCookieOf(viaOwn.headers)];
  assert.ok(cookies.every((c) => c !== null));
  assert.equal(new Set(cookies).size, 3, 'three sign-ins, three sessions');
  assert.ok(!cookies.includes(planted));
  assert.equal((await me(server, { cookie: planted })).status, 401, 'the planted value is no session');
  for (const c of cookies) assert.equal((await me(server, { cookie: c! })).status, 200);
});

test('#21 sign-out revokes at once: 401 on HTTP, its WebSocket closed 1008; another session of the same user stays', async () => {
  const username = fresh('Leaving');
  const first = await server.signUp(username);
  const second = await server.signIn(username);
  const ws1 = await server.connect(first);
  const ws2 = await server.connect(second);
  const legacy = await server.connectLegacy(`leave-${userCount}`, first);

  const out = await server.api('POST', '/api/auth/signout', { as: first });
  assert.equal(out.status, 204);
  assert.match(out.headers.getSetCookie().join('\n'), /confab_session=;/, 'the cookie is cleared');
  assertError(await me(server, first), 401, 'unauthenticated');
  assert.equal((await ws1.closed).code, 1008);
  assert.equal((await legacy.closed).code, 1008, 'the original endpoint too');
  assert.equal(await server.handshakeStatus('/ws', { cookie: first.cookie }), 401, 'no new socket with it');
  assert.equal(await server.handshakeStatus('/ws', { bearer: first.cookie.split('=')[1]! }), 401, 'nor as a bearer');

  expectFrame(await ws2.request({ type: 'ping' }), 'pong');
  assert.equal((await me(server, second)).status, 200, 'the other session is untouched');
});

test('#21 sign out everywhere closes every session and socket of the user, and only theirs', async () => {
  const username = fresh('Everywhere');
  const a = await server.signUp(username);
  const b = await server.signIn(username);
  const bystander = await server.connect(await server.signUp(fresh('Bystander')));
  const sockets = [await server.connect(a), await server.connect(b), await server.connect(b)];
  const out = await server.api('POST', '/api/auth/signout-all', { as: a });
  assert.equal(out.status, 204);
  for (const s of sockets) assert.equal((await s.closed).code, 1008);
  for (const s of [a, b]) assert.equal((await me(server, s)).status, 401);
  expectFrame(await bystander.request({ type: 'ping' }), 'pong');
  // A new sign-in works again.
  await server.signIn(username);
});

test('#21 password change requires the current password, ends every other session and socket, and starts a new one', async () => {
  const username = fresh('Changer');
  const a = await server.signUp(username);
  const b = await server.signIn(username);
  const wsA = await server.connect(a);
  const wsB = await server.connect(b);

  const wrong = await server.api('POST', '/api/auth/password', {
    as: a,
    body: { currentPassword: 'Not-the-current-1', newPassword: 'Brand-new-secret-9' },
  });
  assertError(wrong, 401, 'bad_credentials', 'The current password is wrong');
  const weak = await server.api('POST', '/api/auth/password', {
    as: a,
    body: { currentPassword: TEST_PASSWORD, newPassword: 'password' },
  });
  assertError(weak, 400, 'weak_password');
  expectFrame(await wsB.request({ type: 'ping' }), 'pong');
  assert.equal((await me(server, b)).status, 200, 'refused changes end nothing');

  const ok = await server.api('POST', '/api/auth/password', {
    as: a,
    body: { currentPassword: TEST_PASSWORD, newPassword: 'Brand-new-secret-9' },
  });
  assert.equal(ok.status, 204);
  const renewed = sessionCookieOf(ok.headers);
  assert.ok(renewed && renewed !== a.cookie, 'a new session for the device that changed it');
  assert.equal((await me(server, { cookie: renewed })).status, 200);
  for (const s of [a, b]) assert.equal((await me(server, s)).status, 401);
  assert.equal((await wsA.closed).code, 1008);
  assert.equal((await wsB.closed).code, 1008);
  assert.equal((await signInRaw(server, username, TEST_PASSWORD)).status, 401, 'the old password is gone');
  await server.signIn(username, 'Brand-new-secret-9');
});

test('#2 sessions expire: an expired session is refused on HTTP and at the handshake; half-spent ones are renewed (sliding)', async () => {
  const s = await TestServer.start({ SESSION_TTL_HOURS: '1' });
  const store = storeOf(s);
  try {
    const account = await s.signUp('expiring');
    const uid = account.user.id;
    const now = Date.now();
    const hour = 3_600_000;
    const craft = async (expiresAt: number) => {
      const secret = randomBytes(32).toString('base64url');
      const session = await store.createSession(hashSecret(secret), uid, now - hour, expiresAt);
      return { cookie: `confab_session=${secret}`, session };
    };

    const expired = await craft(now - 1);
    assertError(await me(s, expired), 401, 'unauthenticated');
    assert.equal(await s.handshakeStatus('/ws', expired), 401);
    assert.equal(await s.handshakeStatus('/ws', { bearer: expired.cookie.split('=')[1]! }), 401);

    // The cookie from sign-up lives SESSION_TTL_HOURS (the server's clock, read from the store).
    const token = account.cookie.split('=')[1]!;
    const live = (await store.findSession(hashSecret(token), now))?.session;
    assert.ok(live);
    assert.equal(live.expiresAt - live.createdAt, hour);
    const freshUse = await me(s, account);
    assert.equal(freshUse.status, 200);
    assert.equal(sessionCookieOf(freshUse.headers), null, 'a fresh session is not re-sent on every request');

    // Less than half of the TTL left: the use renews it, in the store and in the browser's cookie.
    const aging = await craft(now + hour / 4);
    const used = await me(s, aging);
    assert.equal(used.status, 200);
    assert.equal(sessionCookieOf(used.headers), aging.cookie, 'the same session, re-set');
    const expires = used.headers.getSetCookie().find((l) => l.startsWith('confab_session='))!;
    assert.match(expires, /; Expires=/i);
    const renewed = (await store.findSession(hashSecret(aging.cookie.split('=')[1]!), Date.now()))?.session;
    assert.ok(renewed && renewed.expiresAt > aging.session.expiresAt, 'expiry moved forward');
    assert.equal(new Date(/Expires=([^;]+)/i.exec(expires)![1]!).getTime(), Math.floor(renewed.expiresAt / 1000) * 1000);
  } finally {
    await store.close();
    await s.close();
  }
});

test('API tokens: created with a cfb_ secret shown once, listed without it, work as Bearer on HTTP and WebSocket, revoked at once', async () => {
  const owner = await server.signUp(fresh('Bot_owner'));
  const created = await server.api('POST', '/api/tokens', { as: owner, body: { name: 'deploy bot' } });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const { token, secret } = created.json as { token: { id: number; name: string; lastUsedAt: string | null }; secret: string };
  assert.match(secret, /^cfb_[A-Za-z0-9_-]{43}$/);
  assert.equal(token.name, 'deploy bot');
  assert.equal(token.lastUsedAt, null);
  assertError(await server.api('POST', '/api/tokens', { as: owner, body: { name: '' } }), 400, 'bad_request');

  const listed = await server.api('GET', '/api/tokens', { as: owner });
  assert.equal(listed.status, 200);
  assert.ok(!JSON.stringify(listed.json).includes('cfb_'), 'the secret is never shown again');
  assert.deepEqual(Object.keys((listed.json as { tokens: object[] }).tokens[0]!).sort(), ['createdAt', 'id', 'lastUsedAt', 'name']);

  const bearer = { bearer: secret };
  const who = await me(server, bearer);
  assert.equal(who.status, 200);
  assert.equal((who.json as { user: { id: number } }).user.id, owner.user.id);
  // A script sends no Origin: a bearer call is not CSRF-checked.
  const room = await server.api('POST', '/api/rooms', { as: bearer, body: { name: `bot-room-${userCount}` }, origin: null });
  assert.equal(room.status, 201, JSON.stringify(room.json));
  const botSocket = await server.connectWith(bearer, 'bot');
  assert.equal(botSocket.hello.user.id, owner.user.id);
  const used = (await server.api('GET', '/api/tokens', { as: owner })).json as { tokens: Array<{ lastUsedAt: string | null }> };
  assert.notEqual(used.tokens[0]!.lastUsedAt, null, 'last use is recorded');

  const cookieSocket = await server.connect(owner);
  const stranger = await server.signUp(fresh('Stranger'));
  assertError(await server.api('DELETE', `/api/tokens/${token.id}`, { as: stranger }), 404, 'not_found');
  assert.equal((await me(server, bearer)).status, 200, "another user cannot revoke it");

  assert.equal((await server.api('DELETE', `/api/tokens/${token.id}`, { as: owner })).status, 204);
  assertError(await me(server, bearer), 401, 'unauthenticated');
  assert.equal((await botSocket.closed).code, 1008, 'its open socket is closed');
  assert.equal(await server.handshakeStatus('/ws', bearer), 401);
  expectFrame(await cookieSocket.request({ type: 'ping' }), 'pong');
  assert.deepEqual((await server.api('GET', '/api/tokens', { as: owner })).json, { tokens: [] });
  assertError(await me(server, { bearer: `cfb_${'A'.repeat(43)}` }), 401, 'unauthenticated');
});

test('#22 sign-in per account: after 5 failures the next attempt is refused with 429 and a growing retryAfterMs', async () => {
  const s = await TestServer.start();
  try {
    const username = 'target_account';
    await s.signUp(username);
    // Every attempt from another address: the per-account limit holds however the attacker rotates addresses.
    for (let i = 0; i < 5; i++) assertError(await signInRaw(s, username, `Wrong-guess-${i}`), 401, 'bad_credentials');
    const refused = await countArgon2(() => signInRaw(s, username, TEST_PASSWORD));
    assertError(refused.result, 429, 'rate_limited', /Too many failed sign-ins for this account; try again in \d+ s/);
    assert.equal(refused.verifies, 0, 'refused before checking the password, even the right one');
    const first = apiError(refused.result).retryAfterMs!;
    assert.ok(first > 0);
    assert.equal(refused.result.headers.get('retry-after'), String(Math.ceil(first / 1000)));

    await sleep(first + 50);
    assertError(await signInRaw(s, username, 'Wrong-guess-6'), 401, 'bad_credentials');
    const second = apiError(await signInRaw(s, username, TEST_PASSWORD)).retryAfterMs!;
    assert.ok(second > first, `the delay grows: ${first} then ${second}`);

    await sleep(second + 50);
    const ok = await signInRaw(s, username, TEST_PASSWORD);
    assert.equal(ok.status, 200, 'the right password works once the delay has passed');
    // Success resets the count: the next failure is again a plain 401.
    assertError(await signInRaw(s, username, 'Wrong-again-1'), 401, 'bad_credentials');
    // Other accounts were never affected.
    await s.signUp('other_account');
    await s.signIn('other_account');
  } finally {
    await s.close();
  }
});

test('#22 sign-in per address: 20 a minute, then 429 rate_limited for that address only', async () => {
  const s = await TestServer.start();
  try {
    const address = '203.0.113.7';
    for (let i = 0; i < 20; i++) assertError(await signInRaw(s, `probe${i}`, 'Some-password-1', address), 401, 'bad_credentials');
    const refused = await signInRaw(s, 'probe20', 'Some-password-1', address);
    assertError(refused, 429, 'rate_limited', /Too many sign-in attempts/);
    assert.ok(apiError(refused).retryAfterMs! > 0);
    assertError(await signInRaw(s, 'probe21', 'Some-password-1', '203.0.113.8'), 401, 'bad_credentials');
  } finally {
    await s.close();
  }
});

test('sign-ups per address: 10 an hour, then 429 with retryAfterMs; X-Forwarded-For is ignored without TRUST_PROXY', async () => {
  for (const trustProxy of ['true', 'false']) {
    const s = await TestServer.start({ TRUST_PROXY: trustProxy });
    try {
      // With TRUST_PROXY the header is the client's address; without it, rotating it must not help.
      const address = (i: number) => (trustProxy === 'true' ? '198.51.100.9' : `198.51.100.${i}`);
      for (let i = 0; i < 10; i++) {
        const r = await signUpRaw(s, { username: `signup${i}`, password: TEST_PASSWORD }, address(i));
        assert.equal(r.status, 201, `${trustProxy} ${i}: ${JSON.stringify(r.json)}`);
      }
      const refused = await countArgon2(() => signUpRaw(s, { username: 'signup10', password: TEST_PASSWORD }, address(10)));
      assertError(refused.result, 429, 'rate_limited', /Too many sign-ups from this address/);
      assert.ok(apiError(refused.result).retryAfterMs! > 0);
      assert.equal(refused.hashes, 0, 'refused before hashing');
      assert.equal((await signInRaw(s, 'signup10', TEST_PASSWORD)).status, 401, 'no account was created');
      if (trustProxy === 'true') {
        assert.equal((await signUpRaw(s, { username: 'elsewhere', password: TEST_PASSWORD }, '198.51.100.10')).status, 201);
      }
    } finally {
      await s.close();
    }
  }
});

test('#12 message rate limit: the 4th send within the window gets rate_limited with retryAfterMs, nothing stored; the retry succeeds', async () => {
  const s = await TestServer.start({ MESSAGE_RATE_LIMIT: '3', MESSAGE_RATE_WINDOW_MS: '3000' });
  try {
    const room = await s.createRoom('limited');
    const sender = await s.connect('fast');
    const watcher = await s.connect('watcher');
    await watcher.subscribe(room.id);
    for (let i = 1; i <= 3; i++) assert.equal((await sender.post(room.id, `m${i}`, `k${i}`)).seq, i);
    const err = expectFrame(await sender.request({ type: 'send', room: room.id, clientMsgId: 'k4', body: 'm4' }), 'error');
    assert.equal(err.code, 'rate_limited');
    assert.equal(err.clientMsgId, 'k4');
    assert.equal(err.room, room.id);
    assert.ok(err.retryAfterMs !== undefined && err.retryAfterMs > 0 && err.retryAfterMs <= 3000);
    // Another user is not limited by this one.
    assert.equal((await watcher.post(room.id, 'from the watcher', 'w1')).seq, 4);
    assert.deepEqual(
      (await watcher.allHistory(room.id)).map((m) => m.body),
      ['m1', 'm2', 'm3', 'from the watcher'],
      'the refused message was not stored',
    );

    await sleep(err.retryAfterMs + 50);
    const ack = await sender.post(room.id, 'm4', 'k4');
    assert.equal(ack.seq, 5);
    const got = await watcher.waitForMessages(room.id, 5);
    assert.deepEqual(
      got.map((m) => m.body),
      ['m1', 'm2', 'm3', 'from the watcher', 'm4'],
    );
  } finally {
    await s.close();
  }
});
