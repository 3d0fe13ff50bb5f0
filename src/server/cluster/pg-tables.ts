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
// A new message's dedupe key was read by prepare() under the conversation
// lock, but the same key may be inserted meanwhile by another node into
// another conversation [DUP-3] [DUP-4]: flush()'s insert then skips it and
// throws a transient conflict, and the runner runs the group again, which
// reads the committed original.
import type Client from 'pg-native'
import type { ConversationKind } from '../../gen/es/imwire/v1/conversation_pb.js'
import type { StoredMessage } from '../../session/store-ops.js'
import type { ConversationRow, ReadRow, SyncItem, Tables } from '../store/tables.js'

type Row = Record<string, unknown>
const key = (...parts: string[]): string => parts.join('\u0000')
const COLS = 'conv, seq, message_id, sender_user, sender_device, client_msg_id, ts, content_type, body'

/** bytea parameter: libpq's text format, hex. */
export const bytea = (b: Uint8Array): string => `\\x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`
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

function toConversation(r: Row): ConversationRow {
  return {
    id: r.id as string,
    kind: Number(r.kind) as ConversationKind,
    owner: r.owner as string,
    title: r.title as string,
    epoch: Number(r.epoch),
    topSeq: Number(r.top_seq),
    // Not tracked by the cluster store yet (tracksChanges is false).
    activity: 0,
    changed: 0,
    lastTimeMs: 0,
  }
}

const notYet = (): never => {
  throw new Error('not supported by the cluster store yet')
}

/** What a group will touch, for prepare(). */
export interface GroupKeys {
  /** Conversations it writes: locked, in id order. */
  lock: string[]
  /** (user, device, conversation) send sequences it checks. */
  sendSeqs: [string, string, string][]
  /** (sender, client_msg_id) dedupe keys of its Sends. */
  dedupe: [string, Uint8Array][]
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
  private readonly dirtyTop = new Map<string, number>()
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
  begin(): void {
    for (const m of [this.convs, this.memberCache, this.sendSeqs, this.cursors, this.dedupe, this.fresh]) m.clear()
    this.dirtyTop.clear()
    this.dirtySendSeq.clear()
    this.dirtyCursor.clear()
    this.generations.clear()
  }

  /** Lock the group's conversations (id order, one order on every node) and read what its operations will. */
  prepare(k: GroupKeys): void {
    const ids = [...new Set(k.lock)].sort()
    if (ids.length > 0) {
      const rows = this.q(
        'SELECT id, kind, owner, title, epoch, top_seq FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
        [textArray(ids)],
      )
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
  }

  /** Write the group's messages and deferred updates; inside the transaction, before COMMIT. */
  flush(): void {
    this.insertFresh()
    if (this.dirtyTop.size > 0) {
      this.q(
        `UPDATE conversations c SET top_seq = GREATEST(c.top_seq, v.top)
         FROM unnest($1::text[], $2::bigint[]) AS v(id, top) WHERE c.id = v.id`,
        [textArray([...this.dirtyTop.keys()]), textArray([...this.dirtyTop.values()])],
      )
    }
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
    this.fresh.clear()
    this.dirtyTop.clear()
    this.dirtySendSeq.clear()
    this.dirtyCursor.clear()
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
      const r = this.q('SELECT id, kind, owner, title, epoch, top_seq FROM conversations WHERE id = $1', [id])[0]
      if (r === undefined) return undefined
      c = toConversation(r)
      this.convs.set(id, c)
    }
    return { ...c }
  }
  insertConversation(row: ConversationRow): void {
    this.q('INSERT INTO conversations (id, kind, owner, title, epoch, top_seq) VALUES ($1, $2, $3, $4, $5, $6)', [
      row.id,
      row.kind,
      row.owner,
      row.title,
      row.epoch,
      row.topSeq,
    ])
    this.convs.set(row.id, { ...row })
    this.memberCache.set(row.id, { set: new Set(), sorted: [] })
  }
  setTopSeq(id: string, topSeq: number): void {
    if (this.getConversation(id) === undefined) return
    ;(this.convs.get(id) as ConversationRow).topSeq = topSeq
    this.dirtyTop.set(id, topSeq)
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

  // Features read-state, inbox and history-time: not kept by the cluster
  // store yet, so the cluster server does not offer them and the engine
  // never calls these (it checks tracksChanges).
  readonly tracksChanges = false
  currentChange(): number {
    return notYet()
  }
  nextChange(): number {
    return notYet()
  }
  setConversationChange(_id: string, _changed: number, _activity: number | null, _lastTimeMs: number | null): void {
    notYet()
  }
  getReadRow(_conversationId: string, _userId: string): ReadRow | undefined {
    return notYet()
  }
  putReadRow(_conversationId: string, _userId: string, _row: ReadRow): void {
    notYet()
  }
  countOwnMessages(_conversationId: string, _userId: string, _afterSeq: number, _upToSeq: number): number {
    return notYet()
  }
  countReaders(_conversationId: string, _seq: number, _excludeUserId: string): number {
    return notYet()
  }
  inboxConversations(_userId: string, _beforeActivity: number, _limit: number): string[] {
    return notYet()
  }
  changedConversations(_userId: string, _since: number, _limit: number, _withTombstones: boolean): SyncItem[] {
    return notYet()
  }
  firstSeqAtOrAfter(_conversationId: string, _timeMs: number, _topSeq: number): number {
    return notYet()
  }
}

export { key as pgKey }
