// A raw MQTT 3.1.1 connection for load generation against the aedes peer:
// CONNECT through mqtt-packet (the codec under mqtt.js and aedes), QoS 1
// PUBLISH written by hand on the hot path, PUBACK recognised by its first
// byte, all writes of one turn in one socket write, as for imwire. Over
// WebSocket the turn's packets travel in one binary message, which MQTT over
// WebSocket allows (a message may carry several packets); imwire must send one
// message per frame [FRM-2], so this favours the peer, if anything.
import net from 'node:net'
import mqttPacket from 'mqtt-packet'
import { WebSocket } from 'ws'
import { splitHostPort } from './child.js'
import type { Kind } from './imwire-peer.js'

const PINGREQ = Buffer.from([0xc0, 0x00])

export class RawMqttPeer {
  private readonly socket: net.Socket | null
  private readonly ws: WebSocket | null
  private pending: Buffer | null = null
  private topic: Buffer = Buffer.alloc(0)
  private payload: Uint8Array = new Uint8Array(0)
  private nextId = 1
  /** Send time per packet id (µs). */
  private readonly sentAt = new Float64Array(65536)
  private outstanding = 0
  private queued: number[] = []
  private queuedTimes: number[] = []
  private scheduled = false
  private connackWaiter: ((ok: boolean) => void) | null = null
  closed = false
  onAnswer: (sentAtUs: number, ok: boolean) => void = () => {}

  private constructor(socket: net.Socket | null, ws: WebSocket | null) {
    this.socket = socket
    this.ws = ws
    socket?.on('data', (c: Buffer) => this.onData(c))
    socket?.on('error', () => {})
    socket?.on('close', () => this.gone())
    ws?.on('message', (d: Buffer) => this.onData(d))
    ws?.on('error', () => {})
    ws?.on('close', () => this.gone())
  }

  /** localAddress binds the client socket to one source address (bench:scale). */
  static connect(kind: Kind, address: string, localAddress?: string): Promise<RawMqttPeer> {
    return new Promise((resolve, reject) => {
      if (kind === 'tcp') {
        const { host, port } = splitHostPort(address)
        const s = net.connect({ host, port, noDelay: true, localAddress })
        s.once('error', reject)
        s.once('connect', () => {
          s.off('error', reject)
          resolve(new RawMqttPeer(s, null))
        })
      } else {
        const ws = new WebSocket(address, ['mqtt'], { perMessageDeflate: false, localAddress })
        ws.binaryType = 'nodebuffer'
        ws.once('error', reject)
        ws.once('open', () => {
          ws.off('error', reject)
          resolve(new RawMqttPeer(null, ws))
        })
      }
    })
  }

  private gone(): void {
    this.closed = true
    this.connackWaiter?.(false)
  }

  /** keepaliveS 0: no keepalive (bench:server); bench:scale asks for one and calls ping(). */
  async handshake(clientId: string, keepaliveS = 0): Promise<void> {
    const ok = new Promise<boolean>((r) => {
      this.connackWaiter = r
    })
    this.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId,
        clean: true,
        keepalive: keepaliveS,
      }),
    )
    if (!(await ok)) throw new Error('MQTT connect refused')
  }

  /** PINGREQ; aedes answers PINGRESP, which onData skips. */
  ping(): void {
    if (!this.closed) this.write(PINGREQ)
  }

  startSending(topic: string, payload: Uint8Array): void {
    this.topic = Buffer.from(topic)
    this.payload = payload
  }

  get inflight(): number {
    return this.outstanding + this.queued.length
  }

  send(sentAtUs: number): void {
    this.queued.push(0)
    this.queuedTimes.push(sentAtUs)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
  }

  private flush(): void {
    this.scheduled = false
    const n = this.queued.length
    if (n === 0 || this.closed) return
    // PUBLISH QoS 1: 0x32, remaining length, topic (u16 len), packet id (u16), payload.
    const remaining = 2 + this.topic.length + 2 + this.payload.length
    const rlBytes = remaining < 128 ? 1 : remaining < 16384 ? 2 : 3
    const size = 1 + rlBytes + remaining
    const out = Buffer.allocUnsafe(size * n)
    let off = 0
    for (let i = 0; i < n; i++) {
      const id = this.nextId
      this.nextId = id === 65535 ? 1 : id + 1
      this.sentAt[id] = this.queuedTimes[i] as number
      out[off++] = 0x32
      let r = remaining
      while (r > 0x7f) {
        out[off++] = (r & 0x7f) | 0x80
        r >>= 7
      }
      out[off++] = r
      out.writeUInt16BE(this.topic.length, off)
      off += 2
      this.topic.copy(out, off)
      off += this.topic.length
      out.writeUInt16BE(id, off)
      off += 2
      out.set(this.payload, off)
      off += this.payload.length
    }
    this.outstanding += n
    this.queued = []
    this.queuedTimes = []
    this.write(out)
  }

  private write(b: Buffer): void {
    if (this.socket !== null) this.socket.write(b)
    else if (this.ws !== null && this.ws.readyState === WebSocket.OPEN)
      this.ws.send(b, { binary: true, compress: false })
  }

  private onData(chunk: Buffer): void {
    let buf = chunk
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk])
      this.pending = null
    }
    let off = 0
    while (off + 2 <= buf.length) {
      const type = (buf[off] as number) >> 4
      let len = 0
      let mul = 1
      let i = off + 1
      let complete = false
      while (i < buf.length) {
        const b = buf[i++] as number
        len += (b & 0x7f) * mul
        mul *= 128
        if ((b & 0x80) === 0) {
          complete = true
          break
        }
      }
      if (!complete || i + len > buf.length) break
      if (type === 4 && len >= 2) {
        // PUBACK
        const id = buf.readUInt16BE(i)
        this.outstanding--
        this.onAnswer(this.sentAt[id] as number, true)
      } else if (type === 2) {
        this.connackWaiter?.(buf[i + 1] === 0)
        this.connackWaiter = null
      }
      off = i + len
    }
    if (off < buf.length) this.pending = buf.subarray(off)
  }

  close(): void {
    this.closed = true
    this.socket?.destroy()
    this.ws?.terminate()
  }
}
