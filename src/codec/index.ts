// The codec: bytes <-> frames. Pure: no sockets, timers, clocks or logging.
export { CodecError, CodecErrorCode, closeCodeFor } from './errors.js'
export { encodeFrame, decodeFrame } from './frame-codec.js'
export { StreamDecoder, delimit, encodeVarint } from './stream-decoder.js'
export { encodeBatch, decodeBatch, type BatchCodecName } from './batch.js'
export * from './limits.js'
