// TCP stream form: varint length prefix + frame, any chunking. [FRM-1]
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'
import { CodecError } from './errors.js'
import { decodeFrame } from './frame-codec.js'
import { DEFAULT_MAX_FRAME_BYTES, MAX_PREFIX_BYTES } from './limits.js'

export function encodeVarint(n: number): Uint8Array {
  const out: number[] = []
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Uint8Array.from(out)
}

export function delimit(frameBytes: Uint8Array): Uint8Array {
  const prefix = encodeVarint(frameBytes.length)
  const out = new Uint8Array(prefix.length + frameBytes.length)
  out.set(prefix, 0)
  out.set(frameBytes, prefix.length)
  return out
}

export class StreamDecoder {
  private buf: Uint8Array = new Uint8Array(0)
  private readonly maxFrameBytes: number
  constructor(opts: { maxFrameBytes?: number } = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  }
  /** Feed bytes; returns every complete frame. Throws CodecError. */
  push(chunk: Uint8Array): Frame[] {
    const joined = new Uint8Array(this.buf.length + chunk.length)
    joined.set(this.buf, 0)
    joined.set(chunk, this.buf.length)
    const frames: Frame[] = []
    let pos = 0
    for (;;) {
      let len = 0
      let shift = 0
      let i = pos
      let done = false
      while (i < joined.length) {
        const b = joined[i++] as number
        if (i - pos > MAX_PREFIX_BYTES) throw new CodecError('BAD_LENGTH_PREFIX', 'length prefix longer than 5 bytes')
        len += (b & 0x7f) * 2 ** shift
        shift += 7
        if ((b & 0x80) === 0) {
          done = true
          break
        }
      }
      if (!done) break
      if (len >= 2 ** 32) throw new CodecError('BAD_LENGTH_PREFIX', 'length prefix >= 2^32')
      if (len > this.maxFrameBytes) throw new CodecError('FRAME_TOO_LARGE', `frame of ${len} bytes exceeds ${this.maxFrameBytes}`)
      if (joined.length - i < len) break
      frames.push(decodeFrame(joined.subarray(i, i + len), this.maxFrameBytes))
      pos = i + len
    }
    this.buf = joined.slice(pos)
    return frames
  }
  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.buf.length
  }
  /** Call at end of stream: throws TRUNCATED_FRAME if a frame was cut. [FRM-8] */
  end(): void {
    if (this.buf.length > 0) throw new CodecError('TRUNCATED_FRAME', `stream ended with ${this.buf.length} bytes of an incomplete frame`)
  }
}
