// Who is online, and fan-out to them. [FAN-1] [FAN-2] [FAN-3] [RSM-6] [CNV-6]
//
// One entry per (user, device): a second connection of the same device takes
// the first one over. Committed messages are published here in commit order
// (the store settles results in order), and each online device of each
// member at commit time gets them, except the sending device.
import { encodeFrame } from '../codec/index.js'
import type { LiveMessage } from '../session/effects.js'
import { deliverFrame } from '../session/frames.js'
import type { Notice, StoredMessage } from '../session/store-ops.js'

/** What the hub needs from a connection's driver. */
export interface HubMember {
  live(message: LiveMessage): void
  notice(conversationId: string, reason: Notice['reason'], epoch: number, topSeq: number): void
  takenOver(): void
}

export class Hub<M extends HubMember = HubMember> {
  private readonly online = new Map<string, Map<string, M>>()
  private count = 0

  get size(): number {
    return this.count
  }

  attach(userId: string, deviceId: string, member: M): void {
    let devices = this.online.get(userId)
    if (devices === undefined) {
      devices = new Map()
      this.online.set(userId, devices)
    }
    const previous = devices.get(deviceId)
    devices.set(deviceId, member)
    if (previous === undefined) this.count++
    else if (previous !== member) previous.takenOver() // [RSM-6]
  }

  /** Removes the entry only if it is still this member (not its successor). */
  detach(userId: string, deviceId: string, member: M): void {
    const devices = this.online.get(userId)
    if (devices?.get(deviceId) !== member) return
    devices.delete(deviceId)
    this.count--
    if (devices.size === 0) this.online.delete(userId)
  }

  /** Fan a committed message out to the members' online devices. */
  publish(message: StoredMessage, epoch: number, members: readonly string[]): void {
    let bytes: Uint8Array | null = null
    const live: LiveMessage = {
      message,
      epoch,
      // Encoded once, on first use, for every recipient.
      deliverBytes: () => {
        bytes ??= encodeFrame(deliverFrame(message, epoch, false))
        return bytes
      },
    }
    for (const userId of members) {
      const devices = this.online.get(userId)
      if (devices === undefined) continue
      for (const [deviceId, member] of devices) {
        // [DLV-5] [FAN-1] never back to the sending device.
        if (userId === message.senderUserId && deviceId === message.senderDeviceId) continue
        member.live(live)
      }
    }
  }

  notify(conversationId: string, notices: readonly Notice[], epoch: number, topSeq: number): void {
    for (const n of notices) {
      const devices = this.online.get(n.userId)
      if (devices === undefined) continue
      for (const [deviceId, member] of devices) {
        if (deviceId === n.exceptDeviceId) continue
        member.notice(conversationId, n.reason, epoch, topSeq)
      }
    }
  }

  *members(): IterableIterator<M> {
    for (const devices of this.online.values()) yield* devices.values()
  }
}
