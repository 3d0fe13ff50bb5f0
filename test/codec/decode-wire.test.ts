// The whole receive path on hostile input: decodeWire (stream or frame form,
// batches expanded, plain and LZ4) fed arbitrary and mutated bytes returns
// frames or throws a CodecError, nothing else. [FRM-5] [BAT-6] [BAT-9]
import fc from 'fast-check'
import t from 'tap'
import { CodecError, decodeWire, encodeFrame, type WireForm } from '../../src/codec/index.js'
import { fromHex, loadCodecVectors } from './helpers.js'

const limits = { maxFrameBytes: 4096, maxBatchBytes: 8192, maxBatchFrames: 64 }

t.test('arbitrary or mutated wire bytes give frames or a CodecError, in both forms', async (t) => {
  const seeds = loadCodecVectors()
    .filter((c) => c.hex.length < 8000)
    .map((c) => [fromHex(c.hex), c.form] as const)
  t.ok(seeds.length > 100, `${seeds.length} vectors to mutate`)
  const input = fc.oneof(
    fc.tuple(fc.uint8Array({ maxLength: 400 }), fc.constantFrom<WireForm>('stream', 'frame')),
    fc
      .tuple(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(6),
      )
      .map(([[b, form], edits, cut]) => {
        const m = Uint8Array.from(b)
        for (const [at, v] of edits) if (m.length > 0) m[at % m.length] = v
        return [m.subarray(0, Math.max(0, m.length - cut)), form] as const
      }),
  )
  let frames = 0
  let errors = 0
  fc.assert(
    fc.property(input, ([bytes, form]) => {
      try {
        const out = decodeWire(bytes, form, limits)
        frames += out.length
        // What was accepted is a frame the codec can write again.
        for (const d of out) encodeFrame(d.frame)
        return true
      } catch (err) {
        if (!(err instanceof CodecError)) throw err
        errors++
        return err.offset === undefined || (err.offset >= 0 && err.offset <= bytes.length)
      }
    }),
    { numRuns: 2000, seed: 31 },
  )
  t.ok(frames > 0 && errors > 0, `both outcomes exercised (${frames} frames, ${errors} errors)`)
})
