// TCP stream form -> frames, under any chunking. [FRM-1] [FRM-3] [FRM-4] [FRM-8]
//
// Two states: reading a length prefix (kept as a running value, never
// buffered), or assembling a frame body. A frame that lies whole inside a
// chunk is decoded in place (no copy); a frame split across chunks is copied
// once into a buffer of exactly its declared length, which was checked
// against maxFrameBytes before anything of the body was kept. So every byte
// is copied at most once whatever the chunking, and the decoder never holds
// more than maxFrameBytes + 5 bytes. Nothing of the caller's chunks is kept
// between calls except through the decoded frames themselves (bytes fields
// are views into the chunk, as with protobuf-es).
//
// After an error the decoder is poisoned: every later call throws the same
// CodecError, so a caller can never resume parsing in the middle of garbage.
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'
import { CodecError } from './errors.js'
import { decodeFrame } from './frame-codec.js'
import { DEFAULT_MAX_FRAME_BYTES, MAX_PREFIX_BYTES } from './limits.js'

const TWO_32 = 4294967296

export interface StreamDecoderOptions {
  /** Largest frame accepted, checked from the prefix. Default 1 MiB. [LIM-1] */
  maxFrameBytes?: number
}

/**
 * Called for each decoded frame with its bytes (without prefix) and the
 * stream offset of its first prefix byte; return false to stop.
 */
export type FrameHandler = (frame: Frame, bytes: Uint8Array, offset: number) => unknown

export class StreamDecoder {
  private readonly maxFrameBytes: number
  /** Prefix bytes read so far for the frame in progress (0 between frames). */
  private prefixBytes = 0
  private prefixValue = 0
  private prefixMul = 1
  /** Body being assembled across chunks, exactly as long as declared. */
  private body: Uint8Array | null = null
  private filled = 0
  /** Prefix length of the frame whose body is being assembled. */
  private bodyPrefix = 0
  /** Stream offsets: bytes fully fed before the current chunk, start of the frame in progress. */
  private fed = 0
  private frameStart = 0
  private failure: CodecError | null = null
  private stopped = false
  private copied = 0

  constructor(opts: StreamDecoderOptions = {}) {
    const max = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    // An unbounded decoder would buffer whatever a peer announces.
    if (!(Number.isInteger(max) && max > 0)) throw new RangeError('maxFrameBytes must be a positive integer')
    this.maxFrameBytes = max
  }

  /** Feed bytes; returns every frame completed by them. Throws CodecError. */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = []
    this.feed(chunk, (f) => {
      frames.push(f)
    })
    return frames
  }

  /**
   * Feed bytes; calls onFrame for each completed frame as soon as it is
   * decoded, so frames that precede a bad one in the same chunk are handed
   * over before the CodecError is thrown (a server acks those first). When
   * onFrame returns false (or throws), decoding stops for good: the rest of
   * the chunk and later chunks are ignored (the connection is closing).
   */
  feed(chunk: Uint8Array, onFrame: FrameHandler): void {
    if (this.failure !== null) throw this.failure
    if (this.stopped) return
    const n = chunk.length
    let pos = 0
    while (pos < n) {
      let bytes: Uint8Array
      let bodyAt: number
      if (this.body === null) {
        if (this.prefixBytes === 0) this.frameStart = this.fed + pos
        const b = chunk[pos++] as number
        this.prefixValue += (b & 0x7f) * this.prefixMul
        this.prefixMul *= 128
        this.prefixBytes++
        if (b >= 0x80) {
          // [FRM-4] refused at the 5th byte already: no 6th byte can make it valid.
          if (this.prefixBytes >= MAX_PREFIX_BYTES) this.fail('BAD_LENGTH_PREFIX', 'length prefix longer than 5 bytes')
          continue
        }
        const len = this.prefixValue
        if (len >= TWO_32) this.fail('BAD_LENGTH_PREFIX', 'length prefix >= 2^32')
        // [FRM-3] checked from the prefix, before any of the body is kept.
        if (len > this.maxFrameBytes)
          this.fail('FRAME_TOO_LARGE', `frame of ${len} bytes exceeds ${this.maxFrameBytes}`)
        bodyAt = this.fed + pos
        this.bodyPrefix = this.prefixBytes
        this.prefixBytes = 0
        this.prefixValue = 0
        this.prefixMul = 1
        if (n - pos < len) {
          this.body = new Uint8Array(len)
          this.body.set(chunk.subarray(pos), 0)
          this.filled = n - pos
          this.copied += n - pos
          break
        }
        bytes = chunk.subarray(pos, pos + len)
        pos += len
      } else {
        const body = this.body
        const take = Math.min(body.length - this.filled, n - pos)
        if (take === 1) body[this.filled] = chunk[pos] as number
        else body.set(chunk.subarray(pos, pos + take), this.filled)
        this.filled += take
        this.copied += take
        pos += take
        if (this.filled < body.length) break
        bytes = body
        bodyAt = this.fed + pos - body.length
        this.body = null
        this.filled = 0
      }
      let frame: Frame
      try {
        frame = decodeFrame(bytes, this.maxFrameBytes)
      } catch (err) {
        if (err instanceof CodecError) {
          err.offset = bodyAt + (err.offset ?? 0)
          this.failure = err
        }
        throw err
      }
      let more: unknown
      try {
        more = onFrame(frame, bytes, this.frameStart)
      } catch (err) {
        this.stopped = true
        throw err
      }
      if (more === false) {
        this.stopped = true
        return
      }
    }
    this.fed += n
  }

  /** Bytes held for an incomplete frame (prefix bytes included); at most maxFrameBytes + 5. */
  get pending(): number {
    return this.body === null ? this.prefixBytes : this.bodyPrefix + this.filled
  }

  /**
   * Bytes copied out of the caller's chunks so far (into the buffer of a
   * frame split across chunks). Never more than the bytes fed, whatever the
   * chunking: the proof that buffering is linear (test/codec/stream-decoder).
   */
  get bytesCopied(): number {
    return this.copied
  }

  /** Bytes fed so far that were fully processed (stream offset of the next chunk). */
  get offset(): number {
    return this.fed
  }

  /** Call at end of stream: throws TRUNCATED_FRAME if a frame was cut. [FRM-8] */
  end(): void {
    if (this.failure !== null) throw this.failure
    if (this.stopped) return
    if (this.prefixBytes > 0 || this.body !== null) {
      // The partial frame is discarded, never decoded.
      this.fail('TRUNCATED_FRAME', `stream ended with ${this.pending} bytes of an incomplete frame`)
    }
  }

  private fail(code: CodecError['code'], message: string): never {
    this.failure = new CodecError(code, message, this.frameStart)
    throw this.failure
  }
}
