// Session core: live delivery, fan-out, acks, replay and resume, flow control.
import t from 'tap'
import { ConversationKind, UpdateReason } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { CloseCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { type Client, newClientMsgId, World } from './harness.js'

function group(w: World, owner: Client, id: string, members: string[]): void {
  owner.send({
    case: 'createConversation',
    value: { requestId: 1, conversationId: id, kind: ConversationKind.GROUP, memberUserIds: members },
  })
  owner.take()
  void w
}

function send(c: Client, conversationId = 'g1', body = [1]): void {
  c.send({
    case: 'send',
    value: { clientMsgId: newClientMsgId(), conversationId, contentType: 't', body: new Uint8Array(body) },
  })
}

const seqs = (c: Client) => c.of('deliver').map((d) => Number(d.message?.seq))
const ack = (c: Client, upToSeq: number, conversationId = 'g1') =>
  c.send({ case: 'deliverAck', value: { conversationId, upToSeq: BigInt(upToSeq) } })

t.test(
  "delivers to every online device of every member, the sender's other devices too, never the sender [FAN-1] [DLV-5]",
  async (t) => {
    const w = new World()
    const a1 = w.connect('alice', 'a1')
    const a2 = w.connect('alice', 'a2')
    const b1 = w.connect('bob', 'b1')
    const b2 = w.connect('bob', 'b2')
    const m = w.connect('mallory', 'm1')
    group(w, a1, 'g1', ['bob'])
    for (const c of [a2, b1, b2, m]) c.take()
    send(a1)
    t.same(a1.cases(), ['sendAck'])
    const d = a2.of('deliver')[0]
    t.same(
      [d?.message?.seq, d?.message?.senderUserId, d?.message?.senderDeviceId, d?.replayed],
      [1n, 'alice', 'a1', false],
    )
    t.same(seqs(b1), [1])
    t.same(seqs(b2), [1])
    t.same(m.cases(), [], 'non-members get nothing')
  },
)

t.test('a duplicate is not fanned out again [FAN-2]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  const b = w.connect('bob', 'b1')
  group(w, a, 'g1', ['bob'])
  b.take()
  const clientMsgId = newClientMsgId()
  const s = { case: 'send' as const, value: { clientMsgId, conversationId: 'g1', body: new Uint8Array([1]) } }
  a.send(s).send(s)
  t.same(seqs(b), [1])
})

t.test('a removed member receives nothing committed after the removal [FAN-3] [CNV-6]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  const b = w.connect('bob', 'b1')
  group(w, a, 'g1', ['bob'])
  b.take()
  send(a)
  a.send({ case: 'removeMembers', value: { requestId: 2, conversationId: 'g1', userIds: ['bob'] } })
  send(a)
  const frames = b
    .take()
    .filter((f) => f.body.case !== 'conversationUpdated' || f.body.value.reason !== UpdateReason.JOINED)
  t.same(
    frames.map((f) =>
      f.body.case === 'deliver'
        ? `d${f.body.value.message?.seq}`
        : f.body.case === 'conversationUpdated'
          ? `u${f.body.value.reason}`
          : f.body.case,
    ),
    ['d1', `u${UpdateReason.REMOVED}`],
  )
})

t.test(
  'replays unacked messages after Welcome, in order, replayed=true, before ReplayComplete, skipping own [RSM-1] [DLV-6] [HS-11]',
  async (t) => {
    const w = new World()
    const a = w.connect('alice', 'a1')
    group(w, a, 'g1', ['bob'])
    group(w, a, 'g0', ['bob'])
    send(a, 'g1')
    const b0 = w.connect('bob', 'b1')
    send(b0, 'g1') // bob's own, from b1: not replayed to b1
    b0.step({ type: 'disconnected' })
    send(a, 'g1')
    send(a, 'g0')
    const b = w.connect('bob', 'b1')
    const frames = b.take()
    t.same(
      frames.map((f) =>
        f.body.case === 'deliver'
          ? `${f.body.value.message?.conversationId}:${f.body.value.message?.seq}:${f.body.value.replayed}`
          : f.body.case,
      ),
      ['welcome', 'g0:1:true', 'g1:1:true', 'g1:3:true', 'replayComplete'],
    )
    const rc = frames.at(-1)
    t.equal(rc?.body.case === 'replayComplete' && rc.body.value.delivered, 3n)
  },
)

