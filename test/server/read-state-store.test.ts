// The store's rules of read-state, inbox and history-time (spec section 22,
// [HIS-10]), run against the memory and SQLite tables (same table of tests).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { ErrorCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { ConversationKind } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { MIGRATIONS } from '../../src/server/store/sqlite-schema.js'
import { createMemoryStore, DB_FILE, openSqliteStore } from '../../src/server/store/sqlite-store.js'
import type { Store } from '../../src/server/store/store.js'
import type { InboxOp, MarkReadOp, ResultOf, StoreOp, SyncItemView, SyncOp } from '../../src/session/store-ops.js'

const dirs: string[] = []
t.teardown(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'imwire-read-store-'))
  dirs.push(d)
  return d
}

const impls: [string, () => Promise<Store>][] = [
  ['memory', async () => createMemoryStore()],
  ['sqlite', () => openSqliteStore({ dataDir: tempDir(), worker: false })],
]

let n = 0
const cmid = (): Uint8Array => {
  const b = new Uint8Array(16)
  new DataView(b.buffer).setUint32(0, ++n)
  return b
}

/** A store with helpers that throw on a refusal where success is expected. */
class S {
  constructor(readonly s: Store) {}
  run<O extends StoreOp>(op: O): Promise<ResultOf<O>> {
    return this.s.run(op)
  }
  async ok<O extends StoreOp>(op: O): Promise<Extract<ResultOf<O>, { ok: true }>> {
    const r = await this.s.run(op)
    if (!r.ok) throw new Error(`${op.op} failed: ${'message' in r ? r.message : JSON.stringify(r)}`)
    return r as Extract<ResultOf<O>, { ok: true }>
  }
  create(id: string, owner: string, members: string[], kind = ConversationKind.GROUP) {
    return this.ok({
      op: 'create',
      userId: owner,
      deviceId: `${owner}-d`,
      conversationId: id,
      kind,
      members,
      title: '',
      maxMembers: 1000,
    })
  }
  async send(conv: string, user: string, body = 'hi', nowMs = 1000): Promise<number> {
    const r = await this.ok({
      op: 'send',
      userId: user,
      deviceId: `${user}-d`,
      conversationId: conv,
      clientMsgId: cmid(),
      sendSeq: 0,
      contentType: 'text/plain',
      body: new TextEncoder().encode(body),
      nowMs,
    })
    return r.message.seq
  }
  markRead(conv: string, user: string, upToSeq: number, over: Partial<MarkReadOp> = {}) {
    return this.run({
      op: 'markRead',
      userId: user,
      deviceId: `${user}-d`,
      conversationId: conv,
      epoch: 1,
      upToSeq,
      ...over,
    })
  }
  inbox(user: string, over: Partial<InboxOp> = {}) {
    return this.ok({
      op: 'inbox',
      userId: user,
      deviceId: `${user}-d`,
      beforeActivity: 0,
      limit: 100,
      includeMembers: false,
      previewBytes: 256,
      ...over,
    })
  }
  sync(user: string, since: number, over: Partial<SyncOp> = {}) {
    return this.run({
      op: 'sync',
      userId: user,
      deviceId: `${user}-d`,
      since,
      limit: 100,
      includeMembers: false,
      previewBytes: 256,
      ...over,
    })
  }
  members(op: 'addMembers' | 'removeMembers', conv: string, owner: string, userIds: string[]) {
    return this.ok({ op, userId: owner, deviceId: `${owner}-d`, conversationId: conv, userIds, maxMembers: 1000 })
  }
  leave(conv: string, user: string) {
    return this.ok({ op: 'leave', userId: user, deviceId: `${user}-d`, conversationId: conv })
  }
  /** The user's unread count and read position in a conversation, from the listing. */
  async read(conv: string, user: string): Promise<[number, number]> {
    const r = await this.ok({ op: 'list', userId: user, deviceId: `${user}-d`, afterConversationId: '', limit: 1000 })
    const v = r.conversations.find((c) => c.conversationId === conv)
    if (v === undefined) throw new Error(`${user} is not in ${conv}`)
    return [v.readSeq, v.unreadCount]
  }
  history(conv: string, backward: boolean, anchorTimeMs: number, limit: number) {
    return this.ok({
      op: 'history',
      userId: 'alice',
      deviceId: 'alice-d',
      conversationId: conv,
      backward,
      anchorSeq: 0,
      anchorTimeMs,
      limit,
    })
  }
}

