// In-memory connection pair for tests: no sockets, same semantics.
//
// Frames cross as encoded bytes and are decoded on the other side (with the
// receiver's max frame size), asynchronously, in order, like a socket: a test
// over the pair exercises the codec path and the flush-per-turn coalescing.
import { CodecError, DEFAULT_MAX_FRAME_BYTES, StreamDecoder, decodeFrame } from '../codec/index.js'
import { Connection, type TransportKind } from './connection.js'

export interface MemoryPairOptions {
  /** Max frame size accepted by side a / side b. Default 1 MiB each. */
  maxFrameBytesA?: number
  maxFrameBytesB?: number
}

export class MemoryConnection extends Connection {
  readonly kind: TransportKind = 'memory'
  readonly remoteAddress: string
  peer: MemoryConnection | null = null
  private readonly decoder: StreamDecoder
  private readonly maxFrameBytes: number
  private inFlight = 0

  constructor(label: string, maxFrameBytes: number) {
    super()
    this.remoteAddress = label
    this.maxFrameBytes = maxFrameBytes
    this.decoder = new StreamDecoder({ maxFrameBytes })
  }

  /** Called by the peer: bytes arriving on this side. */
  private arrive(kind: 'frames' | 'raw', data: Uint8Array[] | Uint8Array | string): void {
    if (this.ended || this.readBroken) return
    try {
      if (kind === 'frames') {
        for (const bytes of data as Uint8Array[]) {
          if (!this.receiveFrame(decodeFrame(bytes, this.maxFrameBytes), bytes)) return
        }
      } else if (typeof data === 'string') {
        this.receiveCodecError(new CodecError('MALFORMED_FRAME', 'text message'))
      } else {
        this.decoder.feed(data as Uint8Array, (frame, bytes) => this.receiveFrame(frame, bytes))
      }
    } catch (err) {
      if (err instanceof CodecError) this.receiveCodecError(err)
      else throw err
    }
  }

  private deliver(fn: () => void): void {
    this.inFlight++
    setImmediate(() => {
      this.inFlight--
      fn()
    })
  }

  protected writeFrames(frames: Uint8Array[]): void {
    const peer = this.peer
    if (peer === null) return
    this.deliver(() => peer.arrive('frames', frames))
  }

  /** Raw bytes are read as a TCP stream (prefix + frame); a string as a WS text message. */
  protected writeRaw(data: Uint8Array | string): void {
    const peer = this.peer
    if (peer === null) return
    this.deliver(() => peer.arrive('raw', data))
  }

  protected endTransport(): void {
    // Like TCP end(): the peer sees everything written so far, then the close.
    const peer = this.peer
    this.deliver(() => {
      this.transportClosed({ truncatedBytes: 0 })
      peer?.transportClosed({ truncatedBytes: peer.decoder.pending })
    })
  }

  protected destroyTransport(): void {
    const peer = this.peer
    this.transportClosed({ truncatedBytes: 0 })
    setImmediate(() => peer?.transportClosed({ truncatedBytes: peer.decoder.pending }))
  }

  protected socketBufferedBytes(): number {
    return this.inFlight
  }
}

/** Two connected in-memory connections: [client side, server side]. */
export function createMemoryPair(opts: MemoryPairOptions = {}): [MemoryConnection, MemoryConnection] {
  const a = new MemoryConnection('memory:a', opts.maxFrameBytesA ?? DEFAULT_MAX_FRAME_BYTES)
  const b = new MemoryConnection('memory:b', opts.maxFrameBytesB ?? DEFAULT_MAX_FRAME_BYTES)
  a.peer = b
  b.peer = a
  return [a, b]
}