t.test('acked messages are never replayed; acks are cumulative and durable per device [RSM-3] [DLV-2]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  group(w, a, 'g1', ['bob'])
  const b = w.connect('bob', 'b1')
  for (let i = 0; i < 5; i++) send(a)
  t.same(seqs(b), [1, 2, 3, 4, 5])
  ack(b, 3)
  ack(b, 2) // regression: ignored
  b.step({ type: 'disconnected' })
  t.same(seqs(w.connect('bob', 'b1')), [4, 5])
  t.same(seqs(w.connect('bob', 'b2')), [1, 2, 3, 4, 5], 'another device has its own cursor')
})

t.test(
  'more than replay_limit unacked sends a REPLAY_LIMIT notice instead; ReplayComplete counts both [RSM-2] [RSM-10]',
  async (t) => {
    const w = new World()
    w.limits.replayLimit = 3
    const a = w.connect('alice', 'a1')
    group(w, a, 'g1', ['bob'])
    group(w, a, 'g2', ['bob'])
    for (let i = 0; i < 4; i++) send(a, 'g1')
    for (let i = 0; i < 3; i++) send(a, 'g2')
    const frames = w.connect('bob', 'b1').take()
    const notice = frames.find((f) => f.body.case === 'conversationUpdated')
    const v = notice?.body.case === 'conversationUpdated' ? notice.body.value : undefined
    t.same(
      [v?.conversationId, v?.reason, v?.cursor, v?.topSeq, v?.epoch],
      ['g1', UpdateReason.REPLAY_LIMIT, 0n, 4n, 1n],
    )
    const delivered = frames
      .filter((f) => f.body.case === 'deliver')
      .map((f) => f.body.case === 'deliver' && f.body.value.message?.conversationId)
    t.same(delivered, ['g2', 'g2', 'g2'])
    const rc = frames.at(-1)
    t.same(rc?.body.case === 'replayComplete' && [rc.body.value.delivered, rc.body.value.pullRequired], [3n, 1])
  },
)

t.test(
  'Hello.resume positions act as acks; above top closes 3508; another epoch gets EPOCH_CHANGED [RSM-4]',
  async (t) => {
    const w = new World()
    const a = w.connect('alice', 'a1')
    group(w, a, 'g1', ['bob'])
    group(w, a, 'g2', ['bob'])
    for (let i = 0; i < 4; i++) send(a, 'g1')
    send(a, 'g2')
    const b = w.connect('bob', 'b1', {
      resume: [
        { conversationId: 'g1', seq: 2n, epoch: 1n },
        { conversationId: 'g2', seq: 1n, epoch: 9n },
        { conversationId: 'zz', seq: 5n, epoch: 1n },
      ],
    })
    const frames = b.take()
    t.same(
      frames.map((f) =>
        f.body.case === 'deliver'
          ? Number(f.body.value.message?.seq)
          : f.body.case === 'conversationUpdated'
            ? `u${f.body.value.reason}`
            : f.body.case,
      ),
      ['welcome', 3, 4, `u${UpdateReason.EPOCH_CHANGED}`, 'replayComplete'],
    )
    const high = w.connect('bob', 'b2', { resume: [{ conversationId: 'g1', seq: 5n, epoch: 1n }] })
    t.equal(high.closeCode, CloseCode.ACK_TOO_HIGH)
  },
)

t.test('a second connection of the same device takes over; the first gets 3509 [RSM-6]', async (t) => {
  const w = new World()
  const first = w.connect('bob', 'b1')
  const second = w.connect('bob', 'b1')
  t.equal(first.closeCode, CloseCode.SESSION_TAKEN_OVER)
  t.equal(second.closeCode, null)
  const a = w.connect('alice', 'a1')
  group(w, a, 'g1', ['bob'])
  send(a)
  t.same(seqs(second), [1], 'the new connection gets live traffic')
  t.same(seqs(first), [])
})

t.test('messages committed during replay follow ReplayComplete, in order, no gaps or duplicates [RSM-7]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  group(w, a, 'g1', ['bob'])
  send(a)
  send(a)
  w.holdStore = true
  const b = w.connect('bob', 'b1') // attach + snapshot op queued
  send(a) // committed after the snapshot op is queued -> after the snapshot
  w.runStore()
  send(a) // committed while b replays
  w.runStore()
  const frames = b.take()
  t.same(
    frames.map((f) =>
      f.body.case === 'deliver' ? `${f.body.value.message?.seq}${f.body.value.replayed ? 'r' : ''}` : f.body.case,
    ),
    ['welcome', '1r', '2r', 'replayComplete', '3', '4'],
  )
})

