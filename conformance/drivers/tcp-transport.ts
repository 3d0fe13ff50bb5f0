// TCP transport: varint-prefixed frames over node:net [FRM-1]. The splitter
// here is deliberately separate from the server's: the runner must not share
// the implementation it judges, and it must keep going after garbage to
// record how the server ended the stream.
import { connect, type Socket } from 'node:net'
import { delimit } from '../../src/codec/index.js'
import { TargetUnreachable, type Transport, type TransportEvent } from './transport.js'

/** Frames the runner accepts from a server; larger ones are reported as garbage [FRM-9]. */
export const RUNNER_MAX_FRAME_BYTES = 64 * 1024 * 1024

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
  private buf: Buffer = Buffer.alloc(0)
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
      const truncated = this.buf.length > 0 && !this.poisoned ? this.buf.length : undefined
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
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    let pos = 0
    while (pos < this.buf.length) {
      let len = 0
      let mul = 1
      let i = pos
      let complete = false
      while (i < this.buf.length && i - pos < 5) {
        const b = this.buf[i++] as number
        len += (b & 0x7f) * mul
        mul *= 128
        if ((b & 0x80) === 0) {
          complete = true
          break
        }
      }
      if (!complete) {
        if (i - pos >= 5) {
          this.poison('length prefix longer than 5 bytes [FRM-4]', pos)
          return
        }
        break
      }
      if (len >= 2 ** 32) {
        this.poison('length prefix >= 2^32 [FRM-4]', pos)
        return
      }
      if (len > RUNNER_MAX_FRAME_BYTES) {
        this.poison(`frame of ${len} bytes announced [FRM-9]`, pos)
        return
      }
      if (this.buf.length - i < len) break
      this.emit({ type: 'frame', bytes: Uint8Array.from(this.buf.subarray(i, i + len)) })
      pos = i + len
    }
    this.buf = this.buf.subarray(pos)
  }

  private poison(detail: string, pos: number): void {
    this.poisoned = true
    this.emit({ type: 'garbage', detail, bytes: Uint8Array.from(this.buf.subarray(pos, pos + 64)) })
    this.buf = Buffer.alloc(0)
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
