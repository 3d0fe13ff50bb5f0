// Turns one case's wire transcript (what the normal runner recorded: connects,
// frames sent and received, raw bytes, disconnects, restarts) into model
// inputs, so that every session vector's exchange with a server can be judged
// by the model too (conformance/test/model-vectors.test.ts).
//
// Frames are taken from their bytes (hex): the transcript must be whole
// (SuiteOptions.wholeTranscripts). What the model cannot know from frames
// alone is judged here from the transcript: client bytes the codec refuses
// (the close code the spec names for them), idle timers (by the transcript's
// clock), the in-flight Send limit and the slow-consumer Close. What cannot be
// judged at all (bytes or entries the transcript cut off) stops the judgement
// of the case and is reported as `unjudged`, never skipped silently.
import { CodecError, closeCodeFor, decodeBatch, decodeFrame, StreamDecoder } from '../../src/codec/index.js'
import type { Frame } from '../../src/gen/es/imwire/v1/frame_pb.js'
import type { CaseResult } from '../engine/case-types.js'
import { testToken } from '../engine/scope.js'
import type { TranscriptEntry } from '../engine/transcript.js'
import { ENUM_NUMBER_BY_NAME, frameToMatchJson } from '../judge/proto-json.js'
import type { Json } from '../load/scenario-types.js'
import type { Violation } from './expectation.js'
import { ImwireModel } from './model.js'
import { WsClientReader } from './ws-client-bytes.js'

type Obj = { [k: string]: Json }

export interface ReplayOptions {
  /** The test-token secret of the run: tokens are checked as the server must check them [AUTH-1]. */
  secret: string
  /** Whether the server's store survives restarts. */
  durable: boolean
  transport: 'tcp' | 'ws'
}

export interface ReplayResult {
  /** The first frame or event the model does not allow (later ones follow from a confused state). */
  violation: (Violation & { t: number }) | null
  /** Why judgement stopped before the end of the transcript, or null when all of it was judged. */
  unjudged: string | null
  /** Frames from the server the model judged. */
  judged: number
}

interface ConnState {
  /** The model's name for it (a transcript name reused later gets a new one). */
  id: string
  openedAt: number
  /** When the client wrote each frame [HB-2]. */
  writes: number[]
  welcomedAt: number | null
  heartbeatMs: number
  maxFrameBytes: number
  maxBatchBytes: number
  maxBatchFrames: number
  maxInflightSends: number
  lz4: boolean
  tcpDecoder: StreamDecoder | null
  /** Raw client bytes under the WebSocket framing, read as the server's WebSocket layer must. */
  wsReader: WsClientReader | null
  /** [FRM-15] the client broke RFC 6455: the server fails the WebSocket with 1002, no Close. */
  wsFailed: string | null
  goneAfterRaw: boolean
  /**
   * Frames the client wrote after an accepted Hello and before Welcome was seen: judged once it
   * is, with the limits it advertises, as if they had arrived just after it [HS-15]; dropped if
   * the handshake fails.
   */
  beforeWelcome: Array<() => void>
}

/** Tolerance of the transcript clock, as the runner's own timing judge uses ([HB-2] ± 50 ms). */
const CLOCK_SLACK_MS = 50

/** The user a test token names, when its MAC is right under `secret` [AUTH-1]. */
export function testTokenUser(secret: string, token: string): string | null {
  const m = /^imwire-test\.v1\.([^.]+(?:\.[^.]+)*)\.[^.]+$/.exec(token)
  if (!m) return null
  const user = m[1] as string
  return testToken(secret, user) === token ? user : null
}

/** Every case of a run (with whole transcripts) judged by the model, keyed `transport:id`. */
export function judgeCases(
  cases: readonly CaseResult[],
  o: Omit<ReplayOptions, 'transport'>,
): Map<string, ReplayResult> {
  const out = new Map<string, ReplayResult>()
  for (const c of cases)
    if (c.verdict !== 'skipped')
      out.set(`${c.transport}:${c.id}`, replayTranscript(c.transcript, { ...o, transport: c.transport }))
  return out
}

