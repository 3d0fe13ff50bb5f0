// The reference client against the reference server over TCP: read state
// shared by two devices of one user while others keep sending, the DIRECT
// "seen" position, and the whole-inbox load while conversations keep moving.
// [RD-2] [RD-4] [RD-5] [INB-3] [INB-4] [INB-5]
import t, { type Test } from 'tap'
import { ImwireClient } from '../../src/client/client.js'
import type { ImwireClientOptions } from '../../src/client/client-types.js'
import { makeTestToken } from '../../src/client/test-token.js'
import { type RunningServer, startServer } from '../../src/server/server.js'
import { createMemoryStore } from '../../src/server/store/sqlite-store.js'
import { scaled } from '../support/time-scale.js'

const SECRET = 'read-inbox-e2e'

async function serve(t: Test): Promise<RunningServer> {
  const server = await startServer({
    store: createMemoryStore(),
    tokenSecret: SECRET,
    tcp: { host: '127.0.0.1', port: 0 },
  })
  t.teardown(() => server.shutdown({ retryAfterMs: 0 }))
  return server
}

async function device(
  t: Test,
  server: RunningServer,
  user: string,
  deviceId: string,
  opts: Partial<ImwireClientOptions> = {},
): Promise<ImwireClient> {
  const client = await ImwireClient.open({
    url: `tcp://${server.tcpAddress}`,
    token: makeTestToken(SECRET, user),
    deviceId,
    ackDelayMs: 0,
    backoff: { baseMs: 20, capMs: 100 },
    ...opts,
  })
  t.teardown(() => client.close())
  const w = await client.connect()
  t.same([...w.features].sort(), ['history-time', 'inbox', 'read-state'], `${deviceId}: all three enabled`)
  return client
}

/** Resolve when pred holds, checked on every event of the clients; reject after ms. */
function until(clients: ImwireClient[], pred: () => boolean, what: string, ms = scaled(3000)): Promise<void> {
  return new Promise((resolve, reject) => {
    const events = ['readState', 'peerRead', 'message', 'ack', 'inbox'] as const
    const check = () => {
      if (!pred()) return
      done()
      resolve()
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`timed out waiting for ${what}`))
    }, ms)
    const done = () => {
      clearTimeout(timer)
      for (const c of clients) for (const e of events) c.off(e, check)
    }
    for (const c of clients) for (const e of events) c.on(e, check)
    check()
  })
}

/** The exact unread count from the server's history: messages above readSeq not by user. [RD-5] */
async function trueUnread(reader: ImwireClient, conversationId: string, user: string, readSeq: number) {
  const all = await reader.conversations.readAll(conversationId)
  return all.filter((m) => Number(m.seq) > readSeq && m.senderUserId !== user).length
}

t.test(
  'two devices of one user agree on read position and badge after either reads, while others send [RD-4] [RD-5]',
  async (t) => {
    const server = await serve(t)
    const a = await device(t, server, 'alice', 'alice-phone')
    const b = await device(t, server, 'alice', 'alice-laptop')
    const bob = await device(t, server, 'bob', 'bob-phone')
    const carol = await device(t, server, 'carol', 'carol-phone')
    await a.conversations.create({ conversationId: 'g', kind: 'group', members: ['bob', 'carol'] })
    // Alice's own message: never unread for her on either device.
    await a.send('g', 'hello all')
    await until([a, b], () => b.readState('g') !== undefined, 'the second device to know g')

    /** Both alice devices hold the same read state and it is the server's truth. */
    const agree = async (what: string) => {
      const sa = a.readState('g')
      const sb = b.readState('g')
      t.same(
        [sb?.readSeq, sb?.unreadCount, sb?.topSeq],
        [sa?.readSeq, sa?.unreadCount, sa?.topSeq],
        `${what}: both devices agree`,
      )
      t.equal(sa?.unreadCount, await trueUnread(a, 'g', 'alice', sa?.readSeq ?? -1), `${what}: the count is exact`)
      t.equal(a.totalUnread(), b.totalUnread(), `${what}: same badge`)
    }

    // Concurrent senders: bob and carol send in bursts while alice reads on one device, then the other.
    const burst = (n: number, tag: string) =>
      Promise.all(
        Array.from({ length: n }, (_, i) => [
          bob.send('g', `${tag} bob ${i}`),
          carol.send('g', `${tag} carol ${i}`),
        ]).flat(),
      )
    let sent = await burst(10, 'one')
    let top = Math.max(...sent.map((r) => r.seq))
    await until([a, b], () => a.readState('g')?.topSeq === top && b.readState('g')?.topSeq === top, 'first burst')
    t.equal(a.unreadCount('g'), 20, 'live badge on the phone: 20 from others, not her own')
    await agree('after the first burst')

    // The phone reads half; the laptop must follow by ReadUpdated, not by asking.
    const half = Math.floor(top / 2)
    const more = burst(5, 'two') // in flight while the reads happen
    const read1 = await a.markRead('g', half)
    t.equal(read1.moved, true)
    // Within one round trip: the server sends the laptop its ReadUpdated when it
    // answers the phone, so one request of the laptop's, answered on the same
    // connection after it, finds the notice already applied.
    await b.history({ conversationId: 'g', direction: 'backward', limit: 1 })
    t.equal(b.readState('g')?.readSeq, half, 'the laptop followed the phone within one round trip')
    sent = await more
    top = Math.max(...sent.map((r) => r.seq))
    await until([a, b], () => a.readState('g')?.topSeq === top && b.readState('g')?.topSeq === top, 'second burst')
    await agree('after the phone read')

    // Now the laptop reads everything; the phone follows.
    const read2 = await b.markRead('g', top)
    t.match(read2.state, { readSeq: top, unreadCount: 0 })
    await a.history({ conversationId: 'g', direction: 'backward', limit: 1 })
    t.equal(a.readState('g')?.readSeq, top, 'the phone followed the laptop within one round trip')
    await agree('after the laptop read')
    t.equal(a.unreadCount('g'), 0)

    // One more message from bob: unread 1 on both, live.
    const last = await bob.send('g', 'last')
    await until([a, b], () => a.unreadCount('g') === 1 && b.unreadCount('g') === 1, 'one new message on both')
    t.equal(a.readState('g')?.topSeq, last.seq)
    await agree('after a new message')

    // A fresh device of alice (a later login) learns the same state from the listing / sync.
    const c = await device(t, server, 'alice', 'alice-tablet', { syncOnReady: false })
    await c.sync()
    t.same([c.readState('g')?.readSeq, c.unreadCount('g')], [top, 1], 'a third device syncs the same state')
  },
)

