// A raw imwire connection for load generation: the codec for the handshake
// and setup requests, hand-written bytes on the hot path (Sends out, SendAck /
// Deliver tags in), all writes of one event-loop turn in one socket write
// (TCP) or one corked writev (WebSocket).
import net from 'node:net'
import { create } from '@bufbuild/protobuf'
import { WebSocket } from 'ws'
import { decodeFrame, encodeFrame, StreamDecoder } from '../../src/codec/index.js'
import { ConversationKind } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import type { Welcome } from '../../src/gen/es/imwire/v1/handshake_pb.js'
import { splitHostPort } from './child.js'
import { batchFrames, deliverAckFrame, deliverSeq, SendWriter, TAG, varintSize, writeVarint } from './wire.js'

export type Kind = 'tcp' | 'ws'

const PING = encodeFrame(create(FrameSchema, { body: { case: 'ping', value: { nonce: 1n } } }))

/** FIFO of send timestamps (µs): the server answers one connection's Sends in order [SND-4]. */
class TimeFifo {
  private buf = new Float64Array(512)
  private head = 0
  private tail = 0

  push(t: number): void {
    if (this.tail - this.head === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2)
      for (let i = 0; i < this.buf.length; i++) bigger[i] = this.buf[(this.head + i) % this.buf.length] as number
      this.tail = this.buf.length
      this.head = 0
      this.buf = bigger
    }
    this.buf[this.tail % this.buf.length] = t
    this.tail++
  }

  shift(): number {
    const t = this.buf[this.head % this.buf.length] as number
    this.head++
    return t
  }

  get size(): number {
    return this.tail - this.head
  }
}

export class RawImwirePeer {
  readonly kind: Kind
  private readonly socket: net.Socket | null
  private readonly ws: WebSocket | null
  private readonly splitter = new StreamDecoder({ maxFrameBytes: 64 * 1024 * 1024 })
  private readonly setupQueue: Frame[] = []
  private setupWaiter: (() => void) | null = null
  private hot = false
  private writer: SendWriter | null = null
  private sendSeq = 0
  private queuedSends = 0
  private readonly queuedTimes: number[] = []
  private readonly queuedOther: Uint8Array[] = []
  private scheduled = false
  private readonly times = new TimeFifo()
  closed = false
  closeCode = 0
  /** Close.retry_after_ms of the server's Close, if any. [ERR-14] */
  closeRetryAfterMs = 0
  errors = 0
  /** Called per SendAck (ok) or Error (not ok) with the send's timestamp. */
  onAnswer: (sentAtUs: number, ok: boolean) => void = () => {}
  /** Called per Deliver with its seq. */
  onDeliver: (seq: number) => void = () => {}
  onClosed: () => void = () => {}

  private constructor(kind: Kind, socket: net.Socket | null, ws: WebSocket | null) {
    this.kind = kind
    this.socket = socket
    this.ws = ws
    if (socket !== null) {
      socket.on('data', (chunk: Buffer) => this.onData(chunk))
      socket.on('error', () => {})
      socket.on('close', () => this.gone())
    }
    if (ws !== null) {
      ws.on('message', (data: Buffer) => this.onFrameBytes(data))
      ws.on('error', () => {})
      ws.on('close', (code) => {
        if (this.closeCode === 0) this.closeCode = code
        this.gone()
      })
    }
  }

  /** localAddress binds the client socket to one source address (bench:scale spreads clients over 127.0.0.x). */
  static connect(kind: Kind, address: string, localAddress?: string): Promise<RawImwirePeer> {
    return new Promise((resolve, reject) => {
      if (kind === 'tcp') {
        const { host, port } = splitHostPort(address)
        const s = net.connect({ host, port, noDelay: true, localAddress })
        s.once('error', reject)
        s.once('connect', () => {
          s.off('error', reject)
          resolve(new RawImwirePeer('tcp', s, null))
        })
      } else {
        const ws = new WebSocket(address, ['imwire.v1'], { perMessageDeflate: false, localAddress })
        ws.binaryType = 'nodebuffer'
        ws.once('error', reject)
        ws.once('open', () => {
          ws.off('error', reject)
          resolve(new RawImwirePeer('ws', null, ws))
        })
      }
    })
  }

  private gone(): void {
    if (this.closed) return
    this.closed = true
    this.setupWaiter?.()
    this.onClosed()
  }

  private onData(chunk: Buffer): void {
    // The codec splits; the hot path reads tags from the frame bytes itself.
    this.splitter.split(chunk, (f) => void this.onFrameBytes(f))
  }

  private onFrameBytes(f: Uint8Array): void {
    const tag = f[0]
    if (this.hot) {
      if (tag === TAG.sendAck) {
        this.onAnswer(this.times.shift(), true)
        return
      }
      if (tag === TAG.deliver) {
        this.onDeliver(deliverSeq(f))
        return
      }
      if (tag === TAG.error) {
        this.errors++
        // Only Send errors carry no request_id; setup requests are done by now.
        this.onAnswer(this.times.shift(), false)
        return
      }
      if (tag === TAG.batch) {
        const inner = batchFrames(f)
        if (inner !== null) for (const g of inner) this.onFrameBytes(g)
        return
      }
    }
    let frame: Frame
    try {
      frame = decodeFrame(f)
    } catch {
      return
    }
    if (frame.body.case === 'ping') {
      this.sendFrame(create(FrameSchema, { body: { case: 'pong', value: { nonce: frame.body.value.nonce } } }))
      return
    }
    if (frame.body.case === 'close') {
      this.closeCode = frame.body.value.code
      this.closeRetryAfterMs = frame.body.value.retryAfterMs
    }
    // Pongs answer our heartbeat Pings (see ping()); nobody waits for them.
    if (this.hot || frame.body.case === 'pong') return
    this.setupQueue.push(frame)
    const w = this.setupWaiter
    this.setupWaiter = null
    w?.()
  }

