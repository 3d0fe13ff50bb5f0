// Every codec vector, as data: decoded whole, fed to the stream decoder one
// byte at a time and at seeded random split points, re-encoded, and checked
// against a second generated codec (ts-proto) byte for byte. Frames compare as
// JSON values in canonical proto3 JSON, the equality vectors/README.md defines
// (canonical-json.test.ts checks that both sides are in that form).
import { fromJson, toBinary } from '@bufbuild/protobuf'
import t from 'tap'
import {
  CodecError,
  DEFAULT_BATCH_LIMITS,
  decodeBatch,
  decodeWire,
  delimit,
  encodeBatchPayload,
  encodeFrame,
  encodeFrameDelimited,
  expandBatches,
  StreamDecoder,
} from '../../src/codec/index.js'
import { CloseCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { Frame as TsFrame } from '../gen/tsproto/imwire/v1/frame.js'
import { fromHex, json, loadCodecVectors, prng, randomChunks, seedOf, toHex, type VectorCase } from './helpers.js'

const vectors = loadCodecVectors()

/** A failure is its code and its close code; 'transport loss' for a stream cut inside a frame [FRM-8]. */
type Outcome = { frames: unknown[]; expanded: unknown[] } | { code: string; close: number | 'transport loss' }

function failure(err: CodecError): Outcome {
  return { code: err.code, close: err.closeCode === CloseCode.UNSPECIFIED ? 'transport loss' : err.closeCode }
}

/** Runs the stream decoder over `chunks`, then expands batches like decodeWire. */
function viaChunks(c: VectorCase, chunks: Uint8Array[]): Outcome {
  const limits = { ...DEFAULT_BATCH_LIMITS, ...c.limits }
  const dec = new StreamDecoder({ maxFrameBytes: limits.maxFrameBytes })
  const frames: Frame[] = []
  try {
    for (const ch of chunks) frames.push(...dec.push(ch))
    dec.end()
    const expanded = frames.flatMap((f) => (f.body.case === 'batch' ? decodeBatch(f, limits) : [f]))
    return { frames: frames.map(json), expanded: expanded.map(json) }
  } catch (err) {
    if (!(err instanceof CodecError)) throw err
    return failure(err)
  }
}

function expected(c: VectorCase): Outcome {
  if (c.error !== undefined)
    return { code: c.error.code, close: 'transportLoss' in c.error ? 'transport loss' : c.error.closeCode }
  const frames = c.frames ?? []
  return { frames, expanded: c.expandedFrames ?? frames }
}

function whole(c: VectorCase): Outcome {
  try {
    const decoded = decodeWire(fromHex(c.hex), c.form, c.limits)
    return { frames: decoded.map((d) => json(d.frame)), expanded: expandBatches(decoded).map(json) }
  } catch (err) {
    if (!(err instanceof CodecError)) throw err
    return failure(err)
  }
}

/**
 * Vectors where ts-proto (2.x, the options in buf.gen.yaml) breaks the
 * protobuf decoding rules the vectors pin [GEN-1]: it replaces a repeated
 * message field instead of merging it, and generates a oneof as separate
 * fields, so two body fields both survive. Only non-canonical inputs are
 * affected; on every canonical vector ts-proto agrees byte for byte. These
 * vectors are exactly what a codegen consumer's runtime must be checked on.
 */
const TS_PROTO_DEVIATIONS: Record<string, string> = {
  'frame.deliver.message-merged': 'the second Deliver.message replaces the first instead of merging',
  'frame.body-last-wins': 'a oneof is separate fields: both send and ping are kept and re-encoded',
  'frame.body-same-field-merged': 'the second send body replaces the first instead of merging',
}

/** Every frame of a vector decoded and re-encoded by ts-proto, in the vector's form. */
function reencodeTsProto(c: VectorCase): Uint8Array {
  const bytes = fromHex(c.hex)
  const frameBytes: Uint8Array[] = []
  if (c.form === 'frame') frameBytes.push(bytes)
  else new StreamDecoder({ maxFrameBytes: bytes.length + 1 }).feed(bytes, (_f, b) => void frameBytes.push(b))
  const re = frameBytes.map((b) => TsFrame.encode(TsFrame.decode(b)).finish())
  return Buffer.concat(c.form === 'frame' ? re : re.map(delimit))
}

t.ok(vectors.length >= 90, `at least 90 codec vectors (found ${vectors.length})`)
t.same(new Set(vectors.map((v) => v.id)).size, vectors.length, 'vector ids are unique')
for (const id of Object.keys(TS_PROTO_DEVIATIONS))
  t.ok(
    vectors.some((v) => v.id === id && v.canonical === false),
    `ts-proto deviation ${id} names a non-canonical vector`,
  )

for (const c of vectors) {
  t.test(`${c.id} (${c.file})`, async (t) => {
    const bytes = fromHex(c.hex)
    const want = expected(c)
    t.same(whole(c), want, 'decoded whole in its form')
    // The stream form under any chunking; a frame-form vector is the same
    // frame behind a length prefix, so the outcome must not change either.
    const streamBytes = c.form === 'stream' ? bytes : delimit(bytes)
    const single = Array.from(streamBytes, (b) => Uint8Array.of(b))
    t.same(viaChunks(c, single), want, 'fed one byte at a time')
    const rnd = prng(seedOf(c.id))
    for (let i = 0; i < 3; i++)
      t.same(viaChunks(c, randomChunks(streamBytes, rnd)), want, `split at random points #${i}`)
    if (c.frames === undefined) return
    const frames = c.frames.map((j) => fromJson(FrameSchema, j))
    if (c.canonical !== false) {
      // [FRM-11] encoding the decoded frames gives the vector bytes, with our
      // encoder (hot path included), protobuf-es and ts-proto alike.
      const ours =
        c.form === 'frame' ? encodeFrame(frames[0] as Frame) : Buffer.concat(frames.map(encodeFrameDelimited))
      t.equal(toHex(ours), c.hex, 'our encoder reproduces the bytes')
      const es = Buffer.concat(
        frames.map((f) => (c.form === 'frame' ? toBinary(FrameSchema, f) : delimit(toBinary(FrameSchema, f)))),
      )
      t.equal(toHex(es), c.hex, 'protobuf-es reproduces the bytes')
      t.equal(toHex(reencodeTsProto(c)), c.hex, 'ts-proto decodes and re-encodes the same bytes')
    } else {
      // Non-canonical bytes: both generated codecs read them and write the
      // same canonical bytes, which are protobuf-es's encoding of the frames.
      const es = Buffer.concat(
        frames.map((f) => (c.form === 'frame' ? toBinary(FrameSchema, f) : delimit(toBinary(FrameSchema, f)))),
      )
      const deviation = TS_PROTO_DEVIATIONS[c.id]
      if (deviation === undefined)
        t.equal(toHex(reencodeTsProto(c)), toHex(es), 'ts-proto and protobuf-es agree on the canonical bytes')
      else t.not(toHex(reencodeTsProto(c)), toHex(es), `known ts-proto deviation (remove it when fixed): ${deviation}`)
    }
    for (const f of frames) {
      if (f.body.case !== 'batch' || f.body.value.codec !== 1) continue
      const inner = decodeBatch(f, { ...DEFAULT_BATCH_LIMITS, ...c.limits })
      t.equal(
        toHex(encodeBatchPayload(inner)),
        toHex(f.body.value.payload),
        'a plain batch payload is its frames re-encoded',
      )
    }
  })
}
