// One typed error family for everything the codec refuses. Each code is
// stable (tests and vectors assert on it) and maps to the spec's close code.
import { CloseCode } from '../gen/es/imwire/v1/control_pb.js'

export const CodecErrorCode = {
  /** Length prefix announces more than the receiver's max_frame_bytes. [FRM-3] */
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /** Length prefix longer than 5 bytes or >= 2^32. [FRM-4] */
  BAD_LENGTH_PREFIX: 'BAD_LENGTH_PREFIX',
  /**
   * The stream ended inside a frame (inside its prefix or its bytes): a
   * transport loss, not a bad frame, so no close code. [FRM-8] A field cut
   * short inside a complete frame is MALFORMED_FRAME. [FRM-5]
   */
  TRUNCATED_FRAME: 'TRUNCATED_FRAME',
  /** Bytes that are not a valid protobuf Frame. [FRM-5] */
  MALFORMED_FRAME: 'MALFORMED_FRAME',
  /** Batch codec unset or unknown. [BAT-2] */
  BATCH_UNKNOWN_CODEC: 'BATCH_UNKNOWN_CODEC',
  /** Batch codec known but not negotiated. [HS-6] */
  BATCH_CODEC_NOT_ENABLED: 'BATCH_CODEC_NOT_ENABLED',
  /** count is 0 or does not match the frames in the payload. [BAT-3] */
  BATCH_COUNT_MISMATCH: 'BATCH_COUNT_MISMATCH',
  /** uncompressed_length does not match the payload. [BAT-4] [BAT-6] */
  BATCH_LENGTH_MISMATCH: 'BATCH_LENGTH_MISMATCH',
  /** A Batch inside a Batch. [BAT-7] */
  BATCH_NESTED: 'BATCH_NESTED',
  /** LZ4 block is corrupt. [BAT-6] */
  BATCH_CORRUPT: 'BATCH_CORRUPT',
  /** Declared/actual size or frame count over the limit. [BAT-5] */
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
} as const
export type CodecErrorCode = (typeof CodecErrorCode)[keyof typeof CodecErrorCode]

/**
 * The close code a receiver sends for each codec error (spec Appendix C).
 * TRUNCATED_FRAME has none (CLOSE_CODE_UNSPECIFIED, 0): the stream is already
 * over, there is no peer left to tell, and [FRM-8] calls it a transport loss.
 */
export const closeCodeFor: Record<CodecErrorCode, CloseCode> = {
  FRAME_TOO_LARGE: CloseCode.FRAME_TOO_LARGE,
  BAD_LENGTH_PREFIX: CloseCode.MALFORMED_FRAME,
  TRUNCATED_FRAME: CloseCode.UNSPECIFIED, // [FRM-8]
  MALFORMED_FRAME: CloseCode.MALFORMED_FRAME,
  BATCH_UNKNOWN_CODEC: CloseCode.BAD_BATCH,
  BATCH_CODEC_NOT_ENABLED: CloseCode.BAD_BATCH,
  BATCH_COUNT_MISMATCH: CloseCode.BAD_BATCH,
  BATCH_LENGTH_MISMATCH: CloseCode.BAD_BATCH,
  BATCH_NESTED: CloseCode.BAD_BATCH,
  BATCH_CORRUPT: CloseCode.BAD_BATCH,
  BATCH_TOO_LARGE: CloseCode.BATCH_TOO_LARGE,
}

export class CodecError extends Error {
  readonly code: CodecErrorCode
  readonly closeCode: CloseCode
  /**
   * Byte offset of the problem in the input of the call that threw, when
   * known: in the frame for decodeFrame, in the whole stream for
   * StreamDecoder, in the batch payload for decodeBatch. For diagnostics
   * (`imwire decode`); never part of the error's identity.
   */
  offset: number | undefined
  constructor(code: CodecErrorCode, message: string, offset?: number) {
    super(`${code}: ${message}`)
    this.name = 'CodecError'
    this.code = code
    this.closeCode = closeCodeFor[code]
    this.offset = offset
  }
}
