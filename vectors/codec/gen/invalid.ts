// invalid.json: bytes every receiver must refuse, with the close code:
// bad and truncated length prefixes, frames over the limit, malformed
// protobuf, and every way a batch can be wrong (including LZ4 bombs).
import { compressLz4Block, encodeBatch, encodeBatchPayload } from '../../../src/codec/index.js'
import { BatchCodec, type Frame } from '../../../src/gen/es/imwire/v1/frame_pb.js'
import { chatDeliver } from './batches.js'
import { sendFrame } from './frames.js'
import { type VectorCase, WT, bytes, frame, invalid, ld, pb, stream, tag, utf8, varint, vf } from './helpers.js'

const ping = (n: bigint) => frame({ body: { case: 'ping', value: { nonce: n } } })

interface BatchFields {
  codec?: number
  count: number
  uncompressedLength: number
  payload: Uint8Array
}
const batchBytes = (b: BatchFields): Uint8Array => pb(frame({ body: { case: 'batch', value: b } }))

/** A batch frame that is right in every respect except `over`. */
function plainBatch(frames: Frame[], over: Partial<BatchFields> = {}): Uint8Array {
  const payload = encodeBatchPayload(frames)
  return batchBytes({
    codec: BatchCodec.NONE,
    count: frames.length,
    uncompressedLength: payload.length,
    payload,
    ...over,
  })
}
function lz4Batch(frames: Frame[], over: Partial<BatchFields> = {}): Uint8Array {
  const raw = encodeBatchPayload(frames)
  return batchBytes({
    codec: BatchCodec.LZ4_BLOCK,
    count: frames.length,
    uncompressedLength: raw.length,
    payload: compressLz4Block(raw),
    ...over,
  })
}

/**
 * An LZ4 batch of one Send, written as literals, one 4-byte match with a given
 * offset, and 8 final literals. The match covers 4 bytes inside Send.body (a
 * bytes field): whatever a decoder that accepts a bad offset copies there,
 * the output is still one valid Send of exactly uncompressed_length bytes, so
 * the only way to fail the case is to refuse the offset [BAT-6]. The match
 * starts exactly 12 bytes before the end and the last 5 bytes are literals,
 * so the block keeps the end-of-block rules [BAT-14] that strict decoders
 * check before anything else.
 */
function lz4MatchInsideBody(): { matchAt: number; batch: (offset: number) => Uint8Array } {
  const send = sendFrame({
    conversationId: 'c',
    clientMsgId: new Uint8Array(0),
    contentType: '',
    body: utf8('abcd????efghijkl'),
  })
  const raw = stream(send)
  const matchAt = raw.length - 12
  if (matchAt >= 15 || matchAt < 1) throw new Error('lz4MatchInsideBody: literal run must fit the token')
  return {
    matchAt,
    batch: (offset: number) =>
      batchBytes({
        codec: BatchCodec.LZ4_BLOCK,
        count: 1,
        uncompressedLength: raw.length,
        payload: bytes(
          matchAt << 4,
          raw.subarray(0, matchAt),
          offset & 0xff,
          offset >> 8,
          0x80,
          raw.subarray(matchAt + 4),
        ),
      }),
  }
}

const S = ['FRM-1']
const P = ['FRM-5']
/** [FRM-5] rules that stock protobuf parsers relax by design (vectors/README.md). */
const SW: ['strict-wire'] = ['strict-wire']

