// Hand-specialised encoder for the frames that carry traffic at volume: Send,
// SendAck, Deliver, DeliverAck, and Ping / Pong (every connection, every
// heartbeat period: at 100,000 idle connections they are the traffic).
//
// protobuf-es (and ts-proto, which shares its BinaryWriter) encode through a
// growable writer with a fork/join per nested message: about 4x slower than
// protobufjs. Here each frame is measured first (string lengths by a JS loop,
// varint sizes by arithmetic), then written straight into one allocation,
// optionally preceded by its length prefix (TCP form) so a frame on the wire
// costs exactly one buffer.
//
// The output is byte-identical to toBinary(FrameSchema, frame) [FRM-11]:
// fields in field-number order, proto3 defaults (0, "", empty bytes, false)
// omitted, a set message field written even when empty, minimal varints.
// Anything unusual (a field of the wrong JS type, a value out of range,
// unknown fields carried in $unknown) returns undefined and the caller falls
// back to toBinary, which has the final word on such values.
import type { Ping, Pong } from '../gen/es/imwire/v1/control_pb.js'
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'
import type { Deliver, DeliverAck, Message, Send, SendAck } from '../gen/es/imwire/v1/messaging_pb.js'
import { FRAME_TAG } from './frame-tags.js'
import { utf8Length, utf8Write } from './utf8.js'
import { uint64Size, varintSize, writeUint64, writeVarint } from './varint.js'

// Frame.body tags from the descriptor; all four are one byte (fields < 16).
const TAG_SEND = FRAME_TAG.send
const TAG_SEND_ACK = FRAME_TAG.sendAck
const TAG_DELIVER = FRAME_TAG.deliver
const TAG_DELIVER_ACK = FRAME_TAG.deliverAck
const TAG_PING = FRAME_TAG.ping
const TAG_PONG = FRAME_TAG.pong
if (Math.max(TAG_SEND, TAG_SEND_ACK, TAG_DELIVER, TAG_DELIVER_ACK, TAG_PING, TAG_PONG) > 0x7f)
  throw new Error('hot frame tags must be one byte')

const alloc: (n: number) => Uint8Array =
  typeof Buffer === 'function' ? (n) => Buffer.allocUnsafe(n) : (n) => new Uint8Array(n)

function hasUnknown(m: { $unknown?: unknown[] }): boolean {
  return m.$unknown !== undefined && m.$unknown.length > 0
}

/** Size of a length-delimited field holding `len` bytes (tag of 1 byte). */
function ldSize(len: number): number {
  return 1 + varintSize(len) + len
}

/** Size of a string field, 0 when empty; -1 when not a string. */
function strSize(s: unknown, lenOut: Int32Array, slot: number): number {
  if (typeof s !== 'string') return -1
  if (s.length === 0) {
    lenOut[slot] = 0
    return 0
  }
  const len = utf8Length(s)
  lenOut[slot] = len
  return ldSize(len)
}

/** Size of a bytes field, 0 when empty; -1 when not bytes. */
function bytesSize(b: unknown): number {
  if (!(b instanceof Uint8Array)) return -1
  return b.length === 0 ? 0 : ldSize(b.length)
}

// uint64 fields as numbers, converted once in the size pass and reused by the
// write pass (-1: above 2^53, written from the bigint). A BigInt-to-Number
// conversion or comparison costs more than writing the varint itself.
const u64s = new Float64Array(3)

/** Size of a uint64 field, 0 when zero; -1 when not encodable here. */
function u64FieldSize(v: unknown, slot: number): number {
  if (typeof v !== 'bigint') return -1
  // Exact: Number() of a bigint below 2^53 is exact, and of one at or above
  // 2^53 is at least 2^53 (rounding is monotonic), so this test is exact too.
  const n = Number(v)
  if (n <= Number.MAX_SAFE_INTEGER && n >= 0) {
    u64s[slot] = n
    return n === 0 ? 0 : 1 + varintSize(n)
  }
  u64s[slot] = -1
  const s = uint64Size(v)
  return s < 0 ? -1 : 1 + s
}

function writeStr(buf: Uint8Array, pos: number, tag: number, s: string, len: number): number {
  if (len === 0) return pos
  buf[pos++] = tag
  pos = writeVarint(buf, pos, len)
  return utf8Write(s, buf, pos, len)
}

