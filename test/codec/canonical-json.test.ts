// The canonical proto3 JSON form the codec vectors are written in (vectors/README.md):
// every vector frame is in it, protobuf-es's default toJson produces it, and
// the checker refuses each way of leaving it.
import t from 'tap'
import { canonicalJsonProblems } from '../../src/cli/canonical-json.js'
import { decodeWire, expandBatches } from '../../src/codec/index.js'
import { FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { fromHex, json, loadCodecVectors } from './helpers.js'

const check = (v: unknown) => canonicalJsonProblems(FrameSchema, v)

t.test('every frame in the codec vectors is canonical proto3 JSON, and so is what the codec decodes', async (t) => {
  let n = 0
  for (const c of loadCodecVectors()) {
    for (const f of [...(c.frames ?? []), ...(c.expandedFrames ?? [])]) {
      t.same(check(f), [], c.id)
      n++
    }
    if (c.frames === undefined) continue
    const decoded = decodeWire(fromHex(c.hex), c.form, c.limits)
    for (const f of [...decoded.map((d) => d.frame), ...expandBatches(decoded)]) t.same(check(json(f)), [], c.id)
  }
  t.ok(n > 100, `${n} frames`)
})

t.test('accepts the canonical forms', async (t) => {
  const ok = [
    {},
    { ping: {} },
    { ping: { nonce: '18446744073709551615' } },
    { send: { clientMsgId: 'AAECAw==', body: 'aGk=', conversationId: 'c' } },
    { batch: { codec: 'BATCH_CODEC_LZ4_BLOCK', count: 2 } },
    { batch: { codec: 7 } },
    { hello: { versions: [0, 1], features: [''] } },
    { welcome: { limits: {} } },
  ]
  for (const v of ok) t.same(check(v), [], JSON.stringify(v))
})

t.test('refuses every other form', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{ ping: { nonce: 1 } }, /64-bit integer must be a string/],
    [{ ping: { nonce: '0' } }, /"0" is a default/],
    [{ ping: { nonce: '18446744073709551616' } }, /out of range/],
    [{ ping: { nonce: '01' } }, /decimal digits/],
    [{ send: { body: '' } }, /empty bytes are a default/],
    [{ send: { body: 'aGk' } }, /base64 with padding/],
    [{ send: { body: 'a-_=' } }, /base64 with padding/],
    [{ send: { conversationId: '' } }, /empty string is a default/],
    [{ send: { send_seq: '1' } }, /no field with JSON name send_seq/],
    [{ batch: { count: 0 } }, /0 is a default/],
    [{ batch: { count: '2' } }, /32-bit integer must be a JSON number/],
    [{ batch: { count: 4294967296 } }, /out of range/],
    [{ batch: { codec: 'BATCH_CODEC_UNSPECIFIED' } }, /zero enum value is a default/],
    [{ batch: { codec: 1 } }, /must be written by name/],
    [{ batch: { codec: 'LZ4' } }, /not a value of/],
    [{ sendAck: { duplicate: false } }, /false is a default/],
    [{ hello: { versions: [] } }, /empty list is a default/],
    [{ hello: { versions: 1 } }, /must be a JSON array/],
    [{ ping: {}, pong: {} }, /oneof body already holds ping/],
    [{ ping: [] }, /must be a JSON object/],
  ]
  for (const [v, why] of bad) t.match(check(v).join('\n'), why, JSON.stringify(v))
})
