// Client steps about what the kit's server pushes and what the client makes
// of it: replay and live Delivers, conversation notices, history pages,
// acknowledgements, a link gone silent, and a burst of sends whose ids are
// judged. The conversations themselves live in ./kit-conversations.ts.
import { create } from '@bufbuild/protobuf'
import { type Frame, FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { HistoryDirection, UpdateReason } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import type { AdapterSession } from './adapter-session.js'
import { Failure } from './client-failure.js'
import type { ClientStep, DeliverSpec, NoticeSpec } from './client-scenarios.js'
import type { KitConversations } from './kit-conversations.js'
import type { ScriptedConnection, ScriptedServer } from './scripted-server.js'

export interface StepContext {
  server: ScriptedServer
  convs: KitConversations
  current(): ScriptedConnection
  adapter(): AdapterSession
  /** Stretches a kit wait by --time-scale. */
  ms(n: number): number
  now(): number
  log(line: string): void
  /** What the kit's Welcome on this connection advertised. */
  limits(c: ScriptedConnection): { receiveWindow: number; historyPageMax: number }
}

/** How long the kit waits for a client action it expects (ms, before --time-scale). */
const ACTION_TIMEOUT_MS = 5_000
/** How long a full receive window may stay full before the kit calls the client stuck (ms, before --time-scale). */
const WINDOW_STALL_MS = 2_000
/** Sizes of client_msg_id. [SND-5] */
const CLIENT_MSG_ID_BYTES = 16
/**
 * A bit position of random ids is 1 in half of them; over n ids its count of
 * ones has a standard deviation of sqrt(n)/2. Six of them, over 128 positions,
 * fails a true CSPRNG with probability about 2.5e-7; a counter, a clock or a
 * fixed prefix leaves whole positions constant and fails at once.
 */
const BIT_BALANCE_SIGMAS = 6

const REASONS: Record<string, UpdateReason> = {
  REPLAY_LIMIT: UpdateReason.REPLAY_LIMIT,
  JOINED: UpdateReason.JOINED,
  REMOVED: UpdateReason.REMOVED,
  MEMBERS_CHANGED: UpdateReason.MEMBERS_CHANGED,
  EPOCH_CHANGED: UpdateReason.EPOCH_CHANGED,
}

export function noticeFrame(ctx: StepContext, n: NoticeSpec): Frame {
  const conv = ctx.convs.get(n.conversation)
  const reason = typeof n.reason === 'number' ? n.reason : (REASONS[n.reason] as UpdateReason)
  return ctx.convs.notice(
    n.conversation,
    reason,
    BigInt(n.topSeq),
    n.cursor === undefined ? conv.cursor : BigInt(n.cursor),
    n.epoch === undefined ? conv.epoch : BigInt(n.epoch),
  )
}

/** The frames of a replay (between Welcome and ReplayComplete), and ReplayComplete's counts. [RSM-10] */
export function replayFrames(ctx: StepContext, items: Array<DeliverSpec | NoticeSpec>): Frame[] {
  const out: Frame[] = []
  let delivered = 0n
  let pullRequired = 0
  for (const it of items) {
    if ('reason' in it) {
      out.push(noticeFrame(ctx, it))
      pullRequired++
    } else {
      for (let s = it.from; s <= it.to; s++) out.push(ctx.convs.deliver(it.conversation, BigInt(s), true))
      delivered += BigInt(it.to - it.from + 1)
    }
  }
  out.push(create(FrameSchema, { body: { case: 'replayComplete', value: { delivered, pullRequired } } }))
  return out
}

type Step<K extends string> = Extract<ClientStep, { server: K } | { client: K }>

/** Live Delivers; the kit, like a server, never has more than receive_window unacknowledged. [FLW-1] */
async function deliver(ctx: StepContext, st: Step<'deliver'>): Promise<void> {
  const c = ctx.current()
  const window = ctx.limits(c).receiveWindow
  for (let s = st.from; s <= st.to; s++) {
    if (ctx.convs.outstandingCount(st.conversation) >= window) {
      const freed = await ctx.server.waitFor(
        () => (ctx.convs.outstandingCount(st.conversation) < window || c.closedAt !== null ? true : undefined),
        ctx.ms(WINDOW_STALL_MS),
      )
      if (freed === null || c.closedAt !== null)
        throw new Failure(
          `${st.conversation}: the receive window (${window}) stayed full for ${ctx.ms(WINDOW_STALL_MS)} ms before seq ${s}: the client stopped acknowledging [DLV-10]`,
        )
    }
    c.conn.send(ctx.convs.deliver(st.conversation, BigInt(s), false))
  }
}

/** Answers the client's next HistoryRequest for the conversation, which must read forward from anchorSeq. [RSM-11] */
async function history(ctx: StepContext, st: Step<'history'>): Promise<void> {
  const c = ctx.current()
  const f = await ctx.server.nextFrameOf(
    c,
    'historyRequest',
    (fr) => fr.body.case === 'historyRequest' && fr.body.value.conversationId === st.conversation,
    ctx.ms(ACTION_TIMEOUT_MS),
  )
  if (f === null)
    throw new Failure(
      `no HistoryRequest for ${st.conversation} (anchor ${st.anchorSeq}) on connection ${c.index} within ${ctx.ms(ACTION_TIMEOUT_MS)} ms [RSM-11]`,
    )
  const r = (f.frame.body as Extract<Frame['body'], { case: 'historyRequest' }>).value
  if (r.direction === HistoryDirection.BACKWARD)
    throw new Failure(
      `HistoryRequest for ${st.conversation} reads BACKWARD; paging from the cursor reads FORWARD [RSM-11]`,
    )
  if (r.anchorSeq !== BigInt(st.anchorSeq))
    throw new Failure(
      `HistoryRequest for ${st.conversation} anchored at ${r.anchorSeq}, expected ${st.anchorSeq} (the client's position) [RSM-11]`,
    )
  const max = ctx.limits(c).historyPageMax
  const limit = r.limit === 0 || r.limit > max ? max : r.limit
  c.conn.send(ctx.convs.page(st.conversation, r.requestId, r.anchorSeq, limit))
}

/** A DeliverAck covering upTo arrives within withinMs (+ slack) of the kit giving the client that seq. [DLV-10] */
async function expectAck(ctx: StepContext, st: Step<'expectAck'>): Promise<void> {
  const c = ctx.current()
  const conv = ctx.convs.get(st.conversation)
  const upTo = BigInt(st.upTo)
  const limit = st.withinMs + ctx.ms(st.slackMs)
  const hit = await ctx.server.waitFor(
    () => conv.acks.find((a) => a.upTo >= upTo) ?? (c.closedAt !== null ? null : undefined),
    limit + ctx.ms(ACTION_TIMEOUT_MS),
  )
  if (hit === null || hit === undefined) {
    const what =
      c.closedAt !== null ? `the connection ${c.index} ended` : `${limit + ctx.ms(ACTION_TIMEOUT_MS)} ms passed`
    throw new Failure(`no DeliverAck for ${st.conversation} up to ${st.upTo}: ${what} first [DLV-10]`)
  }
  const given = conv.givenAt.get(upTo)
  if (given === undefined)
    throw new Failure(`the kit never gave seq ${st.upTo} of ${st.conversation} (a scenario error)`)
  const delay = Math.round(hit.at - given)
  ctx.log(`DeliverAck ${st.conversation} up to ${hit.upTo} ${delay} ms after seq ${st.upTo} was given`)
  if (delay > limit)
    throw new Failure(
      `DeliverAck for ${st.conversation} up to ${st.upTo} came ${delay} ms after the message, later than ${st.withinMs} ms (+${ctx.ms(st.slackMs)} slack) [DLV-10]`,
    )
}

/** The client ends the current connection within withinMs (+ slack) of the last thing the kit sent on it, or of its Hello. */
async function expectDrop(ctx: StepContext, st: Step<'expectDrop'>): Promise<void> {
  const c = ctx.current()
  const hello = c.frames.find((f) => f.frame.body.case === 'hello')?.at ?? c.acceptedAt
  const since = Math.max(hello, c.lastSentAt ?? 0)
  const limit = st.withinMs + ctx.ms(st.slackMs)
  const closed = await ctx.server.waitFor(() => c.closedAt ?? undefined, since + limit - ctx.now() + ctx.ms(1000))
  if (closed === null)
    throw new Failure(
      `the client kept connection ${c.index} open more than ${limit} ms after the later of its Hello and the kit's last frame`,
    )
  const after = Math.round(closed - since)
  ctx.log(`connection ${c.index} ended by the client ${after} ms after the kit's last frame (or Hello)`)
  if (after > limit)
    throw new Failure(
      `the client ended connection ${c.index} ${after} ms after the later of its Hello and the kit's last frame, later than ${limit} ms`,
    )
}

/** count sends; every client_msg_id 16 bytes, all distinct, every bit position balanced. [SND-5] */
async function sendMany(ctx: StepContext, st: Step<'sendMany'>): Promise<void> {
  const ids: Uint8Array[] = []
  const t0 = ctx.now()
  // All at once: an adapter may store them together (answers still come in order).
  const answers = await ctx.adapter().commands(
    Array.from({ length: st.count }, (_, i) => ({
      case: 'send' as const,
      value: { conversationId: st.conversation, body: new TextEncoder().encode(`many ${i}`) },
    })),
    ctx.ms(ACTION_TIMEOUT_MS + st.count * 5),
  )
  for (const [i, ev] of answers.entries()) {
    if (ev.event.case !== 'queued')
      throw new Failure(`send ${i + 1} of ${st.count} answered with ${ev.event.case}, not queued`)
    const id = ev.event.value.clientMsgId
    if (id.length !== CLIENT_MSG_ID_BYTES)
      throw new Failure(`client_msg_id of send ${i + 1} has ${id.length} bytes, not ${CLIENT_MSG_ID_BYTES} [SND-5]`)
    ids.push(id)
  }
  ctx.log(`${st.count} sends queued in ${Math.round(ctx.now() - t0)} ms`)
  const seen = new Map<string, number>()
  for (const [i, id] of ids.entries()) {
    const k = Buffer.from(id).toString('hex')
    const j = seen.get(k)
    if (j !== undefined) throw new Failure(`sends ${j + 1} and ${i + 1} got the same client_msg_id ${k} [SND-5]`)
    seen.set(k, i)
  }
  const n = ids.length
  const bound = (BIT_BALANCE_SIGMAS * Math.sqrt(n)) / 2
  for (let bit = 0; bit < CLIENT_MSG_ID_BYTES * 8; bit++) {
    let ones = 0
    for (const id of ids) ones += ((id[bit >> 3] as number) >> (7 - (bit & 7))) & 1
    if (Math.abs(ones - n / 2) > bound)
      throw new Failure(
        `bit ${bit} of client_msg_id is 1 in ${ones} of ${n} ids (random: ${n / 2} ± ${Math.round(bound)}): not from a CSPRNG [SND-5]`,
      )
  }
}

/** Runs one of this module's steps; false when the step is not one of them. */
export async function deliveryStep(ctx: StepContext, st: ClientStep): Promise<boolean> {
  if ('client' in st) {
    if (st.client !== 'sendMany') return false
    await sendMany(ctx, st)
    return true
  }
  switch (st.server) {
    case 'deliver':
      await deliver(ctx, st)
      return true
    case 'notice':
      ctx.current().conn.send(noticeFrame(ctx, st))
      return true
    case 'history':
      await history(ctx, st)
      return true
    case 'expectAck':
      await expectAck(ctx, st)
      return true
    case 'silent':
      ctx.current().silent = true
      return true
    case 'expectDrop':
      await expectDrop(ctx, st)
      return true
    default:
      return false
  }
}
