// Packs already encoded frames into Batch frames at flush time. [BAT-1] [BAT-10] [RSM-9]
//
// Works on encoded bytes so a frame is encoded once whether or not it ends up
// in a batch. Payload and LZ4 block come from the codec (size-delimited
// frames; one standard raw LZ4 block), the same format decodeBatch reads.
import { create } from '@bufbuild/protobuf'
import { batchPayloadFromEncoded, compressLz4Block, encodeFrame, varintSize } from '../codec/index.js'
import { BatchCodec, FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'

export interface BatchPolicy {
  /** LZ4 negotiated ("lz4" in Welcome.features): compress when it pays. [HS-6] */
  lz4: boolean
  /**
   * Also emit uncompressed batches. Worth it on WebSocket (one message instead
   * of many); pointless on TCP, whose stream already coalesces.
   */
  uncompressed: boolean
  /** Compress only payloads of at least this many bytes ([BAT-10]: 1 KiB). */
  lz4MinBytes: number
  /** The peer's batch limits: payload bytes and frames per batch. [BAT-5] */
  maxBatchBytes: number
  maxBatchFrames: number
  /** The peer's max frame size: a batch frame never exceeds it. [FRM-9] */
  maxFrameBytes: number
}

/** Bytes of Batch framing beyond the payload: tags, count, length, payload prefix. */
const BATCH_OVERHEAD = 32

/** Returns the frames to write: batches where they help, the rest as they were. */
export function batchFrames(frames: Uint8Array[], policy: BatchPolicy): Uint8Array[] {
  const out: Uint8Array[] = []
  // Payload must fit both the batch limit and, with overhead, one frame.
  const maxPayload = Math.min(policy.maxBatchBytes, policy.maxFrameBytes - BATCH_OVERHEAD)
  let i = 0
  while (i < frames.length) {
    let size = 0
    let j = i
    while (j < frames.length && j - i < policy.maxBatchFrames) {
      const f = frames[j] as Uint8Array
      const add = varintSize(f.length) + f.length
      if (size + add > maxPayload) break
      size += add
      j++
    }
    if (j - i < 2) {
      out.push(frames[i] as Uint8Array)
      i = Math.max(j, i + 1)
      continue
    }
    const batch = packBatch(frames.slice(i, j), size, policy)
    if (batch === null) for (let k = i; k < j; k++) out.push(frames[k] as Uint8Array)
    else out.push(batch)
    i = j
  }
  return out
}

function packBatch(frames: Uint8Array[], size: number, policy: BatchPolicy): Uint8Array | null {
  const raw = batchPayloadFromEncoded(frames)
  let codec = BatchCodec.NONE
  let payload = raw
  if (policy.lz4 && size >= policy.lz4MinBytes) {
    // The codec's compressor: a standard block whatever the input (lz4js
    // alone can end a block with a match too close to the end, which strict
    // LZ4 decoders refuse). [BAT-14]
    const block = compressLz4Block(raw)
    // [BAT-10] compress only when it helps.
    if (block.length < size) {
      codec = BatchCodec.LZ4_BLOCK
      payload = block
    }
  }
  if (codec === BatchCodec.NONE && !policy.uncompressed) return null
  return encodeFrame(
    create(FrameSchema, {
      body: { case: 'batch', value: { codec, count: frames.length, uncompressedLength: size, payload } },
    }),
  )
}
