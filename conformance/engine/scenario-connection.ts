// One connection of a scenario (named apart from src/transport's Connection,
// the server side of a socket): a transport plus frame decoding, batch
// expansion, an inbox for expect steps, keepalive, and transcript logging.
// Pings from the server are answered and hidden, and the Pongs to the
// runner's own keepalive Pings are swallowed, unless the connection is raw.
import { create } from '@bufbuild/protobuf'
import type { JsonValue } from '@bufbuild/protobuf'
import { CodecError, DEFAULT_MAX_FRAME_BYTES, decodeBatch, decodeFrame, encodeFrame } from '../../src/codec/index.js'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { RUNNER_MAX_BATCH_FRAMES, RUNNER_MAX_FRAME_BYTES } from '../drivers/tcp-transport.js'
import type { Transport, TransportEvent } from '../drivers/transport.js'
import { match } from '../judge/matcher.js'
import { frameToJson, frameToMatchJson } from '../judge/proto-json.js'
import { type LatencyLog, PendingRequests } from './latency.js'
import type { Transcript } from './transcript.js'

/** `at`: transcript time; `mono`: performance.now() when the runner processed it (for time bounds). */
/** Writes remembered per connection for judging idle closes. */
const WRITES_KEPT = 64

export type InboxItem =
  | { kind: 'frame'; frame: Frame; json: JsonValue; batched: boolean; at: number; mono: number }
  | { kind: 'garbage'; detail: string; at: number; mono: number }
  | { kind: 'closed'; event: Extract<TransportEvent, { type: 'closed' }>; at: number; mono: number }

/** Nonces of the runner's keepalive Pings live in their own range. */
const AUTO_NONCE_BASE = 0x7e57_0000_0000n

export interface ScenarioConnectionOptions {
  name: string
  transcript: Transcript
  raw: boolean
  /** Largest frame the runner accepts from the server (Hello.max_frame_bytes) [FRM-9]. */
  maxFrameBytes?: number
  /** Resolved matchers of frames never queued for expect steps (connect.ignore). */
  ignore?: unknown[]
  /** Where the server's answer times go (the case's log). */
  latency?: LatencyLog
}

export class ScenarioConnection {
  readonly name: string
  private readonly inbox: InboxItem[] = []
  /** Every frame received, in order (for `dense` asserts). */
  readonly received: Frame[] = []
  private waiter: (() => void) | null = null
  private autoTimer: NodeJS.Timeout | null = null
  /** The user and device this connection said Hello as (set by the connect step). */
  identity: { userId: string; deviceId: string } | null = null
  /** The heartbeat the keep-alive Pings serve, while they run. */
  keepaliveHeartbeatMs: number | null = null
  private autoNonce = 0n
  private readonly autoNonces = new Set<bigint>()
  private lastSentAt = performance.now()
  /** When the transport opened, the runner last wrote to it, and last read a frame from it (performance.now()). */
  readonly openedAt = performance.now()
  lastWriteAt = this.openedAt
  lastReadAt = this.openedAt
  private silenced = 0
  lz4Enabled = false
  /** A Welcome was received: a Close frame is polite at the end. */
  established = false
  closedEvent: Extract<TransportEvent, { type: 'closed' }> | null = null
  /** Whether the runner itself closed or reset it. */
  closedByUs = false
  private readonly transcript: Transcript
  private readonly raw: boolean
  maxFrameBytes: number
  private readonly ignore: unknown[]
  private readonly requests: PendingRequests | null

  constructor(
    readonly transport: Transport,
    opts: ScenarioConnectionOptions,
  ) {
    this.name = opts.name
    this.transcript = opts.transcript
    this.raw = opts.raw
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.ignore = opts.ignore ?? []
    this.requests = opts.latency ? new PendingRequests(opts.latency) : null
    transport.onEvent((e) => this.onTransport(e))
  }

  get closed(): boolean {
    return this.closedEvent !== null
  }

  private push(item: InboxItem): void {
    this.inbox.push(item)
    const w = this.waiter
    this.waiter = null
    w?.()
  }

