// streams.json: the TCP form with zero, one and many frames, prefix edge
// cases, size limits at their boundary, and every value of every enum.
import { CloseCodeSchema, ErrorCodeSchema } from '../../../src/gen/es/imwire/v1/control_pb.js'
import {
  ConversationKindSchema,
  HistoryDirectionSchema,
  UpdateReasonSchema,
} from '../../../src/gen/es/imwire/v1/conversation_pb.js'
import { type VectorCase, bytes, frame, noise, pb, utf8, valid } from './helpers.js'
import { CID, deliverFrame, sendFrame } from './frames.js'

const R = ['FRM-1', 'FRM-11']

const ping = (n: bigint) => frame({ body: { case: 'ping', value: { nonce: n } } })

export function streamCases(): VectorCase[] {
  const pingBytes = pb(ping(5n))
  const big = frame({ body: { case: 'send', value: { conversationId: 'c', body: noise(11, 60 * 1024) } } })
  const atLimit = sendFrame({ body: utf8('x'.repeat(40)) })
  const atLimitSize = pb(atLimit).length
  return [
    valid({
      id: 'stream.empty',
      description: 'An empty stream holds no frames and is not truncated.',
      requirements: ['FRM-1', 'FRM-8'],
      form: 'stream',
      frames: [],
    }),
    valid({
      id: 'stream.single-send',
      description: 'One Send with its one-byte length prefix.',
      requirements: R,
      form: 'stream',
      frames: [sendFrame()],
    }),
    valid({
      id: 'stream.three-frames',
      description: 'Hello, Send, DeliverAck back to back.',
      requirements: R,
      form: 'stream',
      frames: [
        frame({ body: { case: 'hello', value: { versions: [1], token: 't', deviceId: 'd' } } }),
        sendFrame(),
        frame({ body: { case: 'deliverAck', value: { conversationId: 'conv-1', upToSeq: 3n } } }),
      ],
    }),
    valid({
      id: 'stream.ten-pings',
      description: 'Ten small frames in one stream.',
      requirements: R,
      form: 'stream',
      frames: Array.from({ length: 10 }, (_, i) => ping(BigInt(i * 1000))),
    }),
    valid({
      id: 'stream.zero-length-frame',
      description: 'A zero length prefix is an empty Frame (no body; the session closes 3511 [FRM-7]).',
      requirements: ['FRM-1', 'FRM-7'],
      form: 'stream',
      frames: [frame()],
    }),
    valid({
      id: 'stream.zero-length-between-frames',
      description: 'An empty frame between two Pings does not desynchronise the stream.',
      requirements: ['FRM-1'],
      form: 'stream',
      frames: [ping(1n), frame(), ping(2n)],
    }),
    valid({
      id: 'stream.large-frame-60kib',
      description: 'A 60 KiB frame needs a 3-byte length prefix.',
      requirements: R,
      form: 'stream',
      frames: [big, ping(1n)],
    }),
    valid({
      id: 'stream.mixed-traffic',
      description: 'Send, SendAck, Deliver, DeliverAck, Ping, Pong and Close in one stream.',
      requirements: R,
      form: 'stream',
      frames: [
        sendFrame(),
        frame({
          body: {
            case: 'sendAck',
            value: { clientMsgId: CID, conversationId: 'conv-1', seq: 1n, messageId: 'm-1', epoch: 1n },
          },
        }),
        deliverFrame(2n, 'yo'),
        frame({ body: { case: 'deliverAck', value: { conversationId: 'conv-1', upToSeq: 2n } } }),
        ping(9n),
        frame({ body: { case: 'pong', value: { nonce: 9n } } }),
        frame({ body: { case: 'close', value: { code: 3000, reason: 'bye' } } }),
      ],
    }),
    valid({
      id: 'stream.prefix-non-minimal',
      description: 'A length prefix written in two bytes (84 00 = 4) is a valid varint of at most 5 bytes.',
      requirements: ['FRM-1'],
      form: 'stream',
      frames: [ping(5n)],
      hex: bytes('84 00', pingBytes),
    }),
    valid({
      id: 'stream.prefix-five-bytes',
      description: 'A length prefix of exactly 5 bytes (84 80 80 80 00 = 4) is the longest allowed.',
      requirements: ['FRM-1', 'FRM-4'],
      form: 'stream',
      frames: [ping(5n)],
      hex: bytes('84 80 80 80 00', pingBytes),
    }),
    valid({
      id: 'stream.frame-at-limit',
      description: `A frame of exactly max_frame_bytes (${atLimitSize}) is accepted.`,
      requirements: ['FRM-1', 'FRM-3'],
      form: 'stream',
      limits: { maxFrameBytes: atLimitSize },
      frames: [atLimit],
    }),
    valid({
      id: 'frame.at-limit',
      description: `A WebSocket message of exactly max_frame_bytes (${atLimitSize}) is accepted.`,
      requirements: ['FRM-2', 'FRM-3'],
      limits: { maxFrameBytes: atLimitSize },
      frames: [atLimit],
    }),
    valid({
      id: 'stream.error-codes',
      description: 'One Error per ErrorCode of v1, in number order (UNSPECIFIED is the omitted default).',
      requirements: R,
      form: 'stream',
      frames: ErrorCodeSchema.values.map((v) =>
        frame({ body: { case: 'error', value: { code: v.number, requestId: v.number } } }),
      ),
    }),
    valid({
      id: 'stream.close-codes',
      description: 'One Close per CloseCode of v1, in number order.',
      requirements: R,
      form: 'stream',
      frames: CloseCodeSchema.values.map((v) =>
        frame({ body: { case: 'close', value: { code: v.number, reason: v.name } } }),
      ),
    }),
    valid({
      id: 'stream.update-reasons',
      description: 'One ConversationUpdated per UpdateReason of v1.',
      requirements: R,
      form: 'stream',
      frames: UpdateReasonSchema.values.map((v) =>
        frame({ body: { case: 'conversationUpdated', value: { conversationId: 'c', reason: v.number, epoch: 1n } } }),
      ),
    }),
    valid({
      id: 'stream.history-directions',
      description: 'One HistoryRequest per HistoryDirection of v1.',
      requirements: R,
      form: 'stream',
      frames: HistoryDirectionSchema.values.map((v) =>
        frame({
          body: {
            case: 'historyRequest',
            value: { requestId: 1 + v.number, conversationId: 'c', direction: v.number },
          },
        }),
      ),
    }),
    valid({
      id: 'stream.conversation-kinds',
      description: 'One CreateConversation per ConversationKind of v1.',
      requirements: R,
      form: 'stream',
      frames: ConversationKindSchema.values.map((v) =>
        frame({
          body: {
            case: 'createConversation',
            value: { requestId: 1 + v.number, conversationId: `c${v.number}`, kind: v.number },
          },
        }),
      ),
    }),
  ]
}
