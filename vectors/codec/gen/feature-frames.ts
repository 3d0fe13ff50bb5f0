// frames.json, continued: the bodies the features "read-state" and "inbox"
// define (Frame fields 25 to 34, inbox.proto) and the fields "read-state" and
// "history-time" add to v1 messages (ConversationInfo.read_seq and
// .unread_count, HistoryRequest.anchor_time_ms). The codec decodes them
// whatever was negotiated; refusing one on a connection without its feature
// is the session's job ([RD-1], [INB-1]).
import { ConversationKind, HistoryDirection } from '../../../src/gen/es/imwire/v1/conversation_pb.js'
import { CID, MAX32, MAX64, UTF8_TEXT } from './frames.js'
import { type VectorCase, frame, utf8, valid } from './helpers.js'

const R = ['FRM-2', 'FRM-11']
const TS = 1763800000000n

const state = (over: Record<string, unknown> = {}) => ({
  conversationId: 'g1',
  epoch: 1n,
  topSeq: 12n,
  readSeq: 9n,
  unreadCount: 2n,
  ...over,
})

/** An InboxEntry of a DIRECT conversation with every field set (built late: frames.ts imports this module). */
const directEntry = () => ({
  conversationId: 'd:alice:bob',
  kind: ConversationKind.DIRECT,
  epoch: 1n,
  topSeq: 41n,
  cursor: 40n,
  readSeq: 38n,
  unreadCount: 3n,
  memberCount: 2,
  memberUserIds: ['alice', 'bob'],
  ownerUserId: 'alice',
  activity: 987654n,
  lastMessage: {
    conversationId: 'd:alice:bob',
    seq: 41n,
    messageId: 'm-41',
    senderUserId: 'bob',
    senderDeviceId: 'bob-phone',
    clientMsgId: CID,
    serverTimeMs: TS,
    contentType: 'text/plain',
    body: utf8(UTF8_TEXT.slice(0, 12)),
  },
  lastMessageBodyBytes: 700,
  peerReadSeq: 41n,
})

/** A GROUP of more than 8 members: no member ids, no message yet. */
const bigGroupEntry = {
  conversationId: 'g:all-hands',
  kind: ConversationKind.GROUP,
  epoch: 3n,
  memberCount: 9,
  ownerUserId: 'carol',
  title: 'All hands 🎉',
  activity: 12n,
}

