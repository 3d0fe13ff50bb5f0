// Hand-written decoder for the canonical shape of the hot frames (Send,
// SendAck, Deliver, DeliverAck, Ping, Pong): one body field spanning the whole frame,
// known fields only. It builds exactly the objects protobuf-es's fromBinary
// builds (plain objects with $typeName, proto3 defaults, bytes as views into
// the input), so callers cannot tell which path decoded a frame.
//
// It never decides that bytes are invalid: anything outside the canonical
// shape (an unknown field, a wire type that does not match, a repeated
// message field, a 64-bit overflow, invalid UTF-8, a length past the end)
// returns undefined and the generic strict path decodes or rejects the frame.
// Errors are rare and need not be fast; agreeing with the generic path on
// every input matters more (test/codec checks it on arbitrary bytes).
import type { Ping, Pong } from '../gen/es/imwire/v1/control_pb.js'
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'
import type { Deliver, DeliverAck, Message, Send, SendAck } from '../gen/es/imwire/v1/messaging_pb.js'
import { FRAME_TAG } from './frame-tags.js'
import { utf8Read } from './utf8.js'
import { type VarintCursor, readUint64, readVarint32 } from './varint.js'

// protobuf-es shares one zero-length array as the default of every bytes field.
const EMPTY = new Uint8Array(0)
// Frame.body tags from the descriptor (one byte each: fields < 16).
const TAG_SEND = FRAME_TAG.send
const TAG_SEND_ACK = FRAME_TAG.sendAck
const TAG_DELIVER = FRAME_TAG.deliver
const TAG_DELIVER_ACK = FRAME_TAG.deliverAck
const TAG_PING = FRAME_TAG.ping
const TAG_PONG = FRAME_TAG.pong

/** Decoding cursor; `ok` turns false on anything the hot path does not handle. */
class Cursor implements VarintCursor {
  pos: number
  status = 0
  ok = true
  constructor(
    readonly buf: Uint8Array,
    start: number,
  ) {
    this.pos = start
  }

  /** A varint that fits 32 bits (lengths, tags); -1 and !ok otherwise. */
  u32(end: number): number {
    const n = readVarint32(this.buf, this, end)
    if (n < 0) this.ok = false
    return n
  }

  /** A uint64 varint; 0n and !ok on truncation or a value of 2^64 or more. */
  u64(end: number): bigint {
    const v = readUint64(this.buf, this, end)
    if (v >= 0n) return v
    this.ok = false
    return 0n
  }

  /** A bool stored as one byte 0 or 1 (anything longer goes the generic way). */
  bool(end: number): boolean {
    if (this.pos >= end) {
      this.ok = false
      return false
    }
    const b = this.buf[this.pos++] as number
    if (b > 1) this.ok = false
    return b === 1
  }

  /** End of a length-delimited field that starts here; -1 and !ok when it overruns `end`. */
  ld(end: number): number {
    const len = this.u32(end)
    if (len < 0 || len > end - this.pos) {
      this.ok = false
      return -1
    }
    return this.pos + len
  }

  bytes(end: number): Uint8Array {
    const e = this.ld(end)
    if (e < 0) return EMPTY
    const start = this.pos
    this.pos = e
    return e === start ? EMPTY : this.buf.subarray(start, e)
  }

  str(end: number): string {
    const e = this.ld(end)
    if (e < 0) return ''
    const s = utf8Read(this.buf, this.pos, e)
    this.pos = e
    if (s === undefined) {
      this.ok = false
      return ''
    }
    return s
  }
}

function readSend(c: Cursor, end: number): Send {
  const m: Send = {
    $typeName: 'imwire.v1.Send',
    clientMsgId: EMPTY,
    conversationId: '',
    sendSeq: 0n,
    contentType: '',
    body: EMPTY,
  }
  while (c.ok && c.pos < end) {
    switch (c.buf[c.pos++]) {
      case 0x0a:
        m.clientMsgId = c.bytes(end)
        break
      case 0x12:
        m.conversationId = c.str(end)
        break
      case 0x18:
        m.sendSeq = c.u64(end)
        break
      case 0x22:
        m.contentType = c.str(end)
        break
      case 0x2a:
        m.body = c.bytes(end)
        break
      default:
        c.ok = false
    }
  }
  return m
}

function readSendAck(c: Cursor, end: number): SendAck {
  const m: SendAck = {
    $typeName: 'imwire.v1.SendAck',
    clientMsgId: EMPTY,
    conversationId: '',
    seq: 0n,
    messageId: '',
    serverTimeMs: 0n,
    duplicate: false,
    epoch: 0n,
  }
  while (c.ok && c.pos < end) {
    switch (c.buf[c.pos++]) {
      case 0x0a:
        m.clientMsgId = c.bytes(end)
        break
      case 0x12:
        m.conversationId = c.str(end)
        break
      case 0x18:
        m.seq = c.u64(end)
        break
      case 0x22:
        m.messageId = c.str(end)
        break
      case 0x28:
        m.serverTimeMs = c.u64(end)
        break
      case 0x30:
        m.duplicate = c.bool(end)
        break
      case 0x38:
        m.epoch = c.u64(end)
        break
      default:
        c.ok = false
    }
  }
  return m
}

