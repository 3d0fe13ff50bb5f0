// Protobuf base-128 varints on plain numbers and bigints, for the hand-written
// hot encoder/decoder and the length prefix of the TCP form. [FRM-1]

const TWO_32 = 4294967296
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER)
const MASK_32 = 0xffffffffn
export const MAX_UINT64 = 0xffffffffffffffffn

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
