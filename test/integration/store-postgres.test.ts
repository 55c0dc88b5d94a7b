/**
 * The Store contract against real PostgreSQL (a fresh database per run, dropped after), plus what only a
 * networked database has: concurrent writers on separate connections, and the server going away.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { StoreUnavailableError } from '../../src/store/store.js';
import { freshDatabase, PrivatePostgres, rowsOfClientMsgId } from '../helpers/postgres.js';
import { expectFrame, TestServer } from '../helpers/server.js';
import { storeContract } from './store-contract.js';

const db = await freshDatabase();
after(() => db.drop());

storeContract('PostgreSQL', async () => {
  const store = new PostgresStore(db.url);
  await store.migrate();
  return store;
});

test('PostgreSQL: seq stays gapless with four pools writing one room at once, retries racing included', async () => {
  const stores = [0, 1, 2, 3].map(() => new PostgresStore(db.url));
  await Promise.all(stores.map((s) => s.migrate())); // concurrent migrations serialise on the advisory lock
  const room = await stores[0]!.createRoom({ name: 'race', nameKey: 'race', kind: 'public', ownerId: null, createdAt: 1 });
  const results = await Promise.all(
    Array.from({ length: 400 }, (_, i) =>
      stores[i % 4]!.insertMessage({
        roomId: room.id,
        authorId: null,
        author: 'x',
        body: `m${i % 300}`,
        // 100 of the 400 are retries of others, sent from another pool at the same time.
        clientMsgId: `c${i % 300}`,
        createdAt: Date.now(),
      }),
    ),
  );
  const created = results.filter((r) => r.created).map((r) => r.message.seq).sort((a, b) => a - b);
  assert.deepEqual(created, Array.from({ length: 300 }, (_, i) => i + 1));
  for (const r of results.filter((x) => !x.created)) {
    assert.equal(r.message.clientMsgId, results.find((x) => x.created && x.message.clientMsgId === r.message.clientMsgId)!.message.clientMsgId);
  }
  assert.equal((await stores[0]!.getRoom(room.id))!.lastSeq, 300);
  await Promise.all(stores.map((s) => s.close()));
});

test('PostgreSQL: replies to a message and changes of it at the same moment never deadlock', async () => {
  // A reply locks the room, then (its foreign key) the quoted message; a change locks the message, then the room.
  const stores = [0, 1].map(() => new PostgresStore(db.url));
  const s = stores[0]!;
  const user = await s.createUser({ username: 'lock', usernameKey: 'lock', displayName: 'Lock', passwordHash: 'x', createdAt: 1 });
  const room = await s.createRoom({ name: 'locks', nameKey: 'locks', kind: 'public', ownerId: user.id, createdAt: 1 });
  const quoted = (await s.insertMessage({ roomId: room.id, authorId: user.id, author: 'Lock', body: 'q', clientMsgId: null, createdAt: 1 })).message;
  const work = Array.from({ length: 60 }, (_, i) =>
    i % 2 === 0
      ? stores[0]!.insertMessage({ roomId: room.id, authorId: user.id, author: 'Lock', body: `re ${i}`, clientMsgId: null, createdAt: 2, replyToId: quoted.id })
      : stores[1]!.setReaction({ roomId: room.id, messageId: quoted.id, userId: user.id, actor: 'Lock', emoji: '👍', on: i % 4 === 1, at: 2 }),
  );
  const outcomes = await Promise.allSettled(work);
  const failed = outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason));
  assert.deepEqual(failed, [], 'every reply and reaction went through');
  const rows = await s.messagesAfter(room.id, 0, 1000);
  assert.deepEqual(rows.map((r) => r.seq), rows.map((_, i) => i + 1), 'and seq stayed gapless');
  await Promise.all(stores.map((x) => x.close()));
});

test('#19 PostgreSQL: a stopped server makes the store unavailable, and it answers again once back', async () => {
  const server = await PrivatePostgres.create();
  try {
    const store = new PostgresStore(server.url);
    await store.migrate();
    const room = await store.createRoom({ name: 'x', nameKey: 'x', kind: 'public', ownerId: null, createdAt: 1 });
    // Stop the server while transactions are in flight: their connections break mid-transaction, which must
    // surface as unavailable (never as an unhandled 'error' event that would kill this very process).
    const inFlight = Array.from({ length: 200 }, (_, i) =>
      store.insertMessage({ roomId: room.id, authorId: null, author: 'a', body: 'b', clientMsgId: `f${i}`, createdAt: 1 }),
    );
    server.stop();
    const outcomes = await Promise.allSettled(inFlight);
    for (const o of outcomes) {
      if (o.status === 'rejected') assert.ok(o.reason instanceof StoreUnavailableError, String(o.reason));
    }
    const storedBefore = outcomes.filter((o) => o.status === 'fulfilled').length;
    await assert.rejects(store.ping(), StoreUnavailableError);
    await assert.rejects(
      store.insertMessage({ roomId: room.id, authorId: null, author: 'a', body: 'b', clientMsgId: 'k', createdAt: 1 }),
      StoreUnavailableError,
    );
    server.start();
    const { message, created } = await store.insertMessage({
      roomId: room.id,
      authorId: null,
      author: 'a',
      body: 'b',
      clientMsgId: 'k',
      createdAt: 1,
    });
    assert.equal(created, true);
    assert.equal(message.seq, storedBefore + 1, 'gapless after the outage');
    await store.close();
  } finally {
    server.destroy();
  }
});

test('#19 PostgreSQL stopped under a running server: a send is answered store_unavailable, never ack, nothing fanned out; resent once it is back, it is stored once', async () => {
  const pgServer = await PrivatePostgres.create();
  let server: TestServer | undefined;
  const rowsOf = (clientMsgId: string) => rowsOfClientMsgId(pgServer.url, clientMsgId);
  try {
    server = await TestServer.start({ DATABASE_URL: pgServer.url });
    const room = await server.createRoom('outage');
    // Connected before the outage: a handshake needs the store to look the session up.
    const sender = await server.connect('Sender');
    const reader = await server.connect('Reader');
    await reader.subscribe(room.id);
    await sender.post(room.id, 'before the outage');
    await reader.waitForMessages(room.id, 1);

    pgServer.stop();
    const clientMsgId = randomUUID();
    const send = { type: 'send', room: room.id, clientMsgId, body: 'during the outage' };
    const refused = expectFrame(await sender.request(send), 'error');
    assert.equal(refused.code, 'store_unavailable');
    assert.equal(refused.clientMsgId, clientMsgId, 'the refusal names the message, so the client keeps it');
    assert.equal(refused.room, room.id);
    assert.equal((await server.api('GET', '/readyz')).status, 503, 'not ready while the store is away');

    pgServer.start();
    assert.deepEqual(await rowsOf(clientMsgId), [], 'the refused send was not stored');
    assert.ok(!sender.frames.some((f) => f.type === 'ack' && f.clientMsgId === clientMsgId), 'and never acknowledged');
    assert.deepEqual(reader.messagesIn(room.id).map((m) => m.seq), [1], 'nor fanned out');
    assert.equal((await server.api('GET', '/readyz')).status, 200, 'ready again');

    // The client kept it and resends it with the same clientMsgId (the connection was kept): stored once.
    const ack = expectFrame(await sender.request(send), 'ack');
    assert.equal(ack.seq, 2);
    const again = expectFrame(await sender.request(send), 'ack');
    assert.deepEqual([again.messageId, again.seq], [ack.messageId, ack.seq], 'a second resend returns the same message');
    assert.deepEqual(await rowsOf(clientMsgId), [{ id: ack.messageId, seq: 2 }], 'one row');
    const got = await reader.waitForMessages(room.id, 2);
    assert.deepEqual(got.map((m) => [m.seq, m.clientMsgId]).slice(1), [[2, clientMsgId]]);
  } finally {
    try {
      await server?.close();
    } finally {
      pgServer.destroy();
    }
  }
});

test('the two stores\' migrations are kept in step: the same versions', async () => {
  const { POSTGRES_MIGRATIONS } = await import('../../src/store/postgres-migrations.js');
  const { SQLITE_MIGRATIONS } = await import('../../src/store/sqlite-migrations.js');
  assert.equal(POSTGRES_MIGRATIONS.length, SQLITE_MIGRATIONS.length);
});
