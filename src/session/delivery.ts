// Deliveries on one connection: replay, then live traffic, under the receive
// window. [RSM-1..3] [RSM-7] [DLV-1] [DLV-6] [FLW-1] [FLW-3] [HS-11]
//
// Per conversation the connection tracks `acked` (the device's cursor as far
// as this connection knows) and `delivered` (highest seq handed to this
// connection: sent, skipped as its own, or covered by replay/notice). A
// message is sent only if its seq is above both, so a conversation's seqs
// leave strictly increasing and never twice. [DLV-1]
//
// Live messages that arrive while replaying wait in `pending`; the replay
// covers everything up to the snapshot's top_seq, so pending messages at or
// below it are dropped and the rest follow ReplayComplete in order. [RSM-7]
import { UpdateReason } from '../gen/es/imwire/v1/conversation_pb.js'
import { CloseCode } from '../gen/es/imwire/v1/control_pb.js'
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'
import { create } from '@bufbuild/protobuf'
import { FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import { encodeFrame } from '../codec/index.js'
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
  /** min(server, client) receive window. [FLW-1] */
  window: number
  replayLimit: number
  maxBacklog: number
  /** The client's max frame size. [FRM-9] */
  peerMaxFrameBytes: number
}

interface ConvState {
  acked: number
  delivered: number
  epoch: number
  /** Seqs sent on this connection and not yet acked, ascending. */
  unacked: number[]
}

type Phase = 'idle' | 'replaying' | 'live'

export class Deliveries {
  private readonly convs = new Map<string, ConvState>()
  private unackedTotal = 0
  private pending: LiveMessage[] = []
  private pendingHead = 0
  private phase: Phase = 'idle'
  // Replay progress.
  private replayQueue: ReplayState[] = []
  private replayIndex = 0
  private replayMessages: StoredMessage[] | null = null
  private replayPos = 0
  private replayEpoch = 0
  private readPending = false
  private replayed = 0
  private pullRequired = 0

  constructor(
    private readonly out: DeliveryOut,
    private readonly opts: DeliveryOptions,
  ) {}

  get replaying(): boolean {
    return this.phase !== 'live'
  }

  /** Messages committed but not yet sent on this connection (live only). [FLW-3] */
  get backlog(): number {
    return this.pending.length - this.pendingHead
  }

  /** This connection's view of the device cursor (for notices). */
  cursorOf(conversationId: string): number {
    return this.convs.get(conversationId)?.acked ?? 0
  }

  /** Begin replay from the store snapshot taken before Welcome. [HS-11] [RSM-1] */
  startReplay(states: ReplayState[]): void {
    this.replayQueue = [...states].sort((a, b) => (a.conversationId < b.conversationId ? -1 : 1))
    for (const s of this.replayQueue) {
      this.convs.set(s.conversationId, { acked: s.cursor, delivered: s.cursor, epoch: s.epoch, unacked: [] })
    }
    this.phase = 'replaying'
    this.pump()
  }

  onReplayRead(messages: StoredMessage[]): void {
    this.readPending = false
    const state = this.replayQueue[this.replayIndex]
    if (state === undefined) return
    if (messages.length > this.opts.replayLimit) {
      // [RSM-2] too much to replay: the client pages history instead.
      this.notice(state, UpdateReason.REPLAY_LIMIT)
      this.finishConversation(state)
    } else {
      this.replayMessages = messages
      this.replayPos = 0
      this.replayEpoch = state.epoch
    }
    this.pump()
  }

  live(m: LiveMessage): void {
    this.pending.push(m)
    if (this.backlog > this.opts.maxBacklog) {
      this.out.close(CloseCode.SLOW_CONSUMER, 'backlog over max_backlog') // [FLW-3]
      return
    }
    if (this.phase === 'live' && this.backlog === 1) this.pump()
  }

  /** Cumulative ack from the client (already validated by the store or about to be). [DLV-2] */
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

  /** An ack the store accepted for a conversation this connection had not seen yet. */
  learn(conversationId: string, cursor: number, epoch: number): void {
    if (!this.convs.has(conversationId)) {
      this.convs.set(conversationId, { acked: cursor, delivered: cursor, epoch, unacked: [] })
    }
  }

