// An executable model of imwire v1's observable server behaviour, written
// from spec.md: feed it what the clients sent (client frames, connects,
// disconnects, restarts) and what the server sent; it says whether each
// observation is allowed and, if not, which requirement it breaks.
//
// It is deterministic and does no I/O. Latitude is kept, not resolved: the
// frames a server owes a connection wait in lanes (expectation.ts), and an
// observation may match any frame the spec allows next. `missing()` names
// what a server still owes once the clients stop acting (quiescence).
//
// `simulate()` lets the model play the server itself: it produces, for the
// same actions, one allowed frame trace. The explorer writes shrunk session
// vectors from it.

import { match } from '../judge/matcher.js'
import { ENUM_NUMBER_BY_NAME } from '../judge/proto-json.js'
import type { Json } from '../load/scenario-types.js'
import type { Expectation, Violation } from './expectation.js'
import {
  ANSWER_OF_REQUEST,
  FEATURE_OF_BODY,
  featureAnswer,
  featureRequirement,
  LIVE_FEATURE_BODIES,
} from './feature-frames.js'
import {
  byteOrder,
  CONV_ID,
  type Conversation,
  type ModelLimits,
  type ModelMessage,
  RETRYABLE,
  type Refusal,
  type Sym,
  World,
} from './world.js'

type Obj = { [k: string]: Json }

export interface ModelOptions {
  /** The user a token authenticates, or null when the server must refuse it [AUTH-4]. */
  tokenUser(token: string): string | null
  /** Whether the server's store survives restarts (false: the in-memory store). */
  durable: boolean
  /** Simulation: the limits the model's own Welcome advertises. */
  limits?: ModelLimits
}

interface Conn {
  name: string
  user: string | null
  device: string | null
  requestedFeatures: string[]
  helloWindow: number
  /** The client's inbound frame limit [FRM-9]: Hello.max_frame_bytes, or 1048576. */
  clientMaxFrame: number
  /** Frames after an accepted Hello while the limits are still unknown: processed once Welcome shows them. */
  early: Array<() => void>
  /** Hello accepted: the session exists (until closed). */
  session: boolean
  welcomed: boolean
  replayDone: boolean
  replayDelivered: number
  /**
   * [RSM-1] Per conversation, the highest seq the clients had seen committed
   * when this Hello was written: certainly at or below the replay boundary.
   * Messages above it and committed before Welcome was observed may fall on
   * either side of the boundary (the server fixes it when it sends Welcome,
   * which the client cannot see).
   */
  boundaryFloor: Map<string, number>
  pullRequired: number
  features: string[]
  window: number
  lanes: Map<string, Expectation[]>
  /** Seqs delivered per conversation on this connection [DLV-1]. */
  delivered: Map<string, number[]>
  /**
   * Per conversation, the highest seq delivered on this connection when its
   * user's membership ended here (the REMOVED notice, or the answer to this
   * device's LeaveConversation): those Delivers no longer count against the
   * window [FLW-1].
   */
  released: Map<string, number>
  /** The server owes a Close and will process nothing more (CLOSING). */
  closing: boolean
  /** A Close was observed, or the transport is gone: nothing more may arrive. */
  dead: boolean
  /** Why frames must not arrive any more. */
  deadReason: string
  /**
   * The client sent Close or ended its side; the server has not ended the
   * transport yet. Frames may still cross the client's Close on the wire
   * ([ERR-3] binds the server only once it has read it): what it owed, live
   * traffic, a Close. Nothing is owed any more.
   */
  clientClosed: boolean
}

const HEARTBEAT_MIN = 1000
const HEARTBEAT_MAX = 300000

export class ImwireModel {
  readonly world = new World()
  private readonly conns = new Map<string, Conn>()
  /** (user \0 device) -> connection holding the session [RSM-6] */
  private readonly sessions = new Map<string, string>()
  private readonly syms = new Map<string, Json>()
  private limits: ModelLimits | null
  private nextId = 1
  /** Per conversation, the highest seq a server frame has shown committed (a SendAck, a Deliver). */
  private readonly revealed = new Map<string, number>()
  /** Frames the model consumed, per connection, since the last `takeConsumed()` (for vector writing). */
  private consumed = new Map<string, Json[]>()

  constructor(private readonly opts: ModelOptions) {
    this.limits = opts.limits ?? null
  }

  // --- client side ------------------------------------------------------------

  /** A transport was opened by a client. */
  open(conn: string): void {
    this.conns.set(conn, {
      name: conn,
      user: null,
      device: null,
      requestedFeatures: [],
      helloWindow: 0,
      clientMaxFrame: 1048576,
      early: [],
      session: false,
      welcomed: false,
      replayDone: false,
      replayDelivered: 0,
      boundaryFloor: new Map(),
      pullRequired: 0,
      features: [],
      window: Number.POSITIVE_INFINITY,
      lanes: new Map(),
      delivered: new Map(),
      released: new Map(),
      closing: false,
      dead: false,
      deadReason: '',
      clientClosed: false,
    })
  }

  /** A frame the client sent (protobuf JSON). Inner frames of a batch go through `clientBatch`. */
  clientFrame(connName: string, frame: Obj): void {
    const c = this.conns.get(connName)
    if (!c || c.closing || c.dead) return // [ERR-3] a closing server discards what it reads
    const [body, raw] = Object.entries(frame)[0] ?? ['', null]
    const v = (raw ?? {}) as Obj
    if (!c.session) {
      if (body === 'hello' && c.user === null) {
        this.hello(c, v)
        return
      }
      if (body === 'close') {
        this.clientGone(connName)
        return
      }
      // [HS-1] anything else first: 3510 (a Batch first too, [BAT-12])
      this.expectClose(c, [3510], 'HS-1')
      return
    }
    if (this.limits === null) {
      c.early.push(() => this.clientFrame(connName, frame))
      return
    }
    switch (body) {
      case 'hello':
        this.expectClose(c, [3510], 'HS-3')
        return
      case 'send':
        this.send(c, v)
        return
      case 'deliverAck':
        this.deliverAck(c, v)
        return
      case 'ping':
        this.push(c, 'free', {
          body: 'pong',
          req: 'HB-1',
          label: `Pong ${str(v.nonce)}`,
          matcher: () => ({ pong: { nonce: str(v.nonce ?? '0') } }),
        })
        return
      case 'pong':
        return // [HB-5]
      case 'close':
        this.clientGone(connName)
        return
      case 'historyRequest':
        this.history(c, v)
        return
      case 'listConversations':
        this.list(c, v)
        return
      case 'createConversation':
      case 'addMembers':
      case 'removeMembers':
      case 'leaveConversation':
        this.membership(c, body, v)
        return
      default:
        if (FEATURE_OF_BODY.has(body)) {
          this.featureFrame(c, body, v)
          return
        }
        // server-only bodies from a client [FRM-10]
        this.expectClose(c, [3510], 'FRM-10')
        return
    }
  }

