// PostgreSQL schema of cluster mode, created and migrated by the nodes
// themselves, versioned like the SQLite store's (sqlite-schema.ts): table
// imwire_schema holds the version; each migration runs once, in order, in a
// transaction with the version bump. Nodes starting at once serialise on an
// advisory lock, so exactly one of them migrates.
//
// Text keys are COLLATE "C": ids compare and sort by byte value, as the
// protocol requires (member order, conversation paging [HIS-5]).
import type Client from 'pg-native'

/** Migration N (1-based) brings the schema from version N-1 to N. */
export const PG_MIGRATIONS: string[] = [
  // 1: initial schema.
  `
  CREATE TABLE conversations (
    id      TEXT COLLATE "C" PRIMARY KEY,
    kind    INTEGER NOT NULL,
    owner   TEXT COLLATE "C" NOT NULL,
    title   TEXT NOT NULL,
    epoch   BIGINT NOT NULL,
    top_seq BIGINT NOT NULL
  );
  CREATE TABLE members (
    conv TEXT COLLATE "C" NOT NULL,
    uid  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (conv, uid)
  );
  CREATE INDEX members_by_user ON members (uid, conv);
  -- One row per message [FAN-4]; the unique (sender_user, client_msg_id)
  -- index is the dedupe record [DUP-1], written by the same INSERT in the
  -- same transaction as the message and its seq.
  CREATE TABLE messages (
    conv          TEXT COLLATE "C" NOT NULL,
    seq           BIGINT NOT NULL,
    message_id    TEXT NOT NULL,
    sender_user   TEXT COLLATE "C" NOT NULL,
    sender_device TEXT COLLATE "C" NOT NULL,
    client_msg_id BYTEA NOT NULL,
    ts            BIGINT NOT NULL,
    content_type  TEXT NOT NULL,
    body          BYTEA NOT NULL,
    PRIMARY KEY (conv, seq)
  );
  CREATE UNIQUE INDEX messages_dedupe ON messages (sender_user, client_msg_id);
  CREATE TABLE cursors (
    uid    TEXT COLLATE "C" NOT NULL,
    device TEXT COLLATE "C" NOT NULL,
    conv   TEXT COLLATE "C" NOT NULL,
    cursor BIGINT NOT NULL,
    PRIMARY KEY (uid, device, conv)
  );
  CREATE TABLE send_seqs (
    uid           TEXT COLLATE "C" NOT NULL,
    device        TEXT COLLATE "C" NOT NULL,
    conv          TEXT COLLATE "C" NOT NULL,
    last_send_seq BIGINT NOT NULL,
    PRIMARY KEY (uid, device, conv)
  );
  -- generation: bumped by every session start of the device; operations of
  -- an older session are fenced by it (docs/cluster.md, takeover). [RSM-6]
  CREATE TABLE devices (
    uid        TEXT COLLATE "C" NOT NULL,
    device     TEXT COLLATE "C" NOT NULL,
    last_seen  BIGINT NOT NULL,
    generation BIGINT NOT NULL,
    PRIMARY KEY (uid, device)
  );
  -- message_id numbers [ACK-5]: each nextval hands a node a block of 256.
  CREATE SEQUENCE message_numbers INCREMENT BY 256 START WITH 1;
  -- The commit log: one row per transaction that committed messages or
  -- membership changes, numbered in commit order (the one-row head is
  -- locked by each such transaction until it commits). Nodes follow it to
  -- deliver in commit order; Redis carries the same rows as a fast path.
  CREATE TABLE log_head (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    pos BIGINT NOT NULL
  );
  INSERT INTO log_head (pos) VALUES (0);
  CREATE TABLE log (
    pos        BIGINT PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    payload    TEXT NOT NULL
  );
  -- Every node prunes by age (cluster-store.ts): without this, each prune scans the log.
  CREATE INDEX log_by_time ON log (at);
  `,
  // 2: features read-state, inbox and history-time (spec section 22,
  // [HIS-10]), as SQLite's migration 2 (sqlite-schema.ts).
  //
  // The server-wide change number [INB-2] lives in the log head row
  // (log_head.change), beside the commit-log position: a transaction that
  // takes change numbers takes them there, in the same UPDATE that appends
  // its log entry, so change numbers, like positions, are handed out in
  // commit order across nodes (pg-tables.ts, "Change numbers"; a sequence
  // would not be). A conversation's activity orders the inbox, changed is
  // its latest change every member's sync reports, last_time_ms keeps
  // server_time_ms non-decreasing in seq [HIS-11].
  //
  // Existing data: conversations get distinct activity numbers 1..n in the
  // order of their latest message time (then id), changed = activity;
  // existing members get read rows at read_seq 0 (all unread: nothing says
  // what they saw) with their own-message counts [RD-5].
  `
  ALTER TABLE conversations ADD COLUMN activity BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE conversations ADD COLUMN changed BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE conversations ADD COLUMN last_time_ms BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE log_head ADD COLUMN change BIGINT NOT NULL DEFAULT 0;
  -- No index on messages for read state or time: every message's insert
  -- would pay for it. A MarkRead counts the user's own messages over the
  -- range it marks on the primary key (conv, seq) [RD-5]; the read count's
  -- sender and a time anchor's binary search are point reads by seq
  -- [RD-7] [HIS-10] [HIS-11].
  UPDATE conversations c SET last_time_ms = COALESCE((SELECT MAX(ts) FROM messages m WHERE m.conv = c.id), 0);
  WITH ranked AS (SELECT id, ROW_NUMBER() OVER (ORDER BY last_time_ms, id) AS n FROM conversations)
  UPDATE conversations c SET activity = ranked.n, changed = ranked.n FROM ranked WHERE ranked.id = c.id;
  UPDATE log_head SET change = (SELECT COUNT(*) FROM conversations);
  -- One row per (conversation, user) ever a member [RD-2]; member false is
  -- a tombstone kept so that sync reports the removal [INB-5]. Written only
  -- under the conversation's row lock (pg-runner.ts).
  CREATE TABLE read_state (
    conv           TEXT COLLATE "C" NOT NULL,
    uid            TEXT COLLATE "C" NOT NULL,
    read_seq       BIGINT NOT NULL,
    own_after_read BIGINT NOT NULL,
    changed        BIGINT NOT NULL,
    member         BOOLEAN NOT NULL,
    PRIMARY KEY (conv, uid)
  );
  -- Inbox and sync: a user's rows [INB-3] [INB-5].
  CREATE INDEX read_state_by_user ON read_state (uid, conv);
  INSERT INTO read_state (conv, uid, read_seq, own_after_read, changed, member)
    SELECT m.conv, m.uid, 0,
      (SELECT COUNT(*) FROM messages x WHERE x.conv = m.conv AND x.sender_user = m.uid), 0, TRUE
    FROM members m;
  `,
]

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length

