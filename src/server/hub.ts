// Who is online, and fan-out to them. [FAN-1] [FAN-2] [FAN-3] [FAN-5] [RSM-6] [CNV-6]
//
// One session per (user, device): attaching a second one takes the first
// over. A session still in its handshake is only subscribed: it gets live
// traffic (so nothing committed after its store snapshot is missed) but does
// not displace the active session until its Hello has passed every check.
// Committed messages are published here in commit order (the store settles
// results in order); each online device of each member at commit time gets
// them, except the sending device.
import { encodeFrame } from '../codec/index.js'
import type { UpdateReason } from '../gen/es/imwire/v1/conversation_pb.js'
import type { LiveMessage } from '../session/effects.js'
import { deliverFrame, type ReadNotice } from '../session/frames.js'
import type { MemberNotice, ReadNotices, ReadStateView, StoredMessage } from '../session/store-ops.js'

/** What the hub needs from a connection's driver. */
export interface HubMember {
  live(message: LiveMessage): void
  notice(conversationId: string, reason: UpdateReason, epoch: number, topSeq: number, logPos?: number): void
  /** A read position moved; the connection drops it unless it enabled "read-state". [RD-4] */
  readNotice(notice: ReadNotice): void
  takenOver(): void
}

interface UserEntry<M> {
  /**
   * The active session of each device: the first one inline (`device` /
   * `member`, null when none), any further ones in `more` (null while there
   * are none). Most users have one device online, and a Map with its hash
   * table is ~0.2 KiB (2026-12-06 heap snapshot: one per idle connection).
   */
  device: string | null
  member: M | null
  more: Map<string, M> | null
  /**
   * Sessions in their handshake, with their device; null when there are none.
   * A Map with its hash table is ~0.2 KiB, and almost every user has no
   * session in its handshake almost all the time (2026-12-06 heap snapshot:
   * one empty pending Map per idle connection).
   */
  pending: Map<M, string> | null
}

function activeOf<M>(e: UserEntry<M>, deviceId: string): M | undefined {
  return e.device === deviceId ? (e.member as M) : e.more?.get(deviceId)
}

function setActive<M>(e: UserEntry<M>, deviceId: string, member: M): void {
  if (e.device === deviceId || (e.device === null && e.more?.has(deviceId) !== true)) {
    e.device = deviceId
    e.member = member
  } else {
    e.more ??= new Map()
    e.more.set(deviceId, member)
  }
}

function deleteActive<M>(e: UserEntry<M>, deviceId: string): void {
  if (e.device === deviceId) {
    e.device = null
    e.member = null
  } else if (e.more?.delete(deviceId) === true && e.more.size === 0) e.more = null
}

/** Every session of the user, active ones first, then those in their handshake, except device `exceptDeviceId`'s. */
function eachSession<M>(e: UserEntry<M>, exceptDeviceId: string | undefined, visit: (member: M) => void): void {
  if (e.member !== null && e.device !== exceptDeviceId) visit(e.member)
  if (e.more !== null) for (const [deviceId, member] of e.more) if (deviceId !== exceptDeviceId) visit(member)
  if (e.pending !== null) for (const [member, deviceId] of e.pending) if (deviceId !== exceptDeviceId) visit(member)
}

function isEmpty<M>(e: UserEntry<M>): boolean {
  return e.device === null && e.more === null && e.pending === null
}

export class Hub<M extends HubMember = HubMember> {
  private readonly users = new Map<string, UserEntry<M>>()
  private count = 0

  /** Active sessions. */
  get size(): number {
    return this.count
  }

  private entry(userId: string): UserEntry<M> {
    let e = this.users.get(userId)
    if (e === undefined) {
      e = { device: null, member: null, more: null, pending: null }
      this.users.set(userId, e)
    }
    return e
  }

  subscribe(userId: string, deviceId: string, member: M): void {
    const e = this.entry(userId)
    e.pending ??= new Map()
    e.pending.set(member, deviceId)
  }

  attach(userId: string, deviceId: string, member: M): void {
    const e = this.entry(userId)
    this.unsubscribe(e, member)
    const previous = activeOf(e, deviceId)
    setActive(e, deviceId, member)
    if (previous === undefined) this.count++
    else if (previous !== member) previous.takenOver() // [RSM-6]
  }

  private unsubscribe(e: UserEntry<M>, member: M): void {
    if (e.pending?.delete(member) === true && e.pending.size === 0) e.pending = null
  }

  /** Removes the member, if it is still registered (not replaced by its successor). */
  detach(userId: string, deviceId: string, member: M): void {
    const e = this.users.get(userId)
    if (e === undefined) return
    this.unsubscribe(e, member)
    if (activeOf(e, deviceId) === member) {
      deleteActive(e, deviceId)
      this.count--
    }
    if (isEmpty(e)) this.users.delete(userId)
  }

  /**
   * A newer session of the device started on another node (cluster mode):
   * the local one closes with 3509 and leaves the hub. [RSM-6]
   */
  evict(userId: string, deviceId: string): void {
    const e = this.users.get(userId)
    const member = e === undefined ? undefined : activeOf(e, deviceId)
    if (e === undefined || member === undefined) return
    deleteActive(e, deviceId)
    this.count--
    if (isEmpty(e)) this.users.delete(userId)
    member.takenOver()
  }

  /** Fan a committed message out to the members' online devices. */
  publish(message: StoredMessage, epoch: number, members: readonly string[], logPos?: number): void {
    let bytes: Uint8Array | null = null
    const live: LiveMessage = {
      message,
      epoch,
      ...(logPos !== undefined ? { logPos } : {}),
      // Encoded once, on first use, for every recipient.
      deliverBytes: () => {
        bytes ??= encodeFrame(deliverFrame(message, epoch, false))
        return bytes
      },
    }
    const toLive = (member: M) => member.live(live)
    for (const userId of members) {
      const e = this.users.get(userId)
      if (e === undefined) continue
      // [DLV-5] [FAN-1] never back to the sending device.
      eachSession(e, userId === message.senderUserId ? message.senderDeviceId : undefined, toLive)
    }
  }

  notify(
    conversationId: string,
    notices: readonly MemberNotice[],
    epoch: number,
    topSeq: number,
    logPos?: number,
  ): void {
    for (const n of notices) {
      const e = this.users.get(n.userId)
      if (e !== undefined)
        eachSession(e, n.exceptDeviceId, (member) => member.notice(conversationId, n.reason, epoch, topSeq, logPos))
    }
  }

  /**
   * A MarkRead moved a read position (called after its commit, in commit
   * order, so each connection sees increasing positions): ReadUpdated to
   * the user's other devices, PeerRead to the DIRECT peer's. [RD-4]
   */
  readMoved(n: ReadNotices, state: ReadStateView): void {
    this.toUser(n.userId, n.exceptDeviceId, { kind: 'updated', state })
    if (n.peerUserId !== null) {
      const { conversationId, epoch, readSeq } = state
      this.toUser(n.peerUserId, undefined, { kind: 'peer', conversationId, epoch, userId: n.userId, readSeq })
    }
  }

  private toUser(userId: string, exceptDeviceId: string | undefined, notice: ReadNotice): void {
    const e = this.users.get(userId)
    if (e !== undefined) eachSession(e, exceptDeviceId, (member) => member.readNotice(notice))
  }
}
