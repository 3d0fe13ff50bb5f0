// Decodes a whole input in one of the two wire forms and expands batches: the
// procedure the codec vectors define, shared by `imwire decode`, the vector
// tests and the vector generator.
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'
import { decodeBatch } from './batch.js'
import { CodecError } from './errors.js'
import { decodeFrame } from './frame-codec.js'
import { type BatchLimits, DEFAULT_BATCH_LIMITS } from './limits.js'
import { StreamDecoder } from './stream-decoder.js'

/** 'frame': the bytes are one frame (WebSocket form); 'stream': size-delimited frames (TCP form). */
export type WireForm = 'frame' | 'stream'

export interface DecodedFrame {
  frame: Frame
  /** Offset of the frame in the input (its prefix, in stream form). */
  offset: number
  /** Frame length without prefix. */
  length: number
  /** For a batch frame: the frames it carries. */
  inner?: Frame[]
}

/**
 * Decodes `bytes` in the given form with the given limits (defaults: spec
 * defaults [LIM-1], LZ4 enabled) and expands every batch. Throws the first
 * CodecError; its offset is into `bytes` (for a batch error, the batch
 * frame's offset, with the payload offset in the message).
 */
export function decodeWire(bytes: Uint8Array, form: WireForm, limits: Partial<BatchLimits> = {}): DecodedFrame[] {
  const lim: BatchLimits = { ...DEFAULT_BATCH_LIMITS, ...limits }
  const out: DecodedFrame[] = []
  if (form === 'frame') {
    out.push({ frame: decodeFrame(bytes, lim.maxFrameBytes), offset: 0, length: bytes.length })
  } else {
    const dec = new StreamDecoder({ maxFrameBytes: lim.maxFrameBytes })
    dec.feed(bytes, (frame, b, offset) => {
      out.push({ frame, offset, length: b.length })
    })
    dec.end()
  }
  for (const d of out) {
    if (d.frame.body.case !== 'batch') continue
    try {
      d.inner = decodeBatch(d.frame, lim)
    } catch (err) {
      if (err instanceof CodecError) {
        if (err.offset !== undefined) err.message += ` (batch payload byte ${err.offset})`
        err.offset = d.offset
      }
      throw err
    }
  }
  return out
}

/** The frames as processed: every batch replaced by the frames it carries. [BAT-1] */
export function expandBatches(decoded: readonly DecodedFrame[]): Frame[] {
  return decoded.flatMap((d) => d.inner ?? [d.frame])
}