function readMessage(c: Cursor, end: number): Message {
  const m: Message = {
    $typeName: 'imwire.v1.Message',
    conversationId: '',
    seq: 0n,
    messageId: '',
    senderUserId: '',
    senderDeviceId: '',
    clientMsgId: EMPTY,
    serverTimeMs: 0n,
    contentType: '',
    body: EMPTY,
  }
  while (c.ok && c.pos < end) {
    switch (c.buf[c.pos++]) {
      case 0x0a:
        m.conversationId = c.str(end)
        break
      case 0x10:
        m.seq = c.u64(end)
        break
      case 0x1a:
        m.messageId = c.str(end)
        break
      case 0x22:
        m.senderUserId = c.str(end)
        break
      case 0x2a:
        m.senderDeviceId = c.str(end)
        break
      case 0x32:
        m.clientMsgId = c.bytes(end)
        break
      case 0x38:
        m.serverTimeMs = c.u64(end)
        break
      case 0x42:
        m.contentType = c.str(end)
        break
      case 0x4a:
        m.body = c.bytes(end)
        break
      default:
        c.ok = false
    }
  }
  return m
}

function readDeliver(c: Cursor, end: number): Deliver {
  const m: Deliver = { $typeName: 'imwire.v1.Deliver', message: undefined, epoch: 0n, replayed: false }
  while (c.ok && c.pos < end) {
    switch (c.buf[c.pos++]) {
      case 0x0a: {
        // A second occurrence merges into the first: left to protobuf-es.
        if (m.message !== undefined) {
          c.ok = false
          break
        }
        const e = c.ld(end)
        if (e < 0) break
        m.message = readMessage(c, e)
        break
      }
      case 0x10:
        m.epoch = c.u64(end)
        break
      case 0x18:
        m.replayed = c.bool(end)
        break
      default:
        c.ok = false
    }
  }
  return m
}

function readDeliverAck(c: Cursor, end: number): DeliverAck {
  const m: DeliverAck = { $typeName: 'imwire.v1.DeliverAck', conversationId: '', upToSeq: 0n }
  while (c.ok && c.pos < end) {
    switch (c.buf[c.pos++]) {
      case 0x0a:
        m.conversationId = c.str(end)
        break
      case 0x10:
        m.upToSeq = c.u64(end)
        break
      default:
        c.ok = false
    }
  }
  return m
}

/** The nonce of a Ping or Pong (field 1, uint64). */
function readNonce(c: Cursor, end: number): bigint {
  let nonce = 0n
  while (c.ok && c.pos < end) {
    if (c.buf[c.pos++] === 0x08) nonce = c.u64(end)
    else c.ok = false
  }
  return nonce
}

/** Decodes a canonical hot frame, or returns undefined (use the generic path). */
export function decodeHotFrame(bytes: Uint8Array): Frame | undefined {
  const n = bytes.length
  if (n < 2) return undefined
  const tag = bytes[0]
  if (
    tag !== TAG_SEND &&
    tag !== TAG_SEND_ACK &&
    tag !== TAG_DELIVER &&
    tag !== TAG_DELIVER_ACK &&
    tag !== TAG_PING &&
    tag !== TAG_PONG
  )
    return undefined
  const c = new Cursor(bytes, 1)
  const end = c.ld(n)
  // The body must be the whole frame; anything after it goes the generic way.
  if (end !== n) return undefined
  let frame: Frame
  if (tag === TAG_SEND) frame = { $typeName: 'imwire.v1.Frame', body: { case: 'send', value: readSend(c, end) } }
  else if (tag === TAG_SEND_ACK)
    frame = { $typeName: 'imwire.v1.Frame', body: { case: 'sendAck', value: readSendAck(c, end) } }
  else if (tag === TAG_DELIVER)
    frame = { $typeName: 'imwire.v1.Frame', body: { case: 'deliver', value: readDeliver(c, end) } }
  else if (tag === TAG_DELIVER_ACK)
    frame = { $typeName: 'imwire.v1.Frame', body: { case: 'deliverAck', value: readDeliverAck(c, end) } }
  else if (tag === TAG_PING) {
    const value: Ping = { $typeName: 'imwire.v1.Ping', nonce: readNonce(c, end) }
    frame = { $typeName: 'imwire.v1.Frame', body: { case: 'ping', value } }
  } else {
    const value: Pong = { $typeName: 'imwire.v1.Pong', nonce: readNonce(c, end) }
    frame = { $typeName: 'imwire.v1.Frame', body: { case: 'pong', value } }
  }
  return c.ok && c.pos === end ? frame : undefined
}
