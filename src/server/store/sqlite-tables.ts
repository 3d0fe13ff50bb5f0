// Tables on SQLite (better-sqlite3). Hot values are cached in memory and
// small updates are written once per commit group (write-behind inside the
// same transaction, see flush()): a group of 500 sends into one conversation
// updates its top_seq row once, not 500 times. Caches hold only committed or
// in-transaction state; a rolled-back group calls reset().
import type Database from 'better-sqlite3'
import type { StoredMessage } from '../../session/store-ops.js'
import { type ConversationRow, type ReadRow, type SyncItem, searchFirstAtOrAfter, type Tables } from './tables.js'

interface MessageRow {
  conv: string
  seq: number
  message_id: string
  sender_user: string
  sender_device: string
  client_msg_id: Uint8Array
  ts: number
  content_type: string
  body: Uint8Array
}

const COLS = 'conv, seq, message_id, sender_user, sender_device, client_msg_id, ts, content_type, body'
const key = (...parts: string[]): string => parts.join('\u0000')
/** Above this many cached conversations the clean entries are dropped. */
const CACHE_MAX = 100_000

function toMessage(r: MessageRow): StoredMessage {
  return {
    conversationId: r.conv,
    seq: r.seq,
    messageId: r.message_id,
    senderUserId: r.sender_user,
    senderDeviceId: r.sender_device,
    clientMsgId: r.client_msg_id,
    serverTimeMs: r.ts,
    contentType: r.content_type,
    body: r.body,
  }
}

export class SqliteTables implements Tables {
  private readonly s
  private convCache = new Map<string, ConversationRow>()
  private memberCache = new Map<string, { set: Set<string>; sorted: string[] | null }>()
  /** Conversations whose hot columns (top_seq, activity, changed, last_time_ms) await the write. */
  private dirtyConv = new Set<string>()
  /** Read rows as read or written in this group; null: none exists. */
  private readCache = new Map<string, ReadRow | null>()
  private dirtyRead = new Map<string, [string, string, ReadRow]>()
  private changeCounter: number | undefined
  private changeDirty = false
  readonly tracksChanges = true
  private sendSeqCache = new Map<string, number>()
  private dirtySendSeq = new Map<string, [string, string, string, number]>()
  private dirtyCursor = new Map<string, [string, string, string, number]>()
  private messageCounter: number | undefined
  private counterDirty = false

