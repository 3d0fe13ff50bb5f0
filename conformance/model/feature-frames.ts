// What the model knows of the negotiated features of spec section 22
// (read-state, inbox, history-time): which feature defines each body, who
// may send it, and the answer a request is owed. The read positions, unread
// counts and change numbers themselves are not modelled yet: an answer is
// checked for its kind (result or the Error the request's own fields call
// for) and its request_id, not for its state; ReadUpdated and PeerRead are
// checked for the feature and the replay boundary only.
import type { Json } from '../load/scenario-types.js'

/** Body -> the feature that defines it ([RD-1], [INB-1]). */
export const FEATURE_OF_BODY: ReadonlyMap<string, string> = new Map([
  ['markRead', 'read-state'],
  ['markReadResult', 'read-state'],
  ['readUpdated', 'read-state'],
  ['peerRead', 'read-state'],
  ['readCountRequest', 'read-state'],
  ['readCountResult', 'read-state'],
  ['inboxRequest', 'inbox'],
  ['inboxPage', 'inbox'],
  ['syncRequest', 'inbox'],
  ['syncPage', 'inbox'],
])

/** Client request body -> the body that answers it. */
export const ANSWER_OF_REQUEST: ReadonlyMap<string, string> = new Map([
  ['markRead', 'markReadResult'],
  ['readCountRequest', 'readCountResult'],
  ['inboxRequest', 'inboxPage'],
  ['syncRequest', 'syncPage'],
])

/** Server bodies sent unasked, as live traffic after ReplayComplete ([RD-4]). */
export const LIVE_FEATURE_BODIES: ReadonlySet<string> = new Set(['readUpdated', 'peerRead'])

/** The requirement a feature body breaks when its feature is off. */
export const featureRequirement = (feature: string): string => (feature === 'inbox' ? 'INB-1' : 'RD-1')

export interface ConvView {
  member: boolean
  /** The conversation's epoch, or null when no frame has shown it yet. */
  epoch: string | null
  top: number
}

export type FeatureAnswer = { error: 'BAD_REQUEST' | 'CONVERSATION_NOT_FOUND'; req: string } | { answer: string }

const CONV_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * The answer a feature request (request_id not 0) is owed, in the order of
 * [ERR-13]: [RD-3] for MarkRead, [RD-7] for ReadCountRequest. A
 * SyncRequest's since may be above the server's change number, which the
 * model does not know, nor a MarkRead's epoch before a frame showed it: their
 * answer is left open (null).
 */
export function featureAnswer(body: string, v: { [k: string]: Json }, conv: ConvView): FeatureAnswer | null {
  const answer = ANSWER_OF_REQUEST.get(body) as string
  if (body === 'inboxRequest') return { answer }
  if (body === 'syncRequest') return null
  if (!CONV_ID.test(String(v.conversationId ?? ''))) return { error: 'BAD_REQUEST', req: 'ERR-13' }
  const req = body === 'markRead' ? 'RD-3' : 'RD-7'
  if (!conv.member) return { error: 'CONVERSATION_NOT_FOUND', req }
  if (body === 'markRead') {
    if (conv.epoch === null) return null
    if (String(v.epoch ?? '0') !== conv.epoch) return { answer }
    return Number(v.upToSeq ?? 0) > conv.top ? { error: 'BAD_REQUEST', req } : { answer }
  }
  const seq = Number(v.seq ?? 0)
  return seq === 0 || seq > conv.top ? { error: 'BAD_REQUEST', req } : { answer }
}