t.test('a DIRECT peer sees the "seen" position live, on both of its devices [RD-4]', async (t) => {
  const server = await serve(t)
  const a = await device(t, server, 'alice', 'alice-phone')
  const b = await device(t, server, 'alice', 'alice-laptop')
  const bob = await device(t, server, 'bob', 'bob-phone')
  await a.conversations.create({ conversationId: 'd', kind: 'direct', members: ['bob'] })
  let top = 0
  for (const text of ['one', 'two', 'three']) top = (await a.send('d', text)).seq
  await until([bob], () => bob.unreadCount('d') === 3, 'bob to have 3 unread')
  const seenOnA: number[] = []
  a.on('peerRead', (p) => seenOnA.push(p.readSeq))
  await bob.markRead('d', 2)
  await until([a, b], () => a.readState('d')?.peerReadSeq === 2 && b.readState('d')?.peerReadSeq === 2, 'seen 2')
  await bob.markRead('d', top)
  await until([a, b], () => a.readState('d')?.peerReadSeq === top && b.readState('d')?.peerReadSeq === top, 'seen 3')
  t.same(seenOnA, [2, 3], 'one peerRead per move, increasing')
  t.equal(a.unreadCount('d'), 0, "bob's read does not touch alice's own count")
  // The inbox lists the same position for a device that was not online. [INB-3]
  const later = await device(t, server, 'alice', 'alice-tablet', { syncOnReady: false })
  const page = await later.inbox()
  t.equal(page.entries.find((e) => e.conversationId === 'd')?.peerReadSeq, BigInt(top))
})

t.test(
  'the whole-inbox load lists every conversation exactly once while another connection keeps sending [INB-4]',
  async (t) => {
    const server = await serve(t)
    const N = 60
    const owner = await device(t, server, 'dave', 'dave-phone', { syncOnReady: false })
    const sender = await device(t, server, 'erin', 'erin-phone', { syncOnReady: false })
    const ids = Array.from({ length: N }, (_, i) => `c${String(i).padStart(3, '0')}`)
    for (const id of ids) await sender.conversations.create({ conversationId: id, kind: 'group', members: ['dave'] })
    // A random order of messages so activity is shuffled, then keep sending in the background.
    let seed = 12345
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed / 2 ** 31
    }
    for (let i = 0; i < N; i++) await sender.send(ids[Math.floor(rnd() * N)] as string, `warm ${i}`)
    let stop = false
    let moving = 0
    const traffic = (async () => {
      while (!stop) {
        await sender.send(ids[Math.floor(rnd() * N)] as string, `move ${moving++}`)
      }
    })()
    try {
      for (let round = 0; round < 5; round++) {
        const before = moving
        const list = await owner.loadInbox({ limit: 7, previewBytes: 16 })
        const listed = list.map((e) => e.conversationId)
        t.equal(new Set(listed).size, listed.length, `round ${round}: no duplicates`)
        t.same([...listed].sort(), ids, `round ${round}: every conversation`)
        const acts = list.map((e) => e.activity)
        t.ok(
          acts.every((x, i) => i === 0 || (acts[i - 1] as bigint) > x),
          `round ${round}: activity strictly descending`,
        )
        t.ok(moving > before, `round ${round}: messages were committed while paging (${moving - before})`)
      }
    } finally {
      stop = true
      await traffic
    }
    // After the traffic stops, a sync brings the list to the server's state exactly.
    await owner.sync()
    const listed = owner.inboxEntries()
    for (const e of listed) {
      const page = await owner.history({ conversationId: e.conversationId, direction: 'backward', limit: 1 })
      t.equal(e.topSeq, page.topSeq, `${e.conversationId}: top_seq current after sync`)
    }
    t.equal(listed.length, N)
  },
)
