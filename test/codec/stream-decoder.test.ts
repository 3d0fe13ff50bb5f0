// The TCP stream decoder: any chunking, limits from the prefix, poisoning
// after an error, bounded memory, and no exception but CodecError on any
// input. [FRM-1] [FRM-3] [FRM-4] [FRM-8]
import { create } from '@bufbuild/protobuf'
import fc from 'fast-check'
import t from 'tap'
import {
  CodecError,
  encodeFrame,
  encodeFrameDelimited,
  encodeVarint,
  frameKind,
  StreamDecoder,
} from '../../src/codec/index.js'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { fromHex, loadCodecVectors } from './helpers.js'

const ping = (n: number): Frame => create(FrameSchema, { body: { case: 'ping', value: { nonce: BigInt(n) } } })
const big = (n: number): Frame =>
  create(FrameSchema, { body: { case: 'send', value: { body: new Uint8Array(n).fill(7) } } })

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof CodecError) return err.code
    throw err
  }
  return undefined
}

t.test('decodes many frames from one chunk and one frame from many chunks', async (t) => {
  const frames = Array.from({ length: 50 }, (_, i) => ping(i))
  const bytes = Buffer.concat(frames.map(encodeFrameDelimited))
  const d1 = new StreamDecoder()
  t.equal(d1.push(bytes).length, 50, 'one chunk, 50 frames')
  const d2 = new StreamDecoder()
  const out: Frame[] = []
  for (const b of encodeFrameDelimited(big(70000))) out.push(...d2.push(Uint8Array.of(b)))
  t.equal(out.length, 1, 'a 70 KB frame fed one byte at a time')
  t.equal(d2.pending, 0, 'nothing pending after it')
})

t.test('refuses a frame over the limit from its prefix, before any of the body arrives', async (t) => {
  const d = new StreamDecoder({ maxFrameBytes: 1000 })
  t.equal(
    codeOf(() => d.push(encodeVarint(1001))),
    'FRAME_TOO_LARGE',
    '[FRM-3] the prefix alone is enough',
  )
  const ok = new StreamDecoder({ maxFrameBytes: 1000 })
  t.same(ok.push(encodeVarint(1000)), [], 'exactly at the limit: waits for the body')
  t.equal(ok.pending, 2, 'only the prefix is held')
})

t.test('refuses a sixth prefix byte at the fifth and a prefix of 2^32 or more', async (t) => {
  const d = new StreamDecoder()
  for (const b of [0x80, 0x80, 0x80, 0x80])
    t.same(d.push(Uint8Array.of(b)), [], 'four continuation bytes are fine so far')
  t.equal(
    codeOf(() => d.push(Uint8Array.of(0x80))),
    'BAD_LENGTH_PREFIX',
    '[FRM-4] the fifth with its continuation bit',
  )
  t.equal(
    codeOf(() => new StreamDecoder().push(fromHex('8080808010'))),
    'BAD_LENGTH_PREFIX',
    '2^32',
  )
  t.equal(
    codeOf(() => new StreamDecoder().push(fromHex('ffffffff0f'))),
    'FRAME_TOO_LARGE',
    '2^32-1 is a valid prefix, over the limit',
  )
  t.same(
    new StreamDecoder().push(fromHex('8480808000420208 05'.replace(/ /g, ''))).map(frameKind),
    ['ping'],
    'a 5-byte non-minimal prefix is valid',
  )
})

t.test('end() reports a frame cut by the end of the stream, in the prefix or in the body', async (t) => {
  const inPrefix = new StreamDecoder()
  inPrefix.push(fromHex('80'))
  t.equal(
    codeOf(() => inPrefix.end()),
    'TRUNCATED_FRAME',
    '[FRM-8] inside the prefix',
  )
  const inBody = new StreamDecoder()
  t.same(
    inBody.push(Buffer.concat([encodeFrameDelimited(ping(1)), encodeFrameDelimited(ping(2)).subarray(0, 3)])).length,
    1,
  )
  t.equal(
    codeOf(() => inBody.end()),
    'TRUNCATED_FRAME',
    'inside the body, after a complete frame',
  )
  const clean = new StreamDecoder()
  clean.push(encodeFrameDelimited(ping(1)))
  t.equal(
    codeOf(() => clean.end()),
    undefined,
    'a clean end is not an error',
  )
})

t.test('after an error every call throws the same error', async (t) => {
  const d = new StreamDecoder()
  let first: unknown
  try {
    d.push(fromHex('021e00'))
  } catch (err) {
    first = err
  }
  t.ok(first instanceof CodecError, 'malformed frame')
  t.throws(() => d.push(encodeFrameDelimited(ping(1))), first as Error, 'push rethrows it')
  t.throws(() => d.end(), first as Error, 'end rethrows it')
  t.equal((first as CodecError).offset, 1, 'the offset points into the stream (tag after the prefix)')
})

