// Single-frame encode/decode (no length prefix): the WebSocket form.
import { fromBinary, toBinary } from '@bufbuild/protobuf'
import { type Frame, FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import { CodecError } from './errors.js'
import { DEFAULT_MAX_FRAME_BYTES } from './limits.js'

export function encodeFrame(frame: Frame): Uint8Array {
  return toBinary(FrameSchema, frame)
}

export function decodeFrame(bytes: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Frame {
  if (bytes.length > maxFrameBytes) {
    throw new CodecError('FRAME_TOO_LARGE', `frame of ${bytes.length} bytes exceeds ${maxFrameBytes}`)
  }
  try {
    return fromBinary(FrameSchema, bytes)
  } catch (err) {
    throw new CodecError('MALFORMED_FRAME', (err as Error).message)
  }
}
