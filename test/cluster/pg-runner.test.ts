// The PostgreSQL writer on a throw-away database: migrations, the commit
// log, and fencing of a superseded session. [RSM-6] [ACK-5]
import t from 'tap'
import Client from 'pg-native'
import { ConversationKind } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { type Engine, startPostgres } from '../../src/cli/engines.js'
import { PG_SCHEMA_VERSION } from '../../src/server/cluster/pg-schema.js'
import { PgRunner } from '../../src/server/cluster/pg-runner.js'
import { decodeEvents } from '../../src/server/cluster/log-events.js'
import type { QueuedOp } from '../../src/server/store/group-runner.js'
import type { StoreOp } from '../../src/session/store-ops.js'

let pg: Engine
t.before(async () => {
  pg = await startPostgres({ durable: false })
})
t.teardown(() => pg?.stop())

let nextId = 1
function group(r: PgRunner, ...ops: (StoreOp & { generation?: number })[]) {
  const q: QueuedOp[] = ops.map((op) => ({ id: nextId++, op }))
  const out = r.execute(q)
  r.commit()
  return out.map((o) => ('result' in o ? (o.result as Record<string, unknown>) : { error: o.error }))
}
const open = (user: string, device: string): StoreOp => ({
  op: 'openDevice',
  userId: user,
  deviceId: device,
  resume: [],
  nowMs: 1,
})
const send = (user: string, device: string, conv: string, cid: number, generation?: number) => ({
  op: 'send' as const,
  userId: user,
  deviceId: device,
  conversationId: conv,
  clientMsgId: new Uint8Array([cid, 1, 2, 3]),
  sendSeq: 0,
  contentType: 'text/plain',
  body: new Uint8Array([cid]),
  nowMs: 2,
  ...(generation !== undefined ? { generation } : {}),
})

t.test('migrations run once and are versioned; a newer schema is refused', async (t) => {
  const a = new PgRunner({ url: pg.url })
  t.same(a.migrated, { from: 0, to: PG_SCHEMA_VERSION })
  const b = new PgRunner({ url: pg.url })
  t.same(b.migrated, { from: PG_SCHEMA_VERSION, to: PG_SCHEMA_VERSION })
  b.close()
  const db = new Client()
  db.connectSync(pg.url)
  db.querySync('UPDATE imwire_schema SET version = version + 1')
  t.throws(() => new PgRunner({ url: pg.url }), /newer than this server/)
  db.querySync('UPDATE imwire_schema SET version = version - 1')
  db.end()
  a.close()
})

t.test('groups that commit messages or notices append one log entry each, in order', async (t) => {
  const r = new PgRunner({ url: pg.url })
  group(r, open('ann', 'a1'))
  t.equal(r.lastLog, null, 'a session start publishes nothing')
  group(r, {
    op: 'create',
    userId: 'ann',
    deviceId: 'a1',
    conversationId: 'log-c',
    kind: ConversationKind.GROUP,
    members: ['bob'],
    title: '',
    maxMembers: 100,
  })
  const first = r.lastLog
  t.ok(first !== null, 'create appends its notices')
  group(r, send('ann', 'a1', 'log-c', 1), send('ann', 'a1', 'log-c', 2), send('ann', 'a1', 'log-c', 1))
  const second = r.lastLog
  t.equal(second?.pos, (first?.pos ?? 0) + 1, 'the next position')
  const events = decodeEvents(second?.payload ?? '[]')
  t.same(
    events.map((e) => (e.kind === 'message' ? e.message.seq : -1)),
    [1, 2],
    'two messages, the duplicate not again',
  )
  t.same(events[0]?.kind === 'message' && events[0].members, ['ann', 'bob'], 'members at commit')
  r.close()
})

t.test('an older session of the device is fenced: its ack and send change nothing', async (t) => {
  const r = new PgRunner({ url: pg.url })
  const [o1] = group(r, open('cat', 'c1'))
  const g1 = o1?.generation as number
  group(r, {
    op: 'create',
    userId: 'cat',
    deviceId: 'c1',
    conversationId: 'fence-c',
    kind: ConversationKind.GROUP,
    members: ['dan'],
    title: '',
    maxMembers: 100,
  })
  group(r, send('dan', 'd1', 'fence-c', 9), send('dan', 'd1', 'fence-c', 10))
  const [o2] = group(r, open('cat', 'c1'))
  const g2 = o2?.generation as number
  t.equal(g2, g1 + 1, 'each session start is a new generation')
  const [stale, staleSend] = group(
    r,
    { op: 'ack', userId: 'cat', deviceId: 'c1', conversationId: 'fence-c', upToSeq: 2, generation: g1 },
    send('cat', 'c1', 'fence-c', 11, g1),
  )
  t.equal(stale?.fenced, true, 'the old session is fenced')
  t.equal(staleSend?.fenced, true)
  const [list] = group(r, { op: 'list', userId: 'cat', deviceId: 'c1', afterConversationId: '', limit: 10 })
  const conv = ((list?.conversations ?? []) as { conversationId: string; cursor: number; topSeq: number }[]).find(
    (c) => c.conversationId === 'fence-c',
  )
  t.equal(conv?.cursor, 0, 'the cursor did not move')
  t.equal(conv?.topSeq, 2, 'nothing was committed')
  const [fresh] = group(r, {
    op: 'ack',
    userId: 'cat',
    deviceId: 'c1',
    conversationId: 'fence-c',
    upToSeq: 2,
    generation: g2,
  })
  t.same(fresh, { ok: true, outcome: 'moved' }, 'the current session moves it')
  r.close()
})

t.test('a lost connection fails the group, the next group reconnects', async (t) => {
  const r = new PgRunner({ url: pg.url })
  group(r, open('eve', 'e1'))
  const db = new Client()
  db.connectSync(pg.url)
  db.querySync(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = 'postgres'",
  )
  db.end()
  const [failed] = group(r, open('eve', 'e1'))
  t.match(failed?.error, /postgres/, 'the group fails')
  const [ok] = group(r, open('eve', 'e1'))
  t.equal(ok?.ok, true, 'and the next one runs on a new connection')
  r.close()
})
