// The store's rules, run against every implementation (same table of tests):
// memory and SQLite. SQLite runs the table on the main thread; the worker
// thread (the server's default) runs the same SqliteRunner behind a message
// port, so it gets the tests that exercise grouping and ordering across that
// port (a worker costs ~1.5 s to start under the test TypeScript loader).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { ConversationKind, UpdateReason } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { ErrorCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { DB_FILE, createMemoryStore, openSqliteStore } from '../../src/server/store/sqlite-store.js'
import { SCHEMA_VERSION } from '../../src/server/store/sqlite-schema.js'
import type { Store } from '../../src/server/store/store.js'
import type { SendOp } from '../../src/session/store-ops.js'

const dirs: string[] = []
t.teardown(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'imwire-store-'))
  dirs.push(d)
  return d
}

const impls: [string, () => Promise<Store>, RegExp | null][] = [
  ['memory', async () => createMemoryStore(), null],
  ['sqlite', () => openSqliteStore({ dataDir: tempDir(), worker: false }), null],
  ['sqlite-worker', () => openSqliteStore({ dataDir: tempDir() }), /ORD-1\]|DUP-4\]|DLV-8\]/],
]

let n = 0
const cmid = (): Uint8Array => {
  const b = new Uint8Array(16)
  new DataView(b.buffer).setUint32(0, ++n)
  return b
}
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

function sendOp(over: Partial<SendOp> = {}): SendOp {
  return {
    op: 'send',
    userId: 'alice',
    deviceId: 'a1',
    conversationId: 'g1',
    clientMsgId: cmid(),
    sendSeq: 0,
    contentType: 'text/plain',
    body: text('hi'),
    nowMs: 1000,
    ...over,
  }
}

async function group(s: Store, id = 'g1', members = ['bob', 'carol'], owner = 'alice'): Promise<void> {
  const r = await s.run({
    op: 'create',
    userId: owner,
    deviceId: `${owner}-d`,
    conversationId: id,
    kind: ConversationKind.GROUP,
    members,
    title: '',
    maxMembers: 1000,
  })
  if (!r.ok) throw new Error(`create failed: ${r.message}`)
}

