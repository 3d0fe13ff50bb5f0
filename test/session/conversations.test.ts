// Session core: conversations, membership notices, history and listing.
import t from 'tap'
import { ConversationKind, HistoryDirection, UpdateReason } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { ErrorCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { type Client, newClientMsgId, World } from './harness.js'

const create = (c: Client, conversationId: string, kind: ConversationKind, memberUserIds: string[], requestId = 7) =>
  c.send({ case: 'createConversation', value: { requestId, conversationId, kind, memberUserIds } })

const errors = (c: Client) => c.of('error').map((e) => [e.code, e.requestId])

function send(c: Client, conversationId = 'g1'): void {
  c.send({ case: 'send', value: { clientMsgId: newClientMsgId(), conversationId, body: new Uint8Array([1]) } })
}

t.test('creates a group with the creator as owner and member, answering ConversationResult [CNV-1]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  a.take()
  create(a, 'team.x:1-2', ConversationKind.GROUP, ['carol', 'bob', 'bob'], 42)
  const r = a.of('conversationResult')[0]
  t.equal(r?.requestId, 42)
  const c = r?.conversation
  t.same(
    [c?.conversationId, c?.kind, c?.ownerUserId, c?.memberUserIds, c?.topSeq, c?.epoch, c?.cursor],
    ['team.x:1-2', ConversationKind.GROUP, 'alice', ['alice', 'bob', 'carol'], 0n, 1n, 0n],
  )
})

t.test('refuses bad ids, kinds, member ids and direct member counts with BAD_REQUEST [CNV-1] [CNV-9]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  a.take()
  create(a, 'bad id', ConversationKind.GROUP, [])
  create(a, 'x'.repeat(129), ConversationKind.GROUP, [])
  create(a, 'ok', ConversationKind.UNSPECIFIED, [])
  create(a, 'ok', ConversationKind.GROUP, ['bad user'])
  create(a, 'ok', ConversationKind.DIRECT, [])
  create(a, 'ok', ConversationKind.DIRECT, ['alice'])
  create(a, 'ok', ConversationKind.DIRECT, ['bob', 'carol'])
  t.same(
    errors(a),
    Array.from({ length: 7 }, () => [ErrorCode.BAD_REQUEST, 7]),
  )
})

t.test('limits groups to max members [CNV-8]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  a.take()
  const many = Array.from({ length: 1000 }, (_, i) => `u${i}`)
  create(a, 'big', ConversationKind.GROUP, many)
  t.same(errors(a), [[ErrorCode.BAD_REQUEST, 7]], '1001 with the creator')
  create(a, 'big', ConversationKind.GROUP, many.slice(1))
  t.equal(a.of('conversationResult')[0]?.conversation?.memberUserIds.length, 1000)
})

t.test('create is idempotent; other settings get ALREADY_EXISTS [CNV-2]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  a.take()
  create(a, 'd1', ConversationKind.DIRECT, ['bob'])
  create(a, 'd1', ConversationKind.DIRECT, ['bob'])
  t.equal(a.of('conversationResult').length, 2)
  create(a, 'd1', ConversationKind.DIRECT, ['carol'])
  t.same(errors(a), [[ErrorCode.ALREADY_EXISTS, 7]])
})

t.test(
  "notifies JOINED to the other members and to the creator's other devices, not the creating device [CNV-6]",
  async (t) => {
    const w = new World()
    const a1 = w.connect('alice', 'a1')
    const a2 = w.connect('alice', 'a2')
    const b = w.connect('bob', 'b1')
    for (const c of [a1, a2, b]) c.take()
    create(a1, 'g1', ConversationKind.GROUP, ['bob'])
    t.same(a1.cases(), ['conversationResult'])
    for (const c of [a2, b]) {
      const u = c.of('conversationUpdated')[0]
      t.same([u?.conversationId, u?.reason, u?.topSeq, u?.cursor], ['g1', UpdateReason.JOINED, 0n, 0n])
    }
  },
)