  /** A client Batch: validated as a whole, then each frame as if alone [BAT-1] [BAT-13]. */
  clientBatch(connName: string, frames: Obj[], codec: 'none' | 'lz4'): void {
    const c = this.conns.get(connName)
    if (!c || c.closing || c.dead) return
    if (!c.session) {
      this.expectClose(c, [3510], 'BAT-12')
      return
    }
    if (this.limits === null) {
      c.early.push(() => this.clientBatch(connName, frames, codec))
      return
    }
    if (codec === 'lz4' && !c.features.includes('lz4')) {
      this.expectClose(c, [3505], 'HS-6')
      return
    }
    for (const f of frames) {
      if ('hello' in f) {
        this.expectClose(c, [3510], 'HS-3')
        return
      }
      this.clientFrame(connName, f)
    }
  }

  /** A frame with no body v1 knows [FRM-7]. */
  clientUnknownBody(connName: string): void {
    const c = this.conns.get(connName)
    if (!c || c.closing || c.dead) return
    this.expectClose(c, [3511], 'FRM-7')
  }

  /** The client closed its side (Close frame or transport end): the session ends, durable state stays [ERR-10]. */
  clientGone(connName: string): void {
    const c = this.conns.get(connName)
    if (!c || c.dead || c.clientClosed) return
    c.clientClosed = true
    c.closing = true
    // the session ends for takeover purposes [ERR-10]; a newer Hello owes this one no 3509
    if (c.user && c.device && this.sessions.get(`${c.user}\0${c.device}`) === c.name)
      this.sessions.delete(`${c.user}\0${c.device}`)
  }

  /** A graceful shutdown begins: every session gets Close 3001 [ERR-6]. */
  serverStopping(): void {
    for (const c of this.conns.values()) {
      if (c.dead) continue
      if (c.session && !c.closing) this.expectClose(c, [3001], 'ERR-6')
      else if (!c.closing) this.endConn(c, 'the server stopped')
    }
  }

  /** The server process is gone (killed, or stopped after its Closes): every connection ends. */
  serverGone(): void {
    for (const c of this.conns.values()) this.endConn(c, 'the server process ended')
    if (!this.opts.durable) {
      this.world.conversations.clear()
      this.world.dedupe.clear()
      this.world.cursors.clear()
      this.world.sendSeqs.clear()
    }
  }

  /**
   * The server owes (or, for a reason judged outside the model, may send) a
   * Close with one of `codes`: client bytes the codec refuses [FRM-5]
   * [BAT-3], an idle timer that expired [HB-2] [HS-8], a limit the model does
   * not track. Nothing more is processed on the connection [ERR-3].
   */
  expectCloseOn(connName: string, codes: number[], req: string): void {
    const c = this.conns.get(connName)
    if (!c || c.closing || c.dead) return
    this.expectClose(c, codes, req)
  }

  /** [FLW-3] whether the server holds deliveries it owes this connection (a slow-consumer Close is then allowed). */
  owesDeliveries(connName: string): boolean {
    const c = this.conns.get(connName)
    if (!c || c.dead || !c.session) return false
    for (const [lane, items] of c.lanes)
      if (lane.startsWith('conv:') && items.some((e) => e.deliver && !this.skippable(c, e))) return true
    return false
  }

  /** [FLW-2] Sends received on a connection and not answered yet. */
  inflightSends(connName: string): number {
    return this.conns.get(connName)?.lanes.get('send')?.length ?? 0
  }

  // --- server side --------------------------------------------------------------

  /** Judge one frame the server sent on a connection (protobuf JSON, defaults included or not). */
  observe(connName: string, frame: Obj): Violation | null {
    const c = this.conns.get(connName)
    if (!c)
      return { conn: connName, requirement: 'FRM-10', message: 'frame on a connection the model does not know', frame }
    const body = Object.keys(frame)[0] ?? '(empty)'
    if (body === 'ping') return null // [HB-6] the server may ping; the client answers
    if (c.dead) {
      return {
        conn: connName,
        requirement: c.deadReason.includes('3509') ? 'RSM-6' : 'ERR-9',
        message: `${body} after ${c.deadReason}`,
        frame,
      }
    }
    const cands = this.candidates(c)
    let nearest: { e: Expectation; why: string } | null = null
    for (const e of cands) {
      if (e.body !== body && !e.orBodies?.includes(body)) continue
      const why = this.tryMatch(e, frame)
      if (why === null) {
        this.consume(c, e, frame)
        return null
      }
      nearest ??= { e, why }
    }
    if (LIVE_FEATURE_BODIES.has(body)) {
      // [RD-1] only with the feature; [RD-4] live traffic, after ReplayComplete
      // (their content is not modelled: see feature-frames.ts)
      if (!c.features.includes('read-state'))
        return { conn: connName, requirement: 'RD-1', message: `${body} on a connection without read-state`, frame }
      if (!c.replayDone) return { conn: connName, requirement: 'RD-4', message: `${body} before ReplayComplete`, frame }
      return null
    }
    if (c.clientClosed && body === 'close') {
      // a Close that crossed the client's own [ERR-9]: the client discards it
      this.endConn(c, 'Close after the client closed')
      return null
    }
    if (nearest)
      return { conn: connName, requirement: nearest.e.req, message: `${nearest.e.label}: ${nearest.why}`, frame }
    return { conn: connName, ...this.explainUnexpected(c, body, frame), frame }
  }

  /** The server ended the transport (after a Close frame or without one). */
  observeEnd(connName: string): Violation | null {
    const c = this.conns.get(connName)
    if (!c || c.dead) return null
    if (c.clientClosed) {
      this.endConn(c, 'the transport ended')
      return null
    }
    const close = c.lanes.get('close')?.[0]
    const v: Violation = close
      ? { conn: connName, requirement: close.req, message: `transport ended without the ${close.label}` }
      : { conn: connName, requirement: 'ERR-2', message: 'the server ended the transport without a Close' }
    this.endConn(c, 'the transport ended')
    return v
  }

