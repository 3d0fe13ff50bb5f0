// The canonical proto3 JSON form that codec vectors write frames in
// (vectors/README.md, "Comparing frames"), checked from the descriptors and
// the ProtoJSON rules alone, not by comparing with one library's printer:
// JSON names, defaults omitted, 64-bit integers as decimal strings, bytes as
// padded standard base64, enums by name (numbers only for unknown values).
// Runners in other languages compare JSON values, so a vector in any other
// form (a uint64 as a number, an explicit default) would fail them for
// nothing.
import { type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf'

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const DECIMAL = /^(?:0|-?[1-9][0-9]*)$/

type Kind = { scalar: ScalarType } | { enum: NonNullable<DescField['enum']> } | { message: DescMessage }

function kindOf(f: DescField): Kind | undefined {
  switch (f.fieldKind) {
    case 'scalar':
      return { scalar: f.scalar }
    case 'enum':
      return { enum: f.enum }
    case 'message':
      return { message: f.message }
    case 'list':
      return f.listKind === 'scalar'
        ? { scalar: f.scalar }
        : f.listKind === 'enum'
          ? { enum: f.enum }
          : { message: f.message }
    default:
      return undefined // maps: imwire v1 has none
  }
}

const is64 = (t: ScalarType) =>
  t === ScalarType.INT64 ||
  t === ScalarType.UINT64 ||
  t === ScalarType.SINT64 ||
  t === ScalarType.FIXED64 ||
  t === ScalarType.SFIXED64

/** Why `v` is not the JSON of one value of `kind`; `inList` values may be defaults. */
function valueProblem(kind: Kind, v: unknown, inList: boolean, path: string, out: string[]): undefined {
  const bad = (why: string): undefined => {
    out.push(`${path}: ${why}`)
  }
  if ('message' in kind) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('a message must be a JSON object')
    return messageProblems(kind.message, v as Record<string, unknown>, path, out)
  }
  if ('enum' in kind) {
    if (typeof v === 'string') {
      const value = kind.enum.values.find((e) => e.name === v)
      if (value === undefined) return bad(`${JSON.stringify(v)} is not a value of ${kind.enum.typeName}`)
      if (value.number === 0 && !inList) return bad('the zero enum value is a default: omit the field')
      return
    }
    if (typeof v === 'number' && Number.isInteger(v)) {
      if (kind.enum.values.some((e) => e.number === v)) return bad(`known enum value ${v} must be written by name`)
      return
    }
    return bad('an enum must be its value name (or a number when unknown)')
  }
  const t = kind.scalar
  if (t === ScalarType.STRING) {
    if (typeof v !== 'string') return bad('a string must be a JSON string')
    if (v === '' && !inList) bad('an empty string is a default: omit the field')
  } else if (t === ScalarType.BYTES) {
    if (typeof v !== 'string' || !BASE64.test(v)) return bad('bytes must be standard base64 with padding')
    if (v === '' && !inList) bad('empty bytes are a default: omit the field')
  } else if (t === ScalarType.BOOL) {
    if (typeof v !== 'boolean') return bad('a bool must be true or false')
    if (!v && !inList) bad('false is a default: omit the field')
  } else if (is64(t)) {
    if (typeof v !== 'string' || !DECIMAL.test(v)) return bad('a 64-bit integer must be a string of decimal digits')
    const n = BigInt(v)
    const unsigned = t === ScalarType.UINT64 || t === ScalarType.FIXED64
    if (unsigned ? n < 0n || n >= 1n << 64n : n < -(1n << 63n) || n >= 1n << 63n) bad('out of range')
    if (n === 0n && !inList) bad('"0" is a default: omit the field')
  } else if (t === ScalarType.FLOAT || t === ScalarType.DOUBLE) {
    bad('floating point fields are not used by imwire v1')
  } else {
    if (typeof v !== 'number' || !Number.isInteger(v)) return bad('a 32-bit integer must be a JSON number')
    const unsigned = t === ScalarType.UINT32 || t === ScalarType.FIXED32
    if (unsigned ? v < 0 || v > 0xffffffff : v < -0x80000000 || v > 0x7fffffff) bad('out of range')
    if (v === 0 && !inList) bad('0 is a default: omit the field')
  }
}

function messageProblems(desc: DescMessage, obj: Record<string, unknown>, path: string, out: string[]): undefined {
  const oneofsSet = new Map<string, string>()
  for (const [key, v] of Object.entries(obj)) {
    const at = `${path}/${key}`
    const f = desc.fields.find((x) => x.jsonName === key)
    if (f === undefined) {
      out.push(`${at}: ${desc.typeName} has no field with JSON name ${key}`)
      continue
    }
    if (f.oneof !== undefined) {
      const other = oneofsSet.get(f.oneof.name)
      if (other !== undefined) out.push(`${at}: oneof ${f.oneof.name} already holds ${other}`)
      oneofsSet.set(f.oneof.name, key)
    }
    const kind = kindOf(f)
    if (kind === undefined) {
      out.push(`${at}: map fields are not used by imwire v1`)
      continue
    }
    if (f.fieldKind === 'list') {
      if (!Array.isArray(v)) out.push(`${at}: a repeated field must be a JSON array`)
      else if (v.length === 0) out.push(`${at}: an empty list is a default: omit the field`)
      else
        v.forEach((item, i) => {
          valueProblem(kind, item, true, `${at}/${i}`, out)
        })
    } else valueProblem(kind, v, false, at, out)
  }
}

/** Why `value` is not a `desc` message in canonical proto3 JSON; empty when it is. */
export function canonicalJsonProblems(desc: DescMessage, value: unknown, path = ''): string[] {
  const out: string[] = []
  valueProblem({ message: desc }, value, false, path, out)
  return out
}
