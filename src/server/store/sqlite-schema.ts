// SQLite schema, created and migrated by the server itself. The schema
// version is PRAGMA user_version; each migration runs once, in order, in a
// transaction with the version bump, so a crash mid-migration leaves the old
// version intact.
import type Database from 'better-sqlite3'

/** Migration N (1-based) brings the schema from version N-1 to N. */
export const MIGRATIONS: string[] = [
  // 1: initial schema.
  `
  CREATE TABLE conversations (
    id      TEXT PRIMARY KEY,
    kind    INTEGER NOT NULL,
    owner   TEXT NOT NULL,
    title   TEXT NOT NULL,
    epoch   INTEGER NOT NULL,
    top_seq INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE members (
    conv TEXT NOT NULL,
    user TEXT NOT NULL,
    PRIMARY KEY (conv, user)
  ) WITHOUT ROWID;
  CREATE INDEX members_by_user ON members (user, conv);
  -- One row per message, stored once per conversation [FAN-4]. The unique
  -- (sender_user, client_msg_id) index IS the dedupe record [DUP-1]: it is
  -- written by the same INSERT, so message, seq and dedupe key commit
  -- together, and it is never deleted (the reference server keeps history),
  -- which outlives any dedupe window [DUP-5].
  CREATE TABLE messages (
    conv          TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    message_id    TEXT NOT NULL,
    sender_user   TEXT NOT NULL,
    sender_device TEXT NOT NULL,
    client_msg_id BLOB NOT NULL,
    ts            INTEGER NOT NULL,
    content_type  TEXT NOT NULL,
    body          BLOB NOT NULL,
    PRIMARY KEY (conv, seq)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX messages_dedupe ON messages (sender_user, client_msg_id);
  CREATE TABLE cursors (
    user   TEXT NOT NULL,
    device TEXT NOT NULL,
    conv   TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    PRIMARY KEY (user, device, conv)
  ) WITHOUT ROWID;
  CREATE TABLE send_seqs (
    user          TEXT NOT NULL,
    device        TEXT NOT NULL,
    conv          TEXT NOT NULL,
    last_send_seq INTEGER NOT NULL,
    PRIMARY KEY (user, device, conv)
  ) WITHOUT ROWID;
  -- Server-wide counters; 'message' numbers message ids [ACK-5].
  CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE devices (
    user      TEXT NOT NULL,
    device    TEXT NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (user, device)
  ) WITHOUT ROWID;
  `,
  // 2: features read-state, inbox and history-time (spec section 22, [HIS-10]).
  //
  // A server-wide change number ('change' counter) is taken by every commit
  // that is a change [INB-2]. A conversation's activity (its latest message's
  // change, or its creation's) orders the inbox; changed is its latest change
  // every member's sync reports; last_time_ms keeps server_time_ms
  // non-decreasing in seq [HIS-11].
  //
  // Existing data: conversations get distinct activity numbers 1..n in the
  // order of their latest message time (then id), and changed = activity;
  // existing members get read rows with read_seq 0, i.e. everything
  // unread, with their own-message counts computed (a join sets top_seq
  // [RD-2], but for history written before read positions existed nothing
  // says what the user saw, and "all unread" loses nothing).
  `
  ALTER TABLE conversations ADD COLUMN activity INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE conversations ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE conversations ADD COLUMN last_time_ms INTEGER NOT NULL DEFAULT 0;
  -- No index on messages for read state or time: every message's insert
  -- would pay for it. A MarkRead counts the user's own messages over the
  -- range it marks on the primary key (conv, seq) [RD-5]; the read count's
  -- sender and a time anchor's binary search are point reads by seq
  -- [RD-7] [HIS-10] [HIS-11].
  UPDATE conversations SET last_time_ms =
    COALESCE((SELECT MAX(ts) FROM messages m WHERE m.conv = conversations.id), 0);
  WITH ranked AS (SELECT id, ROW_NUMBER() OVER (ORDER BY last_time_ms, id) AS n FROM conversations)
  UPDATE conversations SET activity = ranked.n, changed = ranked.n FROM ranked WHERE ranked.id = conversations.id;
  INSERT INTO counters (name, value) SELECT 'change', COUNT(*) FROM conversations;
  -- One row per (conversation, user) ever a member [RD-2]; member = 0 is a
  -- tombstone kept so that sync reports the removal [INB-5].
  CREATE TABLE read_state (
    conv           TEXT NOT NULL,
    user           TEXT NOT NULL,
    read_seq       INTEGER NOT NULL,
    own_after_read INTEGER NOT NULL,
    changed        INTEGER NOT NULL,
    member         INTEGER NOT NULL,
    PRIMARY KEY (conv, user)
  ) WITHOUT ROWID;
  CREATE INDEX read_state_by_user ON read_state (user, conv);
  INSERT INTO read_state (conv, user, read_seq, own_after_read, changed, member)
    SELECT m.conv, m.user, 0,
      (SELECT COUNT(*) FROM messages x WHERE x.conv = m.conv AND x.sender_user = m.user), 0, 1
    FROM members m;
  `,
]

export const SCHEMA_VERSION = MIGRATIONS.length

/** Bring the database to SCHEMA_VERSION. Refuses a database from a newer server. */
export function migrate(db: Database.Database): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number
  if (from > SCHEMA_VERSION) {
    throw new Error(`database schema version ${from} is newer than this server's (${SCHEMA_VERSION})`)
  }
  for (let v = from; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string)
      db.pragma(`user_version = ${v + 1}`)
    })()
  }
  return { from, to: SCHEMA_VERSION }
}
