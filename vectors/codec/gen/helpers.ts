// Building blocks for the codec vector generator: byte builders for hand-made
// wire bytes, frame constructors, and case constructors that check every case
// against the reference codec before it is written (a case the codec does not
// agree with stops the generator instead of becoming a wrong golden file).
import { create, type MessageInitShape, type JsonValue, toBinary, toJson } from '@bufbuild/protobuf'
import { type Frame, FrameSchema } from '../../../src/gen/es/imwire/v1/frame_pb.js'
import {
  CodecError,
  type CodecErrorCode,
  closeCodeFor,
  decodeWire,
  delimit,
  encodeFrame,
  expandBatches,
  type WireForm,
} from '../../../src/codec/index.js'

export interface Limits {
  maxFrameBytes?: number
  maxBatchBytes?: number
  maxBatchFrames?: number
  lz4Enabled?: boolean
}

export interface VectorCase {
  id: string
  description: string
  requirements: string[]
  level: 'MUST' | 'SHOULD'
  form: WireForm
  hex: string
  frames?: JsonValue[]
  expandedFrames?: JsonValue[]
  canonical?: false
  error?: { code: CodecErrorCode; closeCode: number } | { code: 'TRUNCATED_FRAME'; transportLoss: true }
  limits?: Limits
  features?: ['lz4']
  needs?: Need[]
  notes?: string
}

/**
 * Checks beyond a stock protobuf runtime that a case needs (vectors/README.md).
 * 'strict-wire': a wire rule conformant parsers relax by design: a known field
 * with a mismatched wire type is read as unknown, varint bits above 64 are
 * dropped, an end-group tag ends the message. [FRM-5] refuses them all.
 */
export type Need = 'strict-wire'

export type FrameInit = MessageInitShape<typeof FrameSchema>

export const frame = (init: FrameInit = {}): Frame => create(FrameSchema, init)

// ---- bytes ----------------------------------------------------------------

export type Part = Uint8Array | readonly number[] | string | number

/** Concatenation; a string part is hex (spaces allowed), a number one byte. */
export function bytes(...parts: Part[]): Uint8Array {
  const arrays = parts.map((p) => {
    if (typeof p === 'number') return Uint8Array.of(p)
    if (typeof p === 'string') return Uint8Array.from(Buffer.from(p.replace(/\s+/g, ''), 'hex'))
    return p instanceof Uint8Array ? p : Uint8Array.from(p)
  })
  return Uint8Array.from(Buffer.concat(arrays))
}

export function varint(v: number | bigint): Uint8Array {
  let n = BigInt(v)
  if (n < 0n) n += 1n << 64n // int32/int64 negatives: 10-byte two's complement
  const out: number[] = []
  while (n > 0x7fn) {
    out.push(Number(n & 0x7fn) | 0x80)
    n >>= 7n
  }
  out.push(Number(n))
  return Uint8Array.from(out)
}

export const WT = { varint: 0, i64: 1, len: 2, sgroup: 3, egroup: 4, i32: 5 } as const

export const tag = (field: number, wire: number): Uint8Array => varint(field * 8 + wire)
export const ld = (field: number, ...content: Part[]): Uint8Array => {
  const c = bytes(...content)
  return bytes(tag(field, WT.len), varint(c.length), c)
}
export const vf = (field: number, v: number | bigint): Uint8Array => bytes(tag(field, WT.varint), varint(v))
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Canonical frame bytes from protobuf-es (the reference encoder). */
export const pb = (f: Frame): Uint8Array => toBinary(FrameSchema, f)
/** Canonical stream bytes: each frame size-delimited. */
export const stream = (...fs: Frame[]): Uint8Array => bytes(...fs.map((f) => delimit(pb(f))))

