// Request helpers: conversations, membership, history and listing, each one
// request frame and its answer. Failures reject with ClientError REJECTED and
// the protocol ErrorCode (e.g. CONVERSATION_NOT_FOUND for a non-member [HIS-3]).
import { create } from '@bufbuild/protobuf'
import {
  type ConversationInfo,
  ConversationKind,
  type ConversationList,
  type ConversationResult,
  HistoryDirection,
  type HistoryPage,
} from '../gen/es/imwire/v1/conversation_pb.js'
import { FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import type { Message } from '../gen/es/imwire/v1/messaging_pb.js'
import { FEATURE_HISTORY_TIME } from './features.js'
import type { RequestTracker } from './requests.js'

export interface CreateConversationOptions {
  conversationId: string
  kind: 'direct' | 'group' | ConversationKind
  /** The other members (the creator is implicit). [CNV-1] */
  members: string[]
  title?: string
}

export interface HistoryOptions {
  conversationId: string
  direction?: 'forward' | 'backward'
  /** Exclusive anchor; backward from 0 = from the top. [HIS-1] */
  anchorSeq?: number
  /** 0 = the server's history_page_max. [HIS-2] */
  limit?: number
  /**
   * Feature "history-time": anchor at this server time (ms) instead of a seq;
   * forward = at or after it, backward = before it. [HIS-10]
   */
  anchorTimeMs?: number
}

export class ConversationRequests {
  private readonly requests: RequestTracker

  constructor(requests: RequestTracker) {
    this.requests = requests
  }

  async create(opts: CreateConversationOptions): Promise<ConversationInfo> {
    const kind =
      opts.kind === 'direct' ? ConversationKind.DIRECT : opts.kind === 'group' ? ConversationKind.GROUP : opts.kind
    const r = await this.requests.request<ConversationResult>((requestId) =>
      create(FrameSchema, {
        body: {
          case: 'createConversation',
          value: {
            requestId,
            conversationId: opts.conversationId,
            kind,
            memberUserIds: opts.members,
            title: opts.title ?? '',
          },
        },
      }),
    )
    return r.conversation as ConversationInfo
  }

  async addMembers(conversationId: string, userIds: string[]): Promise<ConversationInfo> {
    const r = await this.requests.request<ConversationResult>((requestId) =>
      create(FrameSchema, { body: { case: 'addMembers', value: { requestId, conversationId, userIds } } }),
    )
    return r.conversation as ConversationInfo
  }

  async removeMembers(conversationId: string, userIds: string[]): Promise<ConversationInfo> {
    const r = await this.requests.request<ConversationResult>((requestId) =>
      create(FrameSchema, { body: { case: 'removeMembers', value: { requestId, conversationId, userIds } } }),
    )
    return r.conversation as ConversationInfo
  }

  async leave(conversationId: string): Promise<ConversationInfo | undefined> {
    const r = await this.requests.request<ConversationResult>((requestId) =>
      create(FrameSchema, { body: { case: 'leaveConversation', value: { requestId, conversationId } } }),
    )
    return r.conversation
  }

  /**
   * One page of history [HIS-1]; with anchorTimeMs, anchored at a time and
   * sent only where "history-time" is enabled ([GEN-2]: without it the field
   * would be ignored and the page silently anchored at a seq).
   */
  history(opts: HistoryOptions): Promise<HistoryPage> {
    const anchorTimeMs = opts.anchorTimeMs ?? 0
    return this.requests.request<HistoryPage>(
      (requestId) =>
        create(FrameSchema, {
          body: {
            case: 'historyRequest',
            value: {
              requestId,
              conversationId: opts.conversationId,
              direction: opts.direction === 'backward' ? HistoryDirection.BACKWARD : HistoryDirection.FORWARD,
              anchorSeq: BigInt(opts.anchorSeq ?? 0),
              limit: opts.limit ?? 0,
              anchorTimeMs: BigInt(anchorTimeMs),
            },
          },
        }),
      anchorTimeMs !== 0 ? FEATURE_HISTORY_TIME : null,
    )
  }

  /** Every message after afterSeq, paging forward until the end. */
  async readAll(conversationId: string, afterSeq = 0): Promise<Message[]> {
    const out: Message[] = []
    let anchor = afterSeq
    for (;;) {
      const page = await this.history({ conversationId, anchorSeq: anchor })
      out.push(...page.messages)
      const last = page.messages[page.messages.length - 1]
      if (!page.hasMore || last === undefined) return out
      anchor = Number(last.seq)
    }
  }

  /** One page of the user's conversations. [HIS-5] */
  list(afterConversationId = '', limit = 0): Promise<ConversationList> {
    return this.requests.request<ConversationList>((requestId) =>
      create(FrameSchema, {
        body: { case: 'listConversations', value: { requestId, afterConversationId, limit } },
      }),
    )
  }

  /** All of the user's conversations, paging through the listing. */
  async listAll(): Promise<ConversationInfo[]> {
    const out: ConversationInfo[] = []
    let after = ''
    for (;;) {
      const page = await this.list(after)
      out.push(...page.conversations)
      const last = page.conversations[page.conversations.length - 1]
      if (!page.hasMore || last === undefined) return out
      after = last.conversationId
    }
  }
}