  async nextSetupFrame(timeoutMs = 30_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    while (this.setupQueue.length === 0) {
      if (this.closed) throw new Error(`connection closed during setup (code ${this.closeCode})`)
      if (Date.now() > deadline) throw new Error('setup timed out')
      await new Promise<void>((r) => {
        this.setupWaiter = r
        setTimeout(r, 250).unref()
      })
    }
    return this.setupQueue.shift() as Frame
  }

  /**
   * Hello, then wait for Welcome and ReplayComplete. heartbeatMs 0 asks for
   * the server's default; the bench:server default (300 s, the spec's
   * maximum) keeps heartbeats out of its throughput rows.
   */
  async handshake(
    token: string,
    deviceId: string,
    heartbeatMs = 300_000,
    features: string[] = [],
    resume: Array<{ conversationId: string; seq: bigint; epoch: bigint }> = [],
  ): Promise<Welcome> {
    this.sendFrame(
      create(FrameSchema, {
        body: {
          case: 'hello',
          value: { versions: [1], token, deviceId, heartbeatMs, features, resume, clientName: 'imwire-bench' },
        },
      }),
    )
    let welcome: Welcome | null = null
    for (;;) {
      const f = await this.nextSetupFrame()
      if (f.body.case === 'welcome') welcome = f.body.value
      else if (f.body.case === 'replayComplete') break
      else if (f.body.case === 'close') throw new Error(`closed during handshake: ${f.body.value.code}`)
    }
    if (welcome === null) throw new Error('ReplayComplete without Welcome')
    return welcome
  }

  /** Create a group (idempotent); waits for the ConversationResult. */
  async createGroup(conversationId: string, members: string[], requestId = 1): Promise<void> {
    this.sendFrame(
      create(FrameSchema, {
        body: {
          case: 'createConversation',
          value: { requestId, conversationId, kind: ConversationKind.GROUP, memberUserIds: members },
        },
      }),
    )
    for (;;) {
      const f = await this.nextSetupFrame()
      if (f.body.case === 'conversationResult') return
      if (f.body.case === 'error') throw new Error(`create ${conversationId}: error ${f.body.value.code}`)
    }
  }

  /** Switch to the hot path: Sends into this conversation, answers counted by tag. */
  startSending(conversationId: string, body: Uint8Array, idPrefix: Uint8Array): void {
    this.writer = new SendWriter(conversationId, body, idPrefix)
    this.hot = true
  }

  /** Only count deliveries from now on (receivers in the fan-out run). */
  startReceiving(): void {
    this.hot = true
  }

  get inflight(): number {
    return this.times.size + this.queuedSends
  }

  /** Queue one Send stamped sentAtUs; it leaves with everything else queued this turn. */
  send(sentAtUs: number): void {
    this.queuedSends++
    this.queuedTimes.push(sentAtUs)
    this.schedule()
  }

  ackDeliveries(conversationId: Uint8Array, upTo: number): void {
    this.queuedOther.push(deliverAckFrame(conversationId, upTo))
    this.schedule()
  }

  /** A heartbeat Ping [HB-3]; the server's Pong is dropped on arrival. */
  ping(): void {
    this.queuedOther.push(PING)
    this.schedule()
  }

  sendFrame(f: Frame): void {
    this.queuedOther.push(encodeFrame(f))
    this.schedule()
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.scheduled = false
    if (this.closed) return
    const frames: Uint8Array[] = []
    let total = 0
    for (const f of this.queuedOther) {
      frames.push(f)
      total += f.length + varintSize(f.length)
    }
    this.queuedOther.length = 0
    let sends: Uint8Array | null = null
    const bounds: number[] = []
    if (this.queuedSends > 0 && this.writer !== null) {
      const w = this.writer
      const max = w.maxBytes(this.sendSeq + this.queuedSends)
      sends = new Uint8Array(max * this.queuedSends)
      let off = 0
      for (let i = 0; i < this.queuedSends; i++) {
        off = w.write(sends, off, ++this.sendSeq, this.kind === 'tcp')
        bounds.push(off)
        this.times.push(this.queuedTimes[i] as number)
      }
      sends = sends.subarray(0, off)
      this.queuedSends = 0
      this.queuedTimes.length = 0
    }
    if (this.socket !== null) {
      const out = Buffer.allocUnsafe(total + (sends?.length ?? 0))
      let off = 0
      for (const f of frames) {
        off = writeVarint(out, off, f.length)
        out.set(f, off)
        off += f.length
      }
      if (sends !== null) out.set(sends, off)
      this.socket.write(out)
    } else if (this.ws !== null && this.ws.readyState === WebSocket.OPEN) {
      const sock = (this.ws as unknown as { _socket?: net.Socket })._socket
      sock?.cork()
      for (const f of frames) this.ws.send(f, { binary: true, compress: false })
      if (sends !== null) {
        let start = 0
        for (const end of bounds) {
          this.ws.send(sends.subarray(start, end), { binary: true, compress: false })
          start = end
        }
      }
      sock?.uncork()
    }
  }

  close(): void {
    this.closed = true
    this.socket?.destroy()
    this.ws?.terminate()
  }
}
