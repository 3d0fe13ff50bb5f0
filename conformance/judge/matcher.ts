// Partial matching of protobuf-JSON frames against scenario matchers.
//
// Fields named in the matcher must match; fields not named are ignored.
// A plain array matches element-wise, in order, same length. Operator
// objects (every key starts with `$`) test the value; several operators in
// one object must all hold. Captures are collected into `captures` and only
// kept by the caller when the whole match succeeds.
import { toBigInt } from '../engine/templating.js'
import { ENUM_NUMBER_BY_NAME } from './proto-json.js'

export interface Mismatch {
  path: string
  expected: unknown
  actual: unknown
  reason: string
}

export const MATCHER_OPERATORS = [
  '$any',
  '$absent',
  '$capture',
  '$eq',
  '$ne',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$oneOf',
  '$len',
  '$exact',
  '$unordered',
  '$contains',
  '$not',
  '$regex',
] as const

export function isOperatorObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  const keys = Object.keys(v)
  return keys.length > 0 && keys.every((k) => k.startsWith('$'))
}

/** Match actual against expected; returns every mismatch (empty = match). */
export function match(expected: unknown, actual: unknown, captures: Map<string, unknown>, path = ''): Mismatch[] {
  const out: Mismatch[] = []
  matchInto(expected, actual, captures, path, out, false)
  return out
}

function matchInto(
  exp: unknown,
  act: unknown,
  caps: Map<string, unknown>,
  path: string,
  out: Mismatch[],
  exact: boolean,
): void {
  if (isOperatorObject(exp)) {
    matchOperators(exp, act, caps, path, out)
    return
  }
  if (Array.isArray(exp)) {
    const arr = Array.isArray(act) ? act : act === undefined ? [] : null
    if (arr === null) {
      out.push({ path, expected: exp, actual: act, reason: 'expected an array' })
      return
    }
    if (arr.length !== exp.length) {
      out.push({ path, expected: exp, actual: act, reason: `expected ${exp.length} elements, got ${arr.length}` })
      return
    }
    for (const [i, e] of exp.entries()) matchInto(e, arr[i], caps, `${path}[${i}]`, out, exact)
    return
  }
  if (exp !== null && typeof exp === 'object') {
    const obj = exp as Record<string, unknown>
    if (act === null || typeof act !== 'object' || Array.isArray(act)) {
      out.push({ path, expected: exp, actual: act, reason: act === undefined ? 'field missing' : 'expected an object' })
      return
    }
    const a = act as Record<string, unknown>
    for (const [k, v] of Object.entries(obj)) matchInto(v, a[k], caps, path === '' ? k : `${path}.${k}`, out, exact)
    if (exact) {
      for (const [k, v] of Object.entries(a)) {
        if (!(k in obj) && !isDefault(v))
          out.push({ path: joinPath(path, k), expected: '(default)', actual: v, reason: 'unexpected field ($exact)' })
      }
    }
    return
  }
  if (!scalarEquals(exp, act))
    out.push({ path, expected: exp, actual: act, reason: act === undefined ? 'field missing' : 'not equal' })
}

function joinPath(path: string, k: string): string {
  return path === '' ? k : `${path}.${k}`
}

