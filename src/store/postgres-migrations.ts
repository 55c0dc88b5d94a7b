/**
 * PostgreSQL schema migrations, kept in step with sqlite-migrations.ts: the same versions, the same tables
 * and constraints, in PostgreSQL's dialect. Applied in order under an advisory lock and recorded in
 * `schema_migrations`. Append only.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  // 1: rooms and messages (see sqlite-migrations.ts for why `last_seq` lives on the room).
  `
  CREATE TABLE rooms (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT   NOT NULL,
    name_key   TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_seq   BIGINT NOT NULL DEFAULT 0
  );
  CREATE TABLE messages (
    id            BIGSERIAL PRIMARY KEY,
    room_id       BIGINT NOT NULL REFERENCES rooms (id),
    seq           BIGINT NOT NULL,
    author        TEXT   NOT NULL,
    body          TEXT   NOT NULL,
    client_msg_id TEXT,
    created_at    BIGINT NOT NULL,
    UNIQUE (room_id, seq)
  );
  CREATE UNIQUE INDEX messages_room_client_msg_id
    ON messages (room_id, client_msg_id) WHERE client_msg_id IS NOT NULL;
  `,
  // 2: accounts, room kinds and members (see sqlite-migrations.ts).
  `
  CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    is_admin      BOOLEAN NOT NULL DEFAULT false,
    created_at    BIGINT  NOT NULL
  );
  CREATE TABLE sessions (
    id         BIGSERIAL PRIMARY KEY,
    token_hash TEXT   NOT NULL UNIQUE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX sessions_user ON sessions (user_id);
  CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    token_hash   TEXT   NOT NULL UNIQUE,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
  );
  CREATE INDEX api_tokens_user ON api_tokens (user_id);
  ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'public' CHECK (kind IN ('public', 'private', 'direct'));
  ALTER TABLE rooms ADD COLUMN owner_id BIGINT REFERENCES users (id);
  ALTER TABLE rooms ADD COLUMN direct_key TEXT;
  CREATE UNIQUE INDEX rooms_direct_key ON rooms (direct_key) WHERE direct_key IS NOT NULL;
  CREATE TABLE room_members (
    room_id   BIGINT NOT NULL REFERENCES rooms (id),
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
  CREATE INDEX room_members_user ON room_members (user_id);
  ALTER TABLE messages ADD COLUMN author_id BIGINT REFERENCES users (id);
  `,
  // 3: receipts, unread counts, mentions, notification levels, private receipts, last seen (see sqlite-migrations.ts).
  `
  ALTER TABLE room_members ADD COLUMN delivered_seq BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE room_members ADD COLUMN read_seq BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE room_members ADD COLUMN notify TEXT NOT NULL DEFAULT 'default'
    CHECK (notify IN ('default', 'all', 'mentions', 'nothing'));
  ALTER TABLE users ADD COLUMN private_receipts BOOLEAN NOT NULL DEFAULT false;
  ALTER TABLE users ADD COLUMN last_seen_at BIGINT;
  CREATE TABLE mentions (
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    seq     BIGINT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (room_id, seq, user_id)
  );
  CREATE INDEX mentions_user ON mentions (user_id, room_id, seq);
  `,
  // 4: edits, deletes, reactions, replies, attachments and full-text search (see sqlite-migrations.ts).
  // The search vector is a stored generated column ('simple' configuration: no stemming, like SQLite's
  // unicode61 tokenizer, so both stores match the same words); a deleted message or an event has none.
  // Words are runs of letters and decimal digits in all three places that split text (SQLite's tokenizer with
  // categories 'L* Nd', this expression, src/chat/search-words.ts): the body is lower-cased and every other
  // character made a space under the ICU root collation, so neither the database's locale nor the default
  // parser's URL, e-mail, host and hyphenated-word tokens decide what a word is ("example.com" indexes
  // 'example' and 'com', as SQLite does). ICU ships with every common PostgreSQL build.
  `
  ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'message'
    CHECK (kind IN ('message', 'edit', 'delete', 'reaction'));
  ALTER TABLE messages ADD COLUMN target_id BIGINT REFERENCES messages (id);
  ALTER TABLE messages ADD COLUMN reply_to_id BIGINT REFERENCES messages (id);
  ALTER TABLE messages ADD COLUMN edited_at BIGINT;
  ALTER TABLE messages ADD COLUMN deleted_at BIGINT;
  CREATE INDEX messages_room_author ON messages (room_id, author_id);
  -- Search by filters alone (a room or an author, maybe dates) reads these newest first and stops at the page.
  CREATE INDEX messages_room_created ON messages (room_id, created_at);
  CREATE INDEX messages_author_created ON messages (author_id, created_at);
  ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (
    CASE WHEN kind = 'message' AND deleted_at IS NULL
      THEN to_tsvector('simple', regexp_replace(lower(body COLLATE "und-x-icu"), '[^[:alnum:]]+', ' ', 'g')) END
  ) STORED;
  CREATE INDEX messages_search ON messages USING GIN (search);
  CREATE TABLE reactions (
    message_id BIGINT NOT NULL REFERENCES messages (id),
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
  );
  CREATE TABLE attachments (
    id            BIGSERIAL PRIMARY KEY,
    room_id       BIGINT  NOT NULL REFERENCES rooms (id),
    uploader_id   BIGINT  NOT NULL REFERENCES users (id),
    message_id    BIGINT  REFERENCES messages (id),
    name          TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          BIGINT  NOT NULL,
    storage_key   TEXT    NOT NULL UNIQUE,
    thumbnail_key TEXT,
    width         INTEGER,
    height        INTEGER,
    created_at    BIGINT  NOT NULL
  );
  CREATE INDEX attachments_message ON attachments (message_id);
  `,
  // 5: the admin epoch (see sqlite-migrations.ts).
  `
  CREATE TABLE admin_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT  NOT NULL
  );
  INSERT INTO admin_epoch (id, epoch) VALUES (1, 0);
  `,
];
