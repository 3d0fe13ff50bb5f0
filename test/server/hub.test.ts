// The hub's registry of online sessions against a naive model (a list of
// (user, device, member, active|pending) rows), over random subscribes,
// attaches, detaches and evictions: every fan-out (message, notice, read
// notice) reaches exactly the model's sessions, takeovers happen exactly when
// a device's active session is replaced, and the active count matches.
// [FAN-1] [RSM-6] [RD-4]
import fc from 'fast-check'
import t from 'tap'
import { UpdateReason } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { Hub, type HubMember } from '../../src/server/hub.js'
import type { ReadStateView, StoredMessage } from '../../src/session/store-ops.js'

const USERS = ['u0', 'u1']
const DEVICES = ['d0', 'd1', 'd2']

class Member implements HubMember {
  got: string[] = []
  takenOverCount = 0
  constructor(readonly name: string) {}
  live(m: { message: StoredMessage }): void {
    this.got.push(`live:${m.message.seq}`)
  }
  notice(conversationId: string): void {
    this.got.push(`notice:${conversationId}`)
  }
  readNotice(): void {
    this.got.push('read')
  }
  takenOver(): void {
    this.takenOverCount++
  }
}

type Op =
  | { t: 'subscribe' | 'attach'; u: number; d: number }
  | { t: 'detach'; pick: number }
  | { t: 'evict'; u: number; d: number }
  | { t: 'publish' | 'notify' | 'read'; u: number; d: number; seq: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constantFrom('subscribe' as const, 'attach' as const), u: fc.nat(1), d: fc.nat(2) }),
  fc.record({ t: fc.constant('detach' as const), pick: fc.nat(50) }),
  fc.record({ t: fc.constant('evict' as const), u: fc.nat(1), d: fc.nat(2) }),
  fc.record({
    t: fc.constantFrom('publish' as const, 'notify' as const, 'read' as const),
    u: fc.nat(1),
    d: fc.nat(2),
    seq: fc.nat(1000),
  }),
)

interface Row {
  user: string
  device: string
  member: Member
  state: 'pending' | 'active'
}

t.test('fan-out reaches exactly the online sessions of a model registry', async (t) => {
  fc.assert(
    fc.property(fc.array(op, { minLength: 5, maxLength: 60, size: 'max' }), (ops) => {
      const hub = new Hub<Member>()
      let rows: Row[] = []
      const all: Member[] = []
      let n = 0
      const expectTakeovers = new Map<Member, number>()
      for (const o of ops) {
        if (o.t === 'subscribe' || o.t === 'attach') {
          const user = USERS[o.u] as string
          const device = DEVICES[o.d] as string
          // attach: a pending session of this user becomes active, else a fresh one attaches directly.
          let row =
            o.t === 'attach'
              ? rows.find((r) => r.user === user && r.device === device && r.state === 'pending')
              : undefined
          if (row === undefined) {
            const m = new Member(`m${n++}`)
            all.push(m)
            row = { user, device, member: m, state: 'pending' }
            rows.push(row)
            if (o.t === 'subscribe') {
              hub.subscribe(user, device, m)
              continue
            }
          }
          const prev = rows.find((r) => r.user === user && r.device === device && r.state === 'active')
          if (prev !== undefined) {
            expectTakeovers.set(prev.member, (expectTakeovers.get(prev.member) ?? 0) + 1)
            rows = rows.filter((r) => r !== prev)
          }
          row.state = 'active'
          hub.attach(user, device, row.member)
        } else if (o.t === 'detach') {
          if (rows.length === 0) continue
          const r = rows[o.pick % rows.length] as Row
          hub.detach(r.user, r.device, r.member)
          rows = rows.filter((x) => x !== r)
        } else if (o.t === 'evict') {
          const user = USERS[o.u] as string
          const device = DEVICES[o.d] as string
          const prev = rows.find((r) => r.user === user && r.device === device && r.state === 'active')
          hub.evict(user, device)
          if (prev !== undefined) {
            expectTakeovers.set(prev.member, (expectTakeovers.get(prev.member) ?? 0) + 1)
            rows = rows.filter((r) => r !== prev)
          }
        } else {
          const sender = { user: USERS[o.u] as string, device: DEVICES[o.d] as string }
          for (const m of all) m.got = []
          let expected: string
          if (o.t === 'publish') {
            const message = {
              seq: o.seq,
              senderUserId: sender.user,
              senderDeviceId: sender.device,
            } as unknown as StoredMessage
            hub.publish(message, 1, USERS)
            expected = `live:${o.seq}`
          } else if (o.t === 'notify') {
            hub.notify(
              `c${o.seq}`,
              USERS.map((userId) => ({ userId, reason: UpdateReason.MEMBERS_CHANGED, exceptDeviceId: sender.device })),
              1,
              0,
            )
            expected = `notice:c${o.seq}`
          } else {
            hub.readMoved({ userId: sender.user, exceptDeviceId: sender.device, peerUserId: null }, {
              conversationId: 'c',
            } as unknown as ReadStateView)
            expected = 'read'
          }
          for (const m of all) {
            const r = rows.find((x) => x.member === m)
            const reached =
              r !== undefined &&
              (o.t === 'publish'
                ? !(r.user === sender.user && r.device === sender.device)
                : o.t === 'notify'
                  ? r.device !== sender.device
                  : r.user === sender.user && r.device !== sender.device)
            if (reached) {
              if (m.got.length !== 1 || m.got[0] !== expected) return false
            } else if (m.got.length !== 0) return false
          }
        }
        if (hub.size !== rows.filter((r) => r.state === 'active').length) return false
      }
      for (const m of all) if (m.takenOverCount !== (expectTakeovers.get(m) ?? 0)) return false
      return true
    }),
    { numRuns: 2000 },
  )
  t.pass('2000 random runs agree with the model')
})
