// Byte-level helpers for load generators: enough protobuf to write Sends and
// DeliverAcks and to read a frame's body tag and a Deliver's seq without
// decoding whole frames. A generator that decoded every ack with the full
// codec would spend its core on that instead of loading the server.

// Tags and varints come from the codec: the tags from the generated Frame
// descriptor, the varint reader and writer from src/codec/varint.ts.
import { FRAME_TAG, readUint64, readVarint32, skipVarint, varintSize, writeVarint } from '../../src/codec/index.js'

export { varintSize, writeVarint }

/** Frame body tags, compared with a frame's first byte (all of them below 16: one-byte tags). */
export const TAG = {
  welcome: FRAME_TAG.welcome,
  send: FRAME_TAG.send,
  sendAck: FRAME_TAG.sendAck,
  deliver: FRAME_TAG.deliver,
  deliverAck: FRAME_TAG.deliverAck,
  batch: FRAME_TAG.batch,
  ping: FRAME_TAG.ping,
  pong: FRAME_TAG.pong,
  error: FRAME_TAG.error,
  close: FRAME_TAG.close,
  replayComplete: FRAME_TAG.replayComplete,
} as const

const cursor = { pos: 0 }

/** Read a 32-bit varint (tag, length) at off: [value, next offset], or null when it is cut or bad. */
export function readVarint(buf: Uint8Array, off: number, end: number): [number, number] | null {
  cursor.pos = off
  const v = readVarint32(buf, cursor, end)
  return v < 0 ? null : [v, cursor.pos]
}

/** Read a uint64 varint value (a seq) at off as a number: [value, next offset], or null. */
function readValue(buf: Uint8Array, off: number, end: number): [number, number] | null {
  cursor.pos = off
  const v = readUint64(buf, cursor, end)
  return v < 0n ? null : [Number(v), cursor.pos]
}

/** Offset after a varint value at off, or null. */
function skipValue(buf: Uint8Array, off: number, end: number): number | null {
  const next = skipVarint(buf, off, end)
  return next < 0 ? null : next
}

/**
 * Writes Send frames: the per-connection parts (conversation, content type,
 * body, id prefix) are laid out once; per message only the id counter and
 * send_seq change.
 */
export class SendWriter {
  private readonly conv: Uint8Array
  private readonly contentType: Uint8Array
  private readonly body: Uint8Array
  private readonly idPrefix: Uint8Array
  private counter = 0

  constructor(conversationId: string, body: Uint8Array, idPrefix: Uint8Array, contentType = 'text/plain') {
    this.conv = new TextEncoder().encode(conversationId)
    this.contentType = new TextEncoder().encode(contentType)
    this.body = body
    this.idPrefix = idPrefix.subarray(0, 8)
  }

  /** Bytes of the Send body (without frame tag) for a send_seq. */
  private sendLen(sendSeq: number): number {
    return (
      2 +
      16 +
      1 +
      varintSize(this.conv.length) +
      this.conv.length +
      (sendSeq > 0 ? 1 + varintSize(sendSeq) : 0) +
      1 +
      varintSize(this.contentType.length) +
      this.contentType.length +
      1 +
      varintSize(this.body.length) +
      this.body.length
    )
  }

  /** Upper bound of one frame's bytes including a TCP prefix. */
  maxBytes(sendSeq: number): number {
    const s = this.sendLen(sendSeq)
    return 5 + 1 + 5 + s
  }

  /** Write one Send frame at off (with a varint length prefix when delimited); returns the end offset. */
  write(buf: Uint8Array, off: number, sendSeq: number, delimited: boolean): number {
    const s = this.sendLen(sendSeq)
    const frameLen = 1 + varintSize(s) + s
    if (delimited) off = writeVarint(buf, off, frameLen)
    buf[off++] = TAG.send
    off = writeVarint(buf, off, s)
    // 1: client_msg_id = 8-byte connection prefix + 8-byte counter: unique per sender.
    buf[off++] = 0x0a
    buf[off++] = 16
    buf.set(this.idPrefix, off)
    off += 8
    let c = this.counter++
    for (let i = 0; i < 8; i++) {
      buf[off++] = c & 0xff
      c = Math.floor(c / 256)
    }
    buf[off++] = 0x12
    off = writeVarint(buf, off, this.conv.length)
    buf.set(this.conv, off)
    off += this.conv.length
    if (sendSeq > 0) {
      buf[off++] = 0x18
      off = writeVarint(buf, off, sendSeq)
    }
    buf[off++] = 0x22
    off = writeVarint(buf, off, this.contentType.length)
    buf.set(this.contentType, off)
    off += this.contentType.length
    buf[off++] = 0x2a
    off = writeVarint(buf, off, this.body.length)
    buf.set(this.body, off)
    off += this.body.length
    return off
  }
}

