// End to end over real sockets (TCP and WebSocket), server in-process.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ConversationKind } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { CloseCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { type RunningServer, type ServerOptions, startServer } from '../../src/server/server.js'
import { createMemoryStore, openSqliteStore } from '../../src/server/store/sqlite-store.js'
import { type Kind, Peer } from './peer.js'

const SECRET = 'e2e-secret'
const dirs: string[] = []
t.teardown(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'imwire-e2e-'))
  dirs.push(d)
  return d
}

async function serve(t: Test, over: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const server = await startServer({
    store: createMemoryStore(),
    tokenSecret: SECRET,
    tcp: { host: '127.0.0.1', port: 0 },
    ws: { host: '127.0.0.1', port: 0, path: '/imwire' },
    ...over,
  })
  t.teardown(() => server.shutdown())
  return server
}

let cmidN = 0
const cmid = () => {
  const b = new Uint8Array(16)
  new DataView(b.buffer).setUint32(0, ++cmidN)
  b[15] = 0x5a
  return b
}

for (const kind of ['tcp', 'ws'] as Kind[]) {
  t.test(`${kind}: handshake, then send, ack and deliver across two users`, async (t) => {
    const server = await serve(t)
    const alice = await Peer.open(kind, server)
    const bob = await Peer.open(kind, server)
    t.teardown(() => {
      alice.destroy()
      bob.destroy()
    })
    const welcome = await alice.hello(SECRET, 'alice', 'a1')
    t.equal(welcome.userId, 'alice')
    await alice.expect('replayComplete')
    await bob.login(SECRET, 'bob', 'b1')
    alice.send({
      case: 'createConversation',
      value: { requestId: 1, conversationId: 'd1', kind: ConversationKind.DIRECT, memberUserIds: ['bob'] },
    })
    t.equal((await alice.expect('conversationResult')).requestId, 1)
    t.equal((await bob.expect('conversationUpdated')).conversationId, 'd1')
    const id = cmid()
    alice.send({
      case: 'send',
      value: { clientMsgId: id, conversationId: 'd1', contentType: 'text/plain', body: new TextEncoder().encode('hi') },
    })
    const ack = await alice.expect('sendAck')
    t.same([ack.seq, ack.duplicate, ack.clientMsgId], [1n, false, id])
    const d = await bob.expect('deliver')
    t.same(
      [d.message?.seq, d.message?.senderUserId, new TextDecoder().decode(d.message?.body), d.replayed],
      [1n, 'alice', 'hi', false],
    )
    bob.send({ case: 'deliverAck', value: { conversationId: 'd1', upToSeq: 1n } })
    bob.send({ case: 'ping', value: { nonce: 77n } })
    t.equal((await bob.expect('pong')).nonce, 77n)
  })

  t.test(`${kind}: codec errors close with their codes`, async (t) => {
    const server = await serve(t, { limits: { maxFrameBytes: 65536, maxMessageBytes: 64512 } })
    // Too large: announced by the TCP prefix, or one WS message over the limit. [FRM-3]
    const big = await Peer.open(kind, server)
    await big.login(SECRET, 'alice', 'a1')
    big.send({ case: 'ping', value: { nonce: 1n } })
    await big.expect('pong')
    if (kind === 'tcp')
      big.conn.sendRaw(Uint8Array.of(0x81, 0x80, 0x04)) // prefix 65537
    else big.conn.sendRaw(new Uint8Array(65537))
    t.equal(await big.expectClose(), CloseCode.FRAME_TOO_LARGE)
    // Not a frame. [FRM-5]
    const bad = await Peer.open(kind, server)
    bad.conn.sendRaw(kind === 'tcp' ? Uint8Array.of(2, 0x0f, 0x00) : Uint8Array.of(0x0f, 0x00))
    t.equal(await bad.expectClose(), CloseCode.MALFORMED_FRAME)
    // Unknown body field. [FRM-7]
    const unknown = await Peer.open(kind, server)
    const bytes = Uint8Array.of(0x9a, 0x02, 0x00) // field 35 (the first no feature defines), length 0
    unknown.conn.sendRaw(kind === 'tcp' ? Uint8Array.of(bytes.length, ...bytes) : bytes)
    t.equal(await unknown.expectClose(), CloseCode.UNSUPPORTED_FRAME)
    if (kind === 'ws') {
      const text = await Peer.open(kind, server)
      text.conn.sendRaw('hello')
      t.equal(await text.expectClose(), CloseCode.MALFORMED_FRAME, 'text message [FRM-2]')
      t.equal((await text.closed).wsCode, CloseCode.MALFORMED_FRAME, 'WS close code = Close code [ERR-2]')
    }
  })

  t.test(`${kind}: a client's Close ends the connection without a Close in reply [ERR-3] [ERR-16]`, async (t) => {
    const server = await serve(t)
    const alice = await Peer.open(kind, server)
    t.teardown(() => alice.destroy())
    await alice.login(SECRET, 'alice', 'a1')
    // The Close frame alone, no WebSocket close of our own: the server's WS
    // close frame must echo the Close's code (RFC 6455 5.5.1). [ERR-16]
    alice.send({ case: 'close', value: { code: CloseCode.NORMAL, reason: 'bye' } })
    const info = await alice.closed
    if (kind === 'ws') t.equal(info.wsCode, CloseCode.NORMAL, 'the WS close code echoes Close.code')
    t.equal(info.local, false, 'the server ended the connection')
  })

  t.test(`${kind}: a silent connection is closed 3002 after 1.5 heartbeats; takeover closes 3509`, async (t) => {
    const server = await serve(t)
    const idle = await Peer.open(kind, server)
    await idle.login(SECRET, 'alice', 'a1', { heartbeatMs: 1000 })
    const old = await Peer.open(kind, server)
    await old.login(SECRET, 'bob', 'b1')
    const fresh = await Peer.open(kind, server)
    t.teardown(() => fresh.destroy())
    await fresh.login(SECRET, 'bob', 'b1')
    t.equal(await old.expectClose(), CloseCode.SESSION_TAKEN_OVER)
    t.equal(await idle.expectClose(), CloseCode.HEARTBEAT_TIMEOUT)
  })

  t.test(`${kind}: replay after reconnect is batched with LZ4 when negotiated`, async (t) => {
    const server = await serve(t)
    const alice = await Peer.open(kind, server)
    await alice.login(SECRET, 'alice', 'a1')
    alice.send({
      case: 'createConversation',
      value: { requestId: 1, conversationId: 'g', kind: ConversationKind.GROUP, memberUserIds: ['bob'] },
    })
    await alice.expect('conversationResult')
    for (let i = 0; i < 50; i++) {
      alice.send({
        case: 'send',
        value: {
          clientMsgId: cmid(),
          conversationId: 'g',
          contentType: 'text/plain',
          body: new TextEncoder().encode(`message number ${i} `.repeat(4)),
        },
      })
    }
    for (let i = 0; i < 50; i++) await alice.expect('sendAck')
    const bob = await Peer.open(kind, server)
    t.teardown(() => {
      alice.destroy()
      bob.destroy()
    })
    const replay = await bob.login(SECRET, 'bob', 'b1', { features: ['lz4'] })
    const seqs = replay
      .filter((f) => f.body.case === 'deliver')
      .map((f) => (f.body.case === 'deliver' ? Number(f.body.value.message?.seq) : 0))
    t.same(
      seqs,
      Array.from({ length: 50 }, (_, i) => i + 1),
    )
    t.ok(bob.batches >= 1, `arrived in ${bob.batches} batch(es)`)
  })
}

