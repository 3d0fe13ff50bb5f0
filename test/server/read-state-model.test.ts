// Property test: unread counts, the inbox and sync of the store against a
// naive model (every message kept with its sender, unread counted by a scan)
// over random sequences of sends by several users, MarkReads, AddMembers,
// RemoveMembers, leaves, and inbox pages interleaved with them. At the end,
// the pages of one pass plus a sync from the pass's first sync point must
// hold every conversation of the user exactly as it stands. [RD-2] [RD-5]
// [INB-2] [INB-3] [INB-4] [INB-5] [INB-6]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import t from 'tap'
import { ConversationKind } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { createMemoryStore, openSqliteStore } from '../../src/server/store/sqlite-store.js'
import type { Store } from '../../src/server/store/store.js'
import type { InboxEntryView, SyncResult } from '../../src/session/store-ops.js'

const dirs: string[] = []
t.teardown(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const USERS = ['u0', 'u1', 'u2']
const CONVS = ['c0', 'c1', 'c2']
const OBSERVER = 'u0'

type Cmd =
  | { t: 'create'; conv: number; by: number; members: number[] }
  | { t: 'send'; conv: number; by: number }
  | { t: 'read'; conv: number; by: number; frac: number }
  | { t: 'add'; conv: number; by: number; user: number }
  | { t: 'remove'; conv: number; by: number; user: number }
  | { t: 'leave'; conv: number; by: number }
  | { t: 'page'; limit: number }

const idx = (n: number) => fc.nat({ max: n - 1 })
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({
    t: fc.constant('create' as const),
    conv: idx(3),
    by: idx(3),
    members: fc.array(idx(3), { maxLength: 3 }),
  }),
  { arbitrary: fc.record({ t: fc.constant('send' as const), conv: idx(3), by: idx(3) }), weight: 4 },
  {
    arbitrary: fc.record({
      t: fc.constant('read' as const),
      conv: idx(3),
      by: idx(3),
      frac: fc.integer({ min: 0, max: 4 }).map((k) => k / 4),
    }),
    weight: 3,
  },
  fc.record({ t: fc.constant('add' as const), conv: idx(3), by: idx(3), user: idx(3) }),
  fc.record({ t: fc.constant('remove' as const), conv: idx(3), by: idx(3), user: idx(3) }),
  fc.record({ t: fc.constant('leave' as const), conv: idx(3), by: idx(3) }),
  { arbitrary: fc.record({ t: fc.constant('page' as const), limit: fc.integer({ min: 1, max: 2 }) }), weight: 2 },
)

/** The naive model: what the spec says, computed the slow way. */
class Model {
  convs = new Map<string, { owner: string; members: Set<string>; senders: string[] }>()
  reads = new Map<string, number>()

  readSeq(conv: string, user: string): number {
    return this.reads.get(`${conv}/${user}`) ?? 0
  }
  unread(conv: string, user: string): number {
    const c = this.convs.get(conv)
    if (c === undefined) return 0
    return c.senders.filter((s, i) => i + 1 > this.readSeq(conv, user) && s !== user).length
  }
  join(conv: string, user: string): void {
    const c = this.convs.get(conv)!
    c.members.add(user)
    this.reads.set(`${conv}/${user}`, c.senders.length) // [RD-2]
  }
  /** A user's conversations as they stand: id -> [top, read, unread, members]. */
  view(user: string): Map<string, View> {
    const out = new Map<string, View>()
    for (const [id, c] of this.convs) {
      if (c.members.has(user)) {
        out.set(id, [c.senders.length, this.readSeq(id, user), this.unread(id, user), [...c.members].sort().join()])
      }
    }
    return out
  }
}

/** Throws (so fast-check shrinks) when two views differ. */
function same(got: Map<string, View>, want: Map<string, View>, what: string): void {
  const show = (x: Map<string, View>) => JSON.stringify([...x].sort())
  if (show(got) !== show(want)) throw new Error(`${what}: got ${show(got)}, want ${show(want)}`)
}

