// TCP stream form -> frames, one callback per frame. [FRM-1] [FRM-3] [FRM-4] [FRM-8]
//
// The codec's StreamDecoder returns a frame array per push and throws on the
// first bad frame, losing the good frames that came before it in the same
// chunk. A server must process those first (they may be Sends that deserve
// their acks) and then close with the error's code, so the transport splits
// frames itself with the codec's rules and hands each one over as soon as it
// is decoded. It also keeps the frame bytes (for transcripts) and avoids
// copying a whole chunk per push: only the bytes of an incomplete frame are
// kept between chunks.
import { CodecError, decodeFrame, MAX_PREFIX_BYTES } from '../codec/index.js'
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'

export class FrameSplitter {
  private pending: Uint8Array | null = null
  private readonly maxFrameBytes: number

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes
  }

  /**
   * Feed a chunk; calls onFrame for each complete frame, in order. Stops and
   * throws CodecError at the first invalid prefix or frame (frames before it
   * have been handed over already). onFrame returning false stops the split
   * (the rest of the chunk is dropped: the connection is closing).
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame, bytes: Uint8Array) => boolean | undefined): void {
    let buf = chunk
    if (this.pending !== null) {
      const joined = new Uint8Array(this.pending.length + chunk.length)
      joined.set(this.pending, 0)
      joined.set(chunk, this.pending.length)
      buf = joined
      this.pending = null
    }
    let pos = 0
    const end = buf.length
    while (pos < end) {
      let len = 0
      let mul = 1
      let i = pos
      let complete = false
      while (i < end) {
        const b = buf[i++] as number
        if (i - pos > MAX_PREFIX_BYTES) throw new CodecError('BAD_LENGTH_PREFIX', 'length prefix longer than 5 bytes')
        len += (b & 0x7f) * mul
        mul *= 128
        if ((b & 0x80) === 0) {
          complete = true
          break
        }
      }
      if (!complete) break
      if (len >= 2 ** 32) throw new CodecError('BAD_LENGTH_PREFIX', 'length prefix >= 2^32')
      // [FRM-3] checked from the prefix, before buffering the body.
      if (len > this.maxFrameBytes) {
        throw new CodecError('FRAME_TOO_LARGE', `frame of ${len} bytes exceeds ${this.maxFrameBytes}`)
      }
      if (end - i < len) break
      const bytes = buf.subarray(i, i + len)
      pos = i + len
      const frame = decodeFrame(bytes, this.maxFrameBytes)
      if (onFrame(frame, bytes) === false) return
    }
    if (pos < end) this.pending = buf.slice(pos)
  }

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.pending?.length ?? 0
  }
}
