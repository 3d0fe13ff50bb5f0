// The limits a batch decoder applies. [BAT-5] [LIM-1] Servers may advertise
// other limits in Welcome; the defaults are what a peer assumes before it
// knows (numbers from protocol-constants.ts).
import { DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_BATCH_FRAMES, DEFAULT_MAX_FRAME_BYTES } from './protocol-constants.js'

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
