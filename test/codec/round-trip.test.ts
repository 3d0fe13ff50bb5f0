// Property tests: every frame type round-trips through the codec, in both
// wire forms and inside batches, and the codec's bytes are protobuf-es's.
import { equals, toBinary } from '@bufbuild/protobuf'
import fc from 'fast-check'
import t from 'tap'
import {
  batchPayloadFromEncoded,
  decodeBatch,
  decodeFrame,
  encodeBatch,
  encodeBatchPayload,
  encodeFrame,
  encodeFrameDelimited,
  StreamDecoder,
} from '../../src/codec/index.js'
import { FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { FRAME_KINDS, frameArb, frameOfKindArb, toHex } from './helpers.js'

const noBatch = (k: string) => k !== 'batch'

for (const kind of FRAME_KINDS) {
  t.test(`arbitrary ${kind} frames round-trip, canonically encoded`, async (t) => {
    fc.assert(
      fc.property(frameOfKindArb(kind, { unknownEnums: true }), (f) => {
        const bytes = encodeFrame(f)
        if (toHex(bytes) !== toHex(toBinary(FrameSchema, f))) return false
        const back = decodeFrame(bytes)
        const viaStream = new StreamDecoder().push(encodeFrameDelimited(f))
        return equals(FrameSchema, back, f) && viaStream.length === 1 && equals(FrameSchema, viaStream[0] as never, f)
      }),
      { numRuns: 200, seed: 1 },
    )
    t.pass('200 frames')
  })
}

t.test('arbitrary frame sequences survive plain and LZ4 batches', async (t) => {
  const inner = frameArb().filter((f) => f.body.case === undefined || noBatch(f.body.case))
  fc.assert(
    fc.property(
      fc.array(inner, { minLength: 1, maxLength: 12 }),
      fc.constantFrom('none', 'lz4' as const),
      (frames, codec) => {
        const batch = encodeBatch(frames, codec)
        const back = decodeBatch(decodeFrame(encodeFrame(batch)))
        return back.length === frames.length && back.every((f, i) => equals(FrameSchema, f, frames[i] as never))
      },
    ),
    { numRuns: 200, seed: 2 },
  )
  t.pass('200 batches')
})

t.test(
  'a batch payload built from already encoded frames is byte for byte the one built from the frames',
  async (t) => {
    const inner = frameArb().filter((f) => f.body.case === undefined || noBatch(f.body.case))
    fc.assert(
      fc.property(fc.array(inner, { minLength: 1, maxLength: 12 }), (frames) => {
        return toHex(batchPayloadFromEncoded(frames.map(encodeFrame))) === toHex(encodeBatchPayload(frames))
      }),
      { numRuns: 200, seed: 4 },
    )
    t.pass('200 batches')
  },
)

t.test('a stream of arbitrary frames decodes to the same frames', async (t) => {
  fc.assert(
    fc.property(fc.array(frameArb(), { maxLength: 8 }), (frames) => {
      const bytes = Buffer.concat(frames.map(encodeFrameDelimited))
      const back = new StreamDecoder().push(bytes)
      return back.length === frames.length && back.every((f, i) => equals(FrameSchema, f, frames[i] as never))
    }),
    { numRuns: 200, seed: 3 },
  )
  t.pass('200 streams')
})