export function invalidCases(): VectorCase[] {
  const p5 = pb(ping(5n))
  const chat = Array.from({ length: 32 }, (_, i) => chatDeliver(i))
  const chatRaw = encodeBatchPayload(chat)
  const chatBlock = compressLz4Block(chatRaw)
  const lz4Chat = (over: Partial<BatchFields>) =>
    batchBytes({
      codec: BatchCodec.LZ4_BLOCK,
      count: chat.length,
      uncompressedLength: chatRaw.length,
      payload: chatBlock,
      ...over,
    })
  const big = sendFrame({ body: utf8('a'.repeat(300)) })
  // LZ4 blocks by hand: token, literals, offset (2 bytes LE), match length, final literals.
  const finalLits = bytes(0x50, utf8('vwxyz'))
  const badOffsetBlock = lz4MatchInsideBody()
  return [
    // ---- length prefix and stream [FRM-1] [FRM-3] [FRM-4] [FRM-8]
    invalid({
      id: 'invalid.prefix.six-bytes',
      description: 'A length prefix of 6 bytes (value 0 in a non-minimal form) is refused: at most 5 bytes.',
      requirements: ['FRM-4'],
      form: 'stream',
      hex: bytes('80 80 80 80 80 00'),
      code: 'BAD_LENGTH_PREFIX',
    }),
    invalid({
      id: 'invalid.prefix.five-continuation-bytes',
      description: 'Five prefix bytes all with the continuation bit: refused at the 5th byte, no 6th byte needed.',
      requirements: ['FRM-4'],
      form: 'stream',
      hex: bytes('ff ff ff ff ff'),
      code: 'BAD_LENGTH_PREFIX',
    }),
    invalid({
      id: 'invalid.prefix.five-continuation-bytes-zero-payload',
      description:
        'Exactly 80 80 80 80 80 and nothing after: refused at the 5th byte with BAD_LENGTH_PREFIX, not held as an incomplete prefix (TRUNCATED_FRAME) waiting for a 6th.',
      requirements: ['FRM-4'],
      form: 'stream',
      hex: bytes('80 80 80 80 80'),
      code: 'BAD_LENGTH_PREFIX',
    }),
    invalid({
      id: 'invalid.prefix.value-2-pow-32',
      description: 'A 5-byte prefix encoding 2^32 is refused (values must be < 2^32).',
      requirements: ['FRM-4'],
      form: 'stream',
      hex: bytes('80 80 80 80 10'),
      code: 'BAD_LENGTH_PREFIX',
    }),
    invalid({
      id: 'invalid.prefix.value-2-pow-35-minus-1',
      description: 'The largest 5-byte varint (2^35-1) is refused.',
      requirements: ['FRM-4'],
      form: 'stream',
      hex: bytes('ff ff ff ff 7f'),
      code: 'BAD_LENGTH_PREFIX',
    }),
    invalid({
      id: 'invalid.prefix.bad-after-valid-frame',
      description: 'A 6-byte prefix after a valid frame.',
      requirements: ['FRM-4'],
      form: 'stream',
      hex: bytes(stream(ping(1n)), '80 80 80 80 80 01'),
      code: 'BAD_LENGTH_PREFIX',
    }),
    invalid({
      id: 'invalid.stream.truncated-prefix',
      description: 'The stream ends inside a length prefix: a transport loss, no close code.',
      requirements: ['FRM-8'],
      form: 'stream',
      hex: bytes('80'),
      code: 'TRUNCATED_FRAME',
    }),
    invalid({
      id: 'invalid.stream.truncated-body',
      description:
        'The stream ends 1 byte short of the announced frame length: a transport loss, the partial frame is not decoded and no close code is sent.',
      requirements: ['FRM-8'],
      form: 'stream',
      hex: bytes(varint(p5.length), p5.subarray(0, p5.length - 1)),
      code: 'TRUNCATED_FRAME',
    }),
    invalid({
      id: 'invalid.stream.truncated-after-frames',
      description:
        'Two valid frames, then the stream ends inside a third: the two are processed, the third is discarded (transport loss).',
      requirements: ['FRM-8'],
      form: 'stream',
      hex: bytes(stream(ping(1n), ping(2n)), '04 42'),
      code: 'TRUNCATED_FRAME',
    }),
    invalid({
      id: 'invalid.stream.truncated-large-frame',
      description: 'A 60 KiB frame announced, 1 KiB of it sent: the partial frame is discarded, never decoded.',
      requirements: ['FRM-8'],
      form: 'stream',
      hex: bytes(varint(60 * 1024), new Uint8Array(1024)),
      code: 'TRUNCATED_FRAME',
    }),
    invalid({
      id: 'invalid.stream.truncated-field-in-complete-frame',
      description:
        'A complete frame (its prefix says 2 bytes, 2 follow) whose body field is cut inside the frame: that is a malformed frame (3504), not a cut stream.',
      requirements: ['FRM-5', 'FRM-8'],
      form: 'stream',
      hex: bytes('02 1a 80'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.stream.over-limit-from-prefix',
      description:
        'A prefix announcing 1 MiB + 1 byte with no body at all: FRAME_TOO_LARGE is decided from the prefix alone, not TRUNCATED_FRAME.',
      requirements: ['FRM-3', 'LIM-1'],
      form: 'stream',
      hex: varint(1048577),
      code: 'FRAME_TOO_LARGE',
    }),
    invalid({
      id: 'invalid.stream.over-custom-limit',
      description: 'A complete frame one byte over a max_frame_bytes of 16.',
      requirements: ['FRM-3'],
      form: 'stream',
      limits: { maxFrameBytes: 16 },
      hex: stream(sendFrame({ clientMsgId: new Uint8Array(0), contentType: '', body: utf8('x'.repeat(5)) })),
      code: 'FRAME_TOO_LARGE',
    }),
    invalid({
      id: 'invalid.stream.prefix-2-pow-32-minus-1',
      description: 'The largest valid prefix (2^32-1) is over any max_frame_bytes: FRAME_TOO_LARGE.',
      requirements: ['FRM-3', 'FRM-4'],
      form: 'stream',
      hex: bytes('ff ff ff ff 0f'),
      code: 'FRAME_TOO_LARGE',
    }),
    invalid({
      id: 'invalid.frame.over-limit',
      description: 'A WebSocket message one byte over a max_frame_bytes of 16.',
      requirements: ['FRM-2', 'FRM-3'],
      limits: { maxFrameBytes: 16 },
      hex: pb(sendFrame({ clientMsgId: new Uint8Array(0), contentType: '', body: utf8('x'.repeat(5)) })),
      code: 'FRAME_TOO_LARGE',
    }),
    invalid({
      id: 'invalid.stream.malformed-second-frame',
      description: 'A valid frame, then a frame with an invalid wire type.',
      requirements: [...S, 'FRM-5'],
      form: 'stream',
      hex: bytes(stream(ping(1n)), '02 1e 00'),
      code: 'MALFORMED_FRAME',
    }),
    // ---- malformed protobuf [FRM-5]
    invalid({
      id: 'invalid.frame.wire-type-6',
      description: 'Wire type 6 does not exist.',
      requirements: P,
      hex: bytes('1e 00'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.wire-type-7',
      description: 'Wire type 7 does not exist.',
      requirements: P,
      hex: bytes('1f 00'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.wire-type-6-nested',
      description: 'Wire type 6 inside a Send.',
      requirements: P,
      hex: bytes('1a 02 0e 00'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.end-group-without-start',
      description: 'An end-group tag (wire type 4) with no group open.',
      requirements: P,
      hex: bytes('1c'),
      code: 'MALFORMED_FRAME',
      needs: SW,
      notes:
        'Stock runtimes read an end-group tag as the end of the message (a message may be the body of a group): Python protobuf 4.21 (C++ backend) parses these bytes as an empty Frame and only warns.',
    }),
    invalid({
      id: 'invalid.frame.field-number-zero',
      description: 'Field number 0 is not valid.',
      requirements: P,
      hex: bytes('02 00'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.truncated-tag',
      description: 'The frame ends inside a tag varint.',
      requirements: P,
      hex: bytes('82'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.truncated-length',
      description: 'The frame ends inside the length of the body field.',
      requirements: P,
      hex: bytes('1a 80'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.truncated-varint',
      description: 'send_seq varint cut by the end of the frame.',
      requirements: P,
      hex: bytes('1a 02 18 ff'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.varint-past-message-end',
      description: 'send_seq varint runs past the end of the Send into the bytes that follow it in the frame.',
      requirements: P,
      hex: bytes('1a 02 18 ff 42 00'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.truncated-length-delimited',
      description: 'The body field announces 5 bytes, 3 follow.',
      requirements: P,
      hex: bytes('1a 05 12 02 61'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.string-past-message-end',
      description: 'A string field inside a Send runs past the end of the Send (but not of the frame).',
      requirements: P,
      hex: bytes('1a 03 12 05 61', '42 02 08 05'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.nested-length-past-parent',
      description:
        'Deliver is 2 bytes long but its Message field announces 10: a nested length may not run past its parent.',
      requirements: P,
      hex: bytes('2a 02 0a 0a', ld(1, utf8('abcdefgh'))),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.length-over-32-bits',
      description: 'A length of 2^32 (5-byte varint) for the body field.',
      requirements: P,
      hex: bytes('1a 80 80 80 80 10'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.varint-11-bytes',
      description: 'An 11-byte varint for send_seq (at most 10 bytes exist).',
      requirements: P,
      hex: ld(3, '18 ff ff ff ff ff ff ff ff ff ff 01'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.varint-overflows-64-bits',
      description: 'A 10-byte varint whose last byte is 02: the value needs 65 bits.',
      requirements: P,
      level: 'SHOULD',
      hex: ld(3, '18 ff ff ff ff ff ff ff ff ff 02'),
      code: 'MALFORMED_FRAME',
      needs: SW,
      notes:
        'Stock runtimes drop the bits above 64 by design (Python protobuf 4.21 reads send_seq 9223372036854775807, protobuf-es 2 reads it too); the reference codec refuses it.',
    }),
    invalid({
      id: 'invalid.frame.utf8-invalid-continuation',
      description: 'A string field (Send.conversation_id) with c3 28: a lead byte without its continuation byte.',
      requirements: P,
      hex: ld(3, ld(2, 'c3 28')),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.utf8-overlong',
      description: 'An overlong encoding (c0 af for "/") in a string field.',
      requirements: P,
      hex: ld(3, ld(2, '61 c0 af')),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.utf8-surrogate',
      description: 'An encoded UTF-16 surrogate (ed a0 80) in a string field.',
      requirements: P,
      hex: ld(3, ld(4, 'ed a0 80')),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.utf8-truncated-sequence',
      description: 'A string that ends inside a 3-byte sequence (e2 82, the start of "€").',
      requirements: P,
      hex: ld(3, ld(2, '61 e2 82')),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.utf8-above-max',
      description: 'A code point above U+10FFFF (f4 90 80 80) in a string field.',
      requirements: P,
      hex: ld(3, ld(2, 'f4 90 80 80')),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.utf8-in-nested-message',
      description: 'Invalid UTF-8 in Deliver.message.sender_user_id.',
      requirements: P,
      hex: ld(5, ld(1, ld(1, utf8('c')), ld(4, 'ff'))),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.utf8-in-repeated-string',
      description: 'Invalid UTF-8 in one element of Hello.features.',
      requirements: P,
      hex: ld(1, vf(1, 1), ld(4, utf8('lz4')), ld(4, 'fe')),
      code: 'MALFORMED_FRAME',
    }),
    // The feature bodies (inbox.proto) are decoded whatever was negotiated,
    // so their strings are checked at every depth too.
    invalid({
      id: 'invalid.frame.utf8-in-mark-read',
      description: 'Invalid UTF-8 (a lone continuation byte 80) in MarkRead.conversation_id (body field 25).',
      requirements: P,
      hex: ld(25, vf(1, 1), ld(2, '67 80')),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.utf8-in-read-state',
      description: 'Invalid UTF-8 in ReadUpdated.state.conversation_id: a string two messages deep.',
      requirements: P,
      hex: ld(27, ld(1, ld(1, 'c3 28'), vf(2, 1))),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.utf8-in-inbox-last-message',
      description:
        'Invalid UTF-8 in InboxPage.entries[1].last_message.sender_user_id: a string four messages deep, in the second element of a repeated message field.',
      requirements: P,
      hex: ld(
        32,
        vf(1, 1),
        ld(2, ld(1, utf8('g1'))),
        ld(2, ld(1, utf8('g2')), ld(13, ld(1, utf8('g2')), ld(4, 'ed a0 80'))),
      ),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.utf8-in-inbox-member-ids',
      description:
        'Invalid UTF-8 in one element of InboxPage.entries[0].member_user_ids (a repeated string in a repeated message).',
      requirements: P,
      hex: ld(32, vf(1, 1), ld(2, ld(1, utf8('g1')), ld(9, utf8('alice')), ld(9, 'f4 90 80 80'))),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.utf8-in-sync-removed-ids',
      description: 'Invalid UTF-8 in one element of SyncPage.removed_conversation_ids.',
      requirements: P,
      hex: ld(34, vf(1, 1), ld(3, utf8('g1')), ld(3, '61 c0 af')),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.utf8-in-peer-read-user',
      description: 'Invalid UTF-8 in PeerRead.user_id, after valid fields.',
      requirements: P,
      hex: ld(28, ld(1, utf8('d1')), vf(2, 1), ld(3, '61 e2 82')),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.wrong-wire-type-string-as-varint',
      description: 'Send.conversation_id (a string) sent with the varint wire type.',
      requirements: P,
      hex: ld(3, '10 05'),
      code: 'MALFORMED_FRAME',
      needs: SW,
      notes:
        'Several protobuf runtimes treat a known field number with a mismatched wire type as an unknown field and skip it, and protobuf-es misreads it; [FRM-5] requires refusing it, so such runtimes need a check of their own.',
    }),
    invalid({
      id: 'invalid.frame.wrong-wire-type-body-as-varint',
      description: 'The Send body field (a message) sent with the varint wire type.',
      requirements: P,
      hex: bytes('18 05'),
      code: 'MALFORMED_FRAME',
      needs: SW,
      notes: 'See invalid.frame.wrong-wire-type-string-as-varint.',
    }),
    invalid({
      id: 'invalid.frame.wrong-wire-type-uint64-as-fixed64',
      description: 'Send.send_seq (a uint64 varint) sent as fixed64.',
      requirements: P,
      hex: ld(3, tag(3, WT.i64), '0100000000000000'),
      code: 'MALFORMED_FRAME',
      needs: SW,
      notes: 'See invalid.frame.wrong-wire-type-string-as-varint.',
    }),
    invalid({
      id: 'invalid.frame.wrong-wire-type-parses-otherwise',
      description:
        'Send.send_seq (a varint) sent length-delimited around the bytes 12 00; a parser that ignores the wire type reads send_seq 2 and an empty conversation_id.',
      requirements: P,
      hex: bytes('1a 04 1a 02 12 00'),
      code: 'MALFORMED_FRAME',
      needs: SW,
      notes:
        'protobuf-es 2.x alone decodes this as Send{send_seq: 2}; see invalid.frame.wrong-wire-type-string-as-varint.',
    }),
    invalid({
      id: 'invalid.frame.unknown-field-truncated',
      description: 'An unknown length-delimited field inside a Send runs past the end.',
      requirements: ['FRM-5', 'FRM-6'],
      hex: bytes('1a 03 42 05 61'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.unknown-fixed64-truncated',
      description: 'An unknown fixed64 field with 3 of its 8 bytes.',
      requirements: ['FRM-5', 'FRM-6'],
      hex: bytes('1a 04', tag(7, WT.i64), '01 02 03'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.unknown-fixed32-truncated',
      description: 'An unknown fixed32 field with 2 of its 4 bytes.',
      requirements: ['FRM-5', 'FRM-6'],
      hex: bytes('1a 03', tag(7, WT.i32), '01 02'),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.group-unterminated',
      description: 'An unknown group that is never closed.',
      requirements: ['FRM-5', 'FRM-6'],
      hex: ld(3, tag(20, WT.sgroup), vf(1, 1)),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.group-mismatched-end',
      description: 'An unknown group opened as field 20 and closed as field 21.',
      requirements: ['FRM-5', 'FRM-6'],
      hex: ld(3, tag(20, WT.sgroup), vf(1, 1), tag(21, WT.egroup)),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.frame.packed-truncated-element',
      description: 'A packed Hello.versions run whose last varint is cut by the end of the run.',
      requirements: P,
      hex: ld(1, ld(1, '01 81')),
      code: 'MALFORMED_FRAME',
    }),
    // ---- batches [BAT-*] [HS-6]
    invalid({
      id: 'invalid.batch.codec-unspecified',
      description: 'A batch that leaves codec unset (0).',
      requirements: ['BAT-2'],
      hex: plainBatch([ping(1n)], { codec: BatchCodec.UNSPECIFIED }),
      code: 'BATCH_UNKNOWN_CODEC',
    }),
    invalid({
      id: 'invalid.batch.codec-unknown',
      description: 'A batch with a codec number v1 does not define (7).',
      requirements: ['BAT-2'],
      hex: plainBatch([ping(1n)], { codec: 7 }),
      code: 'BATCH_UNKNOWN_CODEC',
    }),
    invalid({
      id: 'invalid.batch.lz4-not-enabled',
      description: 'A valid LZ4 batch on a connection where "lz4" was not negotiated.',
      requirements: ['HS-6', 'BAT-6'],
      limits: { lz4Enabled: false },
      hex: lz4Batch([ping(1n), ping(2n)]),
      code: 'BATCH_CODEC_NOT_ENABLED',
    }),
    invalid({
      id: 'invalid.batch.count-zero',
      description: 'count = 0 with an empty payload.',
      requirements: ['BAT-3'],
      hex: batchBytes({ codec: BatchCodec.NONE, count: 0, uncompressedLength: 0, payload: new Uint8Array(0) }),
      code: 'BATCH_COUNT_MISMATCH',
    }),
    invalid({
      id: 'invalid.batch.count-too-high',
      description: 'count = 3, the payload holds 2 frames.',
      requirements: ['BAT-3', 'BAT-13'],
      hex: plainBatch([ping(1n), ping(2n)], { count: 3 }),
      code: 'BATCH_COUNT_MISMATCH',
    }),
    invalid({
      id: 'invalid.batch.count-too-low',
      description: 'count = 1, the payload holds 2 frames (trailing bytes).',
      requirements: ['BAT-3'],
      hex: plainBatch([ping(1n), ping(2n)], { count: 1 }),
      code: 'BATCH_COUNT_MISMATCH',
    }),
    invalid({
      id: 'invalid.batch.lz4-count-too-high',
      description: 'An LZ4 batch whose count exceeds the frames in its block.',
      requirements: ['BAT-3', 'BAT-6'],
      hex: lz4Batch([ping(1n), ping(2n)], { count: 5 }),
      code: 'BATCH_COUNT_MISMATCH',
      lz4: true,
    }),
    invalid({
      id: 'invalid.batch.count-over-max-frames',
      description: 'count = 3 with max_batch_frames = 2: refused from the header.',
      requirements: ['BAT-5'],
      limits: { maxBatchFrames: 2 },
      hex: plainBatch([ping(1n), ping(2n), ping(3n)]),
      code: 'BATCH_TOO_LARGE',
    }),
    invalid({
      id: 'invalid.batch.count-over-default-max-frames',
      description: '1025 frames in one batch, over the default max_batch_frames of 1024.',
      requirements: ['BAT-5', 'LIM-1'],
      hex: plainBatch(Array.from({ length: 1025 }, (_, i) => ping(BigInt(i % 100)))),
      code: 'BATCH_TOO_LARGE',
    }),
    invalid({
      id: 'invalid.batch.none-length-mismatch',
      description: 'BATCH_CODEC_NONE whose uncompressed_length is one more than the payload length.',
      requirements: ['BAT-4'],
      hex: plainBatch([ping(1n)], { uncompressedLength: stream(ping(1n)).length + 1 }),
      code: 'BATCH_LENGTH_MISMATCH',
    }),
    invalid({
      id: 'invalid.batch.none-over-max-bytes',
      description: 'An uncompressed batch of 15 bytes with max_batch_bytes = 14.',
      requirements: ['BAT-5'],
      limits: { maxBatchBytes: 14 },
      hex: plainBatch([ping(1n), ping(2n), ping(3n)]),
      code: 'BATCH_TOO_LARGE',
    }),
    invalid({
      id: 'invalid.batch.payload-ends-inside-frame',
      description: 'The payload ends 2 bytes into its second frame (length fields agree with the payload).',
      requirements: ['BAT-3', 'BAT-13'],
      hex: (() => {
        const payload = bytes(stream(ping(1n)), stream(ping(2n)).subarray(0, 2))
        return batchBytes({ codec: BatchCodec.NONE, count: 2, uncompressedLength: payload.length, payload })
      })(),
      code: 'BATCH_LENGTH_MISMATCH',
    }),
    invalid({
      id: 'invalid.batch.payload-ends-inside-prefix',
      description: 'The payload ends inside the length prefix of its second frame.',
      requirements: ['BAT-3'],
      hex: (() => {
        const payload = bytes(stream(ping(1n)), '80')
        return batchBytes({ codec: BatchCodec.NONE, count: 2, uncompressedLength: payload.length, payload })
      })(),
      code: 'BATCH_LENGTH_MISMATCH',
    }),
    invalid({
      id: 'invalid.batch.nested',
      description: 'A batch whose second frame is itself a batch.',
      requirements: ['BAT-7', 'BAT-13'],
      hex: plainBatch([ping(1n), encodeBatch([ping(2n)], 'none')]),
      code: 'BATCH_NESTED',
    }),
    invalid({
      id: 'invalid.batch.nested-in-lz4',
      description: 'An LZ4 batch carrying an uncompressed batch.',
      requirements: ['BAT-7'],
      hex: lz4Batch([encodeBatch([ping(2n), ping(3n)], 'none')]),
      code: 'BATCH_NESTED',
      lz4: true,
    }),
    invalid({
      id: 'invalid.batch.inner-frame-over-limit',
      description: `An LZ4 batch of ${pb(big).length} bytes of frame compressed below max_frame_bytes = 200: the inner frame is over the limit.`,
      requirements: ['BAT-11'],
      limits: { maxFrameBytes: 200 },
      hex: lz4Batch([big]),
      code: 'FRAME_TOO_LARGE',
      lz4: true,
    }),
    invalid({
      id: 'invalid.batch.inner-malformed',
      description: 'An inner frame with an invalid wire type.',
      requirements: ['BAT-1', 'FRM-5', 'BAT-13'],
      hex: (() => {
        const payload = bytes(stream(ping(1n)), '02 1e 00')
        return batchBytes({ codec: BatchCodec.NONE, count: 2, uncompressedLength: payload.length, payload })
      })(),
      code: 'MALFORMED_FRAME',
    }),
    invalid({
      id: 'invalid.batch.inner-bad-prefix',
      description: 'An inner length prefix of 6 bytes.',
      requirements: ['BAT-1', 'FRM-4'],
      hex: (() => {
        const payload = bytes('80 80 80 80 80 01', p5)
        return batchBytes({ codec: BatchCodec.NONE, count: 1, uncompressedLength: payload.length, payload })
      })(),
      code: 'BAD_LENGTH_PREFIX',
    }),
    invalid({
      id: 'invalid.batch.in-stream-after-frames',
      description: 'A stream of two good frames and a batch with codec unset.',
      requirements: ['BAT-2', 'FRM-1'],
      form: 'stream',
      hex: bytes(
        stream(ping(1n), ping(2n)),
        (() => {
          const b = plainBatch([ping(3n)], { codec: 0 })
          return bytes(varint(b.length), b)
        })(),
      ),
      code: 'BATCH_UNKNOWN_CODEC',
    }),
    invalid({
      id: 'invalid.batch.order-count-over-max-before-length',
      description:
        'count over max_batch_frames (step 3, 3506) and a NONE length mismatch (step 5, 3505): the first failing step decides.',
      requirements: ['BAT-16', 'BAT-5'],
      level: 'SHOULD',
      limits: { maxBatchFrames: 1 },
      hex: plainBatch([ping(1n), ping(2n)], { uncompressedLength: 99 }),
      code: 'BATCH_TOO_LARGE',
    }),
    invalid({
      id: 'invalid.batch.order-lz4-not-enabled-before-size',
      description:
        'LZ4 not negotiated (step 2, 3505) and uncompressed_length over max_batch_bytes (step 4, 3506): 3505.',
      requirements: ['BAT-16', 'HS-6'],
      level: 'SHOULD',
      limits: { lz4Enabled: false, maxBatchBytes: 8 },
      hex: lz4Batch([ping(1n), ping(2n)]),
      code: 'BATCH_CODEC_NOT_ENABLED',
    }),
    invalid({
      id: 'invalid.batch.order-parse-before-nested',
      description:
        'A nested batch followed by a malformed frame: frames are split and parsed (step 7, 3504) before the nesting check (step 8).',
      requirements: ['BAT-16', 'FRM-5'],
      level: 'SHOULD',
      hex: (() => {
        const payload = bytes(stream(encodeBatch([ping(2n)], 'none')), '02 1e 00')
        return batchBytes({ codec: BatchCodec.NONE, count: 2, uncompressedLength: payload.length, payload })
      })(),
      code: 'MALFORMED_FRAME',
    }),
    // ---- LZ4 blocks [BAT-6] [BAT-9]
    invalid({
      id: 'invalid.batch.lz4-offset-before-output',
      description: `A match offset of ${badOffsetBlock.matchAt + 1} after ${badOffsetBlock.matchAt} bytes of output: it points before the start.`,
      requirements: ['BAT-6'],
      hex: badOffsetBlock.batch(badOffsetBlock.matchAt + 1),
      code: 'BATCH_CORRUPT',
      lz4: true,
      notes:
        'Whatever a decoder that does not check the offset copies into the 4 match bytes, they land inside the bytes field Send.body: the batch would expand into one valid Send. Only refusing the offset fails this case.',
    }),
    invalid({
      id: 'invalid.batch.lz4-offset-zero',
      description:
        'A match offset of 0 (the LZ4 block format says it is invalid) inside an otherwise valid batch of one Send.',
      requirements: ['BAT-6'],
      hex: badOffsetBlock.batch(0),
      code: 'BATCH_CORRUPT',
      lz4: true,
      notes:
        "liblz4 1.9.4's LZ4_decompress_safe (Debian's, also behind python3-lz4) accepts offset 0 and writes 4 zero bytes; lz4-napi (lz4_flex) refuses it. Those 4 bytes fall inside Send.body, so a decoder that accepts offset 0, whatever it copies, gets one valid Send of exactly uncompressed_length bytes and the batch expands: the case fails unless offset 0 is refused. [BAT-6] requires refusing it, so a receiver built on liblz4 scans the block's sequences for offset 0 itself (vectors/README.md).",
    }),
    invalid({
      id: 'invalid.batch.lz4-truncated-block',
      description: 'A valid block of 32 chat messages cut in half.',
      requirements: ['BAT-6'],
      hex: lz4Chat({ payload: chatBlock.subarray(0, chatBlock.length >> 1) }),
      code: 'BATCH_CORRUPT',
      lz4: true,
    }),
    invalid({
      id: 'invalid.batch.lz4-truncated-offset',
      description: 'A block that ends after the first byte of a match offset.',
      requirements: ['BAT-6'],
      hex: batchBytes({
        codec: BatchCodec.LZ4_BLOCK,
        count: 1,
        uncompressedLength: 30,
        payload: bytes(0x14, utf8('a'), '01'),
      }),
      code: 'BATCH_CORRUPT',
      lz4: true,
    }),
    invalid({
      id: 'invalid.batch.lz4-empty-payload',
      description: 'An LZ4 batch with an empty block and a non-zero length.',
      requirements: ['BAT-6'],
      hex: batchBytes({ codec: BatchCodec.LZ4_BLOCK, count: 1, uncompressedLength: 4, payload: new Uint8Array(0) }),
      code: 'BATCH_CORRUPT',
      lz4: true,
    }),
    invalid({
      id: 'invalid.batch.lz4-decodes-past-declared',
      description:
        'uncompressed_length one byte less than the block produces: decompression stops at the declared length.',
      requirements: ['BAT-6', 'BAT-9'],
      hex: lz4Chat({ uncompressedLength: chatRaw.length - 1 }),
      code: 'BATCH_CORRUPT',
      lz4: true,
    }),
    invalid({
      id: 'invalid.batch.lz4-decodes-short',
      description: 'uncompressed_length one byte more than the block produces.',
      requirements: ['BAT-6'],
      hex: lz4Chat({ uncompressedLength: chatRaw.length + 1 }),
      code: 'BATCH_LENGTH_MISMATCH',
      lz4: true,
    }),
    invalid({
      id: 'invalid.batch.lz4-declared-over-limit',
      description: `A valid block of ${chatRaw.length} bytes with max_batch_bytes = 1024: refused from the header, before decompressing.`,
      requirements: ['BAT-5', 'BAT-9'],
      limits: { maxBatchBytes: 1024 },
      hex: lz4Chat({}),
      code: 'BATCH_TOO_LARGE',
      lz4: true,
    }),
    invalid({
      id: 'invalid.batch.lz4-declared-uint32-max',
      description: 'uncompressed_length = 2^32-1 with a tiny block: refused before allocating anything.',
      requirements: ['BAT-5', 'BAT-9'],
      hex: batchBytes({
        codec: BatchCodec.LZ4_BLOCK,
        count: 1,
        uncompressedLength: 4294967295,
        payload: bytes(0x1f, 0x00, '01 00', 'ff ff ff ff'),
      }),
      code: 'BATCH_TOO_LARGE',
      lz4: true,
    }),
    invalid({
      id: 'invalid.batch.lz4-match-length-bomb',
      description:
        'A 4 KiB block whose one match claims a length of about 1 MB for a declared length of 65536: refused before copying.',
      requirements: ['BAT-6', 'BAT-9', 'ERR-5'],
      hex: batchBytes({
        codec: BatchCodec.LZ4_BLOCK,
        count: 1,
        uncompressedLength: 65536,
        payload: bytes(0x1f, utf8('a'), '01 00', new Uint8Array(4000).fill(0xff), 0x00, finalLits),
      }),
      code: 'BATCH_CORRUPT',
      lz4: true,
    }),
    invalid({
      id: 'invalid.batch.lz4-literal-length-bomb',
      description: 'A literal length of about 1 MB announced by a 4 KiB block.',
      requirements: ['BAT-6', 'ERR-5'],
      hex: batchBytes({
        codec: BatchCodec.LZ4_BLOCK,
        count: 1,
        uncompressedLength: 65536,
        payload: bytes(0xf0, new Uint8Array(4000).fill(0xff), 0x00, utf8('abc')),
      }),
      code: 'BATCH_CORRUPT',
      lz4: true,
    }),
    invalid({
      id: 'invalid.batch.lz4-last-literals-missing',
      description: 'A block that ends with a match: the last 5 bytes must be literals.',
      requirements: ['BAT-6'],
      hex: batchBytes({
        codec: BatchCodec.LZ4_BLOCK,
        count: 1,
        uncompressedLength: 20,
        payload: bytes(0x8f, utf8('abcdefgh'), '08 00', 0x00),
      }),
      code: 'BATCH_CORRUPT',
      lz4: true,
    }),
  ]
}
