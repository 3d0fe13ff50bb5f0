// Every codec vector, as data: decoded whole, fed to the stream decoder one
// byte at a time and at seeded random split points, re-encoded, and checked
// against a second generated codec (ts-proto) byte for byte.
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
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { Frame as TsFrame } from '../../src/gen/tsproto/imwire/v1/frame.js'
import { fromHex, json, loadCodecVectors, prng, randomChunks, seedOf, toHex, type VectorCase } from './helpers.js'

const vectors = loadCodecVectors()

type Outcome = { frames: unknown[]; expanded: unknown[] } | { code: string; closeCode: number }

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
    return { code: err.code, closeCode: err.closeCode }
  }
}

function expected(c: VectorCase): Outcome {
  if (c.error !== undefined) return { code: c.error.code, closeCode: c.error.closeCode }
  const frames = c.frames ?? []
  return { frames, expanded: c.expandedFrames ?? frames }
}

function whole(c: VectorCase): Outcome {
  try {
    const decoded = decodeWire(fromHex(c.hex), c.form, c.limits)
    return { frames: decoded.map((d) => json(d.frame)), expanded: expandBatches(decoded).map(json) }
  } catch (err) {
    if (!(err instanceof CodecError)) throw err
    return { code: err.code, closeCode: err.closeCode }
  }
}

t.ok(vectors.length >= 90, `at least 90 codec vectors (found ${vectors.length})`)
t.same(new Set(vectors.map((v) => v.id)).size, vectors.length, 'vector ids are unique')

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
      const parts: Uint8Array[] = []
      let pos = 0
      for (const f of frames) {
        const len = c.form === 'frame' ? bytes.length : toBinary(FrameSchema, f).length
        if (c.form === 'stream') pos += delimit(new Uint8Array(len)).length - len
        const re = TsFrame.encode(TsFrame.decode(bytes.subarray(pos, pos + len))).finish()
        parts.push(c.form === 'frame' ? re : delimit(re))
        pos += len
      }
      t.equal(toHex(Buffer.concat(parts)), c.hex, 'ts-proto decodes and re-encodes the same bytes')
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
