/**
 * SQLite schema migrations, applied in order and recorded in `PRAGMA user_version`.
 * Append only: a released migration is never edited, so every database reaches the same schema.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  // 1: rooms and messages. `last_seq` on the room is the counter that makes `seq` gapless: it is bumped
  // in the same transaction as the insert. `name_key` is the case-folded name the uniqueness applies to.
  `
  CREATE TABLE rooms (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    room_id       INTEGER NOT NULL REFERENCES rooms (id),
    seq           INTEGER NOT NULL,
    author        TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    client_msg_id TEXT,
    created_at    INTEGER NOT NULL,
    UNIQUE (room_id, seq)
  );
  CREATE UNIQUE INDEX messages_room_client_msg_id
    ON messages (room_id, client_msg_id) WHERE client_msg_id IS NOT NULL;
  `,
  // 2: accounts. Users, sessions and API tokens (secrets stored only as SHA-256 hashes), room kinds and
  // owners, memberships, and the author's account on each message. Rooms from before accounts stay public.
  // `direct_key` (the sorted member ids) makes a direct conversation unique per set of people.
  `
  CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
  );
  CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT    NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX sessions_user ON sessions (user_id);
  CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
  );
  CREATE INDEX api_tokens_user ON api_tokens (user_id);
  ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'public' CHECK (kind IN ('public', 'private', 'direct'));
  ALTER TABLE rooms ADD COLUMN owner_id INTEGER REFERENCES users (id);
  ALTER TABLE rooms ADD COLUMN direct_key TEXT;
  CREATE UNIQUE INDEX rooms_direct_key ON rooms (direct_key) WHERE direct_key IS NOT NULL;
  CREATE TABLE room_members (
    room_id   INTEGER NOT NULL REFERENCES rooms (id),
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
  CREATE INDEX room_members_user ON room_members (user_id);
  ALTER TABLE messages ADD COLUMN author_id INTEGER REFERENCES users (id);
  `,
  // 3: receipts, unread counts, mentions, notification levels, private receipts and last seen (issue 5).
  // Cursors live on the membership row: one row per member and room, so moving a cursor is one UPDATE, and an
  // unread count is a range scan of messages after `read_seq` on the (room_id, seq) unique index.
  `
  ALTER TABLE room_members ADD COLUMN delivered_seq INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE room_members ADD COLUMN read_seq INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE room_members ADD COLUMN notify TEXT NOT NULL DEFAULT 'default'
    CHECK (notify IN ('default', 'all', 'mentions', 'nothing'));
  ALTER TABLE users ADD COLUMN private_receipts INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE users ADD COLUMN last_seen_at INTEGER;
  CREATE TABLE mentions (
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    seq     INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (room_id, seq, user_id)
  );
  CREATE INDEX mentions_user ON mentions (user_id, room_id, seq);
  `,
  // 4: edits, deletes, reactions, replies, attachments and full-text search (issue 6).
  // Edits, deletes and reaction changes are rows of the room's `seq` stream too (`kind` <> 'message', `target_id`
  // naming the message they changed, no text of their own): they keep `seq` order and resume carries them with
  // no second mechanism. The message row itself always holds the current state (body, edited_at, deleted_at).
  // The FTS5 index is external-content over `messages` and kept in step by triggers; a deleted message leaves it.
  // Its words are runs of letters and decimal digits (categories 'L* Nd'), exactly as PostgreSQL's search column
  // and src/chat/search-words.ts split text, so both stores find the same messages.
  `
  ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'message'
    CHECK (kind IN ('message', 'edit', 'delete', 'reaction'));
  ALTER TABLE messages ADD COLUMN target_id INTEGER REFERENCES messages (id);
  ALTER TABLE messages ADD COLUMN reply_to_id INTEGER REFERENCES messages (id);
  ALTER TABLE messages ADD COLUMN edited_at INTEGER;
  ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
  CREATE INDEX messages_room_author ON messages (room_id, author_id);
  -- Search by filters alone (a room or an author, maybe dates) reads these newest first and stops at the page.
  CREATE INDEX messages_room_created ON messages (room_id, created_at);
  CREATE INDEX messages_author_created ON messages (author_id, created_at);
  CREATE TABLE reactions (
    message_id INTEGER NOT NULL REFERENCES messages (id),
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
  );
  CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY,
    room_id       INTEGER NOT NULL REFERENCES rooms (id),
    uploader_id   INTEGER NOT NULL REFERENCES users (id),
    message_id    INTEGER REFERENCES messages (id),
    name          TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    storage_key   TEXT    NOT NULL UNIQUE,
    thumbnail_key TEXT,
    width         INTEGER,
    height        INTEGER,
    created_at    INTEGER NOT NULL
  );
  CREATE INDEX attachments_message ON attachments (message_id);
  CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 0 categories ''L* Nd'''
  );
  -- A plain FTS5 'delete' only adds a tombstone and leaves the old words in the index until segments merge;
  -- secure-delete removes them at once, so an edited or deleted message's old text is gone from the file.
  INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1);
  INSERT INTO messages_fts (rowid, body) SELECT id, body FROM messages WHERE kind = 'message';
  CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.kind = 'message' BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
  END;
  CREATE TRIGGER messages_fts_update AFTER UPDATE OF body, deleted_at ON messages
    WHEN old.kind = 'message' AND old.deleted_at IS NULL BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) SELECT new.id, new.body WHERE new.deleted_at IS NULL;
  END;
  `,
  // 5: the admin epoch: a counter the admin tool (`npm run admin`) moves after each change of access.
  // An instance whose channel layer the tool cannot reach (one instance without REDIS_URL) polls it and checks its
  // connections again when it moved (src/chat/admin-epoch.ts). One row.
  `
  CREATE TABLE admin_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
  );
  INSERT INTO admin_epoch (id, epoch) VALUES (1, 0);
  `,
];
