// The client's side of "read-state", "inbox" and "history-time" against a
// scripted peer: negotiation, refusals when a feature is off, read states
// moved by every source, the whole-inbox load and incremental sync.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create } from '@bufbuild/protobuf'
import t from 'tap'
import { ImwireClient } from '../../src/client/client.js'
import { JsonFileClientStore } from '../../src/client/client-file-store.js'
import type { ImwireClientOptions } from '../../src/client/client-types.js'
import { DEFAULT_FEATURES } from '../../src/client/features.js'
import type { ReadStateSource } from '../../src/client/read-inbox.js'
import type { ReadState } from '../../src/client/read-states.js'
import { ErrorCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { ConversationKind, UpdateReason } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import type { Frame } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { type InboxEntry, InboxEntrySchema } from '../../src/gen/es/imwire/v1/inbox_pb.js'
import type { Send } from '../../src/gen/es/imwire/v1/messaging_pb.js'
import { FakePeer, frame } from './fake-peer.js'

const ALL = ['read-state', 'inbox', 'history-time']

async function open(peer: FakePeer, opts: Partial<ImwireClientOptions> = {}): Promise<ImwireClient> {
  return ImwireClient.open({
    connect: peer.connect,
    token: 'tok',
    deviceId: 'alice-laptop',
    backoff: { random: () => 0 },
    ackDelayMs: 0,
    syncOnReady: false,
    ...opts,
  })
}

/** Put messages from `sender` into the peer's history of a conversation. */
function seed(peer: FakePeer, conversationId: string, senders: string[]): void {
  const list = peer.messages.get(conversationId) ?? []
  for (const sender of senders) {
    const seq = list.length + 1
    const send: Send = {
      $typeName: 'imwire.v1.Send',
      clientMsgId: new Uint8Array(16),
      conversationId,
      sendSeq: 0n,
      contentType: '',
      body: new TextEncoder().encode(`m${seq}`),
    }
    list.push({ seq, id: `${conversationId}/${seq}`, sender, send })
  }
  peer.messages.set(conversationId, list)
}

const entry = (id: string, activity: number, over: Omit<Partial<InboxEntry>, '$typeName'> = {}): InboxEntry =>
  create(InboxEntrySchema, {
    conversationId: id,
    kind: ConversationKind.GROUP,
    epoch: 1n,
    topSeq: 3n,
    readSeq: 1n,
    unreadCount: 2n,
    activity: BigInt(activity),
    ...over,
  })

function events(client: ImwireClient): Array<[ReadState, ReadStateSource]> {
  const out: Array<[ReadState, ReadStateSource]> = []
  client.on('readState', (s, source) => out.push([s, source]))
  return out
}

const FEATURE_FRAMES: Array<Frame['body']['case']> = ['markRead', 'readCountRequest', 'inboxRequest', 'syncRequest']

t.test('asks for read-state, inbox and history-time by default; Welcome decides what is on [HS-5]', async (t) => {
  const peer = new FakePeer()
  peer.offer = ['read-state', 'lz4']
  const client = await open(peer)
  await client.connect()
  t.same(peer.hellos[0]?.features, DEFAULT_FEATURES)
  t.same(client.features, ['read-state'])
  await client.close()
  const none = new FakePeer()
  none.offer = ALL
  const off = await open(none, { features: [] })
  await off.connect()
  t.same(none.hellos[0]?.features, [], 'features: [] asks for none')
  t.same(off.features, [])
  await off.close()
})

t.test(
  'with the features off every call refuses with FEATURE_NOT_ENABLED and sends nothing [GEN-2] [RD-1]',
  async (t) => {
    const peer = new FakePeer()
    peer.offer = []
    const client = await open(peer)
    await client.connect()
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['read-state', () => client.markRead('c', 1)],
      ['read-state', () => client.readCount('c', 1)],
      ['inbox', () => client.inbox()],
      ['inbox', () => client.loadInbox()],
      ['inbox', () => client.sync()],
      ['history-time', () => client.history({ conversationId: 'c', anchorTimeMs: 1000 })],
    ]
    for (const [feature, call] of calls) {
      t.match(await call().catch((e: unknown) => e), { code: 'FEATURE_NOT_ENABLED', feature }, feature)
    }
    // A seq-anchored page is plain v1 and still goes.
    await client.history({ conversationId: 'c' })
    await new Promise((r) => setTimeout(r, 20))
    t.same(peer.violations, [], 'no feature frame reached the peer')
    for (const k of FEATURE_FRAMES) t.equal(peer.framesOf(k).length, 0, `no ${k}`)
    const h = peer.framesOf('historyRequest')[0]
    t.equal(h?.body.case === 'historyRequest' && h.body.value.anchorTimeMs, 0n)
    t.equal(client.state, 'ready', 'the connection is still up')
    await client.close()
  },
)

