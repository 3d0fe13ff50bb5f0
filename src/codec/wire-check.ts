// Strict structural check of protobuf bytes against a message descriptor,
// run before protobuf-es's fromBinary on the generic decode path. [FRM-5] [FRM-6]
//
// fromBinary alone is too lenient for a wire protocol: it reads a known field
// with whatever wire type it finds (a string sent as a varint is misread, not
// refused), it lets a nested message's length run past its parent's end, and
// it silently truncates varints beyond 64 bits. This walk refuses all of that,
// plus invalid wire types, field number 0, truncated fields and invalid UTF-8
// in string fields, and reports the byte offset of the offending field. It
// skips unknown fields (well-formed ones only) as [FRM-6] requires.
import { type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf'
import { VARINT_OVERFLOW, VARINT_TRUNCATED, readVarint32, skipVarint } from './varint.js'

const WT_VARINT = 0
const WT_I64 = 1
const WT_LEN = 2
const WT_SGROUP = 3
const WT_EGROUP = 4
const WT_I32 = 5

/** Nesting bound for messages and unknown groups (same as protobuf-es). */
const MAX_DEPTH = 100

export class WireError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message)
  }
}

interface FieldRule {
  /** The wire type a singular value uses. */
  wire: number
  /** Repeated numeric scalar: a packed (wire type 2) run is accepted too. */
  packedElement: boolean
  /** Strings: bytes must be valid UTF-8. */
  utf8: boolean
  /** Message fields: the nested type to check recursively. */
  message: DescMessage | undefined
}

function scalarWire(t: ScalarType): number {
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WT_I64
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WT_I32
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WT_LEN
    default:
      return WT_VARINT
  }
}

function ruleFor(f: DescField): FieldRule {
  switch (f.fieldKind) {
    case 'scalar':
      return {
        wire: scalarWire(f.scalar),
        packedElement: false,
        utf8: f.scalar === ScalarType.STRING,
        message: undefined,
      }
    case 'enum':
      return { wire: WT_VARINT, packedElement: false, utf8: false, message: undefined }
    case 'message':
      return { wire: f.delimitedEncoding ? WT_SGROUP : WT_LEN, packedElement: false, utf8: false, message: f.message }
    case 'list':
      if (f.listKind === 'message') {
        return { wire: f.delimitedEncoding ? WT_SGROUP : WT_LEN, packedElement: false, utf8: false, message: f.message }
      }
      if (f.listKind === 'enum') return { wire: WT_VARINT, packedElement: true, utf8: false, message: undefined }
      return {
        wire: scalarWire(f.scalar),
        packedElement: f.scalar !== ScalarType.STRING && f.scalar !== ScalarType.BYTES,
        utf8: f.scalar === ScalarType.STRING,
        message: undefined,
      }
    case 'map':
      // No map fields in imwire v1; entries are left to fromBinary.
      return { wire: WT_LEN, packedElement: false, utf8: false, message: undefined }
  }
}

const rulesCache = new WeakMap<DescMessage, Map<number, FieldRule>>()

function rulesOf(desc: DescMessage): Map<number, FieldRule> {
  let rules = rulesCache.get(desc)
  if (rules === undefined) {
    rules = new Map()
    for (const f of desc.fields) rules.set(f.number, ruleFor(f))
    rulesCache.set(desc, rules)
  }
  return rules
}

// Error offsets: every WireError points at the tag of the offending field
// (the first byte of the field), never at the position where the input ran
// out. So an offset is always inside the input, even for a value truncated at
// its very end, and `imwire decode` can show the field that is wrong.

/** Position after a varint of at most 64 bits starting at pos; errors report `at`. */
function varintEndOrThrow(buf: Uint8Array, pos: number, end: number, at: number): number {
  const next = skipVarint(buf, pos, end)
  if (next >= 0) return next
  if (next === VARINT_TRUNCATED) throw new WireError(at, 'truncated varint')
  if (next === VARINT_OVERFLOW) throw new WireError(at, 'varint overflows 64 bits')
  throw new WireError(at, 'varint longer than 10 bytes')
}

/** A varint that must fit 32 bits (tags and lengths); errors report `at`. */
function varint32OrThrow(buf: Uint8Array, pos: number, end: number, what: string, at: number): [number, number] {
  const c = { pos }
  const n = readVarint32(buf, c, end)
  if (n === VARINT_TRUNCATED) throw new WireError(at, `truncated ${what}`)
  if (n < 0) throw new WireError(at, `${what} does not fit 32 bits`)
  return [n, c.pos]
}

/**
 * Position after the value (starting at pos) of a field whose tag is at `at`,
 * with this wire type.
 */