export function replayTranscript(entries: readonly TranscriptEntry[], o: ReplayOptions): ReplayResult {
  const model = new ImwireModel({ durable: o.durable, tokenUser: (tok) => testTokenUser(o.secret, tok) })
  const conns = new Map<string, ConnState>()
  const ids = connIds()
  let judged = 0
  let gracefulRestart = false

  const fresh = (name: string, t: number): ConnState => {
    const st: ConnState = {
      id: ids(name),
      openedAt: t,
      writes: [],
      welcomedAt: null,
      heartbeatMs: 0,
      maxFrameBytes: 1048576,
      maxBatchBytes: 4194304,
      maxBatchFrames: 1024,
      maxInflightSends: Number.POSITIVE_INFINITY,
      lz4: false,
      tcpDecoder: null,
      wsReader: null,
      wsFailed: null,
      goneAfterRaw: false,
      beforeWelcome: [],
    }
    conns.set(name, st)
    model.open(st.id)
    return st
  }

  /** A frame the client sent, given as a decoded Frame. */
  const clientFrame = (st: ConnState, f: Frame, t: number) => {
    st.writes.push(t)
    // a Close acts in every state, at once [ERR-3]
    if (st.welcomedAt === null && f.body.case !== 'close' && model.hasSession(st.id)) {
      st.beforeWelcome.push(() => judgeClientFrame(st, f))
      return
    }
    judgeClientFrame(st, f)
  }

  const judgeClientFrame = (st: ConnState, f: Frame) => {
    if (f.body.case === undefined) return model.clientUnknownBody(st.id)
    if (f.body.case === 'batch') {
      // a Batch before an accepted Hello is unexpected whatever it holds [BAT-12]
      if (!model.hasSession(st.id)) return model.clientBatch(st.id, [], 'none')
      let inner: Frame[]
      try {
        inner = decodeBatch(f, {
          maxBatchBytes: st.maxBatchBytes,
          maxBatchFrames: st.maxBatchFrames,
          maxFrameBytes: st.maxFrameBytes,
          lz4Enabled: st.lz4,
        })
      } catch (err) {
        if (!(err instanceof CodecError)) throw err
        return model.expectCloseOn(st.id, [closeCodeFor[err.code]], batchReq(err))
      }
      const json = inner.map((x) => frameToMatchJson(x) as Obj)
      if (inFlightOver(st, json.filter((x) => 'send' in x).length)) return
      // each inner frame as if alone, up to one with no body v1 knows [BAT-13] [FRM-7]
      const unknown = inner.findIndex((x) => x.body.case === undefined)
      model.clientBatch(st.id, unknown < 0 ? json : json.slice(0, unknown), f.body.value.codec === 2 ? 'lz4' : 'none')
      if (unknown >= 0) model.clientUnknownBody(st.id)
      return
    }
    const json = frameToMatchJson(f) as Obj
    if ('send' in json && inFlightOver(st, 1)) return
    model.clientFrame(st.id, json)
  }

  /** [FLW-2] a frame bringing the Sends in flight above the limit is refused whole with 3507. */
  const inFlightOver = (st: ConnState, sends: number): boolean => {
    if (sends === 0 || model.inflightSends(st.id) + sends <= st.maxInflightSends) return false
    model.expectCloseOn(st.id, [3507], 'FLW-2')
    return true
  }

  /** Client bytes of one whole frame (no prefix). */
  const clientBytes = (st: ConnState, bytes: Uint8Array, t: number) => {
    let f: Frame
    try {
      f = decodeFrame(bytes, st.maxFrameBytes)
    } catch (err) {
      if (!(err instanceof CodecError)) throw err
      return model.expectCloseOn(st.id, [closeCodeFor[err.code]], err.code === 'FRAME_TOO_LARGE' ? 'FRM-3' : 'FRM-5')
    }
    clientFrame(st, f, t)
  }

  /** TCP stream bytes (prefixes included), as a raw write put them on the wire. */
  const clientStream = (st: ConnState, bytes: Uint8Array, t: number) => {
    // created on first use, with the limit the server advertised [FRM-3]
    st.tcpDecoder ??= new StreamDecoder({ maxFrameBytes: st.maxFrameBytes })
    const dec = st.tcpDecoder
    try {
      dec.feed(bytes, (_f, frameBytes) => {
        clientBytes(st, frameBytes, t)
      })
    } catch (err) {
      if (!(err instanceof CodecError)) throw err
      const req = err.code === 'FRAME_TOO_LARGE' ? 'FRM-3' : 'FRM-4'
      model.expectCloseOn(st.id, [closeCodeFor[err.code]], req)
    }
  }

  /** Bytes a raw write put under the WebSocket framing, as the server's WebSocket layer reads them. */
  const clientWs = (st: ConnState, bytes: Uint8Array, t: number) => {
    st.wsReader ??= new WsClientReader(st.maxFrameBytes)
    for (const ev of st.wsReader.push(bytes)) {
      if (ev.kind === 'binary') clientBytes(st, ev.payload, t)
      else if (ev.kind === 'text') model.expectCloseOn(st.id, [3504], 'FRM-2')
      else if (ev.kind === 'oversize') model.expectCloseOn(st.id, [3503], 'FRM-3')
      else if (ev.kind === 'close')
        model.clientGone(st.id) // [FRM-13] a Close, or a transport loss
      else if (ev.kind === 'protocol-error') {
        st.wsFailed = ev.why
        model.clientGone(st.id) // [FRM-15] a transport loss
      }
    }
  }

  /** The bytes of an entry's frame, or why the transcript does not hold them whole. */
  const bytesOf = (e: TranscriptEntry): Uint8Array | string =>
    e.hex !== undefined && e.bytes === undefined
      ? Buffer.from(e.hex, 'hex')
      : `the transcript kept ${e.bytes ?? 'no'} bytes only in part (run with wholeTranscripts)`

  /** One client write (or disconnect) applied to the model. */
  const applyClient = (st: ConnState, e: TranscriptEntry, where: string) => {
    if (e.dir === 'event') {
      if (e.detail?.startsWith('mid-')) st.goneAfterRaw = true
      else model.clientGone(st.id)
      return
    }
    if (e.event === 'text') {
      model.expectCloseOn(st.id, [3504], 'FRM-2') // a text WebSocket message
      return
    }
    if (e.event === 'raw') {
      const detail = e.detail ?? ''
      if (st.goneAfterRaw) {
        // a frame cut in half, then end of stream: it never arrived whole [FRM-8]
        model.clientGone(st.id)
        return
      }
      const bytes = bytesOf(e)
      if (detail.startsWith('raw WebSocket bytes') && typeof bytes !== 'string') {
        clientWs(st, bytes, e.t)
        return
      }
      if (typeof bytes === 'string') {
        unjudged ??= `${where}: ${bytes}`
        return
      }
      // TCP stream bytes (prefixes included) for hex writes and multi-frame writes; one frame otherwise
      const stream = o.transport === 'tcp' && (detail === 'raw bytes' || / frame\(s\) in writes of /.test(detail))
      if (stream) clientStream(st, bytes, e.t)
      else clientBytes(st, bytes, e.t)
      return
    }
    const bytes = bytesOf(e)
    if (typeof bytes === 'string') {
      unjudged ??= `${where}: ${bytes}`
      return
    }
    clientBytes(st, bytes, e.t)
  }

  // Commit order: the server orders concurrent Sends of different
  // connections as it likes [ORD-1]; the transcript shows the order the
  // runner wrote them. The seqs the server reported (its SendAcks) say which
  // order it chose, so a write whose Sends would commit out of that order
  // waits (with every later write of its connection, which the server
  // processes after it) until the Sends before it have been applied. A
  // frame revealing a seq can only come after every Send below that seq was
  // written, so nothing observed depends on a write still waiting.
  // Membership changes likewise: the top_seq of a change's ConversationResult
  // says between which Sends the server applied it [CNV-10], so the change
  // waits for that top, and a Send above it waits for the change.
  const commits = commitsOf(entries, o.transport)
  const fed = new Set<string>()
  const queues = new Map<
    ConnState,
    Array<{ e: TranscriptEntry; where: string; sends: SendKey[]; changes: ChangeKey[] }>
  >()
  const sendCount = new Map<string, number>()
  const changeCount = new Map<string, number>()
  /** Answered changes not applied yet (written or still to be written): a Send above one's top waits for it. */
  const unapplied = new Map(commits.changes)
  const ready = (sends: SendKey[], changes: ChangeKey[]): boolean => {
    // (a write that carries Sends too keeps the order it was written in)
    if (sends.length === 0)
      for (const c of changes) {
        const known = commits.changes.get(c.at)
        if (known !== undefined && model.world.top(c.conv) !== known.top) return false
      }
    const extra = new Map<string, number>()
    for (const x of sends) {
      const seq = commits.seq.get(x.at)
      if (seq !== undefined) {
        const top = model.world.top(x.conv) + (extra.get(x.conv) ?? 0)
        if (top !== seq - 1) return false
        for (const [at, c] of unapplied)
          if (c.conv === x.conv && c.top < seq && !changes.some((own) => own.at === at)) return false
        extra.set(x.conv, (extra.get(x.conv) ?? 0) + 1)
        continue
      }
      // a Send answered as a duplicate waits for the Send that committed its id [DUP-2]
      const committer = commits.committer.get(`${x.conv}\0${x.cmid}`)
      if (commits.duplicates.has(x.at) && committer !== undefined && !fed.has(committer)) return false
    }
    return true
  }
  /** Applies every write that may go now; `force` applies the rest in transcript order. */
  const pump = (force: boolean, only?: ConnState) => {
    for (let progress = true; progress; ) {
      progress = false
      for (const [st, q] of queues) {
        if (only && st !== only) continue
        while (q[0] && (force || ready(q[0].sends, q[0].changes))) {
          const w = q.shift() as (typeof q)[number]
          applyClient(st, w.e, w.where)
          for (const x of w.sends) fed.add(x.at)
          for (const c of w.changes) unapplied.delete(c.at)
          progress = true
        }
      }
    }
  }
  const enqueue = (st: ConnState, e: TranscriptEntry, where: string) => {
    const q = queues.get(st) ?? []
    queues.set(st, q)
    const changes = e.dir === 'out' ? changesIn(st.id, e, o.transport, changeCount) : []
    q.push({ e, where, sends: e.dir === 'out' ? numbered(st.id, sendsIn(e, o.transport), sendCount) : [], changes })
    pump(false)
  }

  let violation: ReplayResult['violation'] = null
  let unjudged: string | null = null
  const fail = (v: Violation | null, t: number) => {
    if (v && !violation) violation = { ...v, t }
  }

  for (const [i, e] of entries.entries()) {
    if (violation || unjudged) break
    const where = `entry ${i} (t=${e.t} ms)`
    if (e.dir === 'event') {
      const st = conns.get(e.conn)
      switch (e.event) {
        case 'connect':
          fresh(e.conn, e.t)
          break
        case 'disconnect':
          if (st) enqueue(st, e, where)
          break
        case 'fin':
        case 'rst':
        case 'ws-close':
          if (!st) break
          pump(true, st)
          if (st.wsFailed !== null && !/^ws code 100[27]\b/.test(e.detail ?? ''))
            fail(wsFailure(st, `ended with ${e.event} ${e.detail ?? ''}, not WebSocket close 1002`), e.t)
          fail(model.observeEnd(st.id), e.t)
          break
        case 'restart':
          pump(true)
          if (e.detail?.includes('(kill)')) model.serverGone()
          else if (e.detail?.includes('(graceful)')) {
            gracefulRestart = true
            model.serverStopping()
          } else if (e.detail?.includes('listening again') && gracefulRestart) {
            gracefulRestart = false
            model.serverGone()
          }
          break
        case 'note':
          if (e.detail?.includes('dropped')) unjudged = `${where}: ${e.detail}`
          break
        default:
          // step boundaries, ignored-frame notes, timing verdicts: the runner's, not the server's
          break
      }
      continue
    }
    const st = conns.get(e.conn)
    if (!st) {
      unjudged = `${where}: a frame on connection ${e.conn} that was never opened`
      continue
    }
    if (e.dir === 'out') {
      enqueue(st, e, where)
      continue
    }
    // from the server
    const bytes = bytesOf(e)
    if (typeof bytes === 'string') {
      unjudged = `${where}: ${bytes}`
      continue
    }
    const f = decodeFrame(bytes, 1 << 30)
    if (f.body.case === 'batch' && !e.batched) {
      // its frames follow, logged one by one; the batch itself must use a negotiated codec [HS-6]
      if (f.body.value.codec === 2 && !st.lz4)
        fail({ conn: st.id, requirement: 'HS-6', message: 'an LZ4 Batch on a connection without lz4' }, e.t)
      continue
    }
    const json = frameToMatchJson(f) as Obj
    if ('close' in json && st.wsFailed !== null) fail(wsFailure(st, 'an imwire Close'), e.t)
    if ('close' in json) allowTimedClose(model, st, closeCodeNumber((json.close as Obj).code), e.t)
    const v = model.observe(st.id, json)
    judged++
    fail(v, e.t)
    if (!v && 'welcome' in json) {
      const w = json.welcome as Obj
      const l = (w.limits ?? {}) as Obj
      // the silence of [HB-2] counts from Welcome's sending, which the client cannot see: it
      // lies between the Hello's writing and Welcome's arrival, so the Hello's write time is the
      // bound that never calls an allowed Close early
      st.welcomedAt = e.t
      st.heartbeatMs = Number(w.heartbeatMs)
      st.maxFrameBytes = Number(l.maxFrameBytes) || st.maxFrameBytes
      st.maxBatchBytes = Number(l.maxBatchBytes) || st.maxBatchBytes
      st.maxBatchFrames = Number(l.maxBatchFrames) || st.maxBatchFrames
      st.maxInflightSends = Number(l.maxInflightSends) || st.maxInflightSends
      st.lz4 = ((w.features as Json[]) ?? []).includes('lz4')
      for (const judge of st.beforeWelcome.splice(0)) judge()
    }
  }
  pump(true)
  return { violation, unjudged, judged }
}

