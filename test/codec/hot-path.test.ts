// The hand-written hot encoder and decoder against protobuf-es: same bytes,
// same frames, on arbitrary Send, SendAck, Deliver, DeliverAck, Ping and Pong
// frames and on arbitrary bytes. They are an optimisation and must be invisible.
import { create, equals, toBinary } from '@bufbuild/protobuf'
import fc from 'fast-check'
import t from 'tap'
import {
  CodecError,
  decodeFrame,
  delimit,
  encodeFrame,
  encodeFrameDelimited,
  frameKind,
} from '../../src/codec/index.js'
import { decodeFrameStrict } from '../../src/codec/frame-codec.js'
import { decodeHotFrame } from '../../src/codec/hot-decoder.js'
import { encodeHotFrame } from '../../src/codec/hot-encoder.js'
import { FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { FRAME_KINDS, frameOfKindArb, fromHex, json, loadCodecVectors, toHex } from './helpers.js'

const HOT = ['send', 'sendAck', 'deliver', 'deliverAck', 'ping', 'pong']
const runs = { numRuns: 300, seed: 20261122 }

t.test(
  'the hot path takes exactly the traffic and heartbeat frames; every other body falls back to the strict path',
  async (t) => {
    t.ok(
      HOT.every((k) => FRAME_KINDS.includes(k)),
      'the hot frames are Frame bodies',
    )
    for (const kind of FRAME_KINDS) {
      const hot = HOT.includes(kind)
      for (const f of fc.sample(frameOfKindArb(kind), { numRuns: 20, seed: 20261205 })) {
        const bytes = toBinary(FrameSchema, f)
        if ((encodeHotFrame(f, false) !== undefined) !== hot || (decodeHotFrame(bytes) !== undefined) !== hot) {
          t.fail(`${kind}: hot path ${hot ? 'declined' : 'took'} ${toHex(bytes)}`)
          return
        }
      }
    }
    t.pass(`${FRAME_KINDS.length} bodies, 20 arbitrary frames each`)
  },
)

for (const kind of HOT) {
  t.test(`hot encoder writes the bytes protobuf-es writes for arbitrary ${kind} frames`, async (t) => {
    fc.assert(
      fc.property(frameOfKindArb(kind, { loneSurrogates: true }), (f) => {
        const hot = encodeHotFrame(f, false)
        if (hot === undefined) return false
        const want = toBinary(FrameSchema, f)
        return toHex(hot) === toHex(want) && toHex(encodeHotFrame(f, true) as Uint8Array) === toHex(delimit(want))
      }),
      runs,
    )
    t.pass('300 arbitrary frames, byte-identical, with and without prefix')
  })
  t.test(`hot decoder builds the frame protobuf-es builds for arbitrary ${kind} frames`, async (t) => {
    fc.assert(
      fc.property(frameOfKindArb(kind), (f) => {
        const bytes = toBinary(FrameSchema, f)
        const hot = decodeHotFrame(bytes)
        if (hot === undefined) return false
        const strict = decodeFrameStrict(bytes)
        return equals(FrameSchema, hot, strict) && JSON.stringify(json(hot)) === JSON.stringify(json(strict))
      }),
      runs,
    )
    t.pass('300 arbitrary frames decoded the same')
  })
}

t.test('the arbitrary frames also reach the native UTF-8 branch of the hot codec (long strings)', async (t) => {
  // Counts the platform calls src/codec/utf8.ts makes for strings of
  // NATIVE_MIN_CHARS or more, while the same arbitraries as above run.
  const encodeInto = TextEncoder.prototype.encodeInto
  const decode = TextDecoder.prototype.decode
  let nativeEncodes = 0
  let nativeDecodes = 0
  TextEncoder.prototype.encodeInto = function (this: InstanceType<typeof TextEncoder>, src, dest) {
    nativeEncodes++
    return encodeInto.call(this, src, dest)
  }
  TextDecoder.prototype.decode = function (this: InstanceType<typeof TextDecoder>, input, options) {
    nativeDecodes++
    return decode.call(this, input, options)
  }
  t.teardown(() => {
    TextEncoder.prototype.encodeInto = encodeInto
    TextDecoder.prototype.decode = decode
  })
  let frames = 0
  for (const kind of HOT) {
    for (const f of fc.sample(frameOfKindArb(kind), runs)) {
      const bytes = encodeHotFrame(f, false)
      if (bytes !== undefined) decodeHotFrame(bytes)
      frames++
    }
  }
  t.ok(nativeEncodes > frames / 10, `native encodes: ${nativeEncodes} in ${frames} frames`)
  t.ok(nativeDecodes > frames / 10, `native decodes: ${nativeDecodes} in ${frames} frames`)
})

t.test('the hot decoder never disagrees with the strict path, on mutated hot frames', async (t) => {
  const seeds = loadCodecVectors()
    .filter((c) => c.form === 'frame' && /^frame\.(send|send-ack|deliver|deliver-ack|ping|pong)\./.test(c.id))
    .map((c) => fromHex(c.hex))
    .filter((b) => b.length < 2048)
  t.ok(seeds.length >= 8, 'hot-frame vectors to mutate')
  const mutated = fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      fc.nat(8),
    )
    .map(([b, edits, cut]) => {
      const m = Uint8Array.from(b)
      for (const [at, v] of edits) m[at % m.length] = v
      return m.subarray(0, Math.max(0, m.length - cut))
    })
  fc.assert(
    fc.property(mutated, (bytes) => {
      const hot = decodeHotFrame(bytes)
      let strict: ReturnType<typeof decodeFrameStrict> | CodecError
      try {
        strict = decodeFrameStrict(bytes)
      } catch (err) {
        if (!(err instanceof CodecError)) throw err
        strict = err
      }
      // The hot path may decline (undefined); when it answers, it agrees.
      if (hot === undefined) return true
      return !(strict instanceof CodecError) && equals(FrameSchema, hot, strict)
    }),
    { numRuns: 500, seed: 7 },
  )
  t.pass('500 mutations')
})

