// Runs one ServerSession on one Connection: feeds it events (frames, timer,
// store results, fan-out) and carries out its effects. The only place where
// the pure session meets sockets, timers and the store.
import type { Logger } from 'pino'
import type { UpdateReason } from '../gen/es/imwire/v1/conversation_pb.js'
import { CloseCode } from '../gen/es/imwire/v1/control_pb.js'
import type { Effect, LiveMessage, SessionEvent } from '../session/effects.js'
import type { ReadNotice } from '../session/frames.js'
import { ServerSession, type SessionConfig } from '../session/session.js'
import type { ResultOf, StoreOp } from '../session/store-ops.js'
import type { CodecError } from '../codec/index.js'
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'
import type { CloseInfo, Connection } from '../transport/index.js'
import type { Hub, HubMember } from './hub.js'
import type { TimerWheel, WheelEntry } from './timer-wheel.js'

export interface DriverContext {
  hub: Hub<SessionDriver>
  /** Runs a store op (and publishes committed sends to the hub). */
  runStore<O extends StoreOp>(op: O): Promise<ResultOf<O>>
  /** Frames are ignored while the server drains for shutdown. */
  readonly draining: boolean
  now(): number
  /** The server's one timer for every session deadline (see timer-wheel.ts). */
  timers: TimerWheel
  maxOutputBytes: number
  maxBatchBytes: number
  maxBatchFrames: number
  logger: Logger
  onClosed(driver: SessionDriver): void
  /** The handshake ended (Welcome sent, or the session closed before it). [SEC-2] */
  onHandshakeDone?(driver: SessionDriver): void
}

// Listeners shared by every connection: `this` is the connection, its owner the driver.
function onConnFrame(this: Connection, frame: Frame): void {
  ;(this.owner as SessionDriver).onFrame(frame)
}
function onConnCodecError(this: Connection, err: CodecError): void {
  ;(this.owner as SessionDriver).step({ type: 'codecError', closeCode: err.closeCode, reason: err.code })
}
function onConnClose(this: Connection, info: CloseInfo): void {
  ;(this.owner as SessionDriver).onClose(info)
}

export class SessionDriver implements HubMember, WheelEntry {
  readonly session: ServerSession
  /** The session's one deadline, in the shared wheel (owned by ctx.timers). */
  wheelTick = 0
  private ended = false
  private handshaking = true
  /** Store operations of this connection not answered yet. */
  private storeInflight = 0
  /** A Close held until those have taken effect ([ERR-15]). */
  private heldClose: Extract<Effect, { type: 'close' }> | null = null

  constructor(
    readonly conn: Connection,
    config: SessionConfig,
    sessionId: string,
    private readonly ctx: DriverContext,
  ) {
    this.session = new ServerSession(config, ctx.now(), sessionId)
    conn.owner = this
    conn.on('frame', onConnFrame)
    // Synchronous: the session's Close must go out before ws closes on its own.
    conn.on('codecError', onConnCodecError)
    conn.on('close', onConnClose)
    this.exec(this.session.start())
  }

  /** @internal (shared listener) */
  onFrame(frame: Frame): void {
    if (!this.ctx.draining) this.step({ type: 'frame', frame })
  }

  /** @internal (shared listener) */
  onClose(info: CloseInfo): void {
    this.step({ type: 'disconnected' })
    this.clearTimer()
    this.ended = true
    this.ctx.logger.debug(
      { session: this.session.sessionId, user: this.session.userId, local: info.local, ws: info.wsCode },
      'connection closed',
    )
    this.ctx.onClosed(this)
  }

  step(event: SessionEvent): void {
    this.exec(this.session.step(event, this.ctx.now()))
    if (this.handshaking && !this.session.handshaking) {
      this.handshaking = false
      this.ctx.onHandshakeDone?.(this)
    }
  }

  // HubMember
  live(live: LiveMessage): void {
    this.step({ type: 'live', live })
  }
  notice(conversationId: string, reason: UpdateReason, epoch: number, topSeq: number, logPos?: number): void {
    this.step({ type: 'notice', conversationId, reason, epoch, topSeq, ...(logPos !== undefined ? { logPos } : {}) })
  }
  readNotice(notice: ReadNotice): void {
    this.step({ type: 'read', notice })
  }
  takenOver(): void {
    this.step({ type: 'takenOver' })
  }

