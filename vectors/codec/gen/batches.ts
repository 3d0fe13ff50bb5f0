// batches.json: every batch shape that must be accepted: plain and LZ4, one
// frame, a few, 64 chat messages, incompressible (literal-only block), long
// runs (length extension bytes, overlapping matches), a block from another
// LZ4 compressor (lz4_flex), batches inside a stream, limits at the boundary.
import lz4napi from 'lz4-napi'
import { encodeBatch, encodeBatchPayload } from '../../../src/codec/index.js'
import { BatchCodec, type Frame } from '../../../src/gen/es/imwire/v1/frame_pb.js'
import { type VectorCase, frame, noise, pb, utf8, valid } from './helpers.js'
import { deliverFrame, sendFrame, UTF8_TEXT } from './frames.js'

const PHRASES = [
  'ok',
  'see you at 6?',
  'lunch today?',
  'sure 👍',
  'running late, 10 min',
  'did you push the fix?',
  'yes, CI is green',
  'haha',
  'can you review my PR',
  'thanks!',
  'on my way',
  'call me when you can',
  'meeting moved to 3pm',
  '🎉🎉',
  'where are the slides?',
  'sent them by mail',
]
const USERS = ['alice', 'bob', 'carol', 'dave']

/** A realistic chat Deliver: short varied text, random client id, growing seq. */
export function chatDeliver(i: number): Frame {
  const user = USERS[i % USERS.length] as string
  const text = `${PHRASES[(i * 7) % PHRASES.length]}${i % 3 === 0 ? ` #${(i * 7919) % 1000}` : ''}`
  return deliverFrame(BigInt(1000 + i), text, {
    messageId: `m-${(0x5f3a0000 + i * 37).toString(16)}`,
    senderUserId: user,
    senderDeviceId: `${user}-phone`,
    clientMsgId: noise(i + 1, 16),
  })
}

const B = ['BAT-1', 'BAT-8', 'FRM-11']
const L = ['BAT-1', 'BAT-6', 'BAT-9', 'BAT-14', 'HS-6']

const ping = (n: bigint) => frame({ body: { case: 'ping', value: { nonce: n } } })