function writeBytes(buf: Uint8Array, pos: number, tag: number, b: Uint8Array): number {
  if (b.length === 0) return pos
  buf[pos++] = tag
  pos = writeVarint(buf, pos, b.length)
  buf.set(b, pos)
  return pos + b.length
}

/** Writes the uint64 field measured into u64s[slot] (its value `v`). */
function writeU64(buf: Uint8Array, pos: number, tag: number, v: bigint, slot: number): number {
  const n = u64s[slot] as number
  if (n === 0) return pos
  buf[pos++] = tag
  return n > 0 ? writeVarint(buf, pos, n) : writeUint64(buf, pos, v)
}

// UTF-8 lengths measured in the size pass, reused by the write pass. The
// encoder is synchronous and not re-entrant, so one scratch array suffices.
const lens = new Int32Array(5)

function sendSize(m: Send): number {
  if (hasUnknown(m)) return -1
  const a = bytesSize(m.clientMsgId)
  const b = strSize(m.conversationId, lens, 0)
  const c = u64FieldSize(m.sendSeq, 0)
  const d = strSize(m.contentType, lens, 1)
  const e = bytesSize(m.body)
  if (a < 0 || b < 0 || c < 0 || d < 0 || e < 0) return -1
  return a + b + c + d + e
}

function writeSend(buf: Uint8Array, pos: number, m: Send): number {
  pos = writeBytes(buf, pos, 0x0a, m.clientMsgId)
  pos = writeStr(buf, pos, 0x12, m.conversationId, lens[0] as number)
  pos = writeU64(buf, pos, 0x18, m.sendSeq, 0)
  pos = writeStr(buf, pos, 0x22, m.contentType, lens[1] as number)
  return writeBytes(buf, pos, 0x2a, m.body)
}

function sendAckSize(m: SendAck): number {
  if (hasUnknown(m) || typeof m.duplicate !== 'boolean') return -1
  const a = bytesSize(m.clientMsgId)
  const b = strSize(m.conversationId, lens, 0)
  const c = u64FieldSize(m.seq, 0)
  const d = strSize(m.messageId, lens, 1)
  const e = u64FieldSize(m.serverTimeMs, 1)
  const g = u64FieldSize(m.epoch, 2)
  if (a < 0 || b < 0 || c < 0 || d < 0 || e < 0 || g < 0) return -1
  return a + b + c + d + e + (m.duplicate ? 2 : 0) + g
}

function writeSendAck(buf: Uint8Array, pos: number, m: SendAck): number {
  pos = writeBytes(buf, pos, 0x0a, m.clientMsgId)
  pos = writeStr(buf, pos, 0x12, m.conversationId, lens[0] as number)
  pos = writeU64(buf, pos, 0x18, m.seq, 0)
  pos = writeStr(buf, pos, 0x22, m.messageId, lens[1] as number)
  pos = writeU64(buf, pos, 0x28, m.serverTimeMs, 1)
  if (m.duplicate) {
    buf[pos++] = 0x30
    buf[pos++] = 1
  }
  return writeU64(buf, pos, 0x38, m.epoch, 2)
}

function messageSize(m: Message): number {
  if (hasUnknown(m)) return -1
  const a = strSize(m.conversationId, lens, 0)
  const b = u64FieldSize(m.seq, 0)
  const c = strSize(m.messageId, lens, 1)
  const d = strSize(m.senderUserId, lens, 2)
  const e = strSize(m.senderDeviceId, lens, 3)
  const f = bytesSize(m.clientMsgId)
  const g = u64FieldSize(m.serverTimeMs, 1)
  const h = strSize(m.contentType, lens, 4)
  const i = bytesSize(m.body)
  if (a < 0 || b < 0 || c < 0 || d < 0 || e < 0 || f < 0 || g < 0 || h < 0 || i < 0) return -1
  return a + b + c + d + e + f + g + h + i
}

function writeMessage(buf: Uint8Array, pos: number, m: Message): number {
  pos = writeStr(buf, pos, 0x0a, m.conversationId, lens[0] as number)
  pos = writeU64(buf, pos, 0x10, m.seq, 0)
  pos = writeStr(buf, pos, 0x1a, m.messageId, lens[1] as number)
  pos = writeStr(buf, pos, 0x22, m.senderUserId, lens[2] as number)
  pos = writeStr(buf, pos, 0x2a, m.senderDeviceId, lens[3] as number)
  pos = writeBytes(buf, pos, 0x32, m.clientMsgId)
  pos = writeU64(buf, pos, 0x38, m.serverTimeMs, 1)
  pos = writeStr(buf, pos, 0x42, m.contentType, lens[4] as number)
  return writeBytes(buf, pos, 0x4a, m.body)
}

