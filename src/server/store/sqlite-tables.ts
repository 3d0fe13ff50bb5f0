// Tables on SQLite (better-sqlite3). Hot values are cached in memory and
// small updates are written once per commit group (write-behind inside the
// same transaction, see flush()): a group of 500 sends into one conversation
// updates its top_seq row once, not 500 times. Caches hold only committed or
// in-transaction state; a rolled-back group calls reset().
import type Database from 'better-sqlite3'
import type { StoredMessage } from '../../session/store-ops.js'
import type { ConversationRow, Tables } from './tables.js'

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
  private dirtyTop = new Map<string, number>()
  private sendSeqCache = new Map<string, number>()
  private dirtySendSeq = new Map<string, [string, string, string, number]>()
  private dirtyCursor = new Map<string, [string, string, string, number]>()
  private messageCounter: number | undefined
  private counterDirty = false

  constructor(db: Database.Database) {
    const p = (sql: string) => db.prepare(sql)
    this.s = {
      getConv: p('SELECT id, kind, owner, title, epoch, top_seq AS topSeq FROM conversations WHERE id = ?'),
      insConv: p('INSERT INTO conversations (id, kind, owner, title, epoch, top_seq) VALUES (?, ?, ?, ?, ?, ?)'),
      setTop: p('UPDATE conversations SET top_seq = ? WHERE id = ?'),
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
    for (const [id, top] of this.dirtyTop) this.s.setTop.run(top, id)
    for (const v of this.dirtySendSeq.values()) this.s.putSendSeq.run(...v)
    for (const v of this.dirtyCursor.values()) this.s.putCursor.run(...v)
    if (this.counterDirty) this.s.putCounter.run(this.messageCounter)
    this.counterDirty = false
    this.dirtyTop.clear()
    this.dirtySendSeq.clear()
    this.dirtyCursor.clear()
    if (this.convCache.size > CACHE_MAX) this.convCache.clear()
    if (this.memberCache.size > CACHE_MAX) this.memberCache.clear()
    if (this.sendSeqCache.size > CACHE_MAX) this.sendSeqCache.clear()
  }

  /** The transaction rolled back: forget everything cached. */
  reset(): void {
    this.messageCounter = undefined
    this.counterDirty = false
    this.convCache.clear()
    this.memberCache.clear()
    this.sendSeqCache.clear()
    this.dirtyTop.clear()
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
    this.s.insConv.run(row.id, row.kind, row.owner, row.title, row.epoch, row.topSeq)
    this.convCache.set(row.id, { ...row })
  }
  setTopSeq(id: string, topSeq: number): void {
    const c = this.convCache.get(id) ?? this.getConversation(id)
    if (c === undefined) return
    const cached = this.convCache.get(id) as ConversationRow
    cached.topSeq = topSeq
    this.dirtyTop.set(id, topSeq)
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
}
