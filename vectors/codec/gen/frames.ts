// frames.json: one valid frame per case (WebSocket form), every frame type
// with typical and edge values, every enum including unknown numbers.
import { CloseCode, ErrorCode } from '../../../src/gen/es/imwire/v1/control_pb.js'
import { ConversationKind, HistoryDirection, UpdateReason } from '../../../src/gen/es/imwire/v1/conversation_pb.js'
import { featureFrameCases } from './feature-frames.js'
import { type VectorCase, bytes, frame, noise, utf8, valid } from './helpers.js'

export const CID = bytes('00112233445566778899aabbccddeeff')
export const MAX64 = 18446744073709551615n
export const MAX32 = 4294967295
/** Multi-byte UTF-8: 2-byte (é, ß), 3-byte (€, 漢), 4-byte (emoji) sequences. */
export const UTF8_TEXT = 'Grüße, café € 漢字 👋🏽 🎉'
const TOKEN = 'imwire-test.v1.alice.Rk8xV2t0bGZxYm9nZ1pZbVh3eGZXbG1XbXdZbFpYaw'
const TS = 1763800000000n

export const sendFrame = (over: Record<string, unknown> = {}) =>
  frame({
    body: {
      case: 'send',
      value: {
        clientMsgId: CID,
        conversationId: 'conv-1',
        sendSeq: 1n,
        contentType: 'text/plain',
        body: utf8('hello'),
        ...over,
      },
    },
  })

export const deliverFrame = (seq: bigint, text: string, over: Record<string, unknown> = {}) =>
  frame({
    body: {
      case: 'deliver',
      value: {
        message: {
          conversationId: 'conv-1',
          seq,
          messageId: `m-${seq}`,
          senderUserId: 'alice',
          senderDeviceId: 'alice-phone',
          clientMsgId: CID,
          serverTimeMs: TS + seq,
          contentType: 'text/plain',
          body: utf8(text),
          ...over,
        },
        epoch: 1n,
      },
    },
  })

const R = ['FRM-2', 'FRM-11']

