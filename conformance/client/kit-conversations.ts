// The conversations the kit's scripted server pretends to hold for one client
// scenario: what exists (top_seq, epoch), what the client has been given
// (Deliver, a history page, the SendAck of its own message) and what it has
// acknowledged. Builds the frames the delivery steps send and judges every
// DeliverAck the moment it arrives [DLV-9].
import { create } from '@bufbuild/protobuf'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { type Message, MessageSchema } from '../../src/gen/es/imwire/v1/messaging_pb.js'
import { ConversationKind } from '../../src/gen/es/imwire/v1/conversation_pb.js'

interface KitConversation {
  epoch: bigint
  /** Highest seq that exists. */
  top: bigint
  /** The server's cursor for the client's device (highest acknowledged in this epoch). */
  cursor: bigint
  /** Seqs above the cursor base that the client was given, in this epoch. */
  given: Set<bigint>
  /** The cursor the epoch started from (a notice's cursor): everything up to it counts as held. */
  base: bigint
  /** Delivered (live or replayed) and not yet acknowledged, for the receive window. */
  outstanding: bigint[]
  /** When the kit gave each seq to the client (ms, the kit's clock). */
  givenAt: Map<bigint, number>
  /** Every DeliverAck of the conversation, as it arrived. */
  acks: Array<{ upTo: bigint; at: number }>
}

/** The body of the kit's message seq: the client hands it over as it is. */
export const kitBody = (conversationId: string, seq: bigint) => new TextEncoder().encode(`${conversationId}#${seq}`)

export class KitConversations {
  private readonly convs = new Map<string, KitConversation>()
  /** DLV-9 violations seen, in arrival order; the runner fails the case on the first. */
  readonly violations: string[] = []

  constructor(private readonly now: () => number) {}

  has(id: string): boolean {
    return this.convs.has(id)
  }

  private give(c: KitConversation, seq: bigint): void {
    c.given.add(seq)
    if (!c.givenAt.has(seq)) c.givenAt.set(seq, this.now())
  }

  get(id: string): KitConversation {
    let c = this.convs.get(id)
    if (c === undefined) {
      c = {
        epoch: 1n,
        top: 0n,
        cursor: 0n,
        given: new Set(),
        base: 0n,
        outstanding: [],
        givenAt: new Map(),
        acks: [],
      }
      this.convs.set(id, c)
    }
    return c
  }

  /** A message of another user at seq, as the kit's Deliver and HistoryPage carry it. */
  message(conversationId: string, seq: bigint): Message {
    return create(MessageSchema, {
      conversationId,
      seq,
      messageId: `kit-${conversationId}-${seq}`,
      senderUserId: 'kit-peer',
      senderDeviceId: 'kit-peer-device',
      clientMsgId: new Uint8Array(16).fill(Number(seq % 256n)),
      contentType: 'text/plain',
      body: kitBody(conversationId, seq),
      serverTimeMs: BigInt(Date.now()),
    })
  }

  /** A Deliver of seq (which then exists and counts as given). */
  deliver(conversationId: string, seq: bigint, replayed: boolean): Frame {
    const c = this.get(conversationId)
    if (seq > c.top) c.top = seq
    this.give(c, seq)
    c.outstanding.push(seq)
    return create(FrameSchema, {
      body: { case: 'deliver', value: { message: this.message(conversationId, seq), epoch: c.epoch, replayed } },
    })
  }

  /** The seq a SendAck of the client's own message gets: the next one, given by the SendAck itself. [DLV-5] */
  own(conversationId: string): bigint {
    const c = this.get(conversationId)
    c.top++
    this.give(c, c.top)
    return c.top
  }

  /**
   * A ConversationUpdated: top_seq raises what exists; a new epoch starts the
   * conversation over from the notice's cursor (what the client held is gone). [RSM-8]
   */
  notice(conversationId: string, reason: number, topSeq: bigint, cursor: bigint, epoch: bigint): Frame {
    const c = this.get(conversationId)
    if (epoch !== c.epoch) {
      c.epoch = epoch
      c.given = new Set()
      c.givenAt = new Map()
      c.acks = []
      c.outstanding = []
      c.top = 0n
    }
    c.base = cursor
    c.cursor = cursor
    if (topSeq > c.top) c.top = topSeq
    return create(FrameSchema, {
      body: {
        case: 'conversationUpdated',
        value: { conversationId, reason, epoch: c.epoch, topSeq: c.top, cursor: c.cursor },
      },
    })
  }

  /** The page a FORWARD HistoryRequest gets: anchor + 1 up to the top, at most `limit`. [HIS-1] */
  page(conversationId: string, requestId: number, anchor: bigint, limit: number): Frame {
    const c = this.get(conversationId)
    const messages: Message[] = []
    for (let s = anchor + 1n; s <= c.top && messages.length < limit; s++) {
      this.give(c, s)
      messages.push(this.message(conversationId, s))
    }
    const last = anchor + BigInt(messages.length)
    return create(FrameSchema, {
      body: {
        case: 'historyPage',
        value: { requestId, conversationId, epoch: c.epoch, topSeq: c.top, messages, hasMore: last < c.top },
      },
    })
  }

  /**
   * The answer to a ListConversations: every conversation the kit holds, in
   * one page (a client may list before reading history after EPOCH_CHANGED [RSM-11]).
   */
  list(requestId: number): Frame {
    const conversations = [...this.convs.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([conversationId, c]) => ({
        conversationId,
        kind: ConversationKind.GROUP,
        epoch: c.epoch,
        topSeq: c.top,
        cursor: c.cursor,
        memberUserIds: ['kit-user', 'kit-peer'],
        ownerUserId: 'kit-peer',
      }))
    return create(FrameSchema, {
      body: { case: 'conversationList', value: { requestId, conversations, hasMore: false } },
    })
  }

  /** Delivers of the conversation not yet covered by an acknowledgement. */
  outstandingCount(conversationId: string): number {
    return this.get(conversationId).outstanding.length
  }

  /** The highest seq every seq up to which the client was given (or held from the cursor). */
  held(conversationId: string): bigint {
    const c = this.get(conversationId)
    let n = c.cursor
    if (c.base > n) n = c.base
    while (c.given.has(n + 1n)) n++
    return n
  }

  /**
   * A DeliverAck arrived. [DLV-9] up_to_seq N only when every message from
   * the cursor + 1 up to N was given to the client; the server's cursor then
   * moves (never back, [DLV-2]) and frees the receive window.
   */
  acked(conversationId: string, upTo: bigint): void {
    const c = this.get(conversationId)
    const held = this.held(conversationId)
    if (upTo > held) {
      let missing = held + 1n
      while (c.given.has(missing)) missing++
      this.violations.push(
        `DeliverAck up_to_seq ${upTo} for ${conversationId} covers seq ${missing}, which the client was never given (by Deliver, history or a SendAck of its own) [DLV-9]`,
      )
    }
    c.acks.push({ upTo, at: this.now() })
    if (upTo > c.cursor) c.cursor = upTo
    c.outstanding = c.outstanding.filter((s) => s > c.cursor)
  }
}
