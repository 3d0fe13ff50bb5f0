// frames-noncanonical.json: valid bytes that no canonical encoder writes but
// every decoder must (or should) accept: unknown fields of every wire type
// [FRM-6], unknown body field numbers [FRM-7], and the other valid
// encodings [GEN-1] requires: reordered, repeated and merged fields,
// explicit defaults, non-minimal varints, unpacked repeated scalars.
import { type VectorCase, WT, bytes, frame, ld, tag, utf8, valid, varint, vf } from './helpers.js'
import { CID } from './frames.js'

const sendBody = (...fields: Uint8Array[]) => ld(3, ...fields)

export function nonCanonicalCases(): VectorCase[] {
  const expectSend = frame({
    body: {
      case: 'send',
      value: { clientMsgId: CID, conversationId: 'conv-1', sendSeq: 1n, contentType: 'text/plain', body: utf8('hi') },
    },
  })
  const sendFields = {
    id: ld(1, CID),
    conv: ld(2, utf8('conv-1')),
    seq: vf(3, 1),
    ct: ld(4, utf8('text/plain')),
    body: ld(5, utf8('hi')),
  }
  return [
    valid({
      id: 'frame.unknown-body-field',
      description:
        'A body field number v1 does not define (100) decodes to a Frame with no body; the session closes 3511 [FRM-7].',
      requirements: ['FRM-6', 'FRM-7'],
      frames: [frame()],
      hex: ld(100, vf(1, 1)),
    }),
    valid({
      id: 'frame.unknown-body-field-35',
      description:
        'Body field 35, the first number above the bodies the features define (25 to 34), decodes to a Frame with no body; the session closes 3511 [FRM-7].',
      requirements: ['FRM-6', 'FRM-7'],
      frames: [frame()],
      hex: ld(35, vf(1, 1)),
    }),
    valid({
      id: 'frame.unknown-body-field-max-number',
      description: 'The largest field number (2^29-1) as a varint field of the Frame is skipped.',
      requirements: ['FRM-6', 'FRM-7'],
      frames: [frame()],
      hex: vf(536870911, 7),
    }),
    valid({
      id: 'frame.send.unknown-fields-skipped',
      description:
        'Unknown fields of each wire type (varint, fixed64, length-delimited, fixed32) between the known fields of a Send are skipped.',
      requirements: ['FRM-6', 'GEN-1'],
      frames: [expectSend],
      hex: sendBody(
        sendFields.id,
        vf(6, 300),
        sendFields.conv,
        tag(7, WT.i64),
        bytes('0102030405060708'),
        sendFields.seq,
        ld(8, utf8('future')),
        sendFields.ct,
        tag(9, WT.i32),
        bytes('0a0b0c0d'),
        sendFields.body,
        ld(15, ld(1, utf8('nested unknown message'))),
      ),
    }),
    valid({
      id: 'frame.send.unknown-group-skipped',
      description:
        'An unknown field in the (deprecated) group wire types 3/4, holding a nested field, is skipped whole.',
      requirements: ['FRM-6', 'GEN-1'],
      frames: [expectSend],
      hex: sendBody(
        sendFields.id,
        sendFields.conv,
        tag(20, WT.sgroup),
        vf(1, 5),
        ld(2, utf8('x')),
        tag(20, WT.egroup),
        sendFields.seq,
        sendFields.ct,
        sendFields.body,
      ),
    }),
    valid({
      id: 'frame.unknown-field-before-body',
      description: 'An unknown field of the Frame itself before the body field is skipped; the body still decodes.',
      requirements: ['FRM-6', 'GEN-1'],
      frames: [expectSend],
      hex: bytes(
        vf(99, 1),
        ld(98, 'ff'),
        sendBody(sendFields.id, sendFields.conv, sendFields.seq, sendFields.ct, sendFields.body),
      ),
    }),
    valid({
      id: 'frame.deliver.unknown-field-nested',
      description: 'An unknown field inside the Message nested in a Deliver is skipped.',
      requirements: ['FRM-6', 'GEN-1'],
      frames: [frame({ body: { case: 'deliver', value: { message: { conversationId: 'c', seq: 2n }, epoch: 1n } } })],
      hex: ld(5, ld(1, ld(1, utf8('c')), vf(50, 1), vf(2, 2)), vf(2, 1)),
    }),
    valid({
      id: 'frame.send.fields-reversed',
      description: 'Fields in descending field-number order decode the same as in canonical order.',
      requirements: ['GEN-1'],
      frames: [expectSend],
      hex: sendBody(sendFields.body, sendFields.ct, sendFields.seq, sendFields.conv, sendFields.id),
    }),
    valid({
      id: 'frame.send.repeated-scalar-last-wins',
      description: 'A singular field that appears twice takes the last value (protobuf rule).',
      requirements: ['GEN-1'],
      frames: [expectSend],
      hex: sendBody(
        sendFields.id,
        ld(2, utf8('first')),
        sendFields.seq,
        vf(3, 1),
        sendFields.conv,
        sendFields.ct,
        sendFields.body,
      ),
    }),
    valid({
      id: 'frame.send.explicit-defaults',
      description: 'Default values written explicitly (send_seq 0, empty content type and body) decode as defaults.',
      requirements: ['GEN-1'],
      frames: [frame({ body: { case: 'send', value: { clientMsgId: CID, conversationId: 'conv-1' } } })],
      hex: sendBody(sendFields.id, sendFields.conv, vf(3, 0), ld(4), ld(5)),
    }),
    valid({
      id: 'frame.send.non-minimal-varints',
      description:
        'Non-minimal varints (send_seq 1 as 81 80 80 00, lengths 14 and 6 as 8e 00 and 86 00) are valid protobuf.',
      requirements: ['GEN-1'],
      frames: [frame({ body: { case: 'send', value: { conversationId: 'conv-1', sendSeq: 1n } } })],
      hex: bytes('1a 8e 00', tag(2, WT.len), '86 00', utf8('conv-1'), tag(3, WT.varint), '81 80 80 00'),
    }),
    valid({
      id: 'frame.hello.versions-unpacked',
      description: 'A repeated uint32 sent unpacked (one tag per element) decodes like the packed form.',
      requirements: ['GEN-1'],
      frames: [frame({ body: { case: 'hello', value: { versions: [1, 2, 3] } } })],
      hex: ld(1, vf(1, 1), vf(1, 2), vf(1, 3)),
    }),
    valid({
      id: 'frame.hello.versions-packed-and-unpacked',
      description: 'Packed and unpacked runs of the same repeated field concatenate.',
      requirements: ['GEN-1'],
      frames: [frame({ body: { case: 'hello', value: { versions: [1, 2, 3, 4] } } })],
      hex: ld(1, ld(1, varint(1), varint(2)), vf(1, 3), ld(1, varint(4))),
    }),
    valid({
      id: 'frame.send-ack.bool-non-canonical',
      description: 'A bool encoded as 2 is true (any non-zero varint).',
      requirements: ['GEN-1'],
      frames: [frame({ body: { case: 'sendAck', value: { seq: 1n, duplicate: true } } })],
      hex: ld(4, vf(3, 1), vf(6, 2)),
    }),
    valid({
      id: 'frame.deliver.message-merged',
      description: 'A nested message field that appears twice is merged (protobuf rule): fields of both occurrences.',
      requirements: ['GEN-1'],
      frames: [
        frame({
          body: { case: 'deliver', value: { message: { conversationId: 'c', seq: 2n, messageId: 'm' }, epoch: 1n } },
        }),
      ],
      hex: ld(5, ld(1, ld(1, utf8('c')), vf(2, 1)), vf(2, 1), ld(1, vf(2, 2), ld(3, utf8('m')))),
    }),
    valid({
      id: 'frame.body-last-wins',
      description: 'Two different body fields: the last one is the body (oneof rule).',
      requirements: ['GEN-1'],
      frames: [frame({ body: { case: 'ping', value: { nonce: 5n } } })],
      hex: bytes(sendBody(sendFields.conv), ld(8, vf(1, 5))),
    }),
    valid({
      id: 'frame.body-same-field-merged',
      description: 'The same body field twice merges into one body (protobuf rule for message fields).',
      requirements: ['GEN-1'],
      frames: [frame({ body: { case: 'send', value: { conversationId: 'conv-1', sendSeq: 1n } } })],
      hex: bytes(sendBody(sendFields.conv), sendBody(sendFields.seq)),
    }),
  ]
}
