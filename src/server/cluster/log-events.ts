// What a commit group changed that other connections must hear about — its
// committed messages, membership notices and read-position moves, in commit
// order — and their
// text form in the commit log and on Redis. Derived from the group's
// outcomes by the same function on the node that committed and, through
// the log, on every other node, so all of them fan out the same thing.
import type { OpOutcome } from '../store/group-runner.js'
import type { MemberNotice, ReadNotices, ReadStateView, StoredMessage } from '../../session/store-ops.js'

export type LogEvent =
  | { kind: 'message'; message: StoredMessage; epoch: number; members: string[] }
  | { kind: 'notice'; conversationId: string; notices: MemberNotice[]; epoch: number; topSeq: number }
  /** A MarkRead moved a read position: ReadUpdated/PeerRead on every node. [RD-4] */
  | { kind: 'read'; notices: ReadNotices; state: ReadStateView }

/** The events of a group's outcomes, in outcome (= commit) order. [FAN-1] [CNV-6] [RD-4] */
export function eventsOf(outcomes: readonly OpOutcome[]): LogEvent[] {
  const events: LogEvent[] = []
  for (const o of outcomes) {
    if (!('result' in o) || !o.result.ok) continue
    const r = o.result
    if ('duplicate' in r) {
      if (!r.duplicate) events.push({ kind: 'message', message: r.message, epoch: r.epoch, members: r.members }) // [FAN-2]
    } else if ('readNotices' in r) {
      if (r.readNotices !== null) events.push({ kind: 'read', notices: r.readNotices, state: r.state }) // [RD-4]
    } else if ('notices' in r && r.notices.length > 0) {
      events.push({
        kind: 'notice',
        conversationId: r.conversation.conversationId,
        notices: r.notices,
        epoch: r.epoch,
        topSeq: r.topSeq,
      })
    }
  }
  return events
}

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
const unb64 = (s: string) => {
  const b = Buffer.from(s, 'base64')
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

export function encodeEvents(events: readonly LogEvent[]): string {
  return JSON.stringify(
    events.map((e) =>
      e.kind === 'message'
        ? { ...e, message: { ...e.message, clientMsgId: b64(e.message.clientMsgId), body: b64(e.message.body) } }
        : e,
    ),
  )
}

export function decodeEvents(text: string): LogEvent[] {
  const raw = JSON.parse(text) as (LogEvent & { message?: { clientMsgId: string; body: string } })[]
  return raw.map((e) =>
    e.kind === 'message'
      ? {
          ...e,
          message: {
            ...e.message,
            clientMsgId: unb64(e.message.clientMsgId as unknown as string),
            body: unb64(e.message.body as unknown as string),
          },
        }
      : e,
  )
}