/** [FRM-15] the server did not fail the WebSocket as RFC 6455 says after the client's protocol error. */
function wsFailure(st: ConnState, what: string): Violation {
  return { conn: st.id, requirement: 'FRM-15', message: `after ${st.wsFailed}: ${what}` }
}

/**
 * Closes the model cannot predict from frames alone, allowed when the
 * transcript shows their condition: idle timers by its clock, the slow
 * consumer while deliveries are owed. Otherwise the model judges the Close.
 */
function allowTimedClose(model: ImwireModel, st: ConnState, code: number, t: number): void {
  // [HB-2] the server may have closed at the end of any silence of 1.5 heartbeats before it read
  // the writes that followed (they crossed its Close): a gap among the last 3 heartbeats' writes
  if (
    code === 3002 &&
    st.welcomedAt !== null &&
    longestGap(st, t - 3 * st.heartbeatMs, t) >= 1.5 * st.heartbeatMs - CLOCK_SLACK_MS
  )
    model.expectCloseOn(st.id, [3002], 'HB-2')
  if (code === 3004 && st.welcomedAt === null && t - st.openedAt >= 0)
    // [HS-8] bounds the timeout from above only (at most 10000 ms), so any time without Welcome may be it
    model.expectCloseOn(st.id, [3004], 'HS-8')
  if (code === 3003 && model.owesDeliveries(st.id)) model.expectCloseOn(st.id, [3003], 'FLW-3')
}

