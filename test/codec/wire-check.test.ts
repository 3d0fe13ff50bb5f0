// The strict structural check that runs before protobuf-es on the generic
// decode path: it refuses what protobuf-es would misread, and accepts
// everything protobuf-es reads correctly. [FRM-5] [FRM-6]
import { fromBinary, toBinary } from '@bufbuild/protobuf'
import fc from 'fast-check'
import t from 'tap'
import { decodeFrameStrict } from '../../src/codec/frame-codec.js'
import { checkMessage, isValidUtf8, WireError } from '../../src/codec/wire-check.js'
import { FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { frameArb, fromHex } from './helpers.js'

const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const utf8Ok = (b: Uint8Array) => {
  try {
    fatal.decode(b)
    return true
  } catch {
    return false
  }
}

t.test('isValidUtf8 agrees with a fatal TextDecoder on arbitrary bytes and on edge sequences', async (t) => {
  const edges = [
    'c0af',
    'c1bf',
    'c280',
    'e080af',
    'e0a080',
    'eda080',
    'ed9fbf',
    'ee8080',
    'f08f8080',
    'f0908080',
    'f48fbfbf',
    'f4908080',
    'f5808080',
    'e282',
    'ff',
    'efbbbf',
  ]
  for (const h of edges) t.equal(isValidUtf8(fromHex(h), 0, h.length / 2), utf8Ok(fromHex(h)), h)
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 12 }),
    fc
      .array(
        fc.constantFrom(
          0x00,
          0x7f,
          0x80,
          0xbf,
          0xc0,
          0xc2,
          0xdf,
          0xe0,
          0xed,
          0xef,
          0xf0,
          0xf4,
          0xf5,
          0xa0,
          0x9f,
          0x90,
          0x8f,
        ),
        { maxLength: 8 },
      )
      .map((a) => Uint8Array.from(a)),
    fc.string({ unit: 'grapheme', maxLength: 8 }).map((s) => new TextEncoder().encode(s)),
  )
  fc.assert(
    fc.property(bytes, (b) => isValidUtf8(b, 0, b.length) === utf8Ok(b)),
    { numRuns: 500, seed: 5 },
  )
})

t.test('what passes the check, protobuf-es reads to the same frame it re-encodes', async (t) => {
  const mutated = fc
    .tuple(frameArb(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }))
    .map(([f, edits]) => {
      const b = toBinary(FrameSchema, f)
      for (const [at, v] of edits) if (b.length > 0) b[at % b.length] = v
      return b
    })
  fc.assert(
    fc.property(mutated, (b) => {
      try {
        checkMessage(FrameSchema, b, 0, b.length)
      } catch (err) {
        if (err instanceof WireError) return err.offset >= 0 && err.offset < Math.max(1, b.length)
        throw err
      }
      // Accepted: protobuf-es must read it without error.
      fromBinary(FrameSchema, b, { readUnknownFields: false })
      return true
    }),
    { numRuns: 500, seed: 6 },
  )
  t.pass('500 mutated frames')
})

t.test('refuses a known field whose wire type protobuf-es alone would misread', async (t) => {
  const b = fromHex('1a041a021200')
  t.equal(fromBinary(FrameSchema, b).body.case, 'send', 'protobuf-es alone accepts it')
  t.throws(() => decodeFrameStrict(b), { code: 'MALFORMED_FRAME', offset: 2 })
})