  /** What the server still owes now that the clients have stopped acting. */
  missing(): Violation[] {
    const out: Violation[] = []
    for (const c of this.conns.values()) {
      if (c.dead || c.clientClosed) continue
      const e = this.required(c)[0]
      if (e) out.push({ conn: c.name, requirement: e.req, message: `missing ${e.label}` })
    }
    return out
  }

  /**
   * Simulation: play a conforming server for the frames owed now, consuming
   * them as if observed. Returns the matchers per connection (with `{$sym}`).
   */
  simulate(): Map<string, Json[]> {
    for (let progress = true; progress; ) {
      progress = false
      for (const c of this.conns.values()) {
        if (c.dead || c.clientClosed) continue
        const e = this.required(c)[0]
        if (!e) continue
        this.consume(c, e, null)
        progress = true
      }
    }
    return this.takeConsumed()
  }

  /** The frames consumed since the last call, per connection, as the matchers that expected them. */
  takeConsumed(): Map<string, Json[]> {
    const out = this.consumed
    this.consumed = new Map()
    return out
  }

  /** Value bound to a symbol so far (server-chosen value). */
  symValue(name: string): Json | undefined {
    return this.syms.get(name)
  }

  knownLimits(): ModelLimits | null {
    return this.limits
  }

  isOpen(connName: string): boolean {
    const c = this.conns.get(connName)
    return !!c && !c.dead && !c.closing
  }

  hasSession(connName: string): boolean {
    const c = this.conns.get(connName)
    return !!c && c.session && !c.dead && !c.closing
  }

  // --- handshake ------------------------------------------------------------------

