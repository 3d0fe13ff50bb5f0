// The server side of one connection as a pure state machine: events in
// (frames, time, store results, fan-out), effects out (frames, close, store
// operations, timer). No I/O, no clock of its own: `now` comes with every
// event, so tests drive it with plain calls and a fake clock.
//
// Phases: awaitHello -> opening (Hello accepted, store snapshot pending;
// nothing is sent [HS-2], client frames are held) -> replaying (Welcome sent)
// -> live (ReplayComplete sent) -> closed.
import { decodeBatch } from '../codec/index.js'
import { CodecError } from '../codec/errors.js'
import { CloseCode, ErrorCode } from '../gen/es/imwire/v1/control_pb.js'
import { create } from '@bufbuild/protobuf'
import { UpdateReason } from '../gen/es/imwire/v1/conversation_pb.js'
import { type Frame, FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import type { Hello } from '../gen/es/imwire/v1/handshake_pb.js'
import { type DeliveryOut, Deliveries } from './delivery.js'
import type { Effect, SessionEvent } from './effects.js'
import { noticeFrame } from './frames.js'
import { acceptHello, type HandshakeConfig, type Negotiated, welcomeFrame } from './handshake.js'
import { isConversationId, seqFromWire } from './ids.js'
import { type RequestContext, RequestHandler } from './requests.js'
import type { OpError, ReplayState, ResultOf, StoreOp, StoreResult } from './store-ops.js'

export interface SessionConfig extends HandshakeConfig {
  /** Unique per connection (Welcome.session_id). [HS-10] */
  sessionId: string
}

type Phase = 'awaitHello' | 'opening' | 'replaying' | 'live' | 'closed'

/** Client frames the server accepts after Welcome. [FRM-10] */
const CLIENT_FRAMES = new Set([
  'send',
  'deliverAck',
  'historyRequest',
  'listConversations',
  'createConversation',
  'addMembers',
  'removeMembers',
  'leaveConversation',
  'batch',
  'ping',
  'pong',
  'close',
])

/** Frames held between Hello and Welcome, at most (a client should wait for Welcome). */
const MAX_HELD_FRAMES = 1024

type Pending = (result: StoreResult | OpError) => void

export class ServerSession {
  private phase: Phase = 'awaitHello'
  private out: Effect[] = []
  private now = 0
  private lastInboundAt = 0
  private readonly startedAt: number
  private negotiated: Negotiated | null = null
  private deliveries: Deliveries | null = null
  private requests: RequestHandler | null = null
  private held: Frame[] = []
  private heldNotices: Extract<SessionEvent, { type: 'notice' }>[] = []
  private nextOpId = 1
  private readonly pendingOps = new Map<number, Pending>()
  private attached = false

  constructor(
    private readonly config: SessionConfig,
    now: number,
  ) {
    this.startedAt = now
  }

  /** Effects at connection start: the handshake timer. [HS-8] */
  start(): Effect[] {
    this.out.push({ type: 'setTimer', at: this.startedAt + this.config.handshakeTimeoutMs })
    return this.flush()
  }

  get closed(): boolean {
    return this.phase === 'closed'
  }

  get userId(): string | null {
    return this.negotiated?.userId ?? null
  }

  get deviceId(): string | null {
    return this.negotiated?.deviceId ?? null
  }

  step(event: SessionEvent, now: number): Effect[] {
    this.now = now
    if (this.phase === 'closed') {
      this.pendingOps.delete((event as { id?: number }).id ?? -1)
      return this.flush()
    }
    switch (event.type) {
      case 'frame':
        this.lastInboundAt = now // [HB-4] any frame counts
        this.onFrame(event.frame, false)
        break
      case 'codecError':
        this.close(event.closeCode, event.reason)
        break
      case 'timer':
        this.onTimer()
        break
      case 'storeResult': {
        const k = this.pendingOps.get(event.id)
        this.pendingOps.delete(event.id)
        k?.(event.result)
        break
      }
      case 'storeFailed':
        this.onStoreFailed(event.id, event.message)
        break
      case 'live':
        this.deliveries?.live(event.live)
        break
      case 'notice':
        this.onNotice(event)
        break
      case 'takenOver':
        this.attached = false
        this.close(CloseCode.SESSION_TAKEN_OVER, 'another connection of this device took over') // [RSM-6]
        break
      case 'shutdown':
        this.close(CloseCode.GOING_AWAY, 'server shutting down', event.retryAfterMs) // [ERR-6]
        break
      case 'outputOverflow':
        this.close(CloseCode.SLOW_CONSUMER, 'output buffer over its bound') // [FLW-3]
        break
      case 'disconnected':
        this.finish()
        break
    }
    return this.flush()
  }

  private flush(): Effect[] {
    const out = this.out
    this.out = []
    return out
  }

  // --- effects helpers ----------------------------------------------------

  private send(frame: Frame): void {
    if (this.phase !== 'closed') this.out.push({ type: 'send', frame })
  }

  private close(code: CloseCode, reason: string, retryAfterMs = 0): void {
    if (this.phase === 'closed') return
    this.out.push({ type: 'close', code, reason, retryAfterMs })
    this.finish()
  }

  private finish(): void {
    this.phase = 'closed'
    this.out.push({ type: 'clearTimer' })
    if (this.attached) this.out.push({ type: 'detach' })
    this.attached = false
    this.held = []
  }

  private store<O extends StoreOp>(op: O, k: (result: ResultOf<O> | OpError) => void): void {
    const id = this.nextOpId++
    this.pendingOps.set(id, k as Pending)
    this.out.push({ type: 'store', id, op })
  }

  private onStoreFailed(id: number, message: string): void {
    const k = this.pendingOps.get(id)
    this.pendingOps.delete(id)
    if (k === undefined) return
    // Answer the request with INTERNAL (ops that have no Error to give, such
    // as the handshake snapshot or a replay read, close instead).
    k({ ok: false, code: ErrorCode.INTERNAL, message })
  }

  // --- timers -------------------------------------------------------------

  private onTimer(): void {
    if (this.phase === 'awaitHello') {
      this.close(CloseCode.HANDSHAKE_TIMEOUT, 'no Hello in time') // [HS-8]
      return
    }
    const hb = this.negotiated?.heartbeatMs ?? 0
    const deadline = this.lastInboundAt + hb * 1.5
    if (this.now >= deadline) {
      this.close(CloseCode.HEARTBEAT_TIMEOUT, 'no frame for 1.5 heartbeat intervals') // [HB-2]
    } else {
      this.out.push({ type: 'setTimer', at: deadline })
    }
  }

  // --- inbound frames -----------------------------------------------------

  private onFrame(frame: Frame, inBatch: boolean): void {
    if (this.phase === 'closed') return
    const kind = frame.body.case
    if (kind === undefined) {
      this.close(CloseCode.UNSUPPORTED_FRAME, 'frame without a known body') // [FRM-7]
      return
    }
    if (this.phase === 'awaitHello') {
      if (kind !== 'hello') {
        this.close(CloseCode.UNEXPECTED_FRAME, `${kind} before Hello`) // [HS-1]
        return
      }
      this.onHello(frame.body.value as Hello)
      return
    }
    if (kind === 'hello') {
      this.close(CloseCode.UNEXPECTED_FRAME, inBatch ? 'Hello inside a Batch' : 'second Hello') // [HS-3] [BAT-12]
      return
    }
    if (!CLIENT_FRAMES.has(kind)) {
      this.close(CloseCode.UNEXPECTED_FRAME, `${kind} is a server-only frame`) // [FRM-10]
      return
    }
    if (this.phase === 'opening') {
      // Nothing may be sent before Welcome [HS-2]: hold the frame until then.
      if (this.held.length >= MAX_HELD_FRAMES) {
        this.close(CloseCode.WINDOW_EXCEEDED, 'too many frames before Welcome')
        return
      }
      this.held.push(frame)
      return
    }
    this.dispatch(frame)
  }

  private dispatch(frame: Frame): void {
    const req = this.requests as RequestHandler
    const body = frame.body
    switch (body.case) {
      case 'send':
        req.send(body.value)
        break
      case 'deliverAck':
        this.onDeliverAck(body.value.conversationId, seqFromWire(body.value.upToSeq))
        break
      case 'historyRequest':
        req.history(body.value)
        break
      case 'listConversations':
        req.list(body.value)
        break
      case 'createConversation':
        req.create(body.value)
        break
      case 'addMembers':
        req.members('addMembers', body.value.requestId, body.value.conversationId, body.value.userIds)
        break
      case 'removeMembers':
        req.members('removeMembers', body.value.requestId, body.value.conversationId, body.value.userIds)
        break
      case 'leaveConversation':
        req.leave(body.value.requestId, body.value.conversationId)
        break
      case 'ping':
        // [HB-1] [FLW-4] answered at once, outside any window.
        this.send(create(FrameSchema, { body: { case: 'pong', value: { nonce: body.value.nonce } } }))
        break
      case 'pong':
        break
      case 'close':
        // [ERR-3] the client is closing: stop sending, close without a Close of our own.
        this.out.push({ type: 'end' })
        this.finish()
        break
      case 'batch':
        this.onBatch(frame)
        break
    }
  }

  private onBatch(frame: Frame): void {
    const n = this.negotiated as Negotiated
    let frames: Frame[]
    try {
      frames = decodeBatch(frame, {
        maxBatchBytes: n.limits.maxBatchBytes,
        maxBatchFrames: n.limits.maxBatchFrames,
        maxFrameBytes: n.limits.maxFrameBytes, // [BAT-11]
        lz4Enabled: n.lz4, // [HS-6]
      })
    } catch (err) {
      if (!(err instanceof CodecError)) throw err
      this.close(err.closeCode, err.code) // [BAT-2..7]
      return
    }
    for (const f of frames) {
      if (this.phase === 'closed') return
      this.onFrame(f, true) // [BAT-1] in order, as if received one by one
    }
  }

  private onDeliverAck(conversationId: string, upTo: number): void {
    const n = this.negotiated as Negotiated
    // [DLV-4] unknown or malformed conversation ids are ignored like non-members.
    if (!isConversationId(conversationId)) return
    this.deliveries?.ack(conversationId, upTo)
    this.store(
      { op: 'ack', userId: n.userId, deviceId: n.deviceId, conversationId, upToSeq: upTo },
      (r) => {
        if (!r.ok) return
        if ('outcome' in r && r.outcome === 'tooHigh') {
          this.close(CloseCode.ACK_TOO_HIGH, 'DeliverAck above top_seq') // [DLV-3]
        }
      },
    )
  }

  // --- handshake ----------------------------------------------------------

  private onHello(hello: Hello): void {
    const res = acceptHello(hello, this.config)
    if (!res.ok) {
      this.close(res.code, res.reason) // [HS-4] [HS-7]
      return
    }
    const n = res.negotiated
    this.negotiated = n
    this.phase = 'opening'
    this.lastInboundAt = this.now
    this.out.push({ type: 'setTimer', at: this.now + n.heartbeatMs * 1.5 })
    // Attach first, then snapshot: every message committed after the
    // snapshot reaches this session live (no gap at the boundary). [RSM-7]
    this.attached = true
    this.out.push({ type: 'attach', userId: n.userId, deviceId: n.deviceId })
    this.store(
      { op: 'openDevice', userId: n.userId, deviceId: n.deviceId, resume: n.resume, nowMs: this.now },
      (r) => {
        if (!r.ok) {
          if ('ackTooHigh' in r) this.close(CloseCode.ACK_TOO_HIGH, 'resume position above top_seq') // [RSM-4]
          else this.close(CloseCode.INTERNAL_ERROR, 'store unavailable')
          return
        }
        if (!('conversations' in r)) return
        this.welcome(r.conversations)
      },
    )
  }

  private welcome(conversations: ReplayState[]): void {
    const n = this.negotiated as Negotiated
    this.phase = 'replaying'
    this.send(welcomeFrame(n, this.config.sessionId, this.now)) // [HS-10]
    this.out.push({ type: 'batching', lz4: n.lz4, maxFrameBytes: n.peerMaxFrameBytes })
    const out: DeliveryOut = {
      send: (f) => this.send(f),
      sendEncoded: (bytes) => {
        if (this.phase !== 'closed') this.out.push({ type: 'sendEncoded', bytes })
      },
      close: (code, reason) => this.close(code, reason),
      readReplay: (op) =>
        this.store(op, (r) => {
          if (!r.ok || !('messages' in r)) {
            this.close(CloseCode.INTERNAL_ERROR, 'replay read failed')
            return
          }
          this.deliveries?.onReplayRead(r.messages)
          this.afterReplayProgress()
        }),
    }
    this.deliveries = new Deliveries(out, {
      userId: n.userId,
      deviceId: n.deviceId,
      window: n.receiveWindow,
      replayLimit: n.limits.replayLimit,
      maxBacklog: n.limits.maxBacklog,
      peerMaxFrameBytes: n.peerMaxFrameBytes,
    })
    const ctx: RequestContext = {
      negotiated: n,
      maxGroupMembers: this.config.maxGroupMembers,
      now: () => this.now,
      send: (f) => this.send(f),
      close: (code, reason) => this.close(code, reason),
      store: (op, k) => this.store(op, k),
      learnCursor: (conv, cursor, epoch) => this.deliveries?.learn(conv, cursor, epoch),
      forgetConversation: (conv) => this.deliveries?.forget(conv),
    }
    this.requests = new RequestHandler(ctx)
    // Notices that came while opening go right after Welcome. [HS-2]
    for (const e of this.heldNotices) this.onNotice(e)
    this.heldNotices = []
    this.deliveries.startReplay(conversations)
    this.afterReplayProgress()
    const held = this.held
    this.held = []
    for (const f of held) this.onFrame(f, false)
  }

  private afterReplayProgress(): void {
    if (this.phase === 'replaying' && this.deliveries !== null && !this.deliveries.replaying) this.phase = 'live'
  }

  private onNotice(e: Extract<SessionEvent, { type: 'notice' }>): void {
    if (this.phase === 'opening' || this.phase === 'awaitHello') {
      if (this.phase === 'opening') this.heldNotices.push(e)
      return
    }
    const d = this.deliveries as Deliveries
    const cursor = d.cursorOf(e.conversationId)
    this.send(noticeFrame(e.conversationId, e.reason, e.epoch, e.topSeq, cursor)) // [CNV-6]
    if (e.reason === UpdateReason.REMOVED) d.forget(e.conversationId)
  }
}
