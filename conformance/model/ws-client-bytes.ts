// Reads what a client wrote under the WebSocket framing (RFC 6455 section
// 5.2), so that the model test can judge the cases that write raw WebSocket
// bytes: which imwire frames they carry, and which of them the WebSocket
// layer must refuse before imwire sees anything ([FRM-2] [FRM-3] [FRM-13]
// [FRM-15]). Pure: bytes in, events out; bytes of an unfinished frame stay
// buffered until the next write.

export type WsClientEvent =
  /** A whole binary message: one imwire frame, unmasked [FRM-2]. */
  | { kind: 'binary'; payload: Uint8Array }
  /** A text message: 3504 [FRM-2]. */
  | { kind: 'text' }
  /** A close frame, with its code when the payload holds one [FRM-13]. */
  | { kind: 'close'; code: number | null }
  /** Ping or pong: transport keep-alives, not imwire frames [FRM-13]. */
  | { kind: 'control' }
  /** A data frame whose header announces more than the limit: 3503 before the payload [FRM-3]. */
  | { kind: 'oversize'; length: number }
  /** Bytes that break RFC 6455 itself: the WebSocket fails with 1002, no Close [FRM-15]. */
  | { kind: 'protocol-error'; why: string }

const OP_CONTINUATION = 0x0
const OP_TEXT = 0x1
const OP_BINARY = 0x2
const OP_CLOSE = 0x8
const OP_PING = 0x9
const OP_PONG = 0xa

export class WsClientReader {
  private buf: Uint8Array = new Uint8Array(0)
  /** The message being reassembled from fragments, if any. */
  private message: { opcode: number; parts: Uint8Array[] } | null = null
  private failed = false

  constructor(private readonly maxPayload: number) {}

  /** Feeds one write; returns what it completed. After a protocol error or an oversize header, nothing more. */
  push(bytes: Uint8Array): WsClientEvent[] {
    const out: WsClientEvent[] = []
    if (this.failed) return out
    const all = new Uint8Array(this.buf.length + bytes.length)
    all.set(this.buf)
    all.set(bytes, this.buf.length)
    let at = 0
    for (;;) {
      const ev = this.frame(all, at)
      if (ev === null) break
      at = ev.next
      if (ev.event) out.push(ev.event)
      if (ev.event?.kind === 'protocol-error' || ev.event?.kind === 'oversize') {
        this.failed = true
        break
      }
    }
    this.buf = all.slice(at)
    return out
  }

  /** One frame at `at`: its event (if it completes one) and where the next begins; null when incomplete. */
  private frame(b: Uint8Array, at: number): { event: WsClientEvent | null; next: number } | null {
    if (b.length - at < 2) return null
    const b0 = b[at] as number
    const b1 = b[at + 1] as number
    const fin = (b0 & 0x80) !== 0
    const opcode = b0 & 0x0f
    const masked = (b1 & 0x80) !== 0
    let len = b1 & 0x7f
    let p = at + 2
    if (len === 126) {
      if (b.length - p < 2) return null
      len = ((b[p] as number) << 8) | (b[p + 1] as number)
      p += 2
    } else if (len === 127) {
      if (b.length - p < 8) return null
      const view = new DataView(b.buffer, b.byteOffset + p, 8)
      len = Number(view.getBigUint64(0))
      p += 8
    }
    const fail = (why: string) => ({ event: { kind: 'protocol-error' as const, why }, next: p })
    if ((b0 & 0x70) !== 0) return fail('RSV bits set without a negotiated extension')
    if (!masked) return fail('an unmasked client frame')
    const control = opcode >= 0x8
    if (![OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG].includes(opcode))
      return fail(`reserved opcode ${opcode}`)
    if (control && (len > 125 || !fin)) return fail('a control frame longer than 125 bytes or fragmented')
    if (opcode === OP_CONTINUATION && this.message === null) return fail('a continuation frame with no message')
    if ((opcode === OP_TEXT || opcode === OP_BINARY) && this.message !== null)
      return fail('a new data frame inside an unfinished message')
    const sofar = this.message?.parts.reduce((n, x) => n + x.length, 0) ?? 0
    if (!control && sofar + len > this.maxPayload) return { event: { kind: 'oversize', length: sofar + len }, next: p }
    if (b.length - p < 4 + len) return null
    const key = b.subarray(p, p + 4)
    const payload = b.slice(p + 4, p + 4 + len)
    for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (key[i % 4] as number)
    const next = p + 4 + len
    if (control) {
      if (opcode !== OP_CLOSE) return { event: { kind: 'control' }, next }
      if (payload.length === 1) return { event: { kind: 'protocol-error', why: 'a close payload of one byte' }, next }
      const code = payload.length >= 2 ? ((payload[0] as number) << 8) | (payload[1] as number) : null
      return { event: { kind: 'close', code }, next }
    }
    const msg = this.message ?? { opcode, parts: [] }
    msg.parts.push(payload)
    if (!fin) {
      this.message = msg
      return { event: null, next }
    }
    this.message = null
    if (msg.opcode === OP_TEXT) return { event: { kind: 'text' }, next }
    return { event: { kind: 'binary', payload: Buffer.concat(msg.parts) }, next }
  }
}