const ids = (items: SyncItemView[]) =>
  items.map((i) => (i.entry !== undefined ? i.entry.conversationId : `-${i.removed}`))

for (const [name, open] of impls) {
  t.test(name, async (t) => {
    const fresh = async (t: Test): Promise<S> => {
      const s = await open()
      t.teardown(() => s.close())
      return new S(s)
    }

    t.test(
      'a read position only grows, is idempotent, bounded by top_seq and ignores another epoch [RD-2] [RD-3]',
      async (t) => {
        const s = await fresh(t)
        await s.create('g1', 'alice', ['bob'])
        for (let i = 0; i < 3; i++) await s.send('g1', 'alice')
        const moved = await s.markRead('g1', 'bob', 2)
        t.match(moved, { ok: true, moved: true, state: { readSeq: 2, topSeq: 3, unreadCount: 1, epoch: 1 } })
        t.match(moved, { readNotices: { userId: 'bob', exceptDeviceId: 'bob-d', peerUserId: null } })
        t.match(await s.markRead('g1', 'bob', 2), { ok: true, moved: false, readNotices: null, state: { readSeq: 2 } })
        t.match(await s.markRead('g1', 'bob', 1), { ok: true, moved: false, state: { readSeq: 2 } })
        t.match(await s.markRead('g1', 'bob', 4), { ok: false, code: ErrorCode.BAD_REQUEST })
        t.match(await s.markRead('g1', 'bob', 3, { epoch: 2 }), { ok: true, moved: false, state: { readSeq: 2 } })
        t.match(await s.markRead('g1', 'carol', 1), { ok: false, code: ErrorCode.CONVERSATION_NOT_FOUND })
        t.match(await s.markRead('nope', 'bob', 1), { ok: false, code: ErrorCode.CONVERSATION_NOT_FOUND })
        // A delivery ack never moves the read position. [RD-2]
        await s.ok({ op: 'ack', userId: 'bob', deviceId: 'bob-d', conversationId: 'g1', upToSeq: 3 })
        t.same(await s.read('g1', 'bob'), [2, 1])
      },
    )

    t.test('the epoch check comes before the top_seq bound [RD-3]', async (t) => {
      const s = await fresh(t)
      await s.create('g1', 'alice', ['bob'])
      t.match(await s.markRead('g1', 'bob', 9, { epoch: 7 }), { ok: true, moved: false })
    })

    t.test('unread is exact under concurrent senders, own messages excluded [RD-5]', async (t) => {
      const s = await fresh(t)
      await s.create('g1', 'alice', ['bob', 'carol'])
      await s.send('g1', 'alice') // 1
      await s.send('g1', 'bob') // 2
      await s.send('g1', 'carol') // 3
      await s.send('g1', 'bob') // 4
      t.same(await s.read('g1', 'bob'), [0, 2])
      t.same(await s.read('g1', 'alice'), [0, 3])
      await s.markRead('g1', 'bob', 3)
      t.same(await s.read('g1', 'bob'), [3, 0], 'bob: seq 4 is his own')
      await s.send('g1', 'alice') // 5
      t.same(await s.read('g1', 'bob'), [3, 1])
      await s.markRead('g1', 'bob', 5)
      t.same(await s.read('g1', 'bob'), [5, 0])
    })

    t.test('a join sets the read position to top_seq, also a re-add after a removal [RD-2]', async (t) => {
      const s = await fresh(t)
      await s.create('g1', 'alice', ['bob'])
      await s.send('g1', 'alice')
      await s.send('g1', 'alice')
      await s.members('addMembers', 'g1', 'alice', ['carol'])
      t.same(await s.read('g1', 'carol'), [2, 0])
      await s.send('g1', 'alice')
      t.same(await s.read('g1', 'carol'), [2, 1])
      await s.members('removeMembers', 'g1', 'alice', ['carol'])
      await s.send('g1', 'alice')
      await s.members('addMembers', 'g1', 'alice', ['carol'])
      t.same(await s.read('g1', 'carol'), [4, 0])
    })

    t.test('a DIRECT read names the peer for PeerRead; a GROUP read does not [RD-4]', async (t) => {
      const s = await fresh(t)
      await s.create('d1', 'alice', ['bob'], ConversationKind.DIRECT)
      await s.send('d1', 'alice')
      t.match(await s.markRead('d1', 'bob', 1), { readNotices: { userId: 'bob', peerUserId: 'alice' } })
    })

    t.test('a read count counts current members other than the sender whose position covers seq [RD-7]', async (t) => {
      const s = await fresh(t)
      await s.create('g1', 'alice', ['bob', 'carol', 'dave'])
      await s.send('g1', 'alice') // 1
      await s.send('g1', 'bob') // 2
      await s.markRead('g1', 'bob', 2)
      await s.markRead('g1', 'carol', 1)
      const rc = (seq: number, user = 'alice') =>
        s.run({ op: 'readCount', userId: user, deviceId: 'x', conversationId: 'g1', seq })
      t.match(await rc(1), { ok: true, readCount: 2, memberCount: 3 })
      t.match(await rc(2), { ok: true, readCount: 0, memberCount: 3 }, 'bob is the sender of 2: not counted')
      await s.markRead('g1', 'alice', 2)
      t.match(await rc(2), { ok: true, readCount: 1, memberCount: 3 })
      await s.members('removeMembers', 'g1', 'alice', ['carol'])
      t.match(await rc(1), { ok: true, readCount: 1, memberCount: 2 }, 'carol no longer counts')
      t.match(await rc(0), { ok: false, code: ErrorCode.BAD_REQUEST })
      t.match(await rc(3), { ok: false, code: ErrorCode.BAD_REQUEST })
      t.match(await rc(1, 'carol'), { ok: false, code: ErrorCode.CONVERSATION_NOT_FOUND })
    })

    t.test('the inbox is by activity descending, keyset-paged, with exact has_more [INB-2] [INB-3]', async (t) => {
      const s = await fresh(t)
      for (const id of ['c1', 'c2', 'c3', 'c4']) await s.create(id, 'alice', ['bob'])
      await s.send('c2', 'bob')
      await s.send('c1', 'bob')
      const all = await s.inbox('alice')
      t.same(
        all.entries.map((e) => e.conversationId),
        ['c1', 'c2', 'c4', 'c3'],
      )
      t.equal(all.hasMore, false)
      const activities = all.entries.map((e) => e.activity)
      t.same([...new Set(activities)].length, 4, 'activity values are unique')
      const p1 = await s.inbox('alice', { limit: 2 })
      t.same([p1.entries.map((e) => e.conversationId), p1.hasMore], [['c1', 'c2'], true])
      const p2 = await s.inbox('alice', { limit: 2, beforeActivity: p1.entries[1]?.activity as number })
      t.same([p2.entries.map((e) => e.conversationId), p2.hasMore], [['c4', 'c3'], false])
      t.same((await s.inbox('carol')).entries, [])
    })

    t.test('an inbox entry carries the read state, members, preview and peer position [INB-3] [RD-5]', async (t) => {
      const s = await fresh(t)
      const many = Array.from({ length: 8 }, (_, i) => `u${i}`)
      await s.create('big', 'alice', many) // 9 members
      await s.create('d1', 'alice', ['bob'], ConversationKind.DIRECT)
      await s.send('d1', 'bob', 'x'.repeat(300))
      await s.send('d1', 'alice', 'hello world')
      await s.markRead('d1', 'bob', 1)
      await s.markRead('d1', 'alice', 1)
      const page = await s.inbox('alice', { previewBytes: 5 })
      const d = page.entries.find((e) => e.conversationId === 'd1')
      t.match(d, {
        kind: ConversationKind.DIRECT,
        topSeq: 2,
        readSeq: 1,
        unreadCount: 0,
        memberCount: 2,
        members: ['alice', 'bob'],
        lastMessageBodyBytes: 11,
        peerReadSeq: 1,
        lastMessage: { seq: 2, senderUserId: 'alice' },
      })
      t.equal(new TextDecoder().decode(d?.lastMessage?.body), 'hello')
      const big = page.entries.find((e) => e.conversationId === 'big')
      t.match(big, { memberCount: 9, members: [], lastMessage: null, lastMessageBodyBytes: 0, peerReadSeq: 0 })
      const withMembers = await s.inbox('alice', { includeMembers: true })
      t.equal(withMembers.entries.find((e) => e.conversationId === 'big')?.members.length, 9)
    })

    t.test('sync reports what changed after a point, oldest first, paged by change [INB-4] [INB-5]', async (t) => {
      const s = await fresh(t)
      for (const id of ['c1', 'c2', 'c3']) await s.create(id, 'alice', ['bob'])
      const point = (await s.inbox('alice')).syncPoint
      t.match(await s.sync('alice', point), { ok: true, items: [], hasMore: false, current: point })
      await s.send('c3', 'bob')
      await s.markRead('c1', 'alice', 0) // moves nothing: no change
      await s.send('c1', 'bob')
      await s.markRead('c3', 'alice', 1) // alice's own read move
      await s.markRead('c1', 'bob', 1) // another member of a GROUP: no change for alice [INB-5]
      const r = await s.sync('alice', point)
      if (!r.ok) throw new Error('sync failed')
      t.same(ids(r.items), ['c1', 'c3'], 'c3 last: its read move is the latest change')
      t.equal(r.hasMore, false)
      const p1 = await s.sync('alice', point, { limit: 1 })
      if (!p1.ok) throw new Error('sync failed')
      t.same([ids(p1.items), p1.hasMore], [['c1'], true])
      const p2 = await s.sync('alice', p1.items[0]?.change as number, { limit: 1 })
      if (!p2.ok) throw new Error('sync failed')
      t.same([ids(p2.items), p2.hasMore], [['c3'], false])
      t.equal(p2.current, r.current)
      t.match(await s.sync('alice', r.current + 1), { ok: false, code: ErrorCode.BAD_REQUEST })
    })

    t.test(
      'a DIRECT peer read is a change for sync; removals are tombstones; a full sync lists none [INB-5] [INB-6]',
      async (t) => {
        const s = await fresh(t)
        await s.create('d1', 'alice', ['bob'], ConversationKind.DIRECT)
        await s.create('g1', 'alice', ['bob', 'carol'])
        await s.send('d1', 'alice')
        const point = (await s.inbox('bob')).syncPoint
        await s.markRead('d1', 'bob', 1)
        t.match(await s.sync('alice', point), { items: [{ entry: { conversationId: 'd1', peerReadSeq: 1 } }] })
        await s.members('removeMembers', 'g1', 'alice', ['bob'])
        await s.send('g1', 'alice') // after the removal: not bob's change
        const r = await s.sync('bob', point)
        if (!r.ok) throw new Error('sync failed')
        t.same(ids(r.items), ['d1', '-g1'])
        t.match(await s.sync('carol', point), { items: [{ entry: { conversationId: 'g1' } }] })
        t.same(ids(((await s.sync('bob', 0)) as { items: SyncItemView[] }).items), ['d1'], 'since 0: no removals')
        await s.leave('g1', 'carol')
        t.same(ids(((await s.sync('carol', point)) as { items: SyncItemView[] }).items), ['-g1'])
        await s.members('addMembers', 'g1', 'alice', ['bob'])
        t.same(
          ids(((await s.sync('bob', point)) as { items: SyncItemView[] }).items),
          ['d1', 'g1'],
          're-added: an entry',
        )
      },
    )

    t.test('time-anchored history splits at the anchor, equal times going forward [HIS-10] [HIS-11]', async (t) => {
      const s = await fresh(t)
      await s.create('g1', 'alice', ['bob'])
      // The spec's worked example: times 100, 200, 200, 200, 300.
      for (const ts of [100, 200, 200, 200, 300]) await s.send('g1', 'alice', 'm', ts)
      const seqs = async (backward: boolean, at: number) => {
        const r = await s.history('g1', backward, at, 2)
        return [r.messages.map((m) => m.seq), r.hasMore]
      }
      t.same(await seqs(false, 200), [[2, 3], true])
      t.same(await seqs(false, 250), [[5], false])
      t.same(await seqs(false, 301), [[], false])
      t.same(await seqs(true, 200), [[1], false])
      t.same(await seqs(true, 201), [[3, 4], true])
      t.same(await seqs(true, 50), [[], false])
      t.same(await seqs(false, 1), [[1, 2], true])
    })

    t.test('a clock that steps back commits the previous message time [HIS-11]', async (t) => {
      const s = await fresh(t)
      await s.create('g1', 'alice', ['bob'])
      await s.send('g1', 'alice', 'a', 500)
      await s.send('g1', 'alice', 'b', 400)
      const r = await s.history('g1', false, 0, 10)
      t.same(
        r.messages.map((m) => m.serverTimeMs),
        [500, 500],
      )
    })
  })
}