/** The longest silence of the client ending in (from, until], counted from the connection's opening. */
function longestGap(st: ConnState, from: number, until: number): number {
  let longest = 0
  let prev = st.openedAt
  for (const w of [...st.writes.sort((a, b) => a - b), until]) {
    if (w > until) break
    if (w > from) longest = Math.max(longest, w - prev)
    prev = w
  }
  return longest
}

/** A close code as protobuf JSON gives it (enum name or number). */
export function closeCodeNumber(v: Json | undefined): number {
  return typeof v === 'string' && !/^\d+$/.test(v) ? (ENUM_NUMBER_BY_NAME.get(v) ?? -1) : Number(v ?? 0)
}

function batchReq(err: CodecError): string {
  switch (err.code) {
    case 'BATCH_UNKNOWN_CODEC':
      return 'BAT-2'
    case 'BATCH_CODEC_NOT_ENABLED':
      return 'HS-6'
    case 'BATCH_COUNT_MISMATCH':
      return 'BAT-3'
    case 'BATCH_LENGTH_MISMATCH':
    case 'BATCH_CORRUPT':
      return 'BAT-6'
    case 'BATCH_NESTED':
      return 'BAT-7'
    case 'BATCH_TOO_LARGE':
      return 'BAT-5'
    case 'FRAME_TOO_LARGE':
      return 'BAT-11'
    default:
      return 'BAT-3'
  }
}

