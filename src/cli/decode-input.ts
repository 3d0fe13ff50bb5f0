// How `imwire decode` reads its input: hex text or raw binary, never a guess.
// Text that is almost hex (an odd number of digits, a stray letter) is a
// mistake in the input, not binary: read as bytes it would decode to
// nonsense and be misreported as, say, a truncated frame.
import { UsageError } from './usage-error.js'

export type InputEncoding = 'hex' | 'binary' | 'auto'

/** Separators allowed in hex input: whitespace, `0x` prefixes, colons and commas. */
const HEX_JUNK = /0x|[\s:,]/gi

/** Hex text to bytes, or undefined when the text is not hex. */
export function parseHex(text: string): Uint8Array | undefined {
  const clean = text.replace(HEX_JUNK, '')
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) return undefined
  return Uint8Array.from(Buffer.from(clean, 'hex'))
}

/** Printable ASCII, tab, CR and LF: what hex input (typed, pasted, from xxd -p) is made of. */
const isTextByte = (b: number) => (b >= 0x20 && b <= 0x7e) || b === 0x09 || b === 0x0a || b === 0x0d

/** Why hex text is not hex, for the usage error. */
function notHex(text: string): string {
  const clean = text.replace(HEX_JUNK, '')
  const bad = /[^0-9a-fA-F]/.exec(clean)
  if (bad !== null) return `${JSON.stringify(bad[0])} is not a hex digit`
  return `it has an odd number of hex digits (${clean.length}): a digit is missing or extra`
}

/**
 * The bytes to decode. `auto`: input with any byte outside printable ASCII is
 * binary; text must be valid hex. Throws UsageError for text that is not
 * valid hex (or `--hex` input that is not), naming the problem.
 */
export function inputBytes(input: Uint8Array, encoding: InputEncoding): Uint8Array {
  if (encoding === 'binary' || input.length === 0) return input
  const text = Buffer.from(input).toString('latin1')
  const parsed = parseHex(text)
  if (parsed !== undefined) return parsed
  if (encoding === 'hex') throw new UsageError(`--hex input is not hex: ${notHex(text)}`)
  if (!input.every(isTextByte)) return input
  throw new UsageError(
    `the input is text but not hex: ${notHex(text)}. Fix the hex, or pass --binary to decode the bytes as they are`,
  )
}
