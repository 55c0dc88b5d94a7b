/**
 * The Store's attachment records on both stores (real SQLite, real PostgreSQL): what createAttachment keeps
 * and getAttachment returns, and the link a message makes when it is sent with an upload.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { StoreConflictError, type NewAttachment, type Store } from '../../src/store/store.js';
import { freshDatabase } from '../helpers/postgres.js';

const dir = await mkdtemp(path.join(tmpdir(), 'confab-store-att-'));
after(() => rm(dir, { recursive: true, force: true }));

function attachmentContract(name: string, open: () => Promise<Store>): void {
  describe(`Store attachments: ${name}`, () => {
    const setup = async () => {
      const store = await open();
      const user = await store.createUser({ username: 'ana', usernameKey: 'ana', displayName: 'Ana', passwordHash: 'x', createdAt: 1 });
      const other = await store.createUser({ username: 'ben', usernameKey: 'ben', displayName: 'Ben', passwordHash: 'x', createdAt: 1 });
      const room = await store.createRoom({ name: 'files', nameKey: 'files', kind: 'private', ownerId: user.id, createdAt: 1 });
      const upload = (extra: Partial<NewAttachment> = {}): NewAttachment => ({
        roomId: room.id,
        uploaderId: user.id,
        name: 'photo.png',
        contentType: 'image/png',
        size: 12_345,
        storageKey: `${Math.random().toString(16).slice(2)}key`,
        thumbnailKey: 'thumbkey',
        width: 800,
        height: 600,
        createdAt: 1_700_000_000_123,
        ...extra,
      });
      return { store, user, other, room, upload };
    };

    test('createAttachment keeps every field, unsent (messageId null); getAttachment reads it back; a missing id is null', async () => {
      const { store, upload } = await setup();
      try {
        const input = upload({ thumbnailKey: `${Math.random()}t` });
        const created = await store.createAttachment(input);
        assert.ok(Number.isSafeInteger(created.id) && created.id > 0);
        const { storageKey, thumbnailKey, ...rest } = input;
        assert.deepEqual(created, { id: created.id, messageId: null, storageKey, thumbnailKey, ...rest });
        assert.deepEqual(await store.getAttachment(created.id), created);
        assert.equal(await store.getAttachment(created.id + 1000), null);
        const file = await store.createAttachment(upload({ name: 'notes.txt', contentType: 'text/plain', thumbnailKey: null, width: null, height: null }));
        assert.deepEqual(
          { thumbnailKey: file.thumbnailKey, width: file.width, height: file.height, type: file.contentType },
          { thumbnailKey: null, width: null, height: null, type: 'text/plain' },
        );
        assert.notEqual(file.id, created.id);
        // Sizes beyond 32 bits survive both dialects as numbers.
        const big = await store.createAttachment(upload({ size: 5 * 1024 ** 3 }));
        assert.equal((await store.getAttachment(big.id))!.size, 5 * 1024 ** 3);
      } finally {
        await store.close();
      }
    });

    test('a storage key is unique', async () => {
      const { store, upload } = await setup();
      try {
        await store.createAttachment(upload({ storageKey: 'same' }));
        await assert.rejects(store.createAttachment(upload({ storageKey: 'same' })));
      } finally {
        await store.close();
      }
    });

    test('sending a message with an upload links it once; another user\'s or an already sent upload is refused', async () => {
      const { store, user, other, room, upload } = await setup();
      try {
        const a = await store.createAttachment(upload());
        const sent = await store.insertMessage({
          roomId: room.id, authorId: user.id, author: 'Ana', body: '', clientMsgId: 'c1', createdAt: 2, attachmentIds: [a.id],
        });
        assert.equal((await store.getAttachment(a.id))!.messageId, sent.message.id);
        assert.deepEqual(sent.message.attachments.map((x) => x.id), [a.id]);
        await assert.rejects(
          store.insertMessage({ roomId: room.id, authorId: user.id, author: 'Ana', body: 'again', clientMsgId: 'c2', createdAt: 3, attachmentIds: [a.id] }),
          StoreConflictError,
        );
        const theirs = await store.createAttachment(upload({ uploaderId: other.id }));
        await assert.rejects(
          store.insertMessage({ roomId: room.id, authorId: user.id, author: 'Ana', body: 'x', clientMsgId: 'c3', createdAt: 4, attachmentIds: [theirs.id] }),
          StoreConflictError,
        );
        assert.equal((await store.getAttachment(theirs.id))!.messageId, null);
        assert.equal((await store.getRoom(room.id))!.lastSeq, 1, 'a refused send stores nothing');
      } finally {
        await store.close();
      }
    });

    test('deleteUnsentAttachments removes only unsent uploads made before the cutoff, a batch at a time', async () => {
      const { store, user, room, upload } = await setup();
      try {
        const old = [];
        for (let i = 0; i < 3; i++) old.push(await store.createAttachment(upload({ createdAt: 100 + i })));
        const fresh = await store.createAttachment(upload({ createdAt: 500 }));
        const sentOld = await store.createAttachment(upload({ createdAt: 50 }));
        await store.insertMessage({ roomId: room.id, authorId: user.id, author: 'Ana', body: '', clientMsgId: 's', createdAt: 60, attachmentIds: [sentOld.id] });
        const first = await store.deleteUnsentAttachments(400, 2);
        assert.deepEqual(first.map((a) => a.id), [old[0]!.id, old[1]!.id], 'oldest first, at most the limit');
        assert.equal(first[0]!.storageKey, old[0]!.storageKey, 'the records come back so their bytes can go');
        assert.deepEqual((await store.deleteUnsentAttachments(400, 2)).map((a) => a.id), [old[2]!.id]);
        assert.deepEqual(await store.deleteUnsentAttachments(400, 2), []);
        assert.ok(await store.getAttachment(fresh.id), 'a recent upload stays');
        assert.ok(await store.getAttachment(sentOld.id), 'a sent file stays however old');
      } finally {
        await store.close();
      }
    });
  });
}

let n = 0;
attachmentContract('SQLite', async () => {
  const store = new SqliteStore(path.join(dir, `att-${++n}.db`));
  await store.migrate();
  return store;
});

attachmentContract('PostgreSQL', async () => {
  // Each test gets an empty database, as the rows above reuse the same names.
  const db = await freshDatabase();
  const store = new PostgresStore(db.url);
  await store.migrate();
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await db.drop();
  };
  return store;
});
