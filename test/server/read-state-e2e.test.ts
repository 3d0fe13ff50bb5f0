// Features read-state, inbox and history-time end to end: a real server over
// TCP, two devices of one user and a DIRECT peer; the read position survives
// a restart of a SQLite store on disk. [RD-2] [RD-4] [INB-3] [INB-5] [HIS-10]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { CloseCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { ConversationKind, HistoryDirection } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import type { Frame } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { type RunningServer, type ServerOptions, startServer } from '../../src/server/server.js'
import { createMemoryStore, openSqliteStore } from '../../src/server/store/sqlite-store.js'
import type { Store } from '../../src/server/store/store.js'
import { Peer, type Value } from './peer.js'

const SECRET = 'read-e2e-secret'
const FEATURES = ['read-state', 'inbox', 'history-time']
const dirs: string[] = []
t.teardown(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'imwire-read-e2e-'))
  dirs.push(d)
  return d
}

async function serve(t: Test, over: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const server = await startServer({
    store: createMemoryStore(),
    tokenSecret: SECRET,
    tcp: { host: '127.0.0.1', port: 0 },
    ws: null,
    ...over,
  })
  t.teardown(() => server.shutdown())
  return server
}

async function peer(t: Test, server: RunningServer, user: string, device: string, features = FEATURES) {
  const p = await Peer.open('tcp', server)
  t.teardown(() => p.destroy())
  await p.login(SECRET, user, device, { features })
  return p
}

let cmidN = 0
const cmid = () => {
  const b = new Uint8Array(16)
  new DataView(b.buffer).setUint32(0, ++cmidN)
  b[15] = 0x7e
  return b
}

async function send(p: Peer, conversationId: string, text: string): Promise<bigint> {
  p.send({
    case: 'send',
    value: { clientMsgId: cmid(), conversationId, contentType: 'text/plain', body: new TextEncoder().encode(text) },
  })
  for (;;) {
    const f = await p.next()
    if (f.body.case === 'sendAck') return f.body.value.seq
    if (f.body.case !== 'deliver') throw new Error(`unexpected ${f.body.case}`)
  }
}

/** The next frame of this kind, skipping live Delivers (and JOINED notices). */
async function expectSkipping<C extends NonNullable<Frame['body']['case']>>(p: Peer, kind: C): Promise<Value<C>> {
  for (;;) {
    const f = await p.next()
    if (f.body.case === kind) return f.body.value as Value<C>
    if (f.body.case !== 'deliver' && f.body.case !== 'conversationUpdated') throw new Error(`unexpected ${f.body.case}`)
  }
}

t.test(
  'the server offers the three features with memory and SQLite stores, and Welcome lists them [HS-5]',
  async (t) => {
    const server = await serve(t)
    const p = await Peer.open('tcp', server)
    t.teardown(() => p.destroy())
    const w = await p.hello(SECRET, 'alice', 'a1', { features: ['lz4', ...FEATURES, 'nope'] })
    t.same([...w.features].sort(), ['history-time', 'inbox', 'lz4', 'read-state'])
  },
)

t.test('a store without the features makes the server not offer them; lz4 stays [HS-5]', async (t) => {
  const inner = createMemoryStore()
  const store: Store = {
    kind: 'postgres',
    run: (op) => inner.run(op),
    idle: () => inner.idle(),
    close: () => inner.close(),
  }
  const server = await serve(t, { store })
  const p = await Peer.open('tcp', server)
  t.teardown(() => p.destroy())
  const w = await p.hello(SECRET, 'alice', 'a1', { features: ['lz4', ...FEATURES] })
  t.same(w.features, ['lz4'])
})

t.test(
  'a MarkRead on one device reaches the other device as ReadUpdated and the DIRECT peer as PeerRead [RD-4]',
  async (t) => {
    const server = await serve(t)
    const a1 = await peer(t, server, 'alice', 'a1')
    const a2 = await peer(t, server, 'alice', 'a2')
    const bob = await peer(t, server, 'bob', 'b1')
    const plain = await peer(t, server, 'bob', 'b2', []) // did not enable read-state
    bob.send({
      case: 'createConversation',
      value: { requestId: 1, conversationId: 'd1', kind: ConversationKind.DIRECT, memberUserIds: ['alice'] },
    })
    await bob.expect('conversationResult')
    for (const p of [a1, a2, plain]) await p.expect('conversationUpdated')
    for (const text of ['one', 'two', 'three']) await send(bob, 'd1', text)
    await send(a1, 'd1', 'mine') // alice's own message: never unread for her [RD-5]
    a1.send({ case: 'markRead', value: { requestId: 2, conversationId: 'd1', epoch: 1n, upToSeq: 2n } })
    const r = await expectSkipping(a1, 'markReadResult')
    t.same([r.requestId, r.moved, r.state?.readSeq, r.state?.topSeq, r.state?.unreadCount], [2, true, 2n, 4n, 1n])
    const u = await expectSkipping(a2, 'readUpdated')
    t.same([u.state?.conversationId, u.state?.readSeq, u.state?.unreadCount], ['d1', 2n, 1n])
    const pr = await expectSkipping(bob, 'peerRead')
    t.same([pr.conversationId, pr.userId, pr.readSeq, pr.epoch], ['d1', 'alice', 2n, 1n])
    // A MarkRead that moves nothing sends no notice [RD-4]; the next move arrives in order.
    a1.send({ case: 'markRead', value: { requestId: 3, conversationId: 'd1', epoch: 1n, upToSeq: 1n } })
    t.equal((await a1.expect('markReadResult')).moved, false)
    a1.send({ case: 'markRead', value: { requestId: 4, conversationId: 'd1', epoch: 1n, upToSeq: 4n } })
    t.same((await a1.expect('markReadResult')).state?.unreadCount, 0n)
    t.equal((await expectSkipping(a2, 'readUpdated')).state?.readSeq, 4n)
    t.equal((await expectSkipping(bob, 'peerRead')).readSeq, 4n)
    // The connection without the feature got neither frame [RD-1]: its next frame is the Pong.
    plain.send({ case: 'ping', value: { nonce: 9n } })
    for (;;) {
      const f = await plain.next()
      if (f.body.case === 'pong') break
      t.equal(f.body.case, 'deliver', 'only Delivers before the Pong')
    }
    // ConversationInfo carries read_seq and unread_count only with read-state. [RD-6] [RD-1]
    a2.send({ case: 'listConversations', value: { requestId: 5 } })
    const l = (await expectSkipping(a2, 'conversationList')).conversations[0]
    t.same([l?.readSeq, l?.unreadCount], [4n, 0n])
    plain.send({ case: 'listConversations', value: { requestId: 6 } })
    const lp = (await plain.expect('conversationList')).conversations[0]
    t.same([lp?.readSeq, lp?.unreadCount], [0n, 0n])
  },
)

