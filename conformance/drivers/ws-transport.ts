// WebSocket transport: one binary message = one frame, subprotocol imwire.v1
// [FRM-2]. Raw-socket access (RST, a WebSocket frame cut in half) goes below
// the ws library to the underlying net.Socket.
import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import WebSocket from 'ws'
import type { IncomingMessage } from 'node:http'
import {
  type OpenOptions,
  TargetUnreachable,
  type Transport,
  type TransportEvent,
  UpgradeRefused,
} from './transport.js'
import { RUNNER_MAX_FRAME_BYTES } from './tcp-transport.js'

export const WS_SUBPROTOCOL = 'imwire.v1'

export function openWs(url: string, timeoutMs: number, options: OpenOptions = {}): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.subprotocols ?? [WS_SUBPROTOCOL], {
      maxPayload: RUNNER_MAX_FRAME_BYTES,
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
    })
    ws.binaryType = 'nodebuffer'
    const transport = new WsTransport(ws)
    const onError = (err: NodeJS.ErrnoException) => {
      ws.removeListener('open', onOpen)
      if (
        err.code === 'ECONNREFUSED' ||
        err.code === 'EHOSTUNREACH' ||
        err.code === 'ENOTFOUND' ||
        /timed out/i.test(err.message)
      ) {
        reject(new TargetUnreachable(`${url}: ${err.code ?? err.message}`))
      } else {
        reject(new Error(`${url}: WebSocket handshake failed: ${err.message}`))
      }
    }
    const onOpen = () => {
      ws.removeListener('error', onError)
      transport.attach()
      resolve(transport)
    }
    // [FRM-12] a refused upgrade is an answer, not an unreachable target
    ws.once('unexpected-response', (req, res: IncomingMessage) => {
      ws.removeListener('error', onError)
      ws.removeListener('open', onOpen)
      res.resume()
      req.destroy()
      reject(new UpgradeRefused(res.statusCode ?? 0, res.statusMessage ?? ''))
    })
    ws.once('error', onError)
    ws.once('open', onOpen)
  })
}

class WsTransport implements Transport {
  readonly kind = 'ws' as const
  private listeners: Array<(e: TransportEvent) => void> = []
  private backlog: TransportEvent[] = []
  private sawReset = false
  closed = false

  get subprotocol(): string {
    return this.ws.protocol
  }

  constructor(private readonly ws: WebSocket) {
    // A second 'error' (ws can emit one after the handshake failed) must never crash the runner.
    ws.on('error', () => {})
    // Listen from the start: the server may send frames (or close) right
    // after the upgrade, before `open` resolves the promise.
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.emit({ type: 'frame', bytes: Uint8Array.from(data) })
      else
        this.emit({
          type: 'garbage',
          detail: 'text message from the server [FRM-2]',
          bytes: Uint8Array.from(data.subarray(0, 64)),
        })
    })
    ws.on('close', (code: number, reason: Buffer) => {
      if (this.closed) return
      this.closed = true
      const how = code === 1006 && this.sawReset ? 'rst' : 'ws-close'
      this.emit({ type: 'closed', how, wsCode: code, wsReason: reason.toString('utf8') })
    })
  }

  attach(): void {
    this.ws.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') this.sawReset = true
      else if (/max payload/i.test(err.message))
        this.emit({
          type: 'garbage',
          detail: `message over ${RUNNER_MAX_FRAME_BYTES} bytes [FRM-9]`,
          bytes: new Uint8Array(0),
        })
    })
    this.socket()?.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') this.sawReset = true
    })
  }

  private socket(): Socket | undefined {
    return (this.ws as unknown as { _socket?: Socket })._socket
  }

  onEvent(listener: (e: TransportEvent) => void): void {
    this.listeners.push(listener)
    for (const e of this.backlog.splice(0)) listener(e)
  }

  private emit(e: TransportEvent): void {
    if (this.listeners.length === 0) this.backlog.push(e)
    for (const l of this.listeners) l(e)
  }

  private open(): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  writeFrame(frameBytes: Uint8Array): void {
    if (this.open()) this.ws.send(frameBytes, { binary: true })
  }

  writeRaw(bytes: Uint8Array): void {
    this.writeFrame(bytes)
  }

  writeWsBytes(bytes: Uint8Array): void {
    // Beside ws's own framing: the server sees these bytes as WebSocket frames. [FRM-3] [FRM-15]
    if (this.open()) this.socket()?.write(bytes)
  }

  async writeChunks(bytes: Uint8Array, chunkBytes: number): Promise<void> {
    for (let off = 0; off < bytes.length && this.open(); off += chunkBytes) {
      await new Promise<void>((resolve) =>
        this.ws.send(bytes.subarray(off, off + chunkBytes), { binary: true }, () => resolve()),
      )
    }
  }

  writeText(text: string): void {
    if (this.open()) this.ws.send(text, { binary: false })
  }

  end(wsCode = 1000): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(wsCode)
  }

  reset(): void {
    const s = this.socket()
    if (s && !s.destroyed) s.resetAndDestroy()
    else this.ws.terminate()
  }

  cutFrame(frameBytes: Uint8Array): void {
    const s = this.socket()
    if (!s || s.destroyed) return
    const wire = maskedBinaryFrame(frameBytes)
    s.write(wire.subarray(0, Math.max(1, Math.floor(wire.length / 2))), () => s.end())
  }
}

/** A client-to-server WebSocket binary frame (RFC 6455 §5.2), masked. */
export function maskedBinaryFrame(payload: Uint8Array): Uint8Array {
  const len = payload.length
  const header: number[] = [0x82]
  if (len < 126) header.push(0x80 | len)
  else if (len < 65536) header.push(0x80 | 126, len >> 8, len & 0xff)
  else {
    header.push(0x80 | 127, 0, 0, 0, 0)
    header.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff)
  }
  const mask = randomBytes(4)
  const out = new Uint8Array(header.length + 4 + len)
  out.set(header, 0)
  out.set(mask, header.length)
  const base = header.length + 4
  for (let i = 0; i < len; i++) out[base + i] = (payload[i] as number) ^ (mask[i & 3] as number)
  return out
}
