// TCP stream form -> frames, under any chunking. [FRM-1] [FRM-3] [FRM-4] [FRM-8]
//
// Two states: reading a length prefix, or assembling a frame body. A prefix
// is read in place with the codec's one varint reader; only a prefix split
// across chunks is kept, in a 5-byte buffer (at most 5 bytes copied per
// frame). A frame that lies whole inside a
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
import { DEFAULT_MAX_FRAME_BYTES } from './protocol-constants.js'
import { MAX_PREFIX_BYTES } from './protocol-constants.js'
import { VARINT_TOO_LONG, VARINT_TRUNCATED, type VarintCursor, readVarint32 } from './varint.js'

export interface StreamDecoderOptions {
  /** Largest frame accepted, checked from the prefix. Default 1 MiB. [LIM-1] */
  maxFrameBytes?: number
}

/**
 * Called for each decoded frame with its bytes (without prefix) and the
 * stream offset of its first prefix byte; return false to stop.
 */
export type FrameHandler = (frame: Frame, bytes: Uint8Array, offset: number) => unknown

/** Called for each complete frame's bytes (without prefix, not decoded); return false to stop. */
export type FrameBytesHandler = (bytes: Uint8Array, offset: number) => unknown

export class StreamDecoder {
  private readonly maxFrameBytes: number
  /** Prefix bytes held for the frame in progress when its prefix spans chunks (0 otherwise). */
  private prefixBytes = 0
  private readonly prefix = new Uint8Array(MAX_PREFIX_BYTES)
  private readonly cursor: VarintCursor = { pos: 0 }
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
    this.consume(chunk, onFrame)
  }

  /**
   * Feed bytes; calls onBytes with each complete frame's bytes (no prefix)
   * without decoding them: prefixes and sizes are checked ([FRM-3] [FRM-4]),
   * the protobuf is left to the caller (the conformance runner decodes later,
   * to report a malformed frame as evidence). Stops like feed().
   */
  split(chunk: Uint8Array, onBytes: FrameBytesHandler): void {
    this.consume(chunk, null, onBytes)
  }

  private consume(chunk: Uint8Array, onFrame: FrameHandler | null, onBytes?: FrameBytesHandler): void {
    if (this.failure !== null) throw this.failure
    if (this.stopped) return
    const n = chunk.length
    let pos = 0
    while (pos < n) {
      let bytes: Uint8Array
      let bodyAt: number
      if (this.body === null) {
        const held = this.prefixBytes
        if (held === 0) this.frameStart = this.fed + pos
        const c = this.cursor
        let len: number
        let prefixLen: number
        if (held === 0) {
          c.pos = pos
          len = readVarint32(chunk, c, n)
          if (len === VARINT_TRUNCATED) {
            // Fewer than 5 bytes left, all continued: keep them for the next chunk.
            this.prefix.set(chunk.subarray(pos), 0)
            this.prefixBytes = n - pos
            this.copied += n - pos
            break
          }
          prefixLen = c.pos - pos
        } else {
          // A prefix split across chunks: complete it in the 5-byte buffer.
          const take = Math.min(MAX_PREFIX_BYTES - held, n - pos)
          this.prefix.set(chunk.subarray(pos, pos + take), held)
          c.pos = 0
          len = readVarint32(this.prefix, c, held + take)
          if (len === VARINT_TRUNCATED) {
            // Still short of 5 bytes: the whole chunk went into the buffer.
            this.prefixBytes = held + take
            this.copied += take
            break
          }
          prefixLen = c.pos
          this.copied += prefixLen - held
        }
        // [FRM-4] refused at the 5th byte already: no 6th byte can make it valid.
        if (len === VARINT_TOO_LONG) this.fail('BAD_LENGTH_PREFIX', 'length prefix longer than 5 bytes')
        if (len < 0) this.fail('BAD_LENGTH_PREFIX', 'length prefix >= 2^32')
        // [FRM-3] checked from the prefix, before any of the body is kept.
        if (len > this.maxFrameBytes)
          this.fail('FRAME_TOO_LARGE', `frame of ${len} bytes exceeds ${this.maxFrameBytes}`)
        pos += prefixLen - held
        bodyAt = this.fed + pos
        this.bodyPrefix = prefixLen
        this.prefixBytes = 0
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
      let frame: Frame | undefined
      if (onFrame !== null) {
        try {
          frame = decodeFrame(bytes, this.maxFrameBytes)
        } catch (err) {
          if (err instanceof CodecError) {
            err.offset = bodyAt + (err.offset ?? 0)
            this.failure = err
          }
          throw err
        }
      }
      let more: unknown
      try {
        more =
          onFrame !== null
            ? onFrame(frame as Frame, bytes, this.frameStart)
            : (onBytes as FrameBytesHandler)(bytes, this.frameStart)
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
