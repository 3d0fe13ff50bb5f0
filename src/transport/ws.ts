// WebSocket adapter (ws): one binary message = one frame, subprotocol imwire.v1. [FRM-2]
import http from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer } from 'ws'
import { CodecError, DEFAULT_MAX_FRAME_BYTES, decodeFrame } from '../codec/index.js'
import { Connection, DEFAULT_CONNECT_TIMEOUT_MS, type TransportKind } from './connection.js'
import { hostForUrl, type Listener } from './tcp.js'

export const WS_SUBPROTOCOL = 'imwire.v1'

export interface WsOptions {
  /** Largest frame (= WebSocket message) accepted from the peer. [FRM-3] Default 1 MiB. */
  maxFrameBytes?: number
}

export interface ConnectWsOptions extends WsOptions {
  connectTimeoutMs?: number
  /** Subprotocols to offer; default [imwire.v1]. Conformance uses this to test refusal. */
  protocols?: string[]
}

/** The ws internals we reach into (see the comments where they are used). */
interface WsInternals {
  _socket?: Duplex & { cork(): void; uncork(): void }
  _receiver?: { prependListener(ev: 'error', fn: (err: Error & { code?: string }) => void): void }
}

/**
 * The WsConnection a ws socket (and its receiver) belongs to: the listeners
 * below serve every connection, instead of four closures per connection.
 */
const kConn = Symbol('imwire.wsConnection')
type OwnedWs = { [kConn]: WsConnection }

const owner = (emitter: unknown): WsConnection => (emitter as OwnedWs)[kConn]

function onWsMessage(this: unknown, data: Buffer, isBinary: boolean): void {
  owner(this).onMessage(data, isBinary)
}
function onWsError(this: unknown, err: Error): void {
  owner(this).error ??= err
}
function onWsClose(this: unknown, code: number, reason: Buffer): void {
  owner(this).closedByWs(code, reason)
}
function onReceiverError(this: unknown, err: Error & { code?: string }): void {
  owner(this).onReceiverError(err)
}

export class WsConnection extends Connection {
  readonly kind: TransportKind = 'ws'
  readonly remoteAddress: string
  private readonly ws: WebSocket
  private readonly maxFrameBytes: number
  /** @internal (set by the shared listener) */
  error: Error | undefined

  constructor(ws: WebSocket, remoteAddress: string, opts: WsOptions = {}) {
    super()
    this.ws = ws
    this.remoteAddress = remoteAddress
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    ws.binaryType = 'nodebuffer'
    ;(ws as unknown as OwnedWs)[kConn] = this
    ws.on('message', onWsMessage)
    ws.on('error', onWsError)
    ws.on('close', onWsClose)
    // [FRM-3] ws enforces maxPayload from the frame header (before buffering)
    // but then closes with WS code 1009 on its own. We get in first, from the
    // receiver's error event, so the peer sees our Close frame and code 3503
    // (ws's own close then finds the socket closing and does nothing).
    const receiver = (ws as unknown as WsInternals)._receiver
    if (receiver !== undefined) {
      ;(receiver as unknown as OwnedWs)[kConn] = this
      receiver.prependListener('error', onReceiverError)
    }
  }

  /** @internal (shared listener) */
  onReceiverError(err: Error & { code?: string }): void {
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      this.receiveCodecError(new CodecError('FRAME_TOO_LARGE', `message exceeds ${this.maxFrameBytes} bytes`))
    }
  }

  /** @internal (shared listener) */
  closedByWs(code: number, reason: Buffer): void {
    this.transportClosed({ wsCode: code, wsReason: reason.toString('utf8'), truncatedBytes: 0, error: this.error })
  }

  /** @internal (shared listener) */
  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.readBroken || this.ended) return
    // [FRM-2] a text message is a protocol error: 3504.
    if (!isBinary) {
      this.receiveCodecError(new CodecError('MALFORMED_FRAME', 'text message'))
      return
    }
    let frame: ReturnType<typeof decodeFrame>
    try {
      frame = decodeFrame(data, this.maxFrameBytes)
    } catch (err) {
      if (err instanceof CodecError) this.receiveCodecError(err)
      else throw err
      return
    }
    this.receiveFrame(frame, data)
  }

  protected writeFrames(frames: Uint8Array[]): void {
    if (this.ws.readyState !== WebSocket.OPEN) return
    // ws has no cork of its own; corking the socket turns one turn's messages
    // into one writev (~2x the messages/s of one write per message).
    const socket = (this.ws as unknown as WsInternals)._socket
    socket?.cork()
    for (const f of frames) this.ws.send(f, { binary: true, compress: false })
    socket?.uncork()
  }

  protected writeRaw(data: Uint8Array | string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return
    this.ws.send(data, { binary: typeof data !== 'string', compress: false })
  }

  protected endTransport(code: number, reason: string): void {
    // [ERR-2] the WebSocket close code is the Close frame's code.
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code >= 3000 && code <= 4999 ? code : 1000, reason)
    }
  }

  protected destroyTransport(): void {
    this.ws.terminate()
  }

  protected socketBufferedBytes(): number {
    return this.ws.bufferedAmount
  }
}