function matchOperators(
  ops: Record<string, unknown>,
  act: unknown,
  caps: Map<string, unknown>,
  path: string,
  out: Mismatch[],
): void {
  const fail = (reason: string, expected: unknown = ops) => out.push({ path, expected, actual: act, reason })
  for (const [op, arg] of Object.entries(ops)) {
    switch (op) {
      case '$any':
        break
      case '$absent':
        if (arg === true && !isDefault(act)) fail('expected the field to be absent (default)')
        if (arg === false && isDefault(act)) fail('expected the field to be set')
        break
      case '$capture':
        caps.set(String(arg), act)
        break
      case '$eq':
        if (!deepEquals(arg, act)) fail('not equal', arg)
        break
      case '$ne':
        if (deepEquals(arg, act)) fail('expected a different value', { $ne: arg })
        break
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte': {
        const a = toBigInt(act ?? 0)
        const b = toBigInt(arg)
        if (a === null || b === null) {
          fail(`${op}: not an integer`)
          break
        }
        const ok = op === '$gt' ? a > b : op === '$gte' ? a >= b : op === '$lt' ? a < b : a <= b
        if (!ok) fail(`expected ${op.slice(1)} ${String(arg)}`, { [op]: arg })
        break
      }
      case '$oneOf': {
        const alts = Array.isArray(arg) ? arg : []
        if (!alts.some((alt) => match(alt, act, new Map()).length === 0))
          fail('matches none of $oneOf', { $oneOf: arg })
        else for (const alt of alts) if (match(alt, act, caps).length === 0) break
        break
      }
      case '$len': {
        const len = Array.isArray(act) ? act.length : typeof act === 'string' ? act.length : act === undefined ? 0 : -1
        if (toBigInt(arg) !== BigInt(len)) fail(`expected length ${String(arg)}, got ${len}`, { $len: arg })
        break
      }
      case '$exact':
        matchInto(arg, act, caps, path, out, true)
        break
      case '$unordered':
      case '$contains': {
        const exp = Array.isArray(arg) ? arg : []
        const arr = Array.isArray(act) ? act : act === undefined ? [] : null
        if (arr === null) {
          fail('expected an array')
          break
        }
        if (op === '$unordered' && arr.length !== exp.length) {
          fail(`expected ${exp.length} elements in any order, got ${arr.length}`)
          break
        }
        const assignment = assign(exp, arr)
        if (assignment === null)
          fail(op === '$unordered' ? 'elements do not match in any order' : 'missing expected elements')
        else for (const [ei, ai] of assignment.entries()) match(exp[ei], arr[ai], caps)
        break
      }
      case '$not':
        if (match(arg, act, new Map()).length === 0) fail('matched $not', { $not: arg })
        break
      case '$regex':
        if (typeof act !== 'string' || !new RegExp(String(arg)).test(act))
          fail(`expected to match /${String(arg)}/`, { $regex: arg })
        break
      default:
        fail(`unknown matcher operator ${op}`)
    }
  }
}

/**
 * A distinct actual element for every expected element (bipartite matching
 * by augmenting paths), or null. Result[i] = index in actual for expected i.
 */
export function assign(expected: unknown[], actual: unknown[]): number[] | null {
  const ok = expected.map((e) => actual.map((a) => match(e, a, new Map()).length === 0))
  const owner = new Array<number>(actual.length).fill(-1)
  const tryAssign = (ei: number, seen: boolean[]): boolean => {
    for (let ai = 0; ai < actual.length; ai++) {
      if (!ok[ei]?.[ai] || seen[ai]) continue
      seen[ai] = true
      if (owner[ai] === -1 || tryAssign(owner[ai] as number, seen)) {
        owner[ai] = ei
        return true
      }
    }
    return false
  }
  for (let ei = 0; ei < expected.length; ei++)
    if (!tryAssign(ei, new Array<boolean>(actual.length).fill(false))) return null
  const result = new Array<number>(expected.length).fill(-1)
  owner.forEach((ei, ai) => {
    if (ei >= 0) result[ei] = ai
  })
  return result
}

/** The proto3 default (= unset) values as they appear in protobuf JSON. */
export function isDefault(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '' || v === '0') return true
  if (Array.isArray(v)) return v.length === 0
  if (typeof v === 'string') return v.endsWith('_UNSPECIFIED')
  return false
}

function scalarEquals(exp: unknown, act: unknown): boolean {
  if (act === undefined) return isDefault(exp)
  if (exp === act) return true
  // enums: a number matches the value's name
  if (typeof exp === 'number' && typeof act === 'string' && ENUM_NUMBER_BY_NAME.has(act))
    return ENUM_NUMBER_BY_NAME.get(act) === exp
  // integers: uint64 arrives as a string, vectors may write numbers
  const a = toBigInt(exp)
  const b = toBigInt(act)
  if (a !== null && b !== null && typeof exp !== 'boolean' && typeof act !== 'boolean') return a === b
  return false
}

export function deepEquals(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEquals(x, b[i]))
  if (
    a !== null &&
    b !== null &&
    typeof a === 'object' &&
    typeof b === 'object' &&
    !Array.isArray(a) &&
    !Array.isArray(b)
  ) {
    const ka = Object.keys(a)
    const kb = Object.keys(b)
    return (
      ka.length === kb.length &&
      ka.every((k) => deepEquals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    )
  }
  return scalarEquals(a, b)
}
