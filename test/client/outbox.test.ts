// The outbox: ids created once and persisted before transmission [SND-5],
// order kept for resends [RTY-2], send_seq bookkeeping [ORD-2] [ORD-3].
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { JsonFileClientStore } from '../../src/client/client-file-store.js'
import { type ClientStore, MemoryClientStore, type StoreOp } from '../../src/client/client-store.js'
import { Outbox } from '../../src/client/outbox.js'

const body = (s: string) => new TextEncoder().encode(s)

t.test('ids are 16 random bytes, distinct, and ordered sends number 1, 2, 3 per conversation', async (t) => {
  const ob = await Outbox.open(new MemoryClientStore())
  const a1 = await ob.add('a', body('1'))
  const a2 = await ob.add('a', body('2'))
  const b1 = await ob.add('b', body('3'))
  const u = await ob.add('a', body('4'), { ordered: false })
  t.equal(a1.clientMsgId.length, 16)
  t.equal(new Set([a1.id, a2.id, b1.id, u.id]).size, 4)
  t.same(
    [a1.sendSeq, a2.sendSeq, b1.sendSeq, u.sendSeq],
    [1, 2, 1, 0],
    'unordered sends carry send_seq 0 [ORD-5] and do not consume a number',
  )
  t.equal(ob.peekSendSeq('a'), 3)
})

t.test('an entry reaches the store before add() resolves and before it is listed', async (t) => {
  const writes: StoreOp[][] = []
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  const inner = new MemoryClientStore()
  const slow: ClientStore = {
    load: () => inner.load(),
    write: async (ops) => {
      writes.push(ops)
      await gate
      await inner.write(ops)
    },
    close: () => inner.close(),
  }
  const ob = await Outbox.open(slow)
  const pending = ob.add('a', body('x'))
  await new Promise((r) => setImmediate(r))
  t.equal(ob.size, 0, 'not visible (so not transmittable) while the write is in progress [SND-5]')
  t.equal(writes.length, 1)
  release()
  const e = await pending
  t.equal(ob.size, 1)
  t.same(
    (await inner.load()).entries.map((x) => x.id),
    [e.id],
  )
})

t.test('list() keeps the order of creation, removal keeps the rest in order', async (t) => {
  const ob = await Outbox.open(new MemoryClientStore())
  const es = []
  for (let i = 0; i < 5; i++) es.push(await ob.add(i % 2 === 0 ? 'a' : 'b', body(String(i))))
  await ob.remove((es[2] as { id: string }).id)
  t.same(
    ob.list().map((e) => new TextDecoder().decode(e.body)),
    ['0', '1', '3', '4'],
  )
})

t.test('dropping a refused ordered send renumbers the later ones of its conversation only', async (t) => {
  const ob = await Outbox.open(new MemoryClientStore())
  const a1 = await ob.add('a', body('1'))
  const a2 = await ob.add('a', body('2'))
  const b1 = await ob.add('b', body('b'))
  const a3 = await ob.add('a', body('3'))
  await ob.drop(a2.id)
  t.same([ob.get(a1.id)?.sendSeq, ob.get(a3.id)?.sendSeq, ob.get(b1.id)?.sendSeq], [1, 2, 1])
  t.equal(ob.peekSendSeq('a'), 3, 'the next message takes the freed number')
  const a4 = await ob.add('a', body('4'))
  t.equal(a4.sendSeq, 3)
})

