// Client requests after Welcome: Send (answered in order), history, listing
// and conversation changes. Validation that needs no data happens here; the
// rest (membership, dedupe, send_seq, ownership) is the store's, in the same
// transaction as the writes.
import { create } from '@bufbuild/protobuf'
import { encodeFrame } from '../codec/index.js'
import {
  ConversationKind,
  type CreateConversation,
  HistoryDirection,
  type HistoryRequest,
  type ListConversations,
} from '../gen/es/imwire/v1/conversation_pb.js'
import { ErrorCode } from '../gen/es/imwire/v1/control_pb.js'
import { type Frame, FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import type { InboxRequest, MarkRead, ReadCountRequest, SyncRequest } from '../gen/es/imwire/v1/inbox_pb.js'
import type { Send } from '../gen/es/imwire/v1/messaging_pb.js'
import { conversationInfo, errorFrame, inboxEntryProto, messageProto, readStateProto } from './frames.js'
import type { Negotiated } from './handshake.js'
import { isConversationId, isUserId, seqFromWire, utf8Length } from './ids.js'
import { MAX_CONTENT_TYPE_BYTES, MAX_TITLE_BYTES, PREVIEW_BYTES_DEFAULT, PREVIEW_BYTES_MAX } from '../codec/index.js'
import type { ConversationOpResult, OpError, ResultOf, StoreOp } from './store-ops.js'

export interface RequestContext {
  negotiated: Negotiated
  now(): number
  send(frame: Frame): void
  store<O extends StoreOp>(op: O, k: (result: ResultOf<O> | OpError) => void): void
  /** Per-user rate limit [SEC-6]: 0 when allowed, else the retry_after_ms. Absent: no limit. */
  rateLimit?(): number
  /** Most requests (not Sends) of this connection in progress at once. [SEC-6] Absent: no bound. */
  maxRequestsInProgress?: number
  /** This device left a conversation (after its ConversationResult is sent). [FLW-1] */
  left?(conversationId: string): void
}

/** retry_after_ms when a connection has too many requests in progress. [SEC-6] */
export const REQUESTS_IN_PROGRESS_RETRY_MS = 100

/** One Send awaiting its answer; answers leave in Send order. [SND-4] */
interface SendSlot {
  answer: Frame | null
}

export class RequestHandler {
  private slots: SendSlot[] = []
  private slotHead = 0
  private requestsInProgress = 0

  constructor(private readonly ctx: RequestContext) {}

  /** Sends received and not yet answered. [FLW-2] */
  get inflight(): number {
    return this.slots.length - this.slotHead
  }

  send(s: Send): void {
    const { ctx } = this
    const n = ctx.negotiated
    // The in-flight bound [FLW-2] is checked by the session when the frame arrives.
    const slot: SendSlot = { answer: null }
    this.slots.push(slot)
    const echo = { clientMsgId: s.clientMsgId }
    const refuse = (code: ErrorCode, message: string) => this.answer(slot, errorFrame(code, message, echo))
    // [SND-6] steps 1 and 2: syntax [SND-1] [SND-7] [SND-3], then size [SND-3];
    // membership, dedupe, send order and commit are the store's (steps 3-6).
    if (s.clientMsgId.length !== 16) {
      refuse(ErrorCode.BAD_REQUEST, 'client_msg_id must be 16 bytes')
      return
    }
    if (!isConversationId(s.conversationId)) {
      refuse(ErrorCode.BAD_REQUEST, 'invalid conversation_id')
      return
    }
    if (utf8Length(s.contentType) > MAX_CONTENT_TYPE_BYTES) {
      refuse(ErrorCode.BAD_REQUEST, 'content_type over 128 bytes')
      return
    }
    if (s.body.length > n.limits.maxMessageBytes) {
      refuse(ErrorCode.MESSAGE_TOO_LARGE, 'body over max_message_bytes')
      return
    }
    // [SND-6] RATE_LIMITED after step 2, before membership. [SEC-6]
    const wait = ctx.rateLimit?.() ?? 0
    if (wait > 0) {
      this.answer(slot, errorFrame(ErrorCode.RATE_LIMITED, 'rate limited', { ...echo, retryAfterMs: wait }))
      return
    }
    ctx.store(
      {
        op: 'send',
        userId: n.userId,
        deviceId: n.deviceId,
        conversationId: s.conversationId,
        clientMsgId: s.clientMsgId,
        sendSeq: seqFromWire(s.sendSeq),
        contentType: s.contentType,
        body: s.body,
        nowMs: ctx.now(),
      },
      (r) => {
        if (!r.ok) {
          return this.answer(
            slot,
            errorFrame(r.code, r.message, { ...echo, expectedSendSeq: r.expectedSendSeq }), // [ORD-3]
          )
        }
        const m = r.message
        // [ACK-1] [ACK-3] this runs only after the commit holding the message.
        // A complete literal rather than create(): create() walks the schema
        // for every frame, and this is the one frame per message.
        this.answer(slot, {
          $typeName: 'imwire.v1.Frame',
          body: {
            case: 'sendAck',
            value: {
              $typeName: 'imwire.v1.SendAck',
              clientMsgId: m.clientMsgId,
              conversationId: m.conversationId,
              seq: BigInt(m.seq),
              messageId: m.messageId,
              serverTimeMs: BigInt(m.serverTimeMs),
              duplicate: r.duplicate,
              epoch: BigInt(r.epoch),
            },
          },
        })
      },
    )
  }

  private answer(slot: SendSlot, frame: Frame): void {
    slot.answer = frame
    while (this.slotHead < this.slots.length) {
      const head = this.slots[this.slotHead] as SendSlot
      if (head.answer === null) break
      this.ctx.send(head.answer)
      this.slotHead++
    }
    if (this.slotHead === this.slots.length) {
      this.slots = []
      this.slotHead = 0
    }
  }

  /**
   * [ERR-13] step 1: request_id 0 is refused with request_id 0 [HIS-6]; then
   * RATE_LIMITED for a connection with too many requests in progress or a
   * user over the rate [SEC-6]. True when the request was answered.
   */
  private refusedAtStep1(requestId: number): boolean {
    const { ctx } = this
    if (requestId === 0) {
      ctx.send(errorFrame(ErrorCode.BAD_REQUEST, 'request_id must be non-zero'))
      return true
    }
    if (ctx.maxRequestsInProgress !== undefined && this.requestsInProgress >= ctx.maxRequestsInProgress) {
      const retryAfterMs = REQUESTS_IN_PROGRESS_RETRY_MS
      ctx.send(errorFrame(ErrorCode.RATE_LIMITED, 'too many requests in progress', { requestId, retryAfterMs }))
      return true
    }
    const wait = ctx.rateLimit?.() ?? 0
    if (wait > 0) {
      ctx.send(errorFrame(ErrorCode.RATE_LIMITED, 'rate limited', { requestId, retryAfterMs: wait }))
      return true
    }
    return false
  }

  /** A request's store op, counted while in progress. [SEC-6] */
  private request<O extends StoreOp>(op: O, k: (result: ResultOf<O> | OpError) => void): void {
    this.requestsInProgress++
    this.ctx.store(op, (r) => {
      this.requestsInProgress--
      k(r)
    })
  }

  private pageLimit(limit: number): number {
    const max = this.ctx.negotiated.limits.historyPageMax
    return limit === 0 || limit > max ? max : limit // [HIS-2]
  }

  history(h: HistoryRequest): void {
    const { ctx } = this
    if (this.refusedAtStep1(h.requestId)) return
    const echo = { requestId: h.requestId }
    if (!isConversationId(h.conversationId)) {
      ctx.send(errorFrame(ErrorCode.BAD_REQUEST, 'invalid conversation_id', echo))
      return
    }
    // UNSPECIFIED reads forward (proto); values this version does not define are refused.
    if (!(h.direction in HistoryDirection)) {
      ctx.send(errorFrame(ErrorCode.BAD_REQUEST, 'unknown direction', echo))
      return
    }
    const anchor = Math.min(seqFromWire(h.anchorSeq), Number.MAX_SAFE_INTEGER)
    const n = ctx.negotiated
    // [HIS-10] without "history-time" the field is unknown and ignored. [FRM-6]
    const anchorTimeMs = n.historyTime ? Math.min(seqFromWire(h.anchorTimeMs), Number.MAX_SAFE_INTEGER) : 0
    this.request(
      {
        op: 'history',
        userId: n.userId,
        deviceId: n.deviceId,
        conversationId: h.conversationId,
        backward: h.direction === HistoryDirection.BACKWARD,
        anchorSeq: anchor,
        anchorTimeMs,
        limit: this.pageLimit(h.limit),
      },
      (r) => {
        if (!r.ok) {
          ctx.send(errorFrame(r.code, r.message, echo)) // [HIS-3]
          return
        }
        const page = {
          requestId: h.requestId,
          conversationId: h.conversationId,
          epoch: BigInt(r.epoch),
          topSeq: BigInt(r.topSeq),
          messages: r.messages.map(messageProto),
          hasMore: r.hasMore,
        }
        // [HIS-7] the messages farthest from the anchor go first: the oldest
        // of a backward page, the newest of a forward one.
        const farEnd = h.direction === HistoryDirection.BACKWARD ? 'start' : 'end'
        ctx.send(
          fitFrameLimit(page, page.messages, farEnd, n.peerMaxFrameBytes, () =>
            create(FrameSchema, { body: { case: 'historyPage', value: page } }),
          ),
        )
      },
    )
  }

  list(l: ListConversations): void {
    const { ctx } = this
    if (this.refusedAtStep1(l.requestId)) return
    if (l.afterConversationId !== '' && !isConversationId(l.afterConversationId)) {
      // [HIS-9] [ERR-13] step 2: a bad id is refused, not read as a byte-order bound.
      ctx.send(errorFrame(ErrorCode.BAD_REQUEST, 'invalid after_conversation_id', { requestId: l.requestId }))
      return
    }
    const n = ctx.negotiated
    this.request(
      {
        op: 'list',
        userId: n.userId,
        deviceId: n.deviceId,
        afterConversationId: l.afterConversationId,
        limit: this.pageLimit(l.limit),
      },
      (r) => {
        if (!r.ok) {
          ctx.send(errorFrame(r.code, r.message, { requestId: l.requestId }))
          return
        }
        const value = {
          requestId: l.requestId,
          conversations: r.conversations.map((v) => conversationInfo(v, n.readState)),
          hasMore: r.hasMore,
        }
        ctx.send(
          fitFrameLimit(value, value.conversations, 'end', n.peerMaxFrameBytes, () =>
            create(FrameSchema, { body: { case: 'conversationList', value } }),
          ),
        )
      },
    )
  }

  create(c: CreateConversation): void {
    const { ctx } = this
    if (this.refusedAtStep1(c.requestId)) return
    const n = ctx.negotiated
    const refuse = (message: string) => ctx.send(errorFrame(ErrorCode.BAD_REQUEST, message, { requestId: c.requestId }))
    // [ERR-13] step 2, syntax: [CNV-1] [CNV-9] [CNV-13] [GEN-3]. The member
    // bound [CNV-8] is a state check (step 5), after ALREADY_EXISTS: the store's.
    if (!isConversationId(c.conversationId)) {
      refuse('invalid conversation_id')
      return
    }
    if (c.kind !== ConversationKind.DIRECT && c.kind !== ConversationKind.GROUP) {
      refuse('kind required')
      return
    }
    if (!c.memberUserIds.every(isUserId)) {
      refuse('invalid user id in member_user_ids')
      return
    }
    if (utf8Length(c.title) > MAX_TITLE_BYTES) {
      refuse('title over 256 bytes')
      return
    }
    const others = [...new Set(c.memberUserIds)].filter((u) => u !== n.userId)
    if (c.kind === ConversationKind.DIRECT && others.length !== 1) {
      refuse('a direct conversation names exactly one other user')
      return
    }
    this.request(
      {
        op: 'create',
        userId: n.userId,
        deviceId: n.deviceId,
        conversationId: c.conversationId,
        kind: c.kind,
        members: others,
        title: c.title,
        maxMembers: n.limits.maxGroupMembers,
      },
      (r) => this.conversationResult(c.requestId, r),
    )
  }

  members(op: 'addMembers' | 'removeMembers', requestId: number, conversationId: string, userIds: string[]): void {
    const { ctx } = this
    if (this.refusedAtStep1(requestId)) return
    const n = ctx.negotiated
    if (!isConversationId(conversationId)) {
      ctx.send(errorFrame(ErrorCode.BAD_REQUEST, 'invalid conversation_id', { requestId }))
      return
    }
    if (userIds.length === 0) {
      ctx.send(errorFrame(ErrorCode.BAD_REQUEST, 'user_ids is empty', { requestId })) // [CNV-3] [CNV-4]
      return
    }
    if (!userIds.every(isUserId)) {
      ctx.send(errorFrame(ErrorCode.BAD_REQUEST, 'invalid user id', { requestId })) // [CNV-9]
      return
    }
    this.request(
      {
        op,
        userId: n.userId,
        deviceId: n.deviceId,
        conversationId,
        userIds: [...new Set(userIds)],
        maxMembers: n.limits.maxGroupMembers,
      },
      (r) => this.conversationResult(requestId, r),
    )
  }

  leave(requestId: number, conversationId: string): void {
    const { ctx } = this
    if (this.refusedAtStep1(requestId)) return
    const n = ctx.negotiated
    if (!isConversationId(conversationId)) {
      ctx.send(errorFrame(ErrorCode.BAD_REQUEST, 'invalid conversation_id', { requestId }))
      return
    }
    this.request({ op: 'leave', userId: n.userId, deviceId: n.deviceId, conversationId }, (r) => {
      this.conversationResult(requestId, r)
      if (r.ok) ctx.left?.(conversationId)
    })
  }

  /** [RD-3] (the store checks membership, epoch and bounds, in that order). */
  markRead(m: MarkRead): void {
    const { ctx } = this
    if (this.refusedAtStep1(m.requestId)) return
    const echo = { requestId: m.requestId }
    if (!isConversationId(m.conversationId)) {
      ctx.send(errorFrame(ErrorCode.BAD_REQUEST, 'invalid conversation_id', echo))
      return
    }
    const n = ctx.negotiated
    this.request(
      {
        op: 'markRead',
        userId: n.userId,
        deviceId: n.deviceId,
        conversationId: m.conversationId,
        epoch: seqFromWire(m.epoch),
        upToSeq: seqFromWire(m.upToSeq),
      },
      (r) => {
        if (!r.ok) {
          ctx.send(errorFrame(r.code, r.message, echo))
          return
        }
        ctx.send(
          create(FrameSchema, {
            body: {
              case: 'markReadResult',
              value: { requestId: m.requestId, state: readStateProto(r.state), moved: r.moved },
            },
          }),
        )
      },
    )
  }

  /** [RD-7] */
  readCount(q: ReadCountRequest): void {
    const { ctx } = this
    if (this.refusedAtStep1(q.requestId)) return
    const echo = { requestId: q.requestId }
    if (!isConversationId(q.conversationId)) {
      ctx.send(errorFrame(ErrorCode.BAD_REQUEST, 'invalid conversation_id', echo))
      return
    }
    const n = ctx.negotiated
    const seq = seqFromWire(q.seq)
    this.request(
      { op: 'readCount', userId: n.userId, deviceId: n.deviceId, conversationId: q.conversationId, seq },
      (r) => {
        if (!r.ok) {
          ctx.send(errorFrame(r.code, r.message, echo))
          return
        }
        const value = {
          requestId: q.requestId,
          conversationId: q.conversationId,
          epoch: BigInt(r.epoch),
          seq: q.seq,
          readCount: r.readCount,
          memberCount: r.memberCount,
        }
        ctx.send(create(FrameSchema, { body: { case: 'readCountResult', value } }))
      },
    )
  }

  /** [INB-3] [INB-4] */
  inbox(q: InboxRequest): void {
    const { ctx } = this
    if (this.refusedAtStep1(q.requestId)) return
    const n = ctx.negotiated
    this.request(
      {
        op: 'inbox',
        userId: n.userId,
        deviceId: n.deviceId,
        beforeActivity: Math.min(seqFromWire(q.beforeActivity), Number.MAX_SAFE_INTEGER),
        limit: this.pageLimit(q.limit),
        includeMembers: q.includeMembers,
        previewBytes: previewBytes(q.previewBytes),
      },
      (r) => {
        if (!r.ok) {
          ctx.send(errorFrame(r.code, r.message, { requestId: q.requestId }))
          return
        }
        const value = {
          requestId: q.requestId,
          entries: r.entries.map(inboxEntryProto),
          hasMore: r.hasMore,
          syncPoint: BigInt(r.syncPoint),
        }
        // [INB-3] as [HIS-7]: the oldest entries go first; the sync point stays (the page still reflects every change up to it).
        ctx.send(
          fitFrameLimit(value, value.entries, 'end', n.peerMaxFrameBytes, () =>
            create(FrameSchema, { body: { case: 'inboxPage', value } }),
          ),
        )
      },
    )
  }

  /** [INB-5] [INB-6] */
  sync(q: SyncRequest): void {
    const { ctx } = this
    if (this.refusedAtStep1(q.requestId)) return
    const n = ctx.negotiated
    const echo = { requestId: q.requestId }
    this.request(
      {
        op: 'sync',
        userId: n.userId,
        deviceId: n.deviceId,
        // A since beyond 2^53 is above any change number: the store refuses it. [INB-5]
        since: Math.min(seqFromWire(q.since), Number.MAX_SAFE_INTEGER),
        limit: this.pageLimit(q.limit),
        includeMembers: q.includeMembers,
        previewBytes: previewBytes(q.previewBytes),
      },
      (r) => {
        if (!r.ok) {
          ctx.send(errorFrame(r.code, r.message, echo))
          return
        }
        // The first `count` items, as a frame. [INB-5] with more items after
        // them, the sync point is the last one's change; otherwise the
        // current change number.
        const build = (count: number) => {
          const items = r.items.slice(0, count)
          const hasMore = r.hasMore || count < r.items.length
          const last = items[items.length - 1]
          const syncPoint = hasMore && last !== undefined ? last.change : r.current
          return create(FrameSchema, {
            body: {
              case: 'syncPage',
              value: {
                requestId: q.requestId,
                entries: items.flatMap((i) => (i.entry !== undefined ? [inboxEntryProto(i.entry)] : [])),
                removedConversationIds: items.flatMap((i) => (i.removed !== undefined ? [i.removed] : [])),
                syncPoint: BigInt(syncPoint),
                hasMore,
              },
            },
          })
        }
        // [FRM-9] as [HIS-7]: fewer items, at least one.
        let count = r.items.length
        let frame = build(count)
        while (count > 1 && encodeFrame(frame).length > n.peerMaxFrameBytes) frame = build(--count)
        ctx.send(frame)
      },
    )
  }

  private conversationResult(requestId: number, r: ConversationOpResult | OpError): void {
    if (!r.ok) {
      this.ctx.send(errorFrame(r.code, r.message, { requestId }))
      return
    }
    this.ctx.send(
      create(FrameSchema, {
        body: {
          case: 'conversationResult',
          value: { requestId, conversation: conversationInfo(r.conversation, this.ctx.negotiated.readState) },
        },
      }),
    )
  }
}

/** InboxEntry.last_message body bytes: 0 means 256, above 4096 means 4096. [INB-3] */
function previewBytes(requested: number): number {
  return requested === 0 ? PREVIEW_BYTES_DEFAULT : Math.min(requested, PREVIEW_BYTES_MAX)
}

/**
 * A page frame cut to the client's frame limit [FRM-9] [HIS-7]: while the
 * frame built by `build` is too large, drop an item from `farEnd` of `items`
 * (the page's own array) and set has_more, which then says so. At least one
 * item stays whenever one is available [HIS-7].
 */
function fitFrameLimit<T>(
  page: { hasMore: boolean },
  items: T[],
  farEnd: 'start' | 'end',
  maxFrameBytes: number,
  build: () => Frame,
): Frame {
  for (;;) {
    const frame = build()
    if (items.length <= 1 || encodeFrame(frame).length <= maxFrameBytes) return frame
    if (farEnd === 'start') items.shift()
    else items.pop()
    page.hasMore = true
  }
}
