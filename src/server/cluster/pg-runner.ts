// One commit group on PostgreSQL (the GroupCommitLoop schedules groups, as
// for SQLite): BEGIN, lock what the group writes, run every operation with
// the shared engine, write the deferred updates, append the group's events
// to the commit log, COMMIT with synchronous_commit on. [ACK-1] [ACK-4]
//
// Locks, always in one order on every node (so nodes never deadlock on
// each other): the device rows of the group's sessions (FOR UPDATE: a
// session start bumps the generation, an older session's operations are
// fenced by it [RSM-6]), then the conversation rows the group writes, by id
// (FOR UPDATE: seq assignment is serialised per conversation [ORD-1], and
// two nodes' sends to one conversation commit in seq order), then the
// commit-log head, last, held only for the append and the commit. The head
// row also holds the change counter: a group takes its change numbers in the
// same UPDATE as its log position, so both are in commit order [INB-4].
// InboxRequests and SyncRequests, which report change numbers, run after
// the group's COMMIT, in a REPEATABLE READ READ ONLY transaction of their
// own that takes no lock (pg-tables.ts, "Change numbers"): they see the
// group's writes, as a client that sent them after its Sends expects.
//
// A group that still fails on a transient conflict (a deadlock through
// rows created inside it, a unique key taken by a concurrent transaction:
// two nodes creating one conversation id) is rolled back and run again:
// the engine checks before it writes, so a rerun is the same decision on
// newer data. A lost connection fails the group (its clients retry with
// the same client_msg_id [DUP-6]); the next group reconnects.
import Client from 'pg-native'
import type { StoreResult } from '../../session/store-ops.js'
import { runOp } from '../store/engine.js'
import type { GroupRunner, OpOutcome, QueuedOp } from '../store/group-runner.js'
import { deviceOf, type FencedOp, fencedResult } from './fencing.js'
import { encodeEvents, eventsOf } from './log-events.js'
import { migratePg } from './pg-schema.js'
import { type GroupKeys, PgTables, pgKey } from './pg-tables.js'
import type { LogQuery } from './pg-worker.js'

/**
 * Writes: their conversation row is locked before the group runs. MarkRead
 * too: it moves the user's read row, which the user's own Sends move as
 * well (own_after_read [RD-5]), and its notices must leave in read-position
 * order [RD-4]; the conversation lock orders both.
 */
const WRITES = new Set(['send', 'ack', 'addMembers', 'removeMembers', 'leave', 'create', 'markRead'])
/** Operations whose results carry change numbers: they run in a snapshot after the group. [INB-4] */
const REPORTS_CHANGES = new Set(['inbox', 'sync'])

const TRANSIENT = [/deadlock detected/, /could not serialize/, /duplicate key value violates unique constraint/]
const MAX_ATTEMPTS = 5

export interface PgRunnerOptions {
  url: string
}

export class PgRunner implements GroupRunner {
  private db: Client | null = null
  private tables: PgTables | null = null
  private inTx = false
  readonly migrated: { from: number; to: number }
  /** The last executed group's commit-log entry (null: nothing to fan out). */
  lastLog: { pos: number; payload: string } | null = null
  /** Transient conflicts retried so far (for tests and logs). */
  retries = 0

  constructor(private readonly opts: PgRunnerOptions) {
    const db = this.connect()
    this.migrated = migratePg(db)
  }

  private connect(): Client {
    if (this.db !== null) return this.db
    const db = new Client()
    db.connectSync(this.opts.url)
    // Durable before acknowledged, whatever the server's default. [ACK-1]
    db.querySync('SET synchronous_commit = on')
    db.querySync('SET client_min_messages = warning')
    db.querySync("SET lock_timeout = '10s'")
    this.db = db
    this.tables = new PgTables(db)
    return db
  }

  private disconnect(): void {
    try {
      this.db?.end()
    } catch {
      // already gone
    }
    this.db = null
    this.tables = null
    this.inTx = false
  }

  execute(ops: QueuedOp[]): OpOutcome[] {
    const reports = ops.filter(({ op }) => REPORTS_CHANGES.has(op.op))
    if (reports.length === 0) return this.retrying(ops, (o) => this.attempt(o))
    const writes = ops.filter(({ op }) => !REPORTS_CHANGES.has(op.op))
    const byId = new Map<number, OpOutcome>()
    if (writes.length > 0) {
      for (const o of this.retrying(writes, (o) => this.attempt(o))) byId.set(o.id, o)
      try {
        this.commit() // commit() after this execute() then finds no transaction
      } catch (err) {
        return ops.map(({ id }) => ({ id, error: `postgres: ${(err as Error).message.trim()}` }))
      }
    }
    const log = this.lastLog
    for (const o of this.retrying(reports, (o) => this.snapshotReads(o))) byId.set(o.id, o)
    this.lastLog = log
    return ops.map(({ id }) => byId.get(id) as OpOutcome)
  }