/** Open a WebSocket connection (url like ws://127.0.0.1:7421/imwire). */
export function connectWs(url: string, opts: ConnectWsOptions = {}): Promise<WsConnection> {
  const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? [WS_SUBPROTOCOL], {
      maxPayload: maxFrameBytes,
      perMessageDeflate: false,
      handshakeTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    })
    const onError = (err: Error) => reject(err)
    ws.once('error', onError)
    ws.once('unexpected-response', (_req, res) => {
      ws.off('error', onError)
      ws.on('error', () => {})
      ws.terminate()
      reject(Object.assign(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`), { code: 'EREFUSED' }))
    })
    ws.once('open', () => {
      ws.off('error', onError)
      const u = new URL(url)
      // Bytes that came with the upgrade response (a server may send a Close
      // at once, e.g. 3006) would be emitted before the caller's `await`
      // resumes and attaches its listeners: hold reading until then.
      ws.pause()
      resolve(new WsConnection(ws, `${u.hostname}:${u.port}`, opts))
      setImmediate(() => ws.resume())
    })
  })
}

export interface ListenWsOptions extends WsOptions {
  host?: string
  port?: number
  /** Only upgrades on this path are accepted (default "/imwire"). */
  path?: string
  /**
   * [HS-17] A TCP connection that has not completed its upgrade request this
   * long after accept is closed (there is no WebSocket yet to carry a Close).
   * Default: no bound of its own.
   */
  upgradeTimeoutMs?: number
}

/**
 * Listen for imwire over WebSocket. Upgrades for another path get 404; a
 * client that does not offer the imwire.v1 subprotocol gets 400 (FRM-2 makes
 * the subprotocol a MUST; refusing is the visible way to say so).
 */
export function listenWs(opts: ListenWsOptions, onConnection: (conn: WsConnection) => void): Promise<Listener> {
  const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  const path = opts.path ?? '/imwire'
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('imwire: WebSocket only\n')
  })
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: maxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false),
  })
  // Upgrade deadline per socket, dropped at the upgrade: a cleared Timeout
  // kept alive by a per-socket close listener was ~0.3 KiB of every open
  // WebSocket connection (2026-12-06 heap snapshot). One listener function
  // serves every socket.
  const upgradeTimers = new WeakMap<Duplex, NodeJS.Timeout>()
  const upgradeTimeoutMs = opts.upgradeTimeoutMs
  function dropUpgradeTimer(this: Duplex): void {
    clearTimeout(upgradeTimers.get(this))
    upgradeTimers.delete(this)
    this.off('close', dropUpgradeTimer)
  }
  if (upgradeTimeoutMs !== undefined) {
    server.on('connection', (socket) => {
      upgradeTimers.set(
        socket,
        setTimeout(() => socket.destroy(), upgradeTimeoutMs),
      )
      socket.on('close', dropUpgradeTimer)
    })
  }
  server.on('upgrade', (req, socket, head) => {
    // The upgrade request is complete: from here the handshake timer of the session runs. [HS-8]
    dropUpgradeTimer.call(socket)
    const reqPath = (req.url ?? '/').split('?')[0]
    if (reqPath !== path) return refuse(socket, 404, 'Not Found')
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim())
    if (!offered.includes(WS_SUBPROTOCOL)) return refuse(socket, 400, 'Bad Request')
    wss.handleUpgrade(req, socket, head, (ws) => {
      const remote = `${hostForUrl(req.socket.remoteAddress ?? '?')}:${req.socket.remotePort ?? 0}`
      onConnection(new WsConnection(ws, remote, { maxFrameBytes }))
    })
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      const addr = server.address() as import('node:net').AddressInfo
      let closing: Promise<void> | null = null
      resolve({
        address: `ws://${hostForUrl(addr.address)}:${addr.port}${path}`,
        host: addr.address,
        port: addr.port,
        close: () => {
          closing ??= new Promise<void>((done) => {
            wss.close()
            server.close(() => done())
          })
          return closing
        },
      })
    })
  })
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.on('error', () => {})
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}
