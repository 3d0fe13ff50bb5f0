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
export { encodeVarint, varintSize, writeVarint } from './varint.js'
export { StreamDecoder, type StreamDecoderOptions, type FrameHandler } from './stream-decoder.js'
export {
  encodeBatch,
  encodeBatchPayload,
  batchPayloadFromEncoded,
  decodeBatch,
  type BatchCodecName,
} from './batch.js'
export { compressLz4Block, decodeLz4Block } from './lz4-block.js'
export * from './limits.js'
export { decodeWire, expandBatches, type WireForm, type DecodedFrame } from './wire-decode.js'
