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
  /** The active session of each device. */
  active: Map<string, M>
  /**
   * Sessions in their handshake, with their device; null when there are none.
   * A Map with its hash table is ~0.2 KiB, and almost every user has no
   * session in its handshake almost all the time (2026-12-06 heap snapshot:
   * one empty pending Map per idle connection).
   */
  pending: Map<M, string> | null
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
      e = { active: new Map(), pending: null }
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
    const previous = e.active.get(deviceId)
    e.active.set(deviceId, member)
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
    if (e.active.get(deviceId) === member) {
      e.active.delete(deviceId)
      this.count--
    }
    if (e.active.size === 0 && e.pending === null) this.users.delete(userId)
  }

  /**
   * A newer session of the device started on another node (cluster mode):
   * the local one closes with 3509 and leaves the hub. [RSM-6]
   */
  evict(userId: string, deviceId: string): void {
    const e = this.users.get(userId)
    const member = e?.active.get(deviceId)
    if (e === undefined || member === undefined) return
    e.active.delete(deviceId)
    this.count--
    if (e.active.size === 0 && e.pending === null) this.users.delete(userId)
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
    const sender = (userId: string, deviceId: string) =>
      userId === message.senderUserId && deviceId === message.senderDeviceId
    for (const userId of members) {
      const e = this.users.get(userId)
      if (e === undefined) continue
      // [DLV-5] [FAN-1] never back to the sending device.
      for (const [deviceId, member] of e.active) if (!sender(userId, deviceId)) member.live(live)
      if (e.pending !== null)
        for (const [member, deviceId] of e.pending) if (!sender(userId, deviceId)) member.live(live)
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
      if (e === undefined) continue
      for (const [deviceId, member] of e.active) {
        if (deviceId !== n.exceptDeviceId) member.notice(conversationId, n.reason, epoch, topSeq, logPos)
      }
      if (e.pending === null) continue
      for (const [member, deviceId] of e.pending) {
        if (deviceId !== n.exceptDeviceId) member.notice(conversationId, n.reason, epoch, topSeq, logPos)
      }
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
    if (e === undefined) return
    for (const [deviceId, member] of e.active) if (deviceId !== exceptDeviceId) member.readNotice(notice)
    if (e.pending === null) return
    for (const [member, deviceId] of e.pending) if (deviceId !== exceptDeviceId) member.readNotice(notice)
  }
}
