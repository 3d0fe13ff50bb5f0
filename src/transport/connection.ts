// The Connection: one peer, frames in and out, whatever carries them.
//
// Writes are queued and flushed once per event-loop turn (setImmediate), so
// every frame produced while handling one socket read, one commit group or one
// fan-out leaves in one socket write. Syscalls per message dominate at small
// frame sizes: one write per ack measured ~150k frames/s over TCP, one write
// per read's worth of acks ~1.37M frames/s; ws.send per message ~135k/s,
// corked per turn ~265k/s. setImmediate (not nextTick or a microtask) runs
// after the poll phase, so frames produced by every read of that phase and by
// the promise chains they start are coalesced too; the cost is one loop turn
// of latency, far below a millisecond.
import { EventEmitter } from 'node:events'
import { create } from '@bufbuild/protobuf'
import type { CodecError } from '../codec/index.js'
import { encodeFrame } from '../codec/index.js'
import type { CloseCode } from '../gen/es/imwire/v1/control_pb.js'
import { type Frame, FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import { type BatchPolicy, batchFrames } from './batcher.js'

export type TransportKind = 'tcp' | 'ws' | 'memory'

/**
 * Connections with frames queued in this loop turn. One setImmediate flushes
 * them all, instead of an Immediate and a closure per connection per turn (at
 * 100,000 idle connections, one of each per Pong).
 */
let dueFlush: Connection[] = []

function flushDue(): void {
  const due = dueFlush
  dueFlush = []
  let i = 0
  try {
    for (; i < due.length; i++) (due[i] as Connection).flush()
  } finally {
    // A flush that threw: the connections after it still get theirs.
    for (let j = i + 1; j < due.length; j++) (due[j] as Connection).scheduleFlush()
  }
}

/** How long connectTcp / connectWs wait for the connection (and the WebSocket upgrade) unless told. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000

/** Why and how a connection ended; the 'close' event's argument. */
export interface CloseInfo {
  /** True when this side called close() or destroy(). */
  local: boolean
  /** WebSocket close code received or sent (ws only; undefined for TCP). */
  wsCode?: number
  /** WebSocket close reason (ws only). */
  wsReason?: string
  /** Socket error that ended the connection, if any (ECONNRESET...). */
  error?: Error
  /** Bytes of an incomplete frame discarded at end of stream. [FRM-8] */
  truncatedBytes: number
}

export interface ConnectionEvents {
  /** One decoded frame. `bytes` is its encoding as received (no prefix). */
  frame: [frame: Frame, bytes: Uint8Array]
  /**
   * Input that is not valid framing (bad prefix, too large, malformed, text
   * message on WS). Emitted once; no frame follows it. The owner closes with
   * err.closeCode.
   */
  codecError: [err: CodecError]
  /** The connection is gone (emitted exactly once). */
  close: [info: CloseInfo]
  /** The socket's write buffer drained. */
  drain: []
}

/** Close the socket this long after sending a Close if the peer keeps it open. */
export const CLOSE_LINGER_MS = 2000

/** Close.reason is at most 123 bytes. [ERR-7] */
export function truncateReason(reason: string): string {
  const enc = new TextEncoder().encode(reason)
  if (enc.length <= 123) return reason
  let cut = 123
  while (cut > 0 && ((enc[cut] as number) & 0xc0) === 0x80) cut--
  return new TextDecoder().decode(enc.subarray(0, cut))
}

/**
 * Base of every adapter: the write queue, batching, the close handshake and
 * the event plumbing. Adapters implement the four transport hooks.
 */
export abstract class Connection extends EventEmitter<ConnectionEvents> {
  abstract readonly kind: TransportKind
  /** "host:port" of the peer (or a label for memory connections). */
  abstract readonly remoteAddress: string

  /**
   * Whoever runs this connection (the server's session driver). Listeners
   * shared by every connection get the connection as `this` and find their
   * owner here, instead of one closure per connection and event.
   */
  owner: unknown = null

  private queue: Uint8Array[] = []
  private queuedBytes = 0
  /** The first `plainCount` queued frames are never put into a batch. */
  private plainCount = 0
  private scheduled = false
  private batching: BatchPolicy | null = null
  private lingerTimer: NodeJS.Timeout | null = null
  protected closing = false
  protected ended = false
  protected readBroken = false

  /** True once close() or destroy() was called or the peer went away. */
  get closed(): boolean {
    return this.closing || this.ended
  }

  /** Bytes queued or buffered in the socket, not yet written to the network. */
  get bufferedBytes(): number {
    return this.queuedBytes + this.socketBufferedBytes()
  }

  /** Queue one frame. Dropped silently once the connection is closing. [ERR-2] */
  send(frame: Frame): void {
    if (this.closing || this.ended) return
    this.sendEncoded(encodeFrame(frame))
  }

  /** Queue an already encoded frame (no length prefix): fan-out encodes a Deliver once. */
  sendEncoded(bytes: Uint8Array): void {
    if (this.closing || this.ended) return
    this.queue.push(bytes)
    this.queuedBytes += bytes.length
    if (!this.scheduled) this.scheduleFlush()
  }

  /** @internal Flush in this loop turn's check phase, with every other connection that queued frames. */
  scheduleFlush(): void {
    this.scheduled = true
    if (dueFlush.push(this) === 1) setImmediate(flushDue)
  }

  /**
   * Write bytes as they are, bypassing framing (conformance tests: malformed
   * input). TCP: raw stream bytes; WS: one binary message, or a text message
   * for a string. Flushes queued frames first to keep order.
   */
  sendRaw(data: Uint8Array | string): void {
    if (this.closing || this.ended) return
    this.flush()
    this.writeRaw(data)
  }

  /**
   * Frames queued from now on may be packed into Batch frames at flush time
   * ([BAT-10] [RSM-9]); null turns batching off. Frames queued before the call
   * stay plain (a Welcome must never travel in a Batch [BAT-12]).
   */
  setBatching(policy: BatchPolicy | null): void {
    this.batching = policy
    this.plainCount = this.queue.length
  }

  /** Write everything queued now (normally done once per loop turn). */
  flush(): void {
    this.scheduled = false
    if (this.queue.length === 0 || this.ended) return
    let frames = this.queue
    const plain = this.plainCount
    this.queue = []
    this.queuedBytes = 0
    this.plainCount = 0
    if (this.batching !== null && frames.length - plain >= 2) {
      const head = frames.slice(0, plain)
      const batched = batchFrames(plain === 0 ? frames : frames.slice(plain), this.batching)
      frames = plain === 0 ? batched : head.concat(batched)
    }
    this.writeFrames(frames)
  }

  /**
   * Send Close{code, reason} as the last frame, then end the transport (WS:
   * close with the same code). Idempotent. [ERR-2] [ERR-7]
   */
  close(code: CloseCode | number, reason = '', retryAfterMs = 0): void {
    if (this.closing || this.ended) return
    const why = truncateReason(reason)
    const closeFrame = create(FrameSchema, {
      body: { case: 'close', value: { code: code as CloseCode, reason: why, retryAfterMs } },
    })
    this.flush()
    // Written on its own, never packed into a Batch: it is the last frame. [ERR-2]
    if (!this.ended) this.writeFrames([encodeFrame(closeFrame)])
    this.closing = true
    this.endTransport(code, why)
    this.lingerTimer = setTimeout(() => this.destroy(), CLOSE_LINGER_MS)
    this.lingerTimer.unref()
  }

  /**
   * End gracefully without a Close frame of our own, after queued frames:
   * the answer to a peer's Close [ERR-3]; WS: close code `code` (3000-4999), else 1000.
   */
  end(code = 1000): void {
    if (this.closing || this.ended) return
    this.flush()
    this.closing = true
    // WebSocket: the close frame echoes the received Close's code. [ERR-16]
    this.endTransport(code, '')
    this.lingerTimer = setTimeout(() => this.destroy(), CLOSE_LINGER_MS)
    this.lingerTimer.unref()
  }

  /** End the connection at once without a Close frame (abrupt disconnect). */
  destroy(): void {
    if (this.ended) return
    this.closing = true
    this.queue = []
    this.queuedBytes = 0
    this.destroyTransport()
  }

  // --- adapter side -------------------------------------------------------

  /** Adapters call this for each decoded frame; false = stop reading. */
  protected receiveFrame(frame: Frame, bytes: Uint8Array): boolean {
    if (this.readBroken || this.ended) return false
    this.emit('frame', frame, bytes)
    return !(this.readBroken || this.ended)
  }

  /**
   * Adapters call this on invalid input: reading stops for good. The owner
   * may close from its 'codecError' listener (with its own reason); if it
   * does not, the connection closes with err.closeCode right away. It must
   * happen synchronously: ws closes with its own code (1009) right after.
   */
  protected receiveCodecError(err: CodecError): void {
    if (this.readBroken || this.ended) return
    this.readBroken = true
    this.emit('codecError', err)
    if (!this.closing && !this.closeHeld) this.close(err.closeCode, err.code)
  }

  /** The owner will close later (its Close waits for earlier frames' effects [ERR-15]). */
  holdClose(): void {
    this.closeHeld = true
  }
  private closeHeld = false

  /** Adapters call this exactly when the underlying transport is gone. */
  protected transportClosed(info: Omit<CloseInfo, 'local'>): void {
    if (this.ended) return
    this.ended = true
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer)
    this.queue = []
    this.queuedBytes = 0
    this.emit('close', { local: this.closing, ...info })
  }

  protected abstract writeFrames(frames: Uint8Array[]): void
  protected abstract writeRaw(data: Uint8Array | string): void
  protected abstract endTransport(code: number, reason: string): void
  protected abstract destroyTransport(): void
  protected abstract socketBufferedBytes(): number
}