t.test('feed hands over the frames before a bad one, with their bytes and offsets', async (t) => {
  const d = new StreamDecoder()
  const seen: Array<[string | undefined, number, number]> = []
  const bytes = Buffer.concat([encodeFrameDelimited(ping(1)), encodeFrameDelimited(ping(2)), fromHex('021e00')])
  const code = codeOf(() => d.feed(bytes, (f, b, off) => void seen.push([frameKind(f), b.length, off])))
  t.equal(code, 'MALFORMED_FRAME')
  t.same(
    seen,
    [
      ['ping', 4, 0],
      ['ping', 4, 5],
    ],
    'both good frames first',
  )
  const stopper = new StreamDecoder()
  let calls = 0
  stopper.feed(Buffer.concat([encodeFrameDelimited(ping(1)), encodeFrameDelimited(ping(2))]), () => {
    calls++
    return false
  })
  t.equal(calls, 1, 'returning false stops at once')
  t.same(stopper.push(encodeFrameDelimited(ping(3))), [], 'and for good')
})

t.test('a frame split across chunks is copied once into a buffer of its exact length', async (t) => {
  const d = new StreamDecoder({ maxFrameBytes: 100000 })
  const bytes = encodeFrameDelimited(big(90000))
  d.push(bytes.subarray(0, 10))
  const held = (d as unknown as { body: Uint8Array | null }).body
  t.equal(held?.length, encodeFrame(big(90000)).length, 'allocated from the prefix: the declared length, no more')
  const frames = d.push(bytes.subarray(10))
  t.equal(frames.length, 1)
  const body = (frames[0] as Frame).body
  t.ok(body.case === 'send' && body.value.body.buffer === held?.buffer, 'the frame views that buffer: no second copy')
})

t.test('copies each received byte at most once whatever the chunking: buffering is linear [FRM-3]', async (t) => {
  // 1 MiB frame in the stream form, fed whole, then in 512-, 64- and 1-byte chunks.
  const stream = encodeFrameDelimited(big(1024 * 1024 - 16))
  for (const size of [stream.length, 512, 64, 1]) {
    const d = new StreamDecoder({ maxFrameBytes: 1024 * 1024 })
    let frames = 0
    for (let pos = 0; pos < stream.length; pos += size) d.feed(stream.subarray(pos, pos + size), () => void frames++)
    t.equal(frames, 1, `${size}-byte chunks: one frame`)
    if (size === stream.length) t.equal(d.bytesCopied, 0, 'fed whole: decoded in place, nothing copied')
    else
      t.ok(
        d.bytesCopied <= stream.length,
        `${size}-byte chunks: ${d.bytesCopied} bytes copied for ${stream.length} fed`,
      )
  }
  // Many frames, each split across chunks: still at most one copy per byte.
  const many = Buffer.concat(Array.from({ length: 200 }, (_, i) => encodeFrameDelimited(big(1000 + i))))
  const d = new StreamDecoder()
  let frames = 0
  for (let pos = 0; pos < many.length; pos += 97) d.feed(many.subarray(pos, pos + 97), () => void frames++)
  t.equal(frames, 200)
  t.ok(d.bytesCopied <= many.length, `200 frames in 97-byte chunks: ${d.bytesCopied} of ${many.length} bytes copied`)
})

t.test('never throws anything but CodecError and never holds more than maxFrameBytes + 5 bytes', async (t) => {
  const max = 300
  const seeds = loadCodecVectors()
    .filter((c) => c.form === 'stream' && c.hex.length < 4000)
    .map((c) => fromHex(c.hex))
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    fc
      .tuple(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      )
      .map(([b, edits]) => {
        const m = Uint8Array.from(b)
        for (const [at, v] of edits) if (m.length > 0) m[at % m.length] = v
        return m
      }),
  )
  fc.assert(
    fc.property(input, fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }), (bytes, sizes) => {
      const d = new StreamDecoder({ maxFrameBytes: max })
      let pos = 0
      let k = 0
      try {
        while (pos < bytes.length) {
          const n = sizes[k++ % sizes.length] as number
          d.push(bytes.subarray(pos, pos + n))
          pos += n
          const held = (d as unknown as { body: Uint8Array | null }).body
          if (d.pending > max + 5 || (held !== null && held.length > max)) return false
        }
        d.end()
      } catch (err) {
        if (!(err instanceof CodecError)) throw err
      }
      return true
    }),
    { numRuns: 400, seed: 42 },
  )
  t.pass('400 inputs in arbitrary chunkings')
})

t.test('refuses to run without a positive limit', async (t) => {
  t.throws(() => new StreamDecoder({ maxFrameBytes: 0 }), RangeError)
  t.throws(() => new StreamDecoder({ maxFrameBytes: Number.POSITIVE_INFINITY }), RangeError)
})