t.test('resync moves the numbers down to what the server expects, keeping the older ones', async (t) => {
  const ob = await Outbox.open(new MemoryClientStore())
  const es = []
  for (let i = 0; i < 6; i++) es.push(await ob.add('a', body(String(i))))
  // The client lost seqs 3 and 4 (say), server expects 3; the outbox holds 1, 2, 5, 6.
  await ob.drop((es[2] as { id: string }).id)
  await ob.drop((es[2] as { id: string }).id)
  const before = ob.list().map((e) => e.sendSeq)
  t.same(before, [1, 2, 3, 4, 5], 'drop already keeps them dense')
  t.equal(await ob.resync('a', 3), false, 'nothing to do when the expected seq is present')
  // A store whose conversation 'c' holds send_seqs 11..13 while the server expects 1.
  const store = new MemoryClientStore()
  const ops: StoreOp[] = [{ op: 'sendSeq', conversationId: 'c', next: 14 }]
  for (let i = 0; i < 3; i++) {
    const id = `${'0'.repeat(31)}${i}`
    ops.push({
      op: 'put',
      entry: {
        id,
        clientMsgId: Buffer.from(id, 'hex'),
        conversationId: 'c',
        sendSeq: 11 + i,
        contentType: '',
        body: body(String(i)),
        order: i + 1,
        createdAtMs: 0,
      },
    })
  }
  await store.write(ops)
  const ob2 = await Outbox.open(store)
  t.equal(await ob2.resync('c', 1), true)
  t.same(
    ob2.list().map((e) => e.sendSeq),
    [1, 2, 3],
  )
  t.equal(ob2.peekSendSeq('c'), 4)
  t.same(
    (await store.load()).entries.map((e) => e.sendSeq),
    [1, 2, 3],
    'the new numbers are persisted',
  )
})

t.test('the JSON file store gives a restarted client the same ids, order and send_seqs', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'imwire-outbox-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'outbox.jsonl')
  const s1 = new JsonFileClientStore(file)
  const ob = await Outbox.open(s1)
  const a = await ob.add('a', body('first'))
  const b = await ob.add('a', body('second'), { contentType: 'text/plain' })
  const c = await ob.add('z', new Uint8Array([0, 255, 1]))
  await ob.remove(a.id)
  await s1.write([{ op: 'position', conversationId: 'a', seq: 7, epoch: 1 }])
  await s1.close()

  const s2 = new JsonFileClientStore(file)
  const state = await s2.load()
  t.same(state.positions.get('a'), { seq: 7, epoch: 1 })
  const ob2 = await Outbox.open(new JsonFileClientStore(file))
  t.same(
    ob2.list().map((e) => [e.id, e.sendSeq, e.contentType, [...e.body]]),
    [
      [b.id, 2, 'text/plain', [...body('second')]],
      [c.id, 1, '', [0, 255, 1]],
    ],
  )
  t.same([...(ob2.get(b.id)?.clientMsgId ?? [])], [...b.clientMsgId], 'the id bytes are the same [SND-5]')
  t.equal(ob2.peekSendSeq('a'), 3, 'the send sequence continues after the acked message')
  const d = await ob2.add('a', body('third'))
  t.equal(d.sendSeq, 3)
  t.ok(d.order > c.order, 'new messages queue behind the restored ones')
  await s2.close()
})

t.test('the file store ignores a torn last line and compacts the journal on open', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'imwire-outbox-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'outbox.jsonl')
  const s1 = new JsonFileClientStore(file, { fsync: false })
  const ob = await Outbox.open(s1)
  const kept = await ob.add('a', body('kept'))
  for (let i = 0; i < 20; i++) {
    const e = await ob.add('a', body(String(i)))
    await ob.remove(e.id)
  }
  await s1.close()
  writeFileSync(file, `${readFileSync(file, 'utf8')}{"t":"put","id":"ab`)
  const s2 = new JsonFileClientStore(file)
  const state = await s2.load()
  t.same(
    state.entries.map((e) => e.id),
    [kept.id],
  )
  t.equal(state.nextSendSeq.get('a'), 22)
  const lines = readFileSync(file, 'utf8').trim().split('\n')
  t.equal(lines.length, 2, 'one send-sequence line and one entry line after compaction')
  await s2.close()
  await t.rejects(s2.write([{ op: 'delete', id: kept.id }]), 'a closed store refuses writes')
})