  /** Run `attempt` again on a transient conflict; any other failure fails every op. */
  private retrying(ops: QueuedOp[], attempt: (ops: QueuedOp[]) => OpOutcome[]): OpOutcome[] {
    for (let n = 1; ; n++) {
      try {
        return attempt(ops)
      } catch (err) {
        const message = (err as Error).message
        this.rollback()
        if (n < MAX_ATTEMPTS && TRANSIENT.some((re) => re.test(message))) {
          this.retries++
          continue
        }
        // Anything else may be a broken connection: start from a new one.
        this.disconnect()
        return ops.map(({ id }) => ({ id, error: `postgres: ${message.trim()}` }))
      }
    }
  }

  private attempt(ops: QueuedOp[]): OpOutcome[] {
    const db = this.connect()
    const t = this.tables as PgTables
    this.lastLog = null
    db.querySync('BEGIN')
    this.inTx = true
    t.begin()
    const devices: [string, string][] = []
    const keys: GroupKeys = { lock: [], sendSeqs: [], dedupe: [], readRows: [] }
    for (const { op } of ops) {
      if (op.op === 'send' || op.op === 'markRead') keys.readRows.push([op.conversationId, op.userId])
      const dev = deviceOf(op)
      if (dev !== null && (op.op === 'openDevice' || (op as FencedOp).generation !== undefined)) devices.push(dev)
      if (WRITES.has(op.op)) keys.lock.push((op as { conversationId: string }).conversationId)
      if (op.op === 'openDevice') for (const r of op.resume) keys.lock.push(r.conversationId)
      if (op.op === 'send') {
        keys.dedupe.push([op.userId, op.clientMsgId])
        if (op.sendSeq !== 0) keys.sendSeqs.push([op.userId, op.deviceId, op.conversationId])
      }
    }
    const generations = t.lockGenerations(devices)
    t.prepare(keys)
    const outcomes: OpOutcome[] = ops.map(({ id, op }) => {
      const g = (op as FencedOp).generation
      const dev = deviceOf(op)
      const k = dev === null ? '' : pgKey(...dev)
      if (g !== undefined && (t.generations.get(k) ?? generations.get(k)) !== g) {
        return { id, result: fencedResult(op) }
      }
      // A session start reads the log head first: every entry at or below it
      // is in the snapshot read after it (see OpenDeviceResult.livePosition).
      const livePosition = op.op === 'openDevice' ? t.logHead() : 0
      const result = runOp(t, op)
      if (op.op === 'openDevice' && result.ok) {
        return { id, result: { ...result, livePosition, generation: t.generations.get(k) } as unknown as StoreResult }
      }
      return { id, result }
    })
    const events = eventsOf(outcomes)
    const pos = t.flush(events.length > 0)
    if (pos !== null) {
      const payload = encodeEvents(events)
      db.querySync('INSERT INTO log (pos, payload) VALUES ($1, $2)', [pos, payload])
      this.lastLog = { pos, payload }
    }
    return outcomes
  }

  /**
   * InboxRequests and SyncRequests: one REPEATABLE READ snapshot, whose
   * head row gives their sync points. Reads: nothing to fence. [INB-4]
   */
  private snapshotReads(ops: QueuedOp[]): OpOutcome[] {
    const db = this.connect()
    const t = this.tables as PgTables
    db.querySync('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    this.inTx = true
    t.begin(true)
    const outcomes = ops.map(({ id, op }) => ({ id, result: runOp(t, op) }))
    db.querySync('COMMIT')
    this.inTx = false
    return outcomes
  }

  /** The follower's reads of the commit log (outside any group). */
  logQuery(q: LogQuery): { rows?: { pos: number; payload: string }[]; head?: number } {
    const db = this.connect()
    try {
      if (q.q === 'head') return { head: Number((db.querySync('SELECT pos FROM log_head')[0] as { pos: string }).pos) }
      if (q.q === 'prune') {
        db.querySync("DELETE FROM log WHERE at < now() - $1 * interval '1 millisecond'", [q.retentionMs])
        return {}
      }
      const rows = db.querySync('SELECT pos, payload FROM log WHERE pos > $1 ORDER BY pos LIMIT $2', [q.after, q.limit])
      return { rows: rows.map((r) => ({ pos: Number(r.pos), payload: r.payload as string })) }
    } catch (err) {
      this.disconnect()
      throw err
    }
  }

  commit(): void {
    if (!this.inTx || this.db === null) return
    try {
      this.db.querySync('COMMIT')
      this.inTx = false
    } catch (err) {
      // Outcome unknown (the connection broke during COMMIT): report failure.
      this.lastLog = null
      this.disconnect()
      throw err
    }
  }

  rollback(): void {
    if (this.inTx && this.db !== null) {
      try {
        this.db.querySync('ROLLBACK')
      } catch {
        this.disconnect()
      }
    }
    this.inTx = false
    this.lastLog = null
  }

  close(): void {
    this.rollback()
    this.disconnect()
  }
}
