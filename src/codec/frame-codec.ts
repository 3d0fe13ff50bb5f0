// Single-frame encode/decode. WebSocket form: the frame bytes alone [FRM-2];
// TCP form: varint length prefix + frame bytes [FRM-1].
//
// Encoding: the hot frames (Send, SendAck, Deliver, DeliverAck, Ping, Pong) go through the
// hand-specialised encoder, everything else through protobuf-es; both give
// the same bytes [FRM-11].
// Decoding: canonical hot frames go through the hand-written decoder; every
// other input is checked strictly (wire-check.ts) and then read by
// protobuf-es with unknown fields dropped [FRM-6]. Decoded bytes fields are
// views into the input (no copy): do not reuse the input buffer while the
// frame is alive.
import { fromBinary, toBinary } from '@bufbuild/protobuf'
import { type Frame, FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import { CodecError } from './errors.js'
import { decodeHotFrame } from './hot-decoder.js'
import { encodeHotFrame } from './hot-encoder.js'
import { DEFAULT_MAX_FRAME_BYTES } from './protocol-constants.js'
import { varintSize, writeVarint } from './varint.js'
import { WireError, checkMessage } from './wire-check.js'

/** The body kinds of a Frame ("send", "batch", ...). */
export type FrameKind = NonNullable<Frame['body']['case']>

/**
 * The frame's body kind, or undefined when the body is unset or carried a
 * field number this version does not know (the decoder drops it). The
 * session layer closes such a frame with 3511 UNSUPPORTED_FRAME [FRM-7].
 */
export function frameKind(frame: Frame): FrameKind | undefined {
  return frame.body.case
}

/**
 * Frame bytes without a prefix (WebSocket form). A hot frame's bytes may be a
 * view into Node's shared allocation pool (Buffer.allocUnsafe): use the view's
 * byteOffset/byteLength, never its whole `.buffer` (e.g. to transfer it).
 */
export function encodeFrame(frame: Frame): Uint8Array {
  return encodeHotFrame(frame, false) ?? toBinary(FrameSchema, frame)
}

/** Length prefix + frame bytes in one allocation (TCP form, batch payloads). */
export function encodeFrameDelimited(frame: Frame): Uint8Array {
  return encodeHotFrame(frame, true) ?? delimit(toBinary(FrameSchema, frame))
}

/** Varint length prefix + the given frame bytes (TCP form). [FRM-1] */
export function delimit(frameBytes: Uint8Array): Uint8Array {
  const n = frameBytes.length
  const out = new Uint8Array(varintSize(n) + n)
  out.set(frameBytes, writeVarint(out, 0, n))
  return out
}

/**
 * Decodes one frame (no prefix). Throws CodecError: FRAME_TOO_LARGE over
 * maxFrameBytes [FRM-3], MALFORMED_FRAME for bytes that are not a Frame
 * [FRM-5]. A body field number this version does not know decodes to a
 * Frame whose body is unset (see frameKind).
 */
export function decodeFrame(bytes: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Frame {
  if (bytes.length > maxFrameBytes) {
    throw new CodecError('FRAME_TOO_LARGE', `frame of ${bytes.length} bytes exceeds ${maxFrameBytes}`, 0)
  }
  return decodeHotFrame(bytes) ?? decodeFrameStrict(bytes)
}

/**
 * The generic decode path alone (strict check + protobuf-es), without the
 * hot decoder and without a size limit. Exported for tests and benchmarks.
 */
export function decodeFrameStrict(bytes: Uint8Array): Frame {
  try {
    checkMessage(FrameSchema, bytes, 0, bytes.length)
  } catch (err) {
    if (err instanceof WireError) throw new CodecError('MALFORMED_FRAME', err.message, err.offset)
    throw err
  }
  try {
    // [FRM-6] unknown fields are skipped, not kept: nothing re-sends them.
    return fromBinary(FrameSchema, bytes, { readUnknownFields: false })
  } catch (err) {
    // checkMessage accepted the structure, so this is a value protobuf-es refuses.
    throw new CodecError('MALFORMED_FRAME', (err as Error).message, 0)
  }
}
