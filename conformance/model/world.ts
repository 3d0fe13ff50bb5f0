// The durable state of an imwire v1 server as the spec describes it, and the
// pure evaluation of every Send and request against it. Written from spec.md
// alone (sections 8, 9, 12 to 14, Appendix B): it imports nothing from
// src/session or src/server, so it can judge them.
//
// Values the server chooses (message ids, commit times, epochs) are not
// predicted: they are symbols ("mid.3"), bound to what the server first
// reports and checked for equality ever after ([DLV-8], [DUP-2]).

/** A value the server chooses; bound on first observation. */
export interface Sym {
  $sym: string
}
export const sym = (name: string): Sym => ({ $sym: name })

export type Kind = 'CONVERSATION_KIND_DIRECT' | 'CONVERSATION_KIND_GROUP'

export interface ModelMessage {
  conversationId: string
  seq: number
  messageId: Sym
  serverTimeMs: Sym
  senderUserId: string
  senderDeviceId: string
  /** base64 of the 16 bytes */
  clientMsgId: string
  contentType: string
  /** base64 */
  body: string
}

export interface Conversation {
  id: string
  kind: Kind
  owner: string
  members: Set<string>
  title: string
  epoch: Sym
  messages: ModelMessage[]
}

/** Limits the model needs, as the server advertised them in Welcome. */
export interface ModelLimits {
  maxMessageBytes: number
  replayLimit: number
  historyPageMax: number
  maxGroupMembers: number
  receiveWindow: number
}

export const USER_ID = /^[A-Za-z0-9._-]{1,64}$/
export const CONV_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** [GEN-5] byte order: ids are ASCII, but compare the UTF-8 bytes anyway. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

export type ErrorName =
  | 'BAD_REQUEST'
  | 'CONVERSATION_NOT_FOUND'
  | 'FORBIDDEN'
  | 'IDEMPOTENCY_CONFLICT'
  | 'SEND_OUT_OF_ORDER'
  | 'SEND_SEQ_REUSED'
  | 'MESSAGE_TOO_LARGE'
  | 'ALREADY_EXISTS'

/** The refusal the spec demands, with the requirement that demands it. */
export interface Refusal {
  error: ErrorName
  req: string
  expectedSendSeq?: number
}

/** [ERR-8] retryable exactly for INTERNAL, SEND_OUT_OF_ORDER, RATE_LIMITED. */
export const RETRYABLE = new Set<ErrorName>(['SEND_OUT_OF_ORDER'])

export class World {
  readonly conversations = new Map<string, Conversation>()
  /** (user \0 clientMsgId) -> message [DUP-1] */
  readonly dedupe = new Map<string, ModelMessage>()
  /** (user \0 device \0 conv) -> cursor [DLV-2] */
  readonly cursors = new Map<string, number>()
  /** (user \0 device \0 conv) -> last accepted send_seq [ORD-2] */
  readonly sendSeqs = new Map<string, number>()
  private messageCount = 0
  private convCount = 0

  cursor(user: string, device: string, conv: string): number {
    return this.cursors.get(`${user}\0${device}\0${conv}`) ?? 0
  }

  /** [DLV-2] a cursor only moves up. */
  raiseCursor(user: string, device: string, conv: string, seq: number): void {
    const k = `${user}\0${device}\0${conv}`
    if (seq > (this.cursors.get(k) ?? 0)) this.cursors.set(k, seq)
  }

  isMember(user: string, conv: string): boolean {
    return this.conversations.get(conv)?.members.has(user) ?? false
  }

  top(conv: string): number {
    return this.conversations.get(conv)?.messages.length ?? 0
  }

  /** Conversations of a user, ascending in byte order. */
  conversationsOf(user: string): Conversation[] {
    return [...this.conversations.values()].filter((c) => c.members.has(user)).sort((a, b) => byteOrder(a.id, b.id))
  }