interface SendKey {
  conv: string
  /** client_msg_id, base64 */
  cmid: string
  /** `conn \0 k`: the k-th Send written on the connection, answered by its k-th Send answer [SND-4] */
  at: string
}

/** Numbers a write's Sends in the order of their connection. */
function numbered(conn: string, sends: Omit<SendKey, 'at'>[], count: Map<string, number>): SendKey[] {
  return sends.map((x) => {
    const k = count.get(conn) ?? 0
    count.set(conn, k + 1)
    return { ...x, at: `${conn}\0${k}` }
  })
}

/** The Sends a client write carries (inside batches and multi-frame writes too); [] when it holds none or is not decodable. */
function sendsIn(e: TranscriptEntry, transport: 'tcp' | 'ws'): Omit<SendKey, 'at'>[] {
  const out: Omit<SendKey, 'at'>[] = []
  for (const x of framesIn(e, transport))
    if (x.body.case === 'send')
      out.push({ conv: x.body.value.conversationId, cmid: Buffer.from(x.body.value.clientMsgId).toString('base64') })
  return out
}

/** Membership changes the model orders by the top_seq of their ConversationResult. */
const CHANGES = new Set(['addMembers', 'removeMembers', 'leaveConversation'])

/**
 * The membership changes a client write carries, numbered per (connection,
 * request_id) in the order written (`count` keeps the numbering across writes).
 */