t.test(
  'dedupe holds across a reconnect and a restart on the same SQLite data dir [DUP-2] [DUP-5] [ACK-2]',
  async (t) => {
    const dataDir = tempDir()
    const opts = { store: await openSqliteStore({ dataDir }) }
    let server = await startServer({ ...opts, tokenSecret: SECRET, tcp: { host: '127.0.0.1', port: 0 } })
    let a = await Peer.open('tcp', server)
    await a.login(SECRET, 'alice', 'a1')
    a.send({ case: 'createConversation', value: { requestId: 1, conversationId: 'g', kind: ConversationKind.GROUP } })
    await a.expect('conversationResult')
    const id = cmid()
    const sendIt = (p: Peer, sendSeq: bigint, clientMsgId = id) =>
      p.send({ case: 'send', value: { clientMsgId, conversationId: 'g', sendSeq, body: Uint8Array.of(1, 2, 3) } })
    sendIt(a, 1n)
    const first = await a.expect('sendAck')
    a.destroy()
    a = await Peer.open('tcp', server)
    await a.login(SECRET, 'alice', 'a1')
    sendIt(a, 1n)
    const again = await a.expect('sendAck')
    t.same([again.duplicate, again.seq, again.messageId], [true, first.seq, first.messageId], 'after reconnect')
    // Restart: graceful shutdown (Close 3001), new process state, same data dir.
    const shut = server.shutdown()
    t.equal(await a.expectClose(), CloseCode.GOING_AWAY)
    await shut
    server = await startServer({
      store: await openSqliteStore({ dataDir }),
      tokenSecret: SECRET,
      tcp: { host: '127.0.0.1', port: 0 },
    })
    t.teardown(() => server.shutdown())
    a = await Peer.open('tcp', server)
    t.teardown(() => a.destroy())
    await a.login(SECRET, 'alice', 'a1')
    sendIt(a, 1n)
    const afterRestart = await a.expect('sendAck')
    t.same([afterRestart.duplicate, afterRestart.seq, afterRestart.serverTimeMs], [true, first.seq, first.serverTimeMs])
    sendIt(a, 2n, cmid())
    const next = await a.expect('sendAck')
    t.same([next.duplicate, next.seq], [false, 2n], 'seqs continue, send_seq state survived [RSM-5]')
  },
)