t.test('a feature request queued before the first Welcome fails at ready when it is off, unsent', async (t) => {
  const peer = new FakePeer()
  peer.offer = ['inbox']
  const client = await open(peer)
  const early = client.markRead('c', 1).catch((e: unknown) => e)
  const earlyInbox = client.inbox()
  await client.connect()
  t.match(await early, { code: 'FEATURE_NOT_ENABLED', feature: 'read-state' })
  t.equal((await earlyInbox).hasMore, false, 'the enabled one went and was answered')
  t.equal(peer.framesOf('markRead').length, 0)
  t.same(peer.violations, [])
  await client.close()
})

t.test('a server that stops offering a feature after a reconnect gets no feature frame [GEN-2]', async (t) => {
  const peer = new FakePeer()
  peer.offer = ALL
  // The first connection never answers MarkRead; the second does not offer read-state.
  peer.onRequest = (f, conn) => (f.body.case === 'markRead' && conn === peer.conns[0] ? null : undefined)
  const client = await open(peer)
  await client.connect()
  const p = client.markRead('c', 1).catch((e: unknown) => e)
  await peer.until(() => peer.framesOf('markRead', 0).length === 1, 'MarkRead on the first connection')
  peer.offer = ['inbox']
  peer.conns[0]?.destroy()
  t.match(await p, { code: 'FEATURE_NOT_ENABLED', feature: 'read-state' })
  t.equal(peer.framesOf('markRead', 1).length, 0, 'not resent on the connection without it')
  t.same(peer.violations, [])
  await client.close()
})

t.test('markRead sends the known epoch and resolves with the state; the badge follows [RD-3] [RD-5]', async (t) => {
  const peer = new FakePeer()
  peer.offer = ALL
  seed(peer, 'g', ['bob', 'bob', 'bob'])
  peer.readSeqs.set('g', 0)
  const client = await open(peer)
  const seen = events(client)
  await client.connect()
  // A listing gives the first read state (ConversationInfo.read_seq/unread_count). [RD-6]
  peer.onRequest = null
  const list = peer.readState('g')
  peer.last.send(
    frame({
      case: 'conversationList',
      value: {
        requestId: 99,
        conversations: [{ kind: ConversationKind.GROUP, ...list }],
      },
    }),
  )
  await peer.until(() => client.unreadCount('g') === 3, 'unread 3 from the listing')
  const r = await client.markRead('g', 2)
  t.equal(r.moved, true)
  t.match(r.state, { conversationId: 'g', epoch: 1, readSeq: 2, topSeq: 3, unreadCount: 1 })
  const mr = peer.framesOf('markRead')[0]
  t.same(mr?.body.case === 'markRead' && [mr.body.value.epoch, mr.body.value.upToSeq], [1n, 2n])
  t.ok(mr?.body.case === 'markRead' && mr.body.value.requestId !== 0, 'request_id is not 0 [HIS-6]')
  const again = await client.markRead('g', 1)
  t.equal(again.moved, false, 'at or below the position: nothing moves')
  t.equal(client.unreadCount('g'), 1)
  t.equal(client.totalUnread(), 1)
  t.same(
    seen.map(([s, src]) => [src, s.readSeq, s.unreadCount]),
    [
      ['conversation', 0, 3],
      ['markRead', 2, 1],
    ],
  )
  const err = await client.markRead('g', 99).catch((e: unknown) => e)
  t.match(err, { code: 'REJECTED', errorCode: ErrorCode.BAD_REQUEST }, 'above top_seq')
  await client.close()
})

t.test('with no epoch known, the answer tells it and the read is sent again in that epoch [RD-3]', async (t) => {
  const peer = new FakePeer()
  peer.offer = ALL
  seed(peer, 'g', ['bob', 'bob'])
  const client = await open(peer)
  await client.connect()
  const r = await client.markRead('g', 2)
  t.equal(r.moved, true)
  t.same(
    peer.framesOf('markRead').map((f) => (f.body.case === 'markRead' ? f.body.value.epoch : -1n)),
    [0n, 1n],
  )
  await client.close()
})