t.test('the hot path declines what it does not handle and protobuf-es takes over', async (t) => {
  const hello = create(FrameSchema, { body: { case: 'hello', value: { versions: [1] } } })
  t.equal(encodeHotFrame(hello, false), undefined, 'not a hot frame')
  const pingNumber = create(FrameSchema, { body: { case: 'ping', value: { nonce: 1n } } })
  ;(pingNumber.body.value as { nonce: unknown }).nonce = 1
  t.equal(encodeHotFrame(pingNumber, false), undefined, 'a Ping nonce that is not a bigint')
  t.equal(decodeHotFrame(fromHex('42021001')), undefined, 'unknown field in a Ping')
  // A field given twice: the last occurrence counts (protobuf-es and the spec's proto3 rules).
  const twice = fromHex('420408010802')
  t.same(
    json(decodeHotFrame(twice) as ReturnType<typeof decodeFrameStrict>),
    json(decodeFrameStrict(twice)),
    'a Ping nonce given twice decodes as on the strict path',
  )
  const withNumber = create(FrameSchema, { body: { case: 'send', value: { sendSeq: 1n } } })
  ;(withNumber.body.value as { sendSeq: unknown }).sendSeq = 5
  t.equal(encodeHotFrame(withNumber, false), undefined, 'a number where a bigint belongs')
  t.equal(
    toHex(encodeFrame(withNumber)),
    toHex(toBinary(FrameSchema, withNumber)),
    'encodeFrame falls back to toBinary',
  )
  const tooBig = create(FrameSchema, { body: { case: 'deliverAck', value: { upToSeq: 1n << 64n } } })
  t.equal(encodeHotFrame(tooBig, false), undefined, 'a uint64 out of range')
  const negative = create(FrameSchema, { body: { case: 'sendAck', value: { seq: -1n } } })
  t.equal(encodeHotFrame(negative, false), undefined, 'a negative uint64')
  const unknown = create(FrameSchema, { body: { case: 'send', value: {} } })
  unknown.$unknown = [{ no: 99, wireType: 0, data: Uint8Array.of(1) }]
  t.equal(encodeHotFrame(unknown, false), undefined, 'unknown fields to preserve')
  t.equal(
    toHex(encodeFrameDelimited(unknown)),
    toHex(delimit(toBinary(FrameSchema, unknown))),
    'delimited fallback too',
  )
  // Non-canonical but valid bytes: the hot decoder declines, the strict path decodes.
  const reordered = fromHex('1a0618011202632d')
  t.equal(decodeHotFrame(fromHex('1a0318016301')), undefined, 'unknown field in a Send')
  t.equal(frameKind(decodeFrame(reordered)), 'send', 'reordered fields decode')
})

t.test('strings: lone surrogates become U+FFFD exactly as TextEncoder writes them', async (t) => {
  for (const s of ['\ud800', 'a\udc00b', '\ud83d', '\ud83d\ude00', `${'x'.repeat(60)}\ud800`]) {
    const f = create(FrameSchema, { body: { case: 'deliverAck', value: { conversationId: s } } })
    t.equal(toHex(encodeFrame(f)), toHex(toBinary(FrameSchema, f)), JSON.stringify(s))
  }
})
