// Inbox part of `npm run bench:server` (features "inbox" and "read-state",
// spec section 22): what a conversation list costs a user with 10,000
// conversations, against the v1 way of listing the same user.
//
//   inbox page        InboxRequest, 100 entries newest first: the first page
//                     and a page from the middle (keyset before_activity),
//                     sequential requests, latency per request.
//   inbox full pass   every page of the 10,000, one after the other.
//   sync 1,000        SyncRequest from a sync point taken before another user
//                     sent one message into each of 1,000 of the conversations:
//                     every page until has_more is false.
//   list (v1)         ListConversations, the same user, 100 per page: the
//                     first page and the full pass a v1 client must do to
//                     find what changed (no order by activity, no unread).
//
// One connection, one request in flight: the latency of a request is the
// server's work for it plus one loopback round trip.
import { create } from '@bufbuild/protobuf'
import { randomBytes } from 'node:crypto'
import { makeTestToken } from '../src/client/test-token.js'
import { type Frame, FrameSchema } from '../src/gen/es/imwire/v1/frame_pb.js'
import type { InboxPage, SyncPage } from '../src/gen/es/imwire/v1/inbox_pb.js'
import type { ServerChild } from './lib/child.js'
import { RawImwirePeer } from './lib/imwire-peer.js'
import { cpuMsOf } from './lib/load.js'
import { fmtMs, nowUs, type Row, Samples } from './lib/stats.js'

const FEATURES = ['read-state', 'inbox']
let inboxRun = 0

/** One request, its answer (the frame echoing requestId). */
class Requester {
  private nextId = 1
  constructor(private readonly peer: RawImwirePeer) {}

  async ask(body: Frame['body']): Promise<Frame> {
    const requestId = this.nextId++
    ;(body.value as { requestId: number }).requestId = requestId
    this.peer.sendFrame(create(FrameSchema, { body }))
    for (;;) {
      const f = await this.peer.nextSetupFrame(60_000)
      const v = f.body.value as { requestId?: number } | undefined
      if (f.body.case === 'error' && v?.requestId === requestId)
        throw new Error(`request ${body.case}: error ${f.body.value.code}`)
      if (v?.requestId === requestId) return f
    }
  }

  async inbox(beforeActivity: bigint, limit = 100): Promise<InboxPage> {
    const f = await this.ask({ case: 'inboxRequest', value: { requestId: 0, beforeActivity, limit } as never })
    if (f.body.case !== 'inboxPage') throw new Error(`expected inboxPage, got ${f.body.case}`)
    return f.body.value
  }

  async sync(since: bigint, limit = 100): Promise<SyncPage> {
    const f = await this.ask({ case: 'syncRequest', value: { requestId: 0, since, limit } as never })
    if (f.body.case !== 'syncPage') throw new Error(`expected syncPage, got ${f.body.case}`)
    return f.body.value
  }

  async list(after: string, limit = 100): Promise<{ ids: string[]; hasMore: boolean }> {
    const f = await this.ask({
      case: 'listConversations',
      value: { requestId: 0, afterConversationId: after, limit } as never,
    })
    if (f.body.case !== 'conversationList') throw new Error(`expected conversationList, got ${f.body.case}`)
    return { ids: f.body.value.conversations.map((c) => c.conversationId), hasMore: f.body.value.hasMore }
  }
}

/** Pipelined setup requests (creates, sends), at most `window` unanswered. */
async function pipelined(
  peer: RawImwirePeer,
  frames: Frame[],
  answered: (f: Frame) => boolean,
  window = 200,
): Promise<void> {
  let sent = 0
  let done = 0
  while (done < frames.length) {
    while (sent < frames.length && sent - done < window) peer.sendFrame(frames[sent++] as Frame)
    const f = await peer.nextSetupFrame(60_000)
    if (f.body.case === 'error') throw new Error(`setup: error ${f.body.value.code} ${f.body.value.message}`)
    if (answered(f)) done++
  }
}

function sendFrame(conversationId: string, text: string): Frame {
  return create(FrameSchema, {
    body: {
      case: 'send',
      value: {
        clientMsgId: randomBytes(16),
        conversationId,
        sendSeq: 0n,
        contentType: 'text/plain',
        body: new TextEncoder().encode(text),
      },
    },
  })
}

/** Time `n` runs of f (µs each). */
async function timed(n: number, f: () => Promise<unknown>): Promise<Samples> {
  const s = new Samples()
  for (let i = 0; i < n; i++) {
    const t0 = nowUs()
    await f()
    s.add(nowUs() - t0)
  }
  return s
}

export interface InboxBenchResult {
  rows: Row[]
  setupNote: string
}

