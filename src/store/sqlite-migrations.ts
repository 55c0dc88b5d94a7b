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
];