// Deliver needs the size of its nested Message twice (its length prefix and
// the total); kept here between the two passes.
let deliverMessageSize = 0

function deliverSize(m: Deliver): number {
  if (hasUnknown(m) || typeof m.replayed !== 'boolean') return -1
  let a = 0
  if (m.message !== undefined) {
    const s = messageSize(m.message)
    if (s < 0) return -1
    deliverMessageSize = s
    a = ldSize(s)
  }
  const b = u64FieldSize(m.epoch, 2)
  if (b < 0) return -1
  return a + b + (m.replayed ? 2 : 0)
}

function writeDeliver(buf: Uint8Array, pos: number, m: Deliver): number {
  if (m.message !== undefined) {
    buf[pos++] = 0x0a
    pos = writeVarint(buf, pos, deliverMessageSize)
    pos = writeMessage(buf, pos, m.message)
  }
  pos = writeU64(buf, pos, 0x10, m.epoch, 2)
  if (m.replayed) {
    buf[pos++] = 0x18
    buf[pos++] = 1
  }
  return pos
}

function deliverAckSize(m: DeliverAck): number {
  if (hasUnknown(m)) return -1
  const a = strSize(m.conversationId, lens, 0)
  const b = u64FieldSize(m.upToSeq, 0)
  if (a < 0 || b < 0) return -1
  return a + b
}

function writeDeliverAck(buf: Uint8Array, pos: number, m: DeliverAck): number {
  pos = writeStr(buf, pos, 0x0a, m.conversationId, lens[0] as number)
  return writeU64(buf, pos, 0x10, m.upToSeq, 0)
}

/** Ping and Pong: one uint64 nonce (field 1). */
function nonceSize(m: Ping | Pong): number {
  return hasUnknown(m) ? -1 : u64FieldSize(m.nonce, 0)
}

/**
 * Encodes a hot frame, with its varint length prefix when `delimited` (TCP
 * form). Returns undefined for any other frame or any value it does not
 * handle; the caller then uses protobuf-es.
 */
export function encodeHotFrame(frame: Frame, delimited: boolean): Uint8Array | undefined {
  if (hasUnknown(frame)) return undefined
  const body = frame.body
  let tag: number
  let size: number
  switch (body.case) {
    case 'send':
      tag = TAG_SEND
      size = sendSize(body.value)
      break
    case 'sendAck':
      tag = TAG_SEND_ACK
      size = sendAckSize(body.value)
      break
    case 'deliver':
      tag = TAG_DELIVER
      size = deliverSize(body.value)
      break
    case 'deliverAck':
      tag = TAG_DELIVER_ACK
      size = deliverAckSize(body.value)
      break
    case 'ping':
    case 'pong':
      tag = body.case === 'ping' ? TAG_PING : TAG_PONG
      size = nonceSize(body.value)
      break
    default:
      return undefined
  }
  if (size < 0) return undefined
  const frameSize = 1 + varintSize(size) + size
  const total = delimited ? varintSize(frameSize) + frameSize : frameSize
  const buf = alloc(total)
  let pos = delimited ? writeVarint(buf, 0, frameSize) : 0
  buf[pos++] = tag
  pos = writeVarint(buf, pos, size)
  switch (body.case) {
    case 'send':
      pos = writeSend(buf, pos, body.value)
      break
    case 'sendAck':
      pos = writeSendAck(buf, pos, body.value)
      break
    case 'deliver':
      pos = writeDeliver(buf, pos, body.value)
      break
    case 'deliverAck':
      pos = writeDeliverAck(buf, pos, body.value)
      break
    case 'ping':
    case 'pong':
      pos = writeU64(buf, pos, 0x08, body.value.nonce, 0)
      break
  }
  // A mismatch here would be a bug in the size pass; never hand out a frame
  // with uninitialised bytes.
  if (pos !== total) throw new Error(`hot encoder size mismatch: wrote ${pos} of ${total}`)
  return buf
}