t.test('membership changes notify JOINED, MEMBERS_CHANGED and REMOVED [CNV-3] [CNV-4] [CNV-5] [CNV-6]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  const b = w.connect('bob', 'b1')
  const c = w.connect('carol', 'c1')
  create(a, 'g1', ConversationKind.GROUP, ['bob'])
  for (const x of [a, b, c]) x.take()
  b.send({ case: 'addMembers', value: { requestId: 3, conversationId: 'g1', userIds: ['carol'] } })
  t.same(b.of('conversationResult')[0]?.conversation?.memberUserIds, ['alice', 'bob', 'carol'])
  t.same(
    c.of('conversationUpdated').map((u) => u.reason),
    [UpdateReason.JOINED],
  )
  t.same(
    a.of('conversationUpdated').map((u) => u.reason),
    [UpdateReason.MEMBERS_CHANGED],
  )
  b.send({ case: 'removeMembers', value: { requestId: 4, conversationId: 'g1', userIds: ['carol'] } })
  t.same(errors(b), [[ErrorCode.FORBIDDEN, 4]], 'only the owner removes')
  a.send({ case: 'removeMembers', value: { requestId: 5, conversationId: 'g1', userIds: ['carol'] } })
  t.same(
    c.of('conversationUpdated').map((u) => u.reason),
    [UpdateReason.REMOVED],
  )
  t.same(
    b.of('conversationUpdated').map((u) => u.reason),
    [UpdateReason.MEMBERS_CHANGED],
  )
  a.take()
  a.send({ case: 'leaveConversation', value: { requestId: 6, conversationId: 'g1' } })
  const left = a.of('conversationResult')[0]?.conversation
  t.same([left?.ownerUserId, left?.memberUserIds], ['bob', ['bob']], 'ownership passes on')
  t.same(
    b.of('conversationUpdated').map((u) => u.reason),
    [UpdateReason.MEMBERS_CHANGED],
  )
  a.send({ case: 'addMembers', value: { requestId: 8, conversationId: 'g1', userIds: ['zed'] } })
  t.same(errors(a), [[ErrorCode.CONVERSATION_NOT_FOUND, 8]], 'no longer a member')
})

t.test('an added user reads the whole history (cursor 0 -> replay from 1) [CNV-7]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  create(a, 'g1', ConversationKind.GROUP, [])
  send(a)
  send(a)
  a.send({ case: 'addMembers', value: { requestId: 3, conversationId: 'g1', userIds: ['bob'] } })
  const b = w.connect('bob', 'b1')
  t.same(
    b.of('deliver').map((d) => Number(d.message?.seq)),
    [1, 2],
  )
})

t.test('history pages by seq in both directions, clamping the limit [HIS-1] [HIS-2] [HIS-4]', async (t) => {
  const w = new World()
  w.limits.historyPageMax = 4
  const a = w.connect('alice', 'a1')
  create(a, 'g1', ConversationKind.GROUP, [])
  for (let i = 0; i < 10; i++) send(a)
  a.take()
  const page = (direction: HistoryDirection, anchorSeq: number, limit: number) => {
    a.send({
      case: 'historyRequest',
      value: {
        requestId: 9,
        conversationId: 'g1',
        direction,
        anchorSeq: anchorSeq > Number.MAX_SAFE_INTEGER ? 18446744073709551615n : BigInt(anchorSeq),
        limit,
      },
    })
    const p = a.of('historyPage')[0]
    return [p?.messages.map((m) => Number(m.seq)), p?.hasMore, p?.topSeq, p?.epoch, p?.requestId]
  }
  t.same(page(HistoryDirection.FORWARD, 0, 2), [[1, 2], true, 10n, 1n, 9])
  t.same(page(HistoryDirection.UNSPECIFIED, 8, 0), [[9, 10], false, 10n, 1n, 9])
  t.same(page(HistoryDirection.FORWARD, 0, 0), [[1, 2, 3, 4], true, 10n, 1n, 9], 'limit 0 = max')
  t.same(page(HistoryDirection.FORWARD, 0, 99), [[1, 2, 3, 4], true, 10n, 1n, 9], 'limit over max = max')
  t.same(page(HistoryDirection.BACKWARD, 0, 3), [[8, 9, 10], true, 10n, 1n, 9])
  t.same(page(HistoryDirection.BACKWARD, 3, 3), [[1, 2], false, 10n, 1n, 9])
  t.same(page(HistoryDirection.FORWARD, 10, 3), [[], false, 10n, 1n, 9])
  t.same(page(HistoryDirection.BACKWARD, Number.MAX_SAFE_INTEGER + 2, 2), [[9, 10], true, 10n, 1n, 9])
})