  /**
   * [SND-6] a Send, evaluated in the spec's order. Returns the refusal, the
   * duplicate's original, or the newly committed message.
   */
  send(
    user: string,
    device: string,
    s: { clientMsgId: string; conversationId: string; sendSeq: number; contentType: string; body: string },
    limits: ModelLimits,
  ): { refused: Refusal } | { duplicate: ModelMessage } | { committed: ModelMessage } {
    // (1) syntax
    if (Buffer.from(s.clientMsgId, 'base64').length !== 16) return { refused: { error: 'BAD_REQUEST', req: 'SND-1' } }
    if (!CONV_ID.test(s.conversationId)) return { refused: { error: 'BAD_REQUEST', req: 'SND-7' } }
    if (Buffer.byteLength(s.contentType, 'utf8') > 128) return { refused: { error: 'BAD_REQUEST', req: 'SND-3' } }
    // (2) size: a body of exactly max_message_bytes is accepted [SND-3] [LIM-2]
    if (Buffer.from(s.body, 'base64').length > limits.maxMessageBytes)
      return { refused: { error: 'MESSAGE_TOO_LARGE', req: 'SND-3' } }
    // (3) membership [SND-2]
    const conv = this.conversations.get(s.conversationId)
    if (!conv?.members.has(user)) return { refused: { error: 'CONVERSATION_NOT_FOUND', req: 'SND-2' } }
    // (4) dedupe [DUP-2] [DUP-3] [DUP-7]
    const original = this.dedupe.get(`${user}\0${s.clientMsgId}`)
    if (original) {
      if (
        original.conversationId === s.conversationId &&
        original.contentType === s.contentType &&
        original.body === s.body
      )
        return { duplicate: original }
      return { refused: { error: 'IDEMPOTENCY_CONFLICT', req: 'DUP-3' } }
    }
    // (5) send order [ORD-2] to [ORD-5]
    const seqKey = `${user}\0${device}\0${s.conversationId}`
    const last = this.sendSeqs.get(seqKey) ?? 0
    if (s.sendSeq !== 0) {
      if (s.sendSeq > last + 1)
        return { refused: { error: 'SEND_OUT_OF_ORDER', req: 'ORD-3', expectedSendSeq: last + 1 } }
      if (s.sendSeq <= last) return { refused: { error: 'SEND_SEQ_REUSED', req: 'ORD-4' } }
    }
    // (6) commit [ORD-1]: the next seq, the dedupe record and send_seq together
    const n = ++this.messageCount
    const m: ModelMessage = {
      conversationId: s.conversationId,
      seq: conv.messages.length + 1,
      messageId: sym(`mid.${n}`),
      serverTimeMs: sym(`time.${n}`),
      senderUserId: user,
      senderDeviceId: device,
      clientMsgId: s.clientMsgId,
      contentType: s.contentType,
      body: s.body,
    }
    conv.messages.push(m)
    this.dedupe.set(`${user}\0${s.clientMsgId}`, m)
    if (s.sendSeq !== 0) this.sendSeqs.set(seqKey, s.sendSeq)
    return { committed: m }
  }

  /** [CNV-1] [CNV-2] [CNV-8] [CNV-9] [CNV-13], checked in the order of [ERR-13]. */
  create(
    user: string,
    r: { conversationId: string; kind: string; memberUserIds: string[]; title: string },
    limits: ModelLimits,
  ): { refused: Refusal } | { existing: Conversation } | { created: Conversation } {
    if (!CONV_ID.test(r.conversationId)) return { refused: { error: 'BAD_REQUEST', req: 'CNV-1' } }
    if (r.kind !== 'CONVERSATION_KIND_DIRECT' && r.kind !== 'CONVERSATION_KIND_GROUP')
      return { refused: { error: 'BAD_REQUEST', req: 'CNV-1' } }
    if (r.memberUserIds.some((u) => !USER_ID.test(u))) return { refused: { error: 'BAD_REQUEST', req: 'CNV-9' } }
    if (Buffer.byteLength(r.title, 'utf8') > 256) return { refused: { error: 'BAD_REQUEST', req: 'CNV-13' } }
    const others = [...new Set(r.memberUserIds)].filter((u) => u !== user)
    if (r.kind === 'CONVERSATION_KIND_DIRECT' && others.length !== 1)
      return { refused: { error: 'BAD_REQUEST', req: 'CNV-1' } }
    const members = new Set([user, ...others])
    const existing = this.conversations.get(r.conversationId)
    if (existing) {
      const same =
        existing.kind === r.kind &&
        existing.owner === user &&
        existing.members.size === members.size &&
        [...members].every((u) => existing.members.has(u))
      return same ? { existing } : { refused: { error: 'ALREADY_EXISTS', req: 'CNV-2' } }
    }
    if (r.kind === 'CONVERSATION_KIND_GROUP' && members.size > limits.maxGroupMembers)
      return { refused: { error: 'BAD_REQUEST', req: 'CNV-8' } }
    const conv: Conversation = {
      id: r.conversationId,
      kind: r.kind,
      owner: user,
      members,
      title: r.title,
      epoch: sym(`epoch.${++this.convCount}`),
      messages: [],
    }
    this.conversations.set(conv.id, conv)
    return { created: conv }
  }

