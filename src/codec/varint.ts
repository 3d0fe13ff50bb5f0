// Protobuf base-128 varints on plain numbers and bigints: the one reader and
// writer of the project (hot encoder/decoder, strict wire check, batch
// payloads, the TCP length prefix, transports, runner, benches). [FRM-1]
//
// Readers take a cursor ({pos}) and advance it only on success; they return
// the value, or a negative VARINT_* status (bigint readers: -1n and the
// status in cursor.status) so a caller picks its own error code and offset.

import { MAX_PREFIX_BYTES } from './protocol-constants.js'

const TWO_32 = 4294967296
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER)
const MASK_32 = 0xffffffffn
export const MAX_UINT64 = 0xffffffffffffffffn

/** The input ended inside the varint. */
export const VARINT_TRUNCATED = -1
/** More bytes than the type allows, the last one still continued (32-bit: the 5th byte). [FRM-4] */
export const VARINT_TOO_LONG = -2
/** The value does not fit the type (32-bit: >= 2^32; 64-bit: a 10th byte above 1). */
export const VARINT_OVERFLOW = -3

/** Where a reader reads; advanced past the varint on success. */
export interface VarintCursor {
  pos: number
  /** Why the last bigint read failed (a VARINT_* status), set only on failure. */
  status?: number
}

/**
 * Reads a varint of at most 5 bytes that must be < 2^32 (tags, lengths,
 * length prefixes) from buf[c.pos..end). Returns the value, or a negative
 * VARINT_* status: TOO_LONG as soon as a 5th byte still has the continuation
 * bit (no 6th byte can make it valid [FRM-4]), TRUNCATED when `end` comes
 * first.
 */
export function readVarint32(buf: Uint8Array, c: VarintCursor, end: number): number {
  let pos = c.pos
  let n = 0
  let mul = 1
  // Like a length prefix, any 32-bit varint takes at most MAX_PREFIX_BYTES. [FRM-4]
  for (let i = 0; i < MAX_PREFIX_BYTES; i++) {
    if (pos >= end) return VARINT_TRUNCATED
    const b = buf[pos++] as number
    n += (b & 0x7f) * mul
    if (b < 0x80) {
      if (n >= TWO_32) return VARINT_OVERFLOW
      c.pos = pos
      return n
    }
    mul *= 128
  }
  return VARINT_TOO_LONG
}

/**
 * Reads a uint64 varint (at most 10 bytes, the 10th carrying only bit 63).
 * Returns the value, or -1n with c.status set to a VARINT_* status.
 */
export function readUint64(buf: Uint8Array, c: VarintCursor, end: number): bigint {
  let pos = c.pos
  // Up to 7 bytes (49 bits) accumulate exactly in a double.
  let n = 0
  let mul = 1
  for (let i = 0; i < 7; i++) {
    if (pos >= end) return fail64(c, VARINT_TRUNCATED)
    const b = buf[pos++] as number
    n += (b & 0x7f) * mul
    if (b < 0x80) {
      c.pos = pos
      return BigInt(n)
    }
    mul *= 128
  }
  let big = BigInt(n)
  let shift = 49n
  for (let i = 7; i < 10; i++) {
    if (pos >= end) return fail64(c, VARINT_TRUNCATED)
    const b = buf[pos++] as number
    big |= BigInt(b & 0x7f) << shift
    if (b < 0x80) {
      // The 10th byte may only carry bit 63.
      if (i === 9 && b > 1) return fail64(c, VARINT_OVERFLOW)
      c.pos = pos
      return big
    }
    shift += 7n
  }
  return fail64(c, VARINT_TOO_LONG)
}

function fail64(c: VarintCursor, status: number): bigint {
  c.status = status
  return -1n
}

/**
 * Position after a varint of at most 64 bits starting at pos (its value
 * unread), or a negative VARINT_* status.
 */
export function skipVarint(buf: Uint8Array, pos: number, end: number): number {
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return VARINT_TRUNCATED
    const b = buf[pos++] as number
    if (b < 0x80) return i === 9 && b > 1 ? VARINT_OVERFLOW : pos
  }
  return VARINT_TOO_LONG
}

/** Bytes needed for a varint of a non-negative integer number (< 2^53). */
export function varintSize(n: number): number {
  if (n < TWO_32) return ((31 - Math.clz32(n | 1)) * 9 + 73) >> 6
  const hi = Math.floor(n / TWO_32)
  return ((63 - Math.clz32(hi)) * 9 + 73) >> 6
}

/** Writes a varint of a non-negative integer number (< 2^53); returns the new position. */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  if (n < TWO_32) {
    while (n > 0x7f) {
      buf[pos++] = (n & 0x7f) | 0x80
      n >>>= 7
    }
    buf[pos++] = n
    return pos
  }
  const lo = n >>> 0
  return writeVarintLoHi(buf, pos, lo, (n - lo) / TWO_32)
}

function writeVarintLoHi(buf: Uint8Array, pos: number, lo: number, hi: number): number {
  while (hi > 0 || lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80
    lo = ((lo >>> 7) | (hi << 25)) >>> 0
    hi >>>= 7
  }
  buf[pos++] = lo
  return pos
}

/** Varint size of a uint64 bigint, or -1 when the value is not a bigint in [0, 2^64). */
export function uint64Size(v: unknown): number {
  if (typeof v !== 'bigint') return -1
  if (v <= SAFE_MAX) return v < 0n ? -1 : varintSize(Number(v))
  if (v > MAX_UINT64) return -1
  const hi = Number(v >> 32n)
  return ((63 - Math.clz32(hi)) * 9 + 73) >> 6
}

/** Writes a uint64 bigint already checked by uint64Size. */
export function writeUint64(buf: Uint8Array, pos: number, v: bigint): number {
  if (v <= SAFE_MAX) return writeVarint(buf, pos, Number(v))
  return writeVarintLoHi(buf, pos, Number(v & MASK_32), Number(v >> 32n))
}

/** The varint encoding of a non-negative integer (< 2^53) as its own array. */
export function encodeVarint(n: number): Uint8Array {
  const out = new Uint8Array(varintSize(n))
  writeVarint(out, 0, n)
  return out
}