t.test(
  'history of a non-member or unknown conversation is CONVERSATION_NOT_FOUND with the request id [HIS-3] [SEC-1]',
  async (t) => {
    const w = new World()
    const a = w.connect('alice', 'a1')
    create(a, 'g1', ConversationKind.GROUP, [])
    const m = w.connect('mallory', 'm1')
    m.take()
    for (const conversationId of ['g1', 'nope']) {
      m.send({ case: 'historyRequest', value: { requestId: 5, conversationId } })
    }
    t.same(errors(m), [
      [ErrorCode.CONVERSATION_NOT_FOUND, 5],
      [ErrorCode.CONVERSATION_NOT_FOUND, 5],
    ])
  },
)

t.test('request_id 0 on any request gets BAD_REQUEST with request_id 0 [HIS-6]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  a.take()
  a.send({ case: 'historyRequest', value: { requestId: 0, conversationId: 'g1' } })
  a.send({ case: 'listConversations', value: { requestId: 0 } })
  a.send({ case: 'createConversation', value: { requestId: 0, conversationId: 'g', kind: ConversationKind.GROUP } })
  a.send({ case: 'addMembers', value: { requestId: 0, conversationId: 'g' } })
  a.send({ case: 'removeMembers', value: { requestId: 0, conversationId: 'g' } })
  a.send({ case: 'leaveConversation', value: { requestId: 0, conversationId: 'g' } })
  t.same(
    errors(a),
    Array.from({ length: 6 }, () => [ErrorCode.BAD_REQUEST, 0]),
  )
})

t.test(
  'lists conversations ascending with kind, epoch, top, this device cursor, members, owner; paged [HIS-5]',
  async (t) => {
    const w = new World()
    w.limits.historyPageMax = 2
    const a = w.connect('alice', 'a1')
    for (const id of ['c', 'a', 'b']) create(a, id, ConversationKind.GROUP, ['bob'])
    send(a, 'b')
    const b = w.connect('bob', 'b1')
    b.send({ case: 'deliverAck', value: { conversationId: 'b', upToSeq: 1n } })
    b.take()
    b.send({ case: 'listConversations', value: { requestId: 1 } })
    const p1 = b.of('conversationList')[0]
    t.same(
      p1?.conversations.map((c) => [c.conversationId, Number(c.topSeq), Number(c.cursor)]),
      [
        ['a', 0, 0],
        ['b', 1, 1],
      ],
    )
    t.equal(p1?.hasMore, true)
    const first = p1?.conversations[0]
    t.same(
      [first?.kind, first?.epoch, first?.ownerUserId, first?.memberUserIds],
      [ConversationKind.GROUP, 1n, 'alice', ['alice', 'bob']],
    )
    b.send({ case: 'listConversations', value: { requestId: 2, afterConversationId: 'b' } })
    const p2 = b.of('conversationList')[0]
    t.same([p2?.conversations.map((c) => c.conversationId), p2?.hasMore], [['c'], false])
  },
)

t.test(
  "history pages are cut to the client's max_frame_bytes, nearest the anchor, with has_more [HIS-7] [FRM-9]",
  async (t) => {
    const w = new World()
    const a = w.connect('alice', 'a1')
    create(a, 'g1', ConversationKind.GROUP, [])
    const body = new Uint8Array(w.limits.maxMessageBytes)
    for (let i = 0; i < 20; i++) {
      a.send({ case: 'send', value: { clientMsgId: newClientMsgId(), conversationId: 'g1', body } })
    }
    a.take()
    const page = (direction: HistoryDirection) => {
      a.send({ case: 'historyRequest', value: { requestId: 1, conversationId: 'g1', direction, limit: 20 } })
      return a.of('historyPage')[0]
    }
    const fwd = page(HistoryDirection.FORWARD)
    const n = fwd?.messages.length ?? 0
    t.ok(n > 0 && n < 20, `cut to ${n}`)
    t.equal(fwd?.messages[0]?.seq, 1n, 'forward keeps the lowest seqs')
    t.equal(fwd?.hasMore, true)
    const back = page(HistoryDirection.BACKWARD)
    t.equal(back?.messages.at(-1)?.seq, 20n, 'backward keeps the highest seqs')
    t.equal(back?.hasMore, true)
  },
)

