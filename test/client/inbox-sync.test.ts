// Whole-inbox load and incremental sync over scripted pages. [INB-3] [INB-4] [INB-5]
import { create } from '@bufbuild/protobuf'
import t from 'tap'
import type { InboxPageOptions, SyncPageOptions } from '../../src/client/inbox-requests.js'
import { type InboxSource, loadWholeInbox, syncSince } from '../../src/client/inbox-sync.js'
import {
  type InboxEntry,
  InboxEntrySchema,
  InboxPageSchema,
  SyncPageSchema,
} from '../../src/gen/es/imwire/v1/inbox_pb.js'

const entry = (id: string, activity: number, topSeq = 1): InboxEntry =>
  create(InboxEntrySchema, { conversationId: id, activity: BigInt(activity), epoch: 1n, topSeq: BigInt(topSeq) })

/** A server with conversations (id -> activity) and a change log; the script mutates it between pages. */
class ScriptedInbox implements InboxSource {
  readonly convs = new Map<string, number>()
  /** (change number, conversation id or '-id' for a removal) */
  readonly log: Array<[number, string]> = []
  change = 0
  requests: Array<{ kind: string; at: number }> = []
  beforePage: ((n: number) => void) | null = null
  limit = 2

  message(id: string): void {
    this.change++
    this.convs.set(id, this.change)
    this.log.push([this.change, id])
  }

  remove(id: string): void {
    this.change++
    this.convs.delete(id)
    this.log.push([this.change, `-${id}`])
  }

  async inboxPage(o: InboxPageOptions) {
    this.beforePage?.(this.requests.length)
    this.requests.push({ kind: 'inbox', at: o.beforeActivity ?? 0 })
    const before = o.beforeActivity || Number.POSITIVE_INFINITY
    const all = [...this.convs].filter(([, a]) => a < before).sort((a, b) => b[1] - a[1])
    const page = all.slice(0, this.limit)
    return create(InboxPageSchema, {
      entries: page.map(([id, a]) => entry(id, a)),
      hasMore: all.length > page.length,
      syncPoint: BigInt(this.change),
    })
  }

  async syncPage(o: SyncPageOptions) {
    this.beforePage?.(this.requests.length)
    this.requests.push({ kind: 'sync', at: o.since })
    // Latest change per conversation after since, oldest first.
    const latest = new Map<string, number>()
    for (const [n, id] of this.log) if (n > o.since) latest.set(id.replace(/^-/, ''), n)
    const items = [...latest].sort((a, b) => a[1] - b[1])
    const page = items.slice(0, this.limit)
    const hasMore = items.length > page.length
    const last = page[page.length - 1]
    return create(SyncPageSchema, {
      entries: page.filter(([id]) => this.convs.has(id)).map(([id]) => entry(id, this.convs.get(id) as number)),
      removedConversationIds: page.filter(([id]) => !this.convs.has(id)).map(([id]) => id),
      hasMore,
      syncPoint: BigInt(hasMore && last !== undefined ? last[1] : this.change),
    })
  }
}

t.test('pages by keyset, then syncs from the first page: a conversation moved while paging is not lost', async (t) => {
  const s = new ScriptedInbox()
  for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) s.message(id)
  // After the first page (f, e) is read, the oldest conversation gets a message: it
  // jumps above every bound and no later page lists it.
  s.beforePage = (n) => {
    if (n === 1) s.message('a')
  }
  const d = await loadWholeInbox(s)
  t.same(
    d.entries.map((e) => e.conversationId),
    ['a', 'f', 'e', 'd', 'c', 'b'],
    'every conversation once, activity descending',
  )
  t.equal(d.full, true)
  t.equal(d.syncPoint, 7)
  t.same(
    s.requests.map((r) => `${r.kind}@${r.at}`),
    ['inbox@0', 'inbox@5', 'inbox@3', 'sync@6'],
    'next bound = last activity; sync from the first page point',
  )
})

t.test('a conversation left while paging is dropped by the sync', async (t) => {
  const s = new ScriptedInbox()
  for (const id of ['a', 'b', 'c', 'd']) s.message(id)
  s.beforePage = (n) => {
    if (n === 1) s.remove('d')
  }
  const d = await loadWholeInbox(s)
  t.same(
    d.entries.map((e) => e.conversationId),
    ['c', 'b', 'a'],
  )
})

t.test('syncs page by page from a point: newest version of each, removals, the last point', async (t) => {
  const s = new ScriptedInbox()
  for (const id of ['a', 'b', 'c']) s.message(id)
  const since = s.change
  s.message('b')
  s.remove('c')
  s.message('a')
  s.message('d')
  s.message('b')
  const d = await syncSince(s, since)
  t.same(
    d.entries.map((e) => [e.conversationId, Number(e.activity)]),
    [
      ['a', 6],
      ['d', 7],
      ['b', 8],
    ],
  )
  t.same(d.removed, ['c'])
  t.equal(d.syncPoint, 8)
  t.equal(d.full, false)
  t.ok(s.requests.length >= 2, 'more than one page')
})

t.test('a page that claims more without moving its point ends the sync at the last good point', async (t) => {
  let calls = 0
  const src: InboxSource = {
    inboxPage: async () => create(InboxPageSchema, {}),
    syncPage: async (o) => {
      calls++
      return create(SyncPageSchema, { entries: [entry('x', 9)], hasMore: true, syncPoint: BigInt(o.since) })
    },
  }
  const d = await syncSince(src, 4)
  t.equal(calls, 1)
  t.equal(d.syncPoint, 4)
  t.same(
    d.entries.map((e) => e.conversationId),
    ['x'],
  )
})