t.test('deliveries from others raise the unread count live; own messages and sends do not [RD-5]', async (t) => {
  const peer = new FakePeer()
  peer.offer = ALL
  seed(peer, 'g', ['bob'])
  const client = await open(peer)
  await client.connect()
  await client.markRead('g', 1)
  t.equal(client.unreadCount('g'), 0)
  const counted: number[] = []
  client.on('message', () => counted.push(client.unreadCount('g') ?? -1))
  peer.deliver(peer.last, 'g', 2)
  peer.deliver(peer.last, 'g', 3)
  await peer.until(() => counted.length === 2, 'two deliveries')
  t.same(counted, [1, 2], "the badge already counts each message in its 'message' event")
  // A message of the user's other device: not unread.
  peer.last.send(
    frame({ case: 'deliver', value: { message: peer.message('g', 4, 'alice', 'alice-phone'), epoch: 1n } }),
  )
  await peer.until(() => client.readState('g')?.topSeq === 4, 'top 4')
  t.equal(client.unreadCount('g'), 2)
  // Our own send: top moves, count does not. (The peer numbers it after its
  // stored history: pad that to the 4 messages delivered.)
  seed(peer, 'g', ['bob', 'bob', 'bob'])
  await client.send('g', 'mine')
  t.match(client.readState('g'), { topSeq: 5, unreadCount: 2 })
  await client.close()
})

t.test('ReadUpdated from another device moves the state, merged with deliveries it did not see [RD-4]', async (t) => {
  const peer = new FakePeer()
  peer.offer = ALL
  seed(peer, 'g', ['bob', 'bob'])
  const client = await open(peer)
  const seen = events(client)
  await client.connect()
  const first = await client.markRead('g', 1)
  t.equal(first.state.unreadCount, 1)
  peer.deliver(peer.last, 'g', 3)
  await peer.until(() => client.unreadCount('g') === 2, 'delivery counted')
  // The other device read up to 2 when top was 2: the notice does not cover 3.
  peer.last.send(
    frame({
      case: 'readUpdated',
      value: { state: { conversationId: 'g', epoch: 1n, topSeq: 2n, readSeq: 2n, unreadCount: 0n } },
    }),
  )
  await peer.until(() => client.readState('g')?.readSeq === 2, 'read position 2')
  t.match(client.readState('g'), { readSeq: 2, topSeq: 3, unreadCount: 1 })
  t.same(seen[seen.length - 1]?.[1], 'readUpdated')
  await client.close()
})

t.test('PeerRead gives the DIRECT "seen" position and a peerRead event [RD-4]', async (t) => {
  const peer = new FakePeer()
  peer.offer = ALL
  seed(peer, 'd', ['alice', 'alice'])
  const client = await open(peer)
  await client.connect()
  // A read of 0 moves nothing but brings the state.
  await client.markRead('d', 0)
  t.ok(client.readState('d'), 'state known')
  const got = new Promise((r) => client.once('peerRead', r))
  peer.last.send(frame({ case: 'peerRead', value: { conversationId: 'd', epoch: 1n, userId: 'bob', readSeq: 2n } }))
  t.same(await got, { conversationId: 'd', epoch: 1, userId: 'bob', readSeq: 2 })
  t.equal(client.readState('d')?.peerReadSeq, 2)
  await client.close()
})

t.test('readCount answers a GROUP receipt [RD-7]', async (t) => {
  const peer = new FakePeer()
  peer.offer = ALL
  peer.onRequest = (f) =>
    f.body.case === 'readCountRequest'
      ? frame({
          case: 'readCountResult',
          value: {
            requestId: f.body.value.requestId,
            conversationId: f.body.value.conversationId,
            epoch: 1n,
            seq: f.body.value.seq,
            readCount: 3,
            memberCount: 5,
          },
        })
      : undefined
  const client = await open(peer)
  await client.connect()
  t.same(await client.readCount('g', 7), { conversationId: 'g', epoch: 1, seq: 7, readCount: 3, memberCount: 5 })
  await client.close()
})