t.test('migration 2 gives existing conversations distinct activity and existing members read rows at 0', async (t) => {
  const dir = tempDir()
  const db = new Database(join(dir, DB_FILE))
  db.exec(MIGRATIONS[0] as string)
  db.pragma('user_version = 1')
  const ins = db.prepare('INSERT INTO conversations (id, kind, owner, title, epoch, top_seq) VALUES (?, 2, ?, ?, 1, ?)')
  ins.run('old1', 'alice', '', 2)
  ins.run('old2', 'alice', '', 0)
  for (const [c, u] of [
    ['old1', 'alice'],
    ['old1', 'bob'],
    ['old2', 'alice'],
  ]) {
    db.prepare('INSERT INTO members (conv, user) VALUES (?, ?)').run(c, u)
  }
  const msg = db.prepare(
    `INSERT INTO messages (conv, seq, message_id, sender_user, sender_device, client_msg_id, ts, content_type, body)
     VALUES ('old1', ?, ?, ?, 'd', ?, ?, 'text/plain', x'00')`,
  )
  msg.run(1, 'm1', 'alice', Buffer.from([1]), 100)
  msg.run(2, 'm2', 'bob', Buffer.from([2]), 200)
  db.close()
  const s = new S(await openSqliteStore({ dataDir: dir, worker: false }))
  t.teardown(() => s.s.close())
  t.same(await s.read('old1', 'alice'), [0, 1], 'her own message is not unread')
  t.same(await s.read('old1', 'bob'), [0, 1])
  const page = await s.inbox('alice')
  t.same(
    page.entries.map((e) => [e.conversationId, e.activity]),
    [
      ['old1', 2],
      ['old2', 1],
    ],
  )
  t.equal(page.syncPoint, 2)
  await s.create('new', 'alice', [])
  t.equal((await s.inbox('alice')).entries[0]?.activity, 3, 'the change counter continues above the migrated ones')
})