  private onTransport(e: TransportEvent): void {
    const at = this.transcript.now()
    const mono = performance.now()
    if (e.type === 'frame') this.lastReadAt = mono
    if (e.type === 'closed') {
      this.stopKeepalive()
      this.closedEvent = e
      const detail = [
        e.wsCode !== undefined ? `ws code ${e.wsCode}${e.wsReason ? ` "${e.wsReason}"` : ''}` : '',
        e.truncated ? `${e.truncated} bytes of an incomplete frame left` : '',
        e.detail ?? '',
      ]
        .filter((s) => s !== '')
        .join(', ')
      this.transcript.event(this.name, e.how === 'rst' ? 'rst' : e.how, detail || undefined)
      this.push({ kind: 'closed', event: e, at, mono })
      return
    }
    if (e.type === 'garbage') {
      this.transcript.raw(this.name, 'in', e.bytes, e.detail)
      this.push({ kind: 'garbage', detail: e.detail, at, mono })
      return
    }
    let frame: Frame
    try {
      if (e.bytes.length > this.maxFrameBytes)
        throw new CodecError(
          'FRAME_TOO_LARGE',
          `${e.bytes.length} bytes over the client's ${this.maxFrameBytes} [FRM-9]`,
        )
      frame = decodeFrame(e.bytes, RUNNER_MAX_FRAME_BYTES)
    } catch (err) {
      const detail = `undecodable frame from the server: ${(err as Error).message}`
      this.transcript.raw(this.name, 'in', e.bytes, detail)
      this.push({ kind: 'garbage', detail, at, mono })
      return
    }
    this.transcript.frame(this.name, 'in', frameToJson(frame), e.bytes)
    // Set before anything that follows the Welcome in the same chunk is decoded.
    if (frame.body.case === 'welcome') {
      this.lz4Enabled = frame.body.value.features.includes('lz4')
      this.established = true
    }
    if (frame.body.case === 'batch') {
      let inner: Frame[]
      try {
        inner = decodeBatch(frame, {
          maxBatchBytes: RUNNER_MAX_FRAME_BYTES,
          maxBatchFrames: RUNNER_MAX_BATCH_FRAMES,
          maxFrameBytes: this.maxFrameBytes,
          lz4Enabled: this.lz4Enabled,
        })
      } catch (err) {
        const code = err instanceof CodecError ? err.code : 'ERROR'
        const detail = `bad Batch from the server: ${code} ${(err as Error).message}`
        this.transcript.event(this.name, 'garbage', detail)
        this.push({ kind: 'garbage', detail, at, mono })
        return
      }
      for (const f of inner) {
        this.transcript.frame(this.name, 'in', frameToJson(f), encodeFrame(f), { batched: true })
        this.accept(f, true, at, mono)
      }
      return
    }
    this.accept(frame, false, at, mono)
  }

  private accept(frame: Frame, batched: boolean, at: number, mono: number): void {
    this.requests?.received(frame, mono)
    if (!this.raw && frame.body.case === 'ping') {
      this.sendFrame(create(FrameSchema, { body: { case: 'pong', value: { nonce: frame.body.value.nonce } } }), true)
      return
    }
    if (!this.raw && frame.body.case === 'pong' && this.autoNonces.delete(frame.body.value.nonce)) return
    this.received.push(frame)
    const json = frameToMatchJson(frame)
    if (this.ignore.some((m) => match(m, json, new Map()).length === 0)) {
      this.transcript.event(this.name, 'ignored', `${frame.body.case ?? 'frame'} matches connect.ignore`)
      return
    }
    this.push({ kind: 'frame', frame, json, batched, at, mono })
  }

  /** When the runner wrote on this connection, newest last (the last WRITES_KEPT writes). */
  readonly recentWrites: number[] = []

  private noteWrite(at: number): void {
    this.lastWriteAt = at
    this.recentWrites.push(at)
    if (this.recentWrites.length > WRITES_KEPT) this.recentWrites.shift()
  }

  /** The longest time between two writes (or the last write and `until`) that ends after `from`. */
  longestWriteGap(from: number, until: number): number {
    let longest = 0
    let prev = this.openedAt
    for (const w of [...this.recentWrites, until]) {
      if (w > until) break
      if (w > from) longest = Math.max(longest, w - prev)
      prev = w
    }
    return longest
  }

