// Session core: the features read-state, inbox and history-time on one
// connection (negotiation, unsupported bodies, request checks, live read
// notices, frame-limit fitting). [RD-1] [RD-3] [RD-4] [INB-3] [INB-5] [HIS-10]
import t from 'tap'
import { encodeFrame } from '../../src/codec/index.js'
import { CloseCode, ErrorCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { ConversationKind, HistoryDirection } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { type Client, frame, newClientMsgId, World } from './harness.js'

const ALL = ['lz4', 'read-state', 'inbox', 'history-time']

function world(): World {
  const w = new World()
  w.features = ALL
  return w
}

const create = (c: Client, conversationId: string, kind: ConversationKind, memberUserIds: string[]) =>
  c.send({ case: 'createConversation', value: { requestId: 1, conversationId, kind, memberUserIds } })

function send(c: Client, conversationId: string, ts?: { w: World; at: number }): void {
  if (ts !== undefined) ts.w.now = ts.at
  c.send({ case: 'send', value: { clientMsgId: newClientMsgId(), conversationId, body: new Uint8Array([1]) } })
}

const markRead = (c: Client, conversationId: string, upToSeq: bigint, requestId = 5) =>
  c.send({ case: 'markRead', value: { requestId, conversationId, epoch: 1n, upToSeq } })

t.test('Welcome lists the requested features the server offers [HS-5]', async (t) => {
  const w = world()
  const c = w.connect('alice', 'a1', { features: ['inbox', 'history-time'] })
  t.same(c.of('welcome')[0]?.features, ['inbox', 'history-time'])
})

t.test('a feature body without its feature closes 3511, like an unknown body [RD-1] [INB-1] [FRM-7]', async (t) => {
  const bodies = [
    { case: 'markRead', value: { requestId: 1, conversationId: 'g1' } },
    { case: 'readCountRequest', value: { requestId: 1, conversationId: 'g1', seq: 1n } },
    { case: 'inboxRequest', value: { requestId: 1 } },
    { case: 'syncRequest', value: { requestId: 1 } },
    { case: 'readUpdated', value: {} },
    { case: 'syncPage', value: {} },
  ] as const
  for (const body of bodies) {
    const w = world()
    // Offered but not requested: not enabled.
    const c = w.connect('alice', 'a1', {
      features: body.case.startsWith('sync') || body.case === 'inboxRequest' ? ['read-state'] : ['inbox'],
    })
    c.take()
    c.send(body)
    t.equal(c.closeCode, CloseCode.UNSUPPORTED_FRAME, `${body.case} without its feature`)
  }
})

t.test('a feature body before Hello closes 3511, not 3510: FRM-14 step 3 comes first [RD-1] [FRM-14]', async (t) => {
  const w = world()
  const c = w.open()
  c.send({ case: 'markRead', value: { requestId: 1, conversationId: 'g1' } })
  t.equal(c.closeCode, CloseCode.UNSUPPORTED_FRAME)
})

t.test('a feature body inside a Batch without the feature closes 3511 [RD-1] [BAT-1]', async (t) => {
  const w = world()
  const c = w.connect('alice', 'a1', { features: ['lz4'] })
  c.take()
  const inner = encodeFrame(frame({ case: 'inboxRequest', value: { requestId: 1 } }))
  const prefixed = new Uint8Array([inner.length, ...inner])
  c.send({ case: 'batch', value: { codec: 1, count: 1, uncompressedLength: prefixed.length, payload: prefixed } })
  t.equal(c.closeCode, CloseCode.UNSUPPORTED_FRAME)
})

t.test('a server-only feature body from a client that enabled the feature closes 3510 [FRM-10] [RD-1]', async (t) => {
  for (const body of [
    { case: 'markReadResult', value: {} },
    { case: 'peerRead', value: {} },
    { case: 'readCountResult', value: {} },
    { case: 'inboxPage', value: {} },
  ] as const) {
    const w = world()
    const c = w.connect('alice', 'a1', { features: ALL })
    c.take()
    c.send(body)
    t.equal(c.closeCode, CloseCode.UNEXPECTED_FRAME, body.case)
  }
})

t.test('requests check request_id first, then syntax, then membership [RD-3] [RD-7] [HIS-6] [ERR-13]', async (t) => {
  const w = world()
  const c = w.connect('alice', 'a1', { features: ALL })
  c.take()
  markRead(c, 'g1', 1n, 0)
  c.send({ case: 'readCountRequest', value: { requestId: 0, conversationId: 'bad id', seq: 0n } })
  c.send({ case: 'inboxRequest', value: { requestId: 0 } })
  c.send({ case: 'syncRequest', value: { requestId: 0, since: 99n } })
  markRead(c, 'bad id', 1n, 2)
  c.send({ case: 'readCountRequest', value: { requestId: 3, conversationId: 'bad id', seq: 0n } })
  markRead(c, 'nope', 1n, 4)
  c.send({ case: 'readCountRequest', value: { requestId: 5, conversationId: 'nope', seq: 0n } })
  c.send({ case: 'syncRequest', value: { requestId: 6, since: 99n } })
  t.same(
    c.of('error').map((e) => [e.code, e.requestId]),
    [
      [ErrorCode.BAD_REQUEST, 0],
      [ErrorCode.BAD_REQUEST, 0],
      [ErrorCode.BAD_REQUEST, 0],
      [ErrorCode.BAD_REQUEST, 0],
      [ErrorCode.BAD_REQUEST, 2],
      [ErrorCode.BAD_REQUEST, 3],
      [ErrorCode.CONVERSATION_NOT_FOUND, 4],
      [ErrorCode.CONVERSATION_NOT_FOUND, 5],
      [ErrorCode.BAD_REQUEST, 6],
    ],
  )
})

t.test('a ReadUpdated for a replaying connection is sent after ReplayComplete [RD-4] [CNV-16]', async (t) => {
  const w = world()
  const a1 = w.connect('alice', 'a1', { features: ALL })
  const bob = w.connect('bob', 'b1', { features: ALL })
  create(bob, 'g1', ConversationKind.GROUP, ['alice'])
  send(bob, 'g1')
  send(bob, 'g1')
  a1.take()
  w.holdStore = true
  const a2 = w.connect('alice', 'a2', { features: ALL }) // snapshot queued
  markRead(a1, 'g1', 1n) // committed after a2's snapshot, while a2 replays
  w.runStore()
  w.holdStore = false
  const cases = a2.take().map((f) => f.body.case)
  t.same(cases, ['welcome', 'deliver', 'deliver', 'replayComplete', 'readUpdated'])
  markRead(a1, 'g1', 2n)
  const u = a2.of('readUpdated')
  t.same(
    u.map((x) => [x.state?.readSeq, x.state?.unreadCount, x.state?.topSeq]),
    [[2n, 0n, 2n]],
  )
  t.same(
    a1.of('markReadResult').map((r) => [r.moved, r.state?.readSeq]),
    [
      [true, 1n],
      [true, 2n],
    ],
  )
  t.same(a1.of('readUpdated'), [], 'not to the requesting device')
})

t.test('a connection without read-state gets no read notices and no read fields [RD-1] [RD-6]', async (t) => {
  const w = world()
  const a1 = w.connect('alice', 'a1', { features: ALL })
  const a2 = w.connect('alice', 'a2', { features: ['lz4'] })
  create(a1, 'd1', ConversationKind.DIRECT, ['bob'])
  const bob = w.connect('bob', 'b1', { features: ['inbox'] })
  send(bob, 'd1')
  markRead(a1, 'd1', 1n)
  t.same(
    a2.take().map((f) => f.body.case),
    ['welcome', 'replayComplete', 'conversationUpdated', 'deliver'],
  )
  t.same(
    bob
      .take()
      .map((f) => f.body.case)
      .filter((c) => c !== 'sendAck'),
    ['welcome', 'replayComplete'],
  )
  a2.send({ case: 'listConversations', value: { requestId: 9 } })
  const info = a2.of('conversationList')[0]?.conversations[0]
  t.same([info?.readSeq, info?.unreadCount], [0n, 0n])
  a1.send({ case: 'listConversations', value: { requestId: 9 } })
  const mine = a1.of('conversationList')[0]?.conversations[0]
  t.same([mine?.readSeq, mine?.unreadCount], [1n, 0n])
})

t.test('anchor_time_ms is ignored without history-time and used with it [HIS-10]', async (t) => {
  for (const [features, expected] of [
    [['lz4'], [1n, 2n]],
    [['history-time'], [2n]],
  ] as const) {
    const w = world()
    const a = w.connect('alice', 'a1', { features: [...features] })
    create(a, 'g1', ConversationKind.GROUP, [])
    send(a, 'g1', { w, at: 1000 })
    send(a, 'g1', { w, at: 2000 })
    a.take()
    a.send({
      case: 'historyRequest',
      value: { requestId: 2, conversationId: 'g1', direction: HistoryDirection.FORWARD, anchorTimeMs: 1500n },
    })
    t.same(
      a.of('historyPage')[0]?.messages.map((m) => m.seq),
      expected,
      features.join(),
    )
  }
})

t.test(
  'inbox and sync pages are cut to the client frame limit, at least one entry, with the right sync point [INB-3] [INB-5] [HIS-7]',
  async (t) => {
    const w = world()
    const a = w.connect('alice', 'a1', { features: ALL })
    // 30 groups of 1000 members with 60-byte ids: ~60 KB of member ids per entry.
    const many = Array.from({ length: 999 }, (_, i) => `${'u'.repeat(56)}${String(i).padStart(4, '0')}`)
    for (let i = 0; i < 30; i++) create(a, `g${String(i).padStart(2, '0')}`, ConversationKind.GROUP, many)
    a.take()
    a.send({ case: 'inboxRequest', value: { requestId: 2, includeMembers: true } })
    const out = a.take()
    const page = out[0]?.body.case === 'inboxPage' ? out[0].body.value : undefined
    t.ok(page !== undefined && page.entries.length > 0 && page.entries.length < 30, `${page?.entries.length} entries`)
    t.equal(page?.hasMore, true)
    t.ok(encodeFrame(out[0] as never).length <= 1024 * 1024)
    a.send({ case: 'syncRequest', value: { requestId: 3, since: 0n, includeMembers: true } })
    const s = a.of('syncPage')[0]
    const k = s?.entries.length ?? 0
    t.ok(k > 0 && k < 30 && s?.hasMore === true, `${k} entries`)
    // The sync point is the change of the last entry returned: the next page starts right after it.
    t.equal(s?.syncPoint, page?.entries.find((e) => e.conversationId === s?.entries[k - 1]?.conversationId)?.activity)
    a.send({ case: 'syncRequest', value: { requestId: 4, since: s?.syncPoint ?? 0n, includeMembers: true } })
    t.equal(a.of('syncPage')[0]?.entries[0]?.conversationId, `g${String(k).padStart(2, '0')}`)
  },
)

t.test(
  'the codec decodes the feature bodies strictly and leaves fields 35 and above unknown [FRM-5] [FRM-7]',
  async (t) => {
    const { decodeFrame, CodecError } = await import('../../src/codec/index.js')
    const page = encodeFrame(
      frame({
        case: 'syncPage',
        value: { requestId: 1, entries: [{ conversationId: 'ab', lastMessage: { senderUserId: 'cd' } }] },
      }),
    )
    t.equal(decodeFrame(page).body.case, 'syncPage')
    // Invalid UTF-8 in a string nested three deep (SyncPage.entries.last_message.sender_user_id).
    const at = page.lastIndexOf(0x63) // 'c' of "cd"
    const bad = page.slice()
    bad[at] = 0xff
    t.throws(() => decodeFrame(bad), CodecError)
    // Field 35, length-delimited, empty: a body v1 and its features do not define.
    t.equal(decodeFrame(new Uint8Array([0x9a, 0x02, 0x00])).body.case, undefined)
    const w = world()
    const c = w.connect('alice', 'a1', { features: ALL })
    c.take()
    c.step({ type: 'frame', frame: decodeFrame(new Uint8Array([0x9a, 0x02, 0x00])) })
    t.equal(c.closeCode, CloseCode.UNSUPPORTED_FRAME)
  },
)