/** Deterministic bytes (xorshift32) for incompressible payloads. */
export function noise(seed: number, n: number): Uint8Array {
  let x = seed >>> 0 || 1
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

export const json = (f: Frame): JsonValue => toJson(FrameSchema, f)

// ---- cases ----------------------------------------------------------------

interface Common {
  id: string
  description: string
  requirements: string[]
  level?: 'MUST' | 'SHOULD'
  form?: WireForm
  limits?: Limits
  notes?: string
}

function fail(id: string, why: string): never {
  throw new Error(`vector ${id}: ${why}`)
}

function features(frames: readonly Frame[], limits: Limits | undefined): ['lz4'] | undefined {
  const lz4 = frames.some((f) => f.body.case === 'batch' && f.body.value.codec === 2)
  return lz4 && limits?.lz4Enabled !== false ? ['lz4'] : undefined
}

/**
 * A valid case. `hex` defaults to the canonical encoding of `frames`; when
 * given and different from it, the case is marked non-canonical. `expanded`
 * is required when a frame is a batch: the frames the batch was built from.
 */
export function valid(c: Common & { frames: Frame[]; hex?: Uint8Array; expanded?: Frame[] }): VectorCase {
  const form = c.form ?? 'frame'
  if (form === 'frame' && c.frames.length !== 1) fail(c.id, 'form frame needs exactly one frame')
  const canonicalBytes = form === 'frame' ? pb(c.frames[0] as Frame) : stream(...c.frames)
  const wire = c.hex ?? canonicalBytes
  const canonical = hex(wire) === hex(canonicalBytes)
  // Self-check against the reference codec: decode, expand, re-encode.
  const decoded = decodeWire(wire, form, c.limits)
  const want = c.frames.map(json)
  const got = decoded.map((d) => json(d.frame))
  if (JSON.stringify(got) !== JSON.stringify(want)) fail(c.id, `decodes to ${JSON.stringify(got)}`)
  const hasBatch = c.frames.some((f) => f.body.case === 'batch')
  let expandedFrames: JsonValue[] | undefined
  if (hasBatch) {
    if (c.expanded === undefined) fail(c.id, 'batch case without expanded frames')
    expandedFrames = c.expanded.map(json)
    if (JSON.stringify(expandBatches(decoded).map(json)) !== JSON.stringify(expandedFrames)) {
      fail(c.id, 'batch expands to other frames')
    }
  }
  if (canonical) {
    const ours =
      form === 'frame' ? encodeFrame(c.frames[0] as Frame) : bytes(...c.frames.map((f) => delimit(encodeFrame(f))))
    if (hex(ours) !== hex(wire)) fail(c.id, 'the codec encodes other bytes than protobuf-es')
  }
  const out: VectorCase = {
    id: c.id,
    description: c.description,
    requirements: c.requirements,
    level: c.level ?? 'MUST',
    form,
    hex: hex(wire),
    frames: want,
  }
  if (expandedFrames !== undefined) out.expandedFrames = expandedFrames
  if (!canonical) out.canonical = false
  if (c.limits !== undefined) out.limits = c.limits
  const feats = features(c.frames, c.limits)
  if (feats !== undefined) out.features = feats
  if (c.notes !== undefined) out.notes = c.notes
  return out
}

/** An error case; the reference codec must fail with `code`. */
export function invalid(
  c: Common & { hex: Uint8Array; code: CodecErrorCode; lz4?: boolean; needs?: Need[] },
): VectorCase {
  const form = c.form ?? 'frame'
  try {
    decodeWire(c.hex, form, c.limits)
    fail(c.id, 'decodes without error')
  } catch (err) {
    if (!(err instanceof CodecError)) throw err
    if (err.code !== c.code) fail(c.id, `fails with ${err.code}, expected ${c.code}`)
  }
  const out: VectorCase = {
    id: c.id,
    description: c.description,
    requirements: c.requirements,
    level: c.level ?? 'MUST',
    form,
    hex: hex(c.hex),
    // [FRM-8] a stream cut inside a frame is a transport loss: no close code.
    error:
      c.code === 'TRUNCATED_FRAME'
        ? { code: c.code, transportLoss: true }
        : { code: c.code, closeCode: closeCodeFor[c.code] },
  }
  if (c.limits !== undefined) out.limits = c.limits
  if (c.lz4 === true) out.features = ['lz4']
  if (c.needs !== undefined) out.needs = c.needs
  if (c.notes !== undefined) out.notes = c.notes
  return out
}