type View = [number, number, number, string]
const summary = (e: InboxEntryView): View => [e.topSeq, e.readSeq, e.unreadCount, e.members.join()]

async function check(store: Store, cmds: Cmd[]): Promise<void> {
  const m = new Model()
  const dev = (u: string) => `${u}-d`
  let n = 0
  // One inbox pass of the observer: its first sync point and what it listed.
  let pass: { syncPoint: number; before: number; done: boolean; seen: Map<string, InboxEntryView> } | null = null
  const page = async (limit: number) => {
    if (pass?.done) return
    const r = await store.run({
      op: 'inbox',
      userId: OBSERVER,
      deviceId: dev(OBSERVER),
      beforeActivity: pass?.before ?? 0,
      limit,
      includeMembers: false,
      previewBytes: 16,
    })
    pass ??= { syncPoint: r.syncPoint, before: 0, done: false, seen: new Map() }
    let bound = pass.before === 0 ? Number.POSITIVE_INFINITY : pass.before
    for (const e of r.entries) {
      // [INB-3] activity descending, below the keyset bound.
      if (e.activity >= bound) throw new Error(`activity ${e.activity} not below ${bound}`)
      bound = e.activity
      if (pass.seen.has(e.conversationId)) throw new Error(`${e.conversationId} listed twice in one pass`)
      // [RD-5] exact as of the page.
      const want = m.unread(e.conversationId, OBSERVER)
      if (e.unreadCount !== want) throw new Error(`page: unread ${e.unreadCount} != ${want} in ${e.conversationId}`)
      pass.seen.set(e.conversationId, e)
    }
    const last = r.entries[r.entries.length - 1]
    if (last !== undefined) pass.before = last.activity
    pass.done = !r.hasMore
  }
  for (const c of cmds) {
    if (c.t === 'page') {
      await page(c.limit)
      continue
    }
    const conv = CONVS[c.conv] as string
    const by = USERS[c.by] as string
    const mc = m.convs.get(conv)
    const member = mc?.members.has(by) ?? false
    switch (c.t) {
      case 'create': {
        if (mc !== undefined) break
        const members = [...new Set(c.members.map((i) => USERS[i] as string))]
        const r = await store.run({
          op: 'create',
          userId: by,
          deviceId: dev(by),
          conversationId: conv,
          kind: ConversationKind.GROUP,
          members,
          title: '',
          maxMembers: 100,
        })
        if (!r.ok) throw new Error('create refused')
        m.convs.set(conv, { owner: by, members: new Set(), senders: [] })
        for (const u of new Set([by, ...members])) m.join(conv, u)
        break
      }
      case 'send': {
        const r = await store.run({
          op: 'send',
          userId: by,
          deviceId: dev(by),
          conversationId: conv,
          clientMsgId: new Uint8Array(16).fill(0).map((_, i) => (i < 4 ? (++n >> (8 * i)) & 255 : 0)),
          sendSeq: 0,
          contentType: '',
          body: new Uint8Array([1]),
          nowMs: 1,
        })
        if (r.ok !== member) throw new Error(`send by ${by} ok=${r.ok}, member=${member}`)
        if (member) mc?.senders.push(by)
        break
      }
      case 'read': {
        const top = mc?.senders.length ?? 0
        const upTo = Math.round(c.frac * top)
        const r = await store.run({
          op: 'markRead',
          userId: by,
          deviceId: dev(by),
          conversationId: conv,
          epoch: 1,
          upToSeq: upTo,
        })
        if (r.ok !== member) throw new Error(`markRead ok=${r.ok}, member=${member}`)
        if (!r.ok) break
        const before = m.readSeq(conv, by)
        if (r.moved !== upTo > before) throw new Error(`moved=${r.moved} for ${before} -> ${upTo}`)
        if (upTo > before) m.reads.set(`${conv}/${by}`, upTo)
        if (r.state.unreadCount !== m.unread(conv, by)) throw new Error('MarkReadResult unread differs')
        break
      }
      case 'add': {
        const user = USERS[c.user] as string
        const r = await store.run({
          op: 'addMembers',
          userId: by,
          deviceId: dev(by),
          conversationId: conv,
          userIds: [user],
          maxMembers: 100,
        })
        if (r.ok !== member) throw new Error(`add ok=${r.ok}, member=${member}`)
        if (r.ok && !mc!.members.has(user)) m.join(conv, user)
        break
      }
      case 'remove': {
        const user = USERS[c.user] as string
        const r = await store.run({
          op: 'removeMembers',
          userId: by,
          deviceId: dev(by),
          conversationId: conv,
          userIds: [user],
          maxMembers: 100,
        })
        const allowed = member && mc!.owner === by && user !== by
        if (r.ok !== allowed) throw new Error(`remove ok=${r.ok}, allowed=${allowed}`)
        if (r.ok) mc!.members.delete(user)
        break
      }
      case 'leave': {
        const r = await store.run({ op: 'leave', userId: by, deviceId: dev(by), conversationId: conv })
        if (r.ok !== member) throw new Error(`leave ok=${r.ok}, member=${member}`)
        if (r.ok) {
          mc!.members.delete(by)
          if (mc!.owner === by) mc!.owner = [...mc!.members].sort()[0] ?? ''
        }
        break
      }
    }
  }
  // Every user's listing against the model. [RD-5]
  for (const u of USERS) {
    const r = await store.run({ op: 'list', userId: u, deviceId: dev(u), afterConversationId: '', limit: 100 })
    const got = new Map(
      r.conversations.map((v): [string, View] => [
        v.conversationId,
        [v.topSeq, v.readSeq, v.unreadCount, v.members.join()],
      ]),
    )
    same(got, m.view(u), `${u}'s listing`)
  }
  const want = m.view(OBSERVER)
  const syncAll = async (since: number, into: Map<string, View>) => {
    for (;;) {
      const r = (await store.run({
        op: 'sync',
        userId: OBSERVER,
        deviceId: dev(OBSERVER),
        since,
        limit: 2,
        includeMembers: false,
        previewBytes: 16,
      })) as Extract<SyncResult, { ok: true }>
      for (const i of r.items) {
        if (i.entry !== undefined) into.set(i.entry.conversationId, summary(i.entry))
        else into.delete(i.removed)
      }
      const last = r.items[r.items.length - 1]
      since = r.hasMore && last !== undefined ? last.change : r.current
      if (!r.hasMore) return
    }
  }
  // [INB-6] a full sync is the listing.
  const full = new Map<string, View>()
  await syncAll(0, full)
  same(full, want, 'full sync')
  // [INB-5] a pass's pages, then a sync from its first sync point: everything as it stands.
  if (pass !== null) {
    const p = pass as { syncPoint: number; done: boolean; seen: Map<string, InboxEntryView> }
    while (!p.done) await page(2)
    const merged = new Map([...p.seen].map(([id, e]) => [id, summary(e)]))
    await syncAll(p.syncPoint, merged)
    same(merged, want, 'pages plus sync')
  }
}

const stores: [string, () => Promise<Store>, number][] = [
  ['memory', async () => createMemoryStore(), 150],
  [
    'sqlite',
    () => {
      const d = mkdtempSync(join(tmpdir(), 'imwire-read-model-'))
      dirs.push(d)
      return openSqliteStore({ dataDir: d, worker: false })
    },
    40,
  ],
]

for (const [name, open, numRuns] of stores) {
  t.test(`${name}: unread, inbox and sync agree with the naive model over random histories`, async (t) => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 80, size: 'max' }), async (cmds) => {
        const store = await open()
        try {
          await check(store, cmds)
        } finally {
          await store.close()
        }
      }),
      { numRuns },
    )
    t.pass()
  })
}
