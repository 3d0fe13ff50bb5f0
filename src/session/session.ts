// The server side of one connection as a pure state machine: events in
// (frames, time, store results, fan-out), effects out (frames, close, store
// operations, timer). No I/O, no clock of its own: `now` comes with every
// event, so tests drive it with plain calls and a fake clock.
//
// Phases (spec section 5.1): awaitHello; opening (Hello passed the checks
// that need no data, the store snapshot is pending; nothing is sent [HS-2]
// and client frames are held [HS-15]); replaying (Welcome sent); live
// (ReplayComplete sent); closed (Close sent or received, or transport gone).
import { decodeBatch, FEATURE_OF_BODY } from '../codec/index.js'
import { CodecError } from '../codec/errors.js'
import { CloseCode, ErrorCode } from '../gen/es/imwire/v1/control_pb.js'
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'
import type { Hello } from '../gen/es/imwire/v1/handshake_pb.js'
import { Deliveries, type DeliveryOut } from './delivery.js'
import type { Effect, SessionEvent } from './effects.js'
import { readNoticeFrame } from './frames.js'
import { acceptHello, type HandshakeConfig, type Negotiated, welcomeFrame } from './handshake.js'
import { IdSlots } from './id-slots.js'
import { isConversationId, seqFromWire } from './ids.js'
import { type RequestContext, RequestHandler } from './requests.js'
import type { OpError, ReadReplayOp, ReplayState, ResultOf, StoreOp, StoreResult } from './store-ops.js'

/**
 * What every session of a server shares: one object for all of them (a copy
 * per connection was ~0.5 KiB of dictionary-mode object, own shape and
 * property array each in the heap at 10,000 connections).
 */
export interface SessionConfig extends HandshakeConfig {
  /**
   * Per-user rate limit of Sends and requests [SEC-6]: 0 when allowed, else
   * the retry_after_ms of a RATE_LIMITED answer. Absent: no limit.
   */
  rateLimit?: (userId: string, now: number) => number
  /** Most requests (not Sends) in progress on this connection. [SEC-6] Absent: no bound. */
  maxRequestsInProgress?: number
}

type Phase = 'awaitHello' | 'opening' | 'replaying' | 'live' | 'closed'

/** Client frames the server accepts after Hello (Appendix F). [FRM-10] */
const CLIENT_FRAMES = new Set([
  'send',
  'deliverAck',
  'historyRequest',
  'listConversations',
  'createConversation',
  'addMembers',
  'removeMembers',
  'leaveConversation',
  'markRead',
  'readCountRequest',
  'inboxRequest',
  'syncRequest',
  'batch',
  'ping',
  'pong',
  'close',
])

/**
 * Frames held between Hello and Welcome, at most. A client sends nothing
 * there [HS-14]; the bound keeps a misbehaving one from growing memory [SEC-1].
 */
