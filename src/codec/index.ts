// The codec: bytes <-> frames. Pure: no sockets, timers, clocks or logging.
export { CodecError, CodecErrorCode, closeCodeFor } from './errors.js'
export {
  encodeFrame,
  encodeFrameDelimited,
  decodeFrame,
  delimit,
  frameKind,
  type FrameKind,
} from './frame-codec.js'
export {
  encodeVarint,
  varintSize,
  writeVarint,
  writeUint64,
  uint64Size,
  readVarint32,
  readUint64,
  skipVarint,
  type VarintCursor,
  VARINT_TRUNCATED,
  VARINT_TOO_LONG,
  VARINT_OVERFLOW,
} from './varint.js'
export { FRAME_TAG, FRAME_FIELD, type FrameBodyCase } from './frame-tags.js'
export * from './features.js'
export {
  StreamDecoder,
  type StreamDecoderOptions,
  type FrameHandler,
  type FrameBytesHandler,
} from './stream-decoder.js'
export {
  encodeBatch,
  encodeBatchPayload,
  batchPayloadFromEncoded,
  decodeBatch,
  type BatchCodecName,
} from './batch.js'
export { compressLz4Block, decodeLz4Block } from './lz4-block.js'
export * from './limits.js'
export * from './protocol-constants.js'
export { decodeWire, expandBatches, type WireForm, type DecodedFrame } from './wire-decode.js'
