// The batcher's output is what any strict receiver accepts. [BAT-14] [BAT-10]
import t from 'tap'
import { decodeBatch, decodeFrame, encodeFrame } from '../../src/codec/index.js'
import { BatchCodec } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { batchFrames } from '../../src/transport/batcher.js'
import { chatDeliver } from '../codec/helpers.js'

/** The codec tests' realistic chat Delivers (random-looking client ids, varied text). */
const chatDelivers = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => encodeFrame(chatDeliver(i)))

t.test('every LZ4 batch of 2..120 chat Delivers decodes with the strict decoder to the same frames', async (t) => {
  let lz4Batches = 0
  const bad: number[] = []
  for (let n = 2; n <= 120; n++) {
    const frames = chatDelivers(n)
    const out = batchFrames(frames, {
      lz4: true,
      uncompressed: false,
      lz4MinBytes: 1024,
      maxBatchBytes: 1 << 22,
      maxBatchFrames: 1024,
      maxFrameBytes: 1 << 20,
    })
    const inner: Uint8Array[] = []
    for (const b of out) {
      const f = decodeFrame(b)
      if (f.body.case !== 'batch') {
        inner.push(b)
        continue
      }
      if (f.body.value.codec === BatchCodec.LZ4_BLOCK) lz4Batches++
      try {
        const frames = decodeBatch(f, {
          maxBatchBytes: 1 << 22,
          maxBatchFrames: 1024,
          maxFrameBytes: 1 << 20,
          lz4Enabled: true,
        })
        for (const g of frames) inner.push(encodeFrame(g))
      } catch {
        bad.push(n)
      }
    }
    if (!bad.includes(n))
      t.same(
        inner.map((x) => Buffer.from(x).toString('hex')),
        frames.map((x) => Buffer.from(x).toString('hex')),
        `n=${n}`,
      )
  }
  t.same(bad, [], 'no batch refused')
  t.ok(lz4Batches > 50, `${lz4Batches} LZ4 batches`)
})

t.test("batches stay within the client's batch bytes, batch frames and frame size [BAT-15] [FRM-9]", async (t) => {
  const frames = chatDelivers(300)
  const policy = {
    lz4: false,
    uncompressed: true,
    lz4MinBytes: 1024,
    maxBatchBytes: 4000,
    maxBatchFrames: 16,
    maxFrameBytes: 3000,
  }
  const out = batchFrames(frames, policy)
  let count = 0
  for (const b of out) {
    t.ok(b.length <= policy.maxFrameBytes, 'frame within the client frame limit')
    const f = decodeFrame(b)
    if (f.body.case !== 'batch') {
      count++
      continue
    }
    t.ok(f.body.value.count <= policy.maxBatchFrames, 'frames per batch')
    t.ok(f.body.value.uncompressedLength <= policy.maxBatchBytes, 'payload bytes')
    count += f.body.value.count
  }
  t.equal(count, 300, 'every frame once')
})
