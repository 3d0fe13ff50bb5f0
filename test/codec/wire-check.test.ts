// The strict structural check that runs before protobuf-es on the generic
// decode path: it refuses what protobuf-es would misread, and accepts
// everything protobuf-es reads correctly. [FRM-5] [FRM-6]
import { equals, fromBinary, toBinary } from '@bufbuild/protobuf'
import fc from 'fast-check'
import t from 'tap'
import { decodeFrameStrict } from '../../src/codec/frame-codec.js'
import { CodecError, decodeFrame } from '../../src/codec/index.js'
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
  // Frames of every kind with up to 3 bytes overwritten and up to 4 cut off the end.
  const mutated = fc
    .tuple(frameArb(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.nat(4))
    .map(([f, edits, cut]) => {
      const b = toBinary(FrameSchema, f)
      for (const [at, v] of edits) if (b.length > 0) b[at % b.length] = v
      return b.subarray(0, Math.max(0, b.length - cut))
    })
  let accepted = 0
  let refused = 0
  fc.assert(
    fc.property(mutated, (b) => {
      try {
        checkMessage(FrameSchema, b, 0, b.length)
      } catch (err) {
        if (!(err instanceof WireError)) throw err
        refused++
        // The offset names the offending field's first byte: inside the input.
        if (!(err.offset >= 0 && err.offset < b.length)) return false
        // The codec (hot path first) refuses it too, at the same offset.
        try {
          decodeFrame(b)
        } catch (e) {
          return e instanceof CodecError && e.code === 'MALFORMED_FRAME' && e.offset === err.offset
        }
        return false
      }
      accepted++
      // Accepted: protobuf-es reads it without error ...
      const f = fromBinary(FrameSchema, b, { readUnknownFields: false })
      // ... to a frame whose canonical encoding passes the check and reads back equal,
      const again = toBinary(FrameSchema, f)
      checkMessage(FrameSchema, again, 0, again.length)
      if (!equals(FrameSchema, fromBinary(FrameSchema, again), f)) return false
      // ... and the codec (hot path first) decodes the original bytes to that same frame.
      return equals(FrameSchema, decodeFrame(b), f)
    }),
    { numRuns: 1000, seed: 6 },
  )
  t.ok(accepted > 100 && refused > 100, `both sides exercised (${accepted} accepted, ${refused} refused)`)
})

t.test('a value cut at the very end of the input is reported at its field, not past the end', async (t) => {
  // The counterexample fast-check found: field 16 (message) holding a field
  // whose varint value is missing; the input ends right after the tag.
  const b = Uint8Array.from([130, 1, 10, 32, 0, 128, 1, 40, 128, 128, 128, 128, 1])
  t.throws(
    () => checkMessage(FrameSchema, b, 0, b.length),
    { name: 'Error', offset: 8 },
    'offset 8: the tag of the cut field',
  )
  t.throws(() => decodeFrameStrict(fromHex('1a0218ff')), { code: 'MALFORMED_FRAME', offset: 2 }, 'varint cut')
  t.throws(() => decodeFrameStrict(fromHex('1a0118')), { code: 'MALFORMED_FRAME', offset: 2 }, 'value missing')
  t.throws(() => decodeFrameStrict(fromHex('0d0102')), { code: 'MALFORMED_FRAME', offset: 0 }, 'fixed32 cut')
})

t.test('refuses a known field whose wire type protobuf-es alone would misread', async (t) => {
  const b = fromHex('1a041a021200')
  t.equal(fromBinary(FrameSchema, b).body.case, 'send', 'protobuf-es alone accepts it')
  t.throws(() => decodeFrameStrict(b), { code: 'MALFORMED_FRAME', offset: 2 })
})
