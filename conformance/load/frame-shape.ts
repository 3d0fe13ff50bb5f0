// Load-time check of frames and matchers written in scenario files against
// the proto descriptors: unknown fields, wrong types and unknown enum names
// are vector errors, found before anything is sent. Template strings are
// accepted for any field (their value is only known at run time).
import { type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf'
import { FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { isOperatorObject, MATCHER_OPERATORS } from '../judge/matcher.js'
import { hasTemplate } from '../engine/templating.js'

export type ShapeMode = 'frame' | 'matcher'

/** Problems found in a Frame JSON (exactly one body key). */
export function checkFrameShape(json: unknown, mode: ShapeMode): string[] {
  const errors: string[] = []
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return ['a frame must be an object']
  const alternatives = (json as Record<string, unknown>).$oneOf
  if (mode === 'matcher' && Object.keys(json).length === 1 && Array.isArray(alternatives)) {
    // A frame matcher may accept one of several frames, where the spec allows either ([FLW-7]).
    if (alternatives.length === 0) return ['$oneOf needs at least one frame']
    return alternatives.flatMap((alt, i) => checkFrameShape(alt, mode).map((e) => `$oneOf[${i}]: ${e}`))
  }
  const keys = Object.keys(json)
  if (keys.length !== 1) errors.push(`a frame has exactly one body key, found ${keys.length}`)
  checkMessage(json as Record<string, unknown>, FrameSchema, '', mode, errors)
  return errors
}

/** Problems found in a JSON object of the given message type (e.g. Hello overrides). */
export function checkMessageShape(json: unknown, desc: DescMessage, mode: ShapeMode, allowNull = false): string[] {
  const errors: string[] = []
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return [`expected a ${desc.name} object`]
  const obj = json as Record<string, unknown>
  if (allowNull) {
    const copy: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(obj)) if (v !== null) copy[k] = v
    checkMessage(copy, desc, '', mode, errors)
    for (const k of Object.keys(obj)) if (!findField(desc, k)) errors.push(`${k}: no such field in ${desc.typeName}`)
    return [...new Set(errors)]
  }
  checkMessage(obj, desc, '', mode, errors)
  return errors
}

function findField(desc: DescMessage, key: string): DescField | undefined {
  return desc.fields.find((f) => f.jsonName === key || f.name === key)
}

function checkMessage(
  obj: Record<string, unknown>,
  desc: DescMessage,
  path: string,
  mode: ShapeMode,
  errors: string[],
): void {
  for (const [key, value] of Object.entries(obj)) {
    const p = path === '' ? key : `${path}.${key}`
    const field = findField(desc, key)
    if (!field) {
      errors.push(`${p}: no such field in ${desc.typeName}`)
      continue
    }
    checkField(value, field, p, mode, errors, false)
  }
}

function checkField(
  value: unknown,
  field: DescField,
  path: string,
  mode: ShapeMode,
  errors: string[],
  element: boolean,
): void {
  if (typeof value === 'string' && hasTemplate(value) && !(field.fieldKind === 'message' && !element)) return
  if (isGenerator(value)) {
    if (!isBytesField(field)) errors.push(`${path}: $bytes/$utf8 only stand for bytes fields`)
    return
  }
  if (isOperatorObject(value)) {
    if (mode === 'frame') {
      errors.push(`${path}: matcher operators are not allowed in a frame to send`)
      return
    }
    checkOperators(value, field, path, errors, element)
    return
  }
  if (field.fieldKind === 'list' && !element) {
    if (!Array.isArray(value)) {
      errors.push(`${path}: expected an array`)
      return
    }
    for (const [i, v] of value.entries()) checkField(v, field, `${path}[${i}]`, mode, errors, true)
    return
  }
  if (field.fieldKind === 'map') {
    errors.push(`${path}: map fields are not used in imwire`)
    return
  }
  const kind = field.fieldKind === 'list' ? field.listKind : field.fieldKind
  if (kind === 'message') {
    const msg = field.message as DescMessage
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      errors.push(`${path}: expected a ${msg.name} object`)
    else checkMessage(value as Record<string, unknown>, msg, path, mode, errors)
    return
  }
  if (kind === 'enum') {
    const desc = field.enum
    if (typeof value === 'number' && Number.isInteger(value)) return
    if (typeof value === 'string' && desc?.values.some((v) => v.name === value)) return
    errors.push(`${path}: ${JSON.stringify(value)} is not a value of ${desc?.typeName ?? 'the enum'}`)
    return
  }
  checkScalar(value, field.scalar as ScalarType, path, errors)
}

function isBytesField(field: DescField): boolean {
  return field.scalar === ScalarType.BYTES
}

function isGenerator(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  const keys = Object.keys(v)
  return keys.length === 1 && (keys[0] === '$bytes' || keys[0] === '$utf8')
}

function checkScalar(value: unknown, type: ScalarType | undefined, path: string, errors: string[]): void {
  switch (type) {
    case ScalarType.STRING:
      if (typeof value !== 'string') errors.push(`${path}: expected a string`)
      return
    case ScalarType.BYTES:
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value))
        errors.push(`${path}: expected base64 bytes`)
      return
    case ScalarType.BOOL:
      if (typeof value !== 'boolean') errors.push(`${path}: expected a boolean`)
      return
    default:
      if (
        !(typeof value === 'number' && Number.isInteger(value)) &&
        !(typeof value === 'string' && /^-?\d+$/.test(value))
      ) {
        errors.push(`${path}: expected an integer (number or decimal string)`)
      }
  }
}

function checkOperators(
  ops: Record<string, unknown>,
  field: DescField,
  path: string,
  errors: string[],
  element: boolean,
): void {
  for (const [op, arg] of Object.entries(ops)) {
    if (!(MATCHER_OPERATORS as readonly string[]).includes(op)) {
      errors.push(`${path}: unknown matcher operator ${op}`)
      continue
    }
    const again = (v: unknown, p: string, asElement: boolean) => checkField(v, field, p, 'matcher', errors, asElement)
    switch (op) {
      case '$oneOf':
        if (!Array.isArray(arg)) errors.push(`${path}: $oneOf takes an array`)
        else for (const [i, v] of arg.entries()) again(v, `${path}.$oneOf[${i}]`, element)
        break
      case '$not':
      case '$exact':
        again(arg, `${path}.${op}`, element)
        break
      case '$unordered':
      case '$contains':
        if (field.fieldKind !== 'list' || element) errors.push(`${path}: ${op} applies to repeated fields`)
        else if (!Array.isArray(arg)) errors.push(`${path}: ${op} takes an array`)
        else for (const [i, v] of arg.entries()) again(v, `${path}.${op}[${i}]`, true)
        break
      case '$capture':
        if (typeof arg !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(arg))
          errors.push(`${path}: $capture takes a capture name`)
        break
      case '$regex':
        try {
          new RegExp(String(arg))
        } catch {
          errors.push(`${path}: bad $regex`)
        }
        break
      case '$any':
      case '$absent':
        if (typeof arg !== 'boolean') errors.push(`${path}: ${op} takes a boolean`)
        break
      default:
        break
    }
  }
}