export function featureFrameCases(): VectorCase[] {
  return [
    // read-state (fields 25 to 30)
    valid({
      id: 'frame.mark-read.typical',
      description: 'MarkRead (body field 25, tag ca 01; feature "read-state").',
      requirements: [...R, 'RD-3'],
      frames: [
        frame({ body: { case: 'markRead', value: { requestId: 21, conversationId: 'g1', epoch: 1n, upToSeq: 12n } } }),
      ],
    }),
    valid({
      id: 'frame.mark-read.max-values',
      description: 'MarkRead with request_id 2^32-1 and epoch and up_to_seq 2^64-1.',
      requirements: R,
      frames: [
        frame({
          body: { case: 'markRead', value: { requestId: MAX32, conversationId: 'g1', epoch: MAX64, upToSeq: MAX64 } },
        }),
      ],
    }),
    valid({
      id: 'frame.mark-read-result.moved',
      description: 'MarkReadResult (body field 26) with the nested ReadState and moved true.',
      requirements: [...R, 'RD-3'],
      frames: [
        frame({
          body: {
            case: 'markReadResult',
            value: { requestId: 21, state: state({ readSeq: 12n, unreadCount: 0n }), moved: true },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.mark-read-result.not-moved-default-state',
      description:
        'MarkReadResult with moved false and a ReadState whose fields all hold defaults: the state is present as {}.',
      requirements: R,
      frames: [frame({ body: { case: 'markReadResult', value: { requestId: 22, state: {} } } })],
    }),
    valid({
      id: 'frame.read-updated.typical',
      description: 'ReadUpdated (body field 27): the ReadState another device of the user moved.',
      requirements: [...R, 'RD-4'],
      frames: [frame({ body: { case: 'readUpdated', value: { state: state({ unreadCount: MAX64 }) } } })],
    }),
    valid({
      id: 'frame.peer-read.typical',
      description: 'PeerRead (body field 28): the other member of a DIRECT conversation read up to a seq.',
      requirements: [...R, 'RD-4'],
      frames: [
        frame({
          body: { case: 'peerRead', value: { conversationId: 'd:alice:bob', epoch: 1n, userId: 'bob', readSeq: 41n } },
        }),
      ],
    }),
    valid({
      id: 'frame.read-count-request.typical',
      description: 'ReadCountRequest (body field 29).',
      requirements: [...R, 'RD-7'],
      frames: [frame({ body: { case: 'readCountRequest', value: { requestId: 23, conversationId: 'g1', seq: 7n } } })],
    }),
    valid({
      id: 'frame.read-count-result.typical',
      description: 'ReadCountResult (body field 30) with read_count and member_count.',
      requirements: [...R, 'RD-7'],
      frames: [
        frame({
          body: {
            case: 'readCountResult',
            value: { requestId: 23, conversationId: 'g1', epoch: 1n, seq: 7n, readCount: 4, memberCount: MAX32 },
          },
        }),
      ],
    }),
    // inbox (fields 31 to 34)
    valid({
      id: 'frame.inbox-request.typical',
      description: 'InboxRequest (body field 31) with every field set.',
      requirements: [...R, 'INB-3'],
      frames: [
        frame({
          body: {
            case: 'inboxRequest',
            value: { requestId: 24, beforeActivity: 987654n, limit: 50, includeMembers: true, previewBytes: 4096 },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.inbox-page.typical',
      description:
        'InboxPage (body field 32): a DIRECT entry with every InboxEntry field (a cut last_message, peer_read_seq) and a GROUP of 9 members without member ids or message.',
      requirements: [...R, 'INB-3', 'INB-4'],
      frames: [
        frame({
          body: {
            case: 'inboxPage',
            value: { requestId: 24, entries: [directEntry(), bigGroupEntry], hasMore: true, syncPoint: MAX64 },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.inbox-page.empty',
      description: 'An empty InboxPage (no entries, has_more false, sync_point 0).',
      requirements: R,
      frames: [frame({ body: { case: 'inboxPage', value: { requestId: 25 } } })],
    }),
    valid({
      id: 'frame.sync-request.typical',
      description: 'SyncRequest (body field 33) from a sync point.',
      requirements: [...R, 'INB-5'],
      frames: [
        frame({
          body: { case: 'syncRequest', value: { requestId: 26, since: 987600n, limit: 2, previewBytes: 1 } },
        }),
      ],
    }),
    valid({
      id: 'frame.sync-page.entries-and-removals',
      description: 'SyncPage (body field 34) with changed entries, removed conversation ids and has_more.',
      requirements: [...R, 'INB-5'],
      frames: [
        frame({
          body: {
            case: 'syncPage',
            value: {
              requestId: 26,
              entries: [bigGroupEntry, directEntry()],
              removedConversationIds: ['g:left', 'g:removed-é'],
              syncPoint: 987654n,
              hasMore: true,
            },
          },
        }),
      ],
    }),
    // new fields of v1 messages
    valid({
      id: 'frame.conversation-list.read-state-fields',
      description:
        'ConversationList whose ConversationInfo carries read_seq (field 9) and unread_count (field 10), as sent with "read-state" [RD-6].',
      requirements: [...R, 'RD-6'],
      frames: [
        frame({
          body: {
            case: 'conversationList',
            value: {
              requestId: 27,
              conversations: [
                {
                  conversationId: 'g1',
                  kind: ConversationKind.GROUP,
                  epoch: 1n,
                  topSeq: 12n,
                  cursor: 12n,
                  memberUserIds: ['alice', 'bob'],
                  ownerUserId: 'alice',
                  readSeq: 9n,
                  unreadCount: 2n,
                },
                { conversationId: 'g2', kind: ConversationKind.GROUP, readSeq: MAX64, unreadCount: MAX64 },
              ],
            },
          },
        }),
      ],
    }),
    valid({
      id: 'frame.history-request.anchor-time',
      description: 'HistoryRequest with anchor_time_ms (field 6, feature "history-time") and BACKWARD [HIS-10].',
      requirements: [...R, 'HIS-10'],
      frames: [
        frame({
          body: {
            case: 'historyRequest',
            value: {
              requestId: 28,
              conversationId: 'g1',
              direction: HistoryDirection.BACKWARD,
              anchorSeq: 5n,
              limit: 20,
              anchorTimeMs: TS,
            },
          },
        }),
      ],
    }),
  ]
}
