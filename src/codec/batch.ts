// Batch encode/decode: size-delimited frames, plain or as one raw LZ4 block.
// [BAT-1]..[BAT-11] ([BAT-12], Hello inside a batch, is the session's rule.)
import { create } from '@bufbuild/protobuf'
import { BatchCodec, type Frame, FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import { CodecError } from './errors.js'
import { decodeFrame, encodeFrameDelimited } from './frame-codec.js'
import { type BatchLimits, DEFAULT_BATCH_LIMITS } from './limits.js'
import { compressLz4Block, decodeLz4Block } from './lz4-block.js'
import { VARINT_TOO_LONG, VARINT_TRUNCATED, readVarint32, varintSize, writeVarint } from './varint.js'

export type BatchCodecName = 'none' | 'lz4'

/** The uncompressed payload: each frame in TCP form, in order. [BAT-1] */
export function encodeBatchPayload(frames: readonly Frame[]): Uint8Array {
  const parts = frames.map(encodeFrameDelimited)
  let total = 0
  for (const p of parts) total += p.length
  const raw = new Uint8Array(total)
  let off = 0
  for (const p of parts) {
    raw.set(p, off)
    off += p.length
  }
  return raw
}

/**
 * The uncompressed payload from frames that are already encoded (WebSocket
 * form, no prefix): each behind its varint length, in order. [BAT-1] For a
 * sender that encodes every frame once, batched or not.
 */
export function batchPayloadFromEncoded(frames: readonly Uint8Array[]): Uint8Array {
  let total = 0
  for (const f of frames) total += varintSize(f.length) + f.length
  const raw = new Uint8Array(total)
  let off = 0
  for (const f of frames) {
    off = writeVarint(raw, off, f.length)
    raw.set(f, off)
    off += f.length
  }
  return raw
}

/**
 * A Frame whose body is a Batch of `frames`. With 'lz4' the payload is always
 * one standard LZ4 block, even when that does not pay: deciding whether to
 * batch or compress at all is the sender's policy [BAT-10].
 */
export function encodeBatch(frames: readonly Frame[], codec: BatchCodecName = 'none'): Frame {
  const raw = encodeBatchPayload(frames)
  return create(FrameSchema, {
    body: {
      case: 'batch',
      value: {
        codec: codec === 'lz4' ? BatchCodec.LZ4_BLOCK : BatchCodec.NONE,
        count: frames.length,
        uncompressedLength: raw.length,
        // [BAT-14] a standard block (end-of-block rules hold): never lz4js's raw output.
        payload: codec === 'lz4' ? compressLz4Block(raw) : raw,
      },
    },
  })
}

/**
 * The frames carried by a batch frame, in order. Every check that can be made
 * from the header runs before anything is allocated or decompressed. Throws
 * CodecError (offsets are into the uncompressed payload); throws TypeError
 * when `frame` is not a batch.
 */
export function decodeBatch(frame: Frame, limits: BatchLimits = DEFAULT_BATCH_LIMITS): Frame[] {
  if (frame.body.case !== 'batch') throw new TypeError('not a batch frame')
  const b = frame.body.value
  if (b.codec !== BatchCodec.NONE && b.codec !== BatchCodec.LZ4_BLOCK) {
    throw new CodecError('BATCH_UNKNOWN_CODEC', `codec ${b.codec}`) // [BAT-2]
  }
  if (b.codec === BatchCodec.LZ4_BLOCK && !limits.lz4Enabled) {
    throw new CodecError('BATCH_CODEC_NOT_ENABLED', 'lz4 was not negotiated') // [HS-6]
  }
  if (b.count === 0) throw new CodecError('BATCH_COUNT_MISMATCH', 'count is 0') // [BAT-3]
  if (b.count > limits.maxBatchFrames) {
    throw new CodecError('BATCH_TOO_LARGE', `count ${b.count} exceeds max_batch_frames ${limits.maxBatchFrames}`) // [BAT-5]
  }
  if (b.uncompressedLength > limits.maxBatchBytes) {
    // [BAT-5] [BAT-9] refused from the header, before allocating or decompressing.
    throw new CodecError(
      'BATCH_TOO_LARGE',
      `uncompressed_length ${b.uncompressedLength} exceeds max_batch_bytes ${limits.maxBatchBytes}`,
    )
  }
  let raw: Uint8Array
  if (b.codec === BatchCodec.NONE) {
    if (b.uncompressedLength !== b.payload.length) {
      throw new CodecError(
        'BATCH_LENGTH_MISMATCH',
        `uncompressed_length ${b.uncompressedLength}, payload ${b.payload.length}`,
      ) // [BAT-4]
    }
    raw = b.payload
  } else {
    // [BAT-6] [BAT-9] exactly uncompressed_length bytes, never written past.
    raw = decodeLz4Block(b.payload, b.uncompressedLength)
  }
  return splitPayload(raw, b.count, limits.maxFrameBytes)
}

/**
 * Exactly `count` size-delimited frames filling `raw`, checked in the order of
 * the spec's validation steps 7 and 8 [BAT-16]. Pass 1 splits the payload
 * without decoding (prefixes [FRM-4], lengths [BAT-11], truncation [BAT-3]);
 * pass 2 decodes at most `count` frames [FRM-5], so a payload of millions of
 * tiny frames costs no more than max_batch_frames decodes. The one departure
 * from the step order: a malformed frame beyond `count` is reported as the
 * count mismatch it also is.
 */
function splitPayload(raw: Uint8Array, count: number, maxFrameBytes: number): Frame[] {
  const end = raw.length
  const starts: number[] = []
  const lengths: number[] = []
  let pos = 0
  const c = { pos: 0 }
  while (pos < end) {
    const at = pos
    c.pos = pos
    const len = readVarint32(raw, c, end)
    if (len === VARINT_TOO_LONG) throw new CodecError('BAD_LENGTH_PREFIX', 'length prefix longer than 5 bytes', at)
    if (len === VARINT_TRUNCATED)
      throw new CodecError('BATCH_LENGTH_MISMATCH', 'payload ends inside a length prefix', at) // [BAT-3]
    if (len < 0) throw new CodecError('BAD_LENGTH_PREFIX', 'length prefix >= 2^32', at)
    pos = c.pos
    // [BAT-11] inner frames obey max_frame_bytes too.
    if (len > maxFrameBytes) throw new CodecError('FRAME_TOO_LARGE', `inner frame of ${len} bytes`, at)
    if (len > end - pos) throw new CodecError('BATCH_LENGTH_MISMATCH', 'payload ends inside a frame', at) // [BAT-3]
    if (starts.length <= count) {
      starts.push(pos)
      lengths.push(len)
    }
    pos += len
  }
  const frames: Frame[] = []
  for (let k = 0; k < starts.length && k < count; k++) {
    const start = starts[k] as number
    try {
      frames.push(decodeFrame(raw.subarray(start, start + (lengths[k] as number)), maxFrameBytes))
    } catch (err) {
      if (err instanceof CodecError) err.offset = start + (err.offset ?? 0)
      throw err
    }
  }
  if (starts.length !== count) {
    const found = starts.length > count ? 'more' : String(starts.length)
    throw new CodecError('BATCH_COUNT_MISMATCH', `count ${count}, payload holds ${found} frames`, end) // [BAT-3]
  }
  for (let k = 0; k < frames.length; k++) {
    if ((frames[k] as Frame).body.case === 'batch') {
      throw new CodecError('BATCH_NESTED', 'batch inside a batch', starts[k]) // [BAT-7]
    }
  }
  return frames
}
