// Protocol defaults and bounds from spec.md [LIM-1]. Servers may advertise
// other limits in Welcome; these are what a peer assumes before it knows.

/** Default and assumed max frame size: 1 MiB. [FRM-9] [LIM-1] */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024
/** Default max decompressed batch payload: 4 MiB. */
export const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024
/** Default max frames per batch. */
export const DEFAULT_MAX_BATCH_FRAMES = 1024
/** A length prefix never needs more than 5 bytes (values < 2^32). [FRM-4] */
export const MAX_PREFIX_BYTES = 5

export interface BatchLimits {
  /** Largest decompressed payload accepted. */
  maxBatchBytes: number
  /** Largest number of frames accepted. */
  maxBatchFrames: number
  /** Largest inner frame accepted. */
  maxFrameBytes: number
  /** Whether LZ4 was negotiated ("lz4" feature). */
  lz4Enabled: boolean
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = {
  maxBatchBytes: DEFAULT_MAX_BATCH_BYTES,
  maxBatchFrames: DEFAULT_MAX_BATCH_FRAMES,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  lz4Enabled: true,
}