t.test('graceful shutdown acks every committed message before Close 3001 [ERR-6]', async (t) => {
  const dataDir = tempDir()
  const server = await startServer({
    store: await openSqliteStore({ dataDir }),
    tokenSecret: SECRET,
    ws: { host: '127.0.0.1', port: 0, path: '/imwire' },
  })
  const a = await Peer.open('ws', server)
  await a.login(SECRET, 'alice', 'a1')
  a.send({ case: 'createConversation', value: { requestId: 1, conversationId: 'g', kind: ConversationKind.GROUP } })
  await a.expect('conversationResult')
  for (let i = 0; i < 200; i++)
    a.send({ case: 'send', value: { clientMsgId: cmid(), conversationId: 'g', body: Uint8Array.of(i) } })
  // Shut down while sends are being committed: right after the first ack.
  await a.expect('sendAck')
  let acks = 1
  const shut = server.shutdown()
  for (;;) {
    const f = await a.next()
    if (f.body.case === 'sendAck') acks++
    else {
      t.equal(f.body.case === 'close' && f.body.value.code, CloseCode.GOING_AWAY)
      t.ok(f.body.case === 'close' && f.body.value.retryAfterMs >= 1000, 'retry_after_ms spreads reconnects [ERR-14]')
      break
    }
  }
  t.equal((await a.closed).wsCode, CloseCode.GOING_AWAY)
  await shut
  // Every committed message got its ack before the Close (and nothing acked is missing).
  const store = await openSqliteStore({ dataDir, worker: false })
  t.teardown(() => store.close())
  const page = await store.run({
    op: 'history',
    userId: 'alice',
    deviceId: 'a1',
    conversationId: 'g',
    backward: false,
    anchorSeq: 0,
    limit: 1000,
  })
  t.equal(page.ok && page.messages.length, acks, `${acks} committed, ${acks} acked`)
})

for (const kind of ['tcp', 'ws'] as Kind[]) {
  t.test(`${kind}: shutdown stops accepting, closes every connection 3001 and closes the store [ERR-6]`, async (t) => {
    const dataDir = tempDir()
    const store = await openSqliteStore({ dataDir })
    let storeClosed = false
    const close = store.close.bind(store)
    store.close = async () => {
      await close()
      storeClosed = true
    }
    const server = await startServer({
      store,
      tokenSecret: SECRET,
      tcp: { host: '127.0.0.1', port: 0 },
      ws: { host: '127.0.0.1', port: 0, path: '/imwire' },
    })
    const peers: Peer[] = []
    for (let i = 0; i < 3; i++) {
      const p = await Peer.open(kind, server)
      await p.login(SECRET, `u${i}`, 'd1')
      peers.push(p)
    }
    const shut = server.shutdown({ retryAfterMs: 1500 })
    // Stop accepting: a new connection is refused, or closed 3001 before any Welcome.
    const late = await Peer.open(kind, server).then(
      async (p) => {
        const f = await p.next()
        return f.body.case === 'close' ? f.body.value.code : -1
      },
      () => 'refused',
    )
    t.ok(late === 'refused' || late === CloseCode.GOING_AWAY, `late connection: ${late}`)
    for (const p of peers) {
      const f = await p.next()
      t.same(
        f.body.case === 'close' && [f.body.value.code, f.body.value.retryAfterMs],
        [CloseCode.GOING_AWAY, 1500],
        'Close 3001 with retry_after_ms [ERR-14]',
      )
    }
    await shut
    t.ok(storeClosed, 'the store is closed once shutdown resolves')
    await t.rejects(store.run({ op: 'list', userId: 'u0', deviceId: 'd1', afterConversationId: '', limit: 1 }))
  })
}
