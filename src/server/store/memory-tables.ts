// Tables in memory: Maps and dense per-conversation arrays. For tests and
// `imwire serve --memory`; nothing survives the process.
import type { StoredMessage } from '../../session/store-ops.js'
import type { ConversationRow, ReadRow, SyncItem, Tables } from './tables.js'

const key = (...parts: string[]): string => parts.join('\u0000')
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const byBytes = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

export class MemoryTables implements Tables {
  private readonly convs = new Map<string, ConversationRow>()
  private readonly memberSets = new Map<string, Set<string>>()
  private readonly userConvs = new Map<string, Set<string>>()
  /** messages.get(conv)[seq - 1]: seqs are dense from 1. */
  private readonly messages = new Map<string, StoredMessage[]>()
  private readonly byClientId = new Map<string, StoredMessage>()
  private readonly sendSeqs = new Map<string, number>()
  private readonly cursors = new Map<string, number>()
  private readonly devices = new Map<string, number>()
  private messageCounter = 0
  private changeCounter = 0
  private readonly readRows = new Map<string, ReadRow>()
  /** Every conversation a user has a read row in (tombstones included). */
  private readonly userReadConvs = new Map<string, Set<string>>()
  readonly tracksChanges = true

  getConversation(id: string): ConversationRow | undefined {
    const c = this.convs.get(id)
    return c === undefined ? undefined : { ...c }
  }
  insertConversation(row: ConversationRow): void {
    this.convs.set(row.id, { ...row })
    this.memberSets.set(row.id, new Set())
    this.messages.set(row.id, [])
  }
  setTopSeq(id: string, topSeq: number): void {
    const c = this.convs.get(id)
    if (c !== undefined) c.topSeq = topSeq
  }
  setOwner(id: string, owner: string): void {
    const c = this.convs.get(id)
    if (c !== undefined) c.owner = owner
  }
  members(conversationId: string): string[] {
    return [...(this.memberSets.get(conversationId) ?? [])].sort(byBytes)
  }
  isMember(conversationId: string, userId: string): boolean {
    return this.memberSets.get(conversationId)?.has(userId) ?? false
  }
  addMember(conversationId: string, userId: string): void {
    this.memberSets.get(conversationId)?.add(userId)
    let s = this.userConvs.get(userId)
    if (s === undefined) {
      s = new Set()
      this.userConvs.set(userId, s)
    }
    s.add(conversationId)
  }
  removeMember(conversationId: string, userId: string): void {
    this.memberSets.get(conversationId)?.delete(userId)
    this.userConvs.get(userId)?.delete(conversationId)
  }
  userConversations(userId: string, afterId: string, limit: number): string[] {
    const all = [...(this.userConvs.get(userId) ?? [])].sort(byBytes)
    return all.filter((id) => id > afterId).slice(0, limit)
  }
  findByClientMsgId(userId: string, clientMsgId: Uint8Array): StoredMessage | undefined {
    return this.byClientId.get(key(userId, hex(clientMsgId)))
  }
  insertMessage(m: StoredMessage): boolean {
    if (this.byClientId.has(key(m.senderUserId, hex(m.clientMsgId)))) return false
    // Copies: the caller's buffers may be views into a socket chunk.
    const stored = { ...m, clientMsgId: m.clientMsgId.slice(), body: m.body.slice() }
    const list = this.messages.get(m.conversationId) as StoredMessage[]
    list[m.seq - 1] = stored
    this.byClientId.set(key(m.senderUserId, hex(m.clientMsgId)), stored)
    return true
  }
  readForward(conversationId: string, afterSeq: number, upToSeq: number, limit: number): StoredMessage[] {
    const list = this.messages.get(conversationId) ?? []
    const end = Math.min(upToSeq, list.length, afterSeq + limit)
    return afterSeq >= end ? [] : list.slice(afterSeq, end)
  }
  readBackward(conversationId: string, beforeSeq: number, limit: number): StoredMessage[] {
    const list = this.messages.get(conversationId) ?? []
    const end = Math.min(beforeSeq - 1, list.length)
    return end <= 0 ? [] : list.slice(Math.max(0, end - limit), end)
  }
  readReplay(
    conversationId: string,
    afterSeq: number,
    upToSeq: number,
    limit: number,
    excludeUserId: string,
    excludeDeviceId: string,
  ): StoredMessage[] {
    const list = this.messages.get(conversationId) ?? []
    const out: StoredMessage[] = []
    for (let i = afterSeq; i < Math.min(upToSeq, list.length) && out.length < limit; i++) {
      const m = list[i] as StoredMessage
      if (m.senderUserId !== excludeUserId || m.senderDeviceId !== excludeDeviceId) out.push(m)
    }
    return out
  }
  getSendSeq(userId: string, deviceId: string, conversationId: string): number {
    return this.sendSeqs.get(key(userId, deviceId, conversationId)) ?? 0
  }
  setSendSeq(userId: string, deviceId: string, conversationId: string, sendSeq: number): void {
    this.sendSeqs.set(key(userId, deviceId, conversationId), sendSeq)
  }
  getCursor(userId: string, deviceId: string, conversationId: string): number {
    return this.cursors.get(key(userId, deviceId, conversationId)) ?? 0
  }
  setCursor(userId: string, deviceId: string, conversationId: string, cursor: number): void {
    this.cursors.set(key(userId, deviceId, conversationId), cursor)
  }
  nextMessageNumber(): number {
    return ++this.messageCounter
  }
  touchDevice(userId: string, deviceId: string, nowMs: number): void {
    this.devices.set(key(userId, deviceId), nowMs)
  }

