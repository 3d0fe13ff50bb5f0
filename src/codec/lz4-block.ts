// Raw LZ4 blocks (the LZ4 block format, not the frame format). [BAT-6] [BAT-9]
//
// Decompression is our own, bounded decoder rather than lz4js's
// decompressBlock, which does no bounds checks at all: it writes into the
// output typed array past its end (such writes are silently dropped, so an
// oversized block "succeeds" with a wrong length after doing all the work),
// reads offsets before the start of the output as zeros, and a match length
// of N runs its byte loop N times even when nothing fits: a few kilobytes of
// 0xFF length bytes cost billions of iterations. This decoder allocates the
// declared length exactly, checks every literal run and match against the
// input end and the output end BEFORE copying, refuses offset 0 and offsets
// before the start of the output, and so does O(input + output) work.
//
// It also enforces the block format's end-of-block rules (the last 5 bytes
// are literals, the last match starts at least 12 bytes before the end) the
// way the reference liblz4 decoder does when given the exact output size:
// a sender whose blocks only our decoder accepted would fail against other
// implementations, so we refuse the same blocks they do.
//
// Compression uses lz4js's compressBlock, which breaks the second rule: it
// may start a match up to 10 bytes before the end. compressLz4Block hides
// that input tail from lz4js and appends it to the final literal run, so the
// result is a standard block that every LZ4 decoder accepts.
import lz4 from 'lz4js'
import { CodecError } from './errors.js'

const MIN_MATCH = 4
/** The last 5 bytes of a block are always literals. */
const LAST_LITERALS = 5
/** The last match must start at least 12 bytes before the end of the block. */
const MF_LIMIT = 12
/** lz4js lets a match start up to 10 bytes before the end of its input. */
const LZ4JS_MATCH_LIMIT = 10

function corrupt(message: string, offset: number): never {
  throw new CodecError('BATCH_CORRUPT', message, offset)
}

/**
 * Decompresses one raw LZ4 block that must produce exactly `outputLength`
 * bytes. Throws CodecError BATCH_CORRUPT for a malformed block (including one
 * that would write past outputLength) and BATCH_LENGTH_MISMATCH when it ends
 * short. The caller checks outputLength against its limit first.
 */
export function decodeLz4Block(src: Uint8Array, outputLength: number): Uint8Array {
  const dst = new Uint8Array(outputLength)
  decodeLz4BlockInto(src, dst, outputLength)
  return dst
}

/**
 * The decoder proper: writes only dst[0, outputLength). Exported so tests can
 * hand it a larger buffer and check that nothing past the bound was touched.
 */
export function decodeLz4BlockInto(src: Uint8Array, dst: Uint8Array, outputLength: number): void {
  if (dst.length < outputLength) throw new RangeError('output buffer shorter than outputLength')
  const iend = src.length
  const oend = outputLength
  let ip = 0
  let op = 0
  for (;;) {
    if (ip >= iend) corrupt('block ends before its last sequence', ip)
    const token = src[ip++] as number
    // Literal run.
    let lit = token >>> 4
    if (lit === 15) {
      let b: number
      do {
        if (ip >= iend) corrupt('literal length runs past the input', ip)
        b = src[ip++] as number
        lit += b
      } while (b === 255)
    }
    if (lit > iend - ip) corrupt('literals run past the input', ip)
    if (lit > oend - op) corrupt('literals run past the declared length', ip)
    if (lit < 16) {
      for (let k = 0; k < lit; k++) dst[op + k] = src[ip + k] as number
    } else dst.set(src.subarray(ip, ip + lit), op)
    ip += lit
    op += lit
    if (ip === iend) break // the last sequence: literals only
    // Not the last sequence: a match follows, which the end-of-block rules
    // allow only this far from the end of input and output.
    if (op > oend - MF_LIMIT) corrupt('a match starts less than 12 bytes before the end', ip)
    if (iend - ip < 2 + 1 + LAST_LITERALS) corrupt('input too short for a match and the last literals', ip)
    const offset = (src[ip] as number) | ((src[ip + 1] as number) << 8)
    if (offset === 0) corrupt('match offset 0', ip)
    if (offset > op) corrupt('match offset before the start of the output', ip)
    ip += 2
    let len = token & 15
    if (len === 15) {
      let b: number
      do {
        if (ip >= iend) corrupt('match length runs past the input', ip)
        b = src[ip++] as number
        len += b
      } while (b === 255)
    }
    len += MIN_MATCH
    // Checked before copying: a huge length costs nothing but its length bytes.
    if (len > oend - LAST_LITERALS - op) corrupt('match runs into the last 5 bytes or past the declared length', ip)
    let from = op - offset
    if (offset >= len) {
      if (len < 32) for (let k = 0; k < len; k++) dst[op + k] = dst[from + k] as number
      else dst.copyWithin(op, from, from + len)
      op += len
    } else {
      // Overlapping match: repeats the last `offset` bytes.
      const stop = op + len
      while (op < stop) dst[op++] = dst[from++] as number
    }
  }
  if (op !== oend) throw new CodecError('BATCH_LENGTH_MISMATCH', `block decodes to ${op} bytes, declared ${oend}`, ip)
}

