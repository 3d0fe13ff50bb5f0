// Session core: Send, dedupe, SendAck, send ordering, in-flight limit.
import t from 'tap'
import { ConversationKind } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { CloseCode, ErrorCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { encodeBatch } from '../../src/codec/index.js'
import { type Client, frame, newClientMsgId, World } from './harness.js'

function setup(members = ['bob']) {
  const w = new World()
  const alice = w.connect('alice', 'a1')
  alice.send({
    case: 'createConversation',
    value: { requestId: 1, conversationId: 'g1', kind: ConversationKind.GROUP, memberUserIds: members },
  })
  alice.take()
  return { w, alice }
}

function sendMsg(c: Client, over: Record<string, unknown> = {}) {
  const clientMsgId = newClientMsgId()
  c.send({
    case: 'send',
    value: { clientMsgId, conversationId: 'g1', contentType: 'text/plain', body: new Uint8Array([1, 2]), ...over },
  })
  return clientMsgId
}

t.test('acks a Send with every field after its commit [ACK-1] [ACK-3]', async (t) => {
  const { w, alice } = setup()
  w.holdStore = true
  const id = sendMsg(alice)
  t.same(alice.cases(), [], 'no ack before the store committed')
  w.runStore()
  const ack = alice.of('sendAck')[0]
  t.same(ack?.clientMsgId, id)
  t.equal(ack?.conversationId, 'g1')
  t.equal(ack?.seq, 1n)
  t.match(ack?.messageId, /^[A-Za-z0-9._:-]{1,64}$/, 'message_id syntax [ACK-5] [GEN-5]')
  t.equal(ack?.serverTimeMs, BigInt(w.now))
  t.equal(ack?.epoch, 1n)
  t.equal(ack?.duplicate, false)
})

t.test('message ids are unique across conversations [ACK-5]', async (t) => {
  const { alice } = setup()
  alice.send({
    case: 'createConversation',
    value: { requestId: 2, conversationId: 'g2', kind: ConversationKind.GROUP, memberUserIds: [] },
  })
  for (let i = 0; i < 5; i++) {
    sendMsg(alice)
    sendMsg(alice, { conversationId: 'g2' })
  }
  const ids = alice.of('sendAck').map((a) => a.messageId)
  t.equal(new Set(ids).size, 10)
})

t.test(
  'a Batch that would bring Sends in flight over the bound closes 3507 before any of it runs [FLW-2]',
  async (t) => {
    const { w } = setup()
    w.limits.maxInflightSends = 3
    const c = w.connect('alice', 'a7')
    c.take()
    w.holdStore = true
    sendMsg(c)
    const inner = [1, 2, 3].map(() =>
      frame({ case: 'send', value: { clientMsgId: newClientMsgId(), conversationId: 'g1', body: new Uint8Array(1) } }),
    )
    c.step({ type: 'frame', frame: encodeBatch(inner, 'none') })
    t.equal(c.closeCode, CloseCode.WINDOW_EXCEEDED)
    w.holdStore = false
    w.runStore()
    t.same(c.cases(), [], 'nothing of the batch was processed (and the connection is closing)')
  },
)

t.test('acks a retried Send with the original seq, id and time, marked duplicate [DUP-2]', async (t) => {
  const { w, alice } = setup()
  const id = sendMsg(alice)
  const first = alice.of('sendAck')[0]
  w.now += 5000
  // Another connection (reconnect) of another device of the same user.
  const again = w.connect('alice', 'a2')
  again.take()
  sendMsg(again, { clientMsgId: id })
  const dup = again.of('sendAck')[0]
  t.equal(dup?.duplicate, true)
  t.same(
    [dup?.seq, dup?.messageId, dup?.serverTimeMs, dup?.epoch],
    [first?.seq, first?.messageId, first?.serverTimeMs, first?.epoch],
  )
})

t.test('refuses the same client_msg_id with another body with 104 [DUP-3]', async (t) => {
  const { alice } = setup()
  const id = sendMsg(alice)
  alice.take()
  sendMsg(alice, { clientMsgId: id, body: new Uint8Array([9]) })
  const err = alice.of('error')[0]
  t.equal(err?.code, ErrorCode.IDEMPOTENCY_CONFLICT)
  t.same(err?.clientMsgId, id, 'echoes the client_msg_id [ERR-1]')
  t.equal(err?.retryable, false)
})

t.test('validates client_msg_id, membership, body and content type sizes [SND-1] [SND-2] [SND-3]', async (t) => {
  const { w, alice } = setup()
  const codes = (over: Record<string, unknown>) => {
    sendMsg(alice, over)
    return alice.of('error').map((e) => e.code)
  }
  t.same(codes({ clientMsgId: new Uint8Array(15) }), [ErrorCode.BAD_REQUEST])
  t.same(codes({ clientMsgId: new Uint8Array(17) }), [ErrorCode.BAD_REQUEST])
  t.same(codes({ conversationId: 'nope' }), [ErrorCode.CONVERSATION_NOT_FOUND])
  t.same(codes({ conversationId: '' }), [ErrorCode.BAD_REQUEST])
  t.same(codes({ body: new Uint8Array(w.limits.maxMessageBytes + 1) }), [ErrorCode.MESSAGE_TOO_LARGE])
  t.same(codes({ body: new Uint8Array(w.limits.maxMessageBytes) }), [])
  t.same(codes({ contentType: 'x'.repeat(129) }), [ErrorCode.BAD_REQUEST])
  t.same(codes({ contentType: 'x'.repeat(128) }), [])
  const mallory = w.connect('mallory')
  mallory.take()
  sendMsg(mallory)
  t.same(
    mallory.of('error').map((e) => e.code),
    [ErrorCode.CONVERSATION_NOT_FOUND],
  )
})

t.test('answers Sends in Send order even when an early refusal is ready first [SND-4]', async (t) => {
  const { w, alice } = setup()
  w.holdStore = true
  const a = sendMsg(alice)
  sendMsg(alice, { clientMsgId: new Uint8Array(3) }) // refused at once, but must wait for a's ack
  const c = sendMsg(alice)
  t.same(alice.cases(), [])
  w.runStore()
  const frames = alice.take()
  t.same(
    frames.map((f) => f.body.case),
    ['sendAck', 'error', 'sendAck'],
  )
  t.same(frames[0]?.body.case === 'sendAck' && frames[0].body.value.clientMsgId, a)
  t.same(frames[2]?.body.case === 'sendAck' && frames[2].body.value.clientMsgId, c)
})

t.test('sends from one connection get increasing seqs in send order [ORD-1] [ORD-6]', async (t) => {
  const { w, alice } = setup()
  w.holdStore = true
  for (let i = 0; i < 20; i++) sendMsg(alice)
  w.runStore()
  t.same(
    alice.of('sendAck').map((a) => Number(a.seq)),
    Array.from({ length: 20 }, (_, i) => i + 1),
  )
})

t.test('send_seq gaps get 105 with expected_send_seq, retryable; reuse gets 106 [ORD-2] [ORD-3] [ORD-4]', async (t) => {
  const { alice } = setup()
  sendMsg(alice, { sendSeq: 1n })
  t.equal(alice.of('sendAck').length, 1)
  sendMsg(alice, { sendSeq: 3n })
  const gap = alice.of('error')[0]
  t.same([gap?.code, gap?.expectedSendSeq, gap?.retryable], [ErrorCode.SEND_OUT_OF_ORDER, 2n, true])
  sendMsg(alice, { sendSeq: 1n })
  t.same(
    alice.of('error').map((e) => e.code),
    [ErrorCode.SEND_SEQ_REUSED],
  )
  sendMsg(alice, { sendSeq: 18446744073709551615n })
  t.same(
    alice.of('error').map((e) => [e.code, e.expectedSendSeq]),
    [[ErrorCode.SEND_OUT_OF_ORDER, 2n]],
  )
  sendMsg(alice, { sendSeq: 2n })
  t.equal(alice.of('sendAck')[0]?.seq, 2n)
})

t.test('more Sends in flight than max_inflight_sends closes 3507 [FLW-2]', async (t) => {
  const { w, alice } = setup()
  w.limits.maxInflightSends = 3
  const c = w.connect('alice', 'a9')
  c.take()
  w.holdStore = true
  for (let i = 0; i < 3; i++) sendMsg(c)
  t.equal(c.closeCode, null)
  sendMsg(c)
  t.equal(c.closeCode, CloseCode.WINDOW_EXCEEDED)
  // Answered sends no longer count.
  const d = w.connect('alice', 'a8')
  w.runStore()
  d.take()
  for (let i = 0; i < 3; i++) sendMsg(d)
  w.runStore()
  for (let i = 0; i < 3; i++) sendMsg(d)
  t.equal(d.closeCode, null)
  void alice
})

t.test(
  'a store failure answers the Send with a retryable INTERNAL error, details kept out [ERR-1] [ERR-5] [SEC-9]',
  async (t) => {
    const { w, alice } = setup()
    w.holdStore = true
    const id = sendMsg(alice)
    // The harness would run the op; fail it instead.
    const failing = (w as unknown as { storeQueue: { id: number }[] }).storeQueue.shift()!
    alice.step({ type: 'storeFailed', id: failing.id, message: 'SQLITE_IOERR: disk I/O error in /var/lib/x.db' })
    const err = alice.of('error')[0]
    t.same([err?.code, err?.retryable], [ErrorCode.INTERNAL, true])
    t.same(err?.clientMsgId, id)
    t.notMatch(err?.message, /SQLITE|\//, 'no internal details in the message [SEC-9]')
  },
)