for (const [name, open, only] of impls) {
  t.test(name, async (tt) => {
    // A subset for the worker: the test() below skips names that do not match.
    const t = {
      test: (title: string, fn: (t: Test) => Promise<void>) =>
        only === null || only.test(title) ? tt.test(title, fn) : undefined,
    }
    t.test(
      'assigns dense seqs from 1 in commit order and returns the members for fan-out [ORD-1] [FAN-1]',
      async (t) => {
        const s = await open()
        t.teardown(() => s.close())
        await group(s)
        const results = await Promise.all(Array.from({ length: 50 }, () => s.run(sendOp())))
        t.same(
          results.map((r) => (r.ok ? r.message.seq : -1)),
          Array.from({ length: 50 }, (_, i) => i + 1),
        )
        const first = results[0]
        t.ok(first?.ok && !first.duplicate)
        t.same(first?.ok ? first.members : [], ['alice', 'bob', 'carol'])
      },
    )

    t.test(
      'answers a retry with the original seq, id and time, marked duplicate, no members [DUP-2] [FAN-2]',
      async (t) => {
        const s = await open()
        t.teardown(() => s.close())
        await group(s)
        const op = sendOp()
        const a = await s.run(op)
        await s.run(sendOp())
        // Same key from another device of the same user, later. [DUP-1]
        const b = await s.run({ ...op, deviceId: 'a2', nowMs: 9999 })
        t.ok(a.ok && b.ok)
        if (!a.ok || !b.ok) return
        t.equal(b.duplicate, true)
        t.equal(b.message.seq, a.message.seq)
        t.equal(b.message.messageId, a.message.messageId)
        t.equal(b.message.serverTimeMs, a.message.serverTimeMs)
        t.same(b.members, [])
      },
    )

    t.test('keeps every byte of many sends in one commit group; ack, retry and history agree [DLV-8]', async (t) => {
      const s = await open()
      t.teardown(() => s.close())
      await group(s)
      // Bodies are views into one larger buffer, as they come off a socket.
      const chunk = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7 + 3) & 0xff)
      const ops = Array.from({ length: 20 }, (_, i) =>
        sendOp({ body: chunk.subarray(i * 100, i * 100 + i * 13), contentType: `t/${i}`, nowMs: 5000 + i }),
      )
      const acks = await Promise.all(ops.map((op) => s.run(op)))
      const retries = await Promise.all(ops.map((op) => s.run({ ...op, body: op.body.slice() })))
      const page = await s.run({
        op: 'history',
        userId: 'bob',
        deviceId: 'b1',
        conversationId: 'g1',
        backward: false,
        anchorSeq: 0,
        limit: 100,
      })
      const view = (m: { clientMsgId: Uint8Array; body: Uint8Array; contentType: string; serverTimeMs: number }) => [
        Buffer.from(m.clientMsgId).toString('hex'),
        Buffer.from(m.body).toString('hex'),
        m.contentType,
        m.serverTimeMs,
      ]
      const want = ops.map((op) => [
        Buffer.from(op.clientMsgId).toString('hex'),
        Buffer.from(op.body).toString('hex'),
        op.contentType,
        op.nowMs,
      ])
      t.same(
        acks.map((r) => (r.ok ? view(r.message) : null)),
        want,
        'acks',
      )
      t.same(
        retries.map((r) => (r.ok && r.duplicate ? view(r.message) : null)),
        want,
        'retries',
      )
      t.same(page.ok ? page.messages.map(view) : null, want, 'history')
      t.same(
        acks.map((r) => (r.ok ? [r.message.senderUserId, r.message.senderDeviceId, r.message.conversationId] : null)),
        ops.map(() => ['alice', 'a1', 'g1']),
      )
    })

    t.test('a duplicate in the same commit group waits for the original [DUP-4]', async (t) => {
      const s = await open()
      t.teardown(() => s.close())
      await group(s)
      const op = sendOp()
      const [a, b] = await Promise.all([s.run(op), s.run({ ...op })])
      t.ok(a.ok && !a.duplicate)
      t.ok(b.ok && b.duplicate && a.ok && b.message.seq === a.message.seq)
    })

    t.test('refuses the same key with another conversation, type or body [DUP-3]', async (t) => {
      const s = await open()
      t.teardown(() => s.close())
      await group(s)
      await group(s, 'g2')
      const op = sendOp()
      await s.run(op)
      for (const change of [{ body: text('other') }, { contentType: 'x/y' }, { conversationId: 'g2' }]) {
        const r = await s.run({ ...op, ...change })
        t.equal(r.ok ? 0 : r.code, ErrorCode.IDEMPOTENCY_CONFLICT)
      }
    })

    t.test('refuses a non-member and an unknown conversation alike [SND-2]', async (t) => {
      const s = await open()
      t.teardown(() => s.close())
      await group(s)
      const r1 = await s.run(sendOp({ userId: 'mallory' }))
      const r2 = await s.run(sendOp({ conversationId: 'nope' }))
      t.equal(r1.ok ? 0 : r1.code, ErrorCode.CONVERSATION_NOT_FOUND)
      t.equal(r2.ok ? 0 : r2.code, ErrorCode.CONVERSATION_NOT_FOUND)
    })

    t.test('a refused send leaves no dedupe record; the retry is evaluated afresh [DUP-6]', async (t) => {
      const s = await open()
      t.teardown(() => s.close())
      const op = sendOp()
      const r1 = await s.run(op)
      t.equal(r1.ok ? 0 : r1.code, ErrorCode.CONVERSATION_NOT_FOUND)
      await group(s)
      const r2 = await s.run(op)
      t.ok(r2.ok && !r2.duplicate && r2.message.seq === 1)
    })

    t.test(
      'send_seq: accepts last+1, refuses gaps with the expected value and reuse [ORD-2] [ORD-3] [ORD-4] [ORD-5]',
      async (t) => {
        const s = await open()
        t.teardown(() => s.close())
        await group(s)
        const gap = await s.run(sendOp({ sendSeq: 2 }))
        t.equal(gap.ok ? 0 : gap.code, ErrorCode.SEND_OUT_OF_ORDER)
        t.equal(gap.ok ? 0 : gap.expectedSendSeq, 1)
        const first = sendOp({ sendSeq: 1 })
        t.ok((await s.run(first)).ok)
        t.ok((await s.run(sendOp({ sendSeq: 2 }))).ok)
        const reuse = await s.run(sendOp({ sendSeq: 2 }))
        t.equal(reuse.ok ? 0 : reuse.code, ErrorCode.SEND_SEQ_REUSED)
        // Dedupe runs before the send_seq check: a retry of seq 1 is a duplicate.
        const retry = await s.run(first)
        t.ok(retry.ok && retry.duplicate)
        // Huge values are simply out of order.
        const huge = await s.run(sendOp({ sendSeq: Number.POSITIVE_INFINITY }))
        t.equal(huge.ok ? 0 : huge.expectedSendSeq, 3)
        // send_seq 0 opts out.
        t.ok((await s.run(sendOp({ sendSeq: 0 }))).ok)
        // Per device and per conversation.
        t.ok((await s.run(sendOp({ sendSeq: 1, deviceId: 'a2' }))).ok)
      },
    )

    t.test(
      'acks move one cursor per device, ignore regressions and non-members, flag too high [DLV-2] [DLV-3] [DLV-4]',
      async (t) => {
        const s = await open()
        t.teardown(() => s.close())
        await group(s)
        for (let i = 0; i < 5; i++) await s.run(sendOp())
        const ack = (upToSeq: number, userId = 'bob', conversationId = 'g1') =>
          s.run({ op: 'ack', userId, deviceId: 'b1', conversationId, upToSeq })
        t.equal((await ack(3)).outcome, 'moved')
        t.equal((await ack(2)).outcome, 'ignored')
        t.equal((await ack(3)).outcome, 'ignored')
        t.equal((await ack(6)).outcome, 'tooHigh')
        t.equal((await ack(1, 'mallory')).outcome, 'ignored')
        t.equal((await ack(1, 'bob', 'nope')).outcome, 'ignored')
        const list = await s.run({ op: 'list', userId: 'bob', deviceId: 'b1', afterConversationId: '', limit: 10 })
        t.equal(list.conversations[0]?.cursor, 3)
        const other = await s.run({ op: 'list', userId: 'bob', deviceId: 'b2', afterConversationId: '', limit: 10 })
        t.equal(other.conversations[0]?.cursor, 0)
      },
    )

    t.test('openDevice snapshots positions and applies resume positions as acks [RSM-1] [RSM-4]', async (t) => {
      const s = await open()
      t.teardown(() => s.close())
      await group(s, 'g1')
      await group(s, 'g2')
      await group(s, 'g3', ['carol'])
      for (let i = 0; i < 4; i++) await s.run(sendOp())
      await s.run(sendOp({ conversationId: 'g2' }))
      const base = { op: 'openDevice' as const, userId: 'bob', deviceId: 'b1', nowMs: 1 }
      const r = await s.run({
        ...base,
        resume: [
          { conversationId: 'g1', seq: 2, epoch: 1 },
          { conversationId: 'g2', seq: 1, epoch: 7 },
          { conversationId: 'g3', seq: 99, epoch: 1 }, // not a member: ignored
        ],
      })
      t.ok(r.ok)
      if (!r.ok) return
      t.same(r.conversations, [
        { conversationId: 'g1', epoch: 1, topSeq: 4, cursor: 2, epochChanged: false },
        { conversationId: 'g2', epoch: 1, topSeq: 1, cursor: 0, epochChanged: true },
      ])
      const high = await s.run({ ...base, resume: [{ conversationId: 'g1', seq: 5, epoch: 1 }] })
      t.same(high, { ok: false, ackTooHigh: 'g1' })
    })

    t.test("replay reads skip the device's own messages and stop at the snapshot top [DLV-5] [RSM-1]", async (t) => {
      const s = await open()
      t.teardown(() => s.close())
      await group(s)
      await s.run(sendOp())
      await s.run(sendOp({ userId: 'bob', deviceId: 'b1' }))
      await s.run(sendOp({ userId: 'bob', deviceId: 'b2' }))
      await s.run(sendOp())
      const r = await s.run({
        op: 'readReplay',
        conversationId: 'g1',
        afterSeq: 0,
        upToSeq: 3,
        limit: 10,
        excludeUserId: 'bob',
        excludeDeviceId: 'b1',
      })
      t.same(
        r.messages.map((m) => m.seq),
        [1, 3],
      )
    })

    t.test(
      'history pages forward and backward with has_more; non-members get NOT_FOUND [HIS-1] [HIS-3] [HIS-4]',
      async (t) => {
        const s = await open()
        t.teardown(() => s.close())
        await group(s)
        for (let i = 0; i < 10; i++) await s.run(sendOp())
        const h = (backward: boolean, anchorSeq: number, limit: number, userId = 'bob') =>
          s.run({ op: 'history', userId, deviceId: 'b1', conversationId: 'g1', backward, anchorSeq, limit })
        const seqs = (r: Awaited<ReturnType<typeof h>>) => (r.ok ? [r.messages.map((m) => m.seq), r.hasMore] : r.code)
        t.same(seqs(await h(false, 0, 4)), [[1, 2, 3, 4], true])
        t.same(seqs(await h(false, 8, 4)), [[9, 10], false])
        t.same(seqs(await h(true, 0, 3)), [[8, 9, 10], true])
        t.same(seqs(await h(true, 4, 5)), [[1, 2, 3], false])
        t.same(seqs(await h(true, 0, 10)), [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], false])
        t.equal(seqs(await h(false, 0, 4, 'mallory')), ErrorCode.CONVERSATION_NOT_FOUND)
        const r = await h(false, 0, 1)
        t.equal(r.ok && r.topSeq, 10)
        t.equal(r.ok && r.epoch, 1)
        const m = r.ok ? r.messages[0] : undefined
        t.equal(m?.senderUserId, 'alice')
        t.equal(m?.contentType, 'text/plain')
        t.same(m && [...m.body], [...text('hi')])
      },
    )

    t.test('lists conversations ascending by id, paged, with this device cursor [HIS-5]', async (t) => {
      const s = await open()
      t.teardown(() => s.close())
      for (const id of ['c', 'a', 'b']) await group(s, id)
      const p1 = await s.run({ op: 'list', userId: 'bob', deviceId: 'b1', afterConversationId: '', limit: 2 })
      t.same(
        p1.conversations.map((c) => c.conversationId),
        ['a', 'b'],
      )
      t.equal(p1.hasMore, true)
      const p2 = await s.run({ op: 'list', userId: 'bob', deviceId: 'b1', afterConversationId: 'b', limit: 2 })
      t.same(
        p2.conversations.map((c) => c.conversationId),
        ['c'],
      )
      t.equal(p2.hasMore, false)
      const c = p2.conversations[0]
      t.same([c?.kind, c?.owner, c?.members], [ConversationKind.GROUP, 'alice', ['alice', 'bob', 'carol']])
    })

    t.test(
      'create is idempotent for the same settings, ALREADY_EXISTS otherwise, and notifies [CNV-1] [CNV-2] [CNV-6]',
      async (t) => {
        const s = await open()
        t.teardown(() => s.close())
        const op = {
          op: 'create' as const,
          userId: 'alice',
          deviceId: 'a1',
          conversationId: 'd1',
          kind: ConversationKind.DIRECT,
          members: ['bob'],
          title: '',
          maxMembers: 1000,
        }
        const r1 = await s.run(op)
        t.ok(r1.ok)
        t.same(r1.ok ? r1.notices : [], [
          { userId: 'alice', reason: UpdateReason.JOINED, exceptDeviceId: 'a1' },
          { userId: 'bob', reason: UpdateReason.JOINED },
        ])
        const again = await s.run(op)
        t.ok(again.ok && again.notices.length === 0 && again.conversation.members.join() === 'alice,bob')
        const other = await s.run({ ...op, kind: ConversationKind.GROUP })
        t.equal(other.ok ? 0 : other.code, ErrorCode.ALREADY_EXISTS)
        const byBob = await s.run({ ...op, userId: 'bob', members: ['alice'] })
        t.equal(byBob.ok ? 0 : byBob.code, ErrorCode.ALREADY_EXISTS)
      },
    )

    t.test('membership changes follow the rules and notify [CNV-3] [CNV-4] [CNV-5] [CNV-6] [CNV-8]', async (t) => {
      const s = await open()
      t.teardown(() => s.close())
      await group(s, 'g1', ['bob'])
      const members = (op: 'addMembers' | 'removeMembers', userId: string, userIds: string[], maxMembers = 1000) =>
        s.run({ op, userId, deviceId: `${userId}-d`, conversationId: 'g1', userIds, maxMembers })
      const code = (r: { ok: boolean; code?: number }) => (r.ok ? 0 : r.code)
      t.equal(code(await members('addMembers', 'mallory', ['x'])), ErrorCode.CONVERSATION_NOT_FOUND)
      t.equal(code(await members('addMembers', 'bob', ['x', 'y'], 3)), ErrorCode.BAD_REQUEST)
      const add = await members('addMembers', 'bob', ['carol', 'alice'])
      t.same(add.ok ? add.notices : [], [
        { userId: 'carol', reason: UpdateReason.JOINED },
        { userId: 'alice', reason: UpdateReason.MEMBERS_CHANGED },
        { userId: 'bob', reason: UpdateReason.MEMBERS_CHANGED, exceptDeviceId: 'bob-d' },
      ])
      t.equal(code(await members('removeMembers', 'bob', ['carol'])), ErrorCode.FORBIDDEN)
      t.equal(code(await members('removeMembers', 'alice', ['alice'])), ErrorCode.BAD_REQUEST)
      const rm = await members('removeMembers', 'alice', ['carol', 'nobody'])
      t.same(rm.ok ? rm.conversation.members : [], ['alice', 'bob'])
      t.same(rm.ok ? rm.notices.map((x) => [x.userId, x.reason]) : [], [
        ['carol', UpdateReason.REMOVED],
        ['alice', UpdateReason.MEMBERS_CHANGED],
        ['bob', UpdateReason.MEMBERS_CHANGED],
      ])
      const leave = await s.run({ op: 'leave', userId: 'alice', deviceId: 'alice-d', conversationId: 'g1' })
      t.same(leave.ok ? [leave.conversation.owner, leave.conversation.members] : [], ['bob', ['bob']])
      t.same(leave.ok ? leave.notices.map((x) => [x.userId, x.reason, x.exceptDeviceId]) : [], [
        ['alice', UpdateReason.REMOVED, 'alice-d'],
        ['bob', UpdateReason.MEMBERS_CHANGED, undefined],
      ])
      const last = await s.run({ op: 'leave', userId: 'bob', deviceId: 'bob-d', conversationId: 'g1' })
      t.same(last.ok ? [last.conversation.owner, last.conversation.members] : [], ['', []])
      // Direct conversations have fixed members.
      await s.run({
        op: 'create',
        userId: 'alice',
        deviceId: 'a',
        conversationId: 'd1',
        kind: ConversationKind.DIRECT,
        members: ['bob'],
        title: '',
        maxMembers: 1000,
      })
      const d = (op: 'addMembers' | 'removeMembers') =>
        s.run({ op, userId: 'alice', deviceId: 'a', conversationId: 'd1', userIds: ['carol'], maxMembers: 1000 })
      t.equal(code(await d('addMembers')), ErrorCode.FORBIDDEN)
      t.equal(code(await d('removeMembers')), ErrorCode.FORBIDDEN)
      t.equal(
        code(await s.run({ op: 'leave', userId: 'alice', deviceId: 'a', conversationId: 'd1' })),
        ErrorCode.FORBIDDEN,
      )
    })

    t.test('a re-added user keeps the cursor of its earlier membership [CNV-7] [DLV-7]', async (t) => {
      const s = await open()
      t.teardown(() => s.close())
      await group(s)
      await s.run(sendOp())
      await s.run({ op: 'ack', userId: 'bob', deviceId: 'b1', conversationId: 'g1', upToSeq: 1 })
      const base = { userId: 'alice', deviceId: 'a1', conversationId: 'g1', userIds: ['bob'], maxMembers: 1000 }
      await s.run({ op: 'removeMembers', ...base })
      await s.run({ op: 'addMembers', ...base })
      const r = await s.run({ op: 'openDevice', userId: 'bob', deviceId: 'b1', resume: [], nowMs: 1 })
      t.equal(r.ok ? r.conversations[0]?.cursor : -1, 1)
    })

    t.test('membership is checked before dedupe: a removed sender retrying gets NOT_FOUND [SND-6]', async (t) => {
      const s = await open()
      t.teardown(() => s.close())
      await group(s)
      const op = sendOp({ userId: 'bob', deviceId: 'b1' })
      t.ok((await s.run(op)).ok)
      await s.run({
        op: 'removeMembers',
        userId: 'alice',
        deviceId: 'a1',
        conversationId: 'g1',
        userIds: ['bob'],
        maxMembers: 1000,
      })
      const retry = await s.run(op)
      t.equal(retry.ok ? 0 : retry.code, ErrorCode.CONVERSATION_NOT_FOUND)
    })

    t.test('message ids have the id syntax and are never reused [ACK-5]', async (t) => {
      const s = await open()
      t.teardown(() => s.close())
      await group(s, 'g1')
      await group(s, 'g2')
      const ids: string[] = []
      for (let i = 0; i < 5; i++) {
        for (const conversationId of ['g1', 'g2']) {
          const r = await s.run(sendOp({ conversationId }))
          if (r.ok) ids.push(r.message.messageId)
        }
      }
      t.equal(new Set(ids).size, 10)
      for (const id of ids) t.match(id, /^[A-Za-z0-9._:-]{1,64}$/)
    })
  })
}