function literalBlockSize(n: number): number {
  return 1 + (n >= 15 ? Math.floor((n - 15) / 255) + 1 : 0) + n
}

/** A block holding `raw` as one literal run (incompressible or tiny input). */
export function lz4LiteralBlock(raw: Uint8Array): Uint8Array {
  const n = raw.length
  const out = new Uint8Array(literalBlockSize(n))
  let p = 0
  if (n < 15) out[p++] = n << 4
  else {
    out[p++] = 0xf0
    let rest = n - 15
    while (rest >= 255) {
      out[p++] = 255
      rest -= 255
    }
    out[p++] = rest
  }
  out.set(raw, p)
  return out
}

/** Position of the last sequence's token in a block produced by lz4js. */
function lastSequenceStart(block: Uint8Array, length: number): number {
  let p = 0
  for (;;) {
    const start = p
    const token = block[p++] as number
    let lit = token >>> 4
    if (lit === 15) {
      let b: number
      do {
        b = block[p++] as number
        lit += b
      } while (b === 255)
    }
    p += lit
    if (p >= length) return start
    p += 2
    if ((token & 15) === 15) while (block[p++] === 255);
  }
}

// lz4js's match finder keeps positions+1 in this table and needs it zeroed
// for each block; a stale table would make the output depend on earlier calls.
const hashTable = new Uint32Array(1 << 16)

/**
 * Compresses `raw` into one standard raw LZ4 block. The result may be
 * slightly larger than `raw` for incompressible input (a literal-only block);
 * whether compressing pays is the sender's call [BAT-10].
 */
export function compressLz4Block(raw: Uint8Array): Uint8Array {
  const n = raw.length
  // Blocks under 13 bytes cannot hold a match (end-of-block rules).
  if (n < MF_LIMIT + 1) return lz4LiteralBlock(raw)
  // Hide the last bytes so lz4js's last match starts >= 12 bytes before the end.
  const visible = n - (MF_LIMIT - LZ4JS_MATCH_LIMIT)
  const dst = new Uint8Array(lz4.compressBound(n) + 8)
  hashTable.fill(0)
  const len: number = lz4.compressBlock(raw, dst, 0, visible, hashTable)
  if (len === 0) return lz4LiteralBlock(raw)
  // Rewrite the final literal run to also cover the hidden tail.
  const at = lastSequenceStart(dst, len)
  let p = at
  const token = dst[p++] as number
  let lit = token >>> 4
  if (lit === 15) {
    let b: number
    do {
      b = dst[p++] as number
      lit += b
    } while (b === 255)
  }
  const tailLiterals = lit + (n - visible)
  p = at
  if (tailLiterals < 15) dst[p++] = tailLiterals << 4
  else {
    dst[p++] = 0xf0
    let rest = tailLiterals - 15
    while (rest >= 255) {
      dst[p++] = 255
      rest -= 255
    }
    dst[p++] = rest
  }
  dst.set(raw.subarray(n - tailLiterals), p)
  p += tailLiterals
  return p < literalBlockSize(n) ? dst.slice(0, p) : lz4LiteralBlock(raw)
}