t.test('JOINED with read-state on: everything before the join is read [RD-2]', async (t) => {
  const peer = new FakePeer()
  peer.offer = ALL
  seed(peer, 'g', ['bob', 'bob', 'bob'])
  const client = await open(peer)
  await client.connect()
  peer.last.send(
    frame({
      case: 'conversationUpdated',
      value: { conversationId: 'g', reason: UpdateReason.JOINED, epoch: 1n, topSeq: 3n, cursor: 0n },
    }),
  )
  await peer.until(() => client.readState('g') !== undefined, 'state')
  peer.deliver(peer.last, 'g', 4)
  await peer.until(() => client.readState('g')?.topSeq === 4, 'top 4')
  t.match(client.readState('g'), { readSeq: 3, unreadCount: 1 }, 'the pulled history is not unread, the new one is')
  peer.last.send(
    frame({
      case: 'conversationUpdated',
      value: { conversationId: 'g', reason: UpdateReason.REMOVED, epoch: 1n, topSeq: 4n, cursor: 4n },
    }),
  )
  await peer.until(() => client.readState('g') === undefined, 'forgotten on REMOVED')
  t.equal(client.totalUnread(), 0)
  await client.close()
})

/** A peer whose inbox and sync answers come from `pages` (a request kind to answers in order). */
function scriptInbox(peer: FakePeer, answer: (f: Frame) => Frame | undefined): void {
  peer.onRequest = (f) => answer(f)
}

t.test('loadInbox pages by activity, syncs from the first point, stores the list and point [INB-4]', async (t) => {
  const peer = new FakePeer()
  peer.offer = ALL
  scriptInbox(peer, (f) => {
    const b = f.body
    if (b.case === 'inboxRequest') {
      const before = Number(b.value.beforeActivity)
      if (before === 0)
        return frame({
          case: 'inboxPage',
          value: {
            requestId: b.value.requestId,
            entries: [entry('e', 5), entry('d', 4)],
            hasMore: true,
            syncPoint: 5n,
          },
        })
      return frame({
        case: 'inboxPage',
        value: { requestId: b.value.requestId, entries: [entry('b', 2)], hasMore: false, syncPoint: 6n },
      })
    }
    if (b.case === 'syncRequest') {
      // 'a' got a message (change 6) while the client paged: only the sync lists it.
      return frame({
        case: 'syncPage',
        value: { requestId: b.value.requestId, entries: [entry('a', 6, { unreadCount: 1n })], syncPoint: 6n },
      })
    }
    return undefined
  })
  const client = await open(peer)
  await client.connect()
  const inboxEvents: number[] = []
  client.on('inbox', (d) => inboxEvents.push(d.entries.length))
  const list = await client.loadInbox({ limit: 2, previewBytes: 64 })
  t.same(
    list.map((e) => e.conversationId),
    ['a', 'e', 'd', 'b'],
  )
  const reqs = peer.framesOf('inboxRequest').map((f) => (f.body.case === 'inboxRequest' ? f.body.value : null))
  t.same(
    reqs.map((r) => [r?.beforeActivity, r?.limit, r?.previewBytes]),
    [
      [0n, 2, 64],
      [4n, 2, 64],
    ],
  )
  const sync = peer.framesOf('syncRequest')[0]
  t.equal(sync?.body.case === 'syncRequest' && sync.body.value.since, 5n, 'sync from the first page point')
  t.equal(client.syncPoint, 6)
  t.same(inboxEvents, [4])
  t.same(
    client.inboxEntries().map((e) => e.conversationId),
    ['a', 'e', 'd', 'b'],
  )
  t.equal(client.totalUnread(), 2 + 2 + 2 + 1, 'read states from the entries')
  // A live delivery shows in the list's read state before the next sync.
  peer.deliver(peer.last, 'a', 4)
  await peer.until(() => client.unreadCount('a') === 2, 'live count')
  t.equal(client.inboxEntries()[0]?.unreadCount, 2n)
  await client.close()
})