function changesIn(conn: string, e: TranscriptEntry, transport: 'tcp' | 'ws', count: Map<string, number>): ChangeKey[] {
  const out: ChangeKey[] = []
  for (const x of framesIn(e, transport))
    if (x.body.case !== undefined && CHANGES.has(x.body.case)) {
      const v = x.body.value as { conversationId: string; requestId: number }
      const request = `${conn}\0${v.requestId}`
      const k = count.get(request) ?? 0
      count.set(request, k + 1)
      out.push({ conv: v.conversationId, at: `${request}\0${k}` })
    }
  return out
}

interface ChangeKey {
  conv: string
  /** `conn \0 requestId \0 k`: the k-th change with that request_id on the connection, answered by the k-th ConversationResult for it */
  at: string
}

/** The frames a client write carries, batches expanded; what decoded before bad bytes. */
function framesIn(e: TranscriptEntry, transport: 'tcp' | 'ws'): Frame[] {
  if (e.hex === undefined || e.bytes !== undefined) return []
  const bytes = Buffer.from(e.hex, 'hex')
  const frames: Frame[] = []
  try {
    const stream =
      transport === 'tcp' &&
      e.event === 'raw' &&
      (e.detail === 'raw bytes' || / frame\(s\) in writes of /.test(e.detail ?? ''))
    if (stream) frames.push(...new StreamDecoder({ maxFrameBytes: 1 << 30 }).push(bytes))
    else frames.push(decodeFrame(bytes, 1 << 30))
  } catch {
    // what decoded before the bad bytes stays
  }
  const out: Frame[] = []
  for (const f of frames) {
    let inner = [f]
    if (f.body.case === 'batch')
      try {
        inner = decodeBatch(f, {
          maxBatchBytes: 1 << 30,
          maxBatchFrames: 1 << 20,
          maxFrameBytes: 1 << 30,
          lz4Enabled: true,
        })
      } catch {
        inner = []
      }
    out.push(...inner)
  }
  return out
}

