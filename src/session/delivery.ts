// Deliveries on one connection: replay, then live traffic, under the receive
// window. [RSM-1..3] [RSM-7] [RSM-10] [DLV-1] [DLV-6] [FLW-1] [FLW-3] [HS-11] [CNV-14]
//
// Per conversation the connection tracks `acked` (the device's cursor as far
// as this connection knows) and `delivered` (highest seq handed to this
// connection: sent, or covered by the replay boundary). A message goes out
// only if its seq is above `delivered`, so a conversation's seqs leave
// strictly increasing and never twice. [DLV-1]
//
// Live traffic (messages and membership notices, in commit order) waits in
// one FIFO until ReplayComplete is out; the replay covers everything up to
// each conversation's boundary, so queued messages at or below it are
// dropped and the rest follow in order [RSM-7]. Notices share the FIFO so
// that JOINED precedes the conversation's first live Deliver and no Deliver
// follows REMOVED [CNV-14]; they are not Deliver frames, so the window does
// not count them, but they keep their place behind held Delivers.
import { create } from '@bufbuild/protobuf'
import { encodeFrame } from '../codec/index.js'
import { UpdateReason } from '../gen/es/imwire/v1/conversation_pb.js'
import { CloseCode } from '../gen/es/imwire/v1/control_pb.js'
import { type Frame, FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import type { LiveMessage } from './effects.js'
import { deliverFrame, noticeFrame } from './frames.js'
import type { ReadReplayOp, ReplayState, StoredMessage } from './store-ops.js'

export interface DeliveryOut {
  send(frame: Frame): void
  sendEncoded(bytes: Uint8Array): void
  close(code: CloseCode, reason: string): void
  readReplay(op: ReadReplayOp): void
}

export interface DeliveryOptions {
  userId: string
  deviceId: string
  /** min(server, client) receive window. [FLW-1] [FLW-5] */
  window: number
  replayLimit: number
  maxBacklog: number
  /** The client's inbound frame limit. [FRM-9] */
  peerMaxFrameBytes: number
}

export interface ConversationNotice {
  conversationId: string
  reason: UpdateReason
  epoch: number
  topSeq: number
  /** Cluster mode: its commit-log position. */
  logPos?: number
}

type LiveItem =
  | { live: LiveMessage; notice?: undefined; frame?: undefined }
  | { live?: undefined; notice: ConversationNotice; frame?: undefined }
  /** A ready frame that is live traffic but no Deliver (a read notice [RD-4]). */
  | { live?: undefined; notice?: undefined; frame: Frame; conversationId: string }

interface ConvState {
  acked: number
  delivered: number
  /** Seqs sent on this connection and not yet acked, ascending. */
  unacked: number[]
}

export class Deliveries {
  private readonly convs = new Map<string, ConvState>()
  private unackedTotal = 0
  private queue: LiveItem[] = []
  private head = 0
  /** Messages in the queue (notices excluded). [FLW-3] */
  private queuedMessages = 0
  private live = false
  private started = false
  // Replay progress.
  private replayQueue: ReplayState[] = []
  private replayIndex = 0
  private replayMessages: StoredMessage[] | null = null
  private replayPos = 0
  private readPending = false
  private replayed = 0
  private pullRequired = 0
  /** Live traffic at or below this commit-log position is in the snapshot already (cluster mode). */
  private coveredUpTo = 0

  constructor(
    private readonly out: DeliveryOut,
    private readonly opts: DeliveryOptions,
  ) {}

  /** True until ReplayComplete has been sent. */
  get replaying(): boolean {
    return !this.live
  }

  /** Live messages due to this connection and not yet sent. [FLW-3] */
  get backlog(): number {
    return this.queuedMessages
  }

  /** This connection's view of the device cursor. [DLV-7] */
  cursorOf(conversationId: string): number {
    return this.convs.get(conversationId)?.acked ?? 0
  }

  /**
   * Begin replay from the snapshot taken when Welcome was sent. [HS-11] [RSM-1]
   * `livePosition` (cluster mode): live traffic committed at or below it is
   * covered by the snapshot and is dropped, notices included (another node's
   * commit can reach this one after the session subscribed).
   */
  startReplay(states: ReplayState[], livePosition = 0): void {
    this.coveredUpTo = livePosition
    this.replayQueue = [...states].sort((a, b) => (a.conversationId < b.conversationId ? -1 : 1))
    for (const s of this.replayQueue) {
      this.convs.set(s.conversationId, { acked: s.cursor, delivered: s.cursor, unacked: [] })
    }
    this.started = true
    this.pump()
  }

  onReplayRead(messages: StoredMessage[]): void {
    this.readPending = false
    const state = this.replayQueue[this.replayIndex]
    if (state === undefined) return
    if (messages.length > this.opts.replayLimit) {
      // [RSM-2] too much to replay: one notice, the client pages history.
      this.replayNotice(state, UpdateReason.REPLAY_LIMIT)
      this.finishConversation(state)
    } else {
      this.replayMessages = messages
      this.replayPos = 0
    }
    this.pump()
  }

  /** A committed message for this connection (from the hub). */
  message(m: LiveMessage): void {
    this.queue.push({ live: m })
    this.queuedMessages++
    if (this.queuedMessages > this.opts.maxBacklog) {
      this.out.close(CloseCode.SLOW_CONSUMER, 'backlog over max_backlog') // [FLW-3]
      return
    }
    if (this.live && this.queue.length - this.head === 1) this.pump()
  }

  /** A membership notice: live traffic, after ReplayComplete, in order. [CNV-14] */
  notice(n: ConversationNotice): void {
    this.queue.push({ notice: n })
    if (this.live && this.queue.length - this.head === 1) this.pump()
  }

  /**
   * Another live notice that is not a Deliver (ReadUpdated, PeerRead):
   * after ReplayComplete, in its place among the live traffic. [RD-4] [CNV-14]
   */
  frameNotice(conversationId: string, frame: Frame): void {
    this.queue.push({ frame, conversationId })
    if (this.live && this.queue.length - this.head === 1) this.pump()
  }

  /** A cumulative ack from the client (the store checks it against top_seq). [DLV-2] */
  ack(conversationId: string, upTo: number): void {
    const c = this.convs.get(conversationId)
    if (c === undefined || upTo <= c.acked) return
    c.acked = upTo
    if (c.delivered < upTo) c.delivered = upTo
    let n = 0
    while (n < c.unacked.length && (c.unacked[n] as number) <= upTo) n++
    if (n > 0) {
      c.unacked.splice(0, n)
      this.unackedTotal -= n
    }
    this.pump()
  }

  /** The store moved the cursor of a conversation this connection had not seen yet. */
  learn(conversationId: string, cursor: number): void {
    if (!this.convs.has(conversationId)) {
      this.convs.set(conversationId, { acked: cursor, delivered: cursor, unacked: [] })
    }
  }

  /**
   * This device left the conversation (its LeaveConversation is answered):
   * the Delivers outstanding there can no longer be acknowledged ([DLV-4]),
   * so they stop counting against the window, and those still queued behind
   * it are not sent. [FLW-1]
   */
  left(conversationId: string): void {
    this.forget(conversationId)
    for (let i = this.head; i < this.queue.length; ) {
      const item = this.queue[i] as LiveItem
      if (item.notice?.conversationId === conversationId) break // added again later: from here on it is live
      if (item.live?.message.conversationId === conversationId) {
        this.queue.splice(i, 1)
        this.queuedMessages--
      } else i++
    }
    this.pump()
  }

  /** Cluster mode only (coveredUpTo > 0): committed at or below the snapshot's log position. */
  private coveredBySnapshot(item: LiveItem): boolean {
    const pos = item.live?.logPos ?? item.notice?.logPos
    return pos !== undefined && pos <= this.coveredUpTo
  }

  private forget(conversationId: string): void {
    const c = this.convs.get(conversationId)
    if (c === undefined) return
    this.unackedTotal -= c.unacked.length
    this.convs.delete(conversationId)
  }

  private windowOpen(): boolean {
    return this.unackedTotal < this.opts.window
  }

  private replayNotice(state: ReplayState, reason: UpdateReason): void {
    this.pullRequired++ // [RSM-10]
    this.out.send(noticeFrame(state.conversationId, reason, state.epoch, state.topSeq, state.cursor))
  }

  private finishConversation(state: ReplayState): void {
    const c = this.convs.get(state.conversationId)
    // Everything up to the boundary is covered: replayed, the device's own
    // (DLV-5), or left to history after a notice. [RSM-7]
    if (c !== undefined && c.delivered < state.topSeq) c.delivered = state.topSeq
    this.replayMessages = null
    this.replayIndex++
  }

  /** Send whatever may go now. */
  private pump(): void {
    if (!this.started) return
    if (!this.live && !this.pumpReplay()) return
    while (this.head < this.queue.length) {
      const item = this.queue[this.head] as LiveItem
      if (this.coveredUpTo > 0 && this.coveredBySnapshot(item)) {
        this.head++
        if (item.live !== undefined) this.queuedMessages--
        continue
      }
      if (item.frame !== undefined) {
        this.head++
        this.out.send(item.frame)
        continue
      }
      if (item.notice !== undefined) {
        this.head++
        const n = item.notice
        this.out.send(noticeFrame(n.conversationId, n.reason, n.epoch, n.topSeq, this.cursorOf(n.conversationId)))
        if (n.reason === UpdateReason.REMOVED) this.forget(n.conversationId) // [FAN-3]
        continue
      }
      const lm = item.live
      const m = lm.message
      let c = this.convs.get(m.conversationId)
      if (c !== undefined && m.seq <= c.delivered) {
        this.head++
        this.queuedMessages--
        continue
      }
      if (!this.windowOpen()) break
      if (c === undefined) {
        // First sight of this conversation (joined after Welcome). [FAN-5]
        c = { acked: 0, delivered: 0, unacked: [] }
        this.convs.set(m.conversationId, c)
      }
      this.head++
      this.queuedMessages--
      if (!this.sendDeliver(c, m, lm.deliverBytes())) return
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
  }

  /** Advance the replay; true once ReplayComplete is out. */
  private pumpReplay(): boolean {
    for (;;) {
      if (this.readPending) return false
      if (this.replayMessages !== null) {
        const msgs = this.replayMessages
        const state = this.replayQueue[this.replayIndex] as ReplayState
        while (this.replayPos < msgs.length) {
          const m = msgs[this.replayPos] as StoredMessage
          // Acked meanwhile: never replayed. [RSM-3]
          const c = this.convs.get(m.conversationId)
          if (c === undefined || m.seq <= c.delivered) {
            this.replayPos++
            continue
          }
          if (!this.windowOpen()) return false // replay is paced by the window [FLW-1]
          this.replayPos++
          if (!this.sendDeliver(c, m, encodeFrame(deliverFrame(m, state.epoch, true)))) return false
          this.replayed++
        }
        this.finishConversation(state)
        continue
      }
      const state = this.replayQueue[this.replayIndex]
      if (state === undefined) {
        this.live = true
        this.out.send(
          create(FrameSchema, {
            body: {
              case: 'replayComplete',
              value: { delivered: BigInt(this.replayed), pullRequired: this.pullRequired }, // [RSM-10]
            },
          }),
        )
        return true
      }
      if (state.epochChanged) {
        this.replayNotice(state, UpdateReason.EPOCH_CHANGED) // [RSM-4]
        this.finishConversation(state)
      } else if (state.cursor >= state.topSeq) {
        this.finishConversation(state)
      } else {
        this.readPending = true
        // limit + 1 tells whether the replay would exceed replay_limit. [RSM-2]
        this.out.readReplay({
          op: 'readReplay',
          conversationId: state.conversationId,
          afterSeq: state.cursor,
          upToSeq: state.topSeq,
          limit: this.opts.replayLimit + 1,
          excludeUserId: this.opts.userId,
          excludeDeviceId: this.opts.deviceId,
        })
        return false
      }
    }
  }

  private sendDeliver(c: ConvState, m: StoredMessage, bytes: Uint8Array): boolean {
    if (bytes.length > this.opts.peerMaxFrameBytes) {
      // [FRM-9] cannot happen within [LIM-1] and [HS-13] (every accepted body
      // fits 1 MiB); kept as a guard: never send an oversize frame.
      this.out.close(CloseCode.INTERNAL_ERROR, 'Deliver exceeds the client frame limit')
      return false
    }
    c.delivered = m.seq
    c.unacked.push(m.seq)
    this.unackedTotal++
    this.out.sendEncoded(bytes)
    return true
  }
}
