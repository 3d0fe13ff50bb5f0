// The two ways to get the conversation list, over any source of pages (the
// client's requests, or a test's script):
//
// loadWholeInbox: keyset pages of InboxRequest, newest first, then a sync
// from the first page's sync_point. A conversation that gets a message while
// the client pages moves above the bound and is missed by the later pages;
// the sync lists it, with every other change since the first page. Pages
// plus that sync hold every conversation exactly once, as it stands at the
// sync's point ([INB-4], [INB-5], spec.md 22.4).
//
// syncSince: SyncRequest pages from a stored point until has_more is false.
import type { InboxEntry, InboxPage, SyncPage } from '../gen/es/imwire/v1/inbox_pb.js'
import type { InboxPageOptions, SyncPageOptions } from './inbox-requests.js'

export interface InboxSource {
  inboxPage(opts: InboxPageOptions): Promise<InboxPage>
  syncPage(opts: SyncPageOptions): Promise<SyncPage>
}

/** What to ask of every page. */
export interface InboxFetchOptions {
  /** Entries per page; 0 = the server's history_page_max. */
  limit?: number
  includeMembers?: boolean
  previewBytes?: number
}

export interface InboxDelta {
  /** Conversations to put, each once in its newest version. Full: every one, activity descending. */
  entries: InboxEntry[]
  /** Conversations the user no longer belongs to. */
  removed: string[]
  /** The point the result is current to: the next sync starts here. */
  syncPoint: number
  /** The result is the whole list and replaces the local one. */
  full: boolean
}

/** Activity descending: the order of a conversation list. [INB-2] */
export function byActivity(entries: Iterable<InboxEntry>): InboxEntry[] {
  return [...entries].sort((a, b) => (a.activity > b.activity ? -1 : a.activity < b.activity ? 1 : 0))
}

export async function loadWholeInbox(src: InboxSource, opts: InboxFetchOptions = {}): Promise<InboxDelta> {
  const byId = new Map<string, InboxEntry>()
  let before = 0
  let firstPoint: number | null = null
  for (;;) {
    const page = await src.inboxPage({ ...opts, beforeActivity: before })
    firstPoint ??= Number(page.syncPoint)
    for (const e of page.entries) byId.set(e.conversationId, e)
    const last = page.entries[page.entries.length - 1]
    if (!page.hasMore || last === undefined) break
    const next = Number(last.activity)
    // Keyset bounds only fall; one that does not would page forever.
    if (before !== 0 && next >= before) break
    before = next
  }
  const changed = await syncSince(src, firstPoint ?? 0, opts)
  for (const e of changed.entries) byId.set(e.conversationId, e)
  for (const id of changed.removed) byId.delete(id)
  return { entries: byActivity(byId.values()), removed: [], syncPoint: changed.syncPoint, full: true }
}

export async function syncSince(src: InboxSource, since: number, opts: InboxFetchOptions = {}): Promise<InboxDelta> {
  // Insertion order = order of latest change: a conversation seen again moves to the end.
  const entries = new Map<string, InboxEntry>()
  const removed = new Set<string>()
  let point = since
  for (;;) {
    const page = await src.syncPage({ ...opts, since: point })
    for (const e of page.entries) {
      removed.delete(e.conversationId)
      entries.delete(e.conversationId)
      entries.set(e.conversationId, e)
    }
    for (const id of page.removedConversationIds) {
      entries.delete(id)
      removed.add(id)
    }
    const next = Number(page.syncPoint)
    // A page that says "more" without moving the point would repeat itself:
    // stop at the last point that was made good; the next sync goes on from it.
    if (page.hasMore && next <= point) break
    point = next
    if (!page.hasMore) break
  }
  return { entries: [...entries.values()], removed: [...removed], syncPoint: point, full: since === 0 }
}