  /** The user left or was removed: stop counting this conversation. [FAN-3] */
  forget(conversationId: string): void {
    const c = this.convs.get(conversationId)
    if (c === undefined) return
    this.unackedTotal -= c.unacked.length
    this.convs.delete(conversationId)
    this.pump()
  }

  private windowOpen(): boolean {
    return this.unackedTotal < this.opts.window
  }

  private notice(state: ReplayState, reason: UpdateReason): void {
    this.pullRequired++
    this.out.send(noticeFrame(state.conversationId, reason, state.epoch, state.topSeq, state.cursor))
  }

  private finishConversation(state: ReplayState): void {
    const c = this.convs.get(state.conversationId)
    // Everything up to the snapshot's top is covered: replayed, the device's
    // own (DLV-5), or left to history after a notice.
    if (c !== undefined && c.delivered < state.topSeq) c.delivered = state.topSeq
    this.replayMessages = null
    this.replayIndex++
  }

  /** Send whatever may go now. */
  private pump(): void {
    while (this.phase === 'replaying') {
      if (this.readPending) return
      if (this.replayMessages !== null) {
        const msgs = this.replayMessages
        while (this.replayPos < msgs.length) {
          if (!this.windowOpen()) return
          const m = msgs[this.replayPos++] as StoredMessage
          // Acked meanwhile (RSM-3) or left the conversation: skip.
          const c = this.convs.get(m.conversationId)
          if (c === undefined || m.seq <= c.delivered) continue
          if (!this.sendDeliver(m, encodeFrame(deliverFrame(m, this.replayEpoch, true)))) return
          this.replayed++
        }
        this.finishConversation(this.replayQueue[this.replayIndex] as ReplayState)
        continue
      }
      const state = this.replayQueue[this.replayIndex]
      if (state === undefined) {
        this.phase = 'live'
        this.out.send(
          create(FrameSchema, {
            body: {
              case: 'replayComplete',
              value: { delivered: BigInt(this.replayed), pullRequired: this.pullRequired },
            },
          }),
        )
        break
      }
      if (state.epochChanged) {
        this.notice(state, UpdateReason.EPOCH_CHANGED) // [RSM-4]
        this.finishConversation(state)
      } else if (state.cursor >= state.topSeq) {
        this.finishConversation(state)
      } else {
        this.readPending = true
        this.out.readReplay({
          op: 'readReplay',
          conversationId: state.conversationId,
          afterSeq: state.cursor,
          upToSeq: state.topSeq,
          limit: this.opts.replayLimit + 1,
          excludeUserId: this.opts.userId,
          excludeDeviceId: this.opts.deviceId,
        })
        return
      }
    }
    if (this.phase !== 'live') return
    while (this.pendingHead < this.pending.length) {
      const lm = this.pending[this.pendingHead] as LiveMessage
      const m = lm.message
      let c = this.convs.get(m.conversationId)
      if (c !== undefined && m.seq <= c.delivered) {
        this.pendingHead++
        continue
      }
      if (!this.windowOpen()) break
      if (c === undefined) {
        c = { acked: 0, delivered: 0, epoch: lm.epoch, unacked: [] }
        this.convs.set(m.conversationId, c)
      }
      this.pendingHead++
      if (!this.sendDeliver(m, lm.deliverBytes())) return
    }
    if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead)
      this.pendingHead = 0
    }
  }

  private sendDeliver(m: StoredMessage, bytes: Uint8Array): boolean {
    if (bytes.length > this.opts.peerMaxFrameBytes) {
      // [FRM-9] never send a frame over the client's limit; a Deliver cannot
      // be cut, so the client must reconnect with a larger max_frame_bytes.
      this.out.close(CloseCode.PROTOCOL_ERROR, 'Deliver exceeds Hello.max_frame_bytes')
      return false
    }
    const c = this.convs.get(m.conversationId) as ConvState
    c.delivered = m.seq
    c.unacked.push(m.seq)
    this.unackedTotal++
    this.out.sendEncoded(bytes)
    return true
  }
}