  private hello(c: Conn, h: Obj): void {
    const versions = ((h.versions as Json[]) ?? []).map(Number)
    const token = String(h.token ?? '')
    const device = String(h.deviceId ?? '')
    const hb = Number(h.heartbeatMs ?? 0)
    const mfb = Number(h.maxFrameBytes ?? 0)
    c.user = ''
    // [HS-12] the first failed check decides the code
    if (!versions.includes(1)) {
      this.expectClose(c, [3502], 'HS-4')
      return
    }
    const user = this.opts.tokenUser(token)
    if (user === null) {
      this.expectClose(c, [3501], 'HS-7')
      return
    }
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(device)) {
      this.expectClose(c, [3500], 'HS-7')
      return
    }
    if (mfb !== 0 && mfb < 1048576) {
      this.expectClose(c, [3500], 'HS-13')
      return
    }
    // (5) resume positions [RSM-4]
    const resume = ((h.resume as Obj[]) ?? []).map((p) => ({
      conv: String(p.conversationId ?? ''),
      seq: Number(p.seq ?? 0),
      epoch: p.epoch === undefined ? '0' : String(p.epoch),
    }))
    const applicable = resume.filter((p) => this.world.isMember(user, p.conv))
    const epochChanged = new Set<string>()
    const apply: typeof resume = []
    for (const p of applicable) {
      const conv = this.world.conversations.get(p.conv) as Conversation
      const epoch = this.syms.get(conv.epoch.$sym)
      if (epoch !== undefined && String(epoch) !== p.epoch) epochChanged.add(p.conv)
      else apply.push(p)
    }
    if (apply.some((p) => p.seq > this.world.top(p.conv))) {
      this.expectClose(c, [3508], 'RSM-4')
      return
    }
    // accepted: take over the older session [RSM-6] before Welcome
    c.user = user
    c.device = device
    c.session = true
    c.requestedFeatures = ((h.features as Json[]) ?? []).map(String)
    c.helloWindow = Number(h.receiveWindow ?? 0)
    if (mfb !== 0) c.clientMaxFrame = mfb
    const key = `${user}\0${device}`
    const older = this.sessions.get(key)
    if (older !== undefined && older !== c.name) {
      const o = this.conns.get(older)
      if (o && !o.dead && !o.closing) this.expectClose(o, [3509], 'RSM-6')
    }
    this.sessions.set(key, c.name)
    for (const p of apply) this.world.raiseCursor(user, device, p.conv, p.seq)
    c.boundaryFloor = new Map(this.revealed)
    const heartbeat = hb === 0 ? null : Math.min(HEARTBEAT_MAX, Math.max(HEARTBEAT_MIN, hb))
    this.push(c, 'handshake', {
      body: 'welcome',
      req: 'HS-10',
      label: 'Welcome',
      matcher: () => ({
        welcome: {
          version: 1,
          userId: user,
          deviceId: device,
          ...(heartbeat === null ? {} : { heartbeatMs: heartbeat }), // [HS-9]
        },
      }),
      check: (actual) => {
        const w = (actual as Obj).welcome as Obj
        const feats = ((w.features as Json[]) ?? []).map(String)
        const bad = feats.find((f) => !c.requestedFeatures.includes(f))
        if (bad !== undefined || new Set(feats).size !== feats.length) return `[HS-5] features ${JSON.stringify(feats)}`
        const rw = Number((w.limits as Obj | undefined)?.receiveWindow ?? 0)
        if (c.helloWindow > 0 && rw > c.helloWindow) return `[FLW-5] receive_window ${rw} > requested ${c.helloWindow}`
        return null
      },
      onMatch: (actual) => {
        const w = ((actual as Obj | null)?.welcome ?? {}) as Obj
        const l = (w.limits ?? {}) as Obj
        if (this.opts.limits === undefined && actual !== null) {
          const rw = Number(l.receiveWindow)
          this.limits = {
            maxMessageBytes: Number(l.maxMessageBytes),
            replayLimit: Number(l.replayLimit),
            historyPageMax: Number(l.historyPageMax),
            maxGroupMembers: Number(l.maxGroupMembers),
            // [FLW-5] A Welcome answering a requested window carries min(requested, maximum):
            // only one answering no request shows the server's own value. Taking a small
            // effective window for the maximum made simulate() hold Delivers that the other
            // connections' larger windows let through (written vectors failed on the reference).
            receiveWindow: c.helloWindow === 0 ? rw : Math.max(this.limits?.receiveWindow ?? 0, rw),
          }
        }
        const limits = this.limits as ModelLimits
        c.features =
          actual === null ? c.requestedFeatures.filter((f) => f === 'lz4') : ((w.features as Json[]) ?? []).map(String)
        c.window =
          actual === null
            ? c.helloWindow > 0
              ? Math.min(c.helloWindow, limits.receiveWindow)
              : limits.receiveWindow
            : Number(l.receiveWindow)
        c.welcomed = true
        this.startReplay(c, epochChanged)
        for (const f of c.early.splice(0)) f()
      },
    })
  }

  /** [RSM-1] [RSM-2] [RSM-4] [DLV-5] [DLV-6] the replay fixed when Welcome is sent. */
  private startReplay(c: Conn, epochChanged: Set<string>): void {
    const user = c.user as string
    const device = c.device as string
    const limits = this.limits as ModelLimits
    for (const conv of this.world.conversationsOf(user)) {
      const lane = `conv:${conv.id}`
      if (epochChanged.has(conv.id)) {
        c.pullRequired++
        this.pushNotice(c, conv, 'UPDATE_REASON_EPOCH_CHANGED', 'RSM-4', false, lane)
        continue
      }
      const cursor = this.world.cursor(user, device, conv.id)
      const due = conv.messages.filter(
        (m) => m.seq > cursor && !(m.senderUserId === user && m.senderDeviceId === device),
      )
      if (due.length > limits.replayLimit) {
        c.pullRequired++
        this.pushNotice(c, conv, 'UPDATE_REASON_REPLAY_LIMIT', 'RSM-2', false, lane)
        continue
      }
      // [RSM-1] [RSM-7] a message above the floor may have been committed after Welcome was sent
      const floor = c.boundaryFloor.get(conv.id) ?? 0
      for (const m of due) this.pushDeliver(c, m, m.seq <= floor ? true : 'either')
    }
    this.push(c, 'replay-end', {
      body: 'replayComplete',
      req: 'HS-11',
      label: 'ReplayComplete',
      // [RSM-10] counts what the replay actually sent
      matcher: () => ({ replayComplete: { delivered: String(c.replayDelivered), pullRequired: c.pullRequired } }),
      onMatch: () => {
        c.replayDone = true
        // replay deliveries the server skipped (at or below a cursor moved meanwhile) are gone;
        // those on either side of the boundary not replayed come live [RSM-7]
        for (const [lane, items] of c.lanes)
          if (lane.startsWith('conv:'))
            c.lanes.set(
              lane,
              items.filter((e) => e.deliver?.replay !== true),
            )
      },
    })
  }

  // --- Sends ----------------------------------------------------------------------

  private send(c: Conn, v: Obj): void {
    const user = c.user as string
    const device = c.device as string
    const s = {
      clientMsgId: String(v.clientMsgId ?? ''),
      conversationId: String(v.conversationId ?? ''),
      sendSeq: Number(v.sendSeq ?? 0),
      contentType: String(v.contentType ?? ''),
      body: String(v.body ?? ''),
    }
    const r = this.world.send(user, device, s, this.limits as ModelLimits)
    if ('refused' in r) {
      this.push(
        c,
        'send',
        this.errorFrame(r.refused, { clientMsgId: s.clientMsgId }, `Error for Send ${s.clientMsgId}`),
      )
      return
    }
    const m = 'duplicate' in r ? r.duplicate : r.committed
    const conv = this.world.conversations.get(m.conversationId) as Conversation
    this.push(c, 'send', {
      body: 'sendAck',
      req: 'duplicate' in r ? 'DUP-2' : 'ACK-3',
      onMatch: () => this.reveal(m.conversationId, m.seq),
      label: `SendAck seq ${m.seq} of ${m.conversationId}${'duplicate' in r ? ' (duplicate)' : ''}`,
      matcher: () => ({
        sendAck: {
          clientMsgId: m.clientMsgId,
          conversationId: m.conversationId,
          seq: String(m.seq),
          messageId: m.messageId as unknown as Json,
          serverTimeMs: m.serverTimeMs as unknown as Json,
          epoch: conv.epoch as unknown as Json,
          duplicate: 'duplicate' in r,
        },
      }),
    })
    if ('duplicate' in r) return // [FAN-2]
    // [FAN-1] every online device of every member, except the sending device [DLV-5]
    for (const o of this.conns.values()) {
      if (!o.session || o.dead || (o.closing && !o.clientClosed) || !o.user || !conv.members.has(o.user)) continue
      if (o.user === user && o.device === device) continue
      // before its Welcome, a connection gets the message by replay or live (startReplay decides)
      if (!o.welcomed) continue
      this.pushDeliver(o, m, false)
    }
  }

  // --- acknowledgements ---------------------------------------------------------------

  private deliverAck(c: Conn, v: Obj): void {
    const convId = String(v.conversationId ?? '')
    const upTo = Number(v.upToSeq ?? 0)
    const user = c.user as string
    if (!this.world.isMember(user, convId)) return // [DLV-4]
    if (upTo > this.world.top(convId)) {
      this.expectClose(c, [3508], 'DLV-3')
      return
    }
    this.world.raiseCursor(user, c.device as string, convId, upTo) // [DLV-2]
  }

  // --- requests ---------------------------------------------------------------------

  private history(c: Conn, v: Obj): void {
    const requestId = Number(v.requestId ?? 0)
    const convId = String(v.conversationId ?? '')
    const dirName = String(v.direction ?? 'HISTORY_DIRECTION_UNSPECIFIED')
    if (requestId === 0) {
      this.refuse(c, 0, { error: 'BAD_REQUEST', req: 'HIS-6' })
      return
    }
    const direction =
      dirName === 'HISTORY_DIRECTION_BACKWARD' || dirName === '2'
        ? 'BACKWARD'
        : dirName === 'HISTORY_DIRECTION_FORWARD' ||
            dirName === 'HISTORY_DIRECTION_UNSPECIFIED' ||
            dirName === '1' ||
            dirName === '0'
          ? 'FORWARD'
          : null
    if (direction === null) {
      this.refuse(c, requestId, { error: 'BAD_REQUEST', req: 'HIS-8' })
      return
    }
    if (!/^[A-Za-z0-9._:-]{1,128}$/.test(convId)) {
      this.refuse(c, requestId, { error: 'BAD_REQUEST', req: 'ERR-13' })
      return
    }
    if (!this.world.isMember(c.user as string, convId)) {
      this.refuse(c, requestId, { error: 'CONVERSATION_NOT_FOUND', req: 'HIS-3' })
      return
    }
    const conv = this.world.conversations.get(convId) as Conversation
    if (c.features.includes('history-time') && String(v.anchorTimeMs ?? '0') !== '0') {
      // [HIS-10] a page anchored at a time: message times are not modelled, only the answer's kind
      this.push(c, 'free', {
        body: 'historyPage',
        req: 'HIS-10',
        label: `HistoryPage ${requestId} of ${convId} from a time`,
        matcher: () => ({ historyPage: { requestId, conversationId: convId, epoch: conv.epoch as unknown as Json } }),
      })
      return
    }
    const page = this.world.page(
      convId,
      direction,
      Number(v.anchorSeq ?? 0),
      Number(v.limit ?? 0),
      this.limits as ModelLimits,
    )
    const models = page.seqs.map((s) => conv.messages[s - 1] as ModelMessage)
    const msgs = models.map(messageJson)
    const pageOf = (m: Json[], hasMore: boolean): Json => ({
      requestId,
      conversationId: convId,
      epoch: conv.epoch as unknown as Json,
      topSeq: String(page.top),
      messages: m,
      hasMore,
    })
    // [HIS-7] a page that may not fit the client's frame limit may be cut to
    // the messages nearest the anchor (at least one), with has_more
    const cuts: Json[] = []
    if (pageBytesBound(models) > c.clientMaxFrame)
      for (let k = 1; k < msgs.length; k++)
        cuts.push(pageOf(direction === 'FORWARD' ? msgs.slice(0, k) : msgs.slice(msgs.length - k), true))
    this.push(c, 'free', {
      body: 'historyPage',
      req: 'HIS-1',
      label: `HistoryPage ${requestId} of ${convId} (seqs ${page.seqs.join(',') || 'none'})`,
      matcher: () => ({
        historyPage: cuts.length === 0 ? pageOf(msgs, page.hasMore) : { $oneOf: [pageOf(msgs, page.hasMore), ...cuts] },
      }),
    })
  }

  private list(c: Conn, v: Obj): void {
    const requestId = Number(v.requestId ?? 0)
    if (requestId === 0) {
      this.refuse(c, 0, { error: 'BAD_REQUEST', req: 'HIS-6' })
      return
    }
    const after = String(v.afterConversationId ?? '')
    if (after !== '' && !CONV_ID.test(after)) {
      this.refuse(c, requestId, { error: 'BAD_REQUEST', req: 'HIS-9' })
      return
    }
    const limits = this.limits as ModelLimits
    const lim = Number(v.limit ?? 0)
    const eff = lim === 0 || lim > limits.historyPageMax ? limits.historyPageMax : lim
    const all = this.world.conversationsOf(c.user as string).filter((x) => after === '' || byteOrder(x.id, after) > 0)
    const page = all.slice(0, eff)
    const infos = page.map((x) => this.info(x, c))
    this.push(c, 'free', {
      body: 'conversationList',
      req: 'HIS-5',
      label: `ConversationList ${requestId} (${page.map((x) => x.id).join(',') || 'none'})`,
      matcher: () => ({ conversationList: { requestId, conversations: infos, hasMore: all.length > page.length } }),
    })
  }

  private membership(c: Conn, body: string, v: Obj): void {
    const user = c.user as string
    const requestId = Number(v.requestId ?? 0)
    if (requestId === 0) {
      this.refuse(c, 0, { error: 'BAD_REQUEST', req: 'HIS-6' })
      return
    }
    const convId = String(v.conversationId ?? '')
    const limits = this.limits as ModelLimits
    const ids = ((v.userIds as Json[]) ?? []).map(String)
    let conv: Conversation
    /** notices: [user, reason] for every device of each user except the requesting device */
    const notices: Array<[string, string]> = []
    if (body === 'createConversation') {
      const r = this.world.create(
        user,
        {
          conversationId: convId,
          kind: String(v.kind ?? 'CONVERSATION_KIND_UNSPECIFIED'),
          memberUserIds: ((v.memberUserIds as Json[]) ?? []).map(String),
          title: String(v.title ?? ''),
        },
        limits,
      )
      if ('refused' in r) {
        this.refuse(c, requestId, r.refused)
        return
      }
      if ('existing' in r)
        conv = r.existing // [CNV-2] no change, no notice
      else {
        conv = r.created
        for (const u of conv.members) notices.push([u, 'UPDATE_REASON_JOINED'])
      }
    } else if (body === 'addMembers') {
      const before = new Set(this.world.conversations.get(convId)?.members ?? [])
      const r = this.world.add(user, convId, ids, limits)
      if ('refused' in r) {
        this.refuse(c, requestId, r.refused)
        return
      }
      conv = r.conv
      if (r.added.length > 0) {
        for (const u of r.added) notices.push([u, 'UPDATE_REASON_JOINED'])
        for (const u of before) notices.push([u, 'UPDATE_REASON_MEMBERS_CHANGED'])
      }
    } else if (body === 'removeMembers') {
      const r = this.world.remove(user, convId, ids)
      if ('refused' in r) {
        this.refuse(c, requestId, r.refused)
        return
      }
      conv = r.conv
      if (r.removed.length > 0) {
        for (const u of r.removed) notices.push([u, 'UPDATE_REASON_REMOVED'])
        for (const u of conv.members) notices.push([u, 'UPDATE_REASON_MEMBERS_CHANGED'])
      }
    } else {
      const r = this.world.leave(user, convId)
      if ('refused' in r) {
        this.refuse(c, requestId, r.refused)
        return
      }
      conv = r.conv
      notices.push([user, 'UPDATE_REASON_REMOVED'])
      for (const u of conv.members) notices.push([u, 'UPDATE_REASON_MEMBERS_CHANGED'])
    }
    const info = this.info(conv, c)
    const isCreate = body === 'createConversation'
    const left = body === 'leaveConversation' ? conv.id : null
    this.push(c, 'free', {
      body: 'conversationResult',
      req: isCreate ? 'CNV-1' : body === 'addMembers' ? 'CNV-3' : body === 'removeMembers' ? 'CNV-4' : 'CNV-5',
      label: `ConversationResult ${requestId} (${body} ${convId})`,
      matcher: () => ({ conversationResult: { requestId, conversation: info } }),
      ...(left !== null ? { onMatch: () => this.release(c, left, true) } : {}),
    })
    // [CNV-6] notices to the online devices concerned, not the requesting device
    for (const [u, reason] of notices) {
      for (const o of this.conns.values()) {
        if (o === c || !o.session || o.dead || (o.closing && !o.clientClosed) || o.user !== u) continue
        const lane = reason === 'UPDATE_REASON_MEMBERS_CHANGED' ? 'free' : `conv:${conv.id}`
        this.pushNotice(o, conv, reason, 'CNV-6', true, lane)
      }
    }
  }

  /** [CNV-10] as the requesting device sees it. */
  private info(conv: Conversation, c: Conn): Json {
    return {
      conversationId: conv.id,
      kind: conv.kind,
      epoch: conv.epoch as unknown as Json,
      topSeq: String(conv.messages.length),
      cursor: String(this.world.cursor(c.user as string, c.device as string, conv.id)),
      memberUserIds: [...conv.members].sort(byteOrder),
      ownerUserId: conv.owner,
      title: conv.title,
      // [RD-1] read fields only with read-state (their values are not modelled)
      ...(c.features.includes('read-state') ? {} : { readSeq: { $absent: true }, unreadCount: { $absent: true } }),
    }
  }

  /** A body of a feature ([RD-1], [INB-1], Appendix F rows 25 to 34). */
  private featureFrame(c: Conn, body: string, v: Obj): void {
    const feature = FEATURE_OF_BODY.get(body) as string
    if (!c.features.includes(feature)) {
      this.expectClose(c, [3511], featureRequirement(feature))
      return
    }
    if (!ANSWER_OF_REQUEST.has(body)) {
      this.expectClose(c, [3510], 'FRM-10') // a server body from a client
      return
    }
    const requestId = Number(v.requestId ?? 0)
    if (requestId === 0) {
      this.refuse(c, 0, { error: 'BAD_REQUEST', req: 'HIS-6' })
      return
    }
    const convId = String(v.conversationId ?? '')
    const conv = this.world.conversations.get(convId)
    const member = conv !== undefined && this.world.isMember(c.user as string, convId)
    const epoch = conv === undefined ? null : this.resolve(conv.epoch as unknown as Json)
    const known = epoch === null || typeof epoch !== 'object' // an epoch no frame has shown yet is a capture matcher
    const a = featureAnswer(body, v, { member, epoch: known ? String(epoch ?? 0) : null, top: this.world.top(convId) })
    if (a !== null && 'error' in a) {
      this.refuse(c, requestId, a)
      return
    }
    const answer = ANSWER_OF_REQUEST.get(body) as string
    this.push(c, 'free', {
      body: answer,
      // a SyncRequest's since may be above the server's change number, which the model does not know [INB-5]
      ...(a === null ? { orBodies: ['error'] } : {}),
      req: featureRequirement(feature),
      label: `${answer} ${requestId}`,
      matcher: () => ({ $oneOf: [{ [answer]: { requestId } }, ...(a === null ? [{ error: { requestId } }] : [])] }),
    })
  }

  private refuse(c: Conn, requestId: number, r: Refusal): void {
    this.push(c, 'free', this.errorFrame(r, { requestId }, `Error ${r.error} for request ${requestId}`))
  }

  /** [ERR-1] [ERR-8] */
  private errorFrame(r: Refusal, echo: { requestId?: number; clientMsgId?: string }, label: string) {
    return {
      body: 'error',
      req: r.req,
      label: `${label} (${r.error})`,
      matcher: () => ({
        error: {
          code: `ERROR_CODE_${r.error}`,
          retryable: RETRYABLE.has(r.error),
          retryAfterMs: 0,
          requestId: echo.requestId ?? 0,
          clientMsgId: echo.clientMsgId ?? '',
          expectedSendSeq: String(r.expectedSendSeq ?? 0),
        },
      }),
    }
  }

  // --- lanes -----------------------------------------------------------------------

  private push(
    c: Conn,
    lane: string,
    e: Omit<Expectation, 'id' | 'lane' | 'afterReplay'> & { afterReplay?: boolean },
  ): void {
    const full: Expectation = { afterReplay: false, ...e, id: this.nextId++, lane }
    const items = c.lanes.get(lane) ?? []
    items.push(full)
    c.lanes.set(lane, items)
  }

  /** `replay` 'either': replayed before ReplayComplete, or live after it, as the server's boundary fell [RSM-7]. */
  private pushDeliver(c: Conn, m: ModelMessage, replay: boolean | 'either'): void {
    const conv = this.world.conversations.get(m.conversationId) as Conversation
    const kind = replay === true ? 'replayed' : replay === false ? 'live' : 'replayed or live'
    this.push(c, `conv:${m.conversationId}`, {
      body: 'deliver',
      req: replay === true ? 'RSM-1' : replay === false ? 'FAN-1' : 'RSM-7',
      label: `${kind} Deliver seq ${m.seq} of ${m.conversationId}`,
      deliver: { conv: m.conversationId, seq: m.seq, replay },
      afterReplay: replay === false, // [HS-11] [RSM-7]
      matcher: () => ({
        deliver: {
          message: messageJson(m),
          epoch: conv.epoch as unknown as Json,
          replayed: replay === 'either' ? !c.replayDone : replay,
        },
      }),
    })
  }

  private reveal(conv: string, seq: number): void {
    if (seq > (this.revealed.get(conv) ?? 0)) this.revealed.set(conv, seq)
  }

  private pushNotice(c: Conn, conv: Conversation, reason: string, req: string, live: boolean, lane: string): void {
    const user = c.user as string
    const device = c.device as string
    const topAt = conv.messages.length
    const cursorAt = this.world.cursor(user, device, conv.id)
    this.push(c, lane, {
      body: 'conversationUpdated',
      req,
      label: `ConversationUpdated ${reason.replace('UPDATE_REASON_', '')} of ${conv.id}`,
      notice: { conv: conv.id, reason },
      afterReplay: live, // [CNV-14] notices are live traffic
      matcher: () => {
        // "current" values when sent: between queueing and now
        const top = conv.messages.length
        const cur = this.world.cursor(user, device, conv.id)
        return {
          conversationUpdated: {
            conversationId: conv.id,
            reason,
            epoch: conv.epoch as unknown as Json,
            topSeq: top === topAt ? String(top) : { $gte: topAt, $lte: top },
            cursor: cur === cursorAt ? String(cur) : { $gte: cursorAt, $lte: cur },
          },
        }
      },
    })
  }

  private expectClose(c: Conn, codes: number[], req: string): void {
    c.closing = true
    this.push(c, 'close', {
      body: 'close',
      req,
      label: `Close ${codes.join('|')}`,
      matcher: () => ({ close: { code: codes.length === 1 ? (codes[0] as number) : { $oneOf: codes } } }),
      onMatch: () => this.endConn(c, `Close ${codes.join('|')}`),
    })
  }

  private endConn(c: Conn, why: string): void {
    if (c.dead) return
    c.dead = true
    c.deadReason = why
    c.lanes.clear()
    if (c.user && c.device && this.sessions.get(`${c.user}\0${c.device}`) === c.name)
      this.sessions.delete(`${c.user}\0${c.device}`)
  }

  /** Deliveries of this connection above the device's cursor [FLW-1]. */
  private outstanding(c: Conn): number {
    let n = 0
    for (const [conv, seqs] of c.delivered) {
      const cur = Math.max(
        this.world.cursor(c.user as string, c.device as string, conv),
        c.released.get(conv) ?? 0,
      )
      for (const s of seqs) if (s > cur) n++
    }
    return n
  }

  /** A delivery the server may leave out: at or below the cursor (acknowledged meanwhile). */
  private skippable(c: Conn, e: Expectation): boolean {
    return !!e.deliver && e.deliver.seq <= this.world.cursor(c.user as string, c.device as string, e.deliver.conv)
  }

  private replayPending(c: Conn): boolean {
    return this.replayOwed(c) !== null
  }

  /** The first frame the replay still owes (a replayed Deliver, a REPLAY_LIMIT or EPOCH_CHANGED notice). */
  private replayOwed(c: Conn): Expectation | null {
    for (const [lane, items] of c.lanes) {
      if (!lane.startsWith('conv:')) continue
      const e = items.find((e) => (e.deliver ? e.deliver.replay === true : !e.afterReplay) && !this.skippable(c, e))
      if (e) return e
    }
    return null
  }

  /** Frames that may come next on a connection. */
  private candidates(c: Conn): Expectation[] {
    const out: Expectation[] = []
    const windowOpen = this.outstanding(c) < c.window
    for (const [lane, items] of c.lanes) {
      if (lane === 'free' || lane === 'close' || lane === 'handshake') {
        out.push(...items.filter((e) => !e.afterReplay || c.replayDone))
        continue
      }
      if (lane === 'send') {
        if (items[0]) out.push(items[0])
        continue
      }
      if (lane === 'replay-end') {
        if (items[0] && !this.replayPending(c)) out.push(items[0])
        continue
      }
      // a conversation lane: in order; skippable deliveries may be left out; a
      // REMOVED notice may overtake deliveries still held (they are then dropped)
      let blocked = false
      for (const e of items) {
        if (e.afterReplay && !c.replayDone) break
        if (!blocked) {
          const held = !!e.deliver && !windowOpen && !this.skippable(c, e)
          if (!held) out.push(e)
          if (!this.skippable(c, e)) blocked = true
          continue
        }
        if (e.notice?.reason === 'UPDATE_REASON_REMOVED') out.push(e)
        if (!e.deliver) break
      }
    }
    return out
  }

  /** Frames the server owes now (the first is reported when missing). */
  private required(c: Conn): Expectation[] {
    const out: Expectation[] = []
    const windowOpen = this.outstanding(c) < c.window
    // Latitude (spec ambiguity, FLW-4 vs CNV-14): a server may keep live
    // notices in one queue with the Delivers the window holds, so a notice
    // is owed only while no Deliver is held back.
    const held =
      !windowOpen &&
      [...c.lanes].some(([l, items]) => l.startsWith('conv:') && items.some((e) => e.deliver && !this.skippable(c, e)))
    for (const [lane, items] of c.lanes) {
      if (lane === 'free' || lane === 'close' || lane === 'handshake' || lane === 'send') {
        out.push(
          ...items
            .filter((e) => (!e.afterReplay || c.replayDone) && !(held && e.notice))
            .slice(0, lane === 'send' ? 1 : undefined),
        )
        continue
      }
      if (lane === 'replay-end') {
        if (items[0] && !this.replayPending(c)) out.push(items[0])
        continue
      }
      const head = items.find((e) => !this.skippable(c, e))
      if (!head || (head.afterReplay && !c.replayDone)) continue
      if (head.deliver && !windowOpen) continue
      if (head.notice && held) continue
      out.push(head)
    }
    // a Close comes last: what the server owes before it goes first
    return c.closing ? out.filter((e) => e.body === 'close').concat(out.filter((e) => e.body !== 'close')) : out
  }

  private tryMatch(e: Expectation, actual: Obj): string | null {
    const caps = new Map<string, unknown>()
    const mm = match(this.resolve(e.matcher()), actual, caps)
    if (mm.length > 0)
      return mm
        .map((m) => `${m.path}: ${m.reason}; expected ${JSON.stringify(m.expected)}, got ${JSON.stringify(m.actual)}`)
        .join('; ')
    const extra = e.check?.(actual) ?? null
    if (extra !== null) return extra
    for (const [k, val] of caps) if (k.startsWith('sym:')) this.syms.set(k.slice(4), val as Json)
    return null
  }

  private consume(c: Conn, e: Expectation, actual: Obj | null): void {
    const items = c.lanes.get(e.lane) ?? []
    const i = items.indexOf(e)
    const conv = e.lane.startsWith('conv:')
    // in a conversation lane, what the matched frame overtook was left out (skippable or dropped by REMOVED)
    c.lanes.set(e.lane, conv ? items.slice(i + 1) : items.filter((x) => x !== e))
    const list = this.consumed.get(c.name) ?? []
    list.push(e.matcher())
    this.consumed.set(c.name, list)
    if (e.notice?.reason === 'UPDATE_REASON_REMOVED') this.release(c, e.notice.conv)
    if (e.deliver) {
      const seqs = c.delivered.get(e.deliver.conv) ?? []
      seqs.push(e.deliver.seq)
      c.delivered.set(e.deliver.conv, seqs)
      if (e.deliver.replay === true || (e.deliver.replay === 'either' && !c.replayDone)) c.replayDelivered++
      this.reveal(e.deliver.conv, e.deliver.seq)
    }
    e.onMatch?.(actual)
  }

  /**
   * The user's membership ended on this connection: its Delivers of the
   * conversation stop counting against the window (they can no longer be
   * acknowledged, [DLV-4]) [FLW-1]. Delivers still held before the end are
   * not sent: a REMOVED notice overtakes them (consume drops them); for a
   * LeaveConversation, those queued ahead of any later notice are dropped here.
   */
  private release(c: Conn, conv: string, dropHeld = false): void {
    c.released.set(conv, Math.max(0, ...(c.delivered.get(conv) ?? [])))
    const lane = c.lanes.get(`conv:${conv}`)
    if (!dropHeld || !lane) return
    const firstNotice = lane.findIndex((x) => !x.deliver)
    c.lanes.set(`conv:${conv}`, firstNotice < 0 ? [] : lane.slice(firstNotice))
  }

  /** Symbols: known values in place, unknown ones captured. */
  private resolve(m: Json): Json {
    if (Array.isArray(m)) return m.map((x) => this.resolve(x))
    if (m !== null && typeof m === 'object') {
      if ('$sym' in m) {
        const name = String((m as unknown as Sym).$sym)
        const known = this.syms.get(name)
        return known !== undefined ? known : { $capture: `sym:${name}` }
      }
      const out: Obj = {}
      for (const [k, v] of Object.entries(m)) out[k] = this.resolve(v)
      return out
    }
    return m
  }

  /** Which rule an unexpected frame breaks. */
  private explainUnexpected(c: Conn, body: string, frame: Obj): { requirement: string; message: string } {
    if (body === 'deliver') {
      const m = ((frame.deliver as Obj).message ?? {}) as Obj
      const conv = String(m.conversationId ?? '')
      const seq = Number(m.seq ?? 0)
      const what = `Deliver seq ${seq} of ${conv}`
      if ((c.delivered.get(conv) ?? []).includes(seq))
        return { requirement: 'DLV-1', message: `${what} delivered twice on this connection` }
      if (m.senderUserId === c.user && m.senderDeviceId === c.device)
        return { requirement: 'DLV-5', message: `${what} delivered to the device that sent it` }
      if (!this.world.isMember(c.user as string, conv))
        return { requirement: 'FAN-3', message: `${what} to a device whose user is not a member` }
      const laneItems = c.lanes.get(`conv:${conv}`) ?? []
      const pending = laneItems.find((e) => e.deliver?.seq === seq)
      if (pending?.afterReplay && !c.replayDone)
        return { requirement: 'HS-11', message: `live ${what} before ReplayComplete` }
      if (pending && this.outstanding(c) >= c.window)
        return {
          requirement: 'FLW-1',
          message: `${what} while ${this.outstanding(c)} deliveries are outstanding (window ${c.window})`,
        }
      if (pending) return { requirement: 'DLV-1', message: `${what} out of order` }
      if (seq > this.world.top(conv)) {
        // a retry the server stored again instead of answering it as a duplicate
        const original = this.world.dedupe.get(`${String(m.senderUserId ?? '')}\0${String(m.clientMsgId ?? '')}`)
        if (original !== undefined)
          return {
            requirement: 'DUP-2',
            message: `${what}: a new seq for the retry of seq ${original.seq} of ${original.conversationId}`,
          }
        return { requirement: 'ORD-1', message: `${what}: no such seq was committed` }
      }
      if (seq <= this.world.cursor(c.user as string, c.device as string, conv))
        return { requirement: 'RSM-3', message: `${what} at or below the device's cursor` }
      return { requirement: 'FAN-2', message: `${what} not owed to this device` }
    }
    if (body === 'conversationUpdated') return { requirement: 'CNV-6', message: 'unexpected ConversationUpdated' }
    if (body === 'sendAck' || body === 'error') {
      const send = c.lanes.get('send')?.[0]
      if (send) return { requirement: send.req, message: `${body} where ${send.label} was due` }
      const a = (frame.sendAck ?? null) as Obj | null
      // the replay holds back a Send whose SendAck skips seqs nothing else can fill [ORD-1]
      if (a && Number(a.seq ?? 0) > this.world.top(String(a.conversationId ?? '')) + 1)
        return {
          requirement: 'ORD-1',
          message: `SendAck seq ${a.seq} of ${a.conversationId}: no Send can fill the seqs above ${this.world.top(String(a.conversationId ?? ''))}`,
        }
      return { requirement: 'ERR-1', message: `${body} that answers nothing` }
    }
    if (body === 'close') {
      const raw = (frame.close as Obj).code
      const code =
        typeof raw === 'string' && !/^\d+$/.test(raw) ? (ENUM_NUMBER_BY_NAME.get(raw) ?? -1) : Number(raw ?? 0)
      if (code === 3509) return { requirement: 'SEC-8', message: 'Close 3509 without a newer accepted session' }
      if (code === 3001) return { requirement: 'ERR-6', message: 'Close 3001 while the server is not shutting down' }
      if (code === 3002)
        return { requirement: 'HB-2', message: 'Close 3002 though the client was never silent for 1.5 heartbeats' }
      return { requirement: 'ERR-12', message: `Close ${code} where the spec expects the connection to stay open` }
    }
    if (body === 'replayComplete') {
      const owed = this.replayOwed(c)
      if (c.welcomed && owed !== null)
        return { requirement: owed.req, message: `ReplayComplete while the replay still owes the ${owed.label}` }
      return { requirement: c.welcomed ? 'HS-11' : 'HS-2', message: 'ReplayComplete not expected now' }
    }
    if (body === 'welcome') return { requirement: 'HS-12', message: 'Welcome where the handshake must fail' }
    return { requirement: 'FRM-10', message: `unexpected ${body}` }
  }
}

/**
 * An upper bound of a HistoryPage's encoded size: the message fields plus a
 * generous allowance per message for tags, lengths, seqs, ids and times.
 */
function pageBytesBound(ms: ModelMessage[]): number {
  let n = 256
  for (const m of ms)
    n +=
      96 +
      Buffer.from(m.body, 'base64').length +
      Buffer.byteLength(m.contentType) +
      Buffer.byteLength(m.conversationId) +
      Buffer.byteLength(m.senderUserId) +
      Buffer.byteLength(m.senderDeviceId)
  return n
}

function str(v: Json | undefined): string {
  return v === undefined || v === null ? '0' : String(v)
}

/** [DLV-8] every copy of a message carries the same values. */
export function messageJson(m: ModelMessage): Json {
  return {
    conversationId: m.conversationId,
    seq: String(m.seq),
    messageId: m.messageId as unknown as Json,
    senderUserId: m.senderUserId,
    senderDeviceId: m.senderDeviceId,
    clientMsgId: m.clientMsgId,
    serverTimeMs: m.serverTimeMs as unknown as Json,
    contentType: m.contentType,
    body: m.body,
  }
}
