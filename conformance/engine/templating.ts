// ${...} templates and value generators inside scenario JSON.
//
//   ${user.alice} ${device.alice} ${token.alice} ${conv.g} ${msgid.m1}
//   ${cap.s1} ${cap.a1.welcome.limits.maxFrameBytes} ${var.n} ${i} ${run}
//   ${cap.s1+1}  integer arithmetic (+N / -N), result as a decimal string
//   ${varint:EXPR} in hex strings: the varint encoding of EXPR, as hex
//   {"$bytes": N} N filler bytes as base64; {"$utf8": "text"} UTF-8 as base64
//
// A string that is exactly one template becomes the raw value (a number, an
// object...); templates inside a longer string are interpolated as text.
import { uint64Size, writeUint64 } from '../../src/codec/index.js'

export class TemplateError extends Error {
  override name = 'TemplateError'
}

export interface TemplateExpr {
  /** Dotted path: namespace first (`user`, `cap`, ...) or a loop variable. */
  path: string[]
  add: bigint
  varint: boolean
  source: string
}

export interface TemplateScope {
  /** Value at path, or throws TemplateError. */
  lookup(path: string[]): unknown
}

// Global regexes carry lastIndex between calls: always use a fresh one.
const TEMPLATE_SOURCE = '\\$\\{([^}]*)\\}'
const templates = () => new RegExp(TEMPLATE_SOURCE, 'g')
const EXPR = /^(varint:)?\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*(?:([+-])\s*(\d+))?\s*$/

export function parseExpr(source: string): TemplateExpr {
  const m = EXPR.exec(source)
  if (!m) throw new TemplateError(`bad template expression \${${source}}`)
  const n = BigInt(m[4] ?? '0')
  return { path: (m[2] as string).split('.'), add: m[3] === '-' ? -n : n, varint: m[1] !== undefined, source }
}

/** Every template expression in a string. */
export function templatesIn(s: string): TemplateExpr[] {
  return [...s.matchAll(templates())].map((m) => parseExpr(m[1] as string))
}

export function hasTemplate(s: string): boolean {
  return new RegExp(TEMPLATE_SOURCE).test(s)
}

function evaluate(expr: TemplateExpr, scope: TemplateScope): unknown {
  let v = scope.lookup(expr.path)
  if (expr.add !== 0n || expr.varint) {
    const n = toBigInt(v)
    if (n === null) throw new TemplateError(`\${${expr.source}}: ${JSON.stringify(v)} is not an integer`)
    v = (n + expr.add).toString()
    if (expr.varint) v = varintHex(n + expr.add)
  }
  return v
}

export function resolveString(s: string, scope: TemplateScope): unknown {
  const whole = /^\$\{([^}]*)\}$/.exec(s)
  if (whole) return evaluate(parseExpr(whole[1] as string), scope)
  return s.replace(templates(), (_all, src: string) => {
    const v = evaluate(parseExpr(src), scope)
    return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)
  })
}

/** Deep copy of value with every template and generator resolved. */
export function resolveTemplates(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === 'string') return resolveString(value, scope)
  if (Array.isArray(value)) return value.map((v) => resolveTemplates(v, scope))
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>
    const keys = Object.keys(obj)
    if (keys.length === 1 && keys[0] === '$bytes') return bytesOf(resolveTemplates(obj.$bytes, scope))
    if (keys.length === 1 && keys[0] === '$utf8') {
      const text = resolveTemplates(obj.$utf8, scope)
      if (typeof text !== 'string') throw new TemplateError('$utf8 takes a string')
      return Buffer.from(text, 'utf8').toString('base64')
    }
    const out: Record<string, unknown> = {}
    for (const k of keys) out[k] = resolveTemplates(obj[k], scope)
    return out
  }
  return value
}

/** Largest generated value: bigger than any sane limit, small enough for memory. */
const MAX_GENERATED_BYTES = 64 * 1024 * 1024

function bytesOf(n: unknown): string {
  const size = toBigInt(n)
  if (size === null || size < 0n || size > BigInt(MAX_GENERATED_BYTES)) {
    throw new TemplateError(`$bytes: bad size ${JSON.stringify(n)}`)
  }
  return Buffer.alloc(Number(size), 0x78).toString('base64')
}

export function toBigInt(v: unknown): bigint | null {
  if (typeof v === 'bigint') return v
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v)
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return BigInt(v.trim())
  return null
}

export function varintHex(n: bigint): string {
  const size = uint64Size(n)
  if (size < 0) throw new TemplateError(`varint of ${n}: outside [0, 2^64)`)
  const out = new Uint8Array(size)
  writeUint64(out, 0, n)
  return Buffer.from(out).toString('hex')
}

export function hexToBytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '')
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) throw new TemplateError(`bad hex: ${hex.slice(0, 40)}`)
  return Uint8Array.from(Buffer.from(clean, 'hex'))
}