/** Arbitrary constant for pg_advisory_xact_lock: "imwire migrate". */
const MIGRATE_LOCK = 0x1e5a_0001

/** Bring the database to PG_SCHEMA_VERSION. Refuses a database from a newer server. */
export function migratePg(db: Client): { from: number; to: number } {
  db.querySync('BEGIN')
  try {
    db.querySync('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK])
    db.querySync('CREATE TABLE IF NOT EXISTS imwire_schema (version INTEGER NOT NULL)')
    const row = db.querySync('SELECT version FROM imwire_schema')[0]
    if (row === undefined) db.querySync('INSERT INTO imwire_schema (version) VALUES (0)')
    const from = row === undefined ? 0 : Number(row.version)
    if (from > PG_SCHEMA_VERSION) {
      throw new Error(`database schema version ${from} is newer than this server's (${PG_SCHEMA_VERSION})`)
    }
    for (let v = from; v < PG_SCHEMA_VERSION; v++) db.querySync(PG_MIGRATIONS[v] as string)
    db.querySync('UPDATE imwire_schema SET version = $1', [PG_SCHEMA_VERSION])
    db.querySync('COMMIT')
    return { from, to: PG_SCHEMA_VERSION }
  } catch (err) {
    db.querySync('ROLLBACK')
    throw err
  }
}