function skipValue(
  buf: Uint8Array,
  pos: number,
  end: number,
  wire: number,
  fieldNo: number,
  depth: number,
  at: number,
): number {
  switch (wire) {
    case WT_VARINT:
      return varintEndOrThrow(buf, pos, end, at)
    case WT_I64:
      if (end - pos < 8) throw new WireError(at, 'truncated fixed64')
      return pos + 8
    case WT_I32:
      if (end - pos < 4) throw new WireError(at, 'truncated fixed32')
      return pos + 4
    case WT_LEN: {
      const [len, p] = varint32OrThrow(buf, pos, end, 'length', at)
      if (len > end - p) throw new WireError(at, 'length-delimited field runs past the end')
      return p + len
    }
    case WT_SGROUP: {
      if (depth >= MAX_DEPTH) throw new WireError(at, 'groups nested too deep')
      for (;;) {
        // A group cut before its end tag: the group's start is what is wrong.
        if (pos >= end) throw new WireError(at, 'group without end group tag')
        const tagAt = pos
        const [tag, p] = varint32OrThrow(buf, pos, end, 'tag', tagAt)
        const no = tag >>> 3
        const wt = tag & 7
        if (no === 0) throw new WireError(tagAt, 'field number 0')
        if (wt === WT_EGROUP) {
          if (no !== fieldNo) throw new WireError(tagAt, 'end group tag does not match')
          return p
        }
        if (wt > WT_I32) throw new WireError(tagAt, `invalid wire type ${wt}`)
        pos = skipValue(buf, p, end, wt, no, depth + 1, tagAt)
      }
    }
    default:
      throw new WireError(at, `invalid wire type ${wire}`)
  }
}

/** True when buf[start, end) is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
export function isValidUtf8(buf: Uint8Array, start: number, end: number): boolean {
  let i = start
  while (i < end) {
    const b = buf[i] as number
    if (b < 0x80) {
      i++
      continue
    }
    let need: number
    let min: number
    let cp: number
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1
      min = 0x80
      cp = b & 0x1f
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2
      min = 0x800
      cp = b & 0x0f
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3
      min = 0x10000
      cp = b & 0x07
    } else return false
    if (end - i <= need) return false
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k] as number
      if ((c & 0xc0) !== 0x80) return false
      cp = (cp << 6) | (c & 0x3f)
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false
    i += need + 1
  }
  return true
}

function checkPacked(buf: Uint8Array, pos: number, end: number, wire: number, at: number): void {
  if (wire === WT_VARINT) {
    while (pos < end) pos = varintEndOrThrow(buf, pos, end, at)
  } else {
    const size = wire === WT_I64 ? 8 : 4
    if ((end - pos) % size !== 0) throw new WireError(at, 'packed fixed-size run has a partial element')
  }
}

/**
 * Throws WireError unless buf[start, end) is a well-formed `desc` message.
 * Offsets in errors are relative to the start of `buf`.
 */
export function checkMessage(desc: DescMessage, buf: Uint8Array, start: number, end: number, depth = 0): void {
  if (depth > MAX_DEPTH) throw new WireError(start, 'messages nested too deep')
  const rules = rulesOf(desc)
  let pos = start
  while (pos < end) {
    const tagAt = pos
    const [tag, p] = varint32OrThrow(buf, pos, end, 'tag', tagAt)
    const fieldNo = tag >>> 3
    const wire = tag & 7
    if (fieldNo === 0) throw new WireError(tagAt, 'field number 0')
    if (wire > WT_I32) throw new WireError(tagAt, `invalid wire type ${wire}`)
    if (wire === WT_EGROUP) throw new WireError(tagAt, 'end group without start group')
    const rule = rules.get(fieldNo)
    if (rule === undefined) {
      // [FRM-6] unknown field: skipped (after checking it is well-formed).
      pos = skipValue(buf, p, end, wire, fieldNo, depth, tagAt)
      continue
    }
    if (wire !== rule.wire && !(rule.packedElement && wire === WT_LEN)) {
      throw new WireError(tagAt, `field ${fieldNo} of ${desc.typeName} has wire type ${wire}, expected ${rule.wire}`)
    }
    const next = skipValue(buf, p, end, wire, fieldNo, depth, tagAt)
    if (wire === WT_LEN) {
      const [len, body] = varint32OrThrow(buf, p, end, 'length', tagAt)
      if (rule.message !== undefined) checkMessage(rule.message, buf, body, body + len, depth + 1)
      else if (rule.utf8 && !isValidUtf8(buf, body, body + len)) {
        throw new WireError(tagAt, `field ${fieldNo} of ${desc.typeName} is not valid UTF-8`)
      } else if (rule.packedElement) checkPacked(buf, body, body + len, rule.wire, tagAt)
    }
    // Delimited (group) encoding is not used by imwire v1's proto3 files; a
    // group's structure was checked by skipValue and fromBinary reads it.
    pos = next
  }
}
