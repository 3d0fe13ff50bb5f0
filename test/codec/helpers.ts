// Shared by the codec tests: the committed codec vectors, a seeded PRNG, and
// fast-check arbitraries derived from the proto descriptors (so every frame
// type and field is covered without a hand-written generator per message).
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type DescField, type DescMessage, type JsonValue, ScalarType, create, toJson } from '@bufbuild/protobuf'
import fc from 'fast-check'
import type { BatchLimits, CodecErrorCode } from '../../src/codec/index.js'
import { NATIVE_MIN_CHARS } from '../../src/codec/utf8.js'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'

export const root = new URL('../..', import.meta.url).pathname

export interface VectorCase {
  id: string
  description: string
  requirements: string[]
  level: 'MUST' | 'SHOULD'
  form: 'frame' | 'stream'
  hex: string
  frames?: JsonValue[]
  expandedFrames?: JsonValue[]
  canonical?: boolean
  error?: { code: CodecErrorCode; closeCode: number } | { code: 'TRUNCATED_FRAME'; transportLoss: true }
  limits?: Partial<BatchLimits>
  features?: string[]
  needs?: string[]
  notes?: string
  file: string
}

export function loadCodecVectors(): VectorCase[] {
  const dir = join(root, 'vectors/codec')
  const out: VectorCase[] = []
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.json')) continue
    const doc = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { kind?: string; cases: VectorCase[] }
    if (doc.kind !== 'codec') continue
    for (const c of doc.cases) out.push({ ...c, file: name })
  }
  return out
}

export const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))
export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
export const json = (f: Frame): JsonValue => toJson(FrameSchema, f)

/** mulberry32: small, seedable, good enough to pick split points. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function seedOf(s: string): number {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}

/** `bytes` cut into chunks at random points (seeded). */
export function randomChunks(bytes: Uint8Array, rnd: () => number, maxChunk = 64): Uint8Array[] {
  const out: Uint8Array[] = []
  let pos = 0
  while (pos < bytes.length) {
    const n = 1 + Math.floor(rnd() * Math.min(maxChunk, bytes.length - pos))
    out.push(bytes.subarray(pos, pos + n))
    pos += n
  }
  return out
}

// ---- arbitraries from descriptors --------------------------------------------

export interface ArbOptions {
  /** Strings with lone surrogates too (they do not round-trip, but encoders must agree). */
  loneSurrogates?: boolean
  /** Enum values outside the declared ones. */
  unknownEnums?: boolean
  maxDepth?: number
}

const U64_MAX = (1n << 64n) - 1n
const LONG = { minLength: NATIVE_MIN_CHARS, maxLength: 2 * NATIVE_MIN_CHARS }

function scalarArb(t: ScalarType, o: ArbOptions): fc.Arbitrary<unknown> {
  switch (t) {
    case ScalarType.STRING:
      // Both sides of the hot codec's UTF-8 threshold: short strings take its
      // JS loop, strings of NATIVE_MIN_CHARS or more TextEncoder/TextDecoder.
      return o.loneSurrogates
        ? fc.oneof(fc.string({ unit: 'binary', maxLength: 24 }), fc.string({ unit: 'binary', ...LONG }))
        : fc.oneof(
            fc.string({ maxLength: 24 }),
            fc.string({ unit: 'grapheme', maxLength: 12 }),
            fc.string(LONG),
            fc.string({ unit: 'grapheme', ...LONG }),
          )
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 40 })
    case ScalarType.BOOL:
      return fc.boolean()
    case ScalarType.UINT32:
      return fc.oneof(
        fc.constantFrom(0, 1, 127, 128, 16383, 16384, 4294967295),
        fc.nat(),
        fc.integer({ min: 0, max: 4294967295 }),
      )
    case ScalarType.UINT64:
      return fc.oneof(
        fc.constantFrom(
          0n,
          1n,
          127n,
          128n,
          (1n << 32n) - 1n,
          1n << 32n,
          (1n << 53n) - 1n,
          1n << 53n,
          (1n << 53n) + 1n,
          U64_MAX,
        ),
        fc.bigInt({ min: 0n, max: U64_MAX }),
        fc.bigInt({ min: 0n, max: 1n << 45n }),
      )
    default:
      throw new Error(`no arbitrary for scalar type ${t}`)
  }
}

