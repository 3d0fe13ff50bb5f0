// Drives ServerSessions with plain function calls: a fake clock, the store
// engine over in-memory tables (run between steps, like an async store), and
// the server's hub for fan-out. No sockets, no timers, no promises.
import { create, type MessageInitShape } from '@bufbuild/protobuf'
import { decodeFrame } from '../../src/codec/index.js'
import type { UpdateReason } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { Hub, type HubMember } from '../../src/server/hub.js'
import { runOp } from '../../src/server/store/engine.js'
import { MemoryTables } from '../../src/server/store/memory-tables.js'
import type { Effect, LiveMessage, SessionEvent } from '../../src/session/effects.js'
import type { ReadNotice } from '../../src/session/frames.js'
import {
  DEFAULT_LIMITS,
  HEARTBEAT_DEFAULT_MS,
  HEARTBEAT_MAX_MS,
  HEARTBEAT_MIN_MS,
  type ServerLimits,
} from '../../src/codec/index.js'
import { ServerSession, type SessionConfig } from '../../src/session/session.js'
import type { StoreOp, StoreResult } from '../../src/session/store-ops.js'
import { makeTestToken, verifyTestToken } from '../../src/session/test-token.js'

export const SECRET = 'unit-test-secret'
export type Body = MessageInitShape<typeof FrameSchema>['body']

export type FrameCase = NonNullable<Frame['body']['case']>
export type Value<C extends FrameCase> = Extract<Frame['body'], { case: C }>['value']

export const frame = (body: Body): Frame => create(FrameSchema, { body })

export class World {
  readonly tables = new MemoryTables()
  readonly hub = new Hub<Client>()
  now = 1_700_000_000_000
  /** When true, store ops wait for runStore(); otherwise they run after each step. */
  holdStore = false
  private readonly storeQueue: { client: Client; id: number; op: StoreOp }[] = []
  private sessions = 0
  limits: ServerLimits = { ...DEFAULT_LIMITS }
  handshakeTimeoutMs = 10_000
  features = ['lz4']

  /** Welcome.session_id of the next session: s1, s2, ... */
  nextSessionId(): string {
    return `s${++this.sessions}`
  }

  config(): SessionConfig {
    return {
      limits: this.limits,
      heartbeatDefaultMs: HEARTBEAT_DEFAULT_MS,
      heartbeatMinMs: HEARTBEAT_MIN_MS,
      heartbeatMaxMs: HEARTBEAT_MAX_MS,
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      features: this.features,
      authenticate: (token) => verifyTestToken(SECRET, token),
    }
  }

  /** A new connection (no Hello yet). */
  open(): Client {
    return new Client(this)
  }

  /** A connection that completed the handshake (Welcome..ReplayComplete consumed unless keep). */
  connect(userId: string, deviceId = `${userId}-d`, hello: Partial<Record<string, unknown>> = {}): Client {
    const c = this.open()
    c.send({ case: 'hello', value: { versions: [1], token: makeTestToken(SECRET, userId), deviceId, ...hello } })
    return c
  }

  enqueue(client: Client, id: number, op: StoreOp): void {
    this.storeQueue.push({ client, id, op })
  }

  /** Run queued store operations (and the fan-out their results cause), until none are left. */
  runStore(): void {
    while (this.storeQueue.length > 0) {
      const { client, id, op } = this.storeQueue.shift()!
      const result = runOp(this.tables, op) as StoreResult
      if (op.op === 'send' && result.ok && 'duplicate' in result && !result.duplicate) {
        this.publish(result.message, result.epoch, result.members)
      } else if (op.op === 'markRead' && result.ok && 'readNotices' in result) {
        if (result.readNotices !== null) this.hub.readMoved(result.readNotices, result.state)
      } else if (result.ok && 'notices' in result) {
        this.hub.notify(result.conversation.conversationId, result.notices, result.epoch, result.topSeq)
      }
      client.step({ type: 'storeResult', id, result })
    }
  }

  publish(...args: Parameters<Hub['publish']>): void {
    this.hub.publish(...args)
  }

  /** Move the clock; fire timers that are due. */
  advance(ms: number, clients: Client[]): void {
    this.now += ms
    for (const c of clients) if (c.timerAt !== null && c.timerAt <= this.now) c.fireTimer()
  }
}

export class Client implements HubMember {
  readonly session: ServerSession
  /** Frames the server sent, not yet taken. */
  inbox: Frame[] = []
  closeEffect: Extract<Effect, { type: 'close' }> | null = null
  ended = false
  timerAt: number | null = null
  batching: Extract<Effect, { type: 'batching' }> | null = null
  attached = false

  constructor(readonly world: World) {
    this.session = new ServerSession(world.config(), world.now, world.nextSessionId())
    this.exec(this.session.start())
  }

  send(body: Body): this {
    return this.step({ type: 'frame', frame: frame(body) })
  }

  step(event: SessionEvent): this {
    this.exec(this.session.step(event, this.world.now))
    if (!this.world.holdStore) this.world.runStore()
    return this
  }

  fireTimer(): void {
    this.timerAt = null
    this.step({ type: 'timer' })
  }

  // HubMember
  live(live: LiveMessage): void {
    this.step({ type: 'live', live })
  }
  notice(conversationId: string, reason: UpdateReason, epoch: number, topSeq: number): void {
    this.step({ type: 'notice', conversationId, reason, epoch, topSeq })
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
          this.inbox.push(e.frame)
          break
        case 'sendEncoded':
          this.inbox.push(decodeFrame(e.bytes))
          break
        case 'close':
          this.closeEffect = e
          break
        case 'end':
          this.ended = true
          break
        case 'setTimer':
          this.timerAt = e.at
          break
        case 'clearTimer':
          this.timerAt = null
          break
        case 'store':
          this.world.enqueue(this, e.id, e.op)
          break
        case 'subscribe':
          this.world.hub.subscribe(e.userId, e.deviceId, this)
          break
        case 'attach':
          this.attached = true
          this.world.hub.attach(e.userId, e.deviceId, this)
          break
        case 'detach':
          this.attached = false
          if (this.session.userId !== null && this.session.deviceId !== null) {
            this.world.hub.detach(this.session.userId, this.session.deviceId, this)
          }
          break
        case 'batching':
          this.batching = e
          break
      }
    }
  }

  /** Take every frame received so far. */
  take(): Frame[] {
    const out = this.inbox
    this.inbox = []
    return out
  }

  /** Take frames and return their body cases. */
  cases(): string[] {
    return this.take().map((f) => f.body.case ?? 'none')
  }

  /** Take frames and return the values of those of one case. */
  of<C extends FrameCase>(kind: C): Value<C>[] {
    const out: Value<C>[] = []
    for (const f of this.take()) if (f.body.case === kind) out.push(f.body.value as Value<C>)
    return out
  }

  get closeCode(): number | null {
    return this.closeEffect?.code ?? null
  }
}

let cmidCounter = 0
export function newClientMsgId(): Uint8Array {
  const b = new Uint8Array(16)
  new DataView(b.buffer).setUint32(12, ++cmidCounter)
  b[0] = 0xab
  return b
}