t.test('sync resumes from the stored point after a restart and applies removals [INB-5]', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'imwire-client-inbox-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'store.jsonl')
  const peer = new FakePeer()
  peer.offer = ALL
  const sinces: bigint[] = []
  scriptInbox(peer, (f) => {
    const b = f.body
    if (b.case !== 'syncRequest') return undefined
    sinces.push(b.value.since)
    if (b.value.since === 0n) {
      return frame({
        case: 'syncPage',
        value: { requestId: b.value.requestId, entries: [entry('a', 1), entry('b', 2)], syncPoint: 10n },
      })
    }
    return frame({
      case: 'syncPage',
      value: {
        requestId: b.value.requestId,
        entries: [entry('c', 11, { title: 'new', lastMessage: peer.message('c', 3, 'bob', 'bob-phone') })],
        removedConversationIds: ['a'],
        syncPoint: 12n,
      },
    })
  })
  const first = await open(peer, { store: new JsonFileClientStore(path) })
  await first.connect()
  const d = await first.sync()
  t.equal(d.full, true, 'never synced: a full sync from 0 [INB-6]')
  t.equal(first.syncPoint, 10)
  await first.close()
  const second = await open(peer, { store: new JsonFileClientStore(path) })
  t.equal(second.syncPoint, 10, 'the point survived the restart')
  t.same(
    second.inboxEntries().map((e) => e.conversationId),
    ['b', 'a'],
    'and so did the list',
  )
  t.equal(second.unreadCount('b'), 2, 'and the read states')
  await second.connect()
  const d2 = await second.sync()
  t.same(sinces, [0n, 10n])
  t.same(d2.removed, ['a'])
  t.same(
    second.inboxEntries().map((e) => e.conversationId),
    ['c', 'b'],
  )
  t.equal(second.inboxEntries()[0]?.lastMessage?.seq, 3n, 'entries keep their last message through the store')
  t.equal(second.readState('a'), undefined, 'a removed conversation has no read state left')
  await second.close()
  const third = await open(peer, { store: new JsonFileClientStore(path) })
  t.equal(third.syncPoint, 12)
  t.equal(third.inboxEntries()[0]?.title, 'new')
  await third.close()
})

t.test('a sync point the server does not know (BAD_REQUEST) falls back to a full sync [INB-5]', async (t) => {
  const peer = new FakePeer()
  peer.offer = ALL
  const sinces: bigint[] = []
  let restored = false
  scriptInbox(peer, (f) => {
    const b = f.body
    if (b.case !== 'syncRequest') return undefined
    sinces.push(b.value.since)
    if (!restored) {
      return frame({
        case: 'syncPage',
        value: { requestId: b.value.requestId, entries: [entry('old', 40), entry('kept', 50)], syncPoint: 50n },
      })
    }
    if (b.value.since > 20n) {
      return frame({ case: 'error', value: { code: ErrorCode.BAD_REQUEST, requestId: b.value.requestId } })
    }
    return frame({
      case: 'syncPage',
      value: { requestId: b.value.requestId, entries: [entry('kept', 18), entry('fresh', 20)], syncPoint: 20n },
    })
  })
  const client = await open(peer)
  await client.connect()
  await client.sync()
  restored = true
  const d = await client.sync()
  t.same(sinces, [0n, 50n, 0n])
  t.equal(d.full, true)
  t.equal(client.syncPoint, 20)
  t.same(
    client.inboxEntries().map((e) => e.conversationId),
    ['fresh', 'kept'],
    'the list is replaced: what the restored server does not list is gone',
  )
  t.equal(client.readState('old'), undefined)
  // Any other refusal is the caller's.
  scriptInbox(peer, (f) =>
    f.body.case === 'syncRequest'
      ? frame({ case: 'error', value: { code: ErrorCode.INTERNAL, requestId: f.body.value.requestId } })
      : undefined,
  )
  t.match(await client.sync().catch((e: unknown) => e), { code: 'REJECTED', errorCode: ErrorCode.INTERNAL })
  await client.close()
})

t.test('syncs on every ready connection when inbox is on, unless told not to', async (t) => {
  const peer = new FakePeer()
  peer.offer = ALL
  const client = await open(peer, { syncOnReady: true })
  await client.connect()
  await peer.until(() => peer.framesOf('syncRequest').length === 1, 'a sync on ready')
  peer.conns[0]?.destroy()
  await peer.until(() => peer.framesOf('syncRequest', 1).length === 1, 'and after the reconnect')
  await client.close()
  const quiet = new FakePeer()
  quiet.offer = ALL
  const other = await open(quiet)
  await other.connect()
  await new Promise((r) => setTimeout(r, 30))
  t.equal(quiet.framesOf('syncRequest').length, 0)
  await other.close()
})

t.test('history by time sends anchor_time_ms when history-time is on [HIS-10]', async (t) => {
  const peer = new FakePeer()
  peer.offer = ALL
  seed(peer, 'g', ['bob', 'bob'])
  const client = await open(peer)
  await client.connect()
  await client.history({ conversationId: 'g', direction: 'backward', anchorTimeMs: 1234, limit: 5 })
  const h = peer.framesOf('historyRequest')[0]
  t.same(h?.body.case === 'historyRequest' && [h.body.value.anchorTimeMs, h.body.value.direction, h.body.value.limit], [
    1234n,
    2,
    5,
  ])
  await client.close()
})