function fieldArb(f: DescField, o: ArbOptions, depth: number): fc.Arbitrary<unknown> | undefined {
  switch (f.fieldKind) {
    case 'scalar':
      return scalarArb(f.scalar, o)
    case 'enum': {
      const known = fc.constantFrom(...f.enum.values.map((v) => v.number))
      return o.unknownEnums ? fc.oneof(known, fc.integer({ min: -2147483648, max: 2147483647 })) : known
    }
    case 'message':
      return depth >= (o.maxDepth ?? 4) ? undefined : messageInitArb(f.message, o, depth + 1)
    case 'list': {
      const item =
        f.listKind === 'scalar'
          ? scalarArb(f.scalar, o)
          : f.listKind === 'enum'
            ? fc.constantFrom(...f.enum.values.map((v) => v.number))
            : depth >= (o.maxDepth ?? 4)
              ? undefined
              : messageInitArb(f.message, o, depth + 1)
      return item === undefined ? undefined : fc.array(item, { maxLength: 4 })
    }
    case 'map':
      return undefined
  }
}

/** An init object for `desc` (fields optional, one oneof case or none). */
export function messageInitArb(
  desc: DescMessage,
  o: ArbOptions = {},
  depth = 0,
): fc.Arbitrary<Record<string, unknown>> {
  const record: Record<string, fc.Arbitrary<unknown>> = {}
  for (const f of desc.fields) {
    if (f.oneof !== undefined) continue
    const a = fieldArb(f, o, depth)
    if (a !== undefined) record[f.localName] = a
  }
  const base = fc.record(record, { requiredKeys: [] })
  if (desc.oneofs.length === 0) return base
  const oneof = desc.oneofs[0]
  if (oneof === undefined) return base
  const cases = oneof.fields.flatMap((f) => {
    const a = fieldArb(f, o, depth)
    return a === undefined ? [] : [a.map((value) => ({ case: f.localName, value }))]
  })
  return fc
    .tuple(base, fc.option(fc.oneof(...cases), { freq: 8 }))
    .map(([b, c]) => (c === null ? b : { ...b, [oneof.localName]: c }))
}

/** Arbitrary frames of every body type (and none). */
export function frameArb(o: ArbOptions = {}): fc.Arbitrary<Frame> {
  return messageInitArb(FrameSchema, o).map((init) => create(FrameSchema, init as never))
}

/** Arbitrary frames of one body kind. */
export function frameOfKindArb(kind: string, o: ArbOptions = {}): fc.Arbitrary<Frame> {
  const field = FrameSchema.fields.find((f) => f.localName === kind)
  if (field === undefined) throw new Error(`no body ${kind}`)
  const a = fieldArb(field, o, 0)
  if (a === undefined) throw new Error(`no arbitrary for ${kind}`)
  return a.map((value) => create(FrameSchema, { body: { case: kind, value } } as never))
}

export const FRAME_KINDS: string[] = FrameSchema.fields.map((f) => f.localName)

const PHRASES = [
  'ok',
  'see you at 6?',
  'lunch today?',
  'sure 👍',
  'running late',
  'did you push the fix?',
  'CI is green',
  'haha',
]

/** A realistic chat Deliver: short varied text, random-looking client id. */
export function chatDeliver(i: number): Frame {
  const rnd = prng(i + 1)
  const user = ['alice', 'bob', 'carol', 'dave'][i % 4] as string
  return create(FrameSchema, {
    body: {
      case: 'deliver',
      value: {
        message: {
          conversationId: 'conv-1',
          seq: BigInt(1000 + i),
          messageId: `m-${(0x5f3a0000 + i * 37).toString(16)}`,
          senderUserId: user,
          senderDeviceId: `${user}-phone`,
          clientMsgId: Uint8Array.from({ length: 16 }, () => Math.floor(rnd() * 256)),
          serverTimeMs: 1763800000000n + BigInt(i * 1500),
          contentType: 'text/plain',
          body: new TextEncoder().encode(
            `${PHRASES[(i * 7) % PHRASES.length]}${i % 3 === 0 ? ` #${(i * 7919) % 1000}` : ''}`,
          ),
        },
        epoch: 1n,
      },
    },
  })
}
