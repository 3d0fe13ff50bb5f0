// Tables on PostgreSQL, for the shared engine (store/engine.ts): the same
// rules as the SQLite and memory stores, by construction. Synchronous
// (pg-native's libpq calls) because the engine is; it runs in the store
// worker thread, never on the event loop.
//
// Other nodes write the same rows, so nothing is cached across
// transactions: every cache here lives for one commit group (begin() clears
// it). A round trip costs ~0.1 ms and a statement ~80 µs of PostgreSQL CPU,
// so a group's work is a constant number of statements, not a few per
// message (bench:cluster measured six per message before this): prepare()
// locks and reads, in one statement each, every conversation row, member
// list, send sequence and dedupe key the group's operations will look at;
// the engine then runs on those; flush() writes the new messages and the
// small updates (top_seq, send_seq, cursors) in one statement each, with
// GREATEST so that nothing moves one of them backwards.
//
// Change numbers [INB-2] [INB-4] [INB-5]: a sync point must never let a
// change that commits later with a smaller number slip behind a client's
// point, so numbers must be handed out in commit order across nodes, which a
// sequence is not. They live in the log head row (log_head.change) and are
// taken with an UPDATE of that row, the last lock of the documented order
// (devices -> conversations -> log head, pg-runner.ts), held until COMMIT:
// transaction B can take numbers only after A, which took smaller ones, has
// committed (and become visible), so numbers are in commit order. A group
// that only writes does not know its numbers while its operations run:
// nextChange() hands out provisional ones (-1, -2, ...), and flush() takes
// the real block in the head UPDATE and writes the conversation and read
// rows with the provisional numbers mapped (base + k). Nothing in a
// writing operation's result carries a change number, so nothing provisional
// leaves the group. InboxRequest and SyncRequest, which report numbers, run
// in a REPEATABLE READ snapshot of their own (begin(true), pg-runner.ts) and
// read currentChange() from the head row in it: the snapshot holds the
// transaction that set that value, hence every one that took smaller
// numbers (each committed, and became visible, before the next could take
// the head row), and none that took larger ones (the head shows the latest
// committed taker, and a transaction's rows become visible at once). So the
// page holds every change numbered up to its point and no other [INB-4],
// without holding any lock.
//
// A new message's dedupe key was read by prepare() under the conversation
// lock, but the same key may be inserted meanwhile by another node into
// another conversation [DUP-3] [DUP-4]: flush()'s insert then skips it and
// throws a transient conflict, and the runner runs the group again, which
// reads the committed original.
import type Client from 'pg-native'
import type { ConversationKind } from '../../gen/es/imwire/v1/conversation_pb.js'
import type { StoredMessage } from '../../session/store-ops.js'
import {
  type ConversationRow,
  type ReadRow,
  type SyncItem,
  searchFirstAtOrAfter,
  type Tables,
} from '../store/tables.js'

type Row = Record<string, unknown>
const key = (...parts: string[]): string => parts.join('\u0000')
const COLS = 'conv, seq, message_id, sender_user, sender_device, client_msg_id, ts, content_type, body'

