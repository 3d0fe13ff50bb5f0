// Request helpers of the features "read-state" and "inbox": one request frame
// and its answer each, sent only on a connection that enabled the feature
// (the RequestTracker refuses otherwise with FEATURE_NOT_ENABLED). [GEN-2] [RD-1]
import { create } from '@bufbuild/protobuf'
import { FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import type { InboxPage, MarkReadResult, ReadCountResult, SyncPage } from '../gen/es/imwire/v1/inbox_pb.js'
import { FEATURE_INBOX, FEATURE_READ_STATE } from './features.js'
import type { RequestTracker } from './requests.js'

export interface InboxPageOptions {
  /** Exclusive keyset bound: the activity of the previous page's last entry; 0 = newest. [INB-3] */
  beforeActivity?: number
  /** 0 = the server's history_page_max. */
  limit?: number
  /** List every entry's member ids, whatever the conversation's size. */
  includeMembers?: boolean
  /** Body bytes of each last message; 0 = 256, at most 4096. */
  previewBytes?: number
}

export interface SyncPageOptions {
  /** A sync point from an earlier page; 0 = everything (a full sync). [INB-6] */
  since: number
  limit?: number
  includeMembers?: boolean
  previewBytes?: number
}

export class InboxRequests {
  private readonly requests: RequestTracker

  constructor(requests: RequestTracker) {
    this.requests = requests
  }

  /** [RD-3] */
  markRead(conversationId: string, epoch: number, upToSeq: number): Promise<MarkReadResult> {
    return this.requests.request<MarkReadResult>(
      (requestId) =>
        create(FrameSchema, {
          body: {
            case: 'markRead',
            value: { requestId, conversationId, epoch: BigInt(epoch), upToSeq: BigInt(upToSeq) },
          },
        }),
      FEATURE_READ_STATE,
    )
  }

  /** [RD-7] */
  readCount(conversationId: string, seq: number): Promise<ReadCountResult> {
    return this.requests.request<ReadCountResult>(
      (requestId) =>
        create(FrameSchema, {
          body: { case: 'readCountRequest', value: { requestId, conversationId, seq: BigInt(seq) } },
        }),
      FEATURE_READ_STATE,
    )
  }

  /** One page of the conversation list, newest activity first. [INB-3] */
  inboxPage(opts: InboxPageOptions = {}): Promise<InboxPage> {
    return this.requests.request<InboxPage>(
      (requestId) =>
        create(FrameSchema, {
          body: {
            case: 'inboxRequest',
            value: {
              requestId,
              beforeActivity: BigInt(opts.beforeActivity ?? 0),
              limit: opts.limit ?? 0,
              includeMembers: opts.includeMembers ?? false,
              previewBytes: opts.previewBytes ?? 0,
            },
          },
        }),
      FEATURE_INBOX,
    )
  }

  /** One page of what changed since a sync point. [INB-5] */
  syncPage(opts: SyncPageOptions): Promise<SyncPage> {
    return this.requests.request<SyncPage>(
      (requestId) =>
        create(FrameSchema, {
          body: {
            case: 'syncRequest',
            value: {
              requestId,
              since: BigInt(opts.since),
              limit: opts.limit ?? 0,
              includeMembers: opts.includeMembers ?? false,
              previewBytes: opts.previewBytes ?? 0,
            },
          },
        }),
      FEATURE_INBOX,
    )
  }
}