const MAX_HELD_FRAMES = 4096

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
  private heldSends = 0
  /** A held frame brought the Sends in flight over the bound: nothing after it is held. [FLW-2] */
  private heldOverBound = false
  private nextOpId = 1
  /** Not a Map: see id-slots.ts (GC promotion through replaced hash tables). */
  private readonly pendingOps = new IdSlots<Pending>()
  private registered = false
  /** What Deliveries and RequestHandler call back into: one object, no closures per session. */
  private readonly ports: SessionPorts = new SessionPorts(this)

  constructor(
    private readonly config: SessionConfig,
    now: number,
    /** Unique per connection (Welcome.session_id). [HS-10] */
    readonly sessionId: string,
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

  /** From transport accept until Welcome is sent or the connection closes. [SEC-2] */
  get handshaking(): boolean {
    return this.phase === 'awaitHello' || this.phase === 'opening'
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
      // CLOSING/CLOSED: everything is read and discarded.
      if (event.type === 'storeResult' || event.type === 'storeFailed') this.pendingOps.take(event.id)
      return this.flush()
    }
    switch (event.type) {
      case 'frame':
        this.lastInboundAt = now // [HB-4] any complete frame counts
        this.onFrame(event.frame, false)
        break
      case 'codecError':
        this.close(event.closeCode, event.reason)
        break
      case 'timer':
        this.onTimer()
        break
      case 'storeResult': {
        const k = this.pendingOps.take(event.id)
        k?.(event.result)
        break
      }
      case 'storeFailed':
        this.onStoreFailed(event.id)
        break
      case 'live':
        this.deliveries?.message(event.live)
        break
      case 'notice':
        this.deliveries?.notice(event)
        break
      case 'read':
        // [RD-1] [RD-4] only to connections that enabled "read-state", as live traffic.
        if (this.negotiated?.readState === true) {
          this.deliveries?.frameNotice(
            event.notice.kind === 'updated' ? event.notice.state.conversationId : event.notice.conversationId,
            readNoticeFrame(event.notice),
          )
        }
        break
      case 'takenOver':
        this.registered = false
        this.close(CloseCode.SESSION_TAKEN_OVER, 'another connection of this device took over') // [RSM-6]
        break
      case 'shutdown':
        this.close(CloseCode.GOING_AWAY, 'server shutting down', event.retryAfterMs) // [ERR-6] [ERR-14]
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

  // --- effect helpers -----------------------------------------------------

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
    if (this.registered) this.out.push({ type: 'detach' })
    this.registered = false
    this.held = []
  }

  // --- for SessionPorts only (Deliveries' and RequestHandler's callbacks) --

  /** @internal */
  portSend(frame: Frame): void {
    this.send(frame)
  }
  /** @internal */
  portSendEncoded(bytes: Uint8Array): void {
    if (this.phase !== 'closed') this.out.push({ type: 'sendEncoded', bytes })
  }
  /** @internal */
  portClose(code: CloseCode, reason: string): void {
    this.close(code, reason)
  }
  /** @internal */
  portStore<O extends StoreOp>(op: O, k: (result: ResultOf<O> | OpError) => void): void {
    this.store(op, k)
  }
  /** @internal */
  portReadReplay(op: ReadReplayOp): void {
    this.store(op, (r) => {
      if (!r.ok) return this.close(CloseCode.INTERNAL_ERROR, 'replay read failed')
      this.deliveries?.onReplayRead(r.messages)
      this.afterReplayProgress()
    })
  }
  /** @internal */
  portNow(): number {
    return this.now
  }
  /** @internal */
  portRateLimit(): number {
    const limit = this.config.rateLimit
    const n = this.negotiated
    return limit === undefined || n === null ? 0 : limit(n.userId, this.now)
  }
  /** @internal */
  portLeft(conversationId: string): void {
    this.deliveries?.left(conversationId)
  }
  /** @internal */
  get portMaxRequestsInProgress(): number | undefined {
    return this.config.maxRequestsInProgress
  }

  private store<O extends StoreOp>(op: O, k: (result: ResultOf<O> | OpError) => void): void {
    const id = this.nextOpId++
    this.pendingOps.add(id, k as Pending)
    this.out.push({ type: 'store', id, op })
  }

  private onStoreFailed(id: number): void {
    const k = this.pendingOps.take(id)
    // Requests get INTERNAL; the snapshot and replay reads close 3005 instead.
    // The store's message (SQL, paths) stays in the server log. [SEC-9]
    k?.({ ok: false, code: ErrorCode.INTERNAL, message: 'internal error, retry later' })
  }

  // --- timers -------------------------------------------------------------

  private onTimer(): void {
    if (this.phase === 'awaitHello') {
      this.close(CloseCode.HANDSHAKE_TIMEOUT, 'no Hello in time') // [HS-8]
      return
    }
    // [HB-2] 1.5 x heartbeat after the later of the last frame and Welcome.
    const hb = this.negotiated?.heartbeatMs ?? 0
    const deadline = this.lastInboundAt + hb * 1.5
    if (this.now >= deadline) {
      this.close(CloseCode.HEARTBEAT_TIMEOUT, 'no frame for 1.5 heartbeat intervals')
    } else {
      this.out.push({ type: 'setTimer', at: deadline })
    }
  }

  // --- inbound frames -----------------------------------------------------

  private inflight(): number {
    return this.phase === 'opening' ? this.heldSends : (this.requests?.inflight ?? 0)
  }

  private onFrame(frame: Frame, inBatch: boolean): void {
    if (this.phase === 'closed') return
    const kind = frame.body.case
    if (kind === undefined) {
      this.close(CloseCode.UNSUPPORTED_FRAME, 'frame without a known body') // [FRM-7]
      return
    }
    // [RD-1] [INB-1] [FRM-14] step 3: a feature's body is unknown unless the
    // feature is enabled (none is before Welcome).
    const feature = FEATURE_OF_BODY[kind]
    if (feature !== undefined && !(this.negotiated?.features.includes(feature) ?? false)) {
      this.close(CloseCode.UNSUPPORTED_FRAME, `${kind} needs the feature ${feature}`)
      return
    }
    if (kind === 'close') {
      // [ERR-3] stop sending and processing; end without a Close of our own.
      // Allowed in every state, before Hello included (Appendix F).
      this.out.push({ type: 'end', code: frame.body.value.code }) // [ERR-16] echoed over WebSocket
      this.finish()
      return
    }
    if (this.phase === 'awaitHello') {
      if (kind !== 'hello') {
        this.close(CloseCode.UNEXPECTED_FRAME, `${kind} before Hello`) // [HS-1] [BAT-12]
        return
      }
      this.onHello(frame.body.value as Hello)
      return
    }
    if (kind === 'hello') {
      this.close(CloseCode.UNEXPECTED_FRAME, inBatch ? 'Hello inside a Batch' : 'second Hello') // [HS-3] [BAT-12]
      return
    }
    // a held frame went over the Sends-in-flight bound: nothing after it is processed [ERR-15]
    if (this.heldOverBound) return
    if (!CLIENT_FRAMES.has(kind)) {
      this.close(CloseCode.UNEXPECTED_FRAME, `${kind} is a server-only frame`) // [FRM-10]
      return
    }
    if (kind === 'batch') {
      this.onBatch(frame)
      return
    }
    const n = this.negotiated as Negotiated
    if (this.phase === 'opening') {
      // [HS-15] processed after Welcome, in order; nothing is sent before it [HS-2]. A Send that
      // brings the Sends in flight over the bound is held as well and refused there, after the
      // frames before it took effect [FLW-2] [ERR-15]; nothing after it is processed.
      if (this.held.length >= MAX_HELD_FRAMES) {
        this.close(CloseCode.WINDOW_EXCEEDED, 'too many frames before Welcome')
        return
      }
      this.held.push(frame)
      if (kind === 'send') this.heldSends++
      if (kind === 'send' && !inBatch && this.heldSends > n.limits.maxInflightSends) this.heldOverBound = true
      return
    }
    if (kind === 'send' && !inBatch && this.inflight() + 1 > n.limits.maxInflightSends) {
      this.close(CloseCode.WINDOW_EXCEEDED, 'more Sends in flight than max_inflight_sends') // [FLW-2]
      return
    }
    this.dispatch(frame)
  }

  private onBatch(frame: Frame): void {
    const n = this.negotiated as Negotiated
    let frames: Frame[]
    try {
      // [BAT-13] the whole batch is validated before any inner frame acts.
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
    // [FLW-2] a frame that would bring the Sends in flight over the bound is
    // refused whole, before any part of it is processed.
    let sends = 0
    for (const f of frames) if (f.body.case === 'send') sends++
    if (this.inflight() + sends > n.limits.maxInflightSends) {
      if (this.phase === 'opening') {
        // refused after Welcome, once the frames held before it took effect [HS-15] [ERR-15]
        this.held.push(frame)
        this.heldOverBound = true
      } else this.close(CloseCode.WINDOW_EXCEEDED, 'batch brings Sends in flight over max_inflight_sends')
      return
    }
    for (const f of frames) this.onFrame(f, true) // [BAT-1] in order, as if received one by one
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
      case 'markRead':
        req.markRead(body.value)
        break
      case 'readCountRequest':
        req.readCount(body.value)
        break
      case 'inboxRequest':
        req.inbox(body.value)
        break
      case 'syncRequest':
        req.sync(body.value)
        break
      case 'ping':
        // [HB-1] [FLW-4] answered at once, outside any window. A complete
        // literal rather than create() (which walks the schema): one Pong per
        // connection per heartbeat period.
        this.send({
          $typeName: 'imwire.v1.Frame',
          body: { case: 'pong', value: { $typeName: 'imwire.v1.Pong', nonce: body.value.nonce } },
        })
        break
      case 'pong':
        break // [HB-5] unsolicited Pongs are ignored
    }
  }

  private onDeliverAck(conversationId: string, upTo: number): void {
    const n = this.negotiated as Negotiated
    // [DLV-4] invalid ids are ignored like unknown conversations.
    if (!isConversationId(conversationId)) return
    this.deliveries?.ack(conversationId, upTo)
    this.store({ op: 'ack', userId: n.userId, deviceId: n.deviceId, conversationId, upToSeq: upTo }, (r) => {
      if (!r.ok) return
      if (r.outcome === 'tooHigh')
        this.close(CloseCode.ACK_TOO_HIGH, 'DeliverAck above top_seq') // [DLV-3]
      else if (r.outcome === 'moved') this.deliveries?.learn(conversationId, upTo)
    })
  }

  // --- handshake ----------------------------------------------------------

  private onHello(hello: Hello): void {
    const res = acceptHello(hello, this.config)
    if (!res.ok) {
      this.close(res.code, res.reason) // [HS-12] checks 1-4
      return
    }
    const n = res.negotiated
    this.negotiated = n
    this.phase = 'opening'
    this.lastInboundAt = this.now
    this.out.push({ type: 'setTimer', at: this.now + n.heartbeatMs * 1.5 })
    this.deliveries = new Deliveries(this.ports, {
      userId: n.userId,
      deviceId: n.deviceId,
      window: n.receiveWindow,
      replayLimit: n.limits.replayLimit,
      maxBacklog: n.limits.maxBacklog,
      peerMaxFrameBytes: n.peerMaxFrameBytes,
    })
    // Subscribe before the snapshot, so every message committed after it
    // reaches this session live (no gap at the boundary [RSM-7]); but take
    // over an older session only once every check has passed. [RSM-6] [SEC-8]
    this.registered = true
    this.out.push({ type: 'subscribe', userId: n.userId, deviceId: n.deviceId })
    this.store({ op: 'openDevice', userId: n.userId, deviceId: n.deviceId, resume: n.resume, nowMs: this.now }, (r) => {
      if (!r.ok) {
        // [HS-12] check 5 / [RSM-4]: no Welcome, nothing applied.
        if ('ackTooHigh' in r) this.close(CloseCode.ACK_TOO_HIGH, 'resume position above top_seq')
        else this.close(CloseCode.INTERNAL_ERROR, 'store unavailable')
        return
      }
      this.welcome(r.conversations, r.livePosition)
    })
  }

  private welcome(conversations: ReplayState[], livePosition?: number): void {
    const n = this.negotiated as Negotiated
    this.out.push({ type: 'attach', userId: n.userId, deviceId: n.deviceId }) // 3509 to the older one first
    this.phase = 'replaying'
    this.send(welcomeFrame(n, this.sessionId, this.now)) // [HS-10]
    this.lastInboundAt = Math.max(this.lastInboundAt, this.now) // [HB-2] counted from Welcome too
    this.out.push({ type: 'batching', lz4: n.lz4, maxFrameBytes: n.peerMaxFrameBytes })
    this.ports.negotiated = n
    this.requests = new RequestHandler(this.ports)
    const d = this.deliveries as Deliveries
    d.startReplay(conversations, livePosition)
    this.afterReplayProgress()
    const held = this.held
    this.held = []
    this.heldSends = 0
    this.heldOverBound = false // the frame that went over is among the held ones, refused again below
    for (const f of held) this.onFrame(f, false)
  }

  private afterReplayProgress(): void {
    if (this.phase === 'replaying' && this.deliveries !== null && !this.deliveries.replaying) this.phase = 'live'
  }
}