/**
 * From the whole transcript: the seq at which each Send committed (by its
 * place `conn \0 k`: a connection's Sends are answered in order [SND-4]), and
 * which Send committed each (conversation, client_msg_id).
 */
function commitsOf(
  entries: readonly TranscriptEntry[],
  transport: 'tcp' | 'ws',
): {
  seq: Map<string, number>
  committer: Map<string, string>
  duplicates: Set<string>
  /** Each membership change the server answered with a ConversationResult: its conversation and top_seq. */
  changes: Map<string, { conv: string; top: number }>
} {
  const seq = new Map<string, number>()
  const changes = new Map<string, { conv: string; top: number }>()
  const written = new Map<string, number>()
  const results = new Map<string, number>()
  const changeKeys = new Set<string>()
  const duplicates = new Set<string>()
  const committer = new Map<string, string>()
  const ids = connIds()
  const current = new Map<string, string>()
  const sent = new Map<string, number>()
  const answered = new Map<string, number>()
  for (const e of entries) {
    if (e.dir === 'event' && e.event === 'connect') current.set(e.conn, ids(e.conn))
    const conn = current.get(e.conn) ?? e.conn
    if (e.dir === 'out') {
      numbered(conn, sendsIn(e, transport), sent)
      for (const c of changesIn(conn, e, transport, written)) changeKeys.add(c.at)
    }
    if (e.dir !== 'in' || e.hex === undefined || e.bytes !== undefined) continue
    let f: Frame
    try {
      f = decodeFrame(Buffer.from(e.hex, 'hex'), 1 << 30)
    } catch {
      continue
    }
    if (f.body.case === 'conversationResult') {
      const request = `${conn}\0${f.body.value.requestId}`
      const k = results.get(request) ?? 0
      results.set(request, k + 1)
      const r = f.body.value.conversation
      if (r !== undefined && changeKeys.has(`${request}\0${k}`))
        changes.set(`${request}\0${k}`, { conv: r.conversationId, top: Number(r.topSeq) })
      continue
    }
    const isAnswer = f.body.case === 'sendAck' || (f.body.case === 'error' && f.body.value.requestId === 0)
    if (!isAnswer) continue
    const k = answered.get(conn) ?? 0
    answered.set(conn, k + 1)
    if (f.body.case !== 'sendAck') continue
    if (f.body.value.duplicate) {
      duplicates.add(`${conn}\0${k}`)
      continue
    }
    const a = f.body.value
    seq.set(`${conn}\0${k}`, Number(a.seq))
    committer.set(`${a.conversationId}\0${Buffer.from(a.clientMsgId).toString('base64')}`, `${conn}\0${k}`)
  }
  return { seq, committer, duplicates, changes }
}

/** The model's name for each connection the transcript opens: its own, or `name#k` when the name comes again. */
function connIds(): (name: string) => string {
  const seen = new Set<string>()
  let uses = 0
  return (name) => {
    const id = seen.has(name) ? `${name}#${++uses}` : name
    seen.add(name)
    return id
  }
}
