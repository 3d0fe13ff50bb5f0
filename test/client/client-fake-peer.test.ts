// ImwireClient against a scripted peer over the in-memory transport: the
// client rules that need a misbehaving or disappearing server to show.
import t from 'tap'
import { ImwireClient } from '../../src/client/client.js'
import type { Delivered, ImwireClientOptions } from '../../src/client/client-types.js'
import { CloseCode, ErrorCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { UpdateReason } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { FakePeer, frame } from './fake-peer.js'

async function open(peer: FakePeer, opts: Partial<ImwireClientOptions> = {}): Promise<ImwireClient> {
  const client = await ImwireClient.open({
    connect: peer.connect,
    token: 'tok',
    deviceId: 'alice-laptop',
    // No waiting between attempts: backoff draws 0 from the jitter.
    backoff: { random: () => 0 },
    ackDelayMs: 0,
    ...opts,
  })
  return client
}

const sendIds = (peer: FakePeer, conn?: number) =>
  peer
    .framesOf('send', conn)
    .map((f) => (f.body.case === 'send' ? Buffer.from(f.body.value.clientMsgId).toString('hex') : ''))

t.test('handshakes with Hello first and becomes ready after ReplayComplete [HS-1] [HS-11]', async (t) => {
  const peer = new FakePeer()
  const client = await open(peer, { heartbeatMs: 5000, features: ['lz4'] })
  const welcome = await client.connect()
  t.equal(welcome.userId, 'alice')
  t.equal(client.state, 'ready')
  const first = peer.received[0]?.frame
  t.equal(first?.body.case, 'hello')
  const hello = peer.hellos[0]
  t.same(hello?.versions, [1])
  t.equal(hello?.token, 'tok')
  t.equal(hello?.deviceId, 'alice-laptop')
  t.equal(hello?.heartbeatMs, 5000)
  t.same(hello?.features, ['lz4'])
  await client.close()
  t.equal(client.state, 'closed')
})

t.test('a send resolves with its SendAck and leaves the outbox', async (t) => {
  const peer = new FakePeer()
  const client = await open(peer)
  await client.connect()
  const r = await client.send('c1', 'hello')
  t.equal(r.seq, 1)
  t.equal(r.sendSeq, 1)
  t.equal(r.duplicate, false)
  t.equal(client.outboxSize, 0)
  const s = peer.framesOf('send')[0]
  t.equal(s?.body.case === 'send' && s.body.value.clientMsgId.length, 16, 'client_msg_id is 16 bytes [SND-1]')
  await client.close()
})

t.test('sends made before the connection is ready wait in the outbox and go after ReplayComplete', async (t) => {
  const peer = new FakePeer()
  const client = await open(peer)
  const p1 = client.send('c1', 'one')
  const p2 = client.send('c1', 'two')
  await client.connect()
  const [r1, r2] = await Promise.all([p1, p2])
  t.same([r1.seq, r2.seq], [1, 2])
  const order = peer.received.map((r) => r.frame.body.case)
  t.ok(order.indexOf('send') > order.indexOf('hello'))
  await client.close()
})

t.test(
  'after a dropped connection the outbox is resent in order with the same ids and send_seqs [RTY-2]',
  async (t) => {
    const peer = new FakePeer()
    // The first connection swallows sends (a link that died silently), later ones answer.
    peer.onSend = (_s, conn) => (conn === peer.conns[0] ? null : undefined)
    const client = await open(peer)
    await client.connect()
    const sends = [client.send('c1', 'a'), client.send('c1', 'b'), client.send('c2', 'c')]
    await peer.until(() => peer.framesOf('send', 0).length === 3, 'three sends on the first connection')
    const first = peer.framesOf('send', 0)
    peer.conns[0]?.destroy()
    const results = await Promise.all(sends)
    t.same(sendIds(peer, 1), sendIds(peer, 0), 'same ids, same order')
    t.same(
      peer.framesOf('send', 1).map((f) => (f.body.case === 'send' ? Number(f.body.value.sendSeq) : -1)),
      first.map((f) => (f.body.case === 'send' ? Number(f.body.value.sendSeq) : -1)),
      'same send_seqs',
    )
    t.same(
      results.map((r) => r.seq),
      [1, 2, 1],
    )
    await client.close()
  },
)

t.test('a retry of a message the server already committed resolves with the original seq [DUP-2]', async (t) => {
  const peer = new FakePeer()
  // The first connection commits but the ack is lost with the link.
  peer.onSend = (s, conn) => {
    if (conn !== peer.conns[0]) return undefined
    peer.commit(s)
    return null
  }
  const client = await open(peer)
  await client.connect()
  const p = client.send('c1', 'x')
  await peer.until(() => peer.framesOf('send', 0).length === 1, 'the send')
  peer.conns[0]?.destroy()
  const r = await p
  t.equal(r.seq, 1)
  t.equal(r.duplicate, true)
  t.equal(peer.messages.get('c1')?.length, 1, 'stored once')
  await client.close()
})

t.test(
  'a lost first send, its followers refused out of order, all commit in order after reconnect [ORD-3] [RTY-2]',
  async (t) => {
    const peer = new FakePeer()
    let dropped = false
    // The first send vanishes on the wire once; the server sees 2 and 3 and refuses them (gap).
    peer.onSend = (s) => {
      if (!dropped && Number(s.sendSeq) === 1) {
        dropped = true
        return null
      }
      return undefined
    }
    const client = await open(peer)
    await client.connect()
    const all = Promise.all([client.send('c1', 'one'), client.send('c1', 'two'), client.send('c1', 'three')])
    await peer.until(() => peer.framesOf('send', 0).length === 3, 'three sends')
    // The missing answer is what the client's probe would catch; cut the link as it would.
    peer.conns[0]?.destroy()
    const rs = await all
    t.same(
      rs.map((r) => r.seq),
      [1, 2, 3],
      'committed in send order',
    )
    const bodies = (peer.messages.get('c1') ?? []).map((m) => new TextDecoder().decode(m.send.body))
    t.same(bodies, ['one', 'two', 'three'])
    await client.close()
  },
)

t.test('an out-of-order answer on a live connection leads to an in-order resend [ORD-7]', async (t) => {
  const peer = new FakePeer()
  let failNext = true
  // The server fails the first send with a retryable error: the next two come back out of order.
  peer.onSend = (s) => {
    if (failNext && Number(s.sendSeq) === 1) {
      failNext = false
      return frame({ case: 'error', value: { code: ErrorCode.INTERNAL, retryable: true, clientMsgId: s.clientMsgId } })
    }
    return undefined
  }
  const client = await open(peer)
  await client.connect()
  const rs = await Promise.all([client.send('c1', '1'), client.send('c1', '2'), client.send('c1', '3')])
  t.same(
    rs.map((r) => r.seq),
    [1, 2, 3],
  )
  const codes = peer.received
    .filter((r) => r.frame.body.case === 'send')
    .map((r) => (r.frame.body.case === 'send' ? Number(r.frame.body.value.sendSeq) : 0))
  t.same(codes, [1, 2, 3, 1, 2, 3], 'resent once, from 1, in order')
  await client.close()
})

t.test('a refused send rejects with the protocol code and leaves the outbox [RTY-5]', async (t) => {
  const peer = new FakePeer()
  peer.onSend = (s) =>
    s.conversationId === 'nope'
      ? frame({ case: 'error', value: { code: ErrorCode.CONVERSATION_NOT_FOUND, clientMsgId: s.clientMsgId } })
      : undefined
  const client = await open(peer)
  await client.connect()
  const rejected: string[] = []
  client.on('rejected', (e) => rejected.push(e.conversationId))
  const err = await client.send('nope', 'x').catch((e: unknown) => e)
  t.match(err, { code: 'REJECTED', errorCode: ErrorCode.CONVERSATION_NOT_FOUND })
  t.same(rejected, ['nope'])
  t.equal(client.outboxSize, 0)
  await client.whenOutboxEmpty()
  await client.close()
})

t.test('a message over max_message_bytes is refused before it enters the outbox [SND-3]', async (t) => {
  const peer = new FakePeer()
  const client = await open(peer)
  await client.connect()
  const err = await client.send('c1', new Uint8Array(65537)).catch((e: unknown) => e)
  t.match(err, { code: 'MESSAGE_TOO_LARGE' })
  t.equal(client.outboxSize, 0)
  t.equal(peer.framesOf('send').length, 0)
  await client.close()
})

t.test('a terminal close stops the client: no reconnect, pending sends rejected [RTY-4]', async (t) => {
  const peer = new FakePeer()
  peer.onSend = () => null
  const client = await open(peer)
  await client.connect()
  const p = client.send('c1', 'x')
  await peer.until(() => peer.framesOf('send').length === 1, 'the send')
  const terminated = new Promise((r) => client.once('terminated', r))
  peer.closeLast(CloseCode.UNAUTHORIZED)
  t.match(await p.catch((e: unknown) => e), { code: 'TERMINATED', closeCode: CloseCode.UNAUTHORIZED })
  await terminated
  t.equal(client.state, 'closed')
  await new Promise((r) => setTimeout(r, 50))
  t.equal(peer.conns.length, 1, 'no second connection')
  t.equal(client.outboxSize, 1, 'the unacked send stays in the store for a later life')
})

t.test('SESSION_TAKEN_OVER (3509) is terminal too: another connection of this device is alive [RTY-4]', async (t) => {
  const peer = new FakePeer()
  const client = await open(peer)
  await client.connect()
  const info = new Promise<{ reconnectInMs: number | null; code: number }>((r) => client.once('disconnected', r))
  peer.closeLast(CloseCode.SESSION_TAKEN_OVER)
  t.match(await info, { code: CloseCode.SESSION_TAKEN_OVER, reconnectInMs: null })
  t.equal(client.state, 'closed')
})

t.test('a going-away close reconnects no sooner than retry_after_ms [RTY-3]', async (t) => {
  const peer = new FakePeer()
  const client = await open(peer)
  await client.connect()
  const info = new Promise<{ reconnectInMs: number | null; code: number }>((r) => client.once('disconnected', r))
  const ready = new Promise((r) => client.once('ready', r))
  peer.closeLast(CloseCode.GOING_AWAY, 150)
  t.match(await info, { code: CloseCode.GOING_AWAY, reconnectInMs: 150 })
  await ready
  t.equal(peer.conns.length, 2)
  await client.close()
})

t.test('deliveries are handed over once each, in order, and acked cumulatively [DLV-1] [DLV-2]', async (t) => {
  const peer = new FakePeer()
  const client = await open(peer, { ackDelayMs: 20 })
  await client.connect()
  const got: number[] = []
  const it = client.messages()
  const conn = peer.last
  // A replayed repeat (2) and a gap that is someone's acked or own message (4).
  for (const seq of [1, 2, 2, 3, 5, 5, 6]) peer.deliver(conn, 'c1', seq)
  for (let i = 0; i < 5; i++) {
    const n = await it.next()
    got.push((n.value as Delivered).seq)
  }
  t.same(got, [1, 2, 3, 5, 6])
  await peer.until(
    () => peer.framesOf('deliverAck').some((f) => f.body.case === 'deliverAck' && f.body.value.upToSeq === 6n),
    'ack 6',
  )
  const acks = peer.framesOf('deliverAck')
  t.ok(acks.length <= 2, `coalesced (${acks.length} acks for 7 deliveries)`)
  await it.return?.()
  await client.close()
})

t.test('own sends count as held so the cumulative ack spans them [DLV-5]', async (t) => {
  const peer = new FakePeer()
  const client = await open(peer)
  await client.connect()
  peer.deliver(peer.last, 'c1', 1)
  await peer.until(() => peer.framesOf('deliverAck').length === 1, 'first ack')
  // Our own message takes seq 2 in the peer's numbering.
  peer.onSend = (s) => {
    peer.messages.set('c1', [{ seq: 1, id: 'x', sender: 'bob', send: s }])
    return undefined
  }
  await client.send('c1', 'mine')
  peer.deliver(peer.last, 'c1', 3)
  await peer.until(
    () => peer.framesOf('deliverAck').some((f) => f.body.case === 'deliverAck' && f.body.value.upToSeq === 3n),
    'ack covering own seq 2',
  )
  t.pass('acked up to 3')
  await client.close()
})

t.test('answers server Pings with the same nonce [HB-1]', async (t) => {
  const peer = new FakePeer()
  const client = await open(peer)
  await client.connect()
  peer.last.send(frame({ case: 'ping', value: { nonce: 42n } }))
  // The peer records its own pongs only as sent frames; observe the client's answer instead.
  const pongs: bigint[] = []
  peer.last.on('frame', (f) => {
    if (f.body.case === 'pong') pongs.push(f.body.value.nonce)
  })
  await peer.until(() => pongs.length === 1, 'pong')
  t.same(pongs, [42n])
  await client.close()
})

t.test('a silent link is declared dead and replaced [HB-3]', async (t) => {
  const peer = new FakePeer()
  peer.heartbeatMs = 100
  // The first connection never answers anything after the handshake (not even Pings).
  peer.onSend = () => null
  const client = await open(peer, { deadMarginMs: 100 })
  await client.connect()
  const silent = peer.last
  silent.removeAllListeners('frame')
  await peer.until(() => peer.conns.length === 2, 'a second connection', 5000)
  t.pass('reconnected after silence')
  await client.close()
})

t.test('a REPLAY_LIMIT notice makes the client page history and hand over what it missed [RSM-2]', async (t) => {
  const peer = new FakePeer()
  for (let i = 1; i <= 250; i++) {
    const list = peer.messages.get('big') ?? []
    list.push({
      seq: i,
      id: `big/${i}`,
      sender: 'bob',
      send: {
        $typeName: 'imwire.v1.Send',
        clientMsgId: new Uint8Array(16),
        conversationId: 'big',
        sendSeq: 0n,
        contentType: '',
        body: new TextEncoder().encode(`m${i}`),
      },
    })
    peer.messages.set('big', list)
  }
  peer.replay = [
    frame({
      case: 'conversationUpdated',
      value: { conversationId: 'big', reason: UpdateReason.REPLAY_LIMIT, epoch: 1n, topSeq: 250n, cursor: 0n },
    }),
  ]
  const client = await open(peer)
  const got: Delivered[] = []
  client.on('message', (m) => got.push(m))
  await client.connect()
  await peer.until(() => got.length === 250, '250 messages from history')
  t.same(
    got.map((m) => m.seq),
    Array.from({ length: 250 }, (_, i) => i + 1),
  )
  t.ok(got.every((m) => m.fromHistory))
  t.equal(peer.framesOf('historyRequest').length, 3, 'three pages of 100')
  await peer.until(
    () => peer.framesOf('deliverAck').some((f) => f.body.case === 'deliverAck' && f.body.value.upToSeq === 250n),
    'ack 250',
  )
  await client.close()
})

t.test(
  'joined to a group with history: pulls it, holding a live message behind it, all in order [CNV-7]',
  async (t) => {
    const peer = new FakePeer()
    const client = await open(peer)
    const got: Delivered[] = []
    client.on('message', (m) => got.push(m))
    await client.connect()
    for (let i = 1; i <= 3; i++) {
      const list = peer.messages.get('g') ?? []
      list.push({
        seq: i,
        id: `g/${i}`,
        sender: 'bob',
        send: {
          $typeName: 'imwire.v1.Send',
          clientMsgId: new Uint8Array(16),
          conversationId: 'g',
          sendSeq: 0n,
          contentType: '',
          body: new TextEncoder().encode(`m${i}`),
        },
      })
      peer.messages.set('g', list)
    }
    peer.last.send(
      frame({
        case: 'conversationUpdated',
        value: { conversationId: 'g', reason: UpdateReason.JOINED, epoch: 1n, topSeq: 3n, cursor: 0n },
      }),
    )
    peer.deliver(peer.last, 'g', 4)
    await peer.until(() => got.length === 4, 'four messages')
    t.same(
      got.map((m) => [m.seq, m.fromHistory]),
      [
        [1, true],
        [2, true],
        [3, true],
        [4, false],
      ],
    )
    await client.close()
  },
)

t.test(
  'a second pull notice during a pull extends it: nothing between the two tops is skipped [RSM-11] [DLV-9]',
  async (t) => {
    const peer = new FakePeer()
    const client = await open(peer)
    const got: Delivered[] = []
    client.on('message', (m) => got.push(m))
    await client.connect()
    const list = Array.from({ length: 250 }, (_, i) => ({
      seq: i + 1,
      id: `g/${i + 1}`,
      sender: 'bob',
      send: {
        $typeName: 'imwire.v1.Send' as const,
        clientMsgId: new Uint8Array(16),
        conversationId: 'g',
        sendSeq: 0n,
        contentType: '',
        body: new TextEncoder().encode(`m${i + 1}`),
      },
    }))
    peer.messages.set('g', list)
    // The first notice starts a pull to 100; before its first page is back a
    // second one (as after a reconnect) raises the top to 250, and a live
    // message above it arrives. The pull must go on to 250.
    peer.last.send(
      frame({
        case: 'conversationUpdated',
        value: { conversationId: 'g', reason: UpdateReason.JOINED, epoch: 1n, topSeq: 100n, cursor: 0n },
      }),
    )
    peer.last.send(
      frame({
        case: 'conversationUpdated',
        value: { conversationId: 'g', reason: UpdateReason.REPLAY_LIMIT, epoch: 1n, topSeq: 250n, cursor: 0n },
      }),
    )
    peer.deliver(peer.last, 'g', 251)
    await peer.until(() => got.length >= 251 || got.some((m) => m.seq === 251), 'message 251')
    t.same(
      got.map((m) => m.seq),
      Array.from({ length: 251 }, (_, i) => i + 1),
    )
    await client.close()
  },
)

t.test('request helpers resolve with the answer and reject with the protocol code', async (t) => {
  const peer = new FakePeer()
  const client = await open(peer)
  await client.connect()
  const info = await client.conversations.create({ conversationId: 'g1', kind: 'group', members: ['bob'] })
  t.same(info.memberUserIds, ['alice', 'bob'])
  const err = await client.conversations
    .create({ conversationId: 'taken', kind: 'direct', members: ['bob'] })
    .catch((e: unknown) => e)
  t.match(err, { code: 'REJECTED', errorCode: ErrorCode.ALREADY_EXISTS })
  const ids = peer
    .framesOf('createConversation')
    .map((f) => (f.body.case === 'createConversation' ? f.body.value.requestId : 0))
  t.ok(
    ids.every((id) => id !== 0),
    'request ids are never 0 [HIS-6]',
  )
  t.equal(new Set(ids).size, ids.length, 'and distinct')
  await client.close()
})

t.test('close() rejects what is pending and later calls fail with CLIENT_CLOSED', async (t) => {
  const peer = new FakePeer()
  peer.onSend = () => null
  const client = await open(peer)
  await client.connect()
  const p = client.send('c1', 'x')
  const outcome = p.catch((e: unknown) => e)
  await peer.until(() => peer.framesOf('send').length === 1, 'the send')
  await client.close()
  t.match(await outcome, { code: 'CLIENT_CLOSED' })
  t.match(await client.send('c1', 'y').catch((e: unknown) => e), { code: 'CLIENT_CLOSED' })
  t.match(await client.connect().catch((e: unknown) => e), { code: 'CLIENT_CLOSED' })
  t.equal(peer.framesOf('close').length, 1, 'said goodbye with a Close frame')
})

t.test('a Welcome that crosses close() does not make the client ready again nor reconnect', async (t) => {
  const peer = new FakePeer()
  const client = await open(peer)
  const connecting = client.connect().catch((e: unknown) => e)
  // The peer answered Hello with Welcome; one loop turn later its Welcome is on
  // the way (memory pair: flush, then delivery, one setImmediate each), so the
  // client reads it after close() has begun, as over TCP when Welcome crosses
  // our Close.
  await peer.until(() => peer.hellos.length === 1, 'the Hello')
  await new Promise((r) => setImmediate(r))
  const states: string[] = []
  client.on('state', (s) => states.push(s))
  await client.close()
  t.match(await connecting, { code: 'CLIENT_CLOSED' })
  await peer.until(() => peer.last.closed, 'the connection to end')
  t.equal(client.state, 'closed', 'still closed once the connection has ended')
  t.same(states, ['closed'], 'never ready or waiting after close()')
  t.equal(peer.conns.length, 1, 'no second connection')
})
