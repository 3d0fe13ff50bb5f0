// UTF-8 helpers for the hand-written hot encoder and decoder.
//
// Short strings (ids, content types) dominate the hot frames. For them a JS
// loop beats a call into native code (TextEncoder.encodeInto, Buffer.write),
// whose fixed cost is larger than the copy itself; long strings go native.
// Lone surrogates become U+FFFD (EF BF BD), exactly as TextEncoder does, so
// the output stays byte-identical to protobuf-es's toBinary.

/** Strings at least this long are encoded/decoded by the platform. */
export const NATIVE_MIN_CHARS = 48

const encoder = new TextEncoder()
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Number of UTF-8 bytes TextEncoder would produce for `s`. */
export function utf8Length(s: string): number {
  const n = s.length
  let bytes = n
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) bytes += 1
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        // A surrogate pair: 2 UTF-16 units, 4 UTF-8 bytes.
        bytes += 2
        i++
      } else bytes += 2
    } else bytes += 2
  }
  return bytes
}

/**
 * Writes `s` (whose UTF-8 length is `len`) at `pos`; returns the new position.
 * The caller sized `buf` with utf8Length, so no bounds check is needed here.
 */
export function utf8Write(s: string, buf: Uint8Array, pos: number, len: number): number {
  const n = s.length
  if (n >= NATIVE_MIN_CHARS) {
    encoder.encodeInto(s, buf.subarray(pos, pos + len))
    return pos + len
  }
  if (n === len) {
    // ASCII only.
    for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i)
    return pos
  }
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      buf[pos++] = c
    } else if (c < 0x800) {
      buf[pos++] = 0xc0 | (c >> 6)
      buf[pos++] = 0x80 | (c & 0x3f)
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const d = c <= 0xdbff && i + 1 < n ? s.charCodeAt(i + 1) : 0
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        i++
        buf[pos++] = 0xf0 | (c >> 18)
        buf[pos++] = 0x80 | ((c >> 12) & 0x3f)
        buf[pos++] = 0x80 | ((c >> 6) & 0x3f)
        buf[pos++] = 0x80 | (c & 0x3f)
      } else {
        // Lone surrogate: U+FFFD, like TextEncoder.
        buf[pos++] = 0xef
        buf[pos++] = 0xbf
        buf[pos++] = 0xbd
      }
    } else {
      buf[pos++] = 0xe0 | (c >> 12)
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f)
      buf[pos++] = 0x80 | (c & 0x3f)
    }
  }
  return pos
}

/**
 * Decodes buf[start, end) as strict UTF-8; returns undefined when the bytes
 * are not valid UTF-8 (the caller reports MALFORMED_FRAME [FRM-5]).
 */
export function utf8Read(buf: Uint8Array, start: number, end: number): string | undefined {
  const n = end - start
  if (n < NATIVE_MIN_CHARS) {
    let ascii = true
    for (let i = start; i < end; i++) {
      if ((buf[i] as number) > 0x7f) {
        ascii = false
        break
      }
    }
    if (ascii) {
      let s = ''
      for (let i = start; i < end; i++) s += String.fromCharCode(buf[i] as number)
      return s
    }
  }
  try {
    return strictDecoder.decode(buf.subarray(start, end))
  } catch {
    return undefined
  }
}