  sendFrame(frame: Frame, auto = false): Uint8Array {
    const bytes = encodeFrame(frame)
    this.transcript.frame(this.name, 'out', frameToJson(frame), bytes, auto ? { auto: true } : {})
    this.transport.writeFrame(bytes)
    this.lastSentAt = performance.now()
    this.noteWrite(this.lastSentAt)
    this.requests?.sent(frame, this.lastSentAt)
    return bytes
  }

  sendRaw(bytes: Uint8Array, detail: string): void {
    this.transcript.raw(this.name, 'out', bytes, detail)
    this.transport.writeRaw(bytes)
    this.lastSentAt = performance.now()
    this.noteWrite(this.lastSentAt)
  }

  async sendChunks(bytes: Uint8Array, chunkBytes: number, detail: string): Promise<void> {
    this.transcript.raw(this.name, 'out', bytes, detail)
    await this.transport.writeChunks(bytes, chunkBytes)
    this.lastSentAt = performance.now()
    this.noteWrite(this.lastSentAt)
  }

  /** Next inbox item within timeoutMs, or null. */
  async next(timeoutMs: number): Promise<InboxItem | null> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const item = this.inbox.shift()
      if (item !== undefined) return item
      const left = deadline - performance.now()
      if (left <= 0) return null
      await this.wait(left)
    }
  }

  /** Remove the first item matching pred (waiting up to timeoutMs); items before it stay, or are dropped with `drop`. */
  async takeFirst(
    pred: (i: InboxItem) => boolean,
    timeoutMs: number,
    drop = false,
  ): Promise<{ item: InboxItem | null; before: InboxItem[] }> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const idx = this.inbox.findIndex(pred)
      if (idx >= 0) {
        const before = this.inbox.slice(0, idx)
        const item = this.inbox[idx] as InboxItem
        this.inbox.splice(drop ? 0 : idx, drop ? idx + 1 : 1)
        return { item, before }
      }
      const left = deadline - performance.now()
      if (left <= 0) return { item: null, before: [...this.inbox] }
      await this.wait(left)
    }
  }

  /** Resolves when the connection is closed or after timeoutMs; the inbox is left as is. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs
    while (!this.closed) {
      const left = deadline - performance.now()
      if (left <= 0) return false
      await this.wait(left)
    }
    return true
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      const prev = this.waiter
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.waiter = () => {
        prev?.()
        done()
      }
    })
  }

  /** Keep the connection alive: Ping when nothing was sent for heartbeat/3. */
  startKeepalive(heartbeatMs: number): void {
    this.stopKeepalive()
    const every = Math.max(100, Math.floor(heartbeatMs / 3))
    this.keepaliveHeartbeatMs = heartbeatMs
    this.autoTimer = setInterval(
      () => {
        if (this.closed || this.silenced > 0) return
        if (performance.now() - this.lastSentAt < every) return
        const nonce = AUTO_NONCE_BASE + this.autoNonce++
        this.autoNonces.add(nonce)
        this.sendFrame(create(FrameSchema, { body: { case: 'ping', value: { nonce } } }), true)
      },
      Math.max(50, Math.floor(every / 2)),
    )
    this.autoTimer.unref()
  }

  stopKeepalive(): void {
    if (this.autoTimer) clearInterval(this.autoTimer)
    this.autoTimer = null
    this.keepaliveHeartbeatMs = null
  }

  async silence(ms: number): Promise<void> {
    this.silenced++
    try {
      await new Promise((r) => setTimeout(r, ms))
    } finally {
      this.silenced--
      this.lastSentAt = performance.now()
    }
  }

  /** Unmatched items left in the inbox (for failure messages). */
  pending(): InboxItem[] {
    return [...this.inbox]
  }

  /** Best-effort close at the end of a case. */
  dispose(): void {
    this.stopKeepalive()
    if (this.closed) return
    this.closedByUs = true
    if (this.established)
      this.sendFrame(create(FrameSchema, { body: { case: 'close', value: { code: 3000, reason: 'case done' } } }), true)
    this.transport.end(3000)
    const t = setTimeout(() => {
      if (!this.transport.closed) this.transport.reset()
    }, 1000)
    t.unref()
  }
}
