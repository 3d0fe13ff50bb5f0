// decodeBatch: limits checked from the header before any allocation, the
// spec's validation order, and only CodecError on arbitrary or mutated
// batches. [BAT-2]..[BAT-16]
import { create } from '@bufbuild/protobuf'
import fc from 'fast-check'
import t from 'tap'
import {
  type BatchLimits,
  CodecError,
  DEFAULT_BATCH_LIMITS,
  decodeBatch,
  decodeFrame,
  encodeBatch,
  encodeBatchPayload,
  encodeFrame,
} from '../../src/codec/index.js'
import { BatchCodec, type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { fromHex, loadCodecVectors } from './helpers.js'

const ping = (n: number): Frame => create(FrameSchema, { body: { case: 'ping', value: { nonce: BigInt(n) } } })
const batch = (v: { codec: number; count: number; uncompressedLength: number; payload: Uint8Array }): Frame =>
  create(FrameSchema, { body: { case: 'batch', value: v } })

function codeOf(f: Frame, limits: Partial<BatchLimits> = {}): string | undefined {
  try {
    decodeBatch(f, { ...DEFAULT_BATCH_LIMITS, ...limits })
  } catch (err) {
    if (err instanceof CodecError) return err.code
    throw err
  }
  return undefined
}

t.test('refuses an oversized declared length before allocating: a 4 GiB claim costs nothing', async (t) => {
  const claim = batch({
    codec: BatchCodec.LZ4_BLOCK,
    count: 1,
    uncompressedLength: 0xffffffff,
    payload: fromHex('1f00010000'),
  })
  t.equal(codeOf(claim), 'BATCH_TOO_LARGE', '[BAT-5] [BAT-9]')
  t.equal(
    codeOf(claim, { maxBatchBytes: 0xffffffff, lz4Enabled: false }),
    'BATCH_CODEC_NOT_ENABLED',
    '[HS-6] before the size',
  )
})

t.test('checks in the order of the spec validation steps', async (t) => {
  const two = encodeBatchPayload([ping(1), ping(2)])
  const f = (o: Partial<{ codec: number; count: number; uncompressedLength: number; payload: Uint8Array }>) =>
    batch({ codec: BatchCodec.NONE, count: 2, uncompressedLength: two.length, payload: two, ...o })
  t.equal(codeOf(f({ codec: 9, count: 0 })), 'BATCH_UNKNOWN_CODEC', 'step 1 before step 3')
  t.equal(codeOf(f({ count: 0, uncompressedLength: 1 << 30 })), 'BATCH_COUNT_MISMATCH', 'count 0 before the size')
  t.equal(codeOf(f({ count: 5 }), { maxBatchFrames: 4 }), 'BATCH_TOO_LARGE', 'count over max')
  t.equal(codeOf(f({ uncompressedLength: 99 }), { maxBatchBytes: 50 }), 'BATCH_TOO_LARGE', 'step 4 before step 5')
  t.equal(codeOf(f({ uncompressedLength: 11 })), 'BATCH_LENGTH_MISMATCH', 'step 5')
  t.equal(codeOf(f({ count: 3 })), 'BATCH_COUNT_MISMATCH', 'step 8: fewer frames than count')
  t.equal(codeOf(f({ count: 1 })), 'BATCH_COUNT_MISMATCH', 'step 8: more frames than count')
})

t.test('decodes at most count frames however many the payload holds', async (t) => {
  // 100000 empty frames ("00"): decoding them all would build 100000 objects.
  const payload = new Uint8Array(100000)
  const f = batch({ codec: BatchCodec.NONE, count: 1, uncompressedLength: payload.length, payload })
  t.equal(codeOf(f), 'BATCH_COUNT_MISMATCH')
})

t.test('a batch whose frames are all valid returns them in order', async (t) => {
  const frames = [ping(1), ping(2), ping(3)]
  for (const codec of ['none', 'lz4'] as const) {
    const out = decodeBatch(decodeFrame(encodeFrame(encodeBatch(frames, codec))))
    t.same(
      out.map((x) => (x.body.case === 'ping' ? x.body.value.nonce : -1n)),
      [1n, 2n, 3n],
      codec,
    )
  }
})

t.test('arbitrary and mutated batches only ever give frames or a CodecError', async (t) => {
  const seeds = loadCodecVectors()
    .filter((c) => c.form === 'frame' && c.hex.length < 20000 && c.hex.startsWith('3a'))
    .map((c) => decodeFrame(fromHex(c.hex)))
  t.ok(seeds.length > 10, 'batch vectors to mutate')
  const mutated = fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 5 }),
      fc.option(fc.integer({ min: 0, max: 70000 })),
      fc.option(fc.integer({ min: 0, max: 40 })),
    )
    .map(([f, edits, len, count]) => {
      if (f.body.case !== 'batch') return f
      const v = f.body.value
      const payload = Uint8Array.from(v.payload)
      for (const [at, b] of edits) if (payload.length > 0) payload[at % payload.length] = b
      return batch({
        codec: v.codec,
        count: count ?? v.count,
        uncompressedLength: len ?? v.uncompressedLength,
        payload,
      })
    })
  const arbitrary = fc
    .record({
      codec: fc.integer({ min: 0, max: 3 }),
      count: fc.integer({ min: 0, max: 20 }),
      uncompressedLength: fc.integer({ min: 0, max: 5000 }),
      payload: fc.uint8Array({ maxLength: 300 }),
    })
    .map(batch)
  fc.assert(
    fc.property(fc.oneof(mutated, arbitrary), (f) => {
      try {
        const out = decodeBatch(f, { ...DEFAULT_BATCH_LIMITS, maxBatchBytes: 65536 })
        return f.body.case === 'batch' && out.length === f.body.value.count
      } catch (err) {
        if (err instanceof CodecError) return true
        throw err
      }
    }),
    { numRuns: 500, seed: 11 },
  )
  t.pass('500 batches')
})
