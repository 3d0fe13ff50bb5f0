// Tables on PostgreSQL, for the shared engine (store/engine.ts): the same
// rules as the SQLite and memory stores, by construction. Synchronous
// (pg-native's libpq calls) because the engine is; it runs in the store
// worker thread, never on the event loop.
//
// Other nodes write the same rows, so nothing is cached across
// transactions: every cache here lives for one commit group (begin() clears
// it). Inside a group the rows a write depends on are locked first
// (pg-runner.ts), so what is cached cannot change under it. Small updates
// (top_seq, send_seq, cursors) are written once per group by flush(), with
// GREATEST so that no write ever moves one of them backwards.
import type Client from 'pg-native'
import type { StoredMessage } from '../../session/store-ops.js'
import type { ConversationKind } from '../../gen/es/imwire/v1/conversation_pb.js'
import type { ConversationRow, Tables } from '../store/tables.js'

type Row = Record<string, unknown>
const key = (...parts: string[]): string => parts.join('\u0000')
const COLS = 'conv, seq, message_id, sender_user, sender_device, client_msg_id, ts, content_type, body'

/** bytea parameter: libpq's text format, hex. */
export const bytea = (b: Uint8Array): string =>
  `\\x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`

/** text[] parameter literal (pg-native sends parameters as text). */
export function textArray(items: readonly string[]): string {
  return `{${items.map((s) => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`
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

export class PgTables implements Tables {
  private convs = new Map<string, ConversationRow>()
  private memberCache = new Map<string, { set: Set<string>; sorted: string[] | null }>()
  private sendSeqs = new Map<string, number>()
  private dirtyTop = new Map<string, number>()
  private dirtySendSeq = new Map<string, [string, string, string, number]>()
  private dirtyCursor = new Map<string, [string, string, string, number]>()
  private numbers: { next: number; end: number } = { next: 0, end: 0 }
  /** Generation of the last touchDevice in this group, per (user, device). */
  readonly generations = new Map<string, number>()

  constructor(private readonly db: Client) {}

  private q(sql: string, params: unknown[] = []): Row[] {
    return this.db.querySync(sql, params)
  }

  /** A new group: forget everything (other nodes may have written since). */
  begin(): void {
    this.convs.clear()
    this.memberCache.clear()
    this.sendSeqs.clear()
    this.dirtyTop.clear()
    this.dirtySendSeq.clear()
    this.dirtyCursor.clear()
    this.generations.clear()
  }

  /** Write the deferred updates; inside the transaction, before COMMIT. */
  flush(): void {
    for (const [id, top] of this.dirtyTop) {
      this.q('UPDATE conversations SET top_seq = GREATEST(top_seq, $1) WHERE id = $2', [top, id])
    }
    for (const v of this.dirtySendSeq.values()) {
      this.q(
        `INSERT INTO send_seqs (uid, device, conv, last_send_seq) VALUES ($1, $2, $3, $4)
         ON CONFLICT (uid, device, conv) DO UPDATE SET last_send_seq = GREATEST(send_seqs.last_send_seq, excluded.last_send_seq)`,
        v,
      )
    }
    for (const v of this.dirtyCursor.values()) {
      this.q(
        `INSERT INTO cursors (uid, device, conv, cursor) VALUES ($1, $2, $3, $4)
         ON CONFLICT (uid, device, conv) DO UPDATE SET cursor = GREATEST(cursors.cursor, excluded.cursor)`,
        v,
      )
    }
    this.dirtyTop.clear()
    this.dirtySendSeq.clear()
    this.dirtyCursor.clear()
  }

  getConversation(id: string): ConversationRow | undefined {
    let c = this.convs.get(id)
    if (c === undefined) {
      const r = this.q('SELECT id, kind, owner, title, epoch, top_seq FROM conversations WHERE id = $1', [id])[0]
      if (r === undefined) return undefined
      c = {
        id: r.id as string,
        kind: Number(r.kind) as ConversationKind,
        owner: r.owner as string,
        title: r.title as string,
        epoch: Number(r.epoch),
        topSeq: Number(r.top_seq),
      }
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
    const r = this.q(`SELECT ${COLS} FROM messages WHERE sender_user = $1 AND client_msg_id = $2`, [
      userId,
      bytea(clientMsgId),
    ])[0]
    return r === undefined ? undefined : toMessage(r)
  }
  insertMessage(m: StoredMessage): boolean {
    // A concurrent insert of the same key on another node makes this wait
    // for that transaction; if it committed, nothing is inserted and the
    // engine answers with the committed original. [DUP-4]
    const r = this.q(
      `INSERT INTO messages (${COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (sender_user, client_msg_id) DO NOTHING RETURNING seq`,
      [
        m.conversationId,
        m.seq,
        m.messageId,
        m.senderUserId,
        m.senderDeviceId,
        bytea(m.clientMsgId),
        m.serverTimeMs,
        m.contentType,
        bytea(m.body),
      ],
    )
    return r.length === 1
  }
  readForward(conversationId: string, afterSeq: number, upToSeq: number, limit: number): StoredMessage[] {
    return this.q(`SELECT ${COLS} FROM messages WHERE conv = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`, [
      conversationId,
      afterSeq,
      upToSeq,
      limit,
    ]).map(toMessage)
  }
  readBackward(conversationId: string, beforeSeq: number, limit: number): StoredMessage[] {
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
  getCursor(userId: string, deviceId: string, conversationId: string): number {
    const d = this.dirtyCursor.get(key(userId, deviceId, conversationId))
    if (d !== undefined) return d[3]
    const r = this.q('SELECT cursor FROM cursors WHERE uid = $1 AND device = $2 AND conv = $3', [
      userId,
      deviceId,
      conversationId,
    ])[0]
    return r === undefined ? 0 : Number(r.cursor)
  }
  setCursor(userId: string, deviceId: string, conversationId: string, cursor: number): void {
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

  /** The device's current generation, locked until the group commits (fencing). */
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

  /** Lock conversation rows in id order (one order for every node: no deadlock between them). */
  lockConversations(ids: string[]): void {
    if (ids.length === 0) return
    this.q('SELECT id FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE', [
      textArray([...new Set(ids)]),
    ])
  }
}

export { key as pgKey }