t.test('AddMembers and RemoveMembers with an empty user list get BAD_REQUEST [CNV-3] [CNV-4]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  create(a, 'g1', ConversationKind.GROUP, ['bob'])
  a.take()
  a.send({ case: 'addMembers', value: { requestId: 3, conversationId: 'g1', userIds: [] } })
  a.send({ case: 'removeMembers', value: { requestId: 4, conversationId: 'g1', userIds: [] } })
  t.same(errors(a), [
    [ErrorCode.BAD_REQUEST, 3],
    [ErrorCode.BAD_REQUEST, 4],
  ])
})

t.test('create answers ALREADY_EXISTS before checking the member bound [ERR-13] [CNV-8]', async (t) => {
  const w = new World()
  w.limits.maxGroupMembers = 3
  const a = w.connect('alice', 'a1')
  create(a, 'g1', ConversationKind.GROUP, ['bob'])
  a.take()
  create(a, 'g1', ConversationKind.GROUP, ['bob', 'carol', 'dave'])
  t.same(errors(a), [[ErrorCode.ALREADY_EXISTS, 7]])
  create(a, 'g2', ConversationKind.GROUP, ['bob', 'carol', 'dave'])
  t.same(errors(a), [[ErrorCode.BAD_REQUEST, 7]])
})

t.test('membership notices wait for ReplayComplete and precede live deliveries [CNV-14] [HS-11]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  create(a, 'g0', ConversationKind.GROUP, ['bob'])
  send(a, 'g0')
  w.holdStore = true
  const b = w.connect('bob', 'b1') // snapshot queued
  create(a, 'g1', ConversationKind.GROUP, ['bob']) // JOINED for bob while he is replaying
  send(a, 'g1')
  w.runStore()
  t.same(
    b
      .take()
      .map((f) =>
        f.body.case === 'conversationUpdated'
          ? `u:${f.body.value.conversationId}`
          : f.body.case === 'deliver'
            ? `d:${f.body.value.message?.conversationId}`
            : f.body.case,
      ),
    ['welcome', 'd:g0', 'replayComplete', 'u:g1', 'd:g1'],
  )
})

t.test('a user named twice in AddMembers is added once, gets one JOINED, and counts once [CNV-8] [CNV-6]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  const c = w.connect('carol', 'c1')
  create(a, 'g1', ConversationKind.GROUP, Array.from({ length: 998 }, (_, i) => `u${i}`))
  for (const x of [a, c]) x.take()
  a.send({ case: 'addMembers', value: { requestId: 3, conversationId: 'g1', userIds: ['carol', 'carol'] } })
  const out = a.take()
  t.same(
    out.map((f) => f.body.case),
    ['conversationResult'],
    'creator + 998 + carol is exactly max_group_members',
  )
  const r = out[0]?.body.case === 'conversationResult' ? out[0].body.value : undefined
  t.equal(r?.conversation?.memberUserIds.length, 1000)
  t.same(
    c.of('conversationUpdated').map((u) => u.reason),
    [UpdateReason.JOINED],
  )
})

t.test('a DIRECT conversation is owned by its creator; the other member re-creating it gets ALREADY_EXISTS [CNV-15] [CNV-2]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  const b = w.connect('bob', 'b1')
  create(a, 'd1', ConversationKind.DIRECT, ['bob'])
  t.equal(a.of('conversationResult')[0]?.conversation?.ownerUserId, 'alice')
  b.take()
  create(b, 'd1', ConversationKind.DIRECT, ['alice'])
  t.same(errors(b), [[ErrorCode.ALREADY_EXISTS, 7]])
})

t.test('ListConversations with an after_conversation_id of invalid syntax gets BAD_REQUEST [HIS-9] [ERR-13]', async (t) => {
  const w = new World()
  const a = w.connect('alice', 'a1')
  create(a, 'g1', ConversationKind.GROUP, [])
  a.take()
  a.send({ case: 'listConversations', value: { requestId: 5, afterConversationId: 'bad id' } })
  a.send({ case: 'listConversations', value: { requestId: 6, afterConversationId: 'x'.repeat(129) } })
  t.same(errors(a), [
    [ErrorCode.BAD_REQUEST, 5],
    [ErrorCode.BAD_REQUEST, 6],
  ])
  t.same(a.of('conversationList'), [])
})