t.test('inbox, sync and time-anchored history answer over the wire [INB-3] [INB-5] [HIS-10]', async (t) => {
  let clock = 1_000
  const server = await serve(t, { now: () => clock })
  const alice = await peer(t, server, 'alice', 'a1')
  for (const id of ['g1', 'g2']) {
    alice.send({
      case: 'createConversation',
      value: { requestId: 1, conversationId: id, kind: ConversationKind.GROUP, memberUserIds: ['bob'] },
    })
    await alice.expect('conversationResult')
  }
  clock = 2_000
  await send(alice, 'g1', 'a')
  clock = 3_000
  await send(alice, 'g1', 'b')
  alice.send({ case: 'inboxRequest', value: { requestId: 7, previewBytes: 0 } })
  const page = await alice.expect('inboxPage')
  t.same(
    page.entries.map((e) => [e.conversationId, e.topSeq, e.lastMessage?.seq, e.memberUserIds]),
    [
      ['g1', 2n, 2n, ['alice', 'bob']],
      ['g2', 0n, undefined, ['alice', 'bob']],
    ],
  )
  t.equal(page.hasMore, false)
  await send(alice, 'g2', 'c')
  alice.send({ case: 'syncRequest', value: { requestId: 8, since: page.syncPoint } })
  const s = await alice.expect('syncPage')
  t.same([s.entries.map((e) => e.conversationId), s.hasMore], [['g2'], false])
  t.ok(s.syncPoint > page.syncPoint)
  alice.send({
    case: 'historyRequest',
    value: { requestId: 9, conversationId: 'g1', direction: HistoryDirection.FORWARD, anchorTimeMs: 3_000n },
  })
  t.same(
    (await alice.expect('historyPage')).messages.map((m) => m.seq),
    [2n],
  )
  alice.send({ case: 'readCountRequest', value: { requestId: 10, conversationId: 'g1', seq: 1n } })
  const rc = await alice.expect('readCountResult')
  t.same([rc.readCount, rc.memberCount], [0, 1])
})

t.test('a feature body on a connection without the feature closes 3511 [RD-1]', async (t) => {
  const server = await serve(t)
  const p = await peer(t, server, 'alice', 'a1', ['read-state'])
  p.send({ case: 'inboxRequest', value: { requestId: 1 } })
  t.equal(await p.expectClose(), CloseCode.UNSUPPORTED_FRAME)
})

t.test('the read position survives a restart of a SQLite store [RD-2]', async (t) => {
  const dataDir = tempDir()
  const first = await startServer({
    store: await openSqliteStore({ dataDir }),
    tokenSecret: SECRET,
    tcp: { host: '127.0.0.1', port: 0 },
    ws: null,
  })
  const bob = await Peer.open('tcp', first)
  await bob.login(SECRET, 'bob', 'b1', { features: FEATURES })
  bob.send({
    case: 'createConversation',
    value: { requestId: 1, conversationId: 'd1', kind: ConversationKind.DIRECT, memberUserIds: ['alice'] },
  })
  await bob.expect('conversationResult')
  for (const text of ['one', 'two', 'three']) await send(bob, 'd1', text)
  const alice = await Peer.open('tcp', first)
  await alice.login(SECRET, 'alice', 'a1', { features: FEATURES })
  alice.send({ case: 'markRead', value: { requestId: 2, conversationId: 'd1', epoch: 1n, upToSeq: 2n } })
  t.equal((await alice.expect('markReadResult')).moved, true)
  bob.destroy()
  alice.destroy()
  await first.shutdown()

  const second = await serve(t, { store: await openSqliteStore({ dataDir }) })
  const again = await peer(t, second, 'alice', 'a2')
  again.send({ case: 'inboxRequest', value: { requestId: 3 } })
  const e = (await again.expect('inboxPage')).entries[0]
  t.same([e?.readSeq, e?.unreadCount, e?.topSeq], [2n, 1n, 3n])
})