  constructor(db: Database.Database) {
    const p = (sql: string) => db.prepare(sql)
    this.s = {
      getConv: p(
        `SELECT id, kind, owner, title, epoch, top_seq AS topSeq, activity, changed, last_time_ms AS lastTimeMs
         FROM conversations WHERE id = ?`,
      ),
      insConv: p(
        `INSERT INTO conversations (id, kind, owner, title, epoch, top_seq, activity, changed, last_time_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      setHot: p('UPDATE conversations SET top_seq = ?, activity = ?, changed = ?, last_time_ms = ? WHERE id = ?'),
      getRead: p('SELECT read_seq, own_after_read, changed, member FROM read_state WHERE conv = ? AND user = ?'),
      putRead: p(
        `INSERT INTO read_state (conv, user, read_seq, own_after_read, changed, member) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (conv, user) DO UPDATE SET read_seq = excluded.read_seq,
           own_after_read = excluded.own_after_read, changed = excluded.changed, member = excluded.member`,
      ),
      countOwn: p('SELECT COUNT(*) FROM messages WHERE conv = ? AND sender_user = ? AND seq > ? AND seq <= ?').pluck(),
      countReaders: p(
        'SELECT COUNT(*) FROM read_state WHERE conv = ? AND member = 1 AND read_seq >= ? AND user <> ?',
      ).pluck(),
      inbox: p(
        `SELECT c.id FROM read_state r JOIN conversations c ON c.id = r.conv
         WHERE r.user = ? AND r.member = 1 AND c.activity < ? ORDER BY c.activity DESC LIMIT ?`,
      ).pluck(),
      changedItems: p(
        `SELECT conv AS conversationId, member, change FROM (
           SELECT r.conv, r.member,
             CASE WHEN r.member = 1 THEN max(r.changed, c.changed) ELSE r.changed END AS change
           FROM read_state r JOIN conversations c ON c.id = r.conv
           WHERE r.user = ? AND (r.member = 1 OR ?))
         WHERE change > ? ORDER BY change LIMIT ?`,
      ),
      timeAt: p('SELECT ts FROM messages WHERE conv = ? AND seq = ?').pluck(),
      getChange: p("SELECT value FROM counters WHERE name = 'change'").pluck(),
      putChange: p(
        "INSERT INTO counters (name, value) VALUES ('change', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      ),
      setOwner: p('UPDATE conversations SET owner = ? WHERE id = ?'),
      members: p('SELECT user FROM members WHERE conv = ? ORDER BY user').pluck(),
      addMember: p('INSERT OR IGNORE INTO members (conv, user) VALUES (?, ?)'),
      delMember: p('DELETE FROM members WHERE conv = ? AND user = ?'),
      userConvs: p('SELECT conv FROM members WHERE user = ? AND conv > ? ORDER BY conv LIMIT ?').pluck(),
      byClientId: p(`SELECT ${COLS} FROM messages WHERE sender_user = ? AND client_msg_id = ?`),
      insMessage: p(
        `INSERT INTO messages (${COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (sender_user, client_msg_id) DO NOTHING`,
      ),
      forward: p(`SELECT ${COLS} FROM messages WHERE conv = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`),
      backward: p(`SELECT ${COLS} FROM messages WHERE conv = ? AND seq < ? ORDER BY seq DESC LIMIT ?`),
      replay: p(
        `SELECT ${COLS} FROM messages WHERE conv = ? AND seq > ? AND seq <= ?
         AND NOT (sender_user = ? AND sender_device = ?) ORDER BY seq LIMIT ?`,
      ),
      getSendSeq: p('SELECT last_send_seq FROM send_seqs WHERE user = ? AND device = ? AND conv = ?').pluck(),
      putSendSeq: p(
        `INSERT INTO send_seqs (user, device, conv, last_send_seq) VALUES (?, ?, ?, ?)
         ON CONFLICT (user, device, conv) DO UPDATE SET last_send_seq = excluded.last_send_seq`,
      ),
      getCursor: p('SELECT cursor FROM cursors WHERE user = ? AND device = ? AND conv = ?').pluck(),
      putCursor: p(
        `INSERT INTO cursors (user, device, conv, cursor) VALUES (?, ?, ?, ?)
         ON CONFLICT (user, device, conv) DO UPDATE SET cursor = excluded.cursor`,
      ),
      getCounter: p("SELECT value FROM counters WHERE name = 'message'").pluck(),
      putCounter: p(
        "INSERT INTO counters (name, value) VALUES ('message', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      ),
      touchDevice: p(
        `INSERT INTO devices (user, device, last_seen) VALUES (?, ?, ?)
         ON CONFLICT (user, device) DO UPDATE SET last_seen = excluded.last_seen`,
      ),
    }
  }

  /** Write the deferred updates; call inside the transaction, before COMMIT. */
  flush(): void {
    this.writeRows()
    for (const v of this.dirtySendSeq.values()) this.s.putSendSeq.run(...v)
    for (const v of this.dirtyCursor.values()) this.s.putCursor.run(...v)
    if (this.counterDirty) this.s.putCounter.run(this.messageCounter)
    if (this.changeDirty) this.s.putChange.run(this.changeCounter)
    this.counterDirty = false
    this.changeDirty = false
    // Read rows stay cached across commits like conversation rows (this
    // thread is the database's only writer): a message's sender row is then
    // read once, not once per commit group.
    if (this.readCache.size > CACHE_MAX) this.readCache.clear()
    this.dirtySendSeq.clear()
    this.dirtyCursor.clear()
    if (this.convCache.size > CACHE_MAX) this.convCache.clear()
    if (this.memberCache.size > CACHE_MAX) this.memberCache.clear()
    if (this.sendSeqCache.size > CACHE_MAX) this.sendSeqCache.clear()
  }

  /**
   * The deferred conversation and read-row writes, now: before a query that
   * reads them in SQL (a join or a count), and at flush().
   */
  private writeRows(): void {
    for (const id of this.dirtyConv) {
      const c = this.convCache.get(id) as ConversationRow
      this.s.setHot.run(c.topSeq, c.activity, c.changed, c.lastTimeMs, id)
    }
    for (const [conv, user, r] of this.dirtyRead.values()) {
      this.s.putRead.run(conv, user, r.readSeq, r.ownAfterRead, r.changed, r.member ? 1 : 0)
    }
    this.dirtyConv.clear()
    this.dirtyRead.clear()
  }

  /** The transaction rolled back: forget everything cached. */
  reset(): void {
    this.messageCounter = undefined
    this.counterDirty = false
    this.changeCounter = undefined
    this.changeDirty = false
    this.readCache.clear()
    this.dirtyRead.clear()
    this.dirtyConv.clear()
    this.convCache.clear()
    this.memberCache.clear()
    this.sendSeqCache.clear()
    this.dirtySendSeq.clear()
    this.dirtyCursor.clear()
  }

  getConversation(id: string): ConversationRow | undefined {
    let c = this.convCache.get(id)
    if (c === undefined) {
      c = this.s.getConv.get(id) as ConversationRow | undefined
      if (c === undefined) return undefined
      this.convCache.set(id, c)
    }
    return { ...c }
  }
  insertConversation(row: ConversationRow): void {
    const r = row
    this.s.insConv.run(r.id, r.kind, r.owner, r.title, r.epoch, r.topSeq, r.activity, r.changed, r.lastTimeMs)
    this.convCache.set(row.id, { ...row })
  }
  setTopSeq(id: string, topSeq: number): void {
    const c = this.convCache.get(id) ?? this.getConversation(id)
    if (c === undefined) return
    const cached = this.convCache.get(id) as ConversationRow
    cached.topSeq = topSeq
    this.dirtyConv.add(id)
  }
  setOwner(id: string, owner: string): void {
    this.s.setOwner.run(owner, id)
    const c = this.convCache.get(id)
    if (c !== undefined) c.owner = owner
  }
  private memberEntry(conv: string): { set: Set<string>; sorted: string[] | null } {
    let e = this.memberCache.get(conv)
    if (e === undefined) {
      const sorted = this.s.members.all(conv) as string[]
      e = { set: new Set(sorted), sorted }
      this.memberCache.set(conv, e)
    }
    return e
  }
  members(conversationId: string): string[] {
    const e = this.memberEntry(conversationId)
    e.sorted ??= [...e.set].sort()
    return e.sorted
  }
  isMember(conversationId: string, userId: string): boolean {
    return this.memberEntry(conversationId).set.has(userId)
  }
  addMember(conversationId: string, userId: string): void {
    this.s.addMember.run(conversationId, userId)
    const e = this.memberEntry(conversationId)
    e.set.add(userId)
    e.sorted = null
  }
  removeMember(conversationId: string, userId: string): void {
    this.s.delMember.run(conversationId, userId)
    const e = this.memberEntry(conversationId)
    e.set.delete(userId)
    e.sorted = null
  }
  userConversations(userId: string, afterId: string, limit: number): string[] {
    return this.s.userConvs.all(userId, afterId, Math.min(limit, Number.MAX_SAFE_INTEGER)) as string[]
  }
  findByClientMsgId(userId: string, clientMsgId: Uint8Array): StoredMessage | undefined {
    const r = this.s.byClientId.get(userId, clientMsgId) as MessageRow | undefined
    return r === undefined ? undefined : toMessage(r)
  }
  insertMessage(m: StoredMessage): boolean {
    const r = this.s.insMessage.run(
      m.conversationId,
      m.seq,
      m.messageId,
      m.senderUserId,
      m.senderDeviceId,
      m.clientMsgId,
      m.serverTimeMs,
      m.contentType,
      m.body,
    )
    return r.changes === 1
  }
  readForward(conversationId: string, afterSeq: number, upToSeq: number, limit: number): StoredMessage[] {
    return (this.s.forward.all(conversationId, afterSeq, upToSeq, limit) as MessageRow[]).map(toMessage)
  }
  readBackward(conversationId: string, beforeSeq: number, limit: number): StoredMessage[] {
    return (this.s.backward.all(conversationId, beforeSeq, limit) as MessageRow[]).map(toMessage).reverse()
  }
  readReplay(
    conversationId: string,
    afterSeq: number,
    upToSeq: number,
    limit: number,
    excludeUserId: string,
    excludeDeviceId: string,
  ): StoredMessage[] {
    const rows = this.s.replay.all(conversationId, afterSeq, upToSeq, excludeUserId, excludeDeviceId, limit)
    return (rows as MessageRow[]).map(toMessage)
  }
  getSendSeq(userId: string, deviceId: string, conversationId: string): number {
    const k = key(userId, deviceId, conversationId)
    let v = this.sendSeqCache.get(k)
    if (v === undefined) {
      v = (this.s.getSendSeq.get(userId, deviceId, conversationId) as number | undefined) ?? 0
      this.sendSeqCache.set(k, v)
    }
    return v
  }
  setSendSeq(userId: string, deviceId: string, conversationId: string, sendSeq: number): void {
    const k = key(userId, deviceId, conversationId)
    this.sendSeqCache.set(k, sendSeq)
    this.dirtySendSeq.set(k, [userId, deviceId, conversationId, sendSeq])
  }
  getCursor(userId: string, deviceId: string, conversationId: string): number {
    const d = this.dirtyCursor.get(key(userId, deviceId, conversationId))
    if (d !== undefined) return d[3]
    return (this.s.getCursor.get(userId, deviceId, conversationId) as number | undefined) ?? 0
  }
  setCursor(userId: string, deviceId: string, conversationId: string, cursor: number): void {
    this.dirtyCursor.set(key(userId, deviceId, conversationId), [userId, deviceId, conversationId, cursor])
  }
  nextMessageNumber(): number {
    this.messageCounter ??= (this.s.getCounter.get() as number | undefined) ?? 0
    this.messageCounter++
    this.counterDirty = true
    return this.messageCounter
  }
  touchDevice(userId: string, deviceId: string, nowMs: number): void {
    this.s.touchDevice.run(userId, deviceId, nowMs)
  }

  currentChange(): number {
    this.changeCounter ??= (this.s.getChange.get() as number | undefined) ?? 0
    return this.changeCounter
  }
  nextChange(): number {
    this.changeCounter = this.currentChange() + 1
    this.changeDirty = true
    return this.changeCounter
  }
  setConversationChange(id: string, changed: number, activity: number | null, lastTimeMs: number | null): void {
    if (this.getConversation(id) === undefined) return
    const c = this.convCache.get(id) as ConversationRow
    c.changed = changed
    if (activity !== null) c.activity = activity
    if (lastTimeMs !== null) c.lastTimeMs = lastTimeMs
    this.dirtyConv.add(id)
  }
  getReadRow(conversationId: string, userId: string): ReadRow | undefined {
    const k = key(conversationId, userId)
    let r = this.readCache.get(k)
    if (r === undefined) {
      const row = this.s.getRead.get(conversationId, userId) as
        | { read_seq: number; own_after_read: number; changed: number; member: number }
        | undefined
      r =
        row === undefined
          ? null
          : { readSeq: row.read_seq, ownAfterRead: row.own_after_read, changed: row.changed, member: row.member === 1 }
      this.readCache.set(k, r)
    }
    return r === null ? undefined : { ...r }
  }
  putReadRow(conversationId: string, userId: string, row: ReadRow): void {
    const k = key(conversationId, userId)
    this.readCache.set(k, { ...row })
    this.dirtyRead.set(k, [conversationId, userId, { ...row }])
  }
  countOwnMessages(conversationId: string, userId: string, afterSeq: number, upToSeq: number): number {
    return this.s.countOwn.get(conversationId, userId, afterSeq, upToSeq) as number
  }
  countReaders(conversationId: string, seq: number, excludeUserId: string): number {
    this.writeRows()
    return this.s.countReaders.get(conversationId, seq, excludeUserId) as number
  }
  inboxConversations(userId: string, beforeActivity: number, limit: number): string[] {
    this.writeRows()
    const bound = beforeActivity === 0 ? Number.MAX_SAFE_INTEGER : beforeActivity
    return this.s.inbox.all(userId, bound, Math.min(limit, Number.MAX_SAFE_INTEGER)) as string[]
  }
  changedConversations(userId: string, since: number, limit: number, withTombstones: boolean): SyncItem[] {
    this.writeRows()
    const rows = this.s.changedItems.all(
      userId,
      withTombstones ? 1 : 0,
      since,
      Math.min(limit, Number.MAX_SAFE_INTEGER),
    )
    return (rows as { conversationId: string; member: number; change: number }[]).map((r) => ({
      conversationId: r.conversationId,
      member: r.member === 1,
      change: r.change,
    }))
  }
  firstSeqAtOrAfter(conversationId: string, timeMs: number, topSeq: number): number {
    return searchFirstAtOrAfter((seq) => this.s.timeAt.get(conversationId, seq) as number, timeMs, topSeq)
  }
}