t.test('sqlite: seqs, dedupe records and cursors survive a reopen [ACK-2] [DUP-5] [RSM-5]', async (t) => {
  const dir = tempDir()
  // Main-thread runner: the worker's reopen is covered end to end (test/server/e2e.test.ts).
  const s1 = await openSqliteStore({ dataDir: dir, worker: false })
  await group(s1)
  const op = sendOp({ sendSeq: 1 })
  const a = await s1.run(op)
  await s1.run({ op: 'ack', userId: 'bob', deviceId: 'b1', conversationId: 'g1', upToSeq: 1 })
  await s1.close()
  const s2 = await openSqliteStore({ dataDir: dir, worker: false })
  t.teardown(() => s2.close())
  t.same(s2.migrated, { from: SCHEMA_VERSION, to: SCHEMA_VERSION })
  const dup = await s2.run(op)
  t.ok(dup.ok && dup.duplicate && a.ok && dup.message.seq === a.message.seq)
  const next = await s2.run(sendOp({ sendSeq: 2 }))
  t.equal(next.ok ? next.message.seq : 0, 2)
  t.not(next.ok && next.message.messageId, a.ok && a.message.messageId, 'the message id counter survived [ACK-5]')
  const r = await s2.run({ op: 'openDevice', userId: 'bob', deviceId: 'b1', resume: [], nowMs: 1 })
  t.same(r.ok ? r.conversations.map((c) => [c.cursor, c.topSeq]) : [], [[1, 2]])
})

t.test('sqlite: the server creates the schema and refuses a database from a newer version', async (t) => {
  const dir = tempDir()
  const s = await openSqliteStore({ dataDir: dir, worker: false })
  t.same(s.migrated, { from: 0, to: SCHEMA_VERSION })
  await s.close()
  const db = new Database(join(dir, DB_FILE))
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  db.close()
  await t.rejects(openSqliteStore({ dataDir: dir }))
  await t.rejects(openSqliteStore({ dataDir: dir, worker: false }))
})