export function frameCases(): VectorCase[] {
  const big = noise(7, 60 * 1024)
  return [
    // Hello / Welcome
    valid({
      id: 'frame.hello.typical',
      description:
        'Hello with every field set: one version, a test token, device id, lz4, heartbeat, limits, a resume position, client name.',
      requirements: [...R, 'HS-1'],
      frames: [
        frame({
          body: {
            case: 'hello',
            value: {
              versions: [1],
              token: TOKEN,
              deviceId: 'alice-phone',
              features: ['lz4'],
              heartbeatMs: 30000,
              maxFrameBytes: 1048576,
              receiveWindow: 256,
              resume: [{ conversationId: 'conv-1', seq: 42n, epoch: 1n }],
              clientName: 'imwire-js/0.1.0',
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.hello.empty',
      description: 'Hello with no field set still carries the body field: bytes 0a 00.',
      requirements: R,
      frames: [frame({ body: { case: 'hello', value: {} } })],
    }),
    valid({
      id: 'frame.hello.many-versions-packed',
      description: 'A repeated uint32 (versions) is written packed, including 0 and 2^32-1.',
      requirements: R,
      frames: [frame({ body: { case: 'hello', value: { versions: [1, 2, 0, 300, MAX32] } } })],
    }),
    valid({
      id: 'frame.hello.resume-many-and-max',
      description: 'Several resume positions, one with seq and epoch at 2^64-1, one all defaults.',
      requirements: R,
      frames: [
        frame({
          body: {
            case: 'hello',
            value: {
              versions: [1],
              resume: [
                { conversationId: 'a', seq: MAX64, epoch: MAX64 },
                {},
                { conversationId: 'grp:team.42', seq: 1n, epoch: 2n },
              ],
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.hello.unknown-features',
      description: 'Unknown feature names are plain strings to the codec (the server ignores them, [HS-5]).',
      requirements: [...R, 'HS-5'],
      frames: [
        frame({ body: { case: 'hello', value: { versions: [1], features: ['lz4', 'x-future', UTF8_TEXT, ''] } } }),
      ],
    }),
    valid({
      id: 'frame.welcome.typical',
      description: 'Welcome with the default limits of [LIM-1].',
      requirements: [...R, 'HS-10', 'LIM-1'],
      frames: [
        frame({
          body: {
            case: 'welcome',
            value: {
              version: 1,
              features: ['lz4'],
              sessionId: 's-7f3a9c',
              userId: 'alice',
              deviceId: 'alice-phone',
              heartbeatMs: 30000,
              limits: {
                maxFrameBytes: 1048576,
                maxBatchBytes: 4194304,
                maxBatchFrames: 1024,
                maxMessageBytes: 65536,
                receiveWindow: 256,
                maxInflightSends: 256,
                maxBacklog: 4096,
                replayLimit: 500,
                historyPageMax: 100,
                resumeTtlMs: 2592000000n,
                dedupeWindowMs: 2592000000n,
              },
              serverTimeMs: TS,
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.welcome.limits-max',
      description: 'Every uint32 limit at 2^32-1 (5-byte varints) and every uint64 at 2^64-1 (10-byte varints).',
      requirements: R,
      frames: [
        frame({
          body: {
            case: 'welcome',
            value: {
              version: MAX32,
              heartbeatMs: MAX32,
              limits: {
                maxFrameBytes: MAX32,
                maxBatchBytes: MAX32,
                maxBatchFrames: MAX32,
                maxMessageBytes: MAX32,
                receiveWindow: MAX32,
                maxInflightSends: MAX32,
                maxBacklog: MAX32,
                replayLimit: MAX32,
                historyPageMax: MAX32,
                resumeTtlMs: MAX64,
                dedupeWindowMs: MAX64,
              },
              serverTimeMs: MAX64,
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.welcome.empty-limits',
      description: 'A set but empty nested message (limits) is written as tag + zero length.',
      requirements: R,
      frames: [frame({ body: { case: 'welcome', value: { version: 1, limits: {} } } })],
    }),
    // Send
    valid({
      id: 'frame.send.typical',
      description: 'Send with a 16-byte client_msg_id, send_seq 1, text body.',
      requirements: [...R, 'SND-1'],
      frames: [sendFrame()],
    }),
    valid({
      id: 'frame.send.uint64-max-seq',
      description: 'send_seq = 2^64-1 = 18446744073709551615 (10-byte varint).',
      requirements: R,
      frames: [sendFrame({ sendSeq: MAX64 })],
    }),
    valid({
      id: 'frame.send.seq-varint-boundaries',
      description: 'send_seq = 2^53+1, beyond exact doubles: decoders must keep 64-bit precision.',
      requirements: R,
      frames: [sendFrame({ sendSeq: 9007199254740993n })],
    }),
    valid({
      id: 'frame.send.zero-values',
      description: 'Send with every field at its default: only the body field with length 0 (1a 00).',
      requirements: R,
      frames: [frame({ body: { case: 'send', value: {} } })],
    }),
    valid({
      id: 'frame.send.empty-body',
      description: 'An empty body is omitted (proto3 default), the other fields stay.',
      requirements: R,
      frames: [sendFrame({ body: new Uint8Array(0), contentType: '' })],
    }),
    valid({
      id: 'frame.send.body-60kib',
      description: 'A 60 KiB binary body (3-byte length varints for body, Send and Frame).',
      requirements: R,
      frames: [sendFrame({ body: big, contentType: 'application/octet-stream' })],
    }),
    valid({
      id: 'frame.send.utf8-multibyte',
      description: 'Strings with 2-, 3- and 4-byte UTF-8 sequences (emoji) in conversation id and content type.',
      requirements: [...R, 'FRM-5'],
      frames: [
        sendFrame({ conversationId: UTF8_TEXT, contentType: 'text/plain; charset=utf-8; x=👋', body: utf8(UTF8_TEXT) }),
      ],
    }),
    valid({
      id: 'frame.send.every-byte-value',
      description: 'A body holding every byte value 00..ff (bytes fields are not UTF-8).',
      requirements: R,
      frames: [sendFrame({ body: Uint8Array.from({ length: 256 }, (_, i) => i) })],
    }),
    valid({
      id: 'frame.send.short-client-msg-id',
      description:
        "A client_msg_id that is not 16 bytes still decodes; refusing it is the server's job ([SND-1] BAD_REQUEST), not the codec's.",
      requirements: R,
      frames: [sendFrame({ clientMsgId: bytes('01') })],
    }),
    // SendAck
    valid({
      id: 'frame.send-ack.typical',
      description: 'SendAck with every field of [ACK-3].',
      requirements: [...R, 'ACK-3'],
      frames: [
        frame({
          body: {
            case: 'sendAck',
            value: {
              clientMsgId: CID,
              conversationId: 'conv-1',
              seq: 17n,
              messageId: 'm-17',
              serverTimeMs: TS,
              epoch: 1n,
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.send-ack.duplicate',
      description: 'SendAck answering a retried Send: duplicate = true (30 01).',
      requirements: [...R, 'DUP-2'],
      frames: [
        frame({
          body: {
            case: 'sendAck',
            value: {
              clientMsgId: CID,
              conversationId: 'conv-1',
              seq: 17n,
              messageId: 'm-17',
              serverTimeMs: TS,
              duplicate: true,
              epoch: 1n,
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.send-ack.uint64-max',
      description: 'seq, server_time_ms and epoch at 2^64-1.',
      requirements: R,
      frames: [frame({ body: { case: 'sendAck', value: { seq: MAX64, serverTimeMs: MAX64, epoch: MAX64 } } })],
    }),
    valid({
      id: 'frame.send-ack.zero',
      description: 'SendAck with every field at its default (22 00).',
      requirements: R,
      frames: [frame({ body: { case: 'sendAck', value: {} } })],
    }),
    // Deliver
    valid({
      id: 'frame.deliver.typical',
      description: 'Deliver of one live message with all Message fields.',
      requirements: R,
      frames: [deliverFrame(5n, 'hi bob')],
    }),
    valid({
      id: 'frame.deliver.replayed',
      description: 'Deliver with replayed = true ([DLV-6]).',
      requirements: [...R, 'DLV-6'],
      frames: [
        frame({
          body: {
            case: 'deliver',
            value: { message: { conversationId: 'conv-1', seq: 1n, body: utf8('x') }, epoch: 3n, replayed: true },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.deliver.empty-message',
      description: 'A set but empty Message is still written (0a 00); an absent one is not.',
      requirements: R,
      frames: [frame({ body: { case: 'deliver', value: { message: {} } } })],
    }),
    valid({
      id: 'frame.deliver.no-message',
      description: 'Deliver without a message: 2a 00.',
      requirements: R,
      frames: [frame({ body: { case: 'deliver', value: {} } })],
    }),
    valid({
      id: 'frame.deliver.utf8-emoji',
      description: 'Sender ids, content type and body with multi-byte UTF-8 including 4-byte emoji.',
      requirements: R,
      frames: [
        deliverFrame(9n, UTF8_TEXT, { senderUserId: 'zoë', senderDeviceId: '📱-1', contentType: 'text/plain; 🎉' }),
      ],
    }),
    valid({
      id: 'frame.deliver.uint64-max',
      description: 'seq, server_time_ms and epoch at 2^64-1 inside the nested Message.',
      requirements: R,
      frames: [
        frame({
          body: {
            case: 'deliver',
            value: { message: { seq: MAX64, serverTimeMs: MAX64 }, epoch: MAX64, replayed: true },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.deliver.body-60kib',
      description: 'A 60 KiB body in a Deliver (nested length varints of 3 bytes).',
      requirements: R,
      frames: [deliverFrame(77n, '', { body: big })],
    }),
    // DeliverAck
    valid({
      id: 'frame.deliver-ack.typical',
      description: 'Cumulative DeliverAck ([DLV-2]).',
      requirements: [...R, 'DLV-2'],
      frames: [frame({ body: { case: 'deliverAck', value: { conversationId: 'conv-1', upToSeq: 42n } } })],
    }),
    valid({
      id: 'frame.deliver-ack.uint64-max',
      description: 'up_to_seq = 2^64-1.',
      requirements: R,
      frames: [frame({ body: { case: 'deliverAck', value: { conversationId: 'conv-1', upToSeq: MAX64 } } })],
    }),
    valid({
      id: 'frame.deliver-ack.zero',
      description: 'DeliverAck with defaults only (32 00).',
      requirements: R,
      frames: [frame({ body: { case: 'deliverAck', value: {} } })],
    }),
    // Ping / Pong
    valid({
      id: 'frame.ping.typical',
      description: 'Ping with a nonce.',
      requirements: [...R, 'HB-1'],
      frames: [frame({ body: { case: 'ping', value: { nonce: 123456789n } } })],
    }),
    valid({
      id: 'frame.ping.zero-nonce',
      description: 'Ping with nonce 0: the smallest frame with a body (42 00).',
      requirements: R,
      frames: [frame({ body: { case: 'ping', value: {} } })],
    }),
    valid({
      id: 'frame.ping.uint64-max',
      description: 'Ping nonce at 2^64-1.',
      requirements: R,
      frames: [frame({ body: { case: 'ping', value: { nonce: MAX64 } } })],
    }),
    valid({
      id: 'frame.pong.typical',
      description: 'Pong echoing a nonce.',
      requirements: [...R, 'HB-1'],
      frames: [frame({ body: { case: 'pong', value: { nonce: 123456789n } } })],
    }),
    // Error / Close
    valid({
      id: 'frame.error.typical',
      description: 'Error with every field set (SEND_OUT_OF_ORDER with expected_send_seq) and a UTF-8 message.',
      requirements: [...R, 'ERR-1', 'ORD-3'],
      frames: [
        frame({
          body: {
            case: 'error',
            value: {
              code: ErrorCode.SEND_OUT_OF_ORDER,
              message: `send_seq gap — ${UTF8_TEXT}`,
              retryable: true,
              retryAfterMs: 250,
              requestId: 0,
              clientMsgId: CID,
              expectedSendSeq: 7n,
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.error.unknown-code',
      description: 'An ErrorCode number v1 does not define (999) decodes as that number (open enum).',
      requirements: R,
      frames: [frame({ body: { case: 'error', value: { code: 999 as ErrorCode, requestId: 3 } } })],
    }),
    valid({
      id: 'frame.error.negative-code',
      description: 'A negative enum number (-1) is a 10-byte varint and decodes as -1.',
      requirements: R,
      frames: [frame({ body: { case: 'error', value: { code: -1 as ErrorCode } } })],
    }),
    valid({
      id: 'frame.close.typical',
      description: 'Close GOING_AWAY with a reason and retry_after_ms.',
      requirements: [...R, 'ERR-2', 'ERR-6'],
      frames: [
        frame({
          body: { case: 'close', value: { code: CloseCode.GOING_AWAY, reason: 'restarting 🔧', retryAfterMs: 5000 } },
        }),
      ],
    }),
    valid({
      id: 'frame.close.unknown-code',
      description: 'A CloseCode number v1 does not define (3999) decodes as that number.',
      requirements: R,
      frames: [frame({ body: { case: 'close', value: { code: 3999 as CloseCode } } })],
    }),
    valid({
      id: 'frame.close.reason-123-bytes',
      description:
        'A Close reason of exactly 123 bytes of UTF-8 (41 three-byte characters), the most [ERR-7] recommends.',
      requirements: [...R, 'ERR-7'],
      frames: [frame({ body: { case: 'close', value: { code: CloseCode.PROTOCOL_ERROR, reason: '€'.repeat(41) } } })],
    }),
    // Conversation updates and replay
    valid({
      id: 'frame.conversation-updated.typical',
      description: 'ConversationUpdated REPLAY_LIMIT with cursor and top_seq ([RSM-2]).',
      requirements: [...R, 'RSM-2'],
      frames: [
        frame({
          body: {
            case: 'conversationUpdated',
            value: {
              conversationId: 'conv-1',
              reason: UpdateReason.REPLAY_LIMIT,
              epoch: 1n,
              topSeq: 9000n,
              cursor: 12n,
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.conversation-updated.unknown-reason',
      description: 'An UpdateReason number v1 does not define (99).',
      requirements: R,
      frames: [
        frame({ body: { case: 'conversationUpdated', value: { conversationId: 'c', reason: 99 as UpdateReason } } }),
      ],
    }),
    valid({
      id: 'frame.replay-complete.typical',
      description: 'ReplayComplete with counts ([HS-11]).',
      requirements: [...R, 'HS-11'],
      frames: [frame({ body: { case: 'replayComplete', value: { delivered: 500n, pullRequired: 2 } } })],
    }),
    valid({
      id: 'frame.replay-complete.zero',
      description: 'ReplayComplete after an empty replay: 6a 00.',
      requirements: R,
      frames: [frame({ body: { case: 'replayComplete', value: {} } })],
    }),
    // History and listing (two-byte body tags: field numbers 16-24)
    valid({
      id: 'frame.history-request.backward',
      description: 'HistoryRequest BACKWARD from the top; body field 16 needs a two-byte tag (82 01).',
      requirements: [...R, 'HIS-1'],
      frames: [
        frame({
          body: {
            case: 'historyRequest',
            value: {
              requestId: 7,
              conversationId: 'conv-1',
              direction: HistoryDirection.BACKWARD,
              anchorSeq: 0n,
              limit: 50,
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.history-request.unknown-direction',
      description: 'A HistoryDirection number v1 does not define (7).',
      requirements: R,
      frames: [frame({ body: { case: 'historyRequest', value: { requestId: 1, direction: 7 as HistoryDirection } } })],
    }),
    valid({
      id: 'frame.history-page.typical',
      description: 'HistoryPage with three messages and has_more.',
      requirements: [...R, 'HIS-4'],
      frames: [
        frame({
          body: {
            case: 'historyPage',
            value: {
              requestId: 7,
              conversationId: 'conv-1',
              epoch: 1n,
              topSeq: 90n,
              messages: [1n, 2n, 3n].map((seq) => ({
                conversationId: 'conv-1',
                seq,
                messageId: `m-${seq}`,
                senderUserId: 'bob',
                senderDeviceId: 'bob-laptop',
                clientMsgId: CID,
                serverTimeMs: TS + seq,
                contentType: 'text/plain',
                body: utf8(`message ${seq}`),
              })),
              hasMore: true,
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.history-page.empty',
      description: 'An empty HistoryPage (no messages, has_more false).',
      requirements: R,
      frames: [frame({ body: { case: 'historyPage', value: { requestId: 8, conversationId: 'conv-1', epoch: 1n } } })],
    }),
    valid({
      id: 'frame.list-conversations.typical',
      description: 'ListConversations paging after an id.',
      requirements: [...R, 'HIS-5'],
      frames: [
        frame({
          body: { case: 'listConversations', value: { requestId: 9, afterConversationId: 'conv-1', limit: 100 } },
        }),
      ],
    }),
    valid({
      id: 'frame.conversation-list.every-kind',
      description:
        'ConversationList with conversations of every ConversationKind, including UNSPECIFIED (0, omitted) and an unknown number (9).',
      requirements: [...R, 'HIS-5'],
      frames: [
        frame({
          body: {
            case: 'conversationList',
            value: {
              requestId: 9,
              conversations: [
                {
                  conversationId: 'd1',
                  kind: ConversationKind.DIRECT,
                  epoch: 1n,
                  topSeq: 3n,
                  cursor: 3n,
                  memberUserIds: ['alice', 'bob'],
                  ownerUserId: 'alice',
                },
                {
                  conversationId: 'g1',
                  kind: ConversationKind.GROUP,
                  epoch: 2n,
                  topSeq: 10n,
                  cursor: 4n,
                  memberUserIds: ['alice', 'bob', 'carol'],
                  ownerUserId: 'carol',
                  title: 'Team 🎉',
                },
                { conversationId: 'u0', kind: ConversationKind.UNSPECIFIED },
                { conversationId: 'u9', kind: 9 as ConversationKind },
              ],
              hasMore: true,
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.create-conversation.group',
      description: 'CreateConversation of a GROUP with members and a title.',
      requirements: [...R, 'CNV-1'],
      frames: [
        frame({
          body: {
            case: 'createConversation',
            value: {
              requestId: 11,
              conversationId: 'grp:team.42',
              kind: ConversationKind.GROUP,
              memberUserIds: ['bob', 'carol'],
              title: 'Team',
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.create-conversation.direct',
      description: 'CreateConversation of a DIRECT conversation with one other user.',
      requirements: [...R, 'CNV-1'],
      frames: [
        frame({
          body: {
            case: 'createConversation',
            value: {
              requestId: 12,
              conversationId: 'd:alice:bob',
              kind: ConversationKind.DIRECT,
              memberUserIds: ['bob'],
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.create-conversation.unknown-kind',
      description:
        "A ConversationKind number v1 does not define (3) decodes as that number; refusing it is the server's job.",
      requirements: R,
      frames: [
        frame({
          body: {
            case: 'createConversation',
            value: { requestId: 13, conversationId: 'x', kind: 3 as ConversationKind },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.add-members.typical',
      description: 'AddMembers (body field 21).',
      requirements: [...R, 'CNV-3'],
      frames: [
        frame({
          body: { case: 'addMembers', value: { requestId: 14, conversationId: 'g1', userIds: ['dave', 'erin'] } },
        }),
      ],
    }),
    valid({
      id: 'frame.remove-members.typical',
      description: 'RemoveMembers (body field 22).',
      requirements: [...R, 'CNV-4'],
      frames: [
        frame({ body: { case: 'removeMembers', value: { requestId: 15, conversationId: 'g1', userIds: ['dave'] } } }),
      ],
    }),
    valid({
      id: 'frame.leave-conversation.typical',
      description: 'LeaveConversation (body field 23).',
      requirements: [...R, 'CNV-5'],
      frames: [frame({ body: { case: 'leaveConversation', value: { requestId: 16, conversationId: 'g1' } } })],
    }),
    valid({
      id: 'frame.conversation-result.typical',
      description: 'ConversationResult (body field 24, tag c2 01) with a nested ConversationInfo.',
      requirements: R,
      frames: [
        frame({
          body: {
            case: 'conversationResult',
            value: {
              requestId: 11,
              conversation: {
                conversationId: 'grp:team.42',
                kind: ConversationKind.GROUP,
                epoch: 1n,
                memberUserIds: ['alice', 'bob', 'carol'],
                ownerUserId: 'alice',
                title: 'Team',
              },
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.empty',
      description: 'Zero bytes are a valid Frame with no body: the codec decodes it, the session closes 3511 [FRM-7].',
      requirements: ['FRM-2', 'FRM-7'],
      frames: [frame()],
    }),
    ...featureFrameCases(),
  ]
}
