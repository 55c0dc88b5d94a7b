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
];
