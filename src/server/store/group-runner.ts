// What runs one commit group (group-commit.ts schedules the groups): every
// operation of the group in one transaction, then one commit. [ACK-4] A
// result leaves only after the commit of the transaction that produced it
// [ACK-1], so a SendAck built from it is never early. A failed group rolls
// back entirely and every operation in it fails (the clients retry with the
// same client_msg_id [DUP-6]).
import Database from 'better-sqlite3'
import type { StoreOp, StoreResult } from '../../session/store-ops.js'
import { runOp } from './engine.js'
import { MemoryTables } from './memory-tables.js'
import { migrate } from './sqlite-schema.js'
import { SqliteTables } from './sqlite-tables.js'

export interface QueuedOp {
  id: number
  op: StoreOp
}
export type OpOutcome = { id: number; result: StoreResult } | { id: number; error: string }

export interface GroupRunner {
  /** Run the ops in one transaction, without committing. */
  execute(ops: QueuedOp[]): OpOutcome[]
  /** Make the executed group durable. Throws if it cannot (then the results must not be used). */
  commit(): void
  rollback(): void
  close(): void
}

export class MemoryRunner implements GroupRunner {
  private readonly tables = new MemoryTables()
  execute(ops: QueuedOp[]): OpOutcome[] {
    return ops.map(({ id, op }) => {
      try {
        return { id, result: runOp(this.tables, op) }
      } catch (err) {
        return { id, error: (err as Error).message }
      }
    })
  }
  commit(): void {}
  rollback(): void {}
  close(): void {}
}

export type Synchronous = 'FULL' | 'NORMAL'

export interface SqliteRunnerOptions {
  /** Database file path. */
  path: string
  synchronous?: Synchronous
}

export class SqliteRunner implements GroupRunner {
  readonly db: Database.Database
  private readonly tables: SqliteTables
  private readonly begin: Database.Statement
  private readonly commitStmt: Database.Statement
  private readonly rollbackStmt: Database.Statement
  readonly migrated: { from: number; to: number }

  constructor(opts: SqliteRunnerOptions) {
    this.db = new Database(opts.path)
    // WAL: readers never block the writer and a commit appends to one file.
    this.db.pragma('journal_mode = WAL')
    // synchronous=FULL fsyncs the WAL at every commit. With NORMAL a commit
    // is durable only after the next checkpoint: a power loss could drop
    // transactions whose SendAck is already out, breaking [ACK-1]. Group
    // commit pays one fsync per group, not per message, which is what makes
    // FULL affordable (docs/design/sqlite-durability.md).
    this.db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`)
    // Write amplification, measured (300k 64-byte messages in 2000-row
    // commits): the dedupe index has random keys [DUP-1], so a commit dirties
    // index pages all over the file, and with the default checkpoint every
    // 1000 pages nearly every commit also copied them into the database file
    // and fsynced it: 6.6 KB written per message. A 64 MiB threshold lets a
    // page rewritten by many commits be copied once: 4.0 KB per message.
    // journal_size_limit trims the WAL file back after each checkpoint.
    this.db.pragma('wal_autocheckpoint = 16384')
    this.db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`)
    this.db.pragma('busy_timeout = 5000')
    this.db.pragma('temp_store = MEMORY')
    this.db.pragma('cache_size = -65536') // 64 MiB page cache
    this.migrated = migrate(this.db)
    this.tables = new SqliteTables(this.db)
    this.begin = this.db.prepare('BEGIN IMMEDIATE')
    this.commitStmt = this.db.prepare('COMMIT')
    this.rollbackStmt = this.db.prepare('ROLLBACK')
  }

  execute(ops: QueuedOp[]): OpOutcome[] {
    this.begin.run()
    try {
      const out: OpOutcome[] = ops.map(({ id, op }) => ({ id, result: runOp(this.tables, op) }))
      this.tables.flush()
      return out
    } catch (err) {
      // Operations check before they write, so an exception here is the
      // backend failing (disk full, I/O error): nothing of the group stays.
      this.rollback()
      const message = (err as Error).message
      return ops.map(({ id }) => ({ id, error: message }))
    }
  }

  commit(): void {
    if (!this.db.inTransaction) return
    try {
      this.commitStmt.run()
    } catch (err) {
      this.rollback()
      throw err
    }
  }

  rollback(): void {
    if (this.db.inTransaction) this.rollbackStmt.run()
    this.tables.reset()
  }

  close(): void {
    if (this.db.inTransaction) this.rollback()
    this.db.close()
  }
}
