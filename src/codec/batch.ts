// Batch encode/decode: plain or one raw LZ4 block. [BAT-1..12]
import { create } from '@bufbuild/protobuf'
import lz4 from 'lz4js'
import { BatchCodec, type Frame, FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import { CodecError } from './errors.js'
import { encodeFrame } from './frame-codec.js'
import { type BatchLimits, DEFAULT_BATCH_LIMITS } from './limits.js'
import { StreamDecoder, delimit } from './stream-decoder.js'

export type BatchCodecName = 'none' | 'lz4'

export function encodeBatch(frames: Frame[], codec: BatchCodecName = 'none'): Frame {
  const parts = frames.map((f) => delimit(encodeFrame(f)))
  const total = parts.reduce((n, p) => n + p.length, 0)
  const raw = new Uint8Array(total)
  let off = 0
  for (const p of parts) {
    raw.set(p, off)
    off += p.length
  }
  let payload: Uint8Array = raw
  if (codec === 'lz4') {
    const dst = new Uint8Array(lz4.compressBound(raw.length))
    const n = lz4.compressBlock(raw, dst, 0, raw.length, new Uint32Array(1 << 16))
    payload = n === 0 ? lz4LiteralsOnly(raw) : dst.slice(0, n)
  }
  return create(FrameSchema, {
    body: {
      case: 'batch',
      value: {
        codec: codec === 'lz4' ? BatchCodec.LZ4_BLOCK : BatchCodec.NONE,
        count: frames.length,
        uncompressedLength: raw.length,
        payload,
      },
    },
  })
}

/** A valid LZ4 block holding `raw` as literals only (for incompressible input). */
function lz4LiteralsOnly(raw: Uint8Array): Uint8Array {
  const out: number[] = []
  const n = raw.length
  if (n < 15) out.push(n << 4)
  else {
    out.push(0xf0)
    let rest = n - 15
    while (rest >= 255) {
      out.push(255)
      rest -= 255
    }
    out.push(rest)
  }
  const res = new Uint8Array(out.length + n)
  res.set(out, 0)
  res.set(raw, out.length)
  return res
}

export function decodeBatch(frame: Frame, limits: BatchLimits = DEFAULT_BATCH_LIMITS): Frame[] {
  if (frame.body.case !== 'batch') throw new TypeError('not a batch frame')
  const b = frame.body.value
  let raw: Uint8Array
  if (b.codec === BatchCodec.NONE) {
    if (b.uncompressedLength !== b.payload.length) throw new CodecError('BATCH_LENGTH_MISMATCH', 'uncompressed_length differs from payload length')
    if (b.uncompressedLength > limits.maxBatchBytes) throw new CodecError('BATCH_TOO_LARGE', 'batch exceeds max_batch_bytes')
    raw = b.payload
  } else if (b.codec === BatchCodec.LZ4_BLOCK) {
    if (!limits.lz4Enabled) throw new CodecError('BATCH_CODEC_NOT_ENABLED', 'lz4 was not negotiated')
    if (b.uncompressedLength > limits.maxBatchBytes) throw new CodecError('BATCH_TOO_LARGE', 'declared uncompressed_length exceeds max_batch_bytes')
    const dst = new Uint8Array(b.uncompressedLength)
    const n = lz4.decompressBlock(b.payload, dst, 0, b.payload.length, 0)
    if (n !== b.uncompressedLength) throw new CodecError('BATCH_LENGTH_MISMATCH', 'decompressed length differs')
    raw = dst
  } else {
    throw new CodecError('BATCH_UNKNOWN_CODEC', `codec ${b.codec}`)
  }
  if (b.count === 0) throw new CodecError('BATCH_COUNT_MISMATCH', 'count is 0')
  if (b.count > limits.maxBatchFrames) throw new CodecError('BATCH_TOO_LARGE', 'count exceeds max_batch_frames')
  const dec = new StreamDecoder({ maxFrameBytes: limits.maxFrameBytes })
  let frames: Frame[]
  try {
    frames = dec.push(raw)
    dec.end()
  } catch (err) {
    if (err instanceof CodecError && err.code === 'TRUNCATED_FRAME') throw new CodecError('BATCH_LENGTH_MISMATCH', 'payload ends inside a frame')
    throw err
  }
  if (frames.length !== b.count) throw new CodecError('BATCH_COUNT_MISMATCH', `count ${b.count}, found ${frames.length}`)
  for (const f of frames) if (f.body.case === 'batch') throw new CodecError('BATCH_NESTED', 'batch inside a batch')
  return frames
}