/**
 * The session's side of Deliveries (DeliveryOut) and RequestHandler
 * (RequestContext), as methods on one prototype: the closures these used to
 * be (nine per session, plus their contexts and two holder objects) were
 * ~0.7 KiB of every idle connection's heap (2026-12-06 heap snapshot, 10k
 * connections). `negotiated` is set at Welcome, before RequestHandler exists.
 */
class SessionPorts implements DeliveryOut, RequestContext {
  negotiated: Negotiated = undefined as unknown as Negotiated
  constructor(private readonly s: ServerSession) {}
  get maxRequestsInProgress(): number | undefined {
    return this.s.portMaxRequestsInProgress
  }
  send(frame: Frame): void {
    this.s.portSend(frame)
  }
  sendEncoded(bytes: Uint8Array): void {
    this.s.portSendEncoded(bytes)
  }
  close(code: CloseCode, reason: string): void {
    this.s.portClose(code, reason)
  }
  readReplay(op: ReadReplayOp): void {
    this.s.portReadReplay(op)
  }
  now(): number {
    return this.s.portNow()
  }
  store<O extends StoreOp>(op: O, k: (result: ResultOf<O> | OpError) => void): void {
    this.s.portStore(op, k)
  }
  rateLimit(): number {
    return this.s.portRateLimit()
  }
  left(conversationId: string): void {
    this.s.portLeft(conversationId)
  }
}