export function batchCases(): VectorCase[] {
  const three = [
    sendFrame(),
    ping(1n),
    frame({ body: { case: 'deliverAck', value: { conversationId: 'conv-1', upToSeq: 9n } } }),
  ]
  const chat64 = Array.from({ length: 64 }, (_, i) => chatDeliver(i))
  const noisy = [0, 1, 2].map((i) => sendFrame({ body: noise(100 + i, 1024), contentType: 'application/octet-stream' }))
  const repetitive = [0, 1, 2, 3].map((i) => sendFrame({ body: utf8('a'.repeat(2000 + i)), sendSeq: BigInt(i + 1) }))
  const flexFrames = Array.from({ length: 16 }, (_, i) => chatDeliver(i * 5))
  const flexRaw = encodeBatchPayload(flexFrames)
  // lz4-napi prefixes the block with its uncompressed size (4 bytes LE).
  const flexBlock = Uint8Array.from(lz4napi.compressSync(Buffer.from(flexRaw)).subarray(4))
  const flexBatch = frame({
    body: {
      case: 'batch',
      value: {
        codec: BatchCodec.LZ4_BLOCK,
        count: flexFrames.length,
        uncompressedLength: flexRaw.length,
        payload: flexBlock,
      },
    },
  })
  // A block whose last match sits exactly at the end-of-block limits [BAT-14]:
  // it starts 12 bytes before the end and stops 5 bytes before it. The
  // payload is one Send of 40 'a's (45 bytes); the block is 33 literals, a
  // match of 7 at offset 1, then the 5 final literals. Hand-made, so it pins
  // the boundary whatever our compressor happens to do.
  const edgeFrames = [sendFrame({ body: utf8('a'.repeat(40)) })]
  const edgeRaw = encodeBatchPayload(edgeFrames)
  const edgeN = edgeRaw.length
  const edgeBlock = Uint8Array.from([
    0xf3, // 15+ literals, match length 3+4
    edgeN - 12 - 15, // literal length extension
    ...edgeRaw.subarray(0, edgeN - 12),
    0x01, // offset 1
    0x00,
    0x50, // last sequence: 5 literals
    ...edgeRaw.subarray(edgeN - 5),
  ])
  const edgeBatch = frame({
    body: {
      case: 'batch',
      value: { codec: BatchCodec.LZ4_BLOCK, count: 1, uncompressedLength: edgeN, payload: edgeBlock },
    },
  })
  const atLimit = encodeBatch(three, 'none')
  const atLimitBody = atLimit.body.case === 'batch' ? atLimit.body.value : undefined
  const innerMax = Math.max(...three.map((f) => pb(f).length))
  return [
    valid({
      id: 'batch.none.one-frame',
      description: 'An uncompressed batch of one Send.',
      requirements: B,
      frames: [encodeBatch([sendFrame()], 'none')],
      expanded: [sendFrame()],
    }),
    valid({
      id: 'batch.none.three-frames',
      description: 'An uncompressed batch of Send, Ping, DeliverAck, processed in order.',
      requirements: B,
      frames: [encodeBatch(three, 'none')],
      expanded: three,
    }),
    valid({
      id: 'batch.none.64-messages',
      description: '64 chat Delivers in one uncompressed batch (a replay burst, [RSM-9]).',
      requirements: [...B, 'RSM-9'],
      frames: [encodeBatch(chat64, 'none')],
      expanded: chat64,
    }),
    valid({
      id: 'batch.none.in-stream',
      description: 'A batch between two frames of a TCP stream: its frames are processed in its place.',
      requirements: [...B, 'FRM-1'],
      form: 'stream',
      frames: [ping(1n), encodeBatch(three, 'none'), ping(2n)],
      expanded: [ping(1n), ...three, ping(2n)],
    }),
    valid({
      id: 'batch.none.inner-empty-frame',
      description:
        'A batch may carry an empty Frame: the codec expands it, the session closes 3511 when it processes it.',
      requirements: ['BAT-1', 'FRM-7'],
      frames: [encodeBatch([ping(1n), frame()], 'none')],
      expanded: [ping(1n), frame()],
    }),
    valid({
      id: 'batch.none.at-limits',
      description:
        'A batch exactly at max_batch_bytes and max_batch_frames, inner frames exactly at max_frame_bytes for the largest, is accepted.',
      requirements: ['BAT-5', 'BAT-11'],
      limits: {
        maxBatchBytes: atLimitBody?.uncompressedLength ?? 0,
        maxBatchFrames: 3,
        maxFrameBytes: Math.max(innerMax, pb(atLimit).length),
      },
      frames: [atLimit],
      expanded: three,
    }),
    valid({
      id: 'batch.lz4.one-frame',
      description: 'An LZ4 batch of one small frame: a block under 13 bytes can only be literals.',
      requirements: L,
      frames: [encodeBatch([ping(7n)], 'lz4')],
      expanded: [ping(7n)],
    }),
    valid({
      id: 'batch.lz4.three-frames',
      description: 'An LZ4 batch of three mixed frames.',
      requirements: L,
      frames: [encodeBatch(three, 'lz4')],
      expanded: three,
    }),
    valid({
      id: 'batch.lz4.64-messages',
      description: '64 chat Delivers in one LZ4 block.',
      requirements: [...L, 'RSM-9'],
      frames: [encodeBatch(chat64, 'lz4')],
      expanded: chat64,
    }),
    valid({
      id: 'batch.lz4.incompressible',
      description: 'Random 1 KiB bodies: the block is one literal run with many 255 length-extension bytes.',
      requirements: L,
      frames: [encodeBatch(noisy, 'lz4')],
      expanded: noisy,
    }),
    valid({
      id: 'batch.lz4.long-matches',
      description: 'Bodies of 2000 repeated bytes: overlapping matches (offset 1) with long match-length extensions.',
      requirements: L,
      frames: [encodeBatch(repetitive, 'lz4')],
      expanded: repetitive,
    }),
    valid({
      id: 'batch.lz4.multibyte-utf8',
      description: 'An LZ4 batch of frames whose strings hold multi-byte UTF-8.',
      requirements: L,
      frames: [
        encodeBatch([sendFrame({ conversationId: UTF8_TEXT, body: utf8(UTF8_TEXT.repeat(4)) }), ping(3n)], 'lz4'),
      ],
      expanded: [sendFrame({ conversationId: UTF8_TEXT, body: utf8(UTF8_TEXT.repeat(4)) }), ping(3n)],
    }),
    valid({
      id: 'batch.lz4.lz4-flex-block',
      description: 'A block made by another compressor (lz4_flex, via lz4-napi): any standard LZ4 block is accepted.',
      requirements: L,
      frames: [flexBatch],
      expanded: flexFrames,
    }),
    valid({
      id: 'batch.lz4.last-match-at-end-limits',
      description:
        'A block whose last match starts exactly 12 bytes before the end and leaves exactly 5 literals: the end-of-block rules hold, every decoder accepts it.',
      requirements: L,
      frames: [edgeBatch],
      expanded: edgeFrames,
    }),
    valid({
      id: 'batch.lz4.in-stream',
      description: 'An LZ4 batch between plain frames of a TCP stream.',
      requirements: [...L, 'FRM-1'],
      form: 'stream',
      frames: [ping(1n), encodeBatch(chat64.slice(0, 8), 'lz4'), ping(2n)],
      expanded: [ping(1n), ...chat64.slice(0, 8), ping(2n)],
    }),
  ]
}
