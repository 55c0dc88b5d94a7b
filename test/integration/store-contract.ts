/**
 * The Store contract: one suite every implementation must pass (SQLite now, PostgreSQL later).
 * `open` returns a fresh, migrated, empty store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NewMessage, NewRoom, Store, UserRecord } from '../../src/store/store.js';
import { StoreConflictError } from '../../src/store/store.js';

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await store.close();
    });

    let roomCounter = 0;
    const room = (name: string, extra: Partial<NewRoom> = {}): NewRoom => ({
      name,
      nameKey: name.toLowerCase(),
      kind: 'public',
      ownerId: null,
      createdAt: Date.now(),
      ...extra,
    });
    const newRoom = async (extra: Partial<NewRoom> = {}) => {
      const n = `room-${++roomCounter}-${Math.random().toString(36).slice(2, 8)}`;
      return store.createRoom(room(n, extra));
    };
    let userCounter = 0;
    const newUser = (prefix = 'user', displayName?: string): Promise<UserRecord> => {
      const username = `${prefix}${++userCounter}`;
      return store.createUser({
        username,
        usernameKey: username.toLowerCase(),
        displayName: displayName ?? username,
        passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g',
        createdAt: 1000 + userCounter,
      });
    };
    const send = (roomId: number, i: number, clientMsgId: string | null = null) =>
      store.insertMessage({ roomId, authorId: null, author: 'ana', body: `m${i}`, clientMsgId, createdAt: Date.now() });

    test('rooms: create, get, find by key, list public; duplicate key is a conflict', async () => {
      const r = await store.createRoom(room('General', { createdAt: 1000 }));
      assert.equal(r.name, 'General');
      assert.equal(r.kind, 'public');
      assert.equal(r.ownerId, null);
      assert.equal(r.lastSeq, 0);
      assert.equal(r.createdAt, 1000);
      assert.deepEqual(await store.getRoom(r.id), r);
      assert.deepEqual(await store.findRoomByKey('general'), r);
      assert.equal(await store.findRoomByKey('nope'), null);
      assert.equal(await store.getRoom(999_999), null);
      await assert.rejects(store.createRoom(room('GENERAL', { nameKey: 'general' })), StoreConflictError);
      assert.ok((await store.listPublicRooms()).some((x) => x.id === r.id));
    });

    test('rooms: an owned room has its owner as first member; private rooms are not listed as public', async () => {
      const owner = await newUser('owner');
      const priv = await newRoom({ kind: 'private', ownerId: owner.id });
      assert.equal(priv.kind, 'private');
      assert.equal(priv.ownerId, owner.id);
      assert.equal(await store.isMember(priv.id, owner.id), true);
      assert.deepEqual(
        (await store.listMembers(priv.id)).map((m) => m.userId),
        [owner.id],
      );
      assert.ok(!(await store.listPublicRooms()).some((x) => x.id === priv.id), 'private rooms are not public');
      const other = await newUser();
      await store.setRoomOwner(priv.id, other.id);
      assert.equal((await store.getRoom(priv.id))!.ownerId, other.id);
    });

    test('members: add is idempotent, remove says whether they were one, list carries names, by username', async () => {
      const r = await newRoom();
      const bea = await newUser('bea', 'Bea B');
      const al = await newUser('al', 'Al A');
      assert.equal(await store.isMember(r.id, bea.id), false);
      await store.addMember(r.id, bea.id, 10);
      await store.addMember(r.id, bea.id, 20);
      await store.addMember(r.id, al.id, 30);
      assert.equal(await store.isMember(r.id, bea.id), true);
      const members = await store.listMembers(r.id);
      assert.deepEqual(members, [
        { userId: al.id, username: al.username, displayName: 'Al A', joinedAt: 30 },
        { userId: bea.id, username: bea.username, displayName: 'Bea B', joinedAt: 10 },
      ]);
      assert.equal(await store.removeMember(r.id, bea.id), true);
      assert.equal(await store.removeMember(r.id, bea.id), false);
      assert.equal(await store.isMember(r.id, bea.id), false);
      assert.deepEqual((await store.listMembers(r.id)).map((m) => m.userId), [al.id]);
    });

    test('listUserRooms: exactly the rooms the user is a member of, every kind', async () => {
      const me = await newUser('me');
      const other = await newUser('other');
      const pub = await newRoom();
      const notMine = await newRoom();
      const priv = await newRoom({ kind: 'private', ownerId: me.id });
      const othersPrivate = await newRoom({ kind: 'private', ownerId: other.id });
      await store.addMember(pub.id, me.id, 1);
      await store.addMember(notMine.id, other.id, 1);
      const dm = await store.findOrCreateDirect([me.id, other.id], 5);
      const ids = (await store.listUserRooms(me.id)).map((r) => r.id).sort((a, b) => a - b);
      assert.deepEqual(ids, [pub.id, priv.id, dm.id].sort((a, b) => a - b));
      const theirs = (await store.listUserRooms(other.id)).map((r) => r.id).sort((a, b) => a - b);
      assert.deepEqual(theirs, [notMine.id, othersPrivate.id, dm.id].sort((a, b) => a - b));
      await store.removeMember(pub.id, me.id);
      assert.ok(!(await store.listUserRooms(me.id)).some((r) => r.id === pub.id));
    });

    test('findOrCreateDirect: one room per set of users, whatever the order; members are exactly the set', async () => {
      const [a, b, c] = [await newUser(), await newUser(), await newUser()];
      const ab = await store.findOrCreateDirect([a.id, b.id], 100);
      assert.equal(ab.kind, 'direct');
      assert.equal(ab.ownerId, null);
      assert.deepEqual(await store.findOrCreateDirect([b.id, a.id], 200), ab, 'the other side gets the same room');
      assert.deepEqual(await store.findOrCreateDirect([a.id, b.id, a.id], 300), ab, 'duplicates ignored');
      assert.deepEqual(
        (await store.listMembers(ab.id)).map((m) => m.userId).sort((x, y) => x - y),
        [a.id, b.id].sort((x, y) => x - y),
      );
      const abc = await store.findOrCreateDirect([c.id, a.id, b.id], 400);
      assert.notEqual(abc.id, ab.id, 'another set is another conversation');
      assert.deepEqual(await store.findOrCreateDirect([b.id, c.id, a.id], 500), abc);
      const bc = await store.findOrCreateDirect([b.id, c.id], 600);
      assert.ok(![ab.id, abc.id].includes(bc.id));
      assert.ok(!(await store.listPublicRooms()).some((r) => [ab.id, abc.id, bc.id].includes(r.id)), 'never public');
      // Concurrent calls on one connection, from both sides, still give one room.
      const [d, e] = [await newUser(), await newUser()];
      const rooms = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.findOrCreateDirect(i % 2 ? [d.id, e.id] : [e.id, d.id], i)),
      );
      assert.equal(new Set(rooms.map((r) => r.id)).size, 1);
    });

    test('users: create, get, find by case-folded key; duplicate key is a conflict; admin flag; password hash', async () => {
      const u = await store.createUser({
        username: 'Zoe_Q',
        usernameKey: 'zoe_q',
        displayName: 'Zoë Q',
        passwordHash: 'phc-1',
        createdAt: 42,
      });
      assert.deepEqual(u, {
        id: u.id,
        username: 'Zoe_Q',
        displayName: 'Zoë Q',
        passwordHash: 'phc-1',
        isAdmin: false,
        createdAt: 42,
        privateReceipts: false,
        lastSeenAt: null,
      });
      assert.deepEqual(await store.getUser(u.id), u);
      assert.deepEqual(await store.findUserByKey('zoe_q'), u);
      assert.equal(await store.findUserByKey('Zoe_Q'), null, 'the caller folds the key');
      assert.equal(await store.getUser(999_999), null);
      await assert.rejects(
        store.createUser({ username: 'ZOE_Q', usernameKey: 'zoe_q', displayName: 'x', passwordHash: 'p', createdAt: 1 }),
        StoreConflictError,
      );
      await store.setAdmin(u.id, true);
      assert.equal((await store.getUser(u.id))!.isAdmin, true);
      await store.setAdmin(u.id, false);
      assert.equal((await store.getUser(u.id))!.isAdmin, false);
      await store.setPasswordHash(u.id, 'phc-2');
      assert.equal((await store.getUser(u.id))!.passwordHash, 'phc-2');
      assert.ok((await store.listUsers()).some((x) => x.id === u.id));
    });

    test('searchUsers: prefix of username or display name, case-folded, limited; % and _ are literal', async () => {
      const mk = (username: string, displayName = username) =>
        store.createUser({ username, usernameKey: username.toLowerCase(), displayName, passwordHash: 'p', createdAt: 1 });
      const under = await mk('srch_one');
      const plain = await mk('srchxone');
      const pct = await mk('srch%two');
      const shown = await mk('zzz-other', 'Searchable Sam');
      const names = async (q: string, limit = 20) => (await store.searchUsers(q, limit)).map((u) => u.username);
      assert.deepEqual(await names('SRCH'), ['srch%two', 'srch_one', 'srchxone'].sort());
      assert.deepEqual(await names('srch_'), [under.username], '_ matches only itself, not any character');
      assert.deepEqual(await names('srch%'), [pct.username], '% matches only itself, not anything');
      assert.deepEqual(await names('%'), [], 'a lone % is not a wildcard');
      assert.deepEqual(await names('_'), [], 'a lone _ is not a wildcard');
      assert.deepEqual(await names('srchx'), [plain.username]);
      assert.deepEqual(await names('searchable'), [shown.username], 'display names are searched too');
      assert.deepEqual(await names('rch'), [], 'a prefix, not a substring');
      assert.equal((await names('srch', 2)).length, 2, 'limit applies');
      assert.deepEqual(await names('srch\\'), [], 'a backslash is literal too');
    });

    test('sessions: found by hash until expiry, extended, deleted one by one or all of a user', async () => {
      const u = await newUser();
      const other = await newUser();
      const s1 = await store.createSession('hash-1', u.id, 100, 1000);
      assert.deepEqual(s1, { id: s1.id, userId: u.id, createdAt: 100, expiresAt: 1000 });
      assert.deepEqual(await store.findSession('hash-1', 999), { session: s1, user: u }, 'with its user, in one look-up');
      assert.equal(await store.findSession('hash-1', 1000), null, 'expired at expiresAt');
      assert.equal(await store.findSession('hash-1', 5000), null);
      assert.equal(await store.findSession('unknown', 0), null);
      await store.extendSession(s1.id, 6000);
      assert.equal((await store.findSession('hash-1', 5000))?.session.expiresAt, 6000, 'extended');
      await assert.rejects(store.createSession('hash-1', u.id, 1, 2), StoreConflictError, 'token hashes are unique');

      await store.deleteSession(s1.id);
      assert.equal(await store.findSession('hash-1', 0), null, 'deleted');
      const s2 = await store.createSession('hash-2', u.id, 1, 10_000);
      const s3 = await store.createSession('hash-3', u.id, 1, 10_000);
      const kept = await store.createSession('hash-4', other.id, 1, 10_000);
      assert.deepEqual((await store.deleteUserSessions(u.id)).sort((a, b) => a - b), [s2.id, s3.id].sort((a, b) => a - b));
      assert.equal(await store.findSession('hash-2', 0), null);
      assert.equal(await store.findSession('hash-3', 0), null);
      assert.deepEqual(await store.findSession('hash-4', 0), { session: kept, user: other }, "another user's session is untouched");
      assert.deepEqual(await store.deleteUserSessions(u.id), [], 'nothing left');
    });

    test('API tokens: create, find by hash, list per user, touch, delete only by the owner', async () => {
      const u = await newUser();
      const other = await newUser();
      const t1 = await store.createApiToken('tok-1', u.id, 'bot', 50);
      assert.deepEqual(t1, { id: t1.id, userId: u.id, name: 'bot', createdAt: 50, lastUsedAt: null });
      const t2 = await store.createApiToken('tok-2', u.id, 'script', 60);
      await store.createApiToken('tok-3', other.id, 'theirs', 70);
      assert.deepEqual(await store.findApiToken('tok-1'), { token: t1, user: u }, 'with its user, in one look-up');
      assert.equal(await store.findApiToken('nope'), null);
      assert.deepEqual(await store.listApiTokens(u.id), [t1, t2]);
      await store.touchApiToken(t1.id, 99);
      assert.equal((await store.findApiToken('tok-1'))?.token.lastUsedAt, 99);
      assert.equal(await store.deleteApiToken(other.id, t1.id), false, "another user cannot delete it");
      assert.ok(await store.findApiToken('tok-1'));
      assert.equal(await store.deleteApiToken(u.id, t1.id), true);
      assert.equal(await store.deleteApiToken(u.id, t1.id), false);
      assert.equal(await store.findApiToken('tok-1'), null);
      assert.deepEqual((await store.listApiTokens(u.id)).map((t) => t.id), [t2.id]);
    });

    test('migrate is idempotent', async () => {
      await store.migrate();
      await store.migrate();
    });

    test('seq is gapless and unique under many concurrent sends', async () => {
      const room = await newRoom();
      const results = await Promise.all(Array.from({ length: 500 }, (_, i) => send(room.id, i, `c${i}`)));
      const seqs = results.map((r) => r.message.seq).sort((a, b) => a - b);
      assert.deepEqual(seqs, Array.from({ length: 500 }, (_, i) => i + 1));
      assert.ok(results.every((r) => r.created));
      assert.equal((await store.getRoom(room.id))!.lastSeq, 500);
      const all = await store.messagesAfter(room.id, 0, 1000);
      assert.deepEqual(
        all.map((m) => m.seq),
        seqs,
      );
    });

    test('seq counts per room: two rooms interleaved each count from 1', async () => {
      const a = await newRoom();
      const b = await newRoom();
      const out = await Promise.all([send(a.id, 1), send(b.id, 1), send(a.id, 2), send(b.id, 2), send(a.id, 3)]);
      assert.deepEqual(
        out.map((r) => [r.message.roomId === a.id ? 'a' : 'b', r.message.seq]).sort(),
        [['a', 1], ['a', 2], ['a', 3], ['b', 1], ['b', 2]],
      );
    });

    test('clientMsgId makes inserts idempotent, even when the retries race', async () => {
      const room = await newRoom();
      const first = await send(room.id, 1, 'same-id');
      assert.equal(first.created, true);
      const retries = await Promise.all([send(room.id, 2, 'same-id'), send(room.id, 3, 'same-id')]);
      for (const r of retries) {
        assert.equal(r.created, false);
        assert.deepEqual(r.message, first.message);
      }
      // The same id in another room is another message; no id at all never deduplicates.
      const other = await newRoom();
      assert.equal((await send(other.id, 1, 'same-id')).created, true);
      assert.equal((await send(room.id, 4, null)).message.seq, 2);
      assert.equal((await send(room.id, 5, null)).message.seq, 3);
      assert.equal((await store.messagesAfter(room.id, 0, 100)).length, 3);
    });

    test('a message for a missing room is refused and takes no seq', async () => {
      await assert.rejects(send(987_654, 1), StoreConflictError);
    });

    test('stored fields come back as written', async () => {
      const room = await newRoom();
      const body = 'multi\nline <b>not html</b> 🎉 \u202e';
      const ana = await newUser('ana', 'Ana María');
      const { message } = await store.insertMessage({
        roomId: room.id,
        authorId: ana.id,
        author: 'Ana María',
        body,
        clientMsgId: 'k1',
        createdAt: 1_700_000_000_123,
      });
      const [read] = await store.messagesAfter(room.id, 0, 10);
      assert.deepEqual(read, message);
      assert.equal(read!.body, body);
      assert.equal(read!.author, 'Ana María');
      assert.equal(read!.authorId, ana.id);
      assert.equal(read!.createdAt, 1_700_000_000_123);
      assert.equal(read!.clientMsgId, 'k1');
    });

    test('pagination: empty room', async () => {
      const room = await newRoom();
      assert.deepEqual(await store.messagesBefore(room.id, null, 50), []);
      assert.deepEqual(await store.messagesBefore(room.id, 10, 50), []);
      assert.deepEqual(await store.messagesAfter(room.id, 0, 50), []);
    });

    test('pagination: exactly one page, first and last pages, oldest first', async () => {
      const room = await newRoom();
      for (let i = 1; i <= 50; i++) await send(room.id, i);
      const newest = await store.messagesBefore(room.id, null, 50);
      assert.deepEqual(
        newest.map((m) => m.seq),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      assert.deepEqual(await store.messagesBefore(room.id, 1, 50), []);

      for (let i = 51; i <= 120; i++) await send(room.id, i);
      const last = await store.messagesBefore(room.id, null, 50);
      assert.deepEqual(
        last.map((m) => m.seq),
        Array.from({ length: 50 }, (_, i) => i + 71),
      );
      const middle = await store.messagesBefore(room.id, 71, 50);
      assert.deepEqual(
        middle.map((m) => m.seq),
        Array.from({ length: 50 }, (_, i) => i + 21),
      );
      const first = await store.messagesBefore(room.id, 21, 50);
      assert.deepEqual(
        first.map((m) => m.seq),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      const after = await store.messagesAfter(room.id, 100, 50);
      assert.deepEqual(
        after.map((m) => m.seq),
        Array.from({ length: 20 }, (_, i) => i + 101),
      );
      assert.deepEqual(await store.messagesAfter(room.id, 120, 50), []);
    });

    test('cursors: monotonic, clamped to lastSeq, read never above delivered; non-members get null', async () => {
      const [ana, ben, out] = [await newUser('cur'), await newUser('cur'), await newUser('cur')];
      const r = await newRoom({ ownerId: ana.id });
      await store.addMember(r.id, ben.id, 1);
      for (let i = 1; i <= 5; i++) await send(r.id, i);
      const zero = await store.moveCursors(r.id, ben.id, null, null);
      assert.deepEqual(zero?.after, { userId: ben.id, deliveredSeq: 0, readSeq: 0, privateReceipts: false });
      let move = await store.moveCursors(r.id, ben.id, 4, 2);
      assert.deepEqual([move?.before.deliveredSeq, move?.before.readSeq], [0, 0]);
      assert.deepEqual([move?.after.deliveredSeq, move?.after.readSeq], [4, 2]);
      move = await store.moveCursors(r.id, ben.id, 1, 1);
      assert.deepEqual([move?.after.deliveredSeq, move?.after.readSeq], [4, 2], 'never moves back');
      move = await store.moveCursors(r.id, ben.id, null, 5);
      assert.deepEqual([move?.after.deliveredSeq, move?.after.readSeq], [5, 5], 'delivered raised to read');
      move = await store.moveCursors(r.id, ben.id, 99, 99);
      assert.deepEqual([move?.after.deliveredSeq, move?.after.readSeq], [5, 5], 'clamped to lastSeq');
      assert.deepEqual([move?.lastSeq, move?.notify], [5, 'default'], 'where the room stood, and the member\'s level');
      await store.setNotifyLevel(r.id, ben.id, 'mentions');
      assert.equal((await store.moveCursors(r.id, ben.id, null, null))?.notify, 'mentions');
      assert.equal(await store.moveCursors(r.id, out.id, 1, 1), null);
      const cursors = await store.listCursors(r.id);
      assert.deepEqual(
        cursors.map((c) => [c.userId, c.deliveredSeq, c.readSeq]),
        [[ben.id, 5, 5]],
        'a member whose cursors never moved is left out',
      );
      await store.setPrivateReceipts(ben.id, true);
      assert.equal((await store.listCursors(r.id)).find((c) => c.userId === ben.id)?.privateReceipts, true);
      assert.equal((await store.getUser(ben.id))?.privateReceipts, true);
    });

    test('mentions are stored with the message and counted in unread summaries, own messages are not unread', async () => {
      const [ana, ben] = [await newUser('men'), await newUser('men')];
      const r = await newRoom({ ownerId: ana.id });
      await store.addMember(r.id, ben.id, 1);
      const post = (authorId: number, body: string, mentions: number[] = []) =>
        store.insertMessage({ roomId: r.id, authorId, author: 'x', body, clientMsgId: null, createdAt: 5, mentions });
      const first = await post(ana.id, 'hi @ben', [ben.id]);
      assert.deepEqual(first.message.mentions, [ben.id]);
      await post(ana.id, 'plain');
      await post(ben.id, 'mine');
      await post(ana.id, 'again @ben', [ben.id]);
      const page = await store.messagesAfter(r.id, 0, 10);
      assert.deepEqual(page.map((m) => m.mentions), [[ben.id], [], [], [ben.id]]);
      assert.deepEqual((await store.messagesBefore(r.id, null, 1))[0]?.mentions, [ben.id]);
      let [summary] = await store.unreadSummaries(ben.id, r.id);
      assert.deepEqual(summary, { roomId: r.id, lastSeq: 4, readSeq: 0, unread: 3, mentions: 2, notify: 'default' });
      await store.moveCursors(r.id, ben.id, null, 1);
      [summary] = await store.unreadSummaries(ben.id, r.id);
      assert.deepEqual([summary?.unread, summary?.mentions], [2, 1]);
      assert.ok((await store.unreadSummaries(ben.id)).some((s) => s.roomId === r.id));
      assert.equal((await store.unreadSummaries(ana.id, r.id))[0]?.unread, 1, "ben's own message is unread for ana only");
      // An idempotent retry returns the stored mentions.
      const again = await store.insertMessage({
        roomId: r.id, authorId: ana.id, author: 'x', body: 'k', clientMsgId: 'men-k', createdAt: 5, mentions: [ben.id],
      });
      const retry = await store.insertMessage({
        roomId: r.id, authorId: ana.id, author: 'x', body: 'k', clientMsgId: 'men-k', createdAt: 5, mentions: [ben.id],
      });
      assert.equal(retry.created, false);
      assert.deepEqual(retry.message, again.message);
    });

    test('notify level, last seen and peers', async () => {
      const [ana, ben, cy] = [await newUser('nl'), await newUser('nl'), await newUser('nl')];
      const r = await newRoom({ ownerId: ana.id });
      await store.addMember(r.id, ben.id, 1);
      assert.equal(await store.setNotifyLevel(r.id, ben.id, 'mentions'), true);
      assert.equal(await store.setNotifyLevel(r.id, cy.id, 'all'), false);
      assert.equal((await store.unreadSummaries(ben.id, r.id))[0]?.notify, 'mentions');
      assert.equal((await store.getUser(ana.id))?.lastSeenAt, null);
      await store.setLastSeen(ana.id, 12345);
      assert.equal((await store.getUser(ana.id))?.lastSeenAt, 12345);
      assert.deepEqual((await store.roomMemberPages([r.id], 10)).get(r.id), [
        { userId: ana.id, lastSeenAt: 12345 },
        { userId: ben.id, lastSeenAt: null },
      ]);
      assert.deepEqual(await store.memberRoomIds(cy.id), []);
    });

    test('the admin epoch moves by one with each bump', async () => {
      const start = await store.adminEpoch();
      await store.bumpAdminEpoch();
      await store.bumpAdminEpoch();
      assert.equal(await store.adminEpoch(), start + 2);
    });

    test('room member pages: by id, the lowest `limit` of each room, every room asked for; member room ids', async () => {
      const [me, p1, p2, p3, p4, p5] = [await newUser('pe'), await newUser('pe'), await newUser('pe'), await newUser('pe'), await newUser('pe'), await newUser('pe')];
      const a = await newRoom({ ownerId: p5.id });
      const b = await newRoom({ ownerId: p4.id });
      // Added out of id order: the page is by id, not by joining.
      for (const u of [p3, me]) await store.addMember(a.id, u.id, 1);
      for (const u of [p2, me, p5, p1]) await store.addMember(b.id, u.id, 1);
      const ids = async (limit: number) =>
        [...(await store.roomMemberPages([a.id, b.id, 987_654], limit))].map(([room, page]) => [room, page.map((p) => p.userId)]);
      assert.deepEqual(await ids(10), [[a.id, [me.id, p3.id, p5.id]], [b.id, [me.id, p1.id, p2.id, p4.id, p5.id]], [987_654, []]]);
      assert.deepEqual(await ids(2), [[a.id, [me.id, p3.id]], [b.id, [me.id, p1.id]], [987_654, []]]);
      assert.deepEqual((await store.memberRoomIds(me.id)).sort((x, y) => x - y), [a.id, b.id].sort((x, y) => x - y));
      assert.deepEqual(await store.memberRoomIds(p3.id), [a.id]);
      assert.equal((await store.roomMemberPages([], 10)).size, 0);
    });

    const post = (roomId: number, author: UserRecord, body: string, extra: Partial<NewMessage> = {}) =>
      store
        .insertMessage({ roomId, authorId: author.id, author: author.displayName, body, clientMsgId: null, createdAt: Date.now(), ...extra })
        .then((r) => r.message);
    const upload = (roomId: number, uploader: UserRecord, name = 'a.txt') =>
      store.createAttachment({
        roomId,
        uploaderId: uploader.id,
        name,
        contentType: 'text/plain',
        size: 3,
        storageKey: `key-${Math.random().toString(36).slice(2)}`,
        thumbnailKey: null,
        width: null,
        height: null,
        createdAt: Date.now(),
      });

    test('edits take the next seq as a change row; the message holds the present text, mentions follow', async () => {
      const [ana, ben] = [await newUser('ed'), await newUser('ed')];
      const r = await newRoom({ ownerId: ana.id });
      await store.addMember(r.id, ben.id, 1);
      const m = await post(r.id, ana, 'helo @x', { mentions: [ben.id] });
      const result = await store.editMessage({ roomId: r.id, messageId: m.id, body: 'hello', mentions: [], actorId: ana.id, actor: 'Ana', at: 5 });
      assert.ok(result?.event);
      assert.equal(result.event.seq, m.seq + 1);
      assert.equal(result.event.kind, 'edit');
      assert.equal(result.event.targetId, m.id);
      assert.equal(result.event.body, '', 'a change row has no text of its own');
      assert.equal(result.event.target?.body, 'hello');
      assert.equal(result.message.editedAt, 5);
      assert.deepEqual(result.message.mentions, []);
      assert.equal((await store.getRoom(r.id))?.lastSeq, m.seq + 1);
      assert.equal((await store.unreadSummaries(ben.id, r.id))[0]?.mentions, 0, 'the mention went with the old text');
      const same = await store.editMessage({ roomId: r.id, messageId: m.id, body: 'hello', mentions: [], actorId: ana.id, actor: 'Ana', at: 6 });
      assert.equal(same?.event, null, 'the same text changes nothing');
      assert.equal(await store.editMessage({ roomId: r.id + 1000, messageId: m.id, body: 'x', mentions: [], actorId: ana.id, actor: 'Ana', at: 7 }), null);

      const before = await store.messagesBefore(r.id, null, 10);
      assert.deepEqual(before.map((x) => [x.kind, x.body]), [['message', 'hello']], 'history pages list messages only');
      const after = await store.messagesAfter(r.id, 0, 10);
      assert.deepEqual(after.map((x) => x.kind), ['message', 'edit'], 'the replay path lists every row');
      assert.equal(after[1]?.target?.id, m.id);
      assert.equal((await store.unreadSummaries(ben.id, r.id))[0]?.unread, 1, 'a change is never unread');
    });

    test('deletes empty the message (mentions, reactions, files) once; replies see it', async () => {
      const [ana, ben] = [await newUser('dl'), await newUser('dl')];
      const r = await newRoom({ ownerId: ana.id });
      const file = await upload(r.id, ana);
      const m = await post(r.id, ana, 'secret words', { mentions: [ben.id], attachmentIds: [file.id] });
      assert.deepEqual(m.attachments.map((a) => a.id), [file.id]);
      assert.equal(m.attachments[0]?.messageId, m.id);
      const reply = await post(r.id, ben, 're', { replyToId: m.id });
      assert.deepEqual(reply.replyTo, { id: m.id, seq: m.seq, authorId: ana.id, author: ana.displayName, excerpt: 'secret words', deleted: false });
      await store.setReaction({ roomId: r.id, messageId: m.id, userId: ben.id, actor: 'Ben', emoji: '👍', on: true, at: 1 });

      const result = await store.deleteMessage({ roomId: r.id, messageId: m.id, actorId: ana.id, actor: 'Ana', at: 9 });
      assert.ok(result?.event);
      assert.equal(result.event.kind, 'delete');
      assert.deepEqual(result.removedAttachments.map((a) => a.storageKey), [file.storageKey], 'the caller removes the bytes');
      const gone = await store.getMessage(r.id, m.id);
      assert.equal(gone?.deletedAt, 9);
      assert.equal(gone?.body, '');
      assert.deepEqual([gone?.mentions, gone?.reactions, gone?.attachments], [[], [], []]);
      assert.equal(await store.getAttachment(file.id), null);
      const again = await store.deleteMessage({ roomId: r.id, messageId: m.id, actorId: ana.id, actor: 'Ana', at: 10 });
      assert.equal(again?.event, null);
      assert.equal(await store.editMessage({ roomId: r.id, messageId: m.id, body: 'x', mentions: [], actorId: ana.id, actor: 'Ana', at: 11 }), null);
      assert.equal(await store.setReaction({ roomId: r.id, messageId: m.id, userId: ben.id, actor: 'Ben', emoji: '👍', on: true, at: 12 }), null);
      const [, quoted] = await store.messagesBefore(r.id, null, 10);
      assert.deepEqual(quoted?.replyTo, { id: m.id, seq: m.seq, authorId: ana.id, author: ana.displayName, excerpt: '', deleted: true });
    });

    test('reactions: set semantics per user and emoji, in order of use; only changes take a seq', async () => {
      const [ana, ben] = [await newUser('rx'), await newUser('rx')];
      const r = await newRoom();
      const m = await post(r.id, ana, 'hi');
      const set = (user: UserRecord, emoji: string, on: boolean, at: number) =>
        store.setReaction({ roomId: r.id, messageId: m.id, userId: user.id, actor: user.displayName, emoji, on, at });
      assert.ok((await set(ben, '🎉', true, 1))?.event);
      assert.ok((await set(ana, '👍', true, 2))?.event);
      assert.ok((await set(ana, '🎉', true, 3))?.event);
      assert.equal((await set(ana, '🎉', true, 4))?.event, null, 'twice is once');
      assert.equal((await set(ben, '👍', false, 5))?.event, null, 'taking back what is not there changes nothing');
      const now = (await set(ben, '🎉', false, 6))!;
      // Ordered by their earliest standing reaction: Ben's 🎉 (1) is gone, so Ana's 👍 (2) comes before her 🎉 (3).
      assert.deepEqual(now.message.reactions, [
        { emoji: '👍', userIds: [ana.id] },
        { emoji: '🎉', userIds: [ana.id] },
      ]);
      assert.equal((await store.getRoom(r.id))?.lastSeq, m.seq + 4, 'four changes, four seqs');
    });

    test('attachments link once, only to their uploader\'s message in their room, or nothing is stored', async () => {
      const [ana, ben] = [await newUser('at'), await newUser('at')];
      const r = await newRoom();
      const other = await newRoom();
      const mine = await upload(r.id, ana, 'report.pdf');
      assert.equal((await store.getAttachment(mine.id))?.name, 'report.pdf');
      assert.equal((await store.getAttachment(mine.id))?.messageId, null);
      const bens = await upload(r.id, ben);
      const elsewhere = await upload(other.id, ana);
      for (const id of [bens.id, elsewhere.id]) {
        await assert.rejects(post(r.id, ana, 'x', { attachmentIds: [mine.id, id] }), StoreConflictError);
      }
      assert.equal((await store.getRoom(r.id))?.lastSeq, 0, 'a refused attachment stores nothing (its seq is given back)');
      assert.equal((await store.getAttachment(mine.id))?.messageId, null);
      const sent = await post(r.id, ana, '', { attachmentIds: [mine.id] });
      assert.equal(sent.attachments[0]?.name, 'report.pdf');
      await assert.rejects(post(r.id, ana, 'again', { attachmentIds: [mine.id] }), StoreConflictError, 'sent once');
      await assert.rejects(post(r.id, ana, 'x', { replyToId: (await post(other.id, ana, 'there')).id }), StoreConflictError);
    });

    test('ping answers', async () => {
      await store.ping();
    });
  });
}