  private exec(effects: Effect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'send':
          this.conn.send(e.frame)
          break
        case 'sendEncoded':
          this.conn.sendEncoded(e.bytes)
          break
        case 'close':
          if (this.storeInflight > 0 && this.waitsForEarlierFrames(e.code)) {
            this.heldClose = e
            this.conn.holdClose()
          }
          else this.close(e)
          break
        case 'end':
          this.conn.end(e.code)
          break
        case 'setTimer':
          this.setTimer(e.at)
          break
        case 'clearTimer':
          this.clearTimer()
          break
        case 'store':
          this.runStore(e.id, e.op)
          break
        case 'subscribe':
          this.ctx.hub.subscribe(e.userId, e.deviceId, this)
          break
        case 'attach':
          this.ctx.hub.attach(e.userId, e.deviceId, this)
          break
        case 'detach': {
          const { userId, deviceId } = this.session
          if (userId !== null && deviceId !== null) this.ctx.hub.detach(userId, deviceId, this)
          break
        }
        case 'batching':
          // [RSM-9] [BAT-10] LZ4 when negotiated; plain batches only on
          // WebSocket, where one message per frame costs more than packing.
          if (e.lz4 || this.conn.kind === 'ws') {
            this.conn.setBatching({
              lz4: e.lz4,
              uncompressed: this.conn.kind === 'ws',
              lz4MinBytes: 1024,
              maxBatchBytes: this.ctx.maxBatchBytes,
              maxBatchFrames: this.ctx.maxBatchFrames,
              maxFrameBytes: e.maxFrameBytes,
            })
          }
          break
      }
    }
    // [FLW-3] an output buffer over its bound is a slow consumer.
    if (!this.session.closed && this.conn.bufferedBytes > this.ctx.maxOutputBytes) {
      this.exec(this.session.step({ type: 'outputOverflow' }, this.ctx.now()))
    }
  }

  private close(e: Extract<Effect, { type: 'close' }>): void {
    this.ctx.logger.debug({ user: this.session.userId, code: e.code, reason: e.reason }, 'closing connection')
    this.conn.close(e.code, e.reason, e.retryAfterMs)
  }

  /**
   * [ERR-15] A Close for something this connection sent goes out once the
   * frames before it have taken effect, so that a connection opened after
   * it (to this node or another) sees them. Not for takeover (3509: caused
   * by another connection), nor for an oversize WebSocket message, after
   * which ws closes the socket itself (the Close must go out first).
   */
  private waitsForEarlierFrames(code: number): boolean {
    if (code === CloseCode.SESSION_TAKEN_OVER) return false
    if (code === CloseCode.FRAME_TOO_LARGE && this.conn.kind === 'ws') return false
    return code === CloseCode.PROTOCOL_ERROR || (code >= CloseCode.FRAME_TOO_LARGE && code <= CloseCode.UNSUPPORTED_FRAME)
  }

  private runStore(id: number, op: StoreOp): void {
    this.storeInflight++
    this.ctx.runStore(op).then(
      (result) => {
        this.step({ type: 'storeResult', id, result })
        this.storeSettled()
      },
      (err: Error) => {
        this.ctx.logger.error({ err, op: op.op }, 'store operation failed')
        this.step({ type: 'storeFailed', id, message: err.message })
        this.storeSettled()
      },
    )
  }

  /** One store operation answered: a Close held for it goes out once none is left. [ERR-15] */
  private storeSettled(): void {
    if (--this.storeInflight > 0 || this.heldClose === null) return
    const e = this.heldClose
    this.heldClose = null
    this.close(e)
  }

  private setTimer(at: number): void {
    if (this.ended) return
    // The wheel runs due entries after the loop turn's socket reads: after a
    // stall (a busy machine), frames may be waiting unread while an idle
    // deadline passes; judged after the reads, a peer whose frames arrived in
    // time is not closed for silence. [HB-2]
    this.ctx.timers.schedule(this, at)
  }

  onWheelTimer(): void {
    this.step({ type: 'timer' })
  }

  private clearTimer(): void {
    this.ctx.timers.cancel(this)
  }
}
