// TCP transport: varint-prefixed frames over node:net [FRM-1]. Frames are
// split by the codec's StreamDecoder (the one reader of the wire, checked by
// the golden stream vectors) but not decoded here: the runner decodes later
// so that a malformed frame from a server becomes evidence. After garbage the
// transport stops reading frames and still records how the server ended the
// stream.
import { connect, type Socket } from 'node:net'
import { CodecError, delimit, StreamDecoder } from '../../src/codec/index.js'
import { TargetUnreachable, type Transport, type TransportEvent } from './transport.js'

/** Frames the runner accepts from a server; larger ones are reported as garbage [FRM-9]. */
export const RUNNER_MAX_FRAME_BYTES = 64 * 1024 * 1024
/** Frames per Batch the runner decodes: far above any server's limit, so a bad count is judged, not refused. */
export const RUNNER_MAX_BATCH_FRAMES = 1 << 20

export function openTcp(host: string, port: number, timeoutMs: number): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new TargetUnreachable(`tcp://${host}:${port}: connect timed out after ${timeoutMs} ms`))
    }, timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeAllListeners('error')
      resolve(new TcpTransport(socket))
    })
    socket.once('error', (err) => {
      clearTimeout(timer)
      reject(new TargetUnreachable(`tcp://${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`))
    })
  })
}

class TcpTransport implements Transport {
  readonly kind = 'tcp' as const
  private listeners: Array<(e: TransportEvent) => void> = []
  private backlog: TransportEvent[] = []
  private readonly decoder = new StreamDecoder({ maxFrameBytes: RUNNER_MAX_FRAME_BYTES })
  private poisoned = false
  private sawReset = false
  closed = false

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') this.sawReset = true
    })
    socket.on('close', () => {
      if (this.closed) return
      this.closed = true
      const truncated = this.decoder.pending > 0 && !this.poisoned ? this.decoder.pending : undefined
      this.emit({ type: 'closed', how: this.sawReset ? 'rst' : 'fin', ...(truncated ? { truncated } : {}) })
    })
  }

  onEvent(listener: (e: TransportEvent) => void): void {
    this.listeners.push(listener)
    for (const e of this.backlog.splice(0)) listener(e)
  }

  private emit(e: TransportEvent): void {
    if (this.listeners.length === 0) this.backlog.push(e)
    for (const l of this.listeners) l(e)
  }

  private onData(chunk: Buffer): void {
    if (this.poisoned) return
    const chunkAt = this.decoder.offset
    try {
      this.decoder.split(chunk, (bytes) => void this.emit({ type: 'frame', bytes }))
    } catch (err) {
      if (!(err instanceof CodecError)) throw err
      // [FRM-4] bad prefix, or a frame over what the runner accepts [FRM-9].
      this.poisoned = true
      const at = Math.max(0, (err.offset ?? chunkAt) - chunkAt)
      this.emit({ type: 'garbage', detail: err.message, bytes: Uint8Array.from(chunk.subarray(at, at + 64)) })
    }
  }

  writeFrame(frameBytes: Uint8Array): void {
    this.writeRaw(delimit(frameBytes))
  }

  writeRaw(bytes: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes)
  }

  async writeChunks(bytes: Uint8Array, chunkBytes: number): Promise<void> {
    for (let off = 0; off < bytes.length && !this.closed; off += chunkBytes) {
      const piece = bytes.subarray(off, off + chunkBytes)
      // Wait for each piece to be handed to the kernel (plus a tick) so that
      // the server is likely to see separate reads.
      await new Promise<void>((resolve) => {
        if (!this.socket.writable) return resolve()
        this.socket.write(piece, () => setImmediate(resolve))
      })
    }
  }

  writeText(): void {
    throw new Error('text messages exist only on WebSocket')
  }

  end(): void {
    if (!this.socket.destroyed) this.socket.end()
  }

  reset(): void {
    if (!this.socket.destroyed) this.socket.resetAndDestroy()
  }

  cutFrame(frameBytes: Uint8Array): void {
    const wire = delimit(frameBytes)
    this.socket.write(wire.subarray(0, Math.max(1, Math.floor(wire.length / 2))), () => this.socket.end())
  }
}