t.test('a message published before the snapshot but seen live is not delivered twice [RSM-7] [DLV-1]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  group(w, a, 'g1', ['bob'])
  w.holdStore = true
  send(a) // queued before bob's snapshot
  const b = w.connect('bob', 'b1')
  w.runStore() // commit (published live to b, attached) then snapshot (includes it)
  t.same(
    b
      .take()
      .map((f) =>
        f.body.case === 'deliver' ? `${f.body.value.message?.seq}${f.body.value.replayed ? 'r' : ''}` : f.body.case,
      ),
    ['welcome', '1r', 'replayComplete'],
  )
})

t.test('an ack above top_seq closes 3508; for an unknown conversation it is ignored [DLV-3] [DLV-4]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  group(w, a, 'g1', ['bob'])
  send(a)
  const b = w.connect('bob', 'b1')
  ack(b, 5, 'nope')
  ack(b, 1) // own conversation, fine
  t.equal(b.closeCode, null)
  ack(b, 2)
  t.equal(b.closeCode, CloseCode.ACK_TOO_HIGH)
})

t.test('keeps at most receive_window unacked Deliver frames; acks release more [FLW-1] [FLW-4]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  group(w, a, 'g1', ['bob'])
  const b = w.connect('bob', 'b1', { receiveWindow: 2 })
  b.take()
  for (let i = 0; i < 5; i++) send(a)
  t.same(seqs(b), [1, 2])
  b.send({ case: 'ping', value: { nonce: 1n } })
  t.same(b.cases(), ['pong'], 'Ping is answered whatever the window')
  ack(b, 1)
  t.same(seqs(b), [3])
  ack(b, 3)
  t.same(seqs(b), [4, 5])
})

t.test('the window also paces replay; ReplayComplete follows the last replayed frame [FLW-1] [HS-11]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  group(w, a, 'g1', ['bob'])
  for (let i = 0; i < 3; i++) send(a)
  const b = w.connect('bob', 'b1', { receiveWindow: 2 })
  t.same(b.cases(), ['welcome', 'deliver', 'deliver'])
  ack(b, 2)
  t.same(b.cases(), ['deliver', 'replayComplete'])
})

t.test('a backlog over max_backlog closes 3003 [FLW-3]', async (t) => {
  const w = new World()
  w.limits.maxBacklog = 3
  const a = w.connect('alice', 'a1')
  group(w, a, 'g1', ['bob'])
  const b = w.connect('bob', 'b1', { receiveWindow: 1 })
  for (let i = 0; i < 4; i++) send(a)
  t.equal(b.closeCode, null, '1 sent + 3 waiting')
  send(a)
  t.equal(b.closeCode, CloseCode.SLOW_CONSUMER)
})

t.test(
  'delivers each conversation in strictly increasing seq order across interleaved senders [DLV-1] [ORD-1]',
  async (t) => {
    const w = new World()
    const a = w.connect('alice', 'a1')
    group(w, a, 'g1', ['bob', 'carol'])
    const c = w.connect('carol', 'c1')
    const b = w.connect('bob', 'b1')
    w.holdStore = true
    for (let i = 0; i < 10; i++) {
      send(a)
      send(c)
    }
    w.runStore()
    t.same(
      seqs(b),
      Array.from({ length: 20 }, (_, i) => i + 1),
    )
  },
)

t.test(
  'leaving frees the window slots of its unacked Delivers and drops the held ones; after being added again, new Delivers count [FLW-1] [DLV-4]',
  async (t) => {
    const w = new World()
    const a = w.connect('alice', 'a1')
    group(w, a, 'g1', ['bob'])
    group(w, a, 'g2', ['bob'])
    const b = w.connect('bob', 'b1', { receiveWindow: 1 })
    b.take()
    send(a, 'g1')
    send(a, 'g1')
    t.same(seqs(b), [1], 'seq 2 is held by the window')
    b.send({ case: 'leaveConversation', value: { requestId: 7, conversationId: 'g1' } })
    t.same(b.cases(), ['conversationResult'], 'held seq 2 of g1 is not sent after the leave')
    a.take()
    send(a, 'g2')
    t.same(seqs(b), [1], 'g2 seq 1 goes out: the unacked g1 seq 1 no longer counts')
    a.send({ case: 'addMembers', value: { requestId: 8, conversationId: 'g1', userIds: ['bob'] } })
    t.same(b.cases(), ['conversationUpdated'], 'JOINED')
    ack(b, 1, 'g2')
    send(a, 'g1')
    t.same(seqs(b), [3], 'a Deliver after the re-add')
    send(a, 'g2')
    t.same(seqs(b), [], 'and it counts against the window')
    ack(b, 3)
    t.same(seqs(b), [2])
  },
)
