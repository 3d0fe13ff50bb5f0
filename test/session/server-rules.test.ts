// Session core: server rules that cut across requests (errors leave no trace,
// dedupe keys, joins, failed Hellos, indistinguishable refusals, request
// syntax, conversation info).
import t from 'tap'
import { ConversationKind, HistoryDirection } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { CloseCode, ErrorCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { errorFrame } from '../../src/session/frames.js'
import { type Client, newClientMsgId, World } from './harness.js'

function group(c: Client, conversationId: string, members: string[], requestId = 1): void {
  c.send({
    case: 'createConversation',
    value: { requestId, conversationId, kind: ConversationKind.GROUP, memberUserIds: members },
  })
}

function send(c: Client, over: Record<string, unknown> = {}): Uint8Array {
  const clientMsgId = newClientMsgId()
  c.send({
    case: 'send',
    value: { clientMsgId, conversationId: 'g', contentType: 'text/plain', body: Uint8Array.of(1), ...over },
  })
  return clientMsgId
}

function history(c: Client, conversationId: string, over: Record<string, unknown> = {}): void {
  c.send({ case: 'historyRequest', value: { requestId: 9, conversationId, ...over } })
}

t.test('a Send answered with an Error leaves no message, seq or send_seq behind [SND-8] [ORD-8]', async (t) => {
  const w = new World()
  const alice = w.connect('alice', 'a1')
  group(alice, 'g', [])
  alice.take()
  send(alice, { sendSeq: 1n })
  send(alice, { sendSeq: 3n }) // gap: SEND_OUT_OF_ORDER
  send(alice, { sendSeq: 2n, body: new Uint8Array(w.limits.maxMessageBytes + 1) }) // MESSAGE_TOO_LARGE
  const retry = send(alice, { sendSeq: 2n, conversationId: 'nope' }) // CONVERSATION_NOT_FOUND
  const answers = alice.take().map((f) => (f.body.case === 'error' ? f.body.value.code : f.body.case))
  t.same(answers, [
    'sendAck',
    ErrorCode.SEND_OUT_OF_ORDER,
    ErrorCode.MESSAGE_TOO_LARGE,
    ErrorCode.CONVERSATION_NOT_FOUND,
  ])
  // The refused key is free (no dedupe record [DUP-6]) and send_seq 2 is still next.
  send(alice, { sendSeq: 2n, clientMsgId: retry })
  const ack = alice.of('sendAck')[0]
  t.same([ack?.seq, ack?.duplicate], [2n, false], 'seq 2: no seq was used by the refused sends')
  history(alice, 'g')
  t.same(
    alice.of('historyPage')[0]?.messages.map((m) => m.seq),
    [1n, 2n],
  )
})

t.test('dedupe ignores send_seq and the sending device [DUP-7]', async (t) => {
  const w = new World()
  const a1 = w.connect('alice', 'a1')
  group(a1, 'g', [])
  a1.take()
  const id = send(a1, { sendSeq: 1n })
  const first = a1.of('sendAck')[0]
  const a2 = w.connect('alice', 'a2')
  a2.take()
  // Another device of the same user, another send_seq: still the same message.
  send(a2, { clientMsgId: id, sendSeq: 7n })
  const again = a2.of('sendAck')[0]
  t.same(
    [again?.duplicate, again?.seq, again?.messageId, again?.serverTimeMs],
    [true, first?.seq, first?.messageId, first?.serverTimeMs],
  )
  // Another user with the same client_msg_id is another message. [DUP-1]
  const bob = w.connect('bob', 'b1')
  bob.take()
  a1.send({ case: 'addMembers', value: { requestId: 2, conversationId: 'g', userIds: ['bob'] } })
  bob.take()
  send(bob, { clientMsgId: id })
  t.same(
    bob.of('sendAck').map((a) => [a.duplicate, a.seq]),
    [[false, 2n]],
  )
})

t.test('a user added to a group gets live deliveries from the join on, earlier ones by history [FAN-5]', async (t) => {
  const w = new World()
  const alice = w.connect('alice', 'a1')
  const bob = w.connect('bob', 'b1')
  group(alice, 'g', [])
  send(alice)
  alice.send({ case: 'addMembers', value: { requestId: 2, conversationId: 'g', userIds: ['bob'] } })
  send(alice)
  alice.take()
  const got = bob.take().filter((f) => f.body.case !== 'welcome' && f.body.case !== 'replayComplete')
  t.same(
    got.map((f) => f.body.case),
    ['conversationUpdated', 'deliver'],
    'JOINED, then only the message committed after the join',
  )
  const d = got[1]?.body.case === 'deliver' ? got[1].body.value : undefined
  t.same([d?.message?.seq, d?.replayed], [2n, false])
  history(bob, 'g')
  t.same(
    bob.of('historyPage')[0]?.messages.map((m) => m.seq),
    [1n, 2n],
    'the earlier message through history [CNV-7]',
  )
})

t.test('a failing Hello never affects the existing session of the same device [SEC-8] [RSM-6]', async (t) => {
  const w = new World()
  const alice = w.connect('alice', 'a1')
  group(alice, 'g', ['bob'])
  alice.take()
  const bad = w.connect('alice', 'a1', { token: 'imwire-test:alice.bad' })
  t.equal(bad.closeCode, CloseCode.UNAUTHORIZED)
  const badVersion = w.connect('alice', 'a1', { versions: [99] })
  t.equal(badVersion.closeCode, CloseCode.UNSUPPORTED_VERSION)
  t.equal(alice.closeCode, null, 'the existing session is still open')
  const bob = w.connect('bob', 'b1')
  bob.take()
  send(bob)
  t.same(
    alice.of('deliver').map((d) => d.message?.seq),
    [1n],
    'and still receives',
  )
})

t.test("a non-member's answers are the same as for a missing conversation [SEC-3] [HIS-3] [SND-2]", async (t) => {
  const w = new World()
  const alice = w.connect('alice', 'a1')
  group(alice, 'secret', [])
  send(alice, { conversationId: 'secret' })
  alice.take()
  const eve = w.connect('eve', 'e1')
  eve.take()
  const answers = (conversationId: string) => {
    history(eve, conversationId)
    send(eve, { conversationId, clientMsgId: Uint8Array.from({ length: 16 }, () => 7) })
    eve.send({ case: 'addMembers', value: { requestId: 3, conversationId, userIds: ['eve'] } })
    eve.send({ case: 'leaveConversation', value: { requestId: 4, conversationId } })
    eve.send({ case: 'deliverAck', value: { conversationId, upToSeq: 1n } })
    return eve.take().map((f) => (f.body.case === 'error' ? [f.body.value.code, f.body.value.message] : f.body.case))
  }
  const member = answers('secret')
  t.same(member, answers('missing'))
  t.same(
    member.map((a) => (Array.isArray(a) ? a[0] : a)),
    [
      ErrorCode.CONVERSATION_NOT_FOUND,
      ErrorCode.CONVERSATION_NOT_FOUND,
      ErrorCode.CONVERSATION_NOT_FOUND,
      ErrorCode.CONVERSATION_NOT_FOUND,
    ],
    'and the DeliverAck is ignored without an answer [DLV-4]',
  )
  t.equal(eve.closeCode, null)
})

t.test('history direction UNSPECIFIED reads forward; an undefined direction is BAD_REQUEST [HIS-8]', async (t) => {
  const w = new World()
  const alice = w.connect('alice', 'a1')
  group(alice, 'g', [])
  for (let i = 0; i < 3; i++) send(alice)
  alice.take()
  history(alice, 'g', { direction: HistoryDirection.UNSPECIFIED, anchorSeq: 1n })
  t.same(
    alice.of('historyPage')[0]?.messages.map((m) => m.seq),
    [2n, 3n],
  )
  history(alice, 'g', { direction: 7 as HistoryDirection })
  t.same(
    alice.of('error').map((e) => [e.code, e.requestId]),
    [[ErrorCode.BAD_REQUEST, 9]],
  )
  t.equal(alice.closeCode, null, 'a request failure never closes [ERR-12]')
})

t.test('a title over 256 bytes is BAD_REQUEST; ConversationInfo carries every field [CNV-13] [CNV-10]', async (t) => {
  const w = new World()
  const alice = w.connect('alice', 'a1')
  alice.take()
  alice.send({
    case: 'createConversation',
    value: { requestId: 1, conversationId: 'g', kind: ConversationKind.GROUP, title: 'é'.repeat(129) },
  })
  t.same(
    alice.of('error').map((e) => e.code),
    [ErrorCode.BAD_REQUEST],
    '258 bytes in 129 characters',
  )
  alice.send({
    case: 'createConversation',
    value: {
      requestId: 2,
      conversationId: 'g',
      kind: ConversationKind.GROUP,
      title: 'é'.repeat(128),
      memberUserIds: ['zed', 'bob'],
    },
  })
  const info = alice.of('conversationResult')[0]?.conversation
  t.same(
    [info?.conversationId, info?.kind, info?.epoch, info?.topSeq, info?.cursor, info?.ownerUserId, info?.title],
    ['g', ConversationKind.GROUP, 1n, 0n, 0n, 'alice', 'é'.repeat(128)],
  )
  t.same(info?.memberUserIds, ['alice', 'bob', 'zed'], 'members sorted; users are implicit [CNV-11]')
  send(alice)
  alice.take()
  alice.send({ case: 'listConversations', value: { requestId: 3 } })
  const listed = alice.of('conversationList')[0]?.conversations[0]
  t.same([listed?.topSeq, listed?.cursor], [1n, 0n], 'top_seq moves; the cursor only by acks [DLV-7]')
})

t.test('an unknown enum value in a request is BAD_REQUEST [GEN-3]', async (t) => {
  const w = new World()
  const alice = w.connect('alice', 'a1')
  alice.take()
  alice.send({
    case: 'createConversation',
    value: { requestId: 5, conversationId: 'g', kind: 9 as ConversationKind, memberUserIds: [] },
  })
  t.same(
    alice.of('error').map((e) => [e.code, e.requestId]),
    [[ErrorCode.BAD_REQUEST, 5]],
  )
  t.equal(alice.closeCode, null)
})

t.test('retryable is true exactly for INTERNAL, SEND_OUT_OF_ORDER and RATE_LIMITED [ERR-8]', async (t) => {
  const codes = Object.values(ErrorCode).filter((v): v is ErrorCode => typeof v === 'number' && v !== 0)
  const retryable = codes.filter((c) => {
    const f = errorFrame(c, 'x')
    return f.body.case === 'error' && f.body.value.retryable
  })
  t.same(retryable.sort(), [ErrorCode.INTERNAL, ErrorCode.SEND_OUT_OF_ORDER, ErrorCode.RATE_LIMITED].sort())
})
