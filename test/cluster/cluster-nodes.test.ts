// Two cluster nodes on a throw-away PostgreSQL and Redis: node A in this
// process (startServer over ClusterStore), node B a child process running
// `imwire serve --postgres … --redis …`. Takeover across nodes, traffic both
// ways, a Redis outage, and a dead node's sessions released by its lease.
// (libpq loads in one thread per process, so the second node is a process.)
import pino from 'pino'
import t from 'tap'
import { type ServerChild, splitHostPort } from '../../bench/lib/child.js'
import { type Engine, startPostgres, startRedis } from '../../src/cli/engines.js'
import { ImwireClient } from '../../src/client/client.js'
import type { DisconnectInfo } from '../../src/client/client-types.js'
import { makeTestToken } from '../../src/client/test-token.js'
import { ClusterStore } from '../../src/server/cluster/cluster-store.js'
import { type RunningServer, startServer } from '../../src/server/server.js'
import { connectTcp } from '../../src/transport/index.js'
import { ensureBuilt } from '../support/built.js'
import { scaled } from '../support/time-scale.js'
import { spawnChildNode } from './child-node.js'

const SECRET = 'cluster-secret'
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

let pg: Engine
let redis: Engine
let nodeA: RunningServer
let nodeB: ServerChild

const startB = () => spawnChildNode({ postgres: pg.url, redis: redis.url, nodeId: 'b', secret: SECRET })

t.before(async () => {
  await ensureBuilt()
  pg = await startPostgres({ durable: false })
  redis = await startRedis()
  const store = await ClusterStore.open({
    postgresUrl: pg.url,
    redisUrl: redis.url,
    nodeId: 'a',
    logger: pino({ level: 'silent' }),
    pollMs: 100,
  })
  nodeA = await startServer({ store, tokenSecret: SECRET, tcp: { host: '127.0.0.1', port: 0 }, ws: null })
  nodeB = await startB()
})
t.teardown(async () => {
  await nodeB?.stop(2000)
  await nodeA?.shutdown({ retryAfterMs: 1000 })
  await Promise.all([pg?.stop(), redis?.stop()])
})

interface Probe {
  client: ImwireClient
  closes: DisconnectInfo[]
  got: Map<string, number[]>
}

async function on(node: 'a' | 'b', user: string, device: string, opts: { reconnect?: boolean } = {}): Promise<Probe> {
  const address = () => (node === 'a' ? (nodeA.tcpAddress as string) : (nodeB.tcp as string))
  const client = await ImwireClient.open({
    connect: () => {
      const { host, port } = splitHostPort(address())
      return connectTcp(host, port, { connectTimeoutMs: 2000 })
    },
    token: makeTestToken(SECRET, user),
    deviceId: device,
    reconnect: opts.reconnect ?? false,
    ackDelayMs: 5,
  })
  const p: Probe = { client, closes: [], got: new Map() }
  client.on('disconnected', (d) => p.closes.push(d))
  client.on('terminated', () => {})
  client.on('message', (m) => {
    const l = p.got.get(m.conversationId) ?? []
    l.push(m.seq)
    p.got.set(m.conversationId, l)
  })
  return p
}

/** Connect, again and again until welcomed: a node's Redis client reconnects on its own schedule after an outage. */
async function welcomed(node: 'a' | 'b', user: string, device: string): Promise<Probe> {
  const end = Date.now() + scaled(20_000)
  for (;;) {
    const p = await on(node, user, device)
    const ok = await p.client.connect().then(
      () => true,
      () => false,
    )
    if (ok) return p
    if (Date.now() > end) throw new Error(`${user}/${device} never welcomed on node ${node}`)
    await sleep(200)
  }
}

async function until(what: string, cond: () => boolean, ms = scaled(10_000)): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

