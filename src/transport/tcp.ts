// TCP adapter (node:net): varint-delimited frames on a byte stream. [FRM-1]
import net from 'node:net'
import { CodecError, DEFAULT_MAX_FRAME_BYTES, StreamDecoder, varintSize, writeVarint } from '../codec/index.js'
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'
import { Connection, DEFAULT_CONNECT_TIMEOUT_MS, type TransportKind } from './connection.js'

export interface TcpOptions {
  /** Largest frame accepted from the peer. [FRM-3] Default 1 MiB. */
  maxFrameBytes?: number
}

export interface ConnectTcpOptions extends TcpOptions {
  /** Give up connecting after this long. Default 10 s. */
  connectTimeoutMs?: number
}

/** The TcpConnection a socket belongs to, for the listeners below (shared by every socket: no closures per connection). */
const kConn = Symbol('imwire.tcpConnection')
type OwnedSocket = net.Socket & { [kConn]: TcpConnection }

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[kConn].onData(chunk)
}
function onSocketError(this: OwnedSocket, err: Error): void {
  this[kConn].error ??= err
}
function onSocketDrain(this: OwnedSocket): void {
  this[kConn].emit('drain')
}
function onSocketClose(this: OwnedSocket): void {
  const c = this[kConn]
  // [FRM-8] a partial frame at end of stream is discarded, never processed.
  c.closedBySocket()
}

export class TcpConnection extends Connection {
  readonly kind: TransportKind = 'tcp'
  readonly remoteAddress: string
  private readonly socket: net.Socket
  private readonly decoder: StreamDecoder
  /** @internal (set by the shared socket listeners) */
  error: Error | undefined
  /** Decoded frames go to receiveFrame; one bound function per connection instead of one closure per chunk. */
  private readonly onFrame: (frame: Frame, bytes: Uint8Array) => boolean

  constructor(socket: net.Socket, opts: TcpOptions = {}) {
    super()
    this.socket = socket
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`
    this.decoder = new StreamDecoder({ maxFrameBytes: opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES })
    // We coalesce writes ourselves; Nagle would only add latency.
    socket.setNoDelay(true)
    this.onFrame = this.receiveFrame.bind(this)
    ;(socket as OwnedSocket)[kConn] = this
    socket.on('data', onSocketData)
    socket.on('error', onSocketError)
    socket.on('drain', onSocketDrain)
    socket.on('close', onSocketClose)
  }

  /** @internal */
  closedBySocket(): void {
    this.transportClosed({ truncatedBytes: this.decoder.pending, error: this.error })
  }

  /** @internal */
  onData(chunk: Buffer): void {
    if (this.readBroken || this.ended) return
    try {
      // Frames before a bad one in the same chunk are handed over first (a
      // server acks those), then the CodecError closes the connection. [FRM-4]
      this.decoder.feed(chunk, this.onFrame)
    } catch (err) {
      if (err instanceof CodecError) this.receiveCodecError(err)
      else throw err
    }
  }

  protected writeFrames(frames: Uint8Array[]): void {
    if (this.socket.destroyed || !this.socket.writable) return
    // One buffer, one write: varint prefix + frame for each. [FRM-1]
    let total = 0
    for (const f of frames) total += varintSize(f.length) + f.length
    const out = Buffer.allocUnsafe(total)
    let off = 0
    for (const f of frames) {
      off = writeVarint(out, off, f.length)
      out.set(f, off)
      off += f.length
    }
    this.socket.write(out)
  }

  protected writeRaw(data: Uint8Array | string): void {
    if (this.socket.destroyed || !this.socket.writable) return
    this.socket.write(data)
  }

  protected endTransport(): void {
    this.socket.end()
  }

  protected destroyTransport(): void {
    this.socket.destroy()
  }

  protected socketBufferedBytes(): number {
    return this.socket.writableLength
  }
}

/** Open a TCP connection to an imwire server. Rejects on connect failure. */
export function connectTcp(host: string, port: number, opts: ConnectTcpOptions = {}): Promise<TcpConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(Object.assign(new Error(`connect to ${host}:${port} timed out`), { code: 'ETIMEDOUT' }))
    }, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)
    const onError = (err: Error) => {
      clearTimeout(timer)
      reject(err)
    }
    socket.once('error', onError)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.off('error', onError)
      resolve(new TcpConnection(socket, opts))
    })
  })
}

export interface Listener {
  /** Where it listens: "host:port" (TCP) or "ws://host:port/path" (WS). */
  readonly address: string
  readonly host: string
  readonly port: number
  /**
   * Stop accepting at once; resolves when every connection accepted by this
   * listener has closed (the owner closes them).
   */
  close(): Promise<void>
}

export interface ListenTcpOptions extends TcpOptions {
  host?: string
  /** 0 = ephemeral. */
  port?: number
}

/** Listen for imwire over TCP; onConnection gets each accepted connection. */
export function listenTcp(opts: ListenTcpOptions, onConnection: (conn: TcpConnection) => void): Promise<Listener> {
  const server = net.createServer({ noDelay: true }, (socket) => onConnection(new TcpConnection(socket, opts)))
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      const addr = server.address() as net.AddressInfo
      let closing: Promise<void> | null = null
      resolve({
        address: `${hostForUrl(addr.address)}:${addr.port}`,
        host: addr.address,
        port: addr.port,
        close: () => {
          closing ??= new Promise<void>((done) => server.close(() => done()))
          return closing
        },
      })
    })
  })
}

export function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}