/** bytea parameter: libpq's text format, hex. */
export const bytea = (b: Uint8Array): string =>
  `\\x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

/** An array parameter literal (pg-native sends parameters as text). */
export function textArray(items: readonly (string | number)[]): string {
  return `{${items.map((s) => `"${String(s).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`
}

/** The deferred insert of a group's new messages found a dedupe key taken meanwhile. */
export class DedupeRace extends Error {
  constructor() {
    super('could not serialize: a dedupe key was taken by a concurrent transaction')
  }
}

function toMessage(r: Row): StoredMessage {
  const bytes = (v: unknown) => {
    const b = v as Buffer
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
  }
  return {
    conversationId: r.conv as string,
    seq: Number(r.seq),
    messageId: r.message_id as string,
    senderUserId: r.sender_user as string,
    senderDeviceId: r.sender_device as string,
    clientMsgId: bytes(r.client_msg_id),
    serverTimeMs: Number(r.ts),
    contentType: r.content_type as string,
    body: bytes(r.body),
  }
}

const CONV_COLS = 'id, kind, owner, title, epoch, top_seq, activity, changed, last_time_ms'

function toConversation(r: Row): ConversationRow {
  return {
    id: r.id as string,
    kind: Number(r.kind) as ConversationKind,
    owner: r.owner as string,
    title: r.title as string,
    epoch: Number(r.epoch),
    topSeq: Number(r.top_seq),
    activity: Number(r.activity),
    changed: Number(r.changed),
    lastTimeMs: Number(r.last_time_ms),
  }
}

function toReadRow(r: Row): ReadRow {
  return {
    readSeq: Number(r.read_seq),
    ownAfterRead: Number(r.own_after_read),
    changed: Number(r.changed),
    member: r.member === true || r.member === 't',
  }
}

/** What a group will touch, for prepare(). */
export interface GroupKeys {
  /** Conversations it writes: locked, in id order. */
  lock: string[]
  /** (user, device, conversation) send sequences it checks. */
  sendSeqs: [string, string, string][]
  /** (sender, client_msg_id) dedupe keys of its Sends. */
  dedupe: [string, Uint8Array][]
  /** (conversation, user) read rows its Sends and MarkReads move. [RD-5] */
  readRows: [string, string][]
}

export class PgTables implements Tables {
  private readonly convs = new Map<string, ConversationRow>()
  private readonly memberCache = new Map<string, { set: Set<string>; sorted: string[] | null }>()
  private readonly sendSeqs = new Map<string, number>()
  /** Per (user, device): every cursor of the device, loaded on first use in the group. */
  private readonly cursors = new Map<string, Map<string, number>>()
  /** Dedupe keys prepare() read: the committed message, or null for a free key. */
  private readonly dedupe = new Map<string, StoredMessage | null>()
  /** Messages of this group, inserted by flush(). */
  private readonly fresh = new Map<string, StoredMessage>()
  /** Conversations whose top_seq, activity, changed or last_time_ms await flush(). */
  private readonly dirtyConv = new Set<string>()
  /** Read rows read or written in this group; null: none exists. */
  private readonly readCache = new Map<string, ReadRow | null>()
  private readonly dirtyRead = new Map<string, [string, string]>()
  /** The group's block starts above this; null until flush() takes it (numbers taken are provisional). */
  private changeBase: number | null = null
  /** A read-only snapshot (InboxRequest, SyncRequest): currentChange() is the head's value in it. */
  private snapshot = false
  /** Change numbers taken in this group. */
  private taken = 0
  private readonly dirtySendSeq = new Map<string, [string, string, string, number]>()
  private readonly dirtyCursor = new Map<string, [string, string, string, number]>()
  private numbers: { next: number; end: number } = { next: 0, end: 0 }
  /** Generation of the last touchDevice in this group, per (user, device). */
  readonly generations = new Map<string, number>()
  /** Statements run (for tests and the benchmark's per-message cost). */
  statements = 0

  constructor(private readonly db: Client) {}

  private q(sql: string, params: unknown[] = []): Row[] {
    this.statements++
    return this.db.querySync(sql, params)
  }

  /** A new group: forget everything (other nodes may have written since). */
  begin(snapshot = false): void {
    this.snapshot = snapshot
    for (const m of [this.convs, this.memberCache, this.sendSeqs, this.cursors, this.dedupe, this.fresh]) m.clear()
    this.dirtyConv.clear()
    this.readCache.clear()
    this.dirtyRead.clear()
    this.changeBase = null
    this.taken = 0
    this.dirtySendSeq.clear()
    this.dirtyCursor.clear()
    this.generations.clear()
  }

  /** Lock the group's conversations (id order, one order on every node) and read what its operations will. */
  prepare(k: GroupKeys): void {
    const ids = [...new Set(k.lock)].sort()
    if (ids.length > 0) {
      const rows = this.q(`SELECT ${CONV_COLS} FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, [
        textArray(ids),
      ])
      for (const r of rows) this.convs.set(r.id as string, toConversation(r))
      const found = rows.map((r) => r.id as string)
      for (const id of found) this.memberCache.set(id, { set: new Set(), sorted: null })
      if (found.length > 0) {
        for (const r of this.q('SELECT conv, uid FROM members WHERE conv = ANY($1::text[])', [textArray(found)])) {
          this.memberCache.get(r.conv as string)?.set.add(r.uid as string)
        }
      }
    }
    const triples = [...new Map(k.sendSeqs.map((t) => [key(...t), t])).values()]
    if (triples.length > 0) {
      for (const t of triples) this.sendSeqs.set(key(...t), 0)
      const rows = this.q(
        `SELECT s.uid, s.device, s.conv, s.last_send_seq FROM send_seqs s
         JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(uid, device, conv)
           ON s.uid = k.uid AND s.device = k.device AND s.conv = k.conv`,
        [0, 1, 2].map((i) => textArray(triples.map((t) => t[i] as string))),
      )
      for (const r of rows) {
        this.sendSeqs.set(key(r.uid as string, r.device as string, r.conv as string), Number(r.last_send_seq))
      }
    }
    const keys = [...new Map(k.dedupe.map(([u, c]) => [key(u, hex(c)), [u, c] as const])).values()]
    if (keys.length > 0) {
      for (const [u, c] of keys) this.dedupe.set(key(u, hex(c)), null)
      const rows = this.q(
        `SELECT ${COLS} FROM messages m JOIN unnest($1::text[], $2::bytea[]) AS k(uid, cid)
           ON m.sender_user = k.uid AND m.client_msg_id = k.cid`,
        [textArray(keys.map(([u]) => u)), textArray(keys.map(([, c]) => bytea(c)))],
      )
      for (const r of rows) {
        const m = toMessage(r)
        this.dedupe.set(key(m.senderUserId, hex(m.clientMsgId)), m)
      }
    }
    const pairs = [...new Map(k.readRows.map((p) => [key(...p), p])).values()]
    if (pairs.length > 0) {
      // Read under the conversations' locks, which every writer of a read row holds.
      for (const p of pairs) this.readCache.set(key(...p), null)
      const rows = this.q(
        `SELECT r.conv, r.uid, r.read_seq, r.own_after_read, r.changed, r.member FROM read_state r
         JOIN unnest($1::text[], $2::text[]) AS k(conv, uid) ON r.conv = k.conv AND r.uid = k.uid`,
        [textArray(pairs.map((p) => p[0])), textArray(pairs.map((p) => p[1]))],
      )
      for (const r of rows) this.readCache.set(key(r.conv as string, r.uid as string), toReadRow(r))
    }
  }

  /**
   * Write the group's messages and deferred updates; inside the transaction,
   * before COMMIT. When the group takes change numbers or `appendLog`, the
   * log head is taken here (its UPDATE hands out the group's block of change
   * numbers and, with `appendLog`, the next log position, returned), after
   * every write that may wait on another transaction; what is written after
   * it are rows this group already holds (conversations locked by prepare(),
   * their read rows).
   */
  flush(appendLog: boolean): number | null {
    this.insertFresh()
    const upsert = (table: string, column: string, rows: [string, string, string, number][]) => {
      if (rows.length === 0) return
      this.q(
        `INSERT INTO ${table} (uid, device, conv, ${column})
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
         ON CONFLICT (uid, device, conv) DO UPDATE SET ${column} = GREATEST(${table}.${column}, excluded.${column})`,
        [0, 1, 2, 3].map((i) => textArray(rows.map((r) => r[i] as string | number))),
      )
    }
    upsert('send_seqs', 'last_send_seq', [...this.dirtySendSeq.values()])
    upsert('cursors', 'cursor', [...this.dirtyCursor.values()])
    let pos: number | null = null
    if (appendLog || this.taken > 0) {
      const head = this.q('UPDATE log_head SET pos = pos + $1, change = change + $2 RETURNING pos, change', [
        appendLog ? 1 : 0,
        this.taken,
      ])[0] as Row
      if (appendLog) pos = Number(head.pos)
      // Under the head lock: every number up to `change` is this group's or committed. [INB-4]
      this.changeBase = Number(head.change) - this.taken
    }
    this.writeRows()
    this.fresh.clear()
    this.dirtySendSeq.clear()
    this.dirtyCursor.clear()
    return pos
  }

  /** A change number as written: a provisional one (-k) mapped into the group's block. */
  private real(n: number): number {
    if (n >= 0) return n
    if (this.changeBase === null) throw new Error('a provisional change number before the log head was taken')
    return this.changeBase - n
  }

  /**
   * The deferred conversation and read-row writes, with real change numbers,
   * at flush().
   */
  private writeRows(): void {
    if (this.dirtyConv.size > 0) {
      const cs = [...this.dirtyConv].map((id) => this.convs.get(id) as ConversationRow)
      this.q(
        `UPDATE conversations c SET top_seq = GREATEST(c.top_seq, v.top), activity = GREATEST(c.activity, v.activity),
           changed = GREATEST(c.changed, v.changed), last_time_ms = GREATEST(c.last_time_ms, v.last)
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS v(id, top, activity, changed, last)
         WHERE c.id = v.id`,
        [
          textArray(cs.map((c) => c.id)),
          textArray(cs.map((c) => c.topSeq)),
          textArray(cs.map((c) => this.real(c.activity))),
          textArray(cs.map((c) => this.real(c.changed))),
          textArray(cs.map((c) => c.lastTimeMs)),
        ],
      )
      this.dirtyConv.clear()
    }
    if (this.dirtyRead.size > 0) {
      // Plain values, no GREATEST: own_after_read goes down on a MarkRead, and
      // every writer of a read row holds its conversation's row lock (send,
      // MarkRead and membership changes are locked by prepare()), so nothing
      // else wrote the row since this group read it.
      const rs = [...this.dirtyRead].map(([k, [conv, uid]]) => [conv, uid, this.readCache.get(k) as ReadRow] as const)
      this.q(
        `INSERT INTO read_state (conv, uid, read_seq, own_after_read, changed, member)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::boolean[])
         ON CONFLICT (conv, uid) DO UPDATE SET read_seq = excluded.read_seq, own_after_read = excluded.own_after_read,
           changed = excluded.changed, member = excluded.member`,
        [
          textArray(rs.map((r) => r[0])),
          textArray(rs.map((r) => r[1])),
          textArray(rs.map((r) => r[2].readSeq)),
          textArray(rs.map((r) => r[2].ownAfterRead)),
          textArray(rs.map((r) => this.real(r[2].changed))),
          textArray(rs.map((r) => String(r[2].member))),
        ],
      )
      this.dirtyRead.clear()
    }
  }

  /** Change numbers are reported only from a snapshot that wrote nothing. [INB-4] */
  private reporting(): void {
    if (!this.snapshot || this.fresh.size + this.dirtyConv.size + this.dirtyRead.size > 0) {
      throw new Error('change numbers reported outside a read-only snapshot')
    }
  }

  /**
   * Insert the group's new messages now: at the end of the group, and
   * before any read of messages, which must see them.
   */
  private insertFresh(): void {
    const msgs = [...this.fresh.values()]
    if (msgs.length > 0) {
      const col = <T extends string | number>(f: (m: StoredMessage) => T) => textArray(msgs.map(f))
      const inserted = this.q(
        `INSERT INTO messages (${COLS})
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::bigint[], $8::text[], $9::bytea[])
         ON CONFLICT (sender_user, client_msg_id) DO NOTHING RETURNING 1`,
        [
          col((m) => m.conversationId),
          col((m) => m.seq),
          col((m) => m.messageId),
          col((m) => m.senderUserId),
          col((m) => m.senderDeviceId),
          col((m) => bytea(m.clientMsgId)),
          col((m) => m.serverTimeMs),
          col((m) => m.contentType),
          col((m) => bytea(m.body)),
        ],
      )
      if (inserted.length !== msgs.length) throw new DedupeRace()
      for (const [k, m] of this.fresh) this.dedupe.set(k, m)
      this.fresh.clear()
    }
  }

  getConversation(id: string): ConversationRow | undefined {
    let c = this.convs.get(id)
    if (c === undefined) {
      const r = this.q(`SELECT ${CONV_COLS} FROM conversations WHERE id = $1`, [id])[0]
      if (r === undefined) return undefined
      c = toConversation(r)
      this.convs.set(id, c)
    }
    return { ...c }
  }
  insertConversation(row: ConversationRow): void {
    // Change numbers are written by flush() (they may be provisional here).
    this.q('INSERT INTO conversations (id, kind, owner, title, epoch, top_seq) VALUES ($1, $2, $3, $4, $5, $6)', [
      row.id,
      row.kind,
      row.owner,
      row.title,
      row.epoch,
      row.topSeq,
    ])
    this.convs.set(row.id, { ...row })
    this.dirtyConv.add(row.id)
    this.memberCache.set(row.id, { set: new Set(), sorted: [] })
  }
  setTopSeq(id: string, topSeq: number): void {
    if (this.getConversation(id) === undefined) return
    ;(this.convs.get(id) as ConversationRow).topSeq = topSeq
    this.dirtyConv.add(id)
  }
  setOwner(id: string, owner: string): void {
    this.q('UPDATE conversations SET owner = $1 WHERE id = $2', [owner, id])
    const c = this.convs.get(id)
    if (c !== undefined) c.owner = owner
  }
  private memberEntry(conv: string): { set: Set<string>; sorted: string[] | null } {
    let e = this.memberCache.get(conv)
    if (e === undefined) {
      const sorted = this.q('SELECT uid FROM members WHERE conv = $1 ORDER BY uid', [conv]).map((r) => r.uid as string)
      e = { set: new Set(sorted), sorted }
      this.memberCache.set(conv, e)
    }
    return e
  }
  members(conversationId: string): string[] {
    const e = this.memberEntry(conversationId)
    e.sorted ??= [...e.set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    return e.sorted
  }
  isMember(conversationId: string, userId: string): boolean {
    return this.memberEntry(conversationId).set.has(userId)
  }
  addMember(conversationId: string, userId: string): void {
    this.q('INSERT INTO members (conv, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING', [conversationId, userId])
    const e = this.memberEntry(conversationId)
    e.set.add(userId)
    e.sorted = null
  }
  removeMember(conversationId: string, userId: string): void {
    this.q('DELETE FROM members WHERE conv = $1 AND uid = $2', [conversationId, userId])
    const e = this.memberEntry(conversationId)
    e.set.delete(userId)
    e.sorted = null
  }
  userConversations(userId: string, afterId: string, limit: number): string[] {
    const rows = this.q('SELECT conv FROM members WHERE uid = $1 AND conv > $2 ORDER BY conv LIMIT $3', [
      userId,
      afterId,
      Math.min(limit, 2 ** 31 - 1),
    ])
    return rows.map((r) => r.conv as string)
  }
  findByClientMsgId(userId: string, clientMsgId: Uint8Array): StoredMessage | undefined {
    const k = key(userId, hex(clientMsgId))
    const mine = this.fresh.get(k)
    if (mine !== undefined) return mine
    const known = this.dedupe.get(k)
    if (known !== undefined) return known ?? undefined
    const r = this.q(`SELECT ${COLS} FROM messages WHERE sender_user = $1 AND client_msg_id = $2`, [
      userId,
      bytea(clientMsgId),
    ])[0]
    return r === undefined ? undefined : toMessage(r)
  }
  insertMessage(m: StoredMessage): boolean {
    // The key is free as of prepare() (or of this lookup); flush() inserts,
    // and a key taken meanwhile fails the group for a rerun. [DUP-1] [DUP-4]
    if (this.findByClientMsgId(m.senderUserId, m.clientMsgId) !== undefined) return false
    this.fresh.set(key(m.senderUserId, hex(m.clientMsgId)), m)
    return true
  }
  readForward(conversationId: string, afterSeq: number, upToSeq: number, limit: number): StoredMessage[] {
    this.insertFresh()
    return this.q(`SELECT ${COLS} FROM messages WHERE conv = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`, [
      conversationId,
      afterSeq,
      upToSeq,
      limit,
    ]).map(toMessage)
  }
  readBackward(conversationId: string, beforeSeq: number, limit: number): StoredMessage[] {
    this.insertFresh()
    return this.q(`SELECT ${COLS} FROM messages WHERE conv = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, [
      conversationId,
      beforeSeq,
      limit,
    ])
      .map(toMessage)
      .reverse()
  }
  readReplay(
    conversationId: string,
    afterSeq: number,
    upToSeq: number,
    limit: number,
    excludeUserId: string,
    excludeDeviceId: string,
  ): StoredMessage[] {
    this.insertFresh()
    return this.q(
      `SELECT ${COLS} FROM messages WHERE conv = $1 AND seq > $2 AND seq <= $3
       AND NOT (sender_user = $4 AND sender_device = $5) ORDER BY seq LIMIT $6`,
      [conversationId, afterSeq, upToSeq, excludeUserId, excludeDeviceId, limit],
    ).map(toMessage)
  }
  getSendSeq(userId: string, deviceId: string, conversationId: string): number {
    const k = key(userId, deviceId, conversationId)
    let v = this.sendSeqs.get(k)
    if (v === undefined) {
      const r = this.q('SELECT last_send_seq FROM send_seqs WHERE uid = $1 AND device = $2 AND conv = $3', [
        userId,
        deviceId,
        conversationId,
      ])[0]
      v = r === undefined ? 0 : Number(r.last_send_seq)
      this.sendSeqs.set(k, v)
    }
    return v
  }
  setSendSeq(userId: string, deviceId: string, conversationId: string, sendSeq: number): void {
    const k = key(userId, deviceId, conversationId)
    this.sendSeqs.set(k, sendSeq)
    this.dirtySendSeq.set(k, [userId, deviceId, conversationId, sendSeq])
  }
  private deviceCursors(userId: string, deviceId: string): Map<string, number> {
    const k = key(userId, deviceId)
    let m = this.cursors.get(k)
    if (m === undefined) {
      m = new Map()
      for (const r of this.q('SELECT conv, cursor FROM cursors WHERE uid = $1 AND device = $2', [userId, deviceId])) {
        m.set(r.conv as string, Number(r.cursor))
      }
      this.cursors.set(k, m)
    }
    return m
  }
  getCursor(userId: string, deviceId: string, conversationId: string): number {
    return this.deviceCursors(userId, deviceId).get(conversationId) ?? 0
  }
  setCursor(userId: string, deviceId: string, conversationId: string, cursor: number): void {
    this.deviceCursors(userId, deviceId).set(conversationId, cursor)
    this.dirtyCursor.set(key(userId, deviceId, conversationId), [userId, deviceId, conversationId, cursor])
  }
  nextMessageNumber(): number {
    // A block of 256 per nextval; numbers of a block this node never uses
    // (rollback, restart) are skipped, never reused. [ACK-5]
    if (this.numbers.next >= this.numbers.end) {
      const start = Number((this.q("SELECT nextval('message_numbers') AS n")[0] as Row).n)
      this.numbers = { next: start, end: start + 256 }
    }
    return this.numbers.next++
  }
  touchDevice(userId: string, deviceId: string, nowMs: number): void {
    // Every session start is a new generation of the device. [RSM-6]
    const r = this.q(
      `INSERT INTO devices (uid, device, last_seen, generation) VALUES ($1, $2, $3, 1)
       ON CONFLICT (uid, device) DO UPDATE SET last_seen = excluded.last_seen, generation = devices.generation + 1
       RETURNING generation`,
      [userId, deviceId, nowMs],
    )[0] as Row
    this.generations.set(key(userId, deviceId), Number(r.generation))
  }

  /** The last committed commit-log position. */
  logHead(): number {
    return Number((this.q('SELECT pos FROM log_head')[0] as Row).pos)
  }

  /** The devices' current generations, their rows locked until the group commits (fencing). */
  lockGenerations(pairs: [string, string][]): Map<string, number> {
    const out = new Map<string, number>()
    if (pairs.length === 0) return out
    const sorted = [...new Map(pairs.map((p) => [key(...p), p])).values()].sort((a, b) =>
      key(...a) < key(...b) ? -1 : 1,
    )
    const rows = this.q(
      `SELECT d.uid, d.device, d.generation FROM devices d
       JOIN unnest($1::text[], $2::text[]) AS k(uid, device) ON d.uid = k.uid AND d.device = k.device
       ORDER BY d.uid, d.device FOR UPDATE OF d`,
      [textArray(sorted.map((p) => p[0])), textArray(sorted.map((p) => p[1]))],
    )
    for (const r of rows) out.set(key(r.uid as string, r.device as string), Number(r.generation))
    return out
  }

  // Features read-state, inbox and history-time (the rules: store/read-state.ts).
  readonly tracksChanges = true
  currentChange(): number {
    this.reporting()
    this.changeBase ??= Number((this.q('SELECT change FROM log_head')[0] as Row).change)
    return this.changeBase
  }
  nextChange(): number {
    if (this.snapshot) throw new Error('a change in a read-only snapshot')
    return -++this.taken
  }
  setConversationChange(id: string, changed: number, activity: number | null, lastTimeMs: number | null): void {
    if (this.getConversation(id) === undefined) return
    const c = this.convs.get(id) as ConversationRow
    c.changed = changed
    if (activity !== null) c.activity = activity
    if (lastTimeMs !== null) c.lastTimeMs = lastTimeMs
    this.dirtyConv.add(id)
  }
  getReadRow(conversationId: string, userId: string): ReadRow | undefined {
    const k = key(conversationId, userId)
    let r = this.readCache.get(k)
    if (r === undefined) {
      const row = this.q(
        'SELECT read_seq, own_after_read, changed, member FROM read_state WHERE conv = $1 AND uid = $2',
        [conversationId, userId],
      )[0]
      r = row === undefined ? null : toReadRow(row)
      this.readCache.set(k, r)
    }
    return r === null ? undefined : { ...r }
  }
  putReadRow(conversationId: string, userId: string, row: ReadRow): void {
    const k = key(conversationId, userId)
    this.readCache.set(k, { ...row })
    this.dirtyRead.set(k, [conversationId, userId])
  }
  countOwnMessages(conversationId: string, userId: string, afterSeq: number, upToSeq: number): number {
    this.insertFresh()
    const r = this.q(
      'SELECT COUNT(*) AS n FROM messages WHERE conv = $1 AND sender_user = $2 AND seq > $3 AND seq <= $4',
      [conversationId, userId, afterSeq, upToSeq],
    )[0] as Row
    return Number(r.n)
  }
  countReaders(conversationId: string, seq: number, excludeUserId: string): number {
    // Rows this group wrote and has not flushed count from memory, the rest
    // from the table (one statement, whatever the group holds).
    const mine: string[] = []
    let n = 0
    for (const [k, [conv, uid]] of this.dirtyRead) {
      if (conv !== conversationId) continue
      mine.push(uid)
      const r = this.readCache.get(k) as ReadRow
      if (r.member && r.readSeq >= seq && uid !== excludeUserId) n++
    }
    const r = this.q(
      `SELECT COUNT(*) AS n FROM read_state WHERE conv = $1 AND member AND read_seq >= $2 AND uid <> $3
       AND NOT (uid = ANY($4::text[]))`,
      [conversationId, seq, excludeUserId, textArray(mine)],
    )[0] as Row
    return n + Number(r.n)
  }
  inboxConversations(userId: string, beforeActivity: number, limit: number): string[] {
    this.reporting()
    const rows = this.q(
      `SELECT c.id FROM read_state r JOIN conversations c ON c.id = r.conv
       WHERE r.uid = $1 AND r.member AND ($2 = 0 OR c.activity < $2) ORDER BY c.activity DESC LIMIT $3`,
      [userId, beforeActivity, Math.min(limit, 2 ** 31 - 1)],
    )
    return rows.map((r) => r.id as string)
  }
  changedConversations(userId: string, since: number, limit: number, withTombstones: boolean): SyncItem[] {
    this.reporting()
    const rows = this.q(
      `SELECT conv, member, change FROM (
         SELECT r.conv, r.member, CASE WHEN r.member THEN GREATEST(r.changed, c.changed) ELSE r.changed END AS change
         FROM read_state r JOIN conversations c ON c.id = r.conv
         WHERE r.uid = $1 AND (r.member OR $2)) AS i
       WHERE change > $3 ORDER BY change LIMIT $4`,
      [userId, withTombstones ? 'true' : 'false', since, Math.min(limit, 2 ** 31 - 1)],
    )
    return rows.map((r) => ({
      conversationId: r.conv as string,
      member: r.member === true || r.member === 't',
      change: Number(r.change),
    }))
  }
  firstSeqAtOrAfter(conversationId: string, timeMs: number, topSeq: number): number {
    this.insertFresh()
    return searchFirstAtOrAfter(
      (seq) => Number(this.q('SELECT ts FROM messages WHERE conv = $1 AND seq = $2', [conversationId, seq])[0]?.ts),
      timeMs,
      topSeq,
    )
  }
}

export { key as pgKey }