t.test('members on two nodes get each other’s messages once, in seq order', async (t) => {
  const ann = await on('a', 'ann', 'phone')
  const bob = await on('b', 'bob', 'laptop')
  await ann.client.connect()
  await bob.client.connect()
  await ann.client.conversations.create({ conversationId: 'ab', kind: 'group', members: ['bob'] })
  const sends = []
  for (let i = 0; i < 40; i++) {
    sends.push(ann.client.send('ab', `a${i}`))
    sends.push(bob.client.send('ab', `b${i}`))
  }
  const acks = await Promise.all(sends)
  t.same(
    acks.map((a) => a.seq).sort((x, y) => x - y),
    Array.from({ length: 80 }, (_, i) => i + 1),
    'seqs dense from 1 across both nodes',
  )
  const own = (who: string) => new Set(acks.filter((_, i) => (i % 2 === 0) === (who === 'ann')).map((a) => a.seq))
  const others = (who: string) => Array.from({ length: 80 }, (_, i) => i + 1).filter((s) => !own(who).has(s))
  await until('both caught up', () => ann.got.get('ab')?.length === 40 && bob.got.get('ab')?.length === 40)
  t.same(ann.got.get('ab'), others('ann'), 'ann: every message of bob, in order, once')
  t.same(bob.got.get('ab'), others('bob'), 'bob: every message of ann, in order, once')
  await Promise.all([ann.client.close(), bob.client.close()])
})

t.test('takeover across nodes: the older connection gets 3509, the newer one its Welcome', async (t) => {
  const first = await on('b', 'cat', 'tablet')
  await first.client.connect()
  const second = await on('a', 'cat', 'tablet')
  await second.client.connect()
  await until('the older connection closed', () => first.closes.length > 0)
  t.equal(first.closes[0]?.code, 3509, 'SESSION_TAKEN_OVER on the node that held it')
  t.equal(second.client.state, 'ready')
  // And back the other way.
  const third = await on('b', 'cat', 'tablet')
  await third.client.connect()
  await until('the second closed', () => second.closes.length > 0)
  t.equal(second.closes[0]?.code, 3509)
  await third.client.close()
})

t.test('Redis down: a Hello is refused with 3005, traffic between live sessions still flows', async (t) => {
  const dan = await on('a', 'dan', 'd1')
  const eve = await on('b', 'eve', 'e1')
  await dan.client.connect()
  await eve.client.connect()
  await dan.client.conversations.create({ conversationId: 'de', kind: 'direct', members: ['eve'] })
  await redis.kill()
  const late = await on('a', 'fay', 'f1')
  await t.rejects(late.client.connect(), 'no Welcome without Redis to coordinate a takeover')
  t.equal(late.closes[0]?.code, 3005, 'INTERNAL_ERROR, a reconnectable code')
  for (let i = 0; i < 5; i++) await dan.client.send('de', `while redis is down ${i}`)
  await until('eve got them through the log', () => eve.got.get('de')?.length === 5)
  t.same(eve.got.get('de'), [1, 2, 3, 4, 5], 'delivered from the PostgreSQL log, in order')
  await redis.restart()
  const again = await welcomed('a', 'fay', 'f1')
  t.equal(again.client.state, 'ready', 'a Hello is welcomed again once Redis is back')
  await Promise.all([dan.client.close(), eve.client.close(), again.client.close()])
})

t.test("a dead node's session is released by its lease", async (t) => {
  // Node b's Redis client may still be reconnecting after the outage above.
  await welcomed('b', 'gil', 'g1')
  await nodeB.kill()
  const started = Date.now()
  const next = await on('a', 'gil', 'g1')
  await next.client.connect()
  t.equal(next.client.state, 'ready', 'welcomed once the dead node’s lease ran out')
  t.comment(`welcomed ${Date.now() - started} ms after the holder died`)
  await next.client.close()
  nodeB = await startB()
})

t.test(
  'a node shutting down first delivers what another node committed before (Redis down: no fast path) [ERR-6]',
  async (t) => {
    const ivy = await welcomed('a', 'ivy', 'i1')
    const jon = await welcomed('b', 'jon', 'j1')
    await ivy.client.conversations.create({ conversationId: 'ij', kind: 'direct', members: ['jon'] })
    await redis.kill()
    await ivy.client.send('ij', 'committed before the shutdown')
    // Node b hears of it only from its look at the log head (every 200 ms) —
    // or from its own catch-up at shutdown, before Close 3001.
    await nodeB.stop(scaled(10_000))
    await until('jon closed', () => jon.closes.length > 0)
    t.equal(jon.closes[0]?.code, 3001, 'GOING_AWAY')
    t.same(jon.got.get('ij'), [1], 'the Deliver came before the Close')
    await redis.restart()
    await ivy.client.close()
  },
)
