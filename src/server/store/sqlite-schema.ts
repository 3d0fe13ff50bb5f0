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