  /** Common checks of AddMembers / RemoveMembers / LeaveConversation ([ERR-13] steps 2 to 4). */
  private memberOf(user: string, convId: string): Conversation | Refusal {
    if (!CONV_ID.test(convId)) return { error: 'BAD_REQUEST', req: 'ERR-13' }
    const conv = this.conversations.get(convId)
    if (!conv?.members.has(user)) return { error: 'CONVERSATION_NOT_FOUND', req: 'SEC-3' }
    return conv
  }

  /** [CNV-3] [CNV-8] */
  add(
    user: string,
    convId: string,
    ids: string[],
    limits: ModelLimits,
  ): { refused: Refusal } | { added: string[]; conv: Conversation } {
    if (!CONV_ID.test(convId)) return { refused: { error: 'BAD_REQUEST', req: 'ERR-13' } }
    if (ids.some((u) => !USER_ID.test(u))) return { refused: { error: 'BAD_REQUEST', req: 'CNV-9' } }
    if (ids.length === 0) return { refused: { error: 'BAD_REQUEST', req: 'CNV-3' } }
    const conv = this.memberOf(user, convId)
    if ('error' in conv) return { refused: { ...conv, req: 'CNV-3' } }
    if (conv.kind === 'CONVERSATION_KIND_DIRECT') return { refused: { error: 'FORBIDDEN', req: 'CNV-3' } }
    const added = [...new Set(ids)].filter((u) => !conv.members.has(u))
    if (conv.members.size + added.length > limits.maxGroupMembers)
      return { refused: { error: 'BAD_REQUEST', req: 'CNV-8' } }
    for (const u of added) conv.members.add(u)
    return { added, conv }
  }

  /** [CNV-4] */
  remove(
    user: string,
    convId: string,
    ids: string[],
  ): { refused: Refusal } | { removed: string[]; conv: Conversation } {
    if (!CONV_ID.test(convId)) return { refused: { error: 'BAD_REQUEST', req: 'ERR-13' } }
    if (ids.some((u) => !USER_ID.test(u))) return { refused: { error: 'BAD_REQUEST', req: 'CNV-9' } }
    if (ids.length === 0) return { refused: { error: 'BAD_REQUEST', req: 'CNV-4' } }
    const conv = this.memberOf(user, convId)
    if ('error' in conv) return { refused: { ...conv, req: 'CNV-4' } }
    if (conv.kind === 'CONVERSATION_KIND_DIRECT' || conv.owner !== user)
      return { refused: { error: 'FORBIDDEN', req: 'CNV-4' } }
    if (ids.includes(conv.owner)) return { refused: { error: 'BAD_REQUEST', req: 'CNV-4' } }
    const removed = [...new Set(ids)].filter((u) => conv.members.has(u))
    for (const u of removed) conv.members.delete(u)
    return { removed, conv }
  }

  /** [CNV-5] the owner's successor is the smallest remaining id in byte order. */
  leave(user: string, convId: string): { refused: Refusal } | { conv: Conversation } {
    const conv = this.memberOf(user, convId)
    if ('error' in conv) return { refused: { ...conv, req: 'CNV-5' } }
    if (conv.kind === 'CONVERSATION_KIND_DIRECT') return { refused: { error: 'FORBIDDEN', req: 'CNV-5' } }
    conv.members.delete(user)
    if (conv.owner === user) conv.owner = [...conv.members].sort(byteOrder)[0] ?? ''
    return { conv }
  }

  /** [HIS-1] [HIS-2] [HIS-4] the seqs of one page. */
  page(convId: string, direction: 'FORWARD' | 'BACKWARD', anchor: number, limit: number, limits: ModelLimits) {
    const top = this.top(convId)
    const eff = limit === 0 || limit > limits.historyPageMax ? limits.historyPageMax : limit
    let from: number
    let to: number
    if (direction === 'FORWARD') {
      from = anchor + 1
      to = Math.min(top, anchor + eff)
    } else {
      to = anchor === 0 ? top : Math.min(anchor - 1, top)
      from = Math.max(1, to - eff + 1)
    }
    const seqs: number[] = []
    for (let s = from; s <= to; s++) seqs.push(s)
    const hasMore = seqs.length > 0 && (direction === 'FORWARD' ? to < top : from > 1)
    return { seqs, hasMore, top }
  }
}