/** One DeliverAck frame's bytes (no prefix). */
export function deliverAckFrame(conversationId: Uint8Array, upToSeq: number): Uint8Array {
  const inner = 1 + varintSize(conversationId.length) + conversationId.length + 1 + varintSize(upToSeq)
  const out = new Uint8Array(1 + varintSize(inner) + inner)
  let off = 0
  out[off++] = TAG.deliverAck
  off = writeVarint(out, off, inner)
  out[off++] = 0x0a
  off = writeVarint(out, off, conversationId.length)
  out.set(conversationId, off)
  off += conversationId.length
  out[off++] = 0x10
  writeVarint(out, off, upToSeq)
  return out
}

/**
 * Seq of a Deliver frame (frame bytes, no prefix): Frame.deliver(5) ->
 * Deliver.message(1) -> Message.seq(2). Scans fields, so field order and
 * unknown fields do not matter. Returns 0 when absent.
 */
export function deliverSeq(frame: Uint8Array): number {
  const end = frame.length
  const body = lenField(frame, 0, end, 5)
  if (body === null) return 0
  const msg = lenField(frame, body[0], body[1], 1)
  if (msg === null) return 0
  let off = msg[0]
  while (off < msg[1]) {
    const t = readVarint(frame, off, msg[1])
    if (t === null) return 0
    off = t[1]
    const field = Math.floor(t[0] / 8)
    const wt = t[0] & 7
    if (wt === 0) {
      if (field === 2) return readValue(frame, off, msg[1])?.[0] ?? 0
      const next = skipValue(frame, off, msg[1])
      if (next === null) return 0
      off = next
    } else if (wt === 2) {
      const l = readVarint(frame, off, msg[1])
      if (l === null) return 0
      off = l[1] + l[0]
    } else if (wt === 1) off += 8
    else if (wt === 5) off += 4
    else return 0
  }
  return 0
}

/** [start, end) of the first length-delimited field `field` in buf[off, end). */
function lenField(buf: Uint8Array, off: number, end: number, field: number): [number, number] | null {
  while (off < end) {
    const t = readVarint(buf, off, end)
    if (t === null) return null
    off = t[1]
    const wt = t[0] & 7
    if (wt === 2) {
      const l = readVarint(buf, off, end)
      if (l === null) return null
      if (Math.floor(t[0] / 8) === field) return [l[1], l[1] + l[0]]
      off = l[1] + l[0]
    } else if (wt === 0) {
      const next = skipValue(buf, off, end)
      if (next === null) return null
      off = next
    } else if (wt === 1) off += 8
    else if (wt === 5) off += 4
    else return null
  }
  return null
}

/**
 * Inner frames of an uncompressed Batch (frame bytes, no prefix), or null
 * for a compressed one (generators never negotiate lz4).
 */
export function batchFrames(frame: Uint8Array): Uint8Array[] | null {
  const body = lenField(frame, 0, frame.length, 7)
  if (body === null) return null
  let codec = 0
  let payload: [number, number] | null = null
  let off = body[0]
  while (off < body[1]) {
    const t = readVarint(frame, off, body[1])
    if (t === null) return null
    off = t[1]
    const field = Math.floor(t[0] / 8)
    if ((t[0] & 7) === 0) {
      const v = readVarint(frame, off, body[1])
      if (v === null) return null
      if (field === 1) codec = v[0]
      off = v[1]
    } else {
      const l = readVarint(frame, off, body[1])
      if (l === null) return null
      if (field === 4) payload = [l[1], l[1] + l[0]]
      off = l[1] + l[0]
    }
  }
  if (codec !== 1 || payload === null) return null
  const out: Uint8Array[] = []
  off = payload[0]
  while (off < payload[1]) {
    const l = readVarint(frame, off, payload[1])
    if (l === null) return null
    out.push(frame.subarray(l[1], l[1] + l[0]))
    off = l[1] + l[0]
  }
  return out
}