export async function runInbox(
  server: ServerChild,
  secret: string,
  opts: { conversations: number; changes: number; quick: boolean; name?: string },
): Promise<InboxBenchResult> {
  const name = opts.name ?? 'imwire'
  const run = `i${inboxRun++}${randomBytes(2).toString('hex')}`
  const addr = server.tcp as string
  const pid = server.proc.pid as number
  const owner = `o${run}`
  const other = `p${run}`
  const ids = Array.from({ length: opts.conversations }, (_, i) => `c${run}-${String(i).padStart(5, '0')}`)

  // Setup: the owner creates every conversation with one other member, then
  // sends one message into each (the other user is offline: no notices).
  const t0 = Date.now()
  const ownerPeer = await RawImwirePeer.connect('tcp', addr)
  await ownerPeer.handshake(makeTestToken(secret, owner), 'd1', 300_000, FEATURES)
  await pipelined(
    ownerPeer,
    ids.map((conversationId, i) =>
      create(FrameSchema, {
        body: {
          case: 'createConversation',
          value: { requestId: (i % 60_000) + 1, conversationId, kind: 2, memberUserIds: [other] },
        },
      }),
    ),
    (f) => f.body.case === 'conversationResult',
  )
  await pipelined(
    ownerPeer,
    ids.map((c, i) => sendFrame(c, `first message ${i}`)),
    (f) => f.body.case === 'sendAck',
  )
  const setupNote = `setup ${((Date.now() - t0) / 1000).toFixed(1)} s (${opts.conversations} creates + sends)`

  const r = new Requester(ownerPeer)
  const reps = opts.quick ? 50 : 200
  const rows: Row[] = []
  const add = (test: string, s: Samples, cpu0: number, note: string) => {
    const cpuMs = cpuMsOf(pid) - cpu0
    const [p50, p99] = s.percentiles([50, 99])
    rows.push({
      server: name,
      transport: 'tcp',
      test,
      conns: '1',
      'rate /s': '',
      'p50 ms': fmtMs(p50 as number),
      'p99 ms': fmtMs(p99 as number),
      'srv cpu': `${(cpuMs / s.count).toFixed(2)} ms/req`,
      'gen cpu': '',
      notes: note,
    })
  }

  // Warm up both listings.
  await r.inbox(0n)
  await r.list('')

  let cpu = cpuMsOf(pid)
  add(
    `inbox first page of ${opts.conversations}`,
    await timed(reps, () => r.inbox(0n)),
    cpu,
    '100 entries, newest first',
  )

  // A full pass, keeping the activity of the middle entry for the deep page.
  const fullInbox = async (): Promise<{ count: number; middle: bigint }> => {
    let before = 0n
    let count = 0
    let middle = 0n
    for (;;) {
      const p = await r.inbox(before)
      for (const e of p.entries) {
        count++
        if (count === Math.floor(opts.conversations / 2)) middle = e.activity
      }
      if (!p.hasMore) return { count, middle }
      before = p.entries[p.entries.length - 1]?.activity ?? 0n
    }
  }
  const pass = await fullInbox()
  if (pass.count !== opts.conversations) throw new Error(`inbox pass listed ${pass.count} of ${opts.conversations}`)
  cpu = cpuMsOf(pid)
  add(
    `inbox middle page of ${opts.conversations}`,
    await timed(reps, () => r.inbox(pass.middle)),
    cpu,
    'keyset before_activity',
  )
  cpu = cpuMsOf(pid)
  add(
    `inbox full pass of ${opts.conversations}`,
    await timed(opts.quick ? 2 : 5, fullInbox),
    cpu,
    `${Math.ceil(opts.conversations / 100)} pages of 100`,
  )

  const listPass = async (): Promise<number> => {
    let after = ''
    let count = 0
    for (;;) {
      const p = await r.list(after)
      count += p.ids.length
      if (!p.hasMore) return count
      after = p.ids[p.ids.length - 1] as string
    }
  }
  cpu = cpuMsOf(pid)
  add(
    `list (v1) first page of ${opts.conversations}`,
    await timed(reps, () => r.list('')),
    cpu,
    'ListConversations by id, no feature',
  )
  cpu = cpuMsOf(pid)
  add(
    `list (v1) full pass of ${opts.conversations}`,
    await timed(opts.quick ? 2 : 5, listPass),
    cpu,
    'what a v1 client reads to find changes',
  )

  // Incremental sync: a point, then `changes` messages by the other user into
  // as many conversations, then every page from the point.
  const point = (await r.inbox(0n, 1)).syncPoint
  const otherPeer = await RawImwirePeer.connect('tcp', addr)
  // Positions at the first message of each conversation: no replay of 10,000
  // messages into a window of 256 before Welcome's ReplayComplete.
  const resume = ids.map((conversationId) => ({ conversationId, seq: 1n, epoch: 1n }))
  await otherPeer.handshake(makeTestToken(secret, other), 'd1', 300_000, FEATURES, resume)
  const step = Math.max(1, Math.floor(opts.conversations / opts.changes))
  const changed = Array.from({ length: opts.changes }, (_, i) => ids[(i * step) % ids.length] as string)
  await pipelined(
    otherPeer,
    changed.map((c, i) => sendFrame(c, `change ${i}`)),
    (f) => f.body.case === 'sendAck',
  )
  const syncAll = async (): Promise<{ items: number; pages: number }> => {
    let since = point
    let items = 0
    let pages = 0
    for (;;) {
      const p = await r.sync(since)
      pages++
      items += p.entries.length + p.removedConversationIds.length
      if (!p.hasMore) return { items, pages }
      since = p.syncPoint
    }
  }
  const got = await syncAll()
  if (got.items !== opts.changes) throw new Error(`sync listed ${got.items} items, expected ${opts.changes}`)
  cpu = cpuMsOf(pid)
  add(
    `sync after ${opts.changes} changes`,
    await timed(opts.quick ? 5 : 20, syncAll),
    cpu,
    `${got.pages} pages, ${got.items} entries`,
  )
  ownerPeer.close()
  otherPeer.close()
  return { rows, setupNote }
}