  currentChange(): number {
    return this.changeCounter
  }
  nextChange(): number {
    return ++this.changeCounter
  }
  setConversationChange(id: string, changed: number, activity: number | null, lastTimeMs: number | null): void {
    const c = this.convs.get(id)
    if (c === undefined) return
    c.changed = changed
    if (activity !== null) c.activity = activity
    if (lastTimeMs !== null) c.lastTimeMs = lastTimeMs
  }
  getReadRow(conversationId: string, userId: string): ReadRow | undefined {
    const r = this.readRows.get(key(conversationId, userId))
    return r === undefined ? undefined : { ...r }
  }
  putReadRow(conversationId: string, userId: string, row: ReadRow): void {
    this.readRows.set(key(conversationId, userId), { ...row })
    let s = this.userReadConvs.get(userId)
    if (s === undefined) {
      s = new Set()
      this.userReadConvs.set(userId, s)
    }
    s.add(conversationId)
  }
  countOwnMessages(conversationId: string, userId: string, afterSeq: number, upToSeq: number): number {
    const list = this.messages.get(conversationId) ?? []
    let n = 0
    for (let i = afterSeq; i < Math.min(upToSeq, list.length); i++) if (list[i]?.senderUserId === userId) n++
    return n
  }
  countReaders(conversationId: string, seq: number, excludeUserId: string): number {
    let n = 0
    for (const u of this.memberSets.get(conversationId) ?? []) {
      if (u !== excludeUserId && (this.readRows.get(key(conversationId, u))?.readSeq ?? 0) >= seq) n++
    }
    return n
  }
  inboxConversations(userId: string, beforeActivity: number, limit: number): string[] {
    const rows: ConversationRow[] = []
    for (const id of this.userConvs.get(userId) ?? []) {
      const c = this.convs.get(id) as ConversationRow
      if (beforeActivity === 0 || c.activity < beforeActivity) rows.push(c)
    }
    return rows
      .sort((a, b) => b.activity - a.activity)
      .slice(0, limit)
      .map((c) => c.id)
  }
  changedConversations(userId: string, since: number, limit: number, withTombstones: boolean): SyncItem[] {
    const items: SyncItem[] = []
    for (const id of this.userReadConvs.get(userId) ?? []) {
      const r = this.readRows.get(key(id, userId)) as ReadRow
      if (!r.member && !withTombstones) continue
      const change = r.member ? Math.max(r.changed, (this.convs.get(id) as ConversationRow).changed) : r.changed
      if (change > since) items.push({ conversationId: id, member: r.member, change })
    }
    return items.sort((a, b) => a.change - b.change).slice(0, limit)
  }
  firstSeqAtOrAfter(conversationId: string, timeMs: number, topSeq: number): number {
    const list = this.messages.get(conversationId) ?? []
    // Binary search: times never decrease in seq. [HIS-11]
    let lo = 0
    let hi = Math.min(topSeq, list.length)
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((list[mid] as StoredMessage).serverTimeMs >= timeMs) hi = mid
      else lo = mid + 1
    }
    return lo + 1
  }
}
